//! The `anjian` command itself, as a person uses it against the demo town: log in, fetch, inspect
//! and report with photos while the server is away, sync, and read the status and receipts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::path::Path;
use std::process::Output;

use anjian_tests::photos::jpeg;
use anjian_tests::{DemoTown, TestServer};

/// Runs `anjian --dir <dir> args…`, with `stdin` on its standard input.
async fn anjian(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_anjian"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

/// Logs `user` of the demo town in on the device in `dir` and syncs it.
async fn logged_in(dir: &Path, server: &TestServer, town: &DemoTown, user: &str) {
    let url = server.url("");
    let login = anjian(
        dir,
        &[
            "login",
            "--server",
            &url,
            "--user",
            user,
            "--password-stdin",
        ],
        &format!("{}\n", town.password(user)),
    )
    .await;
    assert!(login.status.success(), "{}", says(&login));
    let synced = anjian(dir, &["sync"], "").await;
    assert!(synced.status.success(), "{}", says(&synced));
}

/// The id `anjian list` shows for the record of `entity_type` whose line contains `part`.
async fn listed(dir: &Path, entity_type: &str, part: &str) -> String {
    let list = says(&anjian(dir, &["list", "--type", entity_type], "").await);
    list.lines()
        .find(|l| l.contains(part))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no {entity_type} like {part}: {list}"))
        .to_string()
}

fn says(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn an_inspector_works_the_demo_town_with_the_command() {
    let (server, town) = TestServer::demo().await;
    let device = tempfile::tempdir().unwrap();
    let dir = device.path();

    // Before logging in, every command says what to do.
    let lost = anjian(dir, &["status"], "").await;
    assert!(!lost.status.success());
    assert!(says(&lost).contains("anjian login"), "{}", says(&lost));

    logged_in(dir, &server, &town, "inspector").await;
    let seaweed = listed(dir, "enterprise", "海晟紫菜").await;

    // Offline: photos from files, the checklist item by item on standard input.
    let photos = tempfile::tempdir().unwrap();
    let photo = photos.path().join("xf02.jpg");
    std::fs::write(&photo, jpeg(800, 600, 5, None)).unwrap();
    let other = photos.path().join("hazard.jpg");
    std::fs::write(&other, jpeg(640, 480, 6, None)).unwrap();
    // Answers that stop early, or a photo that is not there, record nothing.
    let short = anjian(
        dir,
        &[
            "inspect",
            "--enterprise",
            &seaweed,
            "--inspector",
            "李明",
            "--interactive",
            "--summary",
            "s",
            "--refusal-note",
            "r",
        ],
        "\nh 通道堆放 @/no/such/photo.jpg\n\n",
    )
    .await;
    assert!(!short.status.success());
    assert!(
        says(&short).contains("there is no photo file"),
        "{}",
        says(&short)
    );
    assert!(
        says(&short).contains("nothing was recorded"),
        "{}",
        says(&short)
    );
    let mut answers = String::from("\nh 消防通道堆放纸箱 @");
    answers.push_str(photo.to_str().unwrap());
    answers.push('\n');
    answers.push_str(&"\n".repeat(200));
    let inspected = anjian(
        dir,
        &[
            "inspect",
            "--enterprise",
            &seaweed,
            "--inspector",
            "李明",
            "--interactive",
            "--summary",
            "发现一处隐患",
            "--refusal-note",
            "负责人不在场",
        ],
        &answers,
    )
    .await;
    assert!(inspected.status.success(), "{}", says(&inspected));
    assert!(
        says(&inspected).contains("recorded inspection"),
        "{}",
        says(&inspected)
    );
    assert!(
        !says(&inspected).contains("will not apply"),
        "{}",
        says(&inspected)
    );
    let reported = anjian(
        dir,
        &[
            "hazard",
            "report",
            "--enterprise",
            &seaweed,
            "--description",
            "灭火器压力不足",
            "--deadline",
            "2026-12-10",
            "--photo",
            other.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(
        says(&reported).contains("recorded hazard"),
        "{}",
        says(&reported)
    );
    let status = says(&anjian(dir, &["status"], "").await);
    assert!(status.contains("pending events: 2"), "{status}");
    assert!(status.contains("unsent photos: 2"), "{status}");

    let synced = anjian(dir, &["sync"], "").await;
    assert!(synced.status.success(), "{}", says(&synced));
    assert!(
        says(&synced).contains("2 photos sent, 2 events acknowledged (0 not applied)"),
        "{}",
        says(&synced)
    );
    let status = says(&anjian(dir, &["status"], "").await);
    assert!(status.contains("pending events: 0"), "{status}");
    assert!(status.contains("unsent photos: 0"), "{status}");
    // The demo's own conflict (the manager's phone, over the lights hazard in this grid).
    assert!(
        status.contains("conflicts and quarantined: 1 to look at")
            && status.contains("stale-transition"),
        "{status}"
    );
    assert!(status.contains("clock: agrees with the server"), "{status}");
    let receipts = says(&anjian(dir, &["receipts"], "").await);
    assert_eq!(
        receipts.matches("applied at revision").count(),
        2,
        "{receipts}"
    );

    // The office sees the inspection, with every item of the checklist answered.
    let admin = server.admin().await;
    let listed = server.get("/v1/office/inspections", Some(&admin)).await;
    // The command's inspection, beside the demo town's own (started two hours ago).
    let inspection = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|i| i["body"]["started_at_ms"].as_i64().unwrap())
        .unwrap();
    assert!(inspection["missing_blobs"].as_array().unwrap().is_empty());
    let results = inspection["body"]["results"].as_array().unwrap();
    let checklist: serde_json::Value = serde_json::from_str(include_str!(
        "../../server/templates/small-enterprise-v1.json"
    ))
    .unwrap();
    let items: usize = checklist["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(results.len(), items, "every item of the checklist");
    let finding = results.iter().find(|r| r["verdict"] == "hazard").unwrap();
    assert_eq!(finding["note"], "消防通道堆放纸箱");
}

#[tokio::test]
async fn a_team_lead_and_a_manager_use_files_and_move_a_hazard_with_the_command() {
    let (server, town) = TestServer::demo().await;
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("meeting.jpg");
    std::fs::write(&photo, jpeg(640, 480, 11, None)).unwrap();
    let after = files.path().join("after.jpg");
    std::fs::write(&after, jpeg(640, 480, 12, None)).unwrap();

    // The team lead's meeting comes from a TOML file; the flags add the photo.
    let lead = tempfile::tempdir().unwrap();
    logged_in(lead.path(), &server, &town, "teamlead").await;
    let seaweed = listed(lead.path(), "enterprise", "海晟紫菜").await;
    let toml = files.path().join("meeting.toml");
    std::fs::write(
        &toml,
        format!(
            "enterprise_id = \"{seaweed}\"\nteam_id = \"t1\"\ndate = \"2026-11-27\"\n\
             host = \"陈阿妹\"\ntopics = [\"烘干炉温度控制\"]\n\
             [[attendance]]\nname = \"陈阿妹\"\nstatus = \"present\"\nfit_for_duty = true\nppe_ok = true\n\
             [[attendance]]\nname = \"林国强\"\nstatus = \"late\"\nfit_for_duty = true\nppe_ok = false\n"
        ),
    )
    .unwrap();
    let no_photo = anjian(
        lead.path(),
        &["meeting", "--file", toml.to_str().unwrap()],
        "",
    )
    .await;
    // The judgement's reason, with the option that answers it.
    assert!(!no_photo.status.success());
    let said = says(&no_photo);
    assert!(
        said.contains("photo-required") && said.contains("--photo"),
        "{said}"
    );
    let meeting = anjian(
        lead.path(),
        &[
            "meeting",
            "--file",
            toml.to_str().unwrap(),
            "--photo",
            photo.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(
        says(&meeting).contains("recorded meeting"),
        "{}",
        says(&meeting)
    );
    assert!(
        !says(&meeting).contains("will not apply"),
        "{}",
        says(&meeting)
    );
    let synced = says(&anjian(lead.path(), &["sync"], "").await);
    assert!(
        synced.contains("1 events acknowledged (0 not applied)"),
        "{synced}"
    );

    // Before the shift, the team lead briefs a worker of the roster (岗前一分钟), named as the
    // roster has her, with that morning's meeting; the second time is refused on the device.
    let briefing_args = [
        "briefing",
        "--team",
        "t1",
        "--worker",
        "陈阿妹",
        "--date",
        "2026-11-27",
        "--meeting",
        "pre_shift",
        "--point",
        "烘干炉超温的危害",
        "--point",
        "急停按钮的位置",
        "--seconds",
        "75",
    ];
    let briefing = anjian(lead.path(), &briefing_args, "").await;
    assert!(
        says(&briefing).contains("recorded briefing"),
        "{}",
        says(&briefing)
    );
    let again = anjian(lead.path(), &briefing_args, "").await;
    assert!(!again.status.success());
    assert!(
        says(&again).contains("already-submitted"),
        "{}",
        says(&again)
    );
    let stranger = anjian(
        lead.path(),
        &[
            "briefing",
            "--team",
            "t1",
            "--worker",
            "张无名",
            "--point",
            "防滑",
        ],
        "",
    )
    .await;
    assert!(!stranger.status.success());
    assert!(
        says(&stranger).contains("no worker 张无名"),
        "{}",
        says(&stranger)
    );
    let synced = says(&anjian(lead.path(), &["sync"], "").await);
    assert!(
        synced.contains("1 events acknowledged (0 not applied)"),
        "{synced}"
    );
    let listed_briefing = says(&anjian(lead.path(), &["list", "--type", "briefing"], "").await);
    assert!(
        listed_briefing.contains("2026-11-27 早班 陈阿妹 烘干工 75 s"),
        "{listed_briefing}"
    );
    // And the team's daily self-check (班组日检) from the shipped checklist, offline too.
    let self_check = anjian(
        lead.path(),
        &[
            "inspect",
            "--enterprise",
            &seaweed,
            "--kind",
            "self_check",
            "--team",
            "t1",
            "--inspector",
            "陈阿妹",
            "--interactive",
            "--summary",
            "班组日检，未发现隐患",
            "--signature",
            photo.to_str().unwrap(),
        ],
        &"\n".repeat(200),
    )
    .await;
    assert!(
        self_check.status.success() && says(&self_check).contains("recorded"),
        "{}",
        says(&self_check)
    );
    let synced = says(&anjian(lead.path(), &["sync"], "").await);
    assert!(
        synced.contains("1 events acknowledged (0 not applied)"),
        "{synced}"
    );

    // The manager rectifies a demo hazard with an after-photo; `show` has the server's view.
    let manager = tempfile::tempdir().unwrap();
    logged_in(manager.path(), &server, &town, "manager").await;

    // The manager grades a risk point (风险点) from a TOML file, then re-grades it with --id:
    // the version it replaces is the one the device holds.
    let risk_file = files.path().join("risk.toml");
    std::fs::write(
        &risk_file,
        format!(
            "enterprise_id = \"{seaweed}\"\nname = \"烘干炉\"\nplace = \"烘干车间\"\n\
             posts = [\"烘干工\"]\naccident_types = [\"scald\", \"fire\"]\n\
             hazards = \"炉体高温、燃气泄漏\"\nassessment = {{ method = \"ls\", l = 3, s = 4 }}\n\
             [[measures]]\ntext = \"燃气管道加装泄漏报警\"\nowner = \"company\"\n"
        ),
    )
    .unwrap();
    let graded = anjian(
        manager.path(),
        &["risk", "assess", "--file", risk_file.to_str().unwrap()],
        "",
    )
    .await;
    assert!(
        says(&graded).contains("recorded risk point"),
        "{}",
        says(&graded)
    );
    let risk_id = listed(manager.path(), "risk", "烘干炉").await;
    assert!(
        says(&anjian(manager.path(), &["list", "--type", "risk"], "").await)
            .contains("yellow general v1 烘干炉")
    );
    let regraded_file = files.path().join("risk2.toml");
    std::fs::write(
        &regraded_file,
        std::fs::read_to_string(&risk_file)
            .unwrap()
            .replace("l = 3, s = 4", "l = 4, s = 5"),
    )
    .unwrap();
    let regraded = anjian(
        manager.path(),
        &[
            "risk",
            "assess",
            "--file",
            regraded_file.to_str().unwrap(),
            "--id",
            &risk_id,
        ],
        "",
    )
    .await;
    assert!(
        says(&regraded).contains("recorded risk point"),
        "{}",
        says(&regraded)
    );
    let synced = says(&anjian(manager.path(), &["sync"], "").await);
    assert!(
        synced.contains("2 events acknowledged (0 not applied)"),
        "{synced}"
    );
    assert!(
        says(&anjian(manager.path(), &["list", "--type", "risk"], "").await)
            .contains("red major v2 烘干炉")
    );
    // And publishes the post's risk-notice card (风险告知卡), which the team lead then reads
    // from the phone's own copy.
    let card_file = files.path().join("card.toml");
    std::fs::write(
        &card_file,
        format!(
            "enterprise_id = \"{seaweed}\"\npost = \"烘干工\"\ncard = \"risk_notice\"\n\
             risk_points = [\"{risk_id}\"]\n\
             [[sections]]\nheading = \"危险因素\"\nitems = [\"炉体高温\", \"燃气泄漏\"]\n\
             [[phones]]\nname = \"厂区值班室\"\nnumber = \"0513-88880000\"\n"
        ),
    )
    .unwrap();
    let published = anjian(
        manager.path(),
        &["card", "publish", "--file", card_file.to_str().unwrap()],
        "",
    )
    .await;
    assert!(
        says(&published).contains("recorded card"),
        "{}",
        says(&published)
    );
    let synced = says(&anjian(manager.path(), &["sync"], "").await);
    assert!(
        synced.contains("1 events acknowledged (0 not applied)"),
        "{synced}"
    );
    assert!(anjian(lead.path(), &["sync"], "").await.status.success());
    let shown = says(&anjian(lead.path(), &["card", "show", "--post", "烘干工"], "").await);
    assert!(
        shown.contains("岗位风险告知卡 · 烘干工 · 第 1 版") && shown.contains("2. 燃气泄漏"),
        "{shown}"
    );
    let hazard = listed(manager.path(), "hazard", "配电箱").await;
    // Rectifying a hazard not yet started records nothing, and says the steps.
    let early = anjian(
        manager.path(),
        &[
            "hazard",
            "rectify",
            &hazard,
            "--photo",
            after.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(!early.status.success());
    assert!(
        says(&early).contains("anjian hazard start"),
        "{}",
        says(&early)
    );
    let not_a_photo = files.path().join("notes.txt");
    std::fs::write(&not_a_photo, "现场记录").unwrap();
    let text = anjian(
        manager.path(),
        &[
            "hazard",
            "start",
            &hazard,
            "--photo",
            not_a_photo.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(says(&text).contains("JPEG, PNG or WebP"), "{}", says(&text));
    let started = anjian(manager.path(), &["hazard", "start", &hazard], "").await;
    assert!(started.status.success(), "{}", says(&started));
    let rectified = anjian(
        manager.path(),
        &[
            "hazard",
            "rectify",
            &hazard,
            "--photo",
            after.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(
        says(&rectified).contains("is now pending_acceptance"),
        "{}",
        says(&rectified)
    );
    assert!(anjian(manager.path(), &["sync"], "").await.status.success());
    let shown: serde_json::Value =
        serde_json::from_slice(&anjian(manager.path(), &["show", &hazard], "").await.stdout)
            .unwrap();
    assert_eq!(shown["local"]["body"]["state"], "pending_acceptance");
    assert_eq!(shown["server"]["missing_blobs"], serde_json::json!([]));
    assert_eq!(
        shown["server"]["blobs"].as_array().unwrap().len(),
        2,
        "before and after"
    );
    // Closing it is the inspector's: the manager's attempt records nothing and says why.
    // Sending it back without a note: the judgement's reason, not the command's.
    let reject = anjian(manager.path(), &["hazard", "reject", &hazard], "").await;
    assert!(!reject.status.success());
    assert!(says(&reject).contains("note-required"), "{}", says(&reject));
    let accept = anjian(manager.path(), &["hazard", "accept", &hazard], "").await;
    assert!(!accept.status.success());
    assert!(
        says(&accept).contains("was not recorded: not-permitted"),
        "{}",
        says(&accept)
    );
    let status = says(&anjian(manager.path(), &["status"], "").await);
    assert!(status.contains("pending events: 0"), "{status}");
    let unknown = anjian(manager.path(), &["hazard", "accept", "no-such-hazard"], "").await;
    assert!(!unknown.status.success());
    assert!(says(&unknown).contains("anjian sync"), "{}", says(&unknown));
}
