//! Discover, the folder ledger: what the archive remembers of each folder (and tarball)
//! it holds files of, so that a folder that has not changed since a run read all of it
//! is not listed again, and the files of one that has are looked up for that folder
//! alone.
//!
//! A folder's *stamp* is what its metadata said when a run listed it whole: device,
//! inode, modification and change time. Adding, removing or renaming an entry changes
//! the times; replacing the folder changes the inode. A tarball's stamp is its size
//! and modification time, as for a file.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A folder whose times are this recent when it is listed may still change within the
/// same tick of a coarse file-system clock (a second on some, two on FAT) without its
/// times moving; such a folder is listed again by the next run rather than trusted.
pub const SETTLE_TIME: Duration = Duration::from_secs(5);

/// What holds a group of files in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FolderKind {
    /// A folder of the file system.
    Folder,
    /// A `.tar`, `.tar.gz` or `.tar.zst` file, whose members are the files.
    Tarball,
}

impl FolderKind {
    /// The name stored in `folders.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            FolderKind::Folder => "folder",
            FolderKind::Tarball => "tarball",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "folder" => Some(FolderKind::Folder),
            "tarball" => Some(FolderKind::Tarball),
            _ => None,
        }
    }
}

/// A folder's (or tarball's) metadata, compared between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub device: i64,
    pub inode: i64,
    pub modified_ns: i64,
    pub changed_ns: i64,
    pub size: i64,
}

impl Stamp {
    /// The stamp of what `metadata` describes.
    pub fn of(metadata: &Metadata) -> Stamp {
        Stamp {
            device: metadata.dev() as i64,
            inode: metadata.ino() as i64,
            modified_ns: nanos(metadata.mtime(), metadata.mtime_nsec()),
            changed_ns: nanos(metadata.ctime(), metadata.ctime_nsec()),
            size: metadata.size() as i64,
        }
    }

    /// The stamp of what `stat` describes (a folder opened by the walk).
    pub fn of_stat(stat: &rustix::fs::Stat) -> Stamp {
        Stamp {
            device: stat.st_dev as i64,
            inode: stat.st_ino as i64,
            modified_ns: nanos(stat.st_mtime, stat.st_mtime_nsec as i64),
            changed_ns: nanos(stat.st_ctime, stat.st_ctime_nsec as i64),
            size: stat.st_size,
        }
    }

    /// Whether what the ledger recorded (`self`) still describes `now`: for a folder,
    /// the same folder with the same times; for a tarball, the same size and time,
    /// as for a file (a copy keeps them, and its members are then not read again).
    pub fn unchanged(&self, kind: FolderKind, now: &Stamp) -> bool {
        match kind {
            FolderKind::Folder => self == now,
            FolderKind::Tarball => self.size == now.size && self.modified_ns == now.modified_ns,
        }
    }

    /// Whether both times are at least `settle_time` ([`SETTLE_TIME`]) before
    /// `listed`, so that no change after the listing can have left them as they are.
    pub fn settled(&self, listed: SystemTime, settle_time: Duration) -> bool {
        let listed_ns = match listed.duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_nanos()).unwrap_or(i64::MAX),
            Err(_) => return false,
        };
        let settle_ns = i64::try_from(settle_time.as_nanos()).unwrap_or(i64::MAX);
        let limit = listed_ns.saturating_sub(settle_ns);
        self.modified_ns <= limit && self.changed_ns <= limit
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(nanoseconds)
}

/// What the ledger remembers of one folder or tarball.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    pub folder_id: i64,
    /// The absolute path, as shown (lossy when not UTF-8).
    pub path: String,
    pub kind: FolderKind,
    pub parent_id: Option<i64>,
    /// The stamp of the last run that read all of it; `None` when the next run must
    /// list it (never listed whole, or something in it was left for a later run).
    pub stamp: Option<Stamp>,
    /// That run followed symbolic links: a run that follows them trusts only such a
    /// stamp (one taken without following them says nothing of what they lead to).
    pub links_followed: bool,
    /// The lowest and highest `file_id` of its files, which keep its lookups to the
    /// part of the ledger that can hold them.
    pub file_ids: Option<(i64, i64)>,
}

/// A folder or tarball as the walk hands it on with its files: its id (new ones get
/// the next free id) and whether the archive has a row for it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRef {
    pub folder_id: i64,
    pub path: Arc<str>,
    pub kind: FolderKind,
    /// The folder holding it, when the walk came to it through that folder.
    pub parent_id: Option<i64>,
    /// The archive has a `folders` row for it already.
    pub recorded: bool,
}

/// A folder (or tarball) the walk read whole, handed on after its files, so that its
/// stamp is stored in the batch of its last file, and only if none of them was left
/// for a later run.
#[derive(Debug, Clone)]
pub struct FolderListed {
    pub folder: FolderRef,
    /// `None` when its times were too recent to trust (see [`SETTLE_TIME`]).
    pub stamp: Option<Stamp>,
    /// The walk followed symbolic links (see [`FolderRecord::links_followed`]).
    pub links_followed: bool,
    /// The folders found in it, in name order: stored with it, so that a run that finds
    /// it unchanged still walks into each of them.
    pub subfolders: Vec<FolderRef>,
}

/// The folder ledger, loaded whole at the start of a run: a row a folder, about 150
/// bytes each, however many files they hold.
#[derive(Debug, Default)]
pub struct Folders {
    records: Vec<FolderRecord>,
    by_path: HashMap<Arc<str>, usize>,
    children: HashMap<i64, Vec<usize>>,
    next_id: i64,
    /// Folders first met by this run, by path, with the ids given to them.
    new: HashMap<Arc<str>, i64>,
}

impl Folders {
    /// The ledger of `records`; new folders get ids above every recorded one.
    pub fn new(records: Vec<FolderRecord>) -> Folders {
        let mut folders = Folders {
            next_id: records.iter().map(|r| r.folder_id).max().unwrap_or(0) + 1,
            ..Folders::default()
        };
        for record in records {
            let index = folders.records.len();
            if let Some(parent) = record.parent_id {
                folders.children.entry(parent).or_default().push(index);
            }
            folders
                .by_path
                .insert(Arc::from(record.path.as_str()), index);
            folders.records.push(record);
        }
        let records = &folders.records;
        for children in folders.children.values_mut() {
            children.sort_by(|a, b| records[*a].path.cmp(&records[*b].path));
        }
        folders
    }

    /// What the ledger recorded of the folder or tarball shown as `path`.
    pub fn get(&self, path: &str) -> Option<&FolderRecord> {
        self.by_path.get(path).map(|&index| &self.records[index])
    }

    /// The recorded folders inside `folder_id`, in name order.
    pub fn children(&self, folder_id: i64) -> impl Iterator<Item = &FolderRecord> {
        self.children
            .get(&folder_id)
            .into_iter()
            .flatten()
            .map(|&index| &self.records[index])
    }

    /// The reference the walk hands on for `path`: its recorded id, or a new one
    /// (the same for every later call of this run).
    pub fn reference(&mut self, path: &str, kind: FolderKind, parent_id: Option<i64>) -> FolderRef {
        if let Some(record) = self.get(path) {
            return FolderRef {
                folder_id: record.folder_id,
                path: Arc::from(path),
                kind,
                parent_id: parent_id.or(record.parent_id),
                recorded: true,
            };
        }
        let path: Arc<str> = Arc::from(path);
        let next_id = &mut self.next_id;
        let folder_id = *self.new.entry(Arc::clone(&path)).or_insert_with(|| {
            *next_id += 1;
            *next_id - 1
        });
        FolderRef {
            folder_id,
            path,
            kind,
            parent_id,
            recorded: false,
        }
    }

    /// Every recorded folder and tarball.
    pub fn records(&self) -> impl Iterator<Item = &FolderRecord> {
        self.records.iter()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(folder_id: i64, path: &str, parent_id: Option<i64>) -> FolderRecord {
        FolderRecord {
            folder_id,
            path: path.to_string(),
            kind: FolderKind::Folder,
            parent_id,
            stamp: None,
            links_followed: false,
            file_ids: None,
        }
    }

    #[test]
    fn children_come_in_name_order_and_new_folders_get_fresh_ids_once() {
        let mut folders = Folders::new(vec![
            record(4, "/a", None),
            record(9, "/a/c", Some(4)),
            record(2, "/a/b", Some(4)),
        ]);
        let names: Vec<&str> = folders.children(4).map(|r| r.path.as_str()).collect();
        assert_eq!(names, ["/a/b", "/a/c"]);
        assert_eq!(folders.children(2).count(), 0);
        let known = folders.reference("/a/c", FolderKind::Folder, None);
        assert_eq!(
            (known.folder_id, known.parent_id, known.recorded),
            (9, Some(4), true)
        );
        let new = folders.reference("/a/d", FolderKind::Folder, Some(4));
        assert_eq!((new.folder_id, new.recorded), (10, false));
        assert_eq!(
            folders
                .reference("/a/d", FolderKind::Folder, Some(4))
                .folder_id,
            10
        );
        assert_eq!(
            folders
                .reference("/a/e", FolderKind::Tarball, Some(4))
                .folder_id,
            11
        );
    }

    #[test]
    fn a_stamp_is_trusted_only_once_its_times_have_settled() {
        let at = |seconds: i64| Stamp {
            device: 1,
            inode: 2,
            modified_ns: seconds * 1_000_000_000,
            changed_ns: seconds * 1_000_000_000,
            size: 0,
        };
        let listed = UNIX_EPOCH + Duration::from_secs(100);
        assert!(at(95).settled(listed, SETTLE_TIME));
        assert!(
            !at(96).settled(listed, SETTLE_TIME),
            "changed 4 s before the listing"
        );
        assert!(
            !at(101).settled(listed, SETTLE_TIME),
            "a time ahead of the clock"
        );
        assert!(
            !at(101).settled(listed, Duration::ZERO),
            "ahead, even with no wait"
        );
        let mut changed = at(95);
        changed.changed_ns += 4_000_000_000;
        assert!(
            !changed.settled(listed, SETTLE_TIME),
            "the change time counts too"
        );
    }

    #[test]
    fn a_folder_is_unchanged_only_with_every_field_equal_a_tarball_by_size_and_time() {
        let stamp = Stamp {
            device: 1,
            inode: 2,
            modified_ns: 3,
            changed_ns: 4,
            size: 5,
        };
        let moved = Stamp {
            inode: 7,
            changed_ns: 8,
            ..stamp
        };
        assert!(stamp.unchanged(FolderKind::Folder, &stamp));
        assert!(!stamp.unchanged(FolderKind::Folder, &moved));
        assert!(stamp.unchanged(FolderKind::Tarball, &moved));
        let grown = Stamp { size: 6, ..stamp };
        assert!(!stamp.unchanged(FolderKind::Tarball, &grown));
    }
}
