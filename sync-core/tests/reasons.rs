//! Every reason code the judgement and the client give has its sentence in `reasons::REASONS`,
//! and the table names no code nothing gives.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anjian_sync::reasons::REASONS;

/// The codes the kinds and the client refuse with, read from their source:
/// `Reject::conflict("code"`, `Reject::quarantine(` then `"code"` on the next line, and
/// `code: "code".into()`.
fn used_codes() -> std::io::Result<BTreeSet<String>> {
    let mut codes = BTreeSet::new();
    let mut stack = vec![PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
            continue;
        }
        let source_file = path.extension().is_some_and(|e| e == "rs");
        if !source_file || path.ends_with("tests.rs") || path.ends_with("reasons.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path)?;
        for marker in ["Reject::conflict(", "Reject::quarantine(", "code: "] {
            for (at, _) in source.match_indices(marker) {
                let rest = source[at + marker.len()..].trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    let code: String = quoted.chars().take_while(|c| *c != '"').collect();
                    if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    {
                        codes.insert(code);
                    }
                }
            }
        }
    }
    Ok(codes)
}

#[test]
fn every_reason_a_kind_gives_has_words_and_no_more() -> std::io::Result<()> {
    let used = used_codes()?;
    assert!(used.len() > 30, "the scan finds the codes: {used:?}");
    let known: BTreeSet<String> = REASONS.iter().map(|(code, _)| code.to_string()).collect();
    let missing: Vec<_> = used.difference(&known).collect();
    assert!(missing.is_empty(), "codes without words: {missing:?}");
    let unused: Vec<_> = known.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "words for codes nothing gives: {unused:?}"
    );
    assert_eq!(known.len(), REASONS.len(), "each code once");
    Ok(())
}
