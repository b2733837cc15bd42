//! Enterprises (企业): the office's records, made through the admin API as server-signed events
//! and received by the devices that should see them.

use anjian_sync::entity::EntityType;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::{Value, json};

fn record(code: &str, grid: &str) -> Value {
    json!({"name": "福鼎海带加工厂", "credit_code": code, "industry": "紫菜加工", "scale": "below",
        "grid_id": grid, "address": "沙埕镇海滨路1号",
        "contacts": [{"name": "陈老板", "phone": "13800000000", "role": "法人"}],
        "risk_colour": "orange", "flags": {"ammonia_refrigeration": true, "confined_space": true}})
}

#[tokio::test]
async fn the_office_registers_enterprises_and_devices_receive_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    server.add_grid(&admin, "g2", "二网格").await;
    // Typed the way people type it: lower case, spaces around.
    let created = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record(" 914403001922038216 ", "g1"),
        )
        .await;
    let created = created.ok(201).clone();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["entity_type"], "enterprise");
    assert_eq!(created["body"]["credit_code"], "914403001922038216");
    assert_eq!(created["body"]["credit_code_warning"], false);
    assert_eq!(
        created["buckets"],
        json!([
            format!("directory:{id}"),
            format!("enterprise:{id}"),
            "grid:g1",
            "town"
        ])
    );

    let flagged = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record("914403001922038217", "g2"),
        )
        .await;
    assert_eq!(
        flagged.ok(201)["body"]["credit_code_warning"],
        true,
        "kept, with a warning"
    );

    let renamed = json!({"name": "福鼎海带加工有限公司"});
    let mut update = record("914403001922038216", "g1");
    update["name"] = renamed["name"].clone();
    let path = format!("/v1/admin/enterprises/{id}");
    let put = |body: Value| server.call(reqwest::Method::PUT, &path, Some(&admin), Some(body));
    let updated = put(update.clone()).await;
    let updated = updated.ok(200).clone();
    assert_eq!(updated["body"]["name"], "福鼎海带加工有限公司");
    assert!(updated["rev"].as_u64() > created["rev"].as_u64());
    // Saving the same record again changes nothing, not even the revision.
    let same = put(update).await;
    assert_eq!(same.ok(200)["rev"], updated["rev"]);

    // Who receives it: the enterprise's team lead, an inspector of its grid; not another grid's.
    for (username, roles, scopes) in [
        (
            "lead.chen",
            json!(["team_lead"]),
            json!({"enterprise": id, "team": "t1"}),
        ),
        ("insp.g1", json!(["inspector"]), json!({"grids": ["g1"]})),
        ("insp.g9", json!(["inspector"]), json!({"grids": ["g9"]})),
    ] {
        server
            .create_user(&admin, json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}))
            .await;
    }
    let enterprises = |device: &TestDevice| -> Vec<String> {
        device
            .server_entities()
            .unwrap()
            .into_iter()
            .filter(|p| p.entity.entity_type == EntityType::Enterprise)
            .map(|p| p.entity.body["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (username, expected) in [("lead.chen", 1), ("insp.g1", 1), ("insp.g9", 0)] {
        let device = TestDevice::enrolled(&server, username, USER_PASSWORD).await;
        device.sync().await.unwrap();
        let seen = enterprises(&device);
        assert_eq!(seen.len(), expected, "{username}: {seen:?}");
        if expected == 1 {
            assert_eq!(seen[0], "福鼎海带加工有限公司");
        }
    }
}

#[tokio::test]
async fn bad_enterprises_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    server
        .post(
            "/v1/admin/grids",
            Some(&admin),
            json!({"code": "g9", "name": "一网格"}),
        )
        .await
        .assert_error(409, "grid-name-taken");
    let cases = [
        (
            record("91440300192203821", "g1"),
            400,
            "credit-code-invalid",
        ),
        (
            record("91440300192203821O", "g1"),
            400,
            "credit-code-invalid",
        ),
        (record("914403001922038216", "nosuch"), 400, "unknown-grid"),
        (json!({"name": "x"}), 400, "malformed-body"),
    ];
    for (body, status, code) in cases {
        server
            .post("/v1/admin/enterprises", Some(&admin), body)
            .await
            .assert_error(status, code);
    }
    let (_, leader) = server.add_user(&admin, "leader", &["leader"]).await;
    server
        .post(
            "/v1/admin/enterprises",
            Some(&leader),
            record("914403001922038216", "g1"),
        )
        .await
        .assert_error(403, "forbidden");
    server
        .call(
            reqwest::Method::PUT,
            "/v1/admin/enterprises/0192f3a0-0000-7000-8000-000000000000",
            Some(&admin),
            Some(record("914403001922038216", "g1")),
        )
        .await
        .assert_error(404, "not-found");
    // Nothing reached the store: a town-wide reader pulls no enterprise.
    let device = TestDevice::enrolled(&server, "leader", anjian_tests::USER_PASSWORD).await;
    device.sync().await.unwrap();
    let enterprises = device
        .server_entities()
        .unwrap()
        .into_iter()
        .filter(|p| p.entity.entity_type == EntityType::Enterprise)
        .count();
    assert_eq!(enterprises, 0);

    // A credit code names one enterprise.
    let first = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record("914403001922038216", "g1"),
        )
        .await;
    let first = first.ok(201)["id"].as_str().unwrap().to_string();
    server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record("914403001922038216", "g1"),
        )
        .await
        .assert_error(409, "credit-code-taken");
    let second = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record("9144030071526726XG", "g1"),
        )
        .await;
    let second = second.ok(201)["id"].as_str().unwrap().to_string();
    let stolen = record("914403001922038216", "g1");
    server
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/enterprises/{second}"),
            Some(&admin),
            Some(stolen),
        )
        .await
        .assert_error(409, "credit-code-taken");
    assert_ne!(first, second);
}

async fn with_grids(server: &TestServer, admin: &str) {
    for (code, name) in [("shacheng", "沙埕村"), ("haibin", "海滨社区")] {
        let reply = server
            .post(
                "/v1/admin/grids",
                Some(admin),
                json!({"code": code, "name": name}),
            )
            .await;
        assert_eq!(reply.ok(200)["body"]["name"], name);
    }
}

async fn import(server: &TestServer, admin: &str, bytes: Vec<u8>) -> anjian_tests::Reply {
    server
        .call_raw(
            reqwest::Method::POST,
            "/v1/admin/enterprises/import",
            Some(admin),
            "text/csv",
            bytes,
        )
        .await
}

const GOOD: &str = "企业名称,统一社会信用代码,网格,行业,规模,地址,联系人,联系电话
福鼎海带加工厂,914403001922038216,沙埕村,紫菜加工,规下,沙埕镇海滨路1号,陈老板,13800000001
海丰渔网厂,9144030071526726XG,haibin,渔网制造,规上,海滨社区渔港路8号,林经理,13800000002
东海水产,914403001922038217,海滨社区,水产加工,规下,渔港路9号,吴主任,13800000003
";

async fn enterprises(server: &TestServer, admin: &str) -> Vec<Value> {
    let reply = server.get("/v1/admin/enterprises", Some(admin)).await;
    reply.ok(200)["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_town_list_imports_once_and_exports_back() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    with_grids(&server, &admin).await;

    let with_blank_rows = format!("{GOOD},,,,,,,\n\n");
    let report = import(&server, &admin, with_blank_rows.into_bytes()).await;
    let report = report.ok(200).clone();
    assert_eq!(
        (
            report["created"].as_u64(),
            report["updated"].as_u64(),
            report["unchanged"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(
        warnings.len(),
        1,
        "the wrong check digit is kept with a warning"
    );
    assert_eq!(warnings[0]["line"], 4);
    let listed = enterprises(&server, &admin).await;
    assert_eq!(listed.len(), 3);
    let fuding = listed
        .iter()
        .find(|e| e["body"]["name"] == "福鼎海带加工厂")
        .unwrap();
    assert_eq!(fuding["body"]["grid_id"], "shacheng");
    assert_eq!(fuding["body"]["scale"], "below");

    // The same file again changes nothing.
    let again = import(&server, &admin, GOOD.as_bytes().to_vec()).await;
    assert_eq!(again.ok(200)["unchanged"], 3);
    let revs: Vec<_> = enterprises(&server, &admin)
        .await
        .iter()
        .map(|e| e["rev"].clone())
        .collect();
    assert_eq!(
        revs,
        listed.iter().map(|e| e["rev"].clone()).collect::<Vec<_>>()
    );

    // An edited row updates that enterprise only.
    let edited = GOOD.replace("沙埕镇海滨路1号", "沙埕镇海滨路2号");
    let report = import(&server, &admin, edited.into_bytes()).await;
    assert_eq!(
        (
            report.body["updated"].as_u64(),
            report.body["unchanged"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // Export, then import the export: nothing changes.
    let exported = reqwest::Client::new()
        .get(server.url("/v1/admin/enterprises/export"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    assert!(
        exported.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = exported.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    assert!(String::from_utf8_lossy(&bytes).contains("沙埕镇海滨路2号"));
    let round = import(&server, &admin, bytes).await;
    assert_eq!(round.ok(200)["unchanged"], 3);
}

#[tokio::test]
async fn a_gbk_file_imports_like_a_utf8_one() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    with_grids(&server, &admin).await;
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(GOOD);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
    let report = server
        .call_raw(
            reqwest::Method::POST,
            "/v1/admin/enterprises/import",
            Some(&admin),
            "text/csv; charset=gbk",
            gbk.into_owned(),
        )
        .await;
    assert_eq!(report.ok(200)["created"], 3);
    let listed = enterprises(&server, &admin).await;
    assert!(listed.iter().any(|e| e["body"]["name"] == "海丰渔网厂"));
}

#[tokio::test]
async fn a_bad_file_is_refused_whole_with_every_bad_row_named() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    with_grids(&server, &admin).await;
    let bad = "企业名称,统一社会信用代码,网格,行业,规模,地址,联系人,联系电话
福鼎海带加工厂,914403001922038216,沙埕村,紫菜加工,规下,沙埕镇海滨路1号,陈老板,13800000001
坏代码厂,91440300192203821O,沙埕村,紫菜加工,规下,沙埕镇,陈,13800000004
短代码厂,9144030019,沙埕村,紫菜加工,规下,沙埕镇,陈,13800000005
无网格厂,91330100716105852F,月亮村,紫菜加工,规下,沙埕镇,陈,13800000006
规模厂,91110108551385082Q,沙埕村,紫菜加工,很大,沙埕镇,陈,13800000007
重复厂,914403001922038216,沙埕村,紫菜加工,规下,沙埕镇,陈,13800000008
";
    let reply = import(&server, &admin, bad.as_bytes().to_vec()).await;
    reply.assert_error(400, "csv-invalid");
    let message = reply.body["message"].as_str().unwrap();
    for line in ["line 3", "line 4", "line 5", "line 6", "line 7"] {
        assert!(message.contains(line), "{line} missing from: {message}");
    }
    assert!(!message.contains("line 2:"), "{message}");
    assert!(
        enterprises(&server, &admin).await.is_empty(),
        "all or nothing"
    );

    let missing = "企业名称,统一社会信用代码,行业\n福鼎海带加工厂,914403001922038216,紫菜加工\n";
    let reply = import(&server, &admin, missing.as_bytes().to_vec()).await;
    reply.assert_error(400, "csv-invalid");
    assert!(reply.body["message"].as_str().unwrap().contains("网格"));
    let binary = vec![0xff, 0xfe, 0xfd, 0x00, 0x81];
    import(&server, &admin, binary)
        .await
        .assert_error(400, "csv-invalid");
    let (_, leader) = server.add_user(&admin, "leader", &["leader"]).await;
    import(&server, &leader, GOOD.as_bytes().to_vec())
        .await
        .assert_error(403, "forbidden");
}

/// The export as text, without its BOM.
async fn export(server: &TestServer, admin: &str) -> String {
    let exported = reqwest::Client::new()
        .get(server.url("/v1/admin/enterprises/export"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    let bytes = exported.bytes().await.unwrap();
    String::from_utf8(bytes[3..].to_vec()).unwrap()
}

#[tokio::test]
async fn cells_a_spreadsheet_would_run_are_exported_as_text_and_stored_as_they_are() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    with_grids(&server, &admin).await;
    let names = [
        "=cmd|' /C calc'!A0",
        "+SUM(1+1)*cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3+cmd|' /C calc'!A0",
    ];
    let mut csv = String::from("企业名称,统一社会信用代码,网格,行业,规模,地址,联系人,联系电话\n");
    let codes = [
        "914403001922038216",
        "9144030071526726XG",
        "914403001922038217",
        "91350982MA2XXXXXX1",
    ];
    for (name, code) in names.iter().zip(codes) {
        let name = name.replace('"', "\"\"");
        csv.push_str(&format!("\"{name}\",{code},沙埕村,紫菜加工,规下,=HYPERLINK(\"http://x\"),陈老板,+8613800000001\n"));
    }
    let report = import(&server, &admin, csv.into_bytes()).await;
    assert_eq!(report.ok(200)["created"], 4, "{report:?}");

    // Stored as typed.
    let stored: Vec<String> = enterprises(&server, &admin)
        .await
        .iter()
        .map(|e| e["body"]["name"].as_str().unwrap().to_string())
        .collect();
    for name in names {
        assert!(stored.iter().any(|s| s == name), "{name} in {stored:?}");
    }
    // Exported with a quote before each cell a spreadsheet would run.
    let exported = export(&server, &admin).await;
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
        assert_eq!(&row[5], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&row[7], "'+8613800000001");
        assert!(names.iter().any(|n| row[0] == format!("'{n}")), "{row:?}");
    }
    // And the export imports back unchanged.
    let round = import(&server, &admin, exported.into_bytes()).await;
    assert_eq!(round.ok(200)["unchanged"], 4, "{round:?}");
}
