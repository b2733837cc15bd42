//! The device's photo queue (照片队列).
//!
//! [`Device::add_photo`] copies a photo into the device directory (`photos/<sha256>`) and
//! queues it (only JPEG, PNG and WebP files are taken); the capture that cites it names it by
//! that sha256 in `blob_refs`. Before each push, [`Device::upload_photos`] sends every queued
//! photo an event cites (a photo whose record was never captured is not sent): photos cited by
//! events not yet pushed first, each by a resumable upload whose location and offset are kept in the replica after
//! every chunk, so a process stopped mid-upload continues where the server stands (it asks, the
//! server's offset is the truth). A photo the server already holds is not sent again. A photo the
//! server refuses (not an image, too large) is marked with the reason and not tried again; the
//! events citing it are still pushed, and stay evidentially incomplete on the server.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::transport::{AppendOutcome, NewUpload, TransportError};
use super::{ClientError, Device, Step};

/// The bytes sent per request.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Where a queued photo stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PhotoState {
    /// Not yet on the server.
    Queued,
    /// The server holds it.
    Uploaded,
    /// The server refused it; it will not be sent again.
    Refused {
        /// The server's code.
        code: String,
        /// The server's message.
        message: String,
    },
}

/// A photo the device holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    /// Its sha256, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where it stands.
    #[serde(flatten)]
    pub state: PhotoState,
    /// The server's upload in progress (a path), once created.
    pub upload: Option<String>,
    /// Bytes the server held at the last acknowledged chunk.
    pub offset: u64,
}

/// Progress of one photo's upload, for a display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The photo.
    pub sha256: String,
    /// Bytes the server holds.
    pub sent: u64,
    /// The photo's size.
    pub total: u64,
}

/// What one round of uploads did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Photos now on the server (sent, or found there).
    pub uploaded: usize,
    /// Photos the server refused in this round.
    pub refused: usize,
    /// Photos still queued because the server could not be reached.
    pub waiting: usize,
}

pub(super) type ProgressHook = Arc<dyn Fn(Progress) + Send + Sync>;

impl Device {
    /// Queues again the photos of `lacking` this device sent and the server no longer holds;
    /// returns how many.
    pub(super) fn requeue_photos(
        &self,
        lacking: &std::collections::BTreeSet<String>,
    ) -> Result<usize, ClientError> {
        let mut queued = 0;
        for sha256 in lacking {
            if let Some(mut photo) = self.local.photo(sha256)? {
                if photo.state == PhotoState::Uploaded {
                    photo.state = PhotoState::Queued;
                    photo.upload = None;
                    photo.offset = 0;
                    self.local.put_photo(&photo)?;
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    /// Copies the photo at `path` into the device and queues it; returns its sha256, to cite in
    /// `blob_refs`. Adding the same photo twice queues it once.
    pub fn add_photo(&self, path: &Path) -> Result<String, ClientError> {
        let bytes = std::fs::read(path).map_err(|err| {
            ClientError::Photo(format!("cannot read the photo {}: {err}", path.display()))
        })?;
        self.add_photo_bytes(&bytes)
    }

    /// Queues a photo given as bytes; returns its sha256. Only JPEG, PNG and WebP files are
    /// taken, as the server takes no other.
    pub fn add_photo_bytes(&self, bytes: &[u8]) -> Result<String, ClientError> {
        let image = bytes.starts_with(&[0xFF, 0xD8, 0xFF])
            || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
            || (bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP");
        if !image {
            return Err(ClientError::Photo(
                "a photo must be a JPEG, PNG or WebP file (HEIC: set the camera to \"Most \
                 Compatible\" or convert it)"
                    .into(),
            ));
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        if self.local.photo(&sha256)?.is_some() {
            return Ok(sha256);
        }
        let dir = self.dir.join("photos");
        std::fs::create_dir_all(&dir).map_err(|err| ClientError::Local(err.to_string()))?;
        let tmp = dir.join(format!("{sha256}.part"));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, dir.join(&sha256))
        };
        write().map_err(|err| ClientError::Local(format!("cannot keep the photo: {err}")))?;
        self.local.put_photo(&Photo {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            state: PhotoState::Queued,
            upload: None,
            offset: 0,
        })?;
        Ok(sha256)
    }

    /// Every photo the device holds, by sha256.
    pub fn photos(&self) -> Result<Vec<Photo>, ClientError> {
        self.local.photos()
    }

    /// The file of a photo the device holds.
    pub fn photo_path(&self, sha256: &str) -> std::path::PathBuf {
        self.dir.join("photos").join(sha256)
    }

    /// Calls `hook` as each photo's upload advances.
    pub fn on_progress(&mut self, hook: impl Fn(Progress) + Send + Sync + 'static) {
        self.progress = Some(Arc::new(hook));
    }

    /// Sends every queued photo an event cites, those cited by events not yet pushed first. A
    /// photo no event cites yet (its record was not captured) waits; one that cannot be sent now
    /// (no network) stays queued; one the server refuses is marked.
    pub async fn upload_photos(&self) -> Result<UploadReport, ClientError> {
        let mut queued: Vec<Photo> = self
            .local
            .photos()?
            .into_iter()
            .filter(|p| p.state == PhotoState::Queued)
            .collect();
        if queued.is_empty() {
            // Nothing to send: the log need not be read.
            return Ok(UploadReport::default());
        }
        let log = self.local.log()?;
        // The log holds seq 1, 2, 3 … in order: the outbox is what follows the acknowledged.
        let acked = usize::try_from(self.local.acked_seq()?)
            .unwrap_or(usize::MAX)
            .min(log.len());
        let cited_by = |events: &[crate::event::SignedEvent]| -> std::collections::HashSet<String> {
            events
                .iter()
                .flat_map(|e| e.body.blob_refs.iter().cloned())
                .collect()
        };
        let ever_cited = cited_by(&log);
        let cited = cited_by(&log[acked..]);
        queued.retain(|p| ever_cited.contains(&p.sha256));
        queued.sort_by_key(|p| !cited.contains(&p.sha256));
        let mut report = UploadReport::default();
        for photo in queued {
            match self.upload_photo(photo).await {
                Ok(PhotoState::Uploaded) => report.uploaded += 1,
                Ok(PhotoState::Refused { .. }) => report.refused += 1,
                Ok(PhotoState::Queued) | Err(ClientError::Transport(_)) => report.waiting += 1,
                Err(err) => return Err(err),
            }
        }
        Ok(report)
    }

    async fn upload_photo(&self, mut photo: Photo) -> Result<PhotoState, ClientError> {
        let outcome = if self.photo_path(&photo.sha256).exists() {
            self.send_photo(&mut photo).await
        } else {
            Err(ClientError::Transport(TransportError::Http {
                status: 400,
                code: "photo-missing".into(),
                message: "the photo's file is no longer in the device directory".into(),
            }))
        };
        let state = match outcome {
            Ok(()) => PhotoState::Uploaded,
            Err(ClientError::Transport(TransportError::Http {
                status: 400 | 413 | 415 | 422,
                code,
                message,
            })) => PhotoState::Refused { code, message },
            Err(err) => return Err(err),
        };
        photo.state = state.clone();
        photo.upload = None;
        self.local.put_photo(&photo)?;
        Ok(state)
    }

    /// Sends one photo to the end, keeping the upload's location and offset after each chunk.
    async fn send_photo(&self, photo: &mut Photo) -> Result<(), ClientError> {
        let report = |sent: u64| {
            if let Some(hook) = &self.progress {
                hook(Progress {
                    sha256: photo.sha256.clone(),
                    sent,
                    total: photo.size,
                });
            }
        };
        // Resume the upload in progress, if the server still has it.
        let mut offset = match &photo.upload {
            Some(location) => self.transport.upload_offset(location).await?,
            None => None,
        };
        if offset.is_none() {
            if self.transport.blob_exists(&photo.sha256).await? {
                report(photo.size);
                return Ok(());
            }
            match self
                .transport
                .create_upload(photo.size, &photo.sha256)
                .await?
            {
                NewUpload::Exists => {
                    report(photo.size);
                    return Ok(());
                }
                NewUpload::At(location) => {
                    photo.upload = Some(location);
                    photo.offset = 0;
                    self.local.put_photo(photo)?;
                    offset = Some(0);
                }
            }
        }
        let location = photo.upload.clone().unwrap_or_default();
        let mut offset = offset.unwrap_or(0);
        let bytes = std::fs::read(self.photo_path(&photo.sha256))
            .map_err(|err| ClientError::Local(format!("the queued photo is gone: {err}")))?;
        let bytes = bytes::Bytes::from(bytes);
        // Each round sends a chunk or learns the server's offset: bounded by chunks plus retries.
        let rounds = bytes.len() / CHUNK_BYTES + 10;
        for _ in 0..rounds {
            report(offset);
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = (start + CHUNK_BYTES).min(bytes.len());
            match self
                .transport
                .append(&location, offset, bytes.slice(start..end))
                .await
            {
                Ok(AppendOutcome::Stored) => {
                    report(photo.size);
                    self.step(Step::PhotoStored);
                    return Ok(());
                }
                Ok(AppendOutcome::Continue(held)) => offset = held,
                // The server holds another offset (an earlier answer was lost): ask it.
                Err(TransportError::Http { status: 409, .. }) => {
                    offset = self.transport.upload_offset(&location).await?.ok_or(
                        TransportError::Http {
                            status: 410,
                            code: "upload-expired".into(),
                            message: "the upload expired; it starts again at the next sync".into(),
                        },
                    )?;
                }
                Err(TransportError::Http { status: 460, .. }) => {}
                Err(err) => return Err(err.into()),
            }
            photo.offset = offset;
            self.local.put_photo(photo)?;
            self.step(Step::ChunkSent);
        }
        Err(TransportError::Unreachable {
            attempts: u32::try_from(rounds).unwrap_or(u32::MAX),
            last: "the photo upload made no progress".into(),
        }
        .into())
    }
}
