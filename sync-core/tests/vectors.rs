//! The shared vectors (`openapi/vectors.json`): what a client in another language must reproduce
//! byte for byte — the canonical encoding, hashes and signatures of signed event chains (every
//! kind, Unicode edge cases, key order, integer bounds), payloads that have no canonical form,
//! strings a device must refuse to log, derived ids, bucket digests, and the Chinese sentence
//! for every reason code.
//!
//! This test builds the corpus from the reference implementation and fails when the checked-in
//! file differs, so the file always says what the code does; `UPDATE_VECTORS=1` writes it. The
//! JavaScript SDK's tests read the same file.

#![allow(
    clippy::expect_used,
    reason = "the corpus is built by helpers that fail the test, with a message, on a bug"
)]

use anjian_sync::canonical::{MAX_DEPTH, MAX_SAFE_INTEGER, to_canonical};
use anjian_sync::entity::{BucketDigest, derived_id};
use anjian_sync::event::{
    Captured, DeviceKey, EVENT_VERSION, EventBody, GENESIS_HASH, MAX_BLOB_REFS, MAX_EVENT_BYTES,
    MAX_SEQ, canonical_bytes, parse_public_key,
};
use anjian_sync::judge::{KINDS, issue_id};
use anjian_sync::kinds::{grid, inspection, meeting, team};
use serde_json::{Value, json};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/vectors.json");

const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const PHOTO_2: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

/// The n-th fixed UUID of a family (`e` events, `a` entities, `d` devices): stable, lower case.
fn uuid(family: char, n: u32) -> String {
    format!("0192f3a0-0000-7000-8000-{:04x}{n:08x}", u32::from(family))
}

/// A payload for each kind, as a phone or the office would send it.
fn payload_of(kind: &str) -> (Value, Vec<String>, Option<String>, Option<u64>) {
    let none = |p: Value| (p, Vec::new(), None, None);
    match kind {
        "enterprise.save" => none(json!({
            "name": "海晟紫菜加工厂", "credit_code": "91350982MA2YQ1234X", "industry": "紫菜加工",
            "scale": "below", "grid_id": "shacheng", "address": "沙埕镇沙埕村1号",
            "location": {"lat_e6": 27_164_000, "lng_e6": 120_389_000},
            "contacts": [{"name": "刘建国", "phone": "13800000000", "role": "安全员"}],
            "risk_colour": "yellow", "flags": {"lpg": true, "dust": false}
        })),
        "grid.save" => none(json!({"code": "shacheng", "name": "沙埕村"})),
        "team.save" => none(json!({"enterprise_id": "e-seaweed-01", "code": "t1",
            "name": "烘干一班", "slots": ["pre_shift", "mid_shift", "handover"]})),
        "worker.save" => none(json!({"enterprise_id": "e-seaweed-01", "name": "黄小兰",
            "post": "烘干工", "team_id": "t1",
            "certificates": [{"kind": "电工作业", "number": "T350982199001011234", "expires": "2027-03-01"}]})),
        "meeting.submit" => (
            json!({"enterprise_id": "e-seaweed-01", "team_id": "t1", "date": "2026-12-01",
                "shift": "早班", "slot": "pre_shift", "host": "陈阿妹",
                "started_at_ms": 1_764_547_200_000_i64, "ended_at_ms": 1_764_547_560_000_i64,
                "place": "烘干车间",
                "attendance": [
                    {"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true},
                    {"name": "吴大海", "status": "late", "fit_for_duty": true, "ppe_ok": false}
                ],
                "topics": ["烘干炉温度控制，严禁超温"], "risks": ["高温烫伤"], "handover": []}),
            vec![PHOTO.into()],
            None,
            None,
        ),
        "briefing.record" => none(json!({"enterprise_id": "e-seaweed-01", "team_id": "t1",
            "date": "2026-12-01", "shift": "早班", "worker_id": "0192f3a0-0000-7000-8000-0000000000b7",
            "worker_name": "黄小兰", "post": "烘干工", "card_version": 3,
            "points": ["烘干炉超温的危害", "急停按钮的位置", "烫伤后用冷水冲洗15分钟"],
            "duration_s": 70, "started_at_ms": 1_764_546_900_000_i64})),
        "risk.assess" => none(json!({"enterprise_id": "e-seaweed-01", "name": "烘干炉",
            "place": "烘干车间", "posts": ["烘干工"], "accident_types": ["scald", "fire"],
            "hazards": "炉体高温、燃气泄漏", "assessment": {"method": "lec", "l_x10": 5, "e_x10": 60, "c": 15},
            "measures": [{"text": "燃气管道加装泄漏报警", "owner": "company"},
                {"text": "班前检查炉门密封", "owner": "team"}],
            "plan_point": {"x_permille": 420, "y_permille": 615}, "supersedes": 0})),
        "card.publish" => none(json!({"enterprise_id": "e-seaweed-01", "post": "烘干工",
            "card": "emergency", "version": 1, "risk_points": ["0192f3a0-0000-7000-8000-0000000000c1"],
            "sections": [{"heading": "燃气泄漏", "items": ["关闭总阀", "打开门窗，严禁开关电器", "撤离至上风向并报告"]}],
            "phones": [{"name": "火警", "number": "119"}]})),
        "commitment.sign" => (
            json!({"enterprise_id": "e-seaweed-01", "year": "2026", "principal": "刘建国",
                "pledges": ["严格落实安全生产主体责任", "每月组织一次隐患自查自改"], "signed_on": "2026-01-05"}),
            vec![PHOTO.into()],
            None,
            None,
        ),
        "notice.publish" => none(json!({"enterprise_id": "e-coldstore-01", "version": 1,
            "title": "液氨制冷系统重大安全风险公告", "risk_points": ["0192f3a0-0000-7000-8000-0000000000c2"],
            "body": "风险：液氨泄漏可致中毒、爆炸。\n措施：泄漏报警联锁排风。\n应急：向上风向撤离，拨打119。",
            "contact": "郑海波 13900000000", "public": true})),
        "notice.withdraw" => none(json!({"note": "制冷系统改用氟利昂，液氨已清空"})),
        "schedule.save" => none(json!({"enterprise_id": "e-seaweed-01", "team_id": "t1",
            "from": "2026-12-01", "shifts": ["早班", "夜班"], "slots": ["pre_shift", "handover"],
            "rest_weekdays": [7], "rest_days": ["2027-01-01"], "crew": 6, "supersedes": 0})),
        "floorplan.save" => (
            json!({"enterprise_id": "e-seaweed-01", "version": 1, "title": "厂区平面布置图", "image": PHOTO}),
            vec![PHOTO.into()],
            None,
            None,
        ),
        "risk.retire" => none(json!({"note": "烘干炉已拆除，改用热泵"})),
        "meeting.amend" => none(json!({"note": "补记到会人员", "changes": {"host": "黄小兰"}})),
        "hazard.report" => (
            json!({"enterprise_id": "e-seaweed-01", "grid_id": "shacheng", "level": "general",
                "description": "配电箱未接地 \"A区\"", "deadline": "2026-12-05",
                "location": {"lat_e6": 26_657_000, "lng_e6": 119_543_000}}),
            vec![PHOTO.into()],
            None,
            None,
        ),
        "hazard.transition" => (
            json!({"from": "rectifying", "to": "pending_acceptance", "note": "已重新接地"}),
            vec![PHOTO_2.into()],
            None,
            None,
        ),
        "hazard.deadline" => none(json!({"deadline": "2026-12-20", "note": "等待配件"})),
        "article.save" => (
            json!({"title": "冬季用电安全", "body": "第一段\n第二段", "column": "safety365",
                "cover": PHOTO, "images": [PHOTO_2]}),
            vec![PHOTO.into(), PHOTO_2.into()],
            None,
            Some(3),
        ),
        "article.submit" => (json!({}), Vec::new(), None, Some(4)),
        "article.review" => none(json!({"decision": "reject", "note": "请补充事故案例"})),
        "article.withdraw" => none(json!({"note": "内容已过时"})),
        "template.publish" => none(json!({"code": "small-enterprise", "version": 2,
        "title": "小微企业安全检查表",
        "sections": [{"title": "消防", "items": [
            {"code": "XF-01", "text": "灭火器在有效期内", "basis": "GB 50140", "method": "查看"}
        ]}]})),
        "inspection.submit" => (
            json!({"enterprise_id": "e-seaweed-01", "grid_id": "shacheng", "kind": "grid_patrol",
                "template": "small-enterprise", "template_version": 2,
                "inspectors": [{"name": "林检查"}, {"name": "王网格", "badge": "3509001"}],
                "started_at_ms": 1_764_550_000_000_i64, "ended_at_ms": 1_764_553_600_000_i64,
                "results": [{"item": "XF-01", "verdict": "fail", "note": "过期", "photos": [PHOTO]}],
                "summary": "发现隐患1处", "signature": PHOTO_2}),
            vec![PHOTO.into(), PHOTO_2.into()],
            Some("small-enterprise@2".into()),
            None,
        ),
        "inspection.amend" => {
            none(json!({"note": "更正检查结论", "changes": {"summary": "发现隐患2处"}}))
        }
        "issue.handle" => none(json!({"note": "已电话核实，以先到的为准"})),
        other => panic!("the vectors have no payload for `{other}`: add one"),
    }
}

/// Payloads that test the encoding itself.
fn encoding_cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "unicode: CJK, astral emoji (a surrogate pair in UTF-16), ZWJ sequence, combining mark",
            json!({"title": "隐患😀👨‍👩‍👧 e\u{301}", "body": "𠮷野家"}),
        ),
        (
            "unicode: control characters escaped as JSON.stringify does",
            json!({"title": "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}", "body": "\u{7f}\u{80}\u{9f}"}),
        ),
        (
            "unicode: quotes, backslash, slash, U+2028/2029, BOM and U+FFFF kept literal",
            json!({"title": "\"\\/</script>", "body": "\u{2028}\u{2029}\u{feff}\u{ffff}"}),
        ),
        (
            "key order: members sorted by key bytes, at every depth",
            json!({"b": 1, "B": 2, "_": 3, "a1": 4, "aa": 5, "a": 6, "A0": 7, "~": 8,
                "nested": {"z": [{"y": 1, "x": 2}], "a": {"d": null, "c": true}}}),
        ),
        (
            "integers at the bounds, zero and negatives",
            json!({"max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "zero": 0, "minus_one": -1,
                "ms": 1_764_547_200_000_i64}),
        ),
        (
            "empty values: strings, arrays, objects; booleans and null",
            json!({"s": "", "a": [], "o": {}, "t": true, "f": false, "n": null,
                "deep": [[[]], {"": ""}]}),
        ),
    ]
}

/// A body with fixed ids, chained after `prev`.
fn body(
    device: &str,
    seq: u64,
    prev: &str,
    kind: &str,
    payload: Value,
    blobs: Vec<String>,
) -> EventBody {
    EventBody {
        v: EVENT_VERSION,
        device_id: device.to_string(),
        seq,
        id: uuid('e', u32::try_from(seq).unwrap_or(0)),
        prev_hash: prev.to_string(),
        kind: kind.to_string(),
        entity_id: uuid('a', u32::try_from(seq).unwrap_or(0)),
        payload,
        blob_refs: blobs,
        template_ref: None,
        base_rev: None,
        captured: Captured {
            wall_ms: 1_764_547_200_000 + i64::try_from(seq).unwrap_or(0) * 60_000,
            tz_offset_min: 480,
        },
    }
}

/// One event of a chain to sign: its name in the vectors, kind, payload, photos, template and
/// base revision.
type Entry = (
    String,
    &'static str,
    Value,
    Vec<String>,
    Option<String>,
    Option<u64>,
);

/// One device's chain of signed events, as the vectors list them.
fn chain(key: &DeviceKey, device: &str, events: Vec<Entry>) -> Vec<Value> {
    let mut prev = GENESIS_HASH.to_string();
    let mut out = Vec::new();
    for (seq, (name, kind, payload, blobs, template_ref, base_rev)) in (1..).zip(events) {
        let mut b = body(device, seq, &prev, kind, payload, blobs);
        b.template_ref = template_ref;
        b.base_rev = base_rev;
        let canonical = String::from_utf8(canonical_bytes(&b).expect("encodable")).expect("UTF-8");
        let signed = key.sign(b).expect("signs");
        signed
            .verify(&parse_public_key(&key.public_hex()).expect("key"))
            .expect("verifies");
        prev = signed.hash.clone();
        out.push(json!({
            "name": name,
            "body": serde_json::to_value(&signed.body).expect("json"),
            "canonical": canonical,
            "hash": signed.hash,
            "sig": signed.sig,
        }));
    }
    out
}

fn corpus() -> Value {
    let keys = [[0x07_u8; 32], [0x2a_u8; 32]].map(DeviceKey::from_secret);
    let devices = [uuid('d', 1), uuid('d', 2)];
    let kinds: Vec<_> = KINDS
        .iter()
        .map(|kind| {
            let (payload, blobs, template_ref, base_rev) = payload_of(kind);
            (
                format!("kind {kind}"),
                *kind,
                payload,
                blobs,
                template_ref,
                base_rev,
            )
        })
        .collect();
    let encodings: Vec<_> = encoding_cases()
        .into_iter()
        .map(|(name, payload)| {
            (
                name.to_string(),
                "article.save",
                payload,
                Vec::new(),
                None,
                None,
            )
        })
        .collect();

    // `text_only`: refused as JSON text, but a language whose parsed numbers forget their
    // written form (JavaScript's `1e3` is `1000`) meets it only as text.
    let unencodable = [
        ("a fraction", r#"{"lat": 26.657}"#, "number", false),
        ("an exponent", r#"{"n": 1e3}"#, "number", true),
        ("2^53, one past the largest safe integer", r#"{"n": 9007199254740992}"#, "number", false),
        ("-(2^53)", r#"{"n": -9007199254740992}"#, "number", false),
        ("a key outside ASCII", r#"{"名称": "x"}"#, "key", false),
    ]
    .iter()
    .map(|(name, text, error, text_only)| {
        let value: Value = serde_json::from_str(text).expect("json");
        assert!(to_canonical(&value).is_err(), "{name} must not encode");
        json!({"name": name, "payload_json": text, "error": error, "text_only": text_only})
    })
    .chain(std::iter::once({
        let mut deep = json!(0);
        for _ in 0..=MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(to_canonical(&json!({ "d": deep })).is_err());
        let text = format!("{{\"d\": {}0{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        json!({"name": format!("nested deeper than {MAX_DEPTH} levels"), "payload_json": text, "error": "depth", "text_only": false})
    }))
    .collect::<Vec<_>>();

    // Strings no event may hold: JSON cannot carry them (a push that has one is unreadable), so a
    // device refuses to log them. As UTF-16 code units, since this file is JSON itself.
    let refused_strings = json!([
        {"name": "a lone high surrogate (an emoji cut in half)", "utf16": [0x68, 0xd83d]},
        {"name": "a lone low surrogate", "utf16": [0xde00, 0x61]},
        {"name": "a surrogate pair in the wrong order", "utf16": [0xde00, 0xd83d]},
    ]);

    let derived = json!([
        {"what": "grid", "parts": ["grid", "shacheng"], "id": grid::grid_id("shacheng")},
        {"what": "team", "parts": ["team", "e-seaweed-01", "t1"], "id": team::team_id("e-seaweed-01", "t1")},
        {"what": "meeting", "parts": ["meeting", "e-seaweed-01", "t1", "2026-12-01", "早班", "pre_shift"],
            "id": meeting::meeting_id("e-seaweed-01", "t1", "2026-12-01", "早班", meeting::Slot::PreShift)},
        {"what": "template", "parts": ["template", "small-enterprise", "2"], "id": inspection::template_id("small-enterprise", 2)},
        {"what": "sync issue", "parts": ["issue", devices[0], "7"], "id": issue_id(&devices[0], 7)},
    ]);
    for d in derived.as_array().expect("array") {
        let parts: Vec<&str> = d["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .map(|p| p.as_str().expect("text"))
            .collect();
        assert_eq!(d["id"], derived_id(&parts), "{d}");
    }

    // Bucket digests: a sequence of changes (add an entity at a revision; a later revision
    // removes the earlier one) and the count and digest after each.
    let mut digest = BucketDigest::default();
    let mut steps = Vec::new();
    let changes: [(&str, &str, u64); 6] = [
        ("add", "0192f3a0-0000-7000-8000-0000000000a1", 1),
        ("add", "0192f3a0-0000-7000-8000-0000000000a2", 2),
        ("remove", "0192f3a0-0000-7000-8000-0000000000a1", 1),
        ("add", "0192f3a0-0000-7000-8000-0000000000a1", 3),
        ("add", "issue-ids-are-uuids-but-any-text-digests", 4),
        ("remove", "0192f3a0-0000-7000-8000-0000000000a2", 2),
    ];
    for (op, id, rev) in changes {
        match op {
            "add" => digest.add(id, rev),
            _ => digest.remove(id, rev),
        }
        steps.push(json!({"op": op, "entity_id": id, "rev": rev,
            "count": digest.count, "digest": digest.digest_hex()}));
    }

    json!({
        "about": "Shared vectors of the Anjian sync protocol (openapi/PROTOCOL.md), written by sync-core/tests/vectors.rs from the reference implementation. Regenerate with UPDATE_VECTORS=1 cargo test -p anjian-sync --test vectors.",
        "limits": {
            "max_event_bytes": MAX_EVENT_BYTES,
            "max_blob_refs": MAX_BLOB_REFS,
            "max_seq": MAX_SEQ,
            "max_safe_integer": MAX_SAFE_INTEGER,
            "max_depth": MAX_DEPTH,
            "genesis_hash": GENESIS_HASH,
        },
        "keys": keys.iter().zip(&devices).map(|(k, d)| json!({
            "secret": hex::encode(k.secret()),
            "public": k.public_hex(),
            "device_id": d,
        })).collect::<Vec<_>>(),
        "chains": [
            {"key": 0, "events": chain(&keys[0], &devices[0], kinds)},
            {"key": 1, "events": chain(&keys[1], &devices[1], encodings)},
        ],
        "unencodable": unencodable,
        "refused_strings": refused_strings,
        "derived_ids": derived,
        "bucket_digest": steps,
        "entity_types": anjian_sync::judge::KINDS
            .iter()
            .map(|kind| {
                let of = anjian_sync::judge::entity_type_of(kind).map(|t| t.name());
                (kind.to_string(), json!(of))
            })
            .collect::<serde_json::Map<_, _>>(),
        "reasons": anjian_sync::reasons::REASONS
            .iter()
            .map(|(code, words)| (code.to_string(), json!(words)))
            .collect::<serde_json::Map<_, _>>(),
        "reason_fallback": anjian_sync::reasons::words("a-code-no-table-knows"),
    })
}

#[test]
fn the_checked_in_vectors_are_what_the_code_writes() {
    let written = serde_json::to_string_pretty(&corpus()).expect("json") + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(PATH, &written).expect("write the vectors");
        return;
    }
    let checked_in = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        checked_in == written,
        "openapi/vectors.json is not what the code writes: run UPDATE_VECTORS=1 cargo test -p anjian-sync --test vectors, and review the diff (a change to a hash or signature breaks every client)"
    );
}

#[test]
fn every_kind_is_in_the_vectors() {
    let corpus = corpus();
    let kinds: Vec<&str> = corpus["chains"][0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["body"]["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, KINDS);
}
