//! The disk's reserve (磁盘空间): writes are refused with `507 storage-full` while the data
//! directory's filesystem has less free space than `storage.reserve_mb`, so that it never fills
//! to the last byte (a store that meets a full disk cannot write again until restarted). Reads go
//! on, and writes come back by themselves once space returns. Signing in and out still works:
//! a session is what the reserve is kept for.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading of the free space is used before the filesystem is asked again.
const FRESH: Duration = Duration::from_secs(1);

/// The free space of the data directory's filesystem, against the reserve.
#[derive(Debug)]
pub struct Space {
    dir: PathBuf,
    reserve: u64,
    last: Mutex<Option<(Instant, u64)>>,
}

/// Writes are refused: the disk is nearly full.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server's disk is nearly full (磁盘空间不足): {free_mb} MB free, {reserve_mb} MB kept in reserve; nothing was written, and reads still work — retry later, or tell the office to free space"
)]
pub struct StorageFull {
    /// Free, in MB.
    pub free_mb: u64,
    /// The reserve, in MB.
    pub reserve_mb: u64,
}

impl Space {
    /// The reserve of `reserve_mb` on the filesystem of `dir`.
    pub fn new(dir: &Path, reserve_mb: u64) -> Space {
        Space {
            dir: dir.to_path_buf(),
            reserve: reserve_mb.saturating_mul(1024 * 1024),
            last: Mutex::new(None),
        }
    }

    /// Bytes free for the server's user on the filesystem, read at most once a second.
    pub fn free(&self) -> std::io::Result<u64> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, free)) = *last {
            if at.elapsed() < FRESH {
                return Ok(free);
            }
        }
        let stat = rustix::fs::statvfs(&self.dir).map_err(std::io::Error::from)?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        *last = Some((Instant::now(), free));
        Ok(free)
    }

    /// `Ok` while the free space is above the reserve (or cannot be read: then the write is
    /// tried, and an I/O error stops the server).
    pub fn check(&self) -> Result<(), StorageFull> {
        match self.free() {
            Ok(free) if free < self.reserve => Err(StorageFull {
                free_mb: free / (1024 * 1024),
                reserve_mb: self.reserve / (1024 * 1024),
            }),
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the free space of the data directory");
                Ok(())
            }
        }
    }
}
