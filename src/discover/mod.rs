//! Discover: the first stage (**discover** -> parse -> normalize -> store -> report).
//!
//! The only module that touches the file tree: it walks the roots, skips files the
//! ledger says are unchanged (without reading them), and reads the rest, gunzipping
//! `.xml.gz` within a size limit. Only regular files are ever opened, and never in a
//! way that can block: a named pipe, socket or device is reported, not read.

mod read;
mod walk;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_128;

use crate::problem::{Problem, printable};

pub use read::{FileBytes, read_file};
pub use walk::{
    MAX_OPEN_DIRS, OpenDir, WalkOptions, modified_micros, resolve_roots, unchanged, walk,
};

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

/// The key earlier versions gave a path that is not UTF-8: the hash of its lossy
/// display form, under which such a file may still be in the ledger.
fn lossy_path_key(display: &str) -> u128 {
    xxh3_128(display.as_bytes())
}

/// The file ledger: what the archive knows of each file, looked up by the 128-bit
/// hash of its path. Kept as one sorted array of fixed-size entries (56 bytes a file,
/// however long the paths) so that a nightly run over millions of files stays small.
#[derive(Debug, Default)]
pub struct Ledger {
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

impl Ledger {
    /// A ledger with room for `files` entries.
    pub fn with_capacity(files: usize) -> Self {
        Ledger {
            entries: Vec::with_capacity(files),
        }
    }

    /// Record a file under its [`path_key`]; call [`Ledger::seal`] when all are in.
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
}

/// What the walk yields, in a stable order (sorted by name, depth first).
#[derive(Debug)]
pub enum Found {
    File(FileToRead),
    /// A file or directory the walk could not look at.
    Unreadable {
        display: String,
        problem: Problem,
    },
}

/// Counts kept by the walk, shared with the writer, which stores a snapshot with each batch.
#[derive(Debug, Default)]
pub struct WalkCounters {
    pub seen: AtomicU64,
    pub skipped: AtomicU64,
    pub other: AtomicU64,
}

impl WalkCounters {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.seen.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
        )
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
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
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
        let mut ledger = Ledger::default();
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
        let mut ledger = Ledger::default();
        ledger.insert(lossy_path_key(&display), known);
        ledger.seal();
        assert_eq!(
            ledger.find(ff, &display),
            Some(known),
            "found under the key an earlier version stored"
        );
        let mut exact = Ledger::default();
        exact.insert(path_key(ff), known);
        exact.seal();
        assert_eq!(exact.find(ff, &display), Some(known));
        assert_eq!(exact.find(fe, &display), None);
        let utf8 = Path::new("/in/a.xml");
        assert_eq!(ledger.find(utf8, "/in/a.xml"), None);
    }
}
