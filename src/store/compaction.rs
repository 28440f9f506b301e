//! Store, helper: `compact`'s side of the archive. The files of a folder as the ledger
//! has them; the move of their ledger rows onto the members of the tarball that now
//! holds them, in one transaction with the journal row (`compactions`) that says so;
//! and what a killed compaction left, for the next command to finish or undo.

use duckdb::{Connection, params};

use super::runs::utc_now;
use super::{Archive, StoreError};
use crate::discover::{FolderRecord, Stamp};

/// A file of a folder, as the ledger has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFile {
    pub file_id: i64,
    /// As stored in `files.path`.
    pub path: String,
    pub path_key: u128,
    pub size: u64,
    pub modified_us: i64,
    /// `None`: never read whole (too large), so not in the archive yet.
    pub content_hash: Option<u128>,
    /// Problems found in it at its last read.
    pub errors: i32,
}

/// A file's new place in the ledger: a member of the tarball.
#[derive(Debug, Clone)]
pub struct MovedFile {
    pub file_id: i64,
    pub path: String,
    pub path_key: u128,
}

/// A folder rolled into a tarball, as `compact` records it before the tarball is put
/// in place.
#[derive(Debug, Clone)]
pub struct Compaction {
    pub folder: FolderRecord,
    /// The tarball's path once in place, as shown.
    pub tarball: String,
    /// Where it was written and checked first.
    pub staged: String,
    /// The staged tarball's metadata, which a rename keeps (size and time).
    pub stamp: Stamp,
    pub moved: Vec<MovedFile>,
    /// Bytes of the files, before compression.
    pub bytes: u64,
}

/// A compaction a killed command left `moved`: the ledger is on the members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub compaction_id: i32,
    pub folder: String,
    pub folder_id: Option<i64>,
    pub tarball: String,
    pub staged: String,
    pub container_id: i64,
}

impl Archive {
    /// The ledger's record of the folder shown as `path` and its files, when it has one.
    pub fn folder_files(
        &self,
        path: &str,
    ) -> Result<Option<(FolderRecord, Vec<LedgerFile>)>, StoreError> {
        let folders = self.load_folders()?;
        let Some(folder) = folders.get(path).cloned() else {
            return Ok(None);
        };
        let files = files_of(self.connection(), folder.folder_id)?;
        Ok(Some((folder, files)))
    }

    /// Move the ledger rows of `compaction.moved` onto the tarball's members, give the
    /// tarball its row as a folder read whole, and journal the compaction as `moved`,
    /// all in one transaction. Returns the compaction's id.
    pub fn record_compaction(&self, compaction: &Compaction) -> Result<i32, StoreError> {
        let conn = self.connection();
        in_transaction(conn, || {
            stage_moved(conn, &compaction.moved)?;
            let container_id: i64 = conn.query_row(
                "SELECT coalesce(max(folder_id), 0) + 1 FROM folders",
                [],
                |row| row.get(0),
            )?;
            let stamp = &compaction.stamp;
            conn.execute(
                "INSERT INTO folders (folder_id, path, kind, parent_id, first_file_id, last_file_id,
                     listed_run_id, links_followed, device, inode, modified_ns, changed_ns, size)
                 SELECT ?, ?, 'tarball', ?, min(file_id), max(file_id),
                     (SELECT coalesce(max(run_id), 0) FROM import_runs), true, ?, ?, ?, ?, ?
                 FROM pa_moved",
                params![
                    container_id,
                    compaction.tarball,
                    compaction.folder.parent_id,
                    stamp.device,
                    stamp.inode,
                    stamp.modified_ns,
                    stamp.changed_ns,
                    stamp.size
                ],
            )?;
            conn.execute(
                "UPDATE files SET path = m.path, path_key = m.path_key, folder_id = ?
                 FROM pa_moved m WHERE files.file_id = m.file_id",
                params![container_id],
            )?;
            let compaction_id: i32 = conn.query_row(
                "SELECT coalesce(max(compaction_id), 0) + 1 FROM compactions",
                [],
                |row| row.get(0),
            )?;
            conn.execute(
                "INSERT INTO compactions (compaction_id, folder, tarball, staged, container_id,
                     started_at, files, bytes, status)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'moved')",
                params![
                    compaction_id,
                    compaction.folder.path,
                    compaction.tarball,
                    compaction.staged,
                    container_id,
                    utc_now(),
                    compaction.moved.len() as i64,
                    compaction.bytes as i64
                ],
            )?;
            Ok(compaction_id)
        })
    }

    /// Compactions a killed command left `moved`, oldest first.
    pub fn pending_compactions(&self) -> Result<Vec<Pending>, StoreError> {
        let mut statement = self.connection().prepare(
            "SELECT c.compaction_id, c.folder, f.folder_id, c.tarball, c.staged, c.container_id
             FROM compactions c LEFT JOIN folders f ON f.path = c.folder AND f.kind = 'folder'
             WHERE c.status = 'moved' ORDER BY c.compaction_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(Pending {
                compaction_id: row.get(0)?,
                folder: row.get(1)?,
                folder_id: row.get(2)?,
                tarball: row.get(3)?,
                staged: row.get(4)?,
                container_id: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The files a compaction moved onto its tarball, as the ledger now has them.
    pub fn members_of(&self, container_id: i64) -> Result<Vec<LedgerFile>, StoreError> {
        files_of(self.connection(), container_id)
    }

    /// The tarball is in place and the originals are gone: the compaction is done.
    /// When `folder_removed`, the folder is no longer walked into from its parent.
    pub fn finish_compaction(
        &self,
        pending: &Pending,
        folder_removed: bool,
    ) -> Result<(), StoreError> {
        let conn = self.connection();
        in_transaction(conn, || {
            conn.execute(
                "UPDATE compactions SET status = 'done', finished_at = ? WHERE compaction_id = ?",
                params![utc_now(), pending.compaction_id],
            )?;
            if folder_removed && let Some(folder_id) = pending.folder_id {
                conn.execute(
                    "UPDATE folders SET parent_id = NULL WHERE folder_id = ?",
                    params![folder_id],
                )?;
            }
            Ok(())
        })
    }

    /// The staged tarball was lost before it was put in place: the ledger goes back on
    /// the original files, `originals` (file id, path, key), which are still there.
    pub fn undo_compaction(
        &self,
        pending: &Pending,
        originals: &[MovedFile],
    ) -> Result<(), StoreError> {
        let conn = self.connection();
        in_transaction(conn, || {
            stage_moved(conn, originals)?;
            conn.execute(
                "UPDATE files SET path = m.path, path_key = m.path_key, folder_id = ?
                 FROM pa_moved m WHERE files.file_id = m.file_id",
                params![pending.folder_id],
            )?;
            conn.execute(
                "DELETE FROM folders WHERE folder_id = ?",
                params![pending.container_id],
            )?;
            conn.execute(
                "UPDATE compactions SET status = 'undone', finished_at = ? WHERE compaction_id = ?",
                params![utc_now(), pending.compaction_id],
            )?;
            Ok(())
        })
    }
}

/// Put the files' new places in the temp table `pa_moved`, which an `UPDATE` of
/// `files` then applies.
fn stage_moved(conn: &Connection, moved: &[MovedFile]) -> Result<(), duckdb::Error> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS pa_moved (file_id BIGINT, path VARCHAR, path_key UHUGEINT);
         DELETE FROM pa_moved;",
    )?;
    let mut appender = conn.appender_to_catalog_and_db("pa_moved", "temp", "main")?;
    for file in moved {
        appender.append_row(params![file.file_id, file.path, file.path_key])?;
    }
    appender.flush()
}

fn files_of(conn: &Connection, folder_id: i64) -> Result<Vec<LedgerFile>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT file_id, path, path_key, size, epoch_us(modified_at), content_hash, errors
         FROM files WHERE folder_id = ? ORDER BY file_id",
    )?;
    let rows = statement.query_map(params![folder_id], |row| {
        Ok(LedgerFile {
            file_id: row.get(0)?,
            path: row.get(1)?,
            path_key: row.get(2)?,
            size: row.get::<_, i64>(3)? as u64,
            modified_us: row.get(4)?,
            content_hash: row.get(5)?,
            errors: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Run `work` in one transaction: committed when it succeeds, rolled back when not.
fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce() -> Result<T, duckdb::Error>,
) -> Result<T, StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    match work() {
        Ok(value) => {
            conn.execute_batch("COMMIT")?;
            Ok(value)
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error.into())
        }
    }
}
