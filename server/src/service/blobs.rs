//! Photos and other blobs (照片): resumable uploads, the content-addressed store, and who may
//! read what.
//!
//! # On disk
//! Under the blob directory: `objects/<aa>/<sha256>.<ext>` holds each original, byte for byte
//! (the evidence); `renditions/<aa>/<sha256>-<name>.jpg` its derived images (thumbnails, the
//! public rendition); `uploads/<id>` the bytes of each unfinished upload; `tmp/` files being
//! written. Every file is written under `tmp/`, synced, then renamed into place, so a crash
//! leaves either the whole file or none. A blob exists once its entry is committed in the store,
//! after its files are in place.
//!
//! # Arriving
//! An upload is created with the file's length and sha256 and filled by appends at the offset
//! the server holds (a tus 1.0 subset: creation, checksum, expiration), or sent whole as one
//! multipart form. When the last byte is in, the whole file's sha256 is checked, the image is
//! inspected (format, size, EXIF) and decoded under limits, its list thumbnail is made, and only
//! then does the blob exist; any failure stores nothing. The larger views (the phone view, the
//! public rendition) are made from the original when first asked for, under the same bound on
//! decodes at once, and kept. A file whose blob already exists is not
//! stored again.
//!
//! # Reading
//! Possession, not knowledge, grants reading: naming a photo's hash grants nothing. A blob may
//! be read by the user who uploaded it, and by a user who can see an entity citing it (one of
//! the entity's buckets is among the user's) — when that citation is *held*: the user whose
//! event brought it into the entity had uploaded the photo, or could already read it (see
//! `store::Citer`). So citing someone else's photo, in an event applied, quarantined or in
//! conflict, lets no one read anything new. A blob a published article cites by a held
//! citation may be read by anyone, as its public rendition: upright, at most 2048 pixels a
//! side, without EXIF. No one else learns whether it exists.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::accounts::Caller;
use super::images::{self, ImageError, ImageLimits, Inspected, Rendition};
use crate::config::BlobSettings;
use crate::store::model::{BlobMeta, UnixMillis, Upload};
use crate::store::{BlobStore, StoreError, reads_through};
use anjian_sync::entity::PUBLIC;

/// A derived image of a photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The original file, as uploaded.
    Original,
    /// A thumbnail for lists: at most 320 pixels a side.
    Small,
    /// A view for phones: at most 1280 pixels a side.
    Large,
}

const SMALL: Rendition = Rendition {
    max_side: 320,
    quality: 80,
};
/// The file name of the list thumbnail, the one rendition made when a photo arrives.
const SMALL_NAME: &str = "small";
const LARGE: Rendition = Rendition {
    max_side: 1280,
    quality: 85,
};
const PUBLIC_RENDITION: Rendition = Rendition {
    max_side: 2048,
    quality: 88,
};

/// What can go wrong with a blob or an upload.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No such blob, or the caller may not see it.
    #[error("no photo with this sha256 that you may see (照片不存在或无权查看)")]
    NotFound,
    /// No such upload, or not the caller's.
    #[error("no unfinished upload with this id of yours; create a new one with POST /v1/uploads")]
    UploadNotFound,
    /// The upload expired and was dropped.
    #[error("the upload expired and was dropped; create a new one with POST /v1/uploads")]
    UploadExpired,
    /// A request value is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The header or field.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The file is larger than the limit.
    #[error("the file is {length} bytes, over the {limit}-byte limit; send a smaller photo")]
    TooLarge {
        /// Its length.
        length: u64,
        /// The limit.
        limit: u64,
    },
    /// The append does not start where the upload stands.
    #[error(
        "the upload holds {actual} bytes, not the {sent} this request starts at; ask for the offset (HEAD) and continue from there"
    )]
    OffsetMismatch {
        /// Where the upload stands.
        actual: u64,
        /// Where the request started.
        sent: u64,
    },
    /// More bytes than the upload's length.
    #[error("the request carries bytes beyond the upload's length of {length}; nothing was kept")]
    Overrun {
        /// The upload's length.
        length: u64,
    },
    /// Another request is appending to the same upload.
    #[error(
        "another request is still writing this upload; wait a moment, ask for the offset (HEAD) and continue"
    )]
    Busy,
    /// The chunk's checksum does not match (`Upload-Checksum`).
    #[error(
        "the chunk's sha256 does not match Upload-Checksum; nothing of it was kept, send it again"
    )]
    ChecksumMismatch,
    /// The whole file's sha256 is not the one the upload was created with.
    #[error(
        "the file's sha256 is {actual}, not the {expected} it was announced with; nothing was stored, upload the file again"
    )]
    HashMismatch {
        /// Announced.
        expected: String,
        /// Found.
        actual: String,
    },
    /// Not an acceptable image.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The user has too many unfinished uploads.
    #[error(
        "you have {0} unfinished uploads; finish them or wait for them to expire before starting more"
    )]
    TooManyUploads(usize),
    /// Unfinished uploads together reserve as much disk as the server allows.
    #[error(
        "the server holds as many unfinished uploads as it has room for; try again later (服务器上传已满)"
    )]
    AtCapacity,
    /// The request body broke off before its end (a lost connection).
    #[error("the request broke off ({0}); ask for the offset (HEAD) and continue from there")]
    BrokenOff(String),
    /// The store or the disk failed.
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<StoreError> for BlobError {
    fn from(err: StoreError) -> BlobError {
        BlobError::Storage(err.to_string())
    }
}

impl From<std::io::Error> for BlobError {
    fn from(err: std::io::Error) -> BlobError {
        BlobError::Storage(err.to_string())
    }
}

/// The outcome of creating an upload.
#[derive(Debug)]
pub enum Created {
    /// The blob is already stored: nothing needs sending.
    Exists(BlobMeta),
    /// A new upload, to be filled.
    Upload(Upload),
}

/// The outcome of an append.
#[derive(Debug)]
pub struct Appended {
    /// Bytes the upload now holds.
    pub offset: u64,
    /// The blob, when this append completed the file.
    pub blob: Option<BlobMeta>,
}

/// How a caller may see a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// The file itself: an entity citing it is in one of the caller's buckets.
    Whole,
    /// As the public does: a published article cites it.
    Public,
}

/// A file to send: its path and media type.
#[derive(Debug)]
pub struct Served {
    /// Where it is.
    pub path: PathBuf,
    /// Its media type.
    pub media_type: String,
    /// Whether the caller sees it only as the public does (the public rendition).
    pub public: bool,
}

/// The blob service.
#[derive(Debug)]
pub struct Blobs {
    store: Arc<dyn BlobStore>,
    paths: Paths,
    settings: BlobSettings,
    decode: Arc<Semaphore>,
    busy: Mutex<HashSet<Uuid>>,
}

/// Whether `s` names a blob: a sha256 in lower-case hex.
pub fn is_sha256(s: &str) -> bool {
    anjian_sync::event::is_sha256_hex(s)
}

impl Blobs {
    /// The service over the blob directory `dir`, which it lays out if needed.
    pub fn new(
        store: Arc<dyn BlobStore>,
        dir: &Path,
        settings: BlobSettings,
    ) -> Result<Blobs, BlobError> {
        for sub in ["objects", "renditions", "uploads", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Blobs {
            store,
            paths: Paths {
                dir: dir.to_path_buf(),
            },
            decode: Arc::new(Semaphore::new(settings.decode_concurrency)),
            settings,
            busy: Mutex::new(HashSet::new()),
        })
    }

    /// The largest file accepted.
    pub fn max_bytes(&self) -> u64 {
        self.settings.max_bytes
    }

    fn limits(&self) -> ImageLimits {
        ImageLimits {
            max_side: self.settings.max_image_side,
            max_pixels: self.settings.max_image_pixels,
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|err| BlobError::Storage(format!("a storage task failed: {err}")))?
    }

    /// Runs image work on a blocking thread, at most `decode_concurrency` at once.
    async fn decoding<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        let permit = self
            .decode
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| BlobError::Storage("the server is stopping".into()))?;
        self.blocking(move || {
            let _permit = permit;
            work()
        })
        .await
    }

    /// The blob with this sha256, to anyone signed in (it says only that the server holds it).
    pub async fn exists(&self, sha256: &str) -> Result<BlobMeta, BlobError> {
        check_sha256("sha256", sha256)?;
        let store = self.store.clone();
        let sha256 = sha256.to_string();
        self.blocking(move || store.blob(&sha256)?.ok_or(BlobError::NotFound))
            .await
    }

    /// Creates an upload of `length` bytes with this sha256 — or, when the blob is already
    /// stored, says so and creates nothing.
    pub async fn create_upload(
        &self,
        caller: &Caller,
        length: u64,
        sha256: &str,
    ) -> Result<Created, BlobError> {
        check_sha256("Upload-Metadata sha256", sha256)?;
        if length == 0 {
            return Err(BlobError::Invalid {
                field: "Upload-Length",
                message: "Upload-Length must be at least 1: an empty file is not a photo".into(),
            });
        }
        if length > self.settings.max_bytes {
            return Err(BlobError::TooLarge {
                length,
                limit: self.settings.max_bytes,
            });
        }
        let store = self.store.clone();
        let now = UnixMillis::now();
        let upload = Upload {
            id: Uuid::now_v7(),
            sha256: sha256.to_string(),
            length,
            user_id: caller.user.id,
            created_at: now,
            expires_at: now.plus(Duration::from_secs(self.settings.upload_ttl_secs)),
        };
        let path = self.paths.upload(upload.id);
        let max = self.settings.max_uploads_per_user;
        let capacity = self.settings.max_reserved_upload_bytes;
        self.blocking(move || {
            if let Some(blob) = store.blob(&upload.sha256)? {
                return Ok(Created::Exists(blob));
            }
            let unfinished: Vec<Upload> = store
                .uploads()?
                .into_iter()
                .filter(|u| u.expires_at > now)
                .collect();
            let open = unfinished
                .iter()
                .filter(|u| u.user_id == upload.user_id)
                .count();
            if open >= max {
                return Err(BlobError::TooManyUploads(open));
            }
            let reserved = unfinished
                .iter()
                .fold(0u64, |sum, u| sum.saturating_add(u.length));
            if reserved.saturating_add(upload.length) > capacity {
                return Err(BlobError::AtCapacity);
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            store.put_upload(&upload)?;
            Ok(Created::Upload(upload))
        })
        .await
    }

    /// The caller's upload and the bytes it holds.
    pub async fn upload(&self, caller: &Caller, id: Uuid) -> Result<(Upload, u64), BlobError> {
        let store = self.store.clone();
        let user = caller.user.id;
        let path = self.paths.upload(id);
        self.blocking(move || {
            let upload = store
                .upload(id)?
                .filter(|u| u.user_id == user)
                .ok_or(BlobError::UploadNotFound)?;
            if upload.expires_at <= UnixMillis::now() {
                store.remove_upload(id)?;
                let _ = std::fs::remove_file(&path);
                return Err(BlobError::UploadExpired);
            }
            let offset = std::fs::metadata(&path)
                .map_err(|_| BlobError::UploadNotFound)?
                .len();
            Ok((upload, offset))
        })
        .await
    }

    /// Appends `body` to the caller's upload at `offset`. With `checksum` (`sha256 <base64>`),
    /// the chunk is kept only if it matches; without, whatever arrives is kept, even if the
    /// request is cut off, so the next append continues from there. The append that completes
    /// the file makes the blob.
    pub async fn append(
        &self,
        caller: &Caller,
        id: Uuid,
        offset: u64,
        checksum: Option<&str>,
        body: impl tokio::io::AsyncRead + Unpin + Send,
    ) -> Result<Appended, BlobError> {
        let expected = checksum.map(parse_checksum).transpose()?;
        let _guard = BusyGuard::take(&self.busy, id).ok_or(BlobError::Busy)?;
        let (upload, actual) = self.upload(caller, id).await?;
        if actual != offset {
            return Err(BlobError::OffsetMismatch {
                actual,
                sent: offset,
            });
        }
        let path = self.paths.upload(id);
        let room = upload.length - offset;
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await?;
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut reader = body;
        let mut buffer = vec![0u8; 64 * 1024];
        let outcome: Result<(), BlobError> = loop {
            let read = match tokio::io::AsyncReadExt::read(&mut reader, &mut buffer).await {
                Ok(0) => break Ok(()),
                Ok(read) => read,
                Err(err) => break Err(BlobError::BrokenOff(err.to_string())),
            };
            if written + read as u64 > room {
                break Err(BlobError::Overrun {
                    length: upload.length,
                });
            }
            if let Err(err) = file.write_all(&buffer[..read]).await {
                break Err(err.into());
            }
            hasher.update(&buffer[..read]);
            written += read as u64;
        };
        let keep = match (&outcome, &expected) {
            (Err(BlobError::Overrun { .. }), _) => false,
            (Err(_), Some(_)) => false,
            (Ok(()), Some(expected)) => hasher.finalize().as_slice() == expected.as_slice(),
            _ => true,
        };
        file.flush().await?;
        if !keep {
            file.set_len(offset).await?;
        }
        file.sync_data().await?;
        drop(file);
        outcome?;
        if !keep {
            return Err(BlobError::ChecksumMismatch);
        }
        let offset = offset + written;
        if offset < upload.length {
            return Ok(Appended { offset, blob: None });
        }
        let result = self
            .ingest(path.clone(), upload.sha256.clone(), upload.user_id)
            .await;
        let store = self.store.clone();
        self.blocking(move || {
            store.remove_upload(id)?;
            Ok(())
        })
        .await?;
        let _ = tokio::fs::remove_file(&path).await;
        Ok(Appended {
            offset,
            blob: Some(result?),
        })
    }

    /// Stores a whole file sent at once (a multipart form): `file` is read to a temporary file
    /// and made a blob as the last append of an upload would. Says whether it is new: a file the
    /// server holds is not read or stored again.
    pub async fn put_whole(
        &self,
        caller: &Caller,
        sha256: &str,
        mut file: impl tokio::io::AsyncRead + Unpin,
    ) -> Result<(BlobMeta, bool), BlobError> {
        check_sha256("sha256", sha256)?;
        if let Ok(blob) = self.exists(sha256).await {
            return Ok((blob, false));
        }
        let path = self
            .paths
            .dir
            .join("tmp")
            .join(format!("form-{}", Uuid::now_v7()));
        let copied = async {
            let mut out = tokio::fs::File::create(&path).await?;
            let limit = self.settings.max_bytes;
            let copied = tokio::io::copy(
                &mut tokio::io::AsyncReadExt::take(&mut file, limit + 1),
                &mut out,
            )
            .await?;
            out.flush().await?;
            Ok::<u64, std::io::Error>(copied)
        }
        .await;
        let result = match copied {
            Ok(length) if length > self.settings.max_bytes => Err(BlobError::TooLarge {
                length,
                limit: self.settings.max_bytes,
            }),
            Ok(0) => Err(BlobError::Invalid {
                field: "file",
                message: "the `file` part is empty".into(),
            }),
            Ok(_) => {
                self.ingest(path.clone(), sha256.to_string(), caller.user.id)
                    .await
            }
            Err(err) => Err(err.into()),
        };
        let _ = tokio::fs::remove_file(&path).await;
        result.map(|blob| (blob, true))
    }

    /// Makes a blob of the complete file at `path`: checks its hash, inspects and decodes it,
    /// writes the original and its list thumbnail, and records it. On failure nothing is stored
    /// (the caller removes `path`).
    async fn ingest(
        &self,
        path: PathBuf,
        sha256: String,
        uploader: Uuid,
    ) -> Result<BlobMeta, BlobError> {
        let store = self.store.clone();
        let limits = self.limits();
        let paths = self.paths.clone();
        self.decoding(move || {
            let bytes = std::fs::read(&path)?;
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != sha256 {
                return Err(BlobError::HashMismatch {
                    expected: sha256,
                    actual,
                });
            }
            if let Some(blob) = store.blob(&sha256)? {
                return Ok(blob);
            }
            let inspected = images::inspect(&bytes, limits)?;
            // The whole file is decoded here (a damaged one fails), but only at the scale the
            // list thumbnail needs; the larger views are made when first asked for.
            let small = images::render(&bytes, &inspected, &[SMALL], limits)?;
            paths.put(&paths.rendition(&sha256, SMALL_NAME), &small[0])?;
            paths.put(&paths.object(&sha256, inspected.extension()), &bytes)?;
            let meta = blob_meta(&sha256, bytes.len() as u64, &inspected, uploader);
            let completed = store.add_blob(&meta)?;
            tracing::info!(
                sha256 = %meta.sha256,
                bytes = meta.size,
                completed = completed.len(),
                "photo stored"
            );
            Ok(meta)
        })
        .await
    }

    /// A blob and how `caller` (the public when `None`) may see it: whole, when one of their
    /// buckets holds an entity citing it; as the public does, when a published article cites it.
    async fn access(
        &self,
        caller: Option<&Caller>,
        sha256: &str,
    ) -> Result<(BlobMeta, Access), BlobError> {
        if !is_sha256(sha256) {
            return Err(BlobError::NotFound);
        }
        let store = self.store.clone();
        let sha = sha256.to_string();
        let buckets = caller.map(|c| c.user.grant.buckets(&c.user.id.to_string()));
        let user = caller.map(|c| c.user.id);
        self.blocking(move || {
            let meta = store.blob(&sha)?.ok_or(BlobError::NotFound)?;
            // Its uploader holds it; anyone else reads it through a held citation only.
            if user == Some(meta.uploaded_by) {
                return Ok((meta, Access::Whole));
            }
            let public = [PUBLIC.to_string()];
            let mut access = None;
            for citation in store.citing(&sha)?.iter().filter(|c| c.held) {
                let through = |buckets: &[String]| reads_through(&citation.projection, buckets);
                if buckets.as_deref().is_some_and(through) {
                    access = Some(Access::Whole);
                    break;
                }
                if through(&public) {
                    access = Some(Access::Public);
                }
            }
            Ok((meta, access.ok_or(BlobError::NotFound)?))
        })
        .await
    }

    /// The file to send for `variant` of a blob, if the caller may see it: the file itself to
    /// one who can see an entity citing it, the public rendition (for `Original`) to anyone when
    /// a published article cites it. `caller` is `None` for the public.
    pub async fn serve(
        &self,
        caller: Option<&Caller>,
        sha256: &str,
        variant: Variant,
    ) -> Result<Served, BlobError> {
        let (meta, access) = self.access(caller, sha256).await?;
        let public = access == Access::Public;
        let paths = self.paths.clone();
        let rendition = |name: &str| Served {
            path: paths.rendition(sha256, name),
            media_type: "image/jpeg".into(),
            public,
        };
        let (made, name) = match (variant, access) {
            (Variant::Original, Access::Whole) => {
                return Ok(Served {
                    path: paths.object(sha256, extension(&meta.media_type)),
                    media_type: meta.media_type,
                    public: false,
                });
            }
            (Variant::Original, Access::Public) => (PUBLIC_RENDITION, "public"),
            (Variant::Small, _) => (SMALL, SMALL_NAME),
            (Variant::Large, _) => (LARGE, "large"),
        };
        let served = rendition(name);
        if !served.path.exists() {
            self.make_rendition(&meta, made, name).await?;
        }
        Ok(served)
    }

    /// What is known about a blob, to one who can see an entity citing it.
    pub async fn info(&self, caller: &Caller, sha256: &str) -> Result<BlobMeta, BlobError> {
        match self.access(Some(caller), sha256).await? {
            (meta, Access::Whole) => Ok(meta),
            (_, Access::Public) => Err(BlobError::NotFound),
        }
    }

    /// Makes the rendition `name` of a stored photo from its original, under the decode bound.
    /// Two callers asking at once both make it; the second rename puts the same bytes in place.
    async fn make_rendition(
        &self,
        meta: &BlobMeta,
        made: Rendition,
        name: &'static str,
    ) -> Result<(), BlobError> {
        let paths = self.paths.clone();
        let limits = self.limits();
        let meta = meta.clone();
        self.decoding(move || {
            let bytes = std::fs::read(paths.object(&meta.sha256, extension(&meta.media_type)))?;
            let inspected = images::inspect(&bytes, limits)?;
            let rendition = images::render(&bytes, &inspected, &[made], limits)?;
            paths.put(&paths.rendition(&meta.sha256, name), &rendition[0])
        })
        .await
    }

    /// Readiness (`/readyz`): whether the blob directory takes a file (written, synced and
    /// removed); `Err` says why not.
    pub async fn ready(&self) -> Result<(), String> {
        let probe = self
            .paths
            .dir
            .join("tmp")
            .join(format!("ready-{}", Uuid::now_v7()));
        self.blocking(move || {
            let written = std::fs::File::create(&probe)
                .and_then(|mut file| {
                    file.write_all(b"ready")?;
                    file.sync_all()
                })
                .and_then(|()| std::fs::remove_file(&probe));
            written.map_err(|err| BlobError::Storage(format!("{}: {err}", probe.display())))
        })
        .await
        .map_err(|err| err.to_string())
    }

    /// Drops expired uploads and their bytes, and files left in `tmp/` by an interrupted write;
    /// returns how many uploads were dropped.
    pub async fn sweep(&self) -> Result<usize, BlobError> {
        let store = self.store.clone();
        let dir = self.paths.dir.clone();
        self.blocking(move || {
            let now = UnixMillis::now();
            let mut dropped = 0;
            for upload in store.uploads()? {
                if upload.expires_at <= now {
                    store.remove_upload(upload.id)?;
                    let _ = std::fs::remove_file(dir.join("uploads").join(upload.id.to_string()));
                    dropped += 1;
                }
            }
            let stale = std::time::SystemTime::now() - Duration::from_secs(3600);
            for entry in std::fs::read_dir(dir.join("tmp"))?.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < stale);
                if old {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Ok(dropped)
        })
        .await
    }
}

/// The blob directory's layout.
#[derive(Clone, Debug)]
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn upload(&self, id: Uuid) -> PathBuf {
        self.dir.join("uploads").join(id.to_string())
    }

    fn object(&self, sha256: &str, extension: &str) -> PathBuf {
        self.dir
            .join("objects")
            .join(&sha256[..2])
            .join(format!("{sha256}.{extension}"))
    }

    fn rendition(&self, sha256: &str, name: &str) -> PathBuf {
        self.dir
            .join("renditions")
            .join(&sha256[..2])
            .join(format!("{sha256}-{name}.jpg"))
    }

    /// Writes `data` to `path` whole or not at all: to `tmp/`, synced, renamed, directory synced.
    fn put(&self, path: &Path, data: &[u8]) -> Result<(), BlobError> {
        let parent = path
            .parent()
            .ok_or_else(|| BlobError::Storage("a blob path has no directory".into()))?;
        std::fs::create_dir_all(parent)?;
        let tmp = self.dir.join("tmp").join(Uuid::now_v7().to_string());
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    }
}

fn blob_meta(sha256: &str, size: u64, inspected: &Inspected, uploader: Uuid) -> BlobMeta {
    BlobMeta {
        sha256: sha256.to_string(),
        size,
        media_type: inspected.media_type().to_string(),
        width: inspected.width,
        height: inspected.height,
        orientation: inspected.orientation,
        taken_at: inspected.taken_at.clone(),
        gps: inspected.gps,
        received_at: UnixMillis::now(),
        uploaded_by: uploader,
    }
}

/// The file extension a blob of `media_type` is stored with.
pub(crate) fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

fn check_sha256(field: &'static str, value: &str) -> Result<(), BlobError> {
    if is_sha256(value) {
        Ok(())
    } else {
        Err(BlobError::Invalid {
            field,
            message: format!("{field} must be the file's sha256 as 64 lower-case hex digits"),
        })
    }
}

/// Parses `Upload-Checksum: sha256 <base64 digest>`.
pub fn parse_checksum(header: &str) -> Result<Vec<u8>, BlobError> {
    use base64::Engine as _;
    let invalid = |message: &str| BlobError::Invalid {
        field: "Upload-Checksum",
        message: message.to_string(),
    };
    let (algorithm, digest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid("Upload-Checksum is `sha256 <base64 of the chunk's sha256>`"))?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(invalid(
            "Upload-Checksum supports only sha256 (Tus-Checksum-Algorithm: sha256)",
        ));
    }
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| invalid("the Upload-Checksum digest is not base64"))?;
    if digest.len() != 32 {
        return Err(invalid("the Upload-Checksum digest is not 32 bytes"));
    }
    Ok(digest)
}

/// Marks an upload as being appended to, until dropped.
struct BusyGuard<'a> {
    busy: &'a Mutex<HashSet<Uuid>>,
    id: Uuid,
}

impl<'a> BusyGuard<'a> {
    fn take(busy: &'a Mutex<HashSet<Uuid>>, id: Uuid) -> Option<BusyGuard<'a>> {
        let mut set = busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A guard is made only for an id newly marked: one made for an id already busy would,
        // when dropped, lock the mutex still held here and unmark the other request's id.
        if set.insert(id) {
            Some(BusyGuard { busy, id })
        } else {
            None
        }
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        let mut set = self
            .busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        set.remove(&self.id);
    }
}
