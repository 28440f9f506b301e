//! Store, import writer: the folder ledger's rows. A batch gathers what it changes of
//! each folder (a new row, its parent, its range of file ids, its stamp) and applies
//! it at commit, through the `pa_folder_changes` temp table.

use std::sync::Arc;

use super::{Batch, ImportWriter};
use crate::discover::{FolderKind, FolderListed, FolderRef, Stamp};

/// What a batch changes of one folder's row (see `rows::folder_change`).
#[derive(Debug, Default)]
pub struct FolderChange {
    /// A folder new to the archive: its row is inserted with this path and kind.
    pub(super) new: Option<(Arc<str>, FolderKind)>,
    pub(super) parent_id: Option<i64>,
    /// The run listed it: the stamp to store, or `None` to have it listed again.
    pub(super) listed: Option<Option<Stamp>>,
    /// The listing followed symbolic links.
    pub(super) links_followed: bool,
    /// The lowest and highest id of the files the batch adds to it.
    pub(super) file_ids: Option<(i64, i64)>,
}

impl ImportWriter<'_> {
    /// The batch's change of `folder`'s row, with the row added when the archive has
    /// none yet.
    pub(super) fn folder_change<'b>(
        &mut self,
        batch: &'b mut Batch<'_>,
        folder: &FolderRef,
    ) -> &'b mut FolderChange {
        let change = batch.folders.entry(folder.folder_id).or_default();
        if !folder.recorded && self.folders_added.insert(folder.folder_id) {
            change.new = Some((Arc::clone(&folder.path), folder.kind));
            change.parent_id = folder.parent_id;
        }
        change
    }

    /// A folder was read whole: its stamp is stored unless one of its files was left
    /// for a later run (or its times were too recent to trust), and the folders found
    /// in it are filed under it, so that a run that finds it unchanged walks them.
    pub(super) fn folder_listed(&mut self, batch: &mut Batch<'_>, listed: &FolderListed) {
        let complete = !self.incomplete.remove(&listed.folder.folder_id);
        let stamp = listed.stamp.filter(|_| complete);
        // A tarball is a file of its folder: one to be read again keeps the folder
        // from being taken as read whole, or no run would list it to find the tarball.
        if stamp.is_none()
            && listed.folder.kind == FolderKind::Tarball
            && let Some(parent) = listed.folder.parent_id
        {
            self.incomplete.insert(parent);
        }
        let change = self.folder_change(batch, &listed.folder);
        change.listed = Some(stamp);
        change.links_followed = listed.links_followed;
        for subfolder in &listed.subfolders {
            self.folder_change(batch, subfolder).parent_id = Some(listed.folder.folder_id);
        }
    }
}

/// The SQL that applies a batch's `pa_folder_changes` to `folders`: new rows first,
/// then parents, file id ranges and stamps.
pub(super) fn apply_folder_changes(run_id: i32) -> String {
    let stamp = [
        "links_followed",
        "device",
        "inode",
        "modified_ns",
        "changed_ns",
        "size",
    ]
    .map(|column| {
        format!("{column} = CASE WHEN c.set_listed THEN c.{column} ELSE folders.{column} END")
    })
    .join(",\n            ");
    format!(
        "INSERT INTO folders (folder_id, path, kind, parent_id)
         SELECT folder_id, path, kind, parent_id FROM pa_folder_changes WHERE is_new;
         UPDATE folders SET
            parent_id = coalesce(c.parent_id, folders.parent_id),
            first_file_id = least(coalesce(folders.first_file_id, c.first_file_id), coalesce(c.first_file_id, folders.first_file_id)),
            last_file_id = greatest(coalesce(folders.last_file_id, c.last_file_id), coalesce(c.last_file_id, folders.last_file_id)),
            listed_run_id = CASE WHEN NOT c.set_listed THEN folders.listed_run_id
                                 WHEN c.listed THEN {run_id} END,
            {stamp}
         FROM pa_folder_changes c WHERE folders.folder_id = c.folder_id;
         DELETE FROM pa_folder_changes;"
    )
}
