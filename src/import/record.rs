//! Import, helper: what the walk found, read, parsed and normalized into the entries
//! the writer stores: everything between discovery and the store for one file, or
//! for each member of a tarball. Single-threaded; [`Fetch`] says where the bytes come
//! from (straight from disk, or within the parallel import's budget).
//!
//! No input can cost a run: a panic while reading, parsing or normalizing a file (or
//! member) becomes that file's `internal_error` problem, and the file stays out of the
//! ledger, so that the next import, perhaps of a fixed version, reads it again.

use std::sync::atomic::Ordering;

use super::ImportOptions;
use super::panics;
use crate::discover::{
    self, FileBytes, FileToRead, FolderListed, FolderRef, Found, KnownFile, MemberBytes,
    MemberKind, TarballToRead, WalkCounters, read_members,
};
use crate::normalize::normalize;
use crate::parse::parse_file_with;
use crate::problem::{Problem, ProblemKind, Problems};
use crate::store::writer::{Entry, FileContent, FileRecord};

/// Where the bytes of files and tarball members come from.
pub trait Fetch {
    /// What holds the bytes' place in a budget until the writer has stored them.
    type Charge;

    /// The bytes of `file`; `None` when the import stopped before it was read.
    fn file(&mut self, file: &FileToRead) -> Option<Fetched<Self::Charge>>;

    /// The bytes of a tarball's member, read from its stream; `None` as for a file.
    fn member(&mut self, member: &mut MemberBytes<'_>) -> Option<Fetched<Self::Charge>>;
}

/// What a [`Fetch`] gives for one file: its bytes (or why not), and their charge.
pub type Fetched<C> = (Result<FileBytes, Problem>, Option<C>);

/// One file's record with the charge of its bytes; `None` when the ledger says it is
/// unchanged; `Err` when the import stopped.
type Recorded<C> = Result<Option<(FileRecord, Option<C>)>, Stopped>;

/// The import stopped while a file was waiting to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Read what the walk found and hand its entries to `push`, with their charges:
/// nothing for a file the ledger says is unchanged (it is counted as skipped).
pub fn read_found<F: Fetch>(
    found: Found,
    options: &ImportOptions,
    counters: &WalkCounters,
    fetch: &mut F,
    push: &mut dyn FnMut(Entry, Option<F::Charge>),
) -> Result<(), Stopped> {
    match found {
        Found::Listed(listed) => push(Entry::Listed(listed), None),
        Found::Unreadable {
            display,
            problem,
            folder,
        } => push(
            Entry::File(FileRecord::unreadable(display, None, folder, problem)),
            None,
        ),
        Found::File(file) => {
            if let Some((record, charge)) = guarded_file(file, options, counters, fetch)? {
                push(Entry::File(record), charge);
            }
        }
        Found::Tarball(tarball) => read_tarball(tarball, options, counters, fetch, push)?,
    }
    Ok(())
}

/// One file's record, with a panic in its work turned into its `internal_error`.
fn guarded_file<F: Fetch>(
    file: FileToRead,
    options: &ImportOptions,
    counters: &WalkCounters,
    fetch: &mut F,
) -> Recorded<F::Charge> {
    let (display, known, folder) = (file.display.clone(), file.known, file.folder.clone());
    panics::catch(|| file_record(file, options, counters, fetch)).unwrap_or_else(|panic| {
        let record = FileRecord::unreadable(display, known, folder, bug(&panic));
        Ok(Some((record, None)))
    })
}

/// The `internal_error` problem of a panic caught while reading a file.
fn bug(panic: &panics::CaughtPanic) -> Problem {
    let message = format!(
        "postback-archive hit a bug reading this file ({panic}); please report it. \
         The file is not imported, and the next import reads it again"
    );
    Problem::whole_file(ProblemKind::InternalError, message)
}

/// Read, parse and normalize one file; `None` when the ledger says it is unchanged.
fn file_record<F: Fetch>(
    file: FileToRead,
    options: &ImportOptions,
    counters: &WalkCounters,
    fetch: &mut F,
) -> Recorded<F::Charge> {
    if !options.force {
        match discover::unchanged(&file) {
            Ok(true) => {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Ok(false) => {}
            Err(problem) => {
                let record = FileRecord::unreadable(file.display, file.known, file.folder, problem);
                return Ok(Some((record, None)));
            }
        }
    }
    let (bytes, charge) = fetch.file(&file).ok_or(Stopped)?;
    let record = match bytes {
        Ok(bytes) => {
            let content = parse_content(
                file.known,
                bytes.content,
                bytes.content_hash,
                bytes.problem,
                options.force,
            );
            FileRecord {
                path: file.display,
                path_key: file.path_key,
                size: bytes.size,
                modified_us: bytes.modified_us,
                compressed: file.compressed,
                known: file.known,
                folder: file.folder,
                content,
            }
        }
        Err(problem) => FileRecord::unreadable(file.display, file.known, file.folder, problem),
    };
    Ok(Some((record, charge)))
}

/// Parse and normalize a file's content: only what is new when its bytes changed, and
/// nothing when they did not (only its ledger entry is updated).
fn parse_content(
    known: Option<KnownFile>,
    content: Vec<u8>,
    content_hash: Option<u128>,
    problem: Option<Problem>,
    force: bool,
) -> FileContent {
    if let Some(known) = known
        && !force
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

/// Read a tarball's members as files, then hand on the tarball itself as read whole
/// (its stamp is kept only if every member made it into the ledger). A problem of the
/// tarball as a whole (damaged, cut short) is recorded under its own path, and keeps
/// it from being taken as read whole, so the next run reads it again.
fn read_tarball<F: Fetch>(
    tarball: TarballToRead,
    options: &ImportOptions,
    counters: &WalkCounters,
    fetch: &mut F,
    push: &mut dyn FnMut(Entry, Option<F::Charge>),
) -> Result<(), Stopped> {
    let container = tarball.container.clone();
    let mut stopped = false;
    let caught = panics::catch(|| {
        read_members(&tarball, options.walk.settle_time, |mut member| {
            match member_record(&mut member, &tarball, options, counters, fetch) {
                Ok(Some((record, charge))) => push(Entry::File(record), charge),
                Ok(None) => {}
                Err(Stopped) => stopped = true,
            }
            !stopped
        })
    });
    if stopped {
        return Err(Stopped);
    }
    let end = match caught {
        Ok(end) => end,
        Err(panic) => {
            let record =
                FileRecord::unreadable(tarball.display, None, Some(container), bug(&panic));
            push(Entry::File(record), None);
            return Ok(());
        }
    };
    if let Some(problem) = end.problem {
        let record = FileRecord::unreadable(
            tarball.display.clone(),
            None,
            Some(container.clone()),
            problem,
        );
        push(Entry::File(record), None);
    }
    let listed = FolderListed {
        folder: container,
        stamp: end.stamp,
        links_followed: true,
        subfolders: Vec::new(),
    };
    push(Entry::Listed(listed), None);
    Ok(())
}

/// One member's record: read and parsed when it is a postback file not already in
/// the ledger with these bytes; `None` for a member that is not a postback file.
fn member_record<F: Fetch>(
    member: &mut MemberBytes<'_>,
    tarball: &TarballToRead,
    options: &ImportOptions,
    counters: &WalkCounters,
    fetch: &mut F,
) -> Recorded<F::Charge> {
    let folder: Option<FolderRef> = Some(tarball.container.clone());
    let display = member.member.display.clone();
    let known = tarball.members.get(member.member.path_key);
    match member.member.kind {
        MemberKind::Other => {
            counters.other.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        MemberKind::Special(what) => {
            counters.seen.fetch_add(1, Ordering::Relaxed);
            let problem = Problem::whole_file(
                ProblemKind::Unreadable,
                format!("not a regular file ({what})"),
            );
            return Ok(Some((
                FileRecord::unreadable(display, known, folder, problem),
                None,
            )));
        }
        MemberKind::Postback => counters.seen.fetch_add(1, Ordering::Relaxed),
    };
    let unchanged = known.is_some_and(|known| {
        known.content_hash.is_some()
            && known.size == member.member.size
            && known.modified_us == member.member.modified_us
    });
    if unchanged && !options.force {
        counters.skipped.fetch_add(1, Ordering::Relaxed);
        return Ok(None);
    }
    let (bytes, charge) = fetch.member(member).ok_or(Stopped)?;
    let work = || match bytes {
        Ok(bytes) => FileRecord {
            path: display.clone(),
            path_key: member.member.path_key,
            size: bytes.size,
            modified_us: bytes.modified_us,
            compressed: member.member.compressed,
            known,
            folder: folder.clone(),
            content: parse_content(
                known,
                bytes.content,
                bytes.content_hash,
                bytes.problem,
                options.force,
            ),
        },
        Err(problem) => FileRecord::unreadable(display.clone(), known, folder.clone(), problem),
    };
    let record = panics::catch(work).unwrap_or_else(|panic| {
        FileRecord::unreadable(display.clone(), known, folder.clone(), bug(&panic))
    });
    Ok(Some((record, charge)))
}
