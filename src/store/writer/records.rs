//! Store, import writer: what the import hands the writer, in walk order: files (with
//! what reading them produced) and folders read whole.

use crate::discover::{FolderListed, FolderRef, KnownFile};
use crate::normalize::Postback;
use crate::problem::Problem;

/// Everything the store needs to know about one file that discovery handed on.
#[derive(Debug)]
pub struct FileRecord {
    /// The path as stored in `files.path` and shown to users (lossy when not UTF-8).
    pub path: String,
    /// The ledger's key for the path's exact bytes ([`crate::discover::path_key`]);
    /// 0 for a file that could not be read, which stays out of the ledger.
    pub path_key: u128,
    pub size: u64,
    pub modified_us: i64,
    pub compressed: bool,
    pub known: Option<KnownFile>,
    /// The folder (or tarball) holding it, under which the ledger files it.
    pub folder: Option<FolderRef>,
    pub content: FileContent,
}

impl FileRecord {
    /// A file that could not be read at all; its folder is then not taken as read whole.
    pub fn unreadable(
        path: String,
        known: Option<KnownFile>,
        folder: Option<FolderRef>,
        problem: Problem,
    ) -> Self {
        FileRecord {
            path,
            path_key: 0,
            size: 0,
            modified_us: 0,
            compressed: false,
            known,
            folder,
            content: FileContent::Unreadable(problem),
        }
    }

    /// Whether the file stays out of the ledger, or in it without its content (too
    /// large to read): either way a later run must read it, so its folder must be
    /// listed again.
    pub(super) fn left_for_later(&self) -> bool {
        matches!(
            self.content,
            FileContent::Unreadable(_)
                | FileContent::Read {
                    content_hash: None,
                    ..
                }
        )
    }

    pub(super) fn postback_count(&self) -> usize {
        match &self.content {
            FileContent::Read { postbacks, .. } => postbacks.len(),
            _ => 0,
        }
    }
}

/// What reading a file produced.
#[derive(Debug)]
pub enum FileContent {
    /// Could not be read: the problem is recorded, but the file stays out of the
    /// ledger so that the next run tries again.
    Unreadable(Problem),
    /// Its size or time changed but its bytes did not: only its ledger entry is updated.
    Unchanged(KnownFile),
    /// Read and parsed (possibly with problems, possibly holding no postback).
    Read {
        content_hash: Option<u128>,
        postbacks: Vec<Postback>,
        problems: Vec<Problem>,
    },
}

/// What the import hands the writer, in walk order.
#[derive(Debug)]
pub enum Entry {
    File(FileRecord),
    /// A folder (or tarball) read whole, after its files: its stamp is stored with
    /// them unless one of them was left for a later run.
    Listed(FolderListed),
}

impl Entry {
    pub(super) fn postback_count(&self) -> usize {
        match self {
            Entry::File(record) => record.postback_count(),
            Entry::Listed(_) => 0,
        }
    }
}
