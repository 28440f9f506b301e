//! Discover: the first stage (**discover** -> parse -> normalize -> store -> report).
//!
//! The only module that touches the file tree: it walks the roots, skips files the
//! ledger says are unchanged (without reading them), and reads the rest, gunzipping
//! `.xml.gz` within a size limit.

mod read;
mod walk;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_128;

use crate::problem::Problem;

pub use read::{FileBytes, read_file};
pub use walk::{WalkOptions, modified_micros, resolve_roots, unchanged, walk};

/// What the archive remembers about a file it has read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    pub file_id: i64,
    pub size: u64,
    /// Modification time, microseconds since the epoch.
    pub modified_us: i64,
    /// `None` when the file was never hashed (it was too large to read).
    pub content_hash: Option<u128>,
}

/// The key of a path in the ledger (stored as `files.path_key`), so that loading the
/// ledger reads no strings.
pub fn path_key(path: &str) -> u128 {
    xxh3_128(path.as_bytes())
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

    pub fn get(&self, path: &str) -> Option<KnownFile> {
        let key = halves(path_key(path));
        let index = self
            .entries
            .binary_search_by_key(&key, |e| e.path_key)
            .ok()?;
        let entry = self.entries[index];
        let content_hash = whole(entry.content_hash);
        Some(KnownFile {
            file_id: entry.file_id,
            size: entry.size,
            modified_us: entry.modified_us,
            content_hash: (content_hash != 0).then_some(content_hash),
        })
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
    /// The path as stored in the archive and shown to users.
    pub display: String,
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
    #[error("cannot read {}", path.display())]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
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
        let mut ledger = Ledger::default();
        ledger.insert(path_key("/a/1.xml"), file(1, Some(u128::MAX)));
        ledger.insert(path_key("/a/2.xml"), file(2, None));
        ledger.insert(path_key("/a/1.xml"), file(3, Some(7)));
        ledger.seal();
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.get("/a/1.xml"), Some(file(3, Some(7))));
        assert_eq!(ledger.get("/a/2.xml"), Some(file(2, None)));
        assert_eq!(ledger.get("/a/3.xml"), None);
        assert_eq!(std::mem::size_of::<LedgerEntry>(), 56);
    }
}
