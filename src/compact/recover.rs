//! Compact, helper: steps 3 and 4 of a compaction (the tarball put in place, the
//! originals removed, the journal done), and what a command does first about a
//! compaction a kill left half done: finish it, or undo it when the staged tarball was
//! lost before it was put in place.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_128;

use super::CompactError;
use super::pack::Identity;
use crate::discover::{modified_micros, path_key};
use crate::disk;
use crate::store::{Archive, LedgerFile, MovedFile, PendingCompaction};

/// Finish every compaction a killed command left `moved`, before anything reads the
/// folders. Returns how many there were.
pub fn recover(archive: &Archive) -> Result<usize, CompactError> {
    let pending = archive.pending_compactions()?;
    for compaction in &pending {
        let tarball = Path::new(&compaction.tarball);
        let staged = Path::new(&compaction.staged);
        let in_place = fs::symlink_metadata(tarball).is_ok();
        if !in_place && fs::symlink_metadata(staged).is_err() {
            undo(archive, compaction)?;
            continue;
        }
        finish(archive, compaction, Originals::Hashed)?;
    }
    Ok(pending.len())
}

/// How to tell that a file is still the original that was packed.
pub(super) enum Originals<'r> {
    /// By its identity when it was read for packing, moments ago.
    AsRead(&'r HashMap<String, Identity>),
    /// By its bytes, after a kill: they must hash to what the ledger holds.
    Hashed,
}

/// Steps 3 and 4: the tarball in place, the originals removed (each only if it is
/// still the file that was packed), the folder too when empty, the journal done.
pub(super) fn finish(
    archive: &Archive,
    compaction: &PendingCompaction,
    originals: Originals<'_>,
) -> Result<(), CompactError> {
    let tarball = Path::new(&compaction.tarball);
    let staged = Path::new(&compaction.staged);
    if fs::symlink_metadata(tarball).is_err() {
        disk::rename_no_replace(staged, tarball)
            .map_err(|error| CompactError::io("put in place", tarball, error))?;
    }
    let folder = Path::new(&compaction.folder);
    let parent = folder.parent().unwrap_or(Path::new("/"));
    sync_folder(parent)?;
    for member in archive.members_of(compaction.container_id)? {
        let Some(name) = member.path.rsplit('/').next() else {
            continue;
        };
        let original = folder.join(name);
        if is_original(&original, &member, &originals, name) {
            fs::remove_file(&original)
                .map_err(|error| CompactError::io("remove", &original, error))?;
        }
    }
    let removed = match fs::remove_dir(folder) {
        Ok(()) => true,
        Err(error) if error.kind() == io::ErrorKind::NotFound => true,
        Err(_) => {
            sync_folder(folder)?;
            false
        }
    };
    sync_folder(parent)?;
    archive.finish_compaction(compaction, removed)?;
    Ok(())
}

/// Whether the file at `path` is still the one the ledger filed as `member`: same
/// size and time, and the identity it was read with or the bytes the ledger hashed.
/// Anything else there (a file written since) stays.
fn is_original(path: &Path, member: &LedgerFile, originals: &Originals<'_>, name: &str) -> bool {
    let Ok(metadata) = fs::symlink_metadata(path) else {
        return false;
    };
    if !metadata.is_file()
        || metadata.size() != member.size
        || modified_micros(&metadata) != member.modified_us
    {
        return false;
    }
    match originals {
        Originals::AsRead(read) => read.get(name) == Some(&Identity::of(&metadata)),
        Originals::Hashed => {
            fs::read(path).is_ok_and(|bytes| Some(xxh3_128(&bytes)) == member.content_hash)
        }
    }
}

/// The staged tarball was lost before it was put in place: file the members under
/// their original paths again.
fn undo(archive: &Archive, compaction: &PendingCompaction) -> Result<(), CompactError> {
    let folder = Path::new(&compaction.folder);
    let originals: Vec<MovedFile> = archive
        .members_of(compaction.container_id)?
        .into_iter()
        .filter_map(|member| {
            let name = member.path.rsplit('/').next()?;
            let path = folder.join(name);
            Some(MovedFile {
                file_id: member.file_id,
                path_key: path_key(&path),
                path: path.display().to_string(),
            })
        })
        .collect();
    archive.undo_compaction(compaction, &originals)?;
    Ok(())
}

pub(super) fn sync_folder(folder: &Path) -> Result<(), CompactError> {
    disk::sync_folder(folder).map_err(|error| CompactError::io("make durable", folder, error))
}
