//! Prometheus metrics (`GET /metrics`, when `metrics.enabled`): requests by operation and status,
//! their durations (push and pull among them: the sync latencies), events pushed by verdict, pull
//! pages, logins refused for too many tries, syncs waiting their turn or in line for a place,
//! uploads in progress, and
//! the store's and the photos' sizes.
//!
//! Operations are labelled by their `operationId` in the spec, never by the raw path, so the
//! number of series is bounded whatever clients send.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One more in a gauge for as long as it is held: a request dropped while it waits (its client
/// gone) is counted out as surely as one that is served.
#[derive(Debug)]
pub struct Counted(Gauge);

impl Counted {
    /// Adds one to `gauge` until the result is dropped.
    pub fn new(gauge: &Gauge) -> Counted {
        gauge.inc();
        Counted(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The operation (`operationId`), `console`, or `other`.
    pub operation: String,
    /// The status code.
    pub status: u16,
}

/// An operation's label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    /// The operation (`operationId`), `console`, or `other`.
    pub operation: String,
}

/// A verdict's label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    /// `applied`, `conflict` or `quarantined`.
    pub verdict: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<RequestLabels, Counter>,
    /// How long requests took.
    pub durations: Family<OperationLabel, Histogram>,
    /// Events pushed, by verdict.
    pub events: Family<VerdictLabel, Counter>,
    /// Pull pages answered.
    pub pull_pages: Counter,
    /// Logins refused for too many failed tries.
    pub login_throttled: Counter,
    /// Push and pull requests waiting for their turn.
    pub waiting_syncs: Gauge,
    /// Push and pull requests waiting in line for a place, their bodies unread.
    pub syncs_in_line: Gauge,
    /// Uploads (chunks and photo forms) being received.
    pub uploads: Gauge,
    store_bytes: Gauge,
    blob_bytes: Gauge,
    blob_files: Gauge,
    data_dir: PathBuf,
    sizes: Mutex<Option<Instant>>,
}

impl Metrics {
    /// The metrics of a server over `data_dir`.
    pub fn new(data_dir: &Path) -> Metrics {
        let mut registry = Registry::with_prefix("anjian");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by operation and status",
            requests.clone(),
        );
        let durations = Family::<OperationLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "How long requests took to answer (sync_push and sync_pull are the sync latencies)",
            durations.clone(),
        );
        let events = Family::<VerdictLabel, Counter>::default();
        registry.register("events_pushed", "Events pushed, by verdict", events.clone());
        let pull_pages = Counter::default();
        registry.register("pull_pages", "Pull pages answered", pull_pages.clone());
        let login_throttled = Counter::default();
        registry.register(
            "login_throttled",
            "Logins refused for too many failed tries",
            login_throttled.clone(),
        );
        let waiting_syncs = Gauge::default();
        registry.register(
            "syncs_waiting",
            "Push and pull requests waiting for their turn",
            waiting_syncs.clone(),
        );
        let syncs_in_line = Gauge::default();
        registry.register(
            "syncs_in_line",
            "Push and pull requests waiting in line for a place, their bodies unread",
            syncs_in_line.clone(),
        );
        let uploads = Gauge::default();
        registry.register(
            "uploads_in_progress",
            "Uploads (chunks and photo forms) being received",
            uploads.clone(),
        );
        let store_bytes = Gauge::default();
        registry.register("store_bytes", "The store file's size", store_bytes.clone());
        let blob_bytes = Gauge::default();
        registry.register(
            "blob_bytes",
            "Bytes of the photos and other files held, their renditions included",
            blob_bytes.clone(),
        );
        let blob_files = Gauge::default();
        registry.register(
            "blob_files",
            "Photos and other files held (originals)",
            blob_files.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            events,
            pull_pages,
            login_throttled,
            waiting_syncs,
            syncs_in_line,
            uploads,
            store_bytes,
            blob_bytes,
            blob_files,
            data_dir: data_dir.to_path_buf(),
            sizes: Mutex::new(None),
        }
    }

    /// Counts a request answered.
    pub fn answered(&self, operation: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .observe(took.as_secs_f64());
        if operation == "login" && status == 429 {
            self.login_throttled.inc();
        }
    }

    /// Counts pushed events by verdict (`applied`, `conflict`, `quarantined`).
    pub fn pushed(&self, verdict: &str) {
        self.events
            .get_or_create(&VerdictLabel {
                verdict: verdict.to_string(),
            })
            .inc();
    }

    /// The metrics in Prometheus' text format. The store's and the photos' sizes are read from
    /// the disk at most once a minute.
    pub fn render(&self) -> String {
        self.measure_sizes();
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    fn measure_sizes(&self) {
        let mut last = self
            .sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
            return;
        }
        *last = Some(Instant::now());
        let store = std::fs::metadata(self.data_dir.join("anjian.redb")).map_or(0, |m| m.len());
        self.store_bytes
            .set(i64::try_from(store).unwrap_or(i64::MAX));
        let blobs = self.data_dir.join("blobs");
        let (mut bytes, mut files) = (0u64, 0u64);
        for (dir, count) in [("objects", true), ("renditions", false)] {
            let Ok(prefixes) = std::fs::read_dir(blobs.join(dir)) else {
                continue;
            };
            for prefix in prefixes.flatten() {
                let Ok(entries) = std::fs::read_dir(prefix.path()) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if let Ok(meta) = entry.metadata() {
                        bytes += meta.len();
                        files += u64::from(count);
                    }
                }
            }
        }
        self.blob_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.blob_files
            .set(i64::try_from(files).unwrap_or(i64::MAX));
    }
}
