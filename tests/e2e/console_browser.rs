//! The office console in a real browser: headless Chromium, driven through ChromeDriver,
//! against the real server over the demo town. Every page visited must render without a
//! browser error (script error, refused resource), and its screenshot (1366×768) is kept under
//! `target/console-screenshots/`.

use anjian_tests::TestServer;
use anjian_tests::chromium::Chromium;
use calamine::Reader;
use fantoccini::Locator;

/// The rows of a downloaded workbook's sheet, each cell as text.
fn workbook_rows(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    let mut workbook =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("the export is a workbook");
    workbook
        .worksheet_range(sheet)
        .unwrap()
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The hazard row's link whose text contains `part`.
async fn hazard_named(browser: &Chromium, part: &str) -> String {
    for link in browser
        .client
        .find_all(Locator::Css("#hazards a[href^='/console/hazards/']"))
        .await
        .unwrap()
    {
        if link.text().await.unwrap().contains(part) {
            return link.attr("href").await.unwrap().unwrap();
        }
    }
    panic!("no hazard like {part} in the ledger");
}

#[tokio::test]
async fn the_office_accepts_a_rectification_voids_a_hazard_and_exports_the_ledger() {
    let (server, _town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let home = browser.visit("/console/", "home").await;
    assert!(home.contains("工作台首页"), "{home}");
    browser.visit("/console/users", "users").await;

    let ledger = browser.visit("/console/hazards", "hazards").await;
    assert!(
        ledger.contains("应急照明灯损坏") && ledger.contains("待验收"),
        "{ledger}"
    );
    assert_eq!(
        browser.count("#hazards a[href^='/console/hazards/']").await,
        4
    );

    // Accept the rectification waiting for it (验收销号).
    let lights = hazard_named(&browser, "应急照明灯损坏").await;
    let page = browser.visit(&lights, "hazard-pending-acceptance").await;
    for shown in [
        "整改前照片",
        "整改后照片",
        "服务器接收时间",
        "已更换应急照明灯",
        "待验收",
    ] {
        assert!(page.contains(shown), "{shown} missing from {page}");
    }
    browser.click("#accept button").await;
    assert_eq!(browser.path().await, lights);
    assert_eq!(browser.text_of("#state").await, "已销号");
    let timeline = browser.text_of("#timeline").await;
    assert!(timeline.contains("待验收 → 已销号"), "{timeline}");
    assert!(browser.errors().await.is_empty());

    // Void another with a reason; the timeline says so.
    browser.open("/console/hazards").await;
    let stacked = hazard_named(&browser, "消防通道").await;
    browser.open(&stacked).await;
    browser
        .fill("#void", "note", "重复上报，与另一条隐患相同")
        .await;
    browser.click("#void button").await;
    let page = browser.visit(&stacked, "hazard-voided").await;
    assert!(page.contains("已上报 → 作废"), "{page}");
    assert!(page.contains("重复上报，与另一条隐患相同"), "{page}");
    assert!(!page.contains("办理"), "a void hazard offers no actions");

    // A filter narrows the ledger; an unknown filter value is refused beside the filters.
    let open = browser
        .visit("/console/hazards?state=reported", "hazards-reported")
        .await;
    assert!(
        open.contains("液氨储罐区") && !open.contains("应急照明灯损坏"),
        "{open}"
    );
    browser.open("/console/hazards?state=nonsense").await;
    assert!(browser.text().await.contains("筛选条件“state”有误"));

    // The ledger downloads as .xlsx and reads back.
    browser.open("/console/hazards").await;
    // A download leaves the page as it is.
    browser.click_download("#export-xlsx").await;
    let rows = workbook_rows(browser.downloaded(".xlsx").await, "隐患台账");
    assert_eq!(rows.len(), 5, "a header and four hazards: {rows:?}");
    assert_eq!(rows[0][0], "编号");
    let states: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
    for state in ["已销号", "作废", "已上报"] {
        assert!(states.contains(&state), "{state} not in {states:?}");
    }
    browser.close().await;
}

#[tokio::test]
async fn a_form_without_its_token_is_refused_and_a_leader_changes_nothing() {
    let (server, town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    browser.open("/console/hazards").await;
    let ammonia = hazard_named(&browser, "液氨储罐区").await;
    browser.open(&ammonia).await;

    // The void form, its CSRF token taken out, is refused and changes nothing.
    browser
        .run("document.querySelector('#void input[name=csrf]').remove()")
        .await;
    browser.fill("#void", "note", "试图跨站作废").await;
    browser.click("#void button").await;
    let refused = browser.text().await;
    assert!(refused.contains("请求被拒绝"), "{refused}");
    assert!(browser.errors().await.iter().any(|e| e.contains("403")));
    browser.screenshot("csrf-refused").await;
    let page = browser.visit(&ammonia, "hazard-major").await;
    assert!(
        page.contains("已上报") && !page.contains("试图跨站作废"),
        "{page}"
    );
    browser.sign_out().await;

    // A leader (镇领导) reads the hazard but is offered no action, and one sent anyway is
    // refused.
    browser.sign_in("leader", town.password("leader")).await;
    let page = browser.visit(&ammonia, "hazard-as-leader").await;
    assert!(
        page.contains("液氨储罐区") && !page.contains("办理"),
        "{page}"
    );
    let csrf = browser
        .attr_of("form.logout input[name=csrf]", "value")
        .await;
    let script = format!(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '{ammonia}/move'; \
         for (const [k, v] of [['csrf', '{csrf}'], ['from', 'reported'], ['to', 'void'], ['note', '领导作废']]) {{ \
           const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }} \
         document.body.appendChild(f); f.submit();"
    );
    browser.navigate_by(&script).await;
    let answer = browser.text().await;
    assert!(
        answer.contains(anjian_sync::reasons::words("not-permitted")),
        "{answer}"
    );
    assert!(browser.errors().await.iter().any(|e| e.contains("403")));
    browser.sign_out().await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let page = browser.visit(&ammonia, "hazard-major-after").await;
    assert!(
        page.contains("已上报") && !page.contains("领导作废"),
        "{page}"
    );
    browser.sign_out().await;

    // An enterprise manager sees their enterprise's hazards only; another's is a 404 page.
    browser.sign_in("manager", town.password("manager")).await;
    let mine = browser
        .visit("/console/hazards", "hazards-as-manager")
        .await;
    assert!(
        mine.contains("应急照明灯损坏") && !mine.contains("液氨储罐区"),
        "{mine}"
    );
    browser.open(&ammonia).await;
    let page = browser.text().await;
    assert!(page.contains("隐患不存在"), "{page}");
    assert!(browser.errors().await.iter().any(|e| e.contains("404")));
    browser.close().await;
}

#[tokio::test]
async fn a_reviewer_publishes_an_article_and_the_public_reads_it_until_it_is_withdrawn() {
    let (server, town) = TestServer::demo().await;
    let public = |reply: &anjian_tests::Reply| -> Vec<String> {
        reply.body["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(public(&server.get("/v1/public/articles", None).await).is_empty());

    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("reviewer", town.password("reviewer")).await;
    let queue = browser.visit("/console/articles", "articles").await;
    assert!(
        queue.contains("待审核（1）") && queue.contains("冬季紫菜加工安全提示"),
        "{queue}"
    );
    browser.click("#articles-pending a").await;
    let article = browser.path().await;
    let preview = browser.visit(&article, "article-preview").await;
    assert!(preview.contains("公众看到的样子") && preview.contains("配电箱必须可靠接地"));

    // Rejecting needs a note: the browser asks for it first, the server refuses without one.
    browser
        .run("document.querySelector('#reject input[name=note]').removeAttribute('required')")
        .await;
    browser.click("#reject button").await;
    let refused = browser.text().await;
    assert!(refused.contains("请填写原因"), "{refused}");
    assert!(browser.errors().await.iter().any(|e| e.contains("400")));
    assert_eq!(browser.text_of("#state").await, "待审核");

    browser.fill("#publish", "note", "内容准确，同意发布").await;
    browser.click("#publish button").await;
    let page = browser.visit(&article, "article-published").await;
    assert!(
        page.contains("已发布") && page.contains("内容准确，同意发布"),
        "{page}"
    );
    assert_eq!(
        public(&server.get("/v1/public/articles", None).await),
        ["冬季紫菜加工安全提示"]
    );

    browser
        .fill("#withdraw", "note", "政策调整，暂时撤回")
        .await;
    browser.click("#withdraw button").await;
    let page = browser.visit(&article, "article-withdrawn").await;
    assert!(page.contains("已撤回"), "{page}");
    assert!(public(&server.get("/v1/public/articles", None).await).is_empty());
    browser.sign_out().await;

    // The publicist who wrote it reads it but cannot review their own article.
    browser
        .sign_in("publicist", town.password("publicist"))
        .await;
    let page = browser.visit(&article, "article-as-author").await;
    assert!(
        page.contains("冬季紫菜加工安全提示") && !page.contains("审核通过"),
        "{page}"
    );
    browser.close().await;
}

#[tokio::test]
async fn an_inspection_record_shows_its_checklist_officers_and_signature_and_prints_on_a4() {
    let (server, _town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    // The demo's enterprises keep their self-checks: the office's own patrol is of its kind.
    let list = browser
        .visit("/console/inspections?kind=grid_patrol", "inspections")
        .await;
    assert!(
        list.contains("网格巡查") && list.contains("李明、王海"),
        "{list}"
    );
    browser.click("#inspections a").await;
    let path = browser.path().await;
    let record = browser.visit(&path, "inspection").await;
    for shown in [
        "现场检查记录",
        "小微企业安全生产检查表（第 1 版）",
        "烘干车间消防通道堆放纸箱",
        "存在隐患",
        "不适用",
        "老坝港社区",
        "王海（执法证号 JS-3206-0217）",
        "检查发现一般隐患2处",
        "配电箱未接地，箱门缺失",
    ] {
        assert!(record.contains(shown), "{shown} missing from {record}");
    }
    let loaded = browser
        .run("return document.getElementById('signature').naturalWidth")
        .await;
    assert!(loaded.as_u64().unwrap() > 0, "the signature photo loads");
    assert!(
        browser
            .attr_of("#signature", "src")
            .await
            .starts_with("/console/photos/")
    );

    // Printed on A4 (the print stylesheet drops the navigation), kept beside the screenshots.
    browser.print_a4("inspection").await;

    // The list downloads as .xlsx and reads back.
    browser.open("/console/inspections?kind=grid_patrol").await;
    browser.click_download("#export-xlsx").await;
    let rows = workbook_rows(browser.downloaded(".xlsx").await, "检查记录");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][3], "网格巡查");
    assert_eq!(rows[1][6], "2", "two findings");
    browser.close().await;
}

/// The number of rows a ledger page lists (its table's rows with a link).
async fn listed_rows(browser: &Chromium, table: &str) -> usize {
    browser.count(&format!("#{table} tbody tr a")).await
}

/// A dashboard card's value.
async fn card(browser: &Chromium, id: &str) -> String {
    browser.text_of(&format!("#card-{id} .value")).await
}

#[tokio::test]
async fn the_dashboard_figures_are_the_ledgers_behind_them_and_follow_the_office_s_work() {
    let (server, town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let home = browser.visit("/console/", "dashboard").await;
    assert!(
        home.contains("检查覆盖率（全覆盖）") && home.contains("整改率"),
        "{home}"
    );
    assert_eq!(card(&browser, "hazards-found").await, "4");
    // The town's patrol and the self-checks the enterprises kept this month (the ledger
    // behind the card is checked below).
    let inspections: usize = card(&browser, "inspections").await.parse().unwrap();
    assert!(inspections >= 1, "{inspections}");
    assert_eq!(card(&browser, "rectification").await, "0.0%");
    let coverage = browser.text_of("#card-coverage .detail").await;
    assert!(coverage.starts_with("1 / 30 "), "{coverage}");
    // The meetings held and due are the month's compliance (履职情况), which the card opens.
    let detail = browser.text_of("#card-meetings .detail").await;
    let number_after = |label: &str| -> u64 {
        detail
            .split(label)
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (held, expected) = (number_after("已开 "), number_after("应开 "));
    assert!(
        expected > 0,
        "the demo's calendars make meetings due: {detail}"
    );
    browser.click("#card-meetings").await;
    assert!(
        browser
            .path()
            .await
            .starts_with("/console/compliance?month=")
    );
    let cells: Vec<u64> = browser
        .run(
            "return Array.from(document.querySelectorAll('#compliance-town tbody tr:first-child td'))\
             .slice(1, 4).map(td => Number(td.textContent))",
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    let (due, on_time, late) = (cells[0], cells[1], cells[2]);
    assert_eq!((held, expected), (on_time + late, due), "{detail}");
    browser.screenshot("meetings").await;

    // Each figure is the count of the ledger its card links to.
    for (id, table) in [
        ("hazards-found", "hazards"),
        ("overdue", "hazards"),
        ("inspections", "inspections"),
        ("major", "hazards"),
    ] {
        browser.open("/console/").await;
        let value: usize = card(&browser, id).await.parse().unwrap();
        browser.click(&format!("#card-{id}")).await;
        assert_eq!(
            listed_rows(&browser, table).await,
            value,
            "{id} links to {}",
            browser.path().await
        );
        assert!(browser.errors().await.is_empty());
    }

    // Accepting the rectification waiting for it moves the rate: one of the month's four.
    browser
        .open("/console/hazards?state=pending_acceptance")
        .await;
    browser.click("#hazards tbody a").await;
    browser.click("#accept button").await;
    browser
        .visit("/console/", "dashboard-after-acceptance")
        .await;
    assert_eq!(card(&browser, "rectification").await, "25.0%");
    // The sync issues waiting are the queue's.
    assert_eq!(card(&browser, "sync-issues").await, "2");
    browser.click("#card-sync-issues").await;
    assert_eq!(listed_rows(&browser, "issues").await, 2);

    // The dashboard prints as the month's report (考核月报) on A4, with the same figures and
    // six months of each trend.
    browser.open("/console/").await;
    browser.click("#print-report").await;
    let report = browser.visit(&browser.path().await, "report").await;
    assert!(report.contains("安全生产工作考核月报"), "{report}");
    assert_eq!(browser.text_of("#report-area").await, "全镇");
    assert_eq!(
        browser.text_of("#figure-rectification .value").await,
        "25.0%"
    );
    assert_eq!(browser.text_of("#figure-hazards-found .value").await, "4");
    assert_eq!(browser.count("#history thead th").await, 1 + 6);
    let history = browser.text_of("#history").await;
    assert!(
        history.contains("整改率") && history.contains("25.0%"),
        "{history}"
    );
    browser.print_a4("report").await;

    // A grid the caller does not cover is refused beside the filters; a leader has the
    // town's dashboard, an enterprise manager none.
    browser.open("/console/?grid=nowhere").await;
    assert!(browser.text().await.contains("没有“nowhere”这个网格"));
    assert!(browser.errors().await.iter().any(|e| e.contains("400")));
    browser.sign_out().await;
    browser.sign_in("leader", town.password("leader")).await;
    browser.visit("/console/", "dashboard-as-leader").await;
    assert_eq!(card(&browser, "hazards-found").await, "4");
    browser.sign_out().await;
    browser.sign_in("manager", town.password("manager")).await;
    let home = browser.visit("/console/", "home-as-manager").await;
    assert!(!home.contains("整改率"), "{home}");
    browser.open("/console/report").await;
    assert!(browser.text().await.contains("没有考核报表"));
    assert!(browser.errors().await.iter().any(|e| e.contains("403")));
    browser.close().await;
}

#[tokio::test]
async fn a_teams_calendar_shows_its_meetings_and_a_meeting_its_attendance() {
    let (server, town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("manager", town.password("manager")).await;
    // Yesterday's meetings may lie in last month: look at both.
    let today = anjian_sync::clock::china_date(anjian_server::store::model::UnixMillis::now().0);
    let yesterday = anjian_sync::clock::china_date(
        anjian_server::store::model::UnixMillis::now().0 - 86_400_000,
    );
    let mut months = vec![&yesterday[..7], &today[..7]];
    months.dedup();
    let mut held = 0;
    for month in months {
        let page = browser
            .visit(
                &format!("/console/meetings?month={month}"),
                &format!("meetings-{month}"),
            )
            .await;
        assert!(
            page.contains("烘干一班") && page.contains("包装二班"),
            "{page}"
        );
        assert!(
            !page.contains("冷库值班组"),
            "another enterprise's team: {page}"
        );
        held += listed_rows(&browser, "team-1").await + listed_rows(&browser, "team-2").await;
    }
    assert_eq!(held, 4, "yesterday's three meetings and today's one");
    browser
        .open(&format!("/console/meetings?month={}", &today[..7]))
        .await;
    // The month's meetings download as a ledger, one row a meeting with its attendance counted.
    let this_month = listed_rows(&browser, "team-1").await + listed_rows(&browser, "team-2").await;
    browser.click_download("#export-xlsx").await;
    let rows = workbook_rows(browser.downloaded(".xlsx").await, "班组会台账");
    assert_eq!(rows.len(), 1 + this_month, "{rows:?}");
    assert_eq!(
        (rows[0][2].as_str(), rows[0][10].as_str()),
        ("班组", "实到人数")
    );
    let mine = rows
        .iter()
        .find(|r| r[3] == today)
        .expect("today's meeting");
    assert_eq!(
        (
            mine[2].as_str(),
            mine[5].as_str(),
            mine[10].as_str(),
            mine[13].as_str()
        ),
        ("烘干一班", "班前会", "3", "1"),
        "three came, one without full protective equipment: {mine:?}"
    );
    browser.click("td.cell.held a, td.cell.late a").await;
    let meeting = browser.visit(&browser.path().await, "meeting").await;
    for shown in [
        "到会人员",
        "吴大海",
        "迟到",
        "未穿戴齐全",
        "6 分钟",
        "烘干车间",
    ] {
        assert!(meeting.contains(shown), "{shown} missing from {meeting}");
    }
    assert!(!meeting.contains("不足5分钟"));
    browser.close().await;
}

/// The address of a user's page, from the users list.
async fn user_link(browser: &Chromium, username: &str) -> String {
    browser.open("/console/users").await;
    browser
        .client
        .find(Locator::XPath(&format!("//a[text()='{username}']")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn the_admin_changes_a_users_scopes_resets_a_password_invites_and_revokes_a_device() {
    let (server, town) = TestServer::demo().await;
    let phone = anjian_tests::devices::TestDevice::enrolled(
        &server,
        "inspector",
        town.password("inspector"),
    )
    .await;
    let teamlead = server.token("teamlead", town.password("teamlead")).await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let inspector = user_link(&browser, "inspector").await;
    let page = browser.visit(&inspector, "user").await;
    assert!(
        page.contains("inspector's phone") && page.contains("使用中"),
        "{page}"
    );

    // Scopes: the inspector covers a third grid.
    browser
        .fill("#edit", "grids", "laobagang,jiaoxie,dongzao")
        .await;
    browser.click("#edit button").await;
    let text = browser.text().await;
    assert!(text.contains("网格 dongzao、jiaoxie、laobagang"), "{text}");
    // No role at all is refused beside the form, nothing kept.
    browser.run("document.querySelectorAll('#edit input[type=checkbox][name^=role_]').forEach(c => c.checked = false)").await;
    browser.click("#edit button").await;
    assert!(browser.text().await.contains("请至少选择一个角色"));
    assert!(browser.errors().await.iter().any(|e| e.contains("400")));

    // An invitation code, shown once with its QR code.
    browser.open(&inspector).await;
    browser.click("#invite button").await;
    let code = browser.text_of("#invitation-code .code").await;
    assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");
    assert!(
        browser
            .client
            .find(Locator::Css("#invitation-code .qr svg"))
            .await
            .is_ok()
    );
    assert!(browser.errors().await.is_empty());
    browser.screenshot("user-invitation").await;

    // Revoking the phone: its next push is refused.
    browser.open(&inspector).await;
    browser.click("#devices form button").await;
    assert!(browser.text().await.contains("已吊销"));
    phone.report_hazard("general");
    let report = phone.push().await;
    let refused = format!(
        "{:?}",
        report.expect_err("a revoked device's push is refused")
    );
    assert!(refused.to_lowercase().contains("revoked"), "{refused}");

    // A new password ends the team lead's sessions.
    assert_eq!(server.get("/v1/me", Some(&teamlead)).await.status, 200);
    let lead = user_link(&browser, "teamlead").await;
    browser.open(&lead).await;
    browser
        .fill("#password", "password", "新的密码-2026-abc")
        .await;
    browser.click("#password button").await;
    assert_eq!(server.get("/v1/me", Some(&teamlead)).await.status, 401);
    assert_eq!(
        server.login("teamlead", "新的密码-2026-abc").await.status,
        200
    );
    browser.close().await;
}

#[tokio::test]
async fn the_registry_filters_shows_an_enterprise_and_imports_only_a_clean_list() {
    let (server, town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let all = browser.visit("/console/enterprises", "enterprises").await;
    assert!(all.contains("共 30 家"), "{all}");
    let red = browser
        .visit("/console/enterprises?colour=red", "enterprises-red")
        .await;
    assert!(red.contains("共 2 家") && red.contains("涉氨制冷"), "{red}");

    // The seaweed plant's page: its hazards, inspection, meetings, teams, and a certificate
    // running out within 30 days.
    browser.open("/console/enterprises?q=海晟").await;
    browser.click("#enterprises tbody a").await;
    let page = browser.visit(&browser.path().await, "enterprise").await;
    for shown in [
        "配电箱未接地",
        "检查发现一般隐患2处",
        "烘干一班",
        "包装二班",
        "黄秀兰",
        "30天内到期",
        "林国强",
    ] {
        assert!(page.contains(shown), "{shown} missing from {page}");
    }

    // An import with a bad line keeps nothing and names the line.
    let upload = |name: &str, text: &str| {
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let bad = upload(
        "anjian-import-bad.csv",
        "企业名称,统一社会信用代码,网格,行业,规模,地址,联系人,联系电话\n\
         新港渔网厂,91350982MA2YQ1234X,老坝港社区,渔网制造,规下,角斜镇老坝港社区99号,张三,13800000000\n\
         无名厂,not-a-code,月球村,渔网制造,规下,某地,李四,13800000001\n",
    );
    browser.open("/console/enterprises").await;
    browser.choose_file("#import input[type=file]", &bad).await;
    browser.click("#import button").await;
    let preview = browser.text().await;
    assert!(
        preview.contains("第 3 行") && preview.contains("什么也没有保存"),
        "{preview}"
    );
    // The reason is said in Chinese first (the grid 月球村 does not exist).
    let why = browser.text_of("#import-errors tbody").await;
    assert!(why.contains("没有名称或代码为“月球村”的网格"), "{why}");
    assert!(browser.errors().await.iter().any(|e| e.contains("400")));
    browser.screenshot("import-refused").await;
    assert!(
        !browser
            .visit("/console/enterprises", "enterprises-after-refusal")
            .await
            .contains("新港渔网厂")
    );

    // A clean list shows what it would add, and keeps it only when confirmed.
    let good = upload(
        "anjian-import-good.csv",
        "企业名称,统一社会信用代码,网格,行业,规模,地址,联系人,联系电话\n\
         新港渔网厂,91350982MA2YQ1234X,老坝港社区,渔网制造,规下,角斜镇老坝港社区99号,张三,13800000000\n",
    );
    browser.choose_file("#import input[type=file]", &good).await;
    browser.click("#import button").await;
    assert_eq!(browser.text_of("#created").await, "1");
    let admin = server.admin().await;
    let listed = |reply: anjian_tests::Reply| reply.body["items"].as_array().unwrap().len();
    let search = "/v1/office/enterprises?q=%E6%96%B0%E6%B8%AF";
    assert_eq!(
        listed(server.get(search, Some(&admin)).await),
        0,
        "a preview keeps nothing"
    );
    browser.click("#confirm button").await;
    assert!(browser.text().await.contains("已导入"));
    let all = browser
        .visit("/console/enterprises", "enterprises-imported")
        .await;
    assert!(
        all.contains("新港渔网厂") && all.contains("共 31 家"),
        "{all}"
    );

    // A leader reads the registry but has no import form.
    browser.sign_out().await;
    browser.sign_in("leader", town.password("leader")).await;
    let page = browser
        .visit("/console/enterprises", "enterprises-as-leader")
        .await;
    assert!(
        page.contains("共 31 家") && !page.contains("导入企业名单"),
        "{page}"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_map_draws_each_enterprise_by_risk_and_the_same_is_geojson() {
    let (server, town) = TestServer::demo().await;
    let admin = server.admin().await;
    let geojson = server.get("/v1/office/map", Some(&admin)).await;
    let features = geojson.ok(200)["features"].as_array().unwrap().clone();
    assert_eq!(geojson.body["type"], "FeatureCollection");
    assert_eq!(features.len(), 30);
    let red: Vec<&serde_json::Value> = features
        .iter()
        .filter(|f| f["properties"]["risk_colour"] == "red")
        .collect();
    assert_eq!(red.len(), 2);
    let [lng, lat] = [0, 1].map(|i| features[0]["geometry"]["coordinates"][i].as_f64().unwrap());
    assert!(
        (120.0..121.0).contains(&lng) && (32.0..33.0).contains(&lat),
        "longitude first"
    );
    let filtered = server
        .get("/v1/office/map?risk_colour=red", Some(&admin))
        .await;
    assert_eq!(filtered.ok(200)["features"].as_array().unwrap().len(), 2);
    // An enterprise manager's map holds their enterprise alone.
    let manager = server.token("manager", town.password("manager")).await;
    let theirs = server.get("/v1/office/map", Some(&manager)).await;
    assert_eq!(theirs.ok(200)["features"].as_array().unwrap().len(), 1);

    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let page = browser.visit("/console/map", "map").await;
    assert!(
        page.contains("红 2 家") && page.contains("老坝港社区"),
        "{page}"
    );
    assert_eq!(browser.count("#map circle.enterprise").await, 30);
    browser.visit("/console/map?colour=red", "map-red").await;
    assert_eq!(browser.count("#map circle.enterprise").await, 2);
    browser.click("#map a").await;
    assert!(browser.path().await.starts_with("/console/enterprises/"));
    assert!(browser.text().await.contains("涉氨制冷"));
    browser.close().await;
}

#[tokio::test]
async fn the_office_sees_a_refused_event_beside_its_record_and_marks_it_handled() {
    let (server, town) = TestServer::demo().await;
    let browser = Chromium::start(&server.url("")).await;
    browser.sign_in("admin", anjian_tests::ADMIN_PASSWORD).await;
    let queue = browser.visit("/console/issues", "issues").await;
    assert!(queue.contains("共 2 条"), "{queue}");
    let stale = anjian_sync::reasons::words("stale-transition");
    let no_photo = anjian_sync::reasons::words("photo-required");
    assert!(queue.contains(stale) && queue.contains(no_photo), "{queue}");

    // The manager's phone tried to start a rectification the hazard had moved past: the
    // refused move beside the hazard as it stands.
    let mut conflict = String::new();
    for link in browser
        .client
        .find_all(Locator::Css("#issues a[href^='/console/issues/']"))
        .await
        .unwrap()
    {
        if link.text().await.unwrap() == stale {
            conflict = link.attr("href").await.unwrap().unwrap();
        }
    }
    assert!(!conflict.is_empty(), "no conflict in {queue}");
    browser.visit(&conflict, "issue-conflict").await;
    let refused = browser.text_of("#event").await;
    assert!(
        refused.contains("隐患办理") && refused.contains("已上报（reported）"),
        "{refused}"
    );
    assert!(refused.contains("已安排电工更换"), "{refused}");
    let current = browser.text_of("#current").await;
    assert!(
        current.contains("待验收（pending_acceptance）") && current.contains("应急照明灯损坏"),
        "{current}"
    );
    assert!(
        browser
            .text_of("#reason")
            .await
            .contains("stale-transition")
    );

    // A blank note (the browser's own check taken away) is refused and changes nothing.
    browser
        .run("document.querySelector('#handle textarea').removeAttribute('required')")
        .await;
    browser.click("#handle button").await;
    let notice = browser.text_of(".notice").await;
    assert!(
        notice.contains(anjian_sync::reasons::words("payload-invalid")),
        "{notice}"
    );
    assert_eq!(browser.text_of("#state").await, "待处理");
    assert!(browser.errors().await.iter().any(|e| e.contains("400")));

    // With a note it is handled: nothing deleted, the note kept, the queue shorter.
    // Two lines: the browser sends the line break as CR LF, and the note keeps it.
    browser
        .fill(
            "#handle",
            "note",
            "已电话联系安全员\n隐患已申请验收，此操作作废",
        )
        .await;
    browser.click("#handle button").await;
    assert_eq!(browser.path().await, conflict);
    assert_eq!(browser.text_of("#state").await, "已处理");
    assert_eq!(
        browser.text_of("#handled-note").await,
        "已电话联系安全员\n隐患已申请验收，此操作作废"
    );
    assert_eq!(browser.count("#handle").await, 0, "handled once");
    assert!(browser.text_of("#event").await.contains("已安排电工更换"));
    let open = browser.visit("/console/issues", "issues-after").await;
    assert!(open.contains("共 1 条") && !open.contains(stale), "{open}");
    let handled = browser
        .visit("/console/issues?state=handled", "issues-handled")
        .await;
    assert!(
        handled.contains("共 1 条") && handled.contains(stale),
        "{handled}"
    );
    browser.sign_out().await;

    // The leader reads the queue and an issue still open, and is offered nothing to do.
    browser.sign_in("leader", town.password("leader")).await;
    let open = browser.visit("/console/issues", "issues-as-leader").await;
    assert!(
        open.contains(no_photo) && !open.contains("标记“已处理”"),
        "{open}"
    );
    browser.click("#issues tbody a").await;
    let page = browser
        .visit(&browser.path().await, "issue-as-leader")
        .await;
    assert!(page.contains("待处理") && page.contains(no_photo), "{page}");
    assert_eq!(browser.count("#handle").await, 0);
}
