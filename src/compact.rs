//! Compact: a folder whose files are all in the archive becomes one tarball
//! (`2026/11/15/` -> `2026/11/15.tar.zst`, members `15/NAME`, each the original file
//! byte for byte with its modification time), so that years of one file a postback
//! cost a file a day. The ledger moves onto the members: nothing is read again, and
//! nothing is counted as a copy.
//!
//! The order of work makes a kill harmless at any moment:
//! 1. the tarball is written under a hidden name beside the folder, made durable, and
//!    read back through the import's own reader, member by member;
//! 2. one transaction moves the ledger onto the members and journals the compaction
//!    as `moved` (`compactions`);
//! 3. the tarball is renamed into place, then the originals are removed (each only
//!    if it is still the file that was packed), then the folder if it is empty;
//! 4. the journal row is marked `done`.
//!
//! A command that opens the archive for writing (`import`, `compact`, `serve`'s
//! imports) first finishes what a killed compaction left ([`recover`]): after step 2
//! it puts the tarball in place and removes the originals; a compaction whose staged
//! tarball was lost before it was put in place is undone (the ledger goes back on
//! the originals, which are all still there).

mod pack;
mod recover;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::discover::{
    Compression, FolderKind, FolderRecord, Stamp, is_postback_file, member_key, modified_micros,
    path_key,
};
use crate::problem::printable;
use crate::store::{Archive, Compaction, LedgerFile, MovedFile, StoreError};
use pack::{Identity, Packed, check_tarball, write_tarball};
pub use recover::recover;
use recover::{Originals, finish};

/// What to compact and how.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Canonical roots: the folders of the archive at or below them are considered.
    pub roots: Vec<PathBuf>,
    /// A folder changed more recently than this is left alone (it may still be written).
    pub older_than: Duration,
    /// Pack files in which the import found problems too (by default they stay, to
    /// be looked at where they are).
    pub with_problems: bool,
    /// `.tar.zst` or `.tar.gz`.
    pub compression: Compression,
    /// Say what would be done, and do nothing.
    pub dry_run: bool,
}

/// Why compaction stopped.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot {action} {}: {source}", printable(&path.display().to_string()))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "{} changed since it was imported; it stays where it is. Run `import --rescan` on its folder, then compact again",
        printable(&path.display().to_string())
    )]
    Changed { path: PathBuf },
    #[error(
        "the tarball {} does not hold what was written into it ({what}); it was removed and the folder stays as it was",
        printable(&tarball.display().to_string())
    )]
    Check { tarball: PathBuf, what: String },
}

impl CompactError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> CompactError {
        CompactError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What became of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderOutcome {
    /// Rolled into `tarball`: `files` files of `bytes` bytes, `packed` bytes now.
    Compacted {
        folder: String,
        tarball: String,
        files: u64,
        bytes: u64,
        packed: u64,
        /// Files that stayed (problems, other files), so the folder stayed too.
        stayed: u64,
    },
    /// Left as it is, and why.
    Skipped { folder: String, why: String },
}

/// Compact every eligible folder of the archive under `options.roots`, telling
/// `report` about each folder considered. Fails on the first folder that cannot be
/// compacted safely (its files then stay as they were).
pub fn compact(
    archive: &Archive,
    options: &CompactOptions,
    report: &mut dyn FnMut(&FolderOutcome),
) -> Result<(), CompactError> {
    recover(archive)?;
    let folders = archive.load_folders()?;
    let mut candidates: Vec<FolderRecord> = options
        .roots
        .iter()
        .flat_map(|root| folders_under(&folders, root))
        .collect();
    candidates.sort_by(|a, b| a.path.cmp(&b.path));
    candidates.dedup_by(|a, b| a.folder_id == b.folder_id);
    for folder in candidates {
        let outcome = compact_folder(archive, &folder, options)?;
        report(&outcome);
    }
    Ok(())
}

/// The folders of the ledger that hold files, at or below `root`.
fn folders_under(folders: &crate::discover::Folders, root: &Path) -> Vec<FolderRecord> {
    let root = root.display().to_string();
    let below = format!("{}/", root.trim_end_matches('/'));
    folders
        .records()
        .filter(|r| r.kind == FolderKind::Folder && r.file_ids.is_some())
        .filter(|r| r.path == root || r.path.starts_with(&below))
        .cloned()
        .collect()
}

/// Compact one folder, or say why not.
fn compact_folder(
    archive: &Archive,
    folder: &FolderRecord,
    options: &CompactOptions,
) -> Result<FolderOutcome, CompactError> {
    let skipped = |why: String| {
        Ok(FolderOutcome::Skipped {
            folder: folder.path.clone(),
            why,
        })
    };
    let path = PathBuf::from(&folder.path);
    let Some(plan) = plan(archive, folder, &path, options)? else {
        return skipped("nothing to pack".to_string());
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(why) => return skipped(why),
    };
    if options.dry_run {
        return Ok(plan.outcome(folder, 0));
    }
    let identities = write_tarball(
        &plan.staged,
        &path,
        &plan.prefix,
        &plan.packed,
        options.compression,
    )
    .and_then(|identities| {
        check_tarball(
            &plan.staged,
            &plan.prefix,
            &plan.packed,
            options.compression,
        )?;
        Ok(identities)
    })
    .inspect_err(|_| {
        let _ = fs::remove_file(&plan.staged);
    })?;
    let metadata = fs::metadata(&plan.staged)
        .map_err(|error| CompactError::io("read", &plan.staged, error))?;
    let compaction = Compaction {
        folder: folder.clone(),
        tarball: plan.tarball.display().to_string(),
        staged: plan.staged.display().to_string(),
        stamp: Stamp::of(&metadata),
        moved: plan.moved(),
        bytes: plan.bytes(),
    };
    let compaction_id = archive.record_compaction(&compaction)?;
    let pending = archive
        .pending_compactions()?
        .into_iter()
        .find(|pending| pending.compaction_id == compaction_id);
    if let Some(pending) = pending {
        let read: HashMap<String, Identity> = plan
            .packed
            .iter()
            .map(|packed| packed.name.clone())
            .zip(identities)
            .collect();
        finish(archive, &pending, Originals::AsRead(&read))?;
    }
    Ok(plan.outcome(folder, metadata.len()))
}

/// What compacting a folder will do.
struct Plan {
    /// The files to pack, in name order, and their ledger ids.
    packed: Vec<Packed>,
    file_ids: Vec<i64>,
    /// Files that stay in the folder.
    stayed: u64,
    /// The folder's name: members are `PREFIX/NAME`.
    prefix: String,
    tarball: PathBuf,
    staged: PathBuf,
}

impl Plan {
    fn moved(&self) -> Vec<MovedFile> {
        let tarball = self.tarball.display().to_string();
        self.packed
            .iter()
            .zip(&self.file_ids)
            .map(|(packed, &file_id)| {
                let member = format!("{}/{}", self.prefix, packed.name);
                MovedFile {
                    file_id,
                    path_key: member_key(&self.tarball, member.as_bytes()),
                    path: format!("{tarball}!{member}"),
                }
            })
            .collect()
    }

    fn bytes(&self) -> u64 {
        self.packed.iter().map(|p| p.size).sum()
    }

    fn outcome(&self, folder: &FolderRecord, packed: u64) -> FolderOutcome {
        FolderOutcome::Compacted {
            folder: folder.path.clone(),
            tarball: self.tarball.display().to_string(),
            files: self.packed.len() as u64,
            bytes: self.bytes(),
            packed,
            stayed: self.stayed,
        }
    }
}

/// The plan for `folder`: `None` when it holds no file to pack, `Err(why)` when it must
/// be left alone (too recent, a file not imported yet or changed since).
fn plan(
    archive: &Archive,
    folder: &FolderRecord,
    path: &Path,
    options: &CompactOptions,
) -> Result<Option<Result<Plan, String>>, CompactError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => metadata,
        _ => return Ok(None),
    };
    let age = SystemTime::now()
        .duration_since(metadata.modified().unwrap_or(SystemTime::now()))
        .unwrap_or_default();
    if age < options.older_than {
        let days = options.older_than.as_secs().div_ceil(86_400);
        return Ok(Some(Err(format!("changed within the last {days} day(s)"))));
    }
    let (Some(prefix), Some(parent)) = (path.file_name().and_then(OsStr::to_str), path.parent())
    else {
        return Ok(Some(Err("its path is not UTF-8".to_string())));
    };
    // By key: a day folder may hold a million files.
    let ledger: HashMap<u128, LedgerFile> = archive
        .members_of(folder.folder_id)?
        .into_iter()
        .map(|file| (file.path_key, file))
        .collect();
    let mut plan = Plan {
        packed: Vec::new(),
        file_ids: Vec::new(),
        stayed: 0,
        prefix: prefix.to_string(),
        tarball: free_name(parent, prefix, options.compression),
        staged: PathBuf::new(),
    };
    for entry in list(path)? {
        match pack_entry(&entry, path, &ledger, options) {
            Entry::Pack(packed, file_id) => {
                plan.packed.push(packed);
                plan.file_ids.push(file_id);
            }
            Entry::Stay => plan.stayed += 1,
            Entry::Refuse(why) => return Ok(Some(Err(why))),
        }
    }
    if plan.packed.is_empty() {
        return Ok(None);
    }
    let name = plan
        .tarball
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or(prefix);
    remove_stale_staged(parent, name);
    plan.staged = parent.join(format!(".{name}.{}.compacting", std::process::id()));
    Ok(Some(Ok(plan)))
}

/// Remove the staged tarballs (`.NAME.PID.compacting`) of compactions killed before
/// they journaled their work: nothing refers to them. (One that got further is
/// finished by [`recover`] first.)
fn remove_stale_staged(parent: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let pid = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".compacting"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !crate::disk::process_is_running(pid)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The entries of a folder, sorted by name.
fn list(path: &Path) -> Result<Vec<Listed>, CompactError> {
    let mut entries = Vec::new();
    let read = fs::read_dir(path).map_err(|error| CompactError::io("list", path, error))?;
    for entry in read {
        let entry = entry.map_err(|error| CompactError::io("list", path, error))?;
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        entries.push(Listed {
            // A name that is not UTF-8 stays where it is.
            name: entry.file_name().into_string().unwrap_or_default(),
            is_file: metadata.is_file(),
            size: metadata.len(),
            modified_us: modified_micros(&metadata),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// An entry of a folder being compacted: what deciding its fate needs, and no more (a
/// day folder may hold a million).
struct Listed {
    /// Empty for a name that is not UTF-8.
    name: String,
    is_file: bool,
    size: u64,
    modified_us: i64,
}

enum Entry {
    Pack(Packed, i64),
    Stay,
    /// The folder cannot be compacted: why.
    Refuse(String),
}

/// What becomes of one entry of a folder being compacted.
fn pack_entry(
    listed: &Listed,
    folder: &Path,
    ledger: &HashMap<u128, LedgerFile>,
    options: &CompactOptions,
) -> Entry {
    let name = &listed.name;
    if name.is_empty() || !listed.is_file || !is_postback_file(name.as_bytes()) {
        return Entry::Stay;
    }
    let Some(known) = ledger.get(&path_key(&folder.join(name))) else {
        return Entry::Refuse(format!("{name} is not imported yet; run import first"));
    };
    let Some(content_hash) = known.content_hash else {
        return Entry::Refuse(format!(
            "{name} was too large to import; import it with a larger --max-file-size first"
        ));
    };
    if known.size != listed.size || known.modified_us != listed.modified_us {
        return Entry::Refuse(format!(
            "{name} changed since it was imported; run `import --rescan` first"
        ));
    }
    if known.errors > 0 && !options.with_problems {
        return Entry::Stay;
    }
    Entry::Pack(
        Packed {
            name: name.clone(),
            size: known.size,
            modified_us: known.modified_us,
            content_hash,
        },
        known.file_id,
    )
}

/// `PARENT/NAME.tar.zst`, or `NAME.2.tar.zst` and so on when that is taken (the folder
/// was compacted before and files came to it since).
fn free_name(parent: &Path, name: &str, compression: Compression) -> PathBuf {
    let extension = match compression {
        Compression::Gzip => "tar.gz",
        _ => "tar.zst",
    };
    let mut candidate = parent.join(format!("{name}.{extension}"));
    let mut copy = 2;
    while fs::symlink_metadata(&candidate).is_ok() {
        candidate = parent.join(format!("{name}.{copy}.{extension}"));
        copy += 1;
    }
    candidate
}

#[cfg(test)]
mod tests;
