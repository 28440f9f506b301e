//! Import: runs discover -> parse -> normalize -> store for one `import` command.
//!
//! The one place that decides how work is spread over threads: a walker thread feeds
//! numbered chunks of files through a bounded channel to a rayon pool, whose idle
//! workers each read, parse and normalize the next chunk; the calling thread is the
//! single writer and stores the chunks in walk order. Everything it calls is
//! single-threaded and testable on its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::discover::{self, Found, Ledger, WalkCounters, WalkOptions};
use crate::normalize::normalize;
use crate::parse::parse_file_with;
use crate::problem::{Problem, Problems};
use crate::store::runs::{self, RunCounters, RunStatus};
use crate::store::writer::{FileContent, FileRecord, ImportWriter};
use crate::store::{Archive, StoreError};

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
    pub counters: RunCounters,
    pub status: RunStatus,
    pub elapsed: Duration,
}

/// Files per chunk handed from the walker to the parsers, and chunks in flight:
/// enough for the parsers to run on while the writer commits a batch.
const CHUNK: usize = 256;
const CHUNKS_IN_FLIGHT: usize = 32;

/// Import `options.roots` into `archive` as one import run.
pub fn run_import(
    archive: &Archive,
    options: &ImportOptions,
    observer: &dyn Observer,
) -> Result<ImportOutcome, StoreError> {
    let started = Instant::now();
    let ledger = archive.load_ledger()?;
    let conn = archive.connection();
    let roots: Vec<String> = options
        .roots
        .iter()
        .map(|r| r.display().to_string())
        .collect();
    let run_id = runs::begin_run(conn, &roots)?;
    let walk_counters = WalkCounters::default();
    let writer_connection = archive.writer_connection()?;
    let writer = ImportWriter::new(
        archive,
        &writer_connection,
        run_id,
        &walk_counters,
        options.memory_limit_mb,
    );
    let result = writer.and_then(|mut writer| {
        if options.threads <= 1 {
            import_sequential(&ledger, options, &walk_counters, &mut writer, observer)?;
        } else {
            import_parallel(&ledger, options, &walk_counters, &mut writer, observer)?;
        }
        writer.finish()
    });
    match result {
        Ok(counters) => {
            let status = if counters.errors > 0 {
                RunStatus::Errors
            } else {
                RunStatus::Ok
            };
            runs::finish_run(conn, run_id, Some(&counters), status, None)?;
            Ok(ImportOutcome {
                run_id,
                counters,
                status,
                elapsed: started.elapsed(),
            })
        }
        Err(error) => {
            let message = error.to_string();
            let _ = runs::finish_run(conn, run_id, None, RunStatus::Failed, Some(&message));
            Err(error)
        }
    }
}

fn import_sequential(
    ledger: &Ledger,
    options: &ImportOptions,
    walk_counters: &WalkCounters,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
) -> Result<(), StoreError> {
    let mut failure = None;
    discover::walk(
        &options.roots,
        ledger,
        options.walk,
        walk_counters,
        |found| {
            observer.found(1);
            let Some(record) = to_record(found, options, walk_counters) else {
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

fn import_parallel(
    ledger: &Ledger,
    options: &ImportOptions,
    walk_counters: &WalkCounters,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
) -> Result<(), StoreError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .thread_name(|i| format!("parse-{i}"))
        .build()
        .expect("a thread pool of a few threads can be built");
    let (found_tx, found_rx) = sync_channel::<Vec<Found>>(CHUNKS_IN_FLIGHT);
    let (record_tx, record_rx) = sync_channel::<(usize, Vec<FileRecord>)>(CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let named = |name: &str| std::thread::Builder::new().name(name.to_string());
        named("walk")
            .spawn_scoped(scope, move || {
                walk_in_chunks(ledger, options, walk_counters, observer, |chunk| {
                    found_tx.send(chunk).is_ok()
                })
            })
            .expect("the walker thread starts");
        named("read")
            .spawn_scoped(scope, move || {
                // Each idle worker takes the next chunk: no worker waits for another's
                // chunk to finish. Chunks are numbered so the writer can restore order.
                pool.install(|| {
                    let chunks = found_rx.into_iter().enumerate().par_bridge();
                    let _ = chunks.try_for_each(|(number, chunk)| {
                        let candidates = chunk.len();
                        let records: Vec<FileRecord> = chunk
                            .into_iter()
                            .filter_map(|f| to_record(f, options, walk_counters))
                            .collect();
                        observer.skipped((candidates - records.len()) as u64);
                        record_tx.send((number, records))
                    });
                })
            })
            .expect("the reader thread starts");
        write_in_order(record_rx, writer, observer)
    })
}

/// Walk the roots and hand the candidates on in chunks; stops when `send` fails.
fn walk_in_chunks(
    ledger: &Ledger,
    options: &ImportOptions,
    walk_counters: &WalkCounters,
    observer: &dyn Observer,
    mut send: impl FnMut(Vec<Found>) -> bool,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut send = |chunk: Vec<Found>| {
        observer.found(chunk.len() as u64);
        send(chunk)
    };
    discover::walk(
        &options.roots,
        ledger,
        options.walk,
        walk_counters,
        |found| {
            chunk.push(found);
            chunk.len() < CHUNK || send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
        },
    );
    if !chunk.is_empty() {
        send(chunk);
    }
}

/// Store numbered chunks in their walk order, holding back those that arrive early.
fn write_in_order(
    chunks: Receiver<(usize, Vec<FileRecord>)>,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
) -> Result<(), StoreError> {
    let mut early = BTreeMap::new();
    let mut next = 0;
    for (number, records) in chunks {
        early.insert(number, records);
        while let Some(records) = early.remove(&next) {
            records.iter().for_each(|record| observer.stored(record));
            writer.write(records)?;
            next += 1;
        }
    }
    Ok(())
}

/// Read, parse and normalize one file: everything between discovery and the store.
/// `None` when the ledger says the file is unchanged (it is counted as skipped).
pub fn to_record(
    found: Found,
    options: &ImportOptions,
    counters: &WalkCounters,
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
    let bytes = match discover::read_file(&file, options.max_file_size) {
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
    let previous_hash = file.known.and_then(|known| known.content_hash);
    if !options.force && content_hash.is_some() && previous_hash == content_hash {
        return FileContent::Unchanged;
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
        let postbacks = parsed
            .postbacks
            .iter()
            .map(|raw| {
                let (postback, found) = normalize(raw);
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
