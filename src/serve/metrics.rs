//! Serve's live numbers: counters the receiver, the writer and the importer bump, and
//! their rendering in the Prometheus text format for `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The statuses serve answers with, each counted on its own; anything else is `other`.
pub const STATUSES: [u16; 9] = [200, 400, 401, 404, 405, 408, 413, 500, 503];

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram that threads update without a lock.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Everything `/metrics` shows. One instance is shared by the whole server.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; STATUSES.len() + 1],
    pub received_bytes: AtomicU64,
    pub archived_files: AtomicU64,
    pub write_errors: AtomicU64,
    pub commit_batches: AtomicU64,
    /// The two durability barriers of each batch: files' data, then their folder.
    pub fsync_seconds: Histogram,
    /// From a delivery's arrival to its answer, for deliveries archived.
    pub delivery_seconds: Histogram,
    pub connections_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_evicted: AtomicU64,
    pub connections_refused: AtomicU64,
    pub imports_ok: AtomicU64,
    pub imports_failed: AtomicU64,
    pub import_problems: AtomicU64,
    pub imported_postbacks: AtomicU64,
    /// Files archived that no import has stored yet (see `importer::HandOver`).
    pub import_backlog: AtomicU64,
    /// Unix time (ms) when the last import ended, whatever its outcome; 0 before any.
    pub last_import_ms: AtomicU64,
    /// Unix time (ms) when the last successful import ended; 0 before any.
    pub last_import_ok_ms: AtomicU64,
}

impl Metrics {
    /// Count a request answered with `status`.
    pub fn count_request(&self, status: u16) {
        let index = STATUSES
            .iter()
            .position(|known| *known == status)
            .unwrap_or(STATUSES.len());
        if let Some(counter) = self.requests.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Record the end of an import at `now`.
    pub fn import_ended(&self, ok: bool, now: SystemTime) {
        let ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        self.last_import_ms.store(ms, Ordering::Relaxed);
        if ok {
            self.imports_ok.fetch_add(1, Ordering::Relaxed);
            self.last_import_ok_ms.store(ms, Ordering::Relaxed);
        } else {
            self.imports_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let name = "postback_archive_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP requests answered, by status.\n# TYPE {name} counter"
        );
        let labels = STATUSES.iter().map(|status| status.to_string());
        for (label, counter) in labels.chain(["other".to_string()]).zip(&self.requests) {
            let value = counter.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{status=\"{label}\"}} {value}");
        }
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let simple = [
            (
                "received_bytes_total",
                "counter",
                "Bytes of postback bodies archived.",
                load(&self.received_bytes),
            ),
            (
                "archived_files_total",
                "counter",
                "Postback bodies archived, one file each.",
                load(&self.archived_files),
            ),
            (
                "import_backlog_files",
                "gauge",
                "Files archived that no import has stored yet.",
                load(&self.import_backlog),
            ),
            (
                "write_errors_total",
                "counter",
                "Bodies that could not be archived (answered 503).",
                load(&self.write_errors),
            ),
            (
                "commit_batches_total",
                "counter",
                "Group commits: batches of bodies made durable together.",
                load(&self.commit_batches),
            ),
            (
                "connections_open",
                "gauge",
                "HTTP connections open now.",
                load(&self.connections_open),
            ),
            (
                "connections_accepted_total",
                "counter",
                "HTTP connections accepted.",
                load(&self.connections_accepted),
            ),
            (
                "connections_evicted_total",
                "counter",
                "Idle connections closed to make room for a new one at --max-connections.",
                load(&self.connections_evicted),
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections closed at once: --max-connections were all busy.",
                load(&self.connections_refused),
            ),
            (
                "imports_total{outcome=\"ok\"}",
                "counter",
                "Scheduled imports, by outcome.",
                load(&self.imports_ok),
            ),
            (
                "imports_total{outcome=\"failed\"}",
                "",
                "",
                load(&self.imports_failed),
            ),
            (
                "import_problems_total",
                "counter",
                "Problems found in archived files by imports (see import_errors).",
                load(&self.import_problems),
            ),
            (
                "imported_postbacks_total",
                "counter",
                "New postbacks stored by imports.",
                load(&self.imported_postbacks),
            ),
        ];
        for (metric, kind, help, value) in simple {
            let name = format!("postback_archive_{metric}");
            if !kind.is_empty() {
                let family = name.split('{').next().unwrap_or(&name);
                let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
            }
            let _ = writeln!(out, "{name} {value}");
        }
        let timestamps = [
            (
                "last_import_timestamp_seconds",
                "When the last import ended (Unix time; 0: none yet).",
                &self.last_import_ms,
            ),
            (
                "last_import_success_timestamp_seconds",
                "When the last successful import ended (Unix time; 0: none yet).",
                &self.last_import_ok_ms,
            ),
        ];
        for (metric, help, ms) in timestamps {
            let name = format!("postback_archive_{metric}");
            let seconds = load(ms) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {seconds}"
            );
        }
        self.fsync_seconds.render(
            &mut out,
            "postback_archive_fsync_seconds",
            "Durability barriers (fsync of a batch's files, then of their folder).",
        );
        self.delivery_seconds.render(
            &mut out,
            "postback_archive_delivery_seconds",
            "From a postback's arrival to its 200.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_status_and_cumulative_histogram_buckets() {
        let metrics = Metrics::default();
        metrics.count_request(200);
        metrics.count_request(200);
        metrics.count_request(413);
        metrics.count_request(418);
        metrics.fsync_seconds.observe(Duration::from_micros(800));
        metrics.fsync_seconds.observe(Duration::from_millis(20));
        let text = metrics.render();
        for line in [
            "postback_archive_requests_total{status=\"200\"} 2",
            "postback_archive_requests_total{status=\"413\"} 1",
            "postback_archive_requests_total{status=\"other\"} 1",
            "postback_archive_requests_total{status=\"503\"} 0",
            "postback_archive_fsync_seconds_bucket{le=\"0.0005\"} 0",
            "postback_archive_fsync_seconds_bucket{le=\"0.001\"} 1",
            "postback_archive_fsync_seconds_bucket{le=\"0.025\"} 2",
            "postback_archive_fsync_seconds_bucket{le=\"+Inf\"} 2",
            "postback_archive_fsync_seconds_sum 0.0208",
            "postback_archive_fsync_seconds_count 2",
            "postback_archive_imports_total{outcome=\"failed\"} 0",
            "# TYPE postback_archive_imports_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
