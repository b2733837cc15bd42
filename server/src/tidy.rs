//! Tidy tests: the architecture invariants of `ARCHITECTURE.md` that can be read from the source
//! and the manifests, checked so that a change breaking one fails here rather than in review.

use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, with its code lines (comments dropped), skipping `except`.
fn sources(dir: &Path, except: &[&str]) -> Vec<(PathBuf, Vec<String>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if except.iter().any(|e| path.ends_with(e)) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text
                    .lines()
                    .map(str::trim_start)
                    .filter(|line| !line.starts_with("//"))
                    .map(str::to_string)
                    .collect();
                files.push((path, code));
            }
        }
    }
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    files
}

/// Fails naming every line under `dir` that mentions one of `words` as a path segment.
fn forbid(dir: &str, except: &[&str], words: &[&str], why: &str) {
    let mut found = Vec::new();
    for (path, lines) in sources(&root().join(dir), except) {
        for line in &lines {
            for word in words {
                let hit = line.match_indices(word).any(|(at, _)| {
                    let before = line[..at].chars().next_back();
                    let after = line[at + word.len()..].chars().next();
                    let boundary =
                        |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    boundary(before) && boundary(after)
                });
                if hit {
                    found.push(format!("{}: `{word}` in {line}", path.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{why}:\n{}", found.join("\n"));
}

#[test]
fn handlers_never_open_a_table() {
    forbid(
        "server/src/api",
        &[],
        &["redb", "open_table", "RedbStore"],
        "only the store knows redb; the API goes through the services",
    );
}

#[test]
fn services_and_the_store_know_nothing_of_http() {
    for dir in ["server/src/service", "server/src/store"] {
        forbid(
            dir,
            &[],
            &["poem", "poem_openapi", "hyper"],
            "only `api` and `connections` know the wire",
        );
    }
    forbid(
        "server/src/store",
        &[],
        &["service", "api"],
        "dependencies point one way: api → service → store",
    );
    forbid(
        "server/src/service",
        &["mod.rs"],
        &["api"],
        "dependencies point one way: api → service → store",
    );
}

#[test]
fn the_shared_part_of_sync_core_does_no_io() {
    forbid(
        "sync-core/src",
        &["client"],
        &[
            "tokio",
            "reqwest",
            "redb",
            "poem",
            "fs",
            "net",
            "env",
            "process",
            "SystemTime",
            "Instant",
            "stdin",
            "stdout",
            "getrandom",
        ],
        "the shared part of sync-core does no I/O and reads no clock",
    );
}

/// The names of the path dependencies of a manifest, in every dependency table, with their
/// features.
fn local_dependencies(manifest: &str) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join(manifest)).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut found = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = table.get(section).and_then(|d| d.as_table()) else {
            continue;
        };
        for (name, spec) in deps {
            if !name.starts_with("anjian") {
                continue;
            }
            let features = spec
                .get("features")
                .and_then(|f| f.as_array())
                .map(|f| {
                    f.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            found.push((name.clone(), features));
        }
    }
    found
}

#[test]
fn packages_depend_one_way() {
    assert_eq!(
        local_dependencies("sync-core/Cargo.toml"),
        vec![],
        "sync-core depends on no other package of ours, tests included"
    );
    let server = local_dependencies("server/Cargo.toml");
    assert_eq!(
        server,
        vec![("anjian-sync".to_string(), vec!["pack".to_string()])],
        "the server uses sync-core's shared part and its packed records, without the `client` feature"
    );
    let tests: Vec<String> = local_dependencies("tests/Cargo.toml")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        tests,
        vec!["anjian-server", "anjian-sync"],
        "no cycle through the test harness"
    );
}
