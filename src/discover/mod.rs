//! Discover: the first stage (**discover** -> parse -> normalize -> store -> report).
//!
//! The only module that touches the file tree: it walks the roots, skips files the
//! ledger says are unchanged (without reading them), and reads the rest, gunzipping
//! `.xml.gz` within a size limit.

mod read;
mod walk;

use std::collections::HashMap;
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

/// The file ledger, keyed by a 128-bit hash of the path so that it costs about 60
/// bytes per file however long the paths are.
#[derive(Debug, Default)]
pub struct Ledger {
    files: HashMap<u128, KnownFile>,
}

impl Ledger {
    /// Record a file under its [`path_key`].
    pub fn insert(&mut self, path_key: u128, file: KnownFile) {
        self.files.insert(path_key, file);
    }

    pub fn get(&self, path: &str) -> Option<&KnownFile> {
        self.files.get(&path_key(path))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
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
