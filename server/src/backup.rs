//! Backups (备份) that restore: a consistent copy of the store, the blobs it knows, the office
//! device's key, and a manifest saying what they hold.
//!
//! A backup directory holds `anjian.redb` (every table copied from one read transaction, so the
//! copy is one moment of the store while writers carry on), `office.key`, `blobs/` (each photo
//! and its renditions, content-addressed, so a later backup into the same directory copies only
//! the new ones) and `manifest.json` (rows per table, every bucket digest, every blob and file
//! with its sha256), written last: a directory without a manifest is not a backup.
//!
//! While the server runs it holds the store, so a backup is made by the server: `anjian-server
//! backup --to DIR` asks it over the control socket in its data directory (`control.sock`,
//! reachable by the data directory's owner only), or makes the backup itself when no server
//! runs. `verify-backup` checks a backup against its manifest; `restore` verifies, then copies
//! it into an empty data directory. Devices fill in what an older backup lacks: their next push
//! meets `gap` and sends their events again, and photos the store lacks are asked for again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::store::RedbStore;
use crate::store::snapshot::{self, Contents};

/// The manifest's format.
pub const MANIFEST_FORMAT: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The store's file name in a backup.
pub const STORE: &str = "anjian.redb";
/// The office key's file name, in a backup as in the data directory.
pub const OFFICE_KEY: &str = "office.key";
/// The control socket's file name in the data directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// A file of the backup: where, how long, its sha256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSum {
    /// Path inside the backup directory, `/`-separated.
    pub path: String,
    /// Bytes.
    pub bytes: u64,
    /// sha256, hex.
    pub sha256: String,
}

/// A blob and its files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobEntry {
    /// Its sha256 (the original's).
    pub sha256: String,
    /// The original and its renditions (thumbnails).
    pub files: Vec<FileSum>,
}

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// When it was made, ms since the epoch.
    pub created_at_ms: i64,
    /// The server that made it.
    pub server_version: String,
    /// The store file.
    pub store: FileSum,
    /// The office device's key.
    pub office_key: Option<FileSum>,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Every bucket's digest, hex.
    pub bucket_digests: BTreeMap<String, String>,
    /// Every blob.
    pub blobs: Vec<BlobEntry>,
}

impl Manifest {
    /// One line for people: what the backup holds.
    pub fn summary(&self) -> String {
        use crate::store::tables::{ENTITIES, ENTITIES_0, ENTITIES_1, EVENTS, EVENTS_0};
        use redb::TableHandle as _;
        // A backup of an earlier format names its tables as that format did.
        let rows = |tables: &[&str]| tables.iter().find_map(|t| self.tables.get(*t).copied());
        let records = rows(&[ENTITIES.name(), ENTITIES_1.name(), ENTITIES_0.name()]).unwrap_or(0);
        let events = rows(&[EVENTS.name(), EVENTS_0.name()]).unwrap_or(0);
        let bytes: u64 = self
            .blobs
            .iter()
            .flat_map(|b| &b.files)
            .map(|f| f.bytes)
            .sum();
        format!(
            "{records} records, {events} events, {} buckets, {} photos ({} MB with their renditions), store {} MB",
            self.bucket_digests.len(),
            self.blobs.len(),
            bytes / 1_000_000,
            self.store.bytes / 1_000_000
        )
    }
}

/// Why a backup, a check or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be copied or read.
    #[error("the store: {0}")]
    Store(String),
    /// The backup does not match its manifest.
    #[error("the backup at {dir} does not match its manifest: {}", .problems.join("; "))]
    Mismatch {
        /// The backup.
        dir: String,
        /// What differs.
        problems: Vec<String>,
    },
    /// Not what the command needs.
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The sha256 and length of what `read` yields, read in pieces; each piece also goes to `copy`.
fn sum_of_reader(
    path: &Path,
    mut read: impl Read,
    mut copy: impl FnMut(&[u8]) -> Result<(), BackupError>,
) -> Result<(String, u64), BackupError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = read.read(&mut buffer).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        copy(&buffer[..n])?;
        bytes += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// The sha256 and length of the file at `path`.
fn sum_of(path: &Path) -> Result<(String, u64), BackupError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    sum_of_reader(path, file, |_| Ok(()))
}

/// Copies `from` to `to` whole or not at all (a temporary name, synced, renamed), keeping its
/// permissions, and returns the sha256 and length of what was copied, read once. The directory
/// `to` is in is noted in `dirs`, to be synced once at the end ([`sync_dirs`]).
fn copy_file(
    from: &Path,
    to: &Path,
    dirs: &mut BTreeSet<PathBuf>,
) -> Result<(String, u64), BackupError> {
    let parent = to
        .parent()
        .ok_or_else(|| BackupError::Refused(format!("{} has no directory", to.display())))?;
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = parent.join(format!(
        ".{}.part",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let source = std::fs::File::open(from).map_err(io(from))?;
    let permissions = source.metadata().map_err(io(from))?.permissions();
    let mut target = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let sum = sum_of_reader(from, source, |piece| {
        target.write_all(piece).map_err(io(&tmp))
    })?;
    target.set_permissions(permissions).map_err(io(&tmp))?;
    target.sync_all().map_err(io(&tmp))?;
    drop(target);
    std::fs::rename(&tmp, to).map_err(io(to))?;
    dirs.insert(parent.to_path_buf());
    Ok(sum)
}

/// Syncs each directory in `dirs`, so the files renamed into them stay after a power cut.
fn sync_dirs(dirs: &BTreeSet<PathBuf>) -> Result<(), BackupError> {
    dirs.iter().try_for_each(|dir| sync_dir(dir))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// The blob files of `sha256` under `blob_dir` (`objects/` and `renditions/`), as paths relative
/// to it.
fn blob_files(blob_dir: &Path, sha256: &str, extension: &str) -> Result<Vec<String>, BackupError> {
    let prefix = sha256.get(..2).unwrap_or("00");
    let mut files = vec![format!("objects/{prefix}/{sha256}.{extension}")];
    let renditions = blob_dir.join("renditions").join(prefix);
    if renditions.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&renditions)
            .map_err(io(&renditions))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
            .filter(|name| name.starts_with(&format!("{sha256}-")) && name.ends_with(".jpg"))
            .collect();
        names.sort();
        files.extend(
            names
                .into_iter()
                .map(|name| format!("renditions/{prefix}/{name}")),
        );
    }
    Ok(files)
}

/// Backs up the store held by a running server (`store`) and the files of `settings`' data
/// directory into `to`, created if missing. Blobs a backup in `to` already holds are kept.
pub fn backup(store: &RedbStore, settings: &Settings, to: &Path) -> Result<Manifest, BackupError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // It holds password hashes and the office key, as the data directory does.
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).map_err(io(to))?;
    }
    // The files an earlier backup here holds, by path: blob files are named by their content,
    // so one of the length that backup recorded is kept without being read again.
    let earlier: HashMap<String, FileSum> = manifest(to)
        .map(|m| {
            m.blobs
                .into_iter()
                .flat_map(|b| b.files)
                .map(|f| (f.path.clone(), f))
                .collect()
        })
        .unwrap_or_default();
    // The manifest goes first, so an interrupted backup is never taken for a whole one.
    let manifest_path = to.join(MANIFEST);
    match std::fs::remove_file(&manifest_path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(&manifest_path)(err)),
    }
    let part = to.join(format!(".{STORE}.part"));
    match std::fs::remove_file(&part) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(&part)(err)),
    }
    let contents = store
        .snapshot_to(&part)
        .map_err(|err| BackupError::Store(err.to_string()))?;
    std::fs::File::open(&part)
        .and_then(|f| f.sync_all())
        .map_err(io(&part))?;

    // The blobs the snapshot knows: their files are written before the store records them.
    let blob_dir = settings.blob_dir();
    let mut dirs = BTreeSet::new();
    let mut blobs = Vec::with_capacity(contents.blobs.len());
    for meta in &contents.blobs {
        let mut files = Vec::new();
        for relative in blob_files(
            &blob_dir,
            &meta.sha256,
            crate::service::blobs::extension(&meta.media_type),
        )? {
            let path = format!("blobs/{relative}");
            let target = to.join("blobs").join(&relative);
            let held = earlier.get(&path).filter(|held| {
                std::fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == held.bytes)
            });
            if let Some(held) = held {
                files.push(held.clone());
                continue;
            }
            let (sha256, bytes) = copy_file(&blob_dir.join(&relative), &target, &mut dirs)?;
            files.push(FileSum {
                path,
                bytes,
                sha256,
            });
        }
        blobs.push(BlobEntry {
            sha256: meta.sha256.clone(),
            files,
        });
    }
    let key = settings.data_dir.join(OFFICE_KEY);
    let office_key = if key.is_file() {
        let (sha256, bytes) = copy_file(&key, &to.join(OFFICE_KEY), &mut dirs)?;
        Some(FileSum {
            path: OFFICE_KEY.to_string(),
            bytes,
            sha256,
        })
    } else {
        None
    };
    std::fs::rename(&part, to.join(STORE)).map_err(io(to))?;
    dirs.insert(to.to_path_buf());
    sync_dirs(&dirs)?;
    let (sha256, bytes) = sum_of(&to.join(STORE))?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        created_at_ms: crate::store::model::UnixMillis::now().0,
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        store: FileSum {
            path: STORE.to_string(),
            bytes,
            sha256,
        },
        office_key,
        tables: contents.tables,
        bucket_digests: contents.bucket_digests,
        blobs,
    };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|err| BackupError::Refused(format!("the manifest: {err}")))?;
    let tmp = to.join(format!(".{MANIFEST}.part"));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(&text).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &manifest_path).map_err(io(&manifest_path))?;
    sync_dir(to)?;
    Ok(manifest)
}

/// Reads a backup's manifest.
pub fn manifest(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            BackupError::Refused(format!(
                "{} holds no {MANIFEST}: it is not a backup, or its making was cut short",
                dir.display()
            ))
        } else {
            io(&path)(err)
        }
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|err| BackupError::Refused(format!("{} cannot be read: {err}", path.display())))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(BackupError::Refused(format!(
            "{} is of format {}, this server reads format {MANIFEST_FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    Ok(manifest)
}

/// A manifest's path inside `dir`, refused if it would leave the directory.
fn inside(dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "the manifest names a file outside the backup: {relative}"
        ));
    }
    Ok(dir.join(path))
}

/// Checks every file of the backup at `dir` against its manifest, and what its store holds
/// (rows per table, bucket digests, blobs) against what the manifest says; returns the manifest.
pub fn verify(dir: &Path) -> Result<Manifest, BackupError> {
    let manifest = manifest(dir)?;
    let mut problems = Vec::new();
    let check = |file: &FileSum, problems: &mut Vec<String>| match inside(dir, &file.path) {
        Err(problem) => problems.push(problem),
        Ok(path) if !path.is_file() => problems.push(format!("{} is missing", file.path)),
        Ok(path) => match sum_of(&path) {
            Ok((sha256, bytes)) if sha256 == file.sha256 && bytes == file.bytes => {}
            Ok(_) => problems.push(format!("{} is not the file the manifest names", file.path)),
            Err(err) => problems.push(err.to_string()),
        },
    };
    check(&manifest.store, &mut problems);
    if let Some(key) = &manifest.office_key {
        check(key, &mut problems);
    }
    for blob in &manifest.blobs {
        for file in &blob.files {
            check(file, &mut problems);
        }
        // The original's name is its content's hash.
        if blob.files.first().map(|f| f.sha256.as_str()) != Some(blob.sha256.as_str()) {
            problems.push(format!("photo {} is not its own content", blob.sha256));
        }
    }
    if problems.is_empty() {
        match snapshot::contents(&dir.join(STORE)) {
            Ok(Contents {
                tables,
                bucket_digests,
                blobs,
            }) => {
                if tables != manifest.tables {
                    problems
                        .push("the store's tables do not hold the rows the manifest counts".into());
                }
                if bucket_digests != manifest.bucket_digests {
                    problems.push("the store's bucket digests are not the manifest's".into());
                }
                let mut known: Vec<&str> = blobs.iter().map(|b| b.sha256.as_str()).collect();
                let mut listed: Vec<&str> =
                    manifest.blobs.iter().map(|b| b.sha256.as_str()).collect();
                known.sort_unstable();
                listed.sort_unstable();
                if known != listed {
                    problems.push("the store knows other photos than the manifest lists".into());
                }
            }
            Err(err) => problems.push(format!("the store cannot be read: {err}")),
        }
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(BackupError::Mismatch {
            dir: dir.display().to_string(),
            problems,
        })
    }
}

/// Restores the backup at `from` into `settings`' data directory, which must hold no store:
/// verified first, then copied. The server is started on it afterwards.
pub fn restore(from: &Path, settings: &Settings) -> Result<Manifest, BackupError> {
    let manifest = verify(from)?;
    let target = settings.database_path();
    if target.exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a store: restore into an empty data directory",
            settings.data_dir.display()
        )));
    }
    std::fs::create_dir_all(&settings.data_dir).map_err(io(&settings.data_dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&settings.data_dir))?;
    }
    let blob_dir = settings.blob_dir();
    let mut dirs = BTreeSet::new();
    for blob in &manifest.blobs {
        for file in &blob.files {
            let relative = file.path.strip_prefix("blobs/").unwrap_or(&file.path);
            let source = inside(from, &file.path).map_err(BackupError::Refused)?;
            let target = inside(&blob_dir, relative).map_err(BackupError::Refused)?;
            copy_file(&source, &target, &mut dirs)?;
        }
    }
    if let Some(key) = &manifest.office_key {
        let source = inside(from, &key.path).map_err(BackupError::Refused)?;
        copy_file(&source, &settings.data_dir.join(OFFICE_KEY), &mut dirs)?;
    }
    sync_dirs(&dirs)?;
    // The store last: until it is there, the directory is not a server's.
    copy_file(&from.join(STORE), &target, &mut dirs)?;
    sync_dirs(&dirs)?;
    Ok(manifest)
}

/// A request on the control socket: one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    /// Back up into this directory (absolute).
    pub backup: PathBuf,
}

/// The answer: one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlAnswer {
    /// Whether it was done.
    pub ok: bool,
    /// What was done, or why not.
    pub message: String,
}

/// The longest request line read on the control socket.
const MAX_CONTROL_LINE: usize = 4096;

/// Serves the control socket of `settings`' data directory until the task is dropped: one
/// request a connection, one backup at a time.
#[cfg(unix)]
pub async fn serve_control(store: std::sync::Arc<RedbStore>, settings: Settings) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    let path = settings.data_dir.join(CONTROL_SOCKET);
    // A socket left by a server that was killed: the store's lock says no other server runs.
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "no control socket: `anjian-server backup` cannot reach this server");
            return;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(err) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(error = %err, "cannot restrict the control socket; closing it");
            return;
        }
    }
    let busy = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (store, settings, busy) = (store.clone(), settings.clone(), busy.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read.take(MAX_CONTROL_LINE as u64));
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                reader.read_line(&mut line),
            )
            .await;
            let answer = match (read, serde_json::from_str::<ControlRequest>(&line)) {
                (Ok(Ok(_)), Ok(request)) => {
                    let Ok(_turn) = busy.try_lock() else {
                        let answer = ControlAnswer {
                            ok: false,
                            message: "a backup is already running; try again when it ends".into(),
                        };
                        let _ = reply(&mut write, &answer).await;
                        return;
                    };
                    run_backup(store, settings, request.backup).await
                }
                _ => ControlAnswer {
                    ok: false,
                    message: format!(
                        "send one JSON line of at most {MAX_CONTROL_LINE} bytes: {{\"backup\": \"/absolute/dir\"}}"
                    ),
                },
            };
            let _ = reply(&mut write, &answer).await;
        });
    }

    async fn reply(
        write: &mut tokio::net::unix::OwnedWriteHalf,
        answer: &ControlAnswer,
    ) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(answer).unwrap_or_default();
        line.push(b'\n');
        write.write_all(&line).await?;
        write.shutdown().await
    }
}

/// Backs up the running server's store into `to`, logging the outcome.
pub async fn run_backup(
    store: std::sync::Arc<RedbStore>,
    settings: Settings,
    to: PathBuf,
) -> ControlAnswer {
    if !to.is_absolute() {
        return ControlAnswer {
            ok: false,
            message: format!("{} is not an absolute path", to.display()),
        };
    }
    let started = std::time::Instant::now();
    let target = to.clone();
    let done = tokio::task::spawn_blocking(move || backup(&store, &settings, &target)).await;
    match done {
        Ok(Ok(manifest)) => {
            let summary = manifest.summary();
            tracing::info!(to = %to.display(), seconds = started.elapsed().as_secs_f64(), %summary, "backup made");
            ControlAnswer {
                ok: true,
                message: format!("backed up into {}: {summary}", to.display()),
            }
        }
        Ok(Err(err)) => {
            tracing::error!(to = %to.display(), error = %err, "backup failed");
            ControlAnswer {
                ok: false,
                message: format!("the backup failed: {err}"),
            }
        }
        Err(err) => ControlAnswer {
            ok: false,
            message: format!("the backup stopped: {err}"),
        },
    }
}

/// Asks the server running on `data_dir` to back up into `to` (absolute), over its control
/// socket; `Ok(None)` when no server listens there.
#[cfg(unix)]
pub async fn ask_server(data_dir: &Path, to: &Path) -> Result<Option<ControlAnswer>, BackupError> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    let path = data_dir.join(CONTROL_SOCKET);
    let mut stream = match tokio::net::UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(io(&path)(err)),
    };
    let mut line = serde_json::to_vec(&ControlRequest {
        backup: to.to_path_buf(),
    })
    .map_err(|err| BackupError::Refused(err.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line).await.map_err(io(&path))?;
    let mut answer = String::new();
    tokio::io::BufReader::new(stream.take(1 << 20))
        .read_line(&mut answer)
        .await
        .map_err(io(&path))?;
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(|err| BackupError::Refused(format!("the server's answer cannot be read: {err}")))
}
