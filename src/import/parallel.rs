//! Import, helper: the parallel pipeline between the walk and the single writer.
//!
//! A walker thread feeds numbered chunks of files, within a [`Window`], to a rayon pool
//! whose idle workers each read, parse and normalize the next chunk, taking each file's
//! bytes from the shared [`Budget`] and handing the chunk on in pieces as they fill.
//! The calling thread is the writer: it stores the pieces in walk order and gives back
//! their bytes and their chunk's place in the window.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Scope, ScopedJoinHandle};

use rayon::prelude::*;

use super::budget::{Budget, Charge, Window};
use super::panics::{self, CaughtPanic};
use super::record::{Fetch, Fetched, read_found};
use super::{ImportError, ImportOptions, Observer, Walk};
use crate::discover::{
    self, FileBytes, FileToRead, Found, LedgerLookup, LookupError, MemberBytes, WalkCounters,
};
use crate::problem::{Problem, ProblemKind};
use crate::signals::Stop;
use crate::store::writer::{Entry, ImportWriter};

/// Files per chunk handed from the walker to the readers.
const CHUNK: usize = 256;
/// Chunks between the walker and the writer: at least this many, or two per thread.
const MIN_WINDOW: usize = 32;
/// Bytes of file content read but not yet stored, for all readers together (the head of
/// the line may overdraw by one piece and one file; see [`Budget`]).
pub const BUDGET_BYTES: u64 = 64 * 1024 * 1024;
/// A chunk's records are handed to the writer whenever they hold this much content.
const PIECE_BYTES: u64 = 1024 * 1024;
/// A file is first read with at most this many bytes taken from the budget; most
/// postback files are far smaller. A larger one waits for its own size.
const PROBE_BYTES: u64 = 1024 * 1024;

/// The window and the budget of one import; closing it wakes and stops every thread
/// waiting in it.
pub struct Flow {
    window: Window,
    budget: Budget,
    window_size: usize,
}

impl Flow {
    pub fn new(threads: usize) -> Self {
        let window_size = MIN_WINDOW.max(threads.saturating_mul(2));
        Flow {
            window: Window::new(window_size),
            budget: Budget::new(BUDGET_BYTES, PIECE_BYTES),
            window_size,
        }
    }

    pub fn close(&self) {
        self.window.close();
        self.budget.close();
    }
}

/// Closes the flow when the writer is done, however it ended, so no thread waits on.
struct CloseOnDrop<'f>(&'f Flow);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Records of one chunk handed to the writer at once, with the bytes they hold.
struct Piece<'b> {
    chunk: usize,
    index: usize,
    /// The chunk's last piece: after it the writer moves on to the next chunk.
    last: bool,
    entries: Vec<Entry>,
    charge: Option<Charge<'b>>,
}

impl<'b> Piece<'b> {
    fn bytes(&self) -> u64 {
        self.charge.as_ref().map_or(0, Charge::bytes)
    }

    fn push(&mut self, entry: Entry, charge: Option<Charge<'b>>) {
        self.entries.push(entry);
        match (&mut self.charge, charge) {
            (Some(held), Some(more)) => held.absorb(more),
            (held, more) => *held = held.take().or(more),
        }
    }

    /// This piece, to send; `self` becomes the next piece of the chunk.
    fn hand_on(&mut self) -> Piece<'b> {
        let next = Piece {
            chunk: self.chunk,
            index: self.index + 1,
            last: false,
            entries: Vec::new(),
            charge: None,
        };
        std::mem::replace(self, next)
    }
}

/// What one import's readers share.
struct Readers<'a, 'b> {
    options: &'a ImportOptions,
    counters: &'a WalkCounters,
    observer: &'a dyn Observer,
    stop: &'a Stop,
    budget: &'b Budget,
}

/// Import with `options.threads` readers, until the end or a stop request.
pub fn import_parallel<L: LedgerLookup + Send>(
    walk: Walk<'_, L>,
    options: &ImportOptions,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
    stop: &Stop,
    flow: &Flow,
) -> Result<(), ImportError> {
    let walk_counters = walk.counters;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .thread_name(|i| format!("parse-{i}"))
        .build()
        .map_err(|error| ImportError::Threads(std::io::Error::other(error)))?;
    let (found_tx, found_rx) = sync_channel::<Vec<Found>>(flow.window_size);
    let (piece_tx, piece_rx) = sync_channel::<Piece<'_>>(flow.window_size);
    let readers = Readers {
        options,
        counters: walk_counters,
        observer,
        stop,
        budget: &flow.budget,
    };
    let lookup_failure = Mutex::new(None);
    thread::scope(|scope| {
        let closer = CloseOnDrop(flow);
        let failure = &lookup_failure;
        let walker = spawn(scope, "walk", move || {
            let walked = walk_in_chunks(walk, options, observer, |chunk| {
                stop.requested().is_none() && flow.window.enter() && found_tx.send(chunk).is_ok()
            });
            if let Err(error) = walked {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                flow.close();
            }
        })?;
        let reader = spawn(scope, "read", move || {
            pool.install(|| read_chunks(found_rx, &piece_tx, &readers));
        })?;
        let written = write_in_order(piece_rx, writer, observer, stop, flow);
        drop(closer);
        let walked = joined(walker, "walking the input");
        let read = joined(reader, "reading files");
        let lookup = lookup_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(error) = lookup {
            return Err(error.into());
        }
        written?;
        walked.and(read)
    })
}

/// Start a named thread that catches its own panic.
fn spawn<'s, 'e>(
    scope: &'s Scope<'s, 'e>,
    name: &str,
    work: impl FnOnce() + Send + 's,
) -> Result<ScopedJoinHandle<'s, Result<(), CaughtPanic>>, ImportError> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, move || panics::catch(work))
        .map_err(ImportError::Threads)
}

fn joined(
    handle: ScopedJoinHandle<'_, Result<(), CaughtPanic>>,
    doing: &str,
) -> Result<(), ImportError> {
    let caught = match handle.join() {
        Ok(result) => result,
        Err(_) => Err(CaughtPanic {
            message: "a thread ended without a message".to_string(),
        }),
    };
    caught.map_err(|panic| ImportError::Bug {
        doing: doing.to_string(),
        panic,
    })
}

/// Walk the input and hand what it finds on in chunks; stops when `send` fails.
fn walk_in_chunks<L: LedgerLookup>(
    walk: Walk<'_, L>,
    options: &ImportOptions,
    observer: &dyn Observer,
    mut send: impl FnMut(Vec<Found>) -> bool,
) -> Result<(), LookupError> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut send = |chunk: Vec<Found>| {
        observer.found(chunk.iter().filter(|f| is_file(f)).count() as u64);
        send(chunk)
    };
    walk.run(options, |found| {
        chunk.push(found);
        chunk.len() < CHUNK || send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
    })?;
    if !chunk.is_empty() {
        send(chunk);
    }
    Ok(())
}

/// Whether a find is one file of the progress bar: a tarball's members are counted
/// as they are read, and a folder is none.
fn is_file(found: &Found) -> bool {
    matches!(found, Found::File(_) | Found::Unreadable { .. })
}

/// Each idle worker takes the next chunk: no worker waits for another's chunk to
/// finish. Chunks are numbered so the writer can restore their order.
/// A panic outside any one file's work stops the reading and is raised again on the
/// calling thread (without printing it twice).
fn read_chunks<'b>(
    chunks: Receiver<Vec<Found>>,
    pieces: &SyncSender<Piece<'b>>,
    readers: &Readers<'_, 'b>,
) {
    let first_panic = Mutex::new(None);
    let chunks = chunks.into_iter().enumerate().par_bridge();
    let _ = chunks.try_for_each(|(number, chunk)| {
        let send = |piece| pieces.send(piece).map_err(drop);
        panics::catch(|| read_chunk(number, chunk, readers, send)).unwrap_or_else(|panic| {
            let mut first = first_panic.lock().unwrap_or_else(PoisonError::into_inner);
            first.get_or_insert(panic);
            Err(())
        })
    });
    let first = first_panic
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(panic) = first {
        std::panic::resume_unwind(Box::new(panic.message));
    }
}

/// Read, parse and normalize one chunk's files and hand them on in pieces. Fails when
/// the import stops or the writer has gone.
fn read_chunk<'b>(
    number: usize,
    chunk: Vec<Found>,
    readers: &Readers<'_, 'b>,
    send: impl Fn(Piece<'b>) -> Result<(), ()>,
) -> Result<(), ()> {
    let mut piece = Piece {
        chunk: number,
        index: 0,
        last: false,
        entries: Vec::new(),
        charge: None,
    };
    let mut fetch = WithinBudget {
        budget: readers.budget,
        chunk: number,
        max_file_size: readers.options.max_file_size,
    };
    let mut gone = false;
    for found in chunk {
        if readers.stop.requested().is_some() || gone {
            return Err(());
        }
        let file = is_file(&found);
        let mut files = 0;
        let mut push = |entry: Entry, charge| {
            files += u64::from(matches!(entry, Entry::File(_)));
            piece.push(entry, charge);
            if piece.bytes() >= PIECE_BYTES && !gone {
                gone = send(piece.hand_on()).is_err();
            }
        };
        read_found(
            found,
            readers.options,
            readers.counters,
            &mut fetch,
            &mut push,
        )
        .map_err(drop)?;
        match (file, files) {
            (true, 0) => readers.observer.skipped(1),
            (true, _) => {}
            (false, files) => readers.observer.found(files),
        }
    }
    piece.last = true;
    send(piece)
}

/// Bytes read within the budget shared by the readers (see [`read_within_budget`]).
struct WithinBudget<'b> {
    budget: &'b Budget,
    chunk: usize,
    max_file_size: u64,
}

impl<'b> Fetch for WithinBudget<'b> {
    type Charge = Charge<'b>;

    fn file(&mut self, file: &FileToRead) -> Option<Fetched<Charge<'b>>> {
        let (bytes, charge) =
            read_within_budget(file, self.max_file_size, self.budget, self.chunk)?;
        Some((bytes, Some(charge)))
    }

    /// A member's size is in its header: that much is taken (a `.gz` member, the most
    /// it may inflate to) before it is read, and given back down to what it holds.
    fn member(&mut self, member: &mut MemberBytes<'_>) -> Option<Fetched<Charge<'b>>> {
        let size = member.member.size;
        let needed = match (member.member.compressed, size > self.max_file_size) {
            (_, true) => 0,
            (true, false) => self.max_file_size,
            (false, false) => size,
        };
        let mut charge = self.budget.take(self.chunk, needed)?;
        let bytes = member.read(self.max_file_size);
        let held = bytes.as_ref().map_or(0, |read| read.content.len() as u64);
        charge.shrink_to(held);
        Some((bytes, Some(charge)))
    }
}

/// Read a file within the budget: first with [`PROBE_BYTES`] taken; a larger file gives
/// them back and waits for its size (for a `.gz`, the most it may inflate to) before
/// it is read whole. The charge then holds the content's size. `None` when the budget
/// closed.
fn read_within_budget<'b>(
    file: &FileToRead,
    max_file_size: u64,
    budget: &'b Budget,
    chunk: usize,
) -> Option<(Result<FileBytes, Problem>, Charge<'b>)> {
    let probe = PROBE_BYTES.min(max_file_size);
    let mut charge = budget.take(chunk, probe)?;
    let mut bytes = discover::read_file(file, probe);
    if let Ok(FileBytes {
        size,
        problem: Some(Problem {
            kind: ProblemKind::TooLarge,
            ..
        }),
        ..
    }) = &bytes
        && probe < max_file_size
    {
        let needed = match (file.compressed, *size > max_file_size) {
            (true, _) => max_file_size,
            (false, false) => *size,
            (false, true) => 0,
        };
        drop(charge);
        charge = budget.take(chunk, needed)?;
        bytes = discover::read_file(file, max_file_size);
    }
    let held = bytes.as_ref().map_or(0, |read| read.content.len() as u64);
    charge.shrink_to(held);
    Some((bytes, charge))
}

/// Store the pieces in their walk order, holding back those that arrive early (at most
/// the window's chunks, and the budget's bytes), until the end or a stop request.
fn write_in_order(
    pieces: Receiver<Piece<'_>>,
    writer: &mut ImportWriter<'_>,
    observer: &dyn Observer,
    stop: &Stop,
    flow: &Flow,
) -> Result<(), ImportError> {
    let mut early = BTreeMap::new();
    let mut next = (0, 0);
    for piece in pieces {
        early.insert((piece.chunk, piece.index), piece);
        while let Some(piece) = early.remove(&next) {
            if stop.requested().is_some() {
                return Ok(());
            }
            let Piece {
                entries,
                charge,
                last,
                ..
            } = piece;
            for entry in &entries {
                if let Entry::File(record) = entry {
                    observer.stored(record);
                }
            }
            writer.write(entries)?;
            drop(charge);
            next = if last {
                flow.window.leave();
                flow.budget.set_head(next.0 + 1);
                (next.0 + 1, 0)
            } else {
                (next.0, next.1 + 1)
            };
        }
    }
    Ok(())
}
