//! Discover: the first stage (**discover** -> parse -> normalize -> store -> report).
//!
//! The only module that reads the file tree: it walks the roots, listing only the
//! folders that can have changed since the archive last read them whole (the folder
//! ledger, [`folders`]), skips files the ledger says are unchanged (without reading
//! them), and reads the rest, gunzipping `.xml.gz` within a size limit and taking the
//! members of tarballs as files. Only regular files are ever opened, and never in a
//! way that can block: a named pipe, socket or device is reported, not read.

pub mod folders;
mod listing;
mod open_dirs;
mod read;
mod tarball;
mod walk;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_128;

use crate::problem::{Problem, printable};
pub use folders::{FolderKind, FolderListed, FolderRecord, FolderRef, Folders, Stamp};
pub use listing::{Compression, is_postback_file};
pub use open_dirs::{MAX_OPEN_DIRS, OpenDir};
pub use read::{FileBytes, modified_micros, read_file, unchanged};
pub use tarball::{Member, MemberBytes, MemberKind, TarballEnd, read_members};
pub use walk::{WalkInput, WalkOptions, resolve_roots, walk};

/// What the archive remembers about a file it has read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    pub file_id: i64,
    pub size: u64,
    /// Modification time, microseconds since the epoch.
    pub modified_us: i64,
    /// `None` when the file was not fully imported (it was too large to read): such
    /// a file is read again by every run until one can import it.
    pub content_hash: Option<u128>,
}

/// The key of a path in the ledger (stored as `files.path_key`), so that loading the
/// ledger reads no strings: the xxh3-128 of the path's exact bytes. Two names that
/// differ only in bytes that are not UTF-8 (`a\xff.xml`, `a\xfe.xml`) have different
/// keys, though both are shown as `a\u{fffd}.xml`; for a UTF-8 name the key is the hash of
/// its text, as it always was, so archives written by earlier versions keep working.
pub fn path_key(path: &Path) -> u128 {
    xxh3_128(path.as_os_str().as_bytes())
}

/// Every key under which the ledger may hold the file at `path`: its [`path_key`],
/// and for a name that is not UTF-8 the key earlier versions gave it (see
/// [`FolderFiles::find`]).
pub fn ledger_keys(path: &Path) -> Vec<u128> {
    let mut keys = vec![path_key(path)];
    if path.to_str().is_none() {
        keys.push(lossy_path_key(&path.display().to_string()));
    }
    keys
}

/// The key of a tarball's member: the tarball's path and the member's name, joined by
/// a NUL byte, which no path holds, so that no file's key can equal a member's.
pub fn member_key(tarball: &Path, name: &[u8]) -> u128 {
    let mut bytes = Vec::with_capacity(tarball.as_os_str().len() + 1 + name.len());
    bytes.extend_from_slice(tarball.as_os_str().as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(name);
    xxh3_128(&bytes)
}

/// The key earlier versions gave a path that is not UTF-8: the hash of its lossy
/// display form, under which such a file may still be in the ledger.
fn lossy_path_key(display: &str) -> u128 {
    xxh3_128(display.as_bytes())
}

/// What the ledger knows of the files of one folder (or the members of one tarball),
/// looked up by the 128-bit hash of their paths when the walk lists the folder. Kept
/// as one sorted array of fixed-size entries (56 bytes a file, however long the
/// paths); only the folders being walked are held.
#[derive(Debug, Default)]
pub struct FolderFiles {
    entries: Vec<LedgerEntry>,
}

/// One file of the ledger, packed: halves of the 128-bit values keep it 8-aligned.
#[derive(Debug, Clone, Copy)]
struct LedgerEntry {
    path_key: [u64; 2],
    file_id: i64,
    size: u64,
    modified_us: i64,
    /// `[0, 0]` for a file never hashed (an xxh3-128 of 0 does not happen in practice).
    content_hash: [u64; 2],
}

fn halves(value: u128) -> [u64; 2] {
    [(value >> 64) as u64, value as u64]
}

fn whole(halves: [u64; 2]) -> u128 {
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
}

impl FolderFiles {
    /// Room for `files` entries.
    pub fn with_capacity(files: usize) -> Self {
        FolderFiles {
            entries: Vec::with_capacity(files),
        }
    }

    /// Record a file under its [`path_key`]; call [`FolderFiles::seal`] when all are in.
    pub fn insert(&mut self, path_key: u128, file: KnownFile) {
        self.entries.push(LedgerEntry {
            path_key: halves(path_key),
            file_id: file.file_id,
            size: file.size,
            modified_us: file.modified_us,
            content_hash: halves(file.content_hash.unwrap_or(0)),
        });
    }

    /// Sort the entries for lookup; a later insert of the same key wins.
    pub fn seal(&mut self) {
        self.entries.sort_by_key(|e| e.path_key);
        self.entries.dedup_by(|later, earlier| {
            let same = later.path_key == earlier.path_key;
            if same {
                *earlier = *later;
            }
            same
        });
    }

    /// What the ledger knows of the file whose [`path_key`] is `key`.
    pub fn get(&self, key: u128) -> Option<KnownFile> {
        let key = halves(key);
        let index = self
            .entries
            .binary_search_by_key(&key, |e| e.path_key)
            .ok()?;
        let entry = *self.entries.get(index)?;
        let content_hash = whole(entry.content_hash);
        Some(KnownFile {
            file_id: entry.file_id,
            size: entry.size,
            modified_us: entry.modified_us,
            content_hash: (content_hash != 0).then_some(content_hash),
        })
    }

    /// What the ledger knows of the file at `path`, shown as `display`. A name that is
    /// not UTF-8 is also looked up under the key earlier versions gave it, so that a
    /// file they imported is not taken for a new one; its row takes the exact key the
    /// next time the file is read.
    pub fn find(&self, path: &Path, display: &str) -> Option<KnownFile> {
        let known = self.get(path_key(path));
        if known.is_some() || path.to_str().is_some() {
            return known;
        }
        self.get(lossy_path_key(display))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A file that must be read: new, changed since the ledger saw it, or forced.
#[derive(Debug, Clone)]
pub struct FileToRead {
    pub path: PathBuf,
    /// The open directory the walk found the file in, if any: the file is opened
    /// relative to it, so that the kernel does not look up every directory of `path`
    /// again for each file.
    pub parent: Option<Arc<OpenDir>>,
    /// The path as stored in the archive and shown to users (lossy when the name is
    /// not UTF-8; the ledger goes by `path_key`).
    pub display: String,
    /// The [`path_key`] of `path`, under which the ledger records the file.
    pub path_key: u128,
    /// Named `*.gz`: gunzip before parsing.
    pub compressed: bool,
    /// The ledger's entry, when the file was read before.
    pub known: Option<KnownFile>,
    /// The folder holding it, under which the ledger files it.
    pub folder: Option<FolderRef>,
}

/// A tarball that must be read: new, or changed since the ledger read it whole.
#[derive(Debug)]
pub struct TarballToRead {
    pub path: PathBuf,
    /// The open directory the walk found it in, as for a file.
    pub parent: Option<Arc<OpenDir>>,
    pub display: String,
    /// The tarball as a folder of the ledger: its members are filed under it.
    pub container: FolderRef,
    /// What the ledger knows of its members, by [`member_key`].
    pub members: FolderFiles,
    pub compression: Compression,
}

/// What the walk yields, in a stable order (see [`walk`]).
#[derive(Debug)]
pub enum Found {
    File(FileToRead),
    Tarball(TarballToRead),
    /// A file or directory the walk could not look at.
    Unreadable {
        display: String,
        problem: Problem,
        /// The folder it is in, which is then not taken as read whole.
        folder: Option<FolderRef>,
    },
    /// A folder was listed whole; it comes after its files.
    Listed(FolderListed),
}

/// Where the walk learns what the ledger knows of a folder's files: the archive, in
/// production (the walk itself never talks to DuckDB).
pub trait LedgerLookup {
    /// The entries of the files filed under `folder`; with `wanted`, at least those
    /// whose [`path_key`] is listed (the others may be left out).
    fn files_of(
        &mut self,
        folder: &FolderRecord,
        wanted: Option<&[u128]>,
    ) -> Result<FolderFiles, LookupError>;
}

/// The ledger could not be read; the run cannot tell new files from old ones.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the ledger of {}: {message}", printable(folder))]
pub struct LookupError {
    pub folder: String,
    pub message: String,
}

/// A ledger that knows nothing, for walks that need none (tests, a first import).
#[derive(Debug, Default)]
pub struct EmptyLedger;

impl LedgerLookup for EmptyLedger {
    fn files_of(
        &mut self,
        _folder: &FolderRecord,
        _wanted: Option<&[u128]>,
    ) -> Result<FolderFiles, LookupError> {
        Ok(FolderFiles::default())
    }
}

/// Counts kept by the walk, shared with the writer, which stores a snapshot with each batch.
#[derive(Debug, Default)]
pub struct WalkCounters {
    pub seen: AtomicU64,
    pub skipped: AtomicU64,
    pub other: AtomicU64,
    /// Folders listed because they may have changed.
    pub folders_listed: AtomicU64,
    /// Folders not listed: unchanged since a run read them whole.
    pub folders_unchanged: AtomicU64,
}

/// The walk's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkSnapshot {
    pub seen: u64,
    pub skipped: u64,
    pub other: u64,
    pub folders_listed: u64,
    pub folders_unchanged: u64,
}

impl WalkCounters {
    pub fn snapshot(&self) -> WalkSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WalkSnapshot {
            seen: load(&self.seen),
            skipped: load(&self.skipped),
            other: load(&self.other),
            folders_listed: load(&self.folders_listed),
            folders_unchanged: load(&self.folders_unchanged),
        }
    }
}

/// Problems that stop discovery before it starts (a root that does not exist).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read {}", printable(&path.display().to_string()))]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// For tests: create a named pipe at `path`.
#[cfg(test)]
fn mkfifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_finds_files_by_path_and_keeps_the_last_entry_of_a_path() {
        let file = |file_id, content_hash| KnownFile {
            file_id,
            size: 10,
            modified_us: 20,
            content_hash,
        };
        let key = |path: &str| path_key(Path::new(path));
        let mut ledger = FolderFiles::default();
        ledger.insert(key("/a/1.xml"), file(1, Some(u128::MAX)));
        ledger.insert(key("/a/2.xml"), file(2, None));
        ledger.insert(key("/a/1.xml"), file(3, Some(7)));
        ledger.seal();
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.get(key("/a/1.xml")), Some(file(3, Some(7))));
        assert_eq!(ledger.get(key("/a/2.xml")), Some(file(2, None)));
        assert_eq!(ledger.get(key("/a/3.xml")), None);
        assert_eq!(std::mem::size_of::<LedgerEntry>(), 56);
    }

    #[test]
    fn a_utf8_path_keeps_the_key_earlier_versions_stored() {
        // Earlier versions keyed the ledger on xxh3-128 of the path's text.
        let path = "/srv/postbacks/2026/11/caf\u{e9} \u{1f600}.xml";
        assert_eq!(path_key(Path::new(path)), xxh3_128(path.as_bytes()));
        // The key an archive of an earlier version holds for this path.
        let stored: u128 = 237_942_282_812_378_245_619_151_617_763_403_874_994;
        assert_eq!(path_key(Path::new("/a/1.xml")), stored);
    }

    #[test]
    fn names_that_differ_in_bytes_that_are_not_utf8_have_their_own_keys() {
        use std::ffi::OsStr;
        let ff = Path::new(OsStr::from_bytes(b"/in/a\xff.xml"));
        let fe = Path::new(OsStr::from_bytes(b"/in/a\xfe.xml"));
        let display = ff.display().to_string();
        assert_eq!(
            display,
            fe.display().to_string(),
            "both show as a\u{fffd}.xml"
        );
        assert_ne!(path_key(ff), path_key(fe));
        assert_ne!(path_key(ff), lossy_path_key(&display));
        let known = KnownFile {
            file_id: 4,
            size: 1,
            modified_us: 2,
            content_hash: Some(3),
        };
        let mut ledger = FolderFiles::default();
        ledger.insert(lossy_path_key(&display), known);
        ledger.seal();
        assert_eq!(
            ledger.find(ff, &display),
            Some(known),
            "found under the key an earlier version stored"
        );
        let mut exact = FolderFiles::default();
        exact.insert(path_key(ff), known);
        exact.seal();
        assert_eq!(exact.find(ff, &display), Some(known));
        assert_eq!(exact.find(fe, &display), None);
        let utf8 = Path::new("/in/a.xml");
        assert_eq!(ledger.find(utf8, "/in/a.xml"), None);
    }
}
