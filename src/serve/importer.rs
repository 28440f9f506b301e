//! Serve's scheduled imports: every `--import-every`, and once on shutdown, the
//! archive folder is imported into `--db` by the same `run_import` and ledger as the
//! `import` command. The archive is opened for writing only for the import, so
//! `query`, `report` and cron jobs work in between; a failed import is logged and
//! tried again next time, while the server keeps receiving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::discover::WalkOptions;
use crate::import::{Ending, ImportOptions, ImportOutcome, Observer, run_import};
use crate::signals::Stop;
use crate::store::Archive;
use crate::store::writer::{FileContent, FileRecord};

use super::log::{Level, Log};
use super::metrics::Metrics;

/// Problems of one import logged line by line; the rest are only counted (all are in
/// the `import_errors` table).
const LOGGED_PROBLEMS: u64 = 20;

/// When and how to import, from the command line.
#[derive(Debug, Clone)]
pub struct ImportSchedule {
    pub every: Duration,
    pub db: PathBuf,
    pub lock_timeout: Duration,
    pub threads: usize,
    /// Largest file read, in bytes: at least `--max-body`, so that every body the
    /// server accepted is imported.
    pub max_file_size: u64,
    pub memory_limit_mb: u32,
}

/// The import thread.
pub struct Importer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Importer {
    /// Start importing `root` on `schedule`; the first import runs one interval
    /// after the start, whatever is new (a server killed before its last import
    /// may have left bodies); later ones only when bodies arrived since.
    pub fn start(
        schedule: ImportSchedule,
        root: PathBuf,
        metrics: Arc<Metrics>,
        log: Log,
    ) -> std::io::Result<Importer> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("import".to_string())
            .spawn(move || {
                let mut next = Instant::now() + schedule.every;
                // Bodies archived when the last import succeeded: an interval in which
                // nothing arrived runs no import (and adds no row to import_runs).
                let mut imported: Option<u64> = None;
                loop {
                    let wait = next.saturating_duration_since(Instant::now());
                    let last =
                        !matches!(stopped.recv_timeout(wait), Err(RecvTimeoutError::Timeout));
                    let archived = metrics.archived_files.load(Ordering::Relaxed);
                    if imported != Some(archived)
                        && import_once(&schedule, &root, &metrics, log, last)
                    {
                        imported = Some(archived);
                    }
                    if last {
                        return;
                    }
                    next = (next + schedule.every).max(Instant::now());
                }
            })?;
        Ok(Importer { stop, thread })
    }

    /// Run the last import now and wait for it.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Import once and log how it went; true when it succeeded.
fn import_once(
    schedule: &ImportSchedule,
    root: &Path,
    metrics: &Metrics,
    log: Log,
    last: bool,
) -> bool {
    let why = if last { "shutdown" } else { "scheduled" };
    let problems = ProblemLog {
        log,
        problems: AtomicU64::new(0),
    };
    let outcome = import(schedule, root, &problems, log);
    let ok = outcome.is_ok();
    metrics.import_ended(ok, SystemTime::now());
    match outcome {
        Ok(ImportOutcome {
            run_id,
            ending: Ending::Finished(c),
            elapsed,
            ..
        }) => {
            metrics
                .import_problems
                .fetch_add(c.errors, Ordering::Relaxed);
            metrics
                .imported_postbacks
                .fetch_add(c.postbacks_new, Ordering::Relaxed);
            let level = if c.errors > 0 {
                Level::Warn
            } else {
                Level::Info
            };
            log.line(level, "import")
                .field("why", why)
                .field("run", run_id)
                .field("files_seen", c.files_seen)
                .field("files_read", c.files_read)
                .field("postbacks_new", c.postbacks_new)
                .field("duplicates", c.postbacks_duplicate)
                .field("problems", c.errors)
                .field("seconds", format!("{:.2}", elapsed.as_secs_f64()))
                .emit();
        }
        // Serve never asks its imports to stop (see `import`); should one be stopped
        // anyway, its committed batches stay and the next import finishes the job.
        Ok(ImportOutcome {
            run_id,
            ending: Ending::Interrupted(signal),
            ..
        }) => {
            log.line(Level::Warn, "import_interrupted")
                .field("why", why)
                .field("run", run_id)
                .field("signal", signal.name())
                .emit();
        }
        Err(error) => {
            let next = if last {
                "the next start of serve, or an `import` of the archive folder".to_string()
            } else {
                format!("in {} s", schedule.every.as_secs())
            };
            log.line(Level::Error, "import_failed")
                .field("why", why)
                .field("error", said(&schedule.db, &error))
                .field("retry", next)
                .emit();
        }
    }
    ok
}

/// An import's error as the log says it: damage of the archive named as such.
fn said(db: &Path, error: &anyhow::Error) -> String {
    let message = format!("{error:#}");
    crate::store::damage_said(db, &message, &error.root_cause().to_string()).unwrap_or(message)
}

fn import(
    schedule: &ImportSchedule,
    root: &Path,
    observer: &dyn Observer,
    log: Log,
) -> anyhow::Result<ImportOutcome> {
    let on_wait = |holder: &str| {
        log.line(Level::Warn, "import_waiting")
            .field("holder", holder)
            .field("db", schedule.db.display())
            .emit();
    };
    let archive = Archive::open_for_write(&schedule.db, schedule.lock_timeout, on_wait)?;
    let options = ImportOptions {
        roots: vec![root.to_path_buf()],
        walk: WalkOptions::default(),
        force: false,
        threads: schedule.threads,
        max_file_size: schedule.max_file_size,
        memory_limit_mb: schedule.memory_limit_mb,
        batch_files: crate::store::writer::BATCH_FILES,
    };
    // Serve owns SIGTERM and SIGINT while it runs (see `super::run`): the import
    // installs no handlers of its own, and a signal lets the running import finish
    // before the last one; a second signal ends the process, which the ledger and
    // the next run (which marks this one `interrupted`) are made for.
    Ok(run_import(&archive, &options, observer, &Stop::never())?)
}

/// Logs an import's first problems, each as `path:line:col: kind: message`.
struct ProblemLog {
    log: Log,
    problems: AtomicU64,
}

impl Observer for ProblemLog {
    fn found(&self, _count: u64) {}

    fn skipped(&self, _count: u64) {}

    fn stored(&self, record: &FileRecord) {
        let problems = match &record.content {
            FileContent::Unreadable(problem) => std::slice::from_ref(problem),
            FileContent::Read { problems, .. } => problems.as_slice(),
            FileContent::Unchanged(_) => &[],
        };
        for problem in problems {
            if self.problems.fetch_add(1, Ordering::Relaxed) < LOGGED_PROBLEMS {
                let line = problem.display_for(&record.path).to_string();
                self.log
                    .line(Level::Warn, "import_problem")
                    .field("problem", line)
                    .emit();
            }
        }
    }
}
