//! Serve's scheduled imports: every `--import-every`, and once on shutdown, what the
//! server wrote is imported into `--db` through the same entry as the `import`
//! command ([`import_archive`]). The first import walks the archive folder, which
//! finds whatever it holds that the archive lacks (bodies a killed server left, files
//! put there by hand); the later ones take the files the writer made durable since
//! ([`HandOver`]), without listing any folder. The archive is opened for writing only
//! for the import, so `query`, `report` and cron jobs work in between; a failed import
//! is logged and tried again next time, with the same files, while the server keeps
//! receiving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::discover::{WalkInput, WalkOptions};
use crate::import::{
    Ending, ImportFailure, ImportOptions, ImportOutcome, Observer, import_archive,
};
use crate::signals::Stop;
use crate::store::writer::{BATCH_FILES, FileContent, FileRecord};

use super::log::{Level, Log};
use super::metrics::Metrics;

/// Problems of one import logged line by line; the rest are only counted (all are in
/// the `import_errors` table).
const LOGGED_PROBLEMS: u64 = 20;

/// Most files kept waiting for an import, about 150 MB of paths (ten days of 100,000
/// postbacks while imports fail): past it the list is dropped, and the next import
/// walks the archive folder instead, which finds them all.
const MAX_WAITING: usize = 1_000_000;

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

/// The files the writer made durable that no import has taken yet, counted in the
/// `import_backlog_files` metric until an import has stored them.
#[derive(Debug)]
pub struct HandOver {
    waiting: Mutex<Waiting>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct Waiting {
    files: Vec<PathBuf>,
    /// More than [`MAX_WAITING`] files came: the list was dropped, walk instead.
    overflowed: bool,
}

impl HandOver {
    pub fn new(metrics: Arc<Metrics>) -> HandOver {
        HandOver {
            waiting: Mutex::default(),
            metrics,
        }
    }

    /// Files now durable under their final names.
    pub fn add(&self, files: impl IntoIterator<Item = PathBuf>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let before = waiting.files.len();
        if !waiting.overflowed {
            waiting.files.extend(files);
        } else {
            let added = files.into_iter().count();
            self.metrics
                .import_backlog
                .fetch_add(added as u64, Ordering::Relaxed);
            return;
        }
        let added = waiting.files.len() - before;
        self.metrics
            .import_backlog
            .fetch_add(added as u64, Ordering::Relaxed);
        if waiting.files.len() > MAX_WAITING {
            *waiting = Waiting {
                files: Vec::new(),
                overflowed: true,
            };
        }
    }

    fn take(&self) -> Waiting {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// An import stored what it took: it leaves the backlog (a walk, everything).
    fn stored(&self, taken: &Waiting, walked: bool) {
        let backlog = &self.metrics.import_backlog;
        if walked {
            let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            backlog.store(waiting.files.len() as u64, Ordering::Relaxed);
        } else {
            let _ = backlog.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |count| {
                Some(count.saturating_sub(taken.files.len() as u64))
            });
        }
    }

    /// Files an import took but did not store: the next import takes them again.
    fn give_back(&self, taken: Waiting) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.overflowed |= taken.overflowed;
        let mut files = taken.files;
        files.append(&mut waiting.files);
        waiting.files = files;
        if waiting.overflowed || waiting.files.len() > MAX_WAITING {
            *waiting = Waiting {
                files: Vec::new(),
                overflowed: true,
            };
        }
    }
}

/// The import thread.
pub struct Importer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Importer {
    /// Start importing on `schedule`: a walk of `root` at once, then every interval
    /// the files handed over since (no import when there are none); the last one
    /// runs when [`Importer::finish`] is called.
    pub fn start(
        schedule: ImportSchedule,
        root: PathBuf,
        handover: Arc<HandOver>,
        metrics: Arc<Metrics>,
        log: Log,
    ) -> std::io::Result<Importer> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("import".to_string())
            .spawn(move || {
                let mut walk_due = true;
                let mut next = Instant::now();
                loop {
                    let wait = next.saturating_duration_since(Instant::now());
                    let last =
                        !matches!(stopped.recv_timeout(wait), Err(RecvTimeoutError::Timeout));
                    let taken = handover.take();
                    let input = if walk_due || taken.overflowed {
                        Some(WalkInput::Roots(vec![root.clone()]))
                    } else if taken.files.is_empty() {
                        None
                    } else {
                        let mut files = taken.files.clone();
                        files.sort();
                        files.dedup();
                        Some(WalkInput::Files(files))
                    };
                    if let Some(input) = input {
                        let walk = matches!(input, WalkInput::Roots(_));
                        if import_once(&schedule, input, &metrics, log, last) {
                            walk_due &= !walk;
                            handover.stored(&taken, walk);
                        } else {
                            walk_due |= walk;
                            handover.give_back(taken);
                        }
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
    input: WalkInput,
    metrics: &Metrics,
    log: Log,
    last: bool,
) -> bool {
    let why = match (&input, last) {
        (_, true) => "shutdown",
        (WalkInput::Roots(_), false) => "start",
        (WalkInput::Files(_), false) => "scheduled",
    };
    let problems = ProblemLog {
        log,
        problems: AtomicU64::new(0),
    };
    let outcome = import(schedule, input, &problems, log);
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
                .field("folders_listed", c.folders_listed)
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
fn said(db: &Path, failure: &ImportFailure) -> String {
    let message = failure.to_string();
    let mut root: &dyn std::error::Error = &failure.error;
    while let Some(source) = root.source() {
        root = source;
    }
    crate::store::damage_said(db, &message, &root.to_string()).unwrap_or(message)
}

fn import(
    schedule: &ImportSchedule,
    input: WalkInput,
    observer: &dyn Observer,
    log: Log,
) -> Result<ImportOutcome, ImportFailure> {
    let on_wait = |holder: &str| {
        log.line(Level::Warn, "import_waiting")
            .field("holder", holder)
            .field("db", schedule.db.display())
            .emit();
    };
    let options = ImportOptions {
        input,
        walk: WalkOptions::default(),
        force: false,
        threads: schedule.threads,
        max_file_size: schedule.max_file_size,
        memory_limit_mb: schedule.memory_limit_mb,
        batch_files: BATCH_FILES,
    };
    // Serve owns SIGTERM and SIGINT while it runs (see `super::run`): the import
    // installs no handlers of its own, and a signal lets the running import finish
    // before the last one; a second signal ends the process, which the ledger and
    // the next run (which marks this one `interrupted`) are made for.
    let stop = Stop::never();
    let db = &schedule.db;
    import_archive(
        db,
        schedule.lock_timeout,
        on_wait,
        &options,
        observer,
        &stop,
    )
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
