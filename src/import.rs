//! Import: runs discover -> parse -> normalize -> store for one `import` command.
//!
//! The one place that decides how work is spread over threads: with one thread, every
//! stage runs on the calling thread; with more, [`parallel`] runs a walker thread, a
//! pool of readers and the calling thread as the single writer, within bounds on the
//! chunks and the bytes in flight ([`budget`]). Everything it calls is single-threaded
//! and testable on its own.
//!
//! No input can cost a run: a panic while reading, parsing or normalizing a file becomes
//! that file's `internal_error` problem ([`guarded`]). A failure on the store side, or a
//! panic there, fails the run and marks it `failed`; a stop signal marks it `interrupted`.

mod budget;
mod guard;
mod parallel;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use guard::CaughtPanic;
pub use parallel::BUDGET_BYTES;

use crate::discover::{self, FileBytes, FileToRead, Found, Ledger, WalkCounters, WalkOptions};
use crate::normalize::normalize;
use crate::parse::parse_file_with;
use crate::problem::{Problem, ProblemKind, Problems};
use crate::signals::{Signal, Stop};
use crate::store::runs::{self, RunCounters, RunStatus};
use crate::store::writer::{FileContent, FileRecord, ImportWriter};
use crate::store::{Archive, StoreError};
use parallel::Flow;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Canonical roots (see [`discover::resolve_roots`]).
    pub roots: Vec<PathBuf>,
    pub walk: WalkOptions,
    /// Read every file, even those the ledger says are unchanged.
    pub force: bool,
    /// Worker threads; 1 runs every stage on the calling thread.
    pub threads: usize,
    /// Largest file, or decompressed content, read (bytes).
    pub max_file_size: u64,
    /// DuckDB's memory limit during the import, in MB (see
    /// [`crate::store::writer::DEFAULT_MEMORY_LIMIT_MB`]).
    pub memory_limit_mb: u32,
    /// Files per committed batch (see [`crate::store::writer::BATCH_FILES`]).
    pub batch_files: usize,
}

/// Hears about progress, so the command can draw a bar and print problems.
pub trait Observer: Sync {
    /// `count` more candidate files were found.
    fn found(&self, count: u64);
    /// `count` files were unchanged since the last import and not read.
    fn skipped(&self, count: u64);
    /// A file is about to be stored.
    fn stored(&self, record: &FileRecord);
}

/// How an import went.
#[derive(Debug, Clone, Copy)]
pub struct ImportOutcome {
    pub run_id: i32,
    pub status: RunStatus,
    pub ending: Ending,
    pub elapsed: Duration,
}

/// How an import's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every file was stored; the run's final counters.
    Finished(RunCounters),
    /// A signal stopped it (status `interrupted`); the run row keeps the counts of the
    /// batches it committed.
    Interrupted(Signal),
}

/// Why an import failed; its run is then marked `failed` with this message.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A panic outside any one file's work: a bug of ours, which the user should report.
    #[error(
        "postback-archive hit a bug while {doing}: {panic}. Please report this message; \
         the run is marked failed, and the next import finishes the job"
    )]
    Bug { doing: String, panic: CaughtPanic },
    #[error("cannot start the import's threads ({0}); run it again with fewer --threads")]
    Threads(std::io::Error),
}

/// How the work of a run ended, before its row is closed.
enum Ended {
    /// Every file was stored; the run's counters.
    Finished(RunCounters),
    /// A signal stopped it; the open batch was rolled back, unless the run had finished.
    Stopped {
        signal: Signal,
        counters: Option<RunCounters>,
    },
}

/// Import `options.roots` into `archive` as one import run. Stops early, marking the
/// run `interrupted`, when `stop` is requested.
pub fn run_import(
    archive: &Archive,
    options: &ImportOptions,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<ImportOutcome, ImportError> {
    let started = Instant::now();
    let ledger = archive.load_ledger()?;
    let conn = archive.connection();
    let roots: Vec<String> = options
        .roots
        .iter()
        .map(|r| r.display().to_string())
        .collect();
    let run_id = runs::begin_run(conn, &roots)?;
    let quiet = guard::QuietPanics::install();
    let ended = guard::catch(|| import_files(archive, options, &ledger, run_id, observer, stop))
        .unwrap_or_else(|panic| {
            Err(ImportError::Bug {
                doing: "storing the files".to_string(),
                panic,
            })
        });
    drop(quiet);
    let (status, ending) = close_run(archive, run_id, ended, stop)?;
    Ok(ImportOutcome {
        run_id,
        status,
        ending,
        elapsed: started.elapsed(),
    })
}

/// Mark the run's row with how it ended: `interrupted` when a signal asked to stop
/// (whatever happened after it), else `ok` or `errors` with the final counters, or
/// `failed` with the error's message (the error is then returned).
fn close_run(
    archive: &Archive,
    run_id: i32,
    ended: Result<Ended, ImportError>,
    stop: &Stop,
) -> Result<(RunStatus, Ending), ImportError> {
    let conn = archive.connection();
    let ended = match (ended, stop.requested()) {
        (Ok(Ended::Finished(counters)), Some(signal)) => Ended::Stopped {
            signal,
            counters: Some(counters),
        },
        // The error came from stopping (DuckDB interrupted), or does not matter any more.
        (Err(_), Some(signal)) => Ended::Stopped {
            signal,
            counters: None,
        },
        (Err(error), None) => {
            let message = error.to_string();
            // The error that failed the run matters more than one marking it.
            let _ = runs::finish_run(conn, run_id, None, RunStatus::Failed, Some(&message));
            return Err(error);
        }
        (Ok(ended), _) => ended,
    };
    match ended {
        Ended::Finished(counters) => {
            let status = if counters.errors > 0 {
                RunStatus::Errors
            } else {
                RunStatus::Ok
            };
            runs::finish_run(conn, run_id, Some(&counters), status, None)?;
            Ok((status, Ending::Finished(counters)))
        }
        Ended::Stopped { signal, counters } => {
            let status = RunStatus::Interrupted;
            let message = format!("interrupted by {}", signal.name());
            runs::finish_run(conn, run_id, counters.as_ref(), status, Some(&message))?;
            Ok((status, Ending::Interrupted(signal)))
        }
    }
}

/// Walk, read and store every file of the run, while a watcher thread turns a stop
/// request into closing the flow (waking the threads waiting in it).
fn import_files(
    archive: &Archive,
    options: &ImportOptions,
    ledger: &Ledger,
    run_id: i32,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<Ended, ImportError> {
    let walk_counters = WalkCounters::default();
    let writer_connection = archive.writer_connection()?;
    let mut writer = ImportWriter::new(
        archive,
        &writer_connection,
        run_id,
        &walk_counters,
        options.memory_limit_mb,
        options.batch_files,
    )?;
    let flow = Flow::new(options.threads);
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let _done = SetOnDrop(&done);
        thread::Builder::new()
            .name("stop".to_string())
            .spawn_scoped(scope, || watch(stop, &done, || flow.close()))
            .map_err(ImportError::Threads)?;
        if options.threads <= 1 {
            import_sequential(ledger, options, &walk_counters, &mut writer, observer, stop)?;
        } else {
            let walk = &walk_counters;
            parallel::import_parallel(ledger, options, walk, &mut writer, observer, stop, &flow)?;
        }
        if let Some(signal) = stop.requested() {
            // Dropping the writer rolls its open batch back.
            return Ok(Ended::Stopped {
                signal,
                counters: None,
            });
        }
        Ok(Ended::Finished(writer.finish()?))
    })
}

/// Sets its flag when dropped, however the scope it guards ends.
struct SetOnDrop<'f>(&'f AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Poll for a stop request until `done`; call `on_stop` once when one comes.
fn watch(stop: &Stop, done: &AtomicBool, on_stop: impl FnOnce()) {
    while !done.load(Ordering::SeqCst) {
        if stop.requested().is_some() {
            return on_stop();
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Every file on the calling thread, one at a time, until the end or a stop request.
fn import_sequential(
    ledger: &Ledger,
    options: &ImportOptions,
    walk_counters: &WalkCounters,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<(), StoreError> {
    let mut failure = None;
    discover::walk(
        &options.roots,
        ledger,
        options.walk,
        walk_counters,
        |found| {
            if stop.requested().is_some() {
                return false;
            }
            observer.found(1);
            let Some(record) = guarded(found, |found| to_record(found, options, walk_counters))
            else {
                observer.skipped(1);
                return true;
            };
            observer.stored(&record);
            match writer.write(vec![record]) {
                Ok(()) => true,
                Err(error) => {
                    failure = Some(error);
                    false
                }
            }
        },
    );
    failure.map_or(Ok(()), Err)
}

/// Do one file's work with `stage` (in production [`to_record`]), so that a panic in it
/// costs that file only: it becomes the file's `internal_error` problem, with the
/// panic's message and place. The file stays out of the ledger (like an unreadable
/// one), so the next import, perhaps of a fixed version, reads it again.
pub fn guarded(
    found: Found,
    stage: impl FnOnce(Found) -> Option<FileRecord>,
) -> Option<FileRecord> {
    let (path, known) = match &found {
        Found::File(file) => (file.display.clone(), file.known),
        Found::Unreadable { display, .. } => (display.clone(), None),
    };
    guard::catch(|| stage(found)).unwrap_or_else(|panic| {
        let message = format!(
            "postback-archive hit a bug reading this file ({panic}); please report it. \
             The file is not imported, and the next import reads it again"
        );
        let problem = Problem::whole_file(ProblemKind::InternalError, message);
        Some(FileRecord::unreadable(path, known, problem))
    })
}

/// Read, parse and normalize one file: everything between discovery and the store.
/// `None` when the ledger says the file is unchanged (it is counted as skipped).
pub fn to_record(
    found: Found,
    options: &ImportOptions,
    counters: &WalkCounters,
) -> Option<FileRecord> {
    to_record_with(found, options, counters, |file| {
        discover::read_file(file, options.max_file_size)
    })
}

/// [`to_record`], reading the file's bytes with `read`.
fn to_record_with(
    found: Found,
    options: &ImportOptions,
    counters: &WalkCounters,
    read: impl FnOnce(&FileToRead) -> Result<FileBytes, Problem>,
) -> Option<FileRecord> {
    let file = match found {
        Found::File(file) => file,
        Found::Unreadable { display, problem } => {
            return Some(FileRecord::unreadable(display, None, problem));
        }
    };
    if !options.force {
        match discover::unchanged(&file) {
            Ok(true) => {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Ok(false) => {}
            Err(problem) => return Some(FileRecord::unreadable(file.display, file.known, problem)),
        }
    }
    let bytes = match read(&file) {
        Ok(bytes) => bytes,
        Err(problem) => return Some(FileRecord::unreadable(file.display, file.known, problem)),
    };
    let content = parse_content(
        &file,
        bytes.content,
        bytes.content_hash,
        bytes.problem,
        options,
    );
    Some(FileRecord {
        path: file.display,
        path_key: file.path_key,
        size: bytes.size,
        modified_us: bytes.modified_us,
        compressed: file.compressed,
        known: file.known,
        content,
    })
}

fn parse_content(
    file: &discover::FileToRead,
    content: Vec<u8>,
    content_hash: Option<u128>,
    problem: Option<Problem>,
    options: &ImportOptions,
) -> FileContent {
    if let Some(known) = file.known
        && !options.force
        && content_hash.is_some()
        && known.content_hash == content_hash
    {
        return FileContent::Unchanged(known);
    }
    if content.is_empty() && problem.is_some() {
        return FileContent::Read {
            content_hash,
            postbacks: Vec::new(),
            problems: problem.into_iter().collect(),
        };
    }
    parse_file_with(&content, |parsed| {
        // The reader's problem (a damaged gzip stream) first, so the cap never hides it.
        let mut problems = Problems::from_iter(problem);
        problems.absorb(parsed.problems);
        // Each raw postback is dropped once normalized, so the file's raw and normalized
        // postbacks are not all held at once.
        let postbacks = parsed
            .postbacks
            .into_iter()
            .map(|raw| {
                let (postback, found) = normalize(&raw);
                problems.extend(found);
                postback
            })
            .collect();
        FileContent::Read {
            content_hash,
            postbacks,
            problems: problems.into_vec(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RawError;
    use crate::store::writer::ImportWriter;

    fn archive() -> (tempfile::TempDir, Archive) {
        let dir = tempfile::tempdir().unwrap();
        let archive =
            Archive::open_for_write(&dir.path().join("a.duckdb"), Duration::ZERO, |_| {}).unwrap();
        (dir, archive)
    }

    fn value(archive: &Archive, sql: &str) -> String {
        let conn = archive.connection();
        conn.query_row(&format!("SELECT CAST(({sql}) AS VARCHAR)"), [], |row| {
            row.get::<_, Option<String>>(0)
        })
        .unwrap()
        .unwrap_or_else(|| "NULL".to_string())
    }

    #[test]
    fn a_panic_in_a_files_work_becomes_its_internal_error_problem_and_stays_out_of_the_ledger() {
        let _quiet = guard::QuietPanics::install();
        let found = Found::Unreadable {
            display: "/in/bad.xml".to_string(),
            problem: Problem::whole_file(ProblemKind::Unreadable, "not this one"),
        };
        let record = guarded(found, |_| panic!("byte index 27 is not a char boundary")).unwrap();
        assert_eq!(record.path, "/in/bad.xml");
        let FileContent::Unreadable(problem) = &record.content else {
            panic!("{record:?}");
        };
        assert_eq!(problem.kind, ProblemKind::InternalError);
        let message = &problem.message;
        assert!(
            message.starts_with(
                "postback-archive hit a bug reading this file (byte index 27 is not a char boundary at src/import.rs:"
            ),
            "{message}"
        );
        assert!(
            message.ends_with(
                "); please report it. The file is not imported, and the next import reads it again"
            ),
            "{message}"
        );

        let (_dir, archive) = archive();
        let run_id = runs::begin_run(archive.connection(), &[]).unwrap();
        let walk = WalkCounters::default();
        let raw = archive.writer_connection().unwrap();
        let mut writer = ImportWriter::new(&archive, &raw, run_id, &walk, 96, 1000).unwrap();
        writer.write(vec![record]).unwrap();
        let counters = writer.finish().unwrap();
        assert_eq!(counters.errors, 1);
        assert_eq!(value(&archive, "SELECT count(*) FROM files"), "0");
        assert_eq!(
            value(&archive, "SELECT kind || ' ' || path FROM import_errors"),
            "internal_error /in/bad.xml"
        );
    }

    #[test]
    fn work_that_does_not_panic_passes_through() {
        let found = Found::Unreadable {
            display: "/in/gone.xml".to_string(),
            problem: Problem::whole_file(ProblemKind::Unreadable, "cannot read"),
        };
        assert!(guarded(found, |_| None).is_none());
    }

    fn counters(errors: u64) -> RunCounters {
        RunCounters {
            files_seen: 3,
            files_read: 3,
            postbacks_new: 2,
            errors,
            ..RunCounters::default()
        }
    }

    const RUN_ROW: &str = "SELECT status || ' ' || files_read || ' ' || (finished_at IS NOT NULL) || ' ' || coalesce(message, '-') FROM import_runs";

    #[test]
    fn a_failed_or_panicked_store_marks_the_run_failed_with_its_message() {
        let (_dir, archive) = archive();
        let run_id = runs::begin_run(archive.connection(), &[]).unwrap();
        let bug = ImportError::Bug {
            doing: "storing the files".to_string(),
            panic: CaughtPanic {
                message: "attempt to add with overflow at src/store/writer/mod.rs:1:2".to_string(),
            },
        };
        let error = close_run(&archive, run_id, Err(bug), &Stop::never()).unwrap_err();
        let expected = "postback-archive hit a bug while storing the files: attempt to add with overflow at src/store/writer/mod.rs:1:2. Please report this message; the run is marked failed, and the next import finishes the job";
        assert_eq!(error.to_string(), expected);
        assert_eq!(
            value(&archive, RUN_ROW),
            format!("failed 0 true {expected}")
        );

        let run_id = runs::begin_run(archive.connection(), &[]).unwrap();
        let store = ImportError::Store(StoreError::Write(RawError::DuckDb(
            "IO Error: disk full".to_string(),
        )));
        assert!(close_run(&archive, run_id, Err(store), &Stop::never()).is_err());
        assert_eq!(
            value(&archive, &format!("{RUN_ROW} WHERE run_id = {run_id}")),
            "failed 0 true IO Error: disk full"
        );
    }

    #[test]
    fn a_run_ends_ok_or_errors_and_a_stop_request_marks_it_interrupted() {
        let (_dir, archive) = archive();
        let run = |ended, stop: &Stop| {
            let run_id = runs::begin_run(archive.connection(), &[]).unwrap();
            let closed = close_run(&archive, run_id, ended, stop).unwrap();
            let row = value(&archive, &format!("{RUN_ROW} WHERE run_id = {run_id}"));
            (closed, row)
        };
        let never = Stop::never();
        let (closed, row) = run(Ok(Ended::Finished(counters(0))), &never);
        assert_eq!(closed, (RunStatus::Ok, Ending::Finished(counters(0))));
        assert_eq!(row, "ok 3 true -");
        let (closed, row) = run(Ok(Ended::Finished(counters(1))), &never);
        assert_eq!(closed.0, RunStatus::Errors);
        assert_eq!(row, "errors 3 true -");

        let stopped = Stop::never();
        stopped.request(15);
        let sigterm = Signal(15);
        let (closed, row) = run(Ok(Ended::Finished(counters(0))), &stopped);
        assert_eq!(
            closed,
            (RunStatus::Interrupted, Ending::Interrupted(sigterm))
        );
        assert_eq!(row, "interrupted 3 true interrupted by SIGTERM");
        let interrupted = ImportError::Store(StoreError::Write(RawError::DuckDb(
            "INTERRUPT Error".to_string(),
        )));
        let (closed, row) = run(Err(interrupted), &stopped);
        assert_eq!(closed.1, Ending::Interrupted(sigterm));
        assert_eq!(row, "interrupted 0 true interrupted by SIGTERM");
        let ended = Ended::Stopped {
            signal: Signal(2),
            counters: None,
        };
        let (closed, row) = run(Ok(ended), &never);
        assert_eq!(closed.1, Ending::Interrupted(Signal(2)));
        assert_eq!(row, "interrupted 0 true interrupted by SIGINT");
    }
}
