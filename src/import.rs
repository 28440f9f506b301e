//! Import: runs discover -> parse -> normalize -> store for one `import` command (and
//! for each of `serve`'s scheduled imports).
//!
//! The one place that decides how work is spread over threads: with one thread, every
//! stage runs on the calling thread; with more, [`parallel`] runs a walker thread, a
//! pool of readers and the calling thread as the single writer, within bounds on the
//! chunks and the bytes in flight ([`budget`]). Everything it calls is single-threaded
//! and testable on its own ([`record`] turns what the walk found into entries).
//!
//! No input can cost a run: a panic while reading, parsing or normalizing a file becomes
//! that file's `internal_error` problem. A failure on the store side, or a panic
//! there, fails the run and marks it `failed`; a stop signal marks it `interrupted`.

mod budget;
mod panics;
mod parallel;
mod record;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use panics::CaughtPanic;
pub use parallel::BUDGET_BYTES;

use crate::discover::{
    self, FileToRead, Folders, LedgerLookup, LookupError, MemberBytes, WalkCounters, WalkInput,
    WalkOptions,
};
use crate::problem::printable;
use crate::signals::{Signal, Stop};
use crate::store::runs::{RunCounters, RunStart, RunStatus};
use crate::store::writer::{Entry, FileRecord, ImportWriter};
use crate::store::{Archive, StoreError};
use parallel::Flow;
use record::{Fetch, Fetched, read_found};

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// What to walk: canonical roots (see [`discover::resolve_roots`]), or files
    /// known to be new.
    pub input: WalkInput,
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

impl ImportOptions {
    /// What the run's row records as its roots: the roots walked, or the folders of
    /// the files named (not every file).
    fn roots_text(&self) -> Vec<String> {
        let mut roots: Vec<String> = match &self.input {
            WalkInput::Roots(roots) => roots.iter().map(|r| r.display().to_string()).collect(),
            WalkInput::Files(files) => files
                .iter()
                .filter_map(|file| file.parent())
                .map(|folder| folder.display().to_string())
                .collect(),
        };
        roots.dedup();
        roots
    }
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
    #[error(transparent)]
    Ledger(#[from] LookupError),
    #[error("cannot finish an interrupted compact: {0}")]
    Compaction(Box<crate::compact::CompactError>),
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

/// Import `options.input` into `archive` as one import run. Stops early, marking the
/// run `interrupted`, when `stop` is requested.
pub fn run_import(
    archive: &Archive,
    options: &ImportOptions,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<ImportOutcome, ImportError> {
    let started = Instant::now();
    // A compaction a killed command left half done is finished first: until then, the
    // ledger files some files where the folders do not show them yet.
    crate::compact::recover(archive).map_err(|error| ImportError::Compaction(Box::new(error)))?;
    let folders = archive.load_folders()?;
    let run = archive.begin_run(&options.roots_text())?;
    let quiet = panics::QuietPanics::install();
    let ended = panics::catch(|| import_files(archive, options, folders, &run, observer, stop))
        .unwrap_or_else(|panic| {
            Err(ImportError::Bug {
                doing: "storing the files".to_string(),
                panic,
            })
        });
    drop(quiet);
    let (status, ending) = close_run(archive, &run, ended, stop)?;
    Ok(ImportOutcome {
        run_id: run.run_id,
        status,
        ending,
        elapsed: started.elapsed(),
    })
}

/// Why [`import_archive`] failed, with what to do about it on a line of its own
/// when the error is one a user can act on.
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", hint.as_ref().map(|hint| format!("\n{hint}")).unwrap_or_default())]
pub struct ImportFailure {
    pub error: ImportError,
    pub hint: Option<String>,
    /// The archive could not be opened (its message names it already); no run began.
    pub opening: bool,
}

/// Open the archive at `db` for writing (waiting up to `lock_timeout` for another
/// process, telling `on_wait` who) and import into it: the one entry of the `import`
/// command and of `serve`'s scheduled imports, so both give the same hints.
pub fn import_archive(
    db: &Path,
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
    options: &ImportOptions,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<ImportOutcome, ImportFailure> {
    let fail = |opening: bool| {
        move |error: ImportError| {
            let hint = hint(&error.to_string(), options.memory_limit_mb, db);
            ImportFailure {
                error,
                hint,
                opening,
            }
        }
    };
    let archive = Archive::open_for_write(db, lock_timeout, on_wait)
        .map_err(|error| fail(true)(error.into()))?;
    run_import(&archive, options, observer, stop).map_err(fail(false))
}

/// What to do about an error DuckDB raised in terms of its own SQL settings, or the
/// operating system's words inside its message.
fn hint(message: &str, memory_limit_mb: u32, db: &Path) -> Option<String> {
    const OUT_OF_MEMORY: [&str; 4] = [
        "Out of Memory Error",
        "could not allocate",
        "failed to allocate",
        "failed to pin block",
    ];
    if OUT_OF_MEMORY.iter().any(|sign| message.contains(sign)) {
        let raised = (memory_limit_mb.saturating_mul(2)).max(256);
        return Some(format!(
            "DuckDB needed more than --memory-limit {memory_limit_mb} (MB); run the import again with --memory-limit {raised}"
        ));
    }
    if message.contains("No space left on device") {
        return Some(format!(
            "The disk holding {} is full. The batches committed before it filled are kept; free space there and run import again to finish the job",
            printable(&db.display().to_string())
        ));
    }
    None
}

/// Mark the run's row with how it ended: `interrupted` when a signal asked to stop
/// (whatever happened after it), else `ok` or `errors` with the final counters, or
/// `failed` with the error's message (the error is then returned).
fn close_run(
    archive: &Archive,
    run: &RunStart,
    ended: Result<Ended, ImportError>,
    stop: &Stop,
) -> Result<(RunStatus, Ending), ImportError> {
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
            // A damaged archive is not written to: the run's row is left unwritten.
            let message = error.to_string();
            if !matches!(error, ImportError::Store(StoreError::Damaged { .. }))
                && !crate::store::is_damage(&message)
            {
                // The error that failed the run matters more than one marking it.
                let _ = archive.finish_run(run, None, RunStatus::Failed, Some(&message));
            }
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
            archive.finish_run(run, Some(&counters), status, None)?;
            Ok((status, Ending::Finished(counters)))
        }
        Ended::Stopped { signal, counters } => {
            let status = RunStatus::Interrupted;
            let message = format!("interrupted by {}", signal.name());
            archive.finish_run(run, counters.as_ref(), status, Some(&message))?;
            Ok((status, Ending::Interrupted(signal)))
        }
    }
}

/// Walk, read and store every file of the run, while a watcher thread turns a stop
/// request into closing the flow (waking the threads waiting in it).
fn import_files(
    archive: &Archive,
    options: &ImportOptions,
    folders: Folders,
    run: &RunStart,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<Ended, ImportError> {
    let walk_counters = WalkCounters::default();
    let writer_connection = archive.writer_connection()?;
    let mut writer = ImportWriter::new(
        archive,
        &writer_connection,
        run,
        &walk_counters,
        options.memory_limit_mb,
        options.batch_files,
    )?;
    let walk = Walk {
        folders,
        ledger: archive.ledger_reader()?,
        counters: &walk_counters,
    };
    let flow = Flow::new(options.threads);
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let _done = SetOnDrop(&done);
        thread::Builder::new()
            .name("stop".to_string())
            .spawn_scoped(scope, || watch(stop, &done, || flow.close()))
            .map_err(ImportError::Threads)?;
        if options.threads <= 1 {
            import_sequential(walk, options, &mut writer, observer, stop)?;
        } else {
            parallel::import_parallel(walk, options, &mut writer, observer, stop, &flow)?;
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

/// What the walk of one run needs: the folder ledger, a view of the file ledger, and
/// the counters it shares with the writer.
pub struct Walk<'a, L> {
    folders: Folders,
    ledger: L,
    counters: &'a WalkCounters,
}

impl<L: LedgerLookup> Walk<'_, L> {
    /// Walk `options.input`, handing each find to `emit` (false stops the walk).
    fn run(
        mut self,
        options: &ImportOptions,
        emit: impl FnMut(discover::Found) -> bool,
    ) -> Result<(), LookupError> {
        let walk_options = WalkOptions {
            relist: options.walk.relist || options.force,
            reread: options.walk.reread || options.force,
            ..options.walk
        };
        discover::walk(
            &options.input,
            &mut self.folders,
            &mut self.ledger,
            walk_options,
            self.counters,
            emit,
        )
    }
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
fn import_sequential<L: LedgerLookup>(
    walk: Walk<'_, L>,
    options: &ImportOptions,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<(), ImportError> {
    let counters = walk.counters;
    let mut failure = None;
    let mut fetch = FromDisk {
        max_file_size: options.max_file_size,
    };
    walk.run(options, |found| {
        if stop.requested().is_some() {
            return false;
        }
        let counted = matches!(
            found,
            discover::Found::File(_) | discover::Found::Unreadable { .. }
        );
        if counted {
            observer.found(1);
        }
        let mut entries = Vec::new();
        let read = read_found(found, options, counters, &mut fetch, &mut |entry, _| {
            entries.push(entry)
        });
        if read.is_err() {
            return false;
        }
        let files = entries
            .iter()
            .filter(|e| matches!(e, Entry::File(_)))
            .count();
        if counted && files == 0 {
            observer.skipped(1);
        }
        for entry in &entries {
            if let Entry::File(record) = entry {
                observer.stored(record);
            }
        }
        match writer.write(entries) {
            Ok(()) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        }
    })?;
    failure.map_or(Ok(()), |error| Err(error.into()))
}

/// Bytes straight from disk, for the import on one thread.
struct FromDisk {
    max_file_size: u64,
}

impl Fetch for FromDisk {
    type Charge = ();

    fn file(&mut self, file: &FileToRead) -> Option<Fetched<()>> {
        Some((discover::read_file(file, self.max_file_size), None))
    }

    fn member(&mut self, member: &mut MemberBytes<'_>) -> Option<Fetched<()>> {
        Some((member.read(self.max_file_size), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemKind;
    use crate::store::RawError;
    use crate::store::writer::FileContent;

    fn archive() -> (tempfile::TempDir, Archive) {
        let dir = tempfile::tempdir().unwrap();
        let archive =
            Archive::open_for_write(&dir.path().join("a.duckdb"), Duration::ZERO, |_| {}).unwrap();
        (dir, archive)
    }

    fn value(archive: &Archive, sql: &str) -> String {
        archive.test_value(sql)
    }

    /// Bytes that panic on the way, as a bug of ours would.
    struct PanickingFetch;

    impl Fetch for PanickingFetch {
        type Charge = ();

        fn file(&mut self, _file: &FileToRead) -> Option<Fetched<()>> {
            panic!("byte index 27 is not a char boundary")
        }

        fn member(&mut self, _member: &mut MemberBytes<'_>) -> Option<Fetched<()>> {
            panic!("not a member")
        }
    }

    #[test]
    fn a_panic_in_a_files_work_becomes_its_internal_error_problem_and_stays_out_of_the_ledger() {
        let _quiet = panics::QuietPanics::install();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.xml");
        std::fs::write(&path, "<POSTBACK/>").unwrap();
        let found = discover::Found::File(FileToRead {
            path_key: discover::path_key(&path),
            display: "/in/bad.xml".to_string(),
            path,
            parent: None,
            compressed: false,
            known: None,
            folder: None,
        });
        let options = ImportOptions {
            input: WalkInput::Roots(Vec::new()),
            walk: WalkOptions::default(),
            force: false,
            threads: 1,
            max_file_size: 1000,
            memory_limit_mb: 96,
            batch_files: 1000,
        };
        let counters = WalkCounters::default();
        let mut entries = Vec::new();
        let read = read_found(
            found,
            &options,
            &counters,
            &mut PanickingFetch,
            &mut |e, _| entries.push(e),
        );
        assert_eq!(read, Ok(()));
        let [Entry::File(record)] = entries.as_slice() else {
            panic!("{entries:?}");
        };
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
        let run = archive.begin_run(&[]).unwrap();
        let walk = WalkCounters::default();
        let raw = archive.writer_connection().unwrap();
        let mut writer = ImportWriter::new(&archive, &raw, &run, &walk, 96, 1000).unwrap();
        writer.write(entries).unwrap();
        let counters = writer.finish().unwrap();
        assert_eq!(counters.errors, 1);
        assert_eq!(value(&archive, "SELECT count(*) FROM files"), "0");
        assert_eq!(
            value(&archive, "SELECT kind || ' ' || path FROM import_errors"),
            "internal_error /in/bad.xml"
        );
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
        let run = archive.begin_run(&[]).unwrap();
        let bug = ImportError::Bug {
            doing: "storing the files".to_string(),
            panic: CaughtPanic {
                message: "attempt to add with overflow at src/store/writer/mod.rs:1:2".to_string(),
            },
        };
        let error = close_run(&archive, &run, Err(bug), &Stop::never()).unwrap_err();
        let expected = "postback-archive hit a bug while storing the files: attempt to add with overflow at src/store/writer/mod.rs:1:2. Please report this message; the run is marked failed, and the next import finishes the job";
        assert_eq!(error.to_string(), expected);
        assert_eq!(
            value(&archive, RUN_ROW),
            format!("failed 0 true {expected}")
        );

        let run = archive.begin_run(&[]).unwrap();
        let run_id = run.run_id;
        let store = ImportError::Store(StoreError::Write(RawError::DuckDb(
            "IO Error: disk full".to_string(),
        )));
        assert!(close_run(&archive, &run, Err(store), &Stop::never()).is_err());
        assert_eq!(
            value(&archive, &format!("{RUN_ROW} WHERE run_id = {run_id}")),
            "failed 0 true IO Error: disk full"
        );
    }

    #[test]
    fn a_run_ends_ok_or_errors_and_a_stop_request_marks_it_interrupted() {
        let (_dir, archive) = archive();
        let run = |ended, stop: &Stop| {
            let run = archive.begin_run(&[]).unwrap();
            let closed = close_run(&archive, &run, ended, stop).unwrap();
            let row = value(
                &archive,
                &format!("{RUN_ROW} WHERE run_id = {}", run.run_id),
            );
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
