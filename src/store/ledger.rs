//! Store, helper: the ledger as discovery reads it. The folder ledger is loaded whole
//! (a row a folder); the files of a folder are looked up when the walk lists that
//! folder, within the range of `file_id`s the folder's files have, so that a lookup
//! reads the row groups that can hold them and not the whole ledger.

use duckdb::Connection;

use super::c_api::BoundConnection;
use super::{Archive, StoreError};
use crate::discover::{
    FolderFiles, FolderKind, FolderRecord, Folders, KnownFile, LedgerLookup, LookupError, Stamp,
};

impl Archive {
    /// Every folder the archive holds files of, or has listed.
    pub fn load_folders(&self) -> Result<Folders, StoreError> {
        let mut statement = self.connection().prepare(
            "SELECT folder_id, path, kind, parent_id, first_file_id, last_file_id,
                    listed_run_id IS NOT NULL, device, inode, modified_ns, changed_ns, size,
                    coalesce(links_followed, false)
             FROM folders",
        )?;
        let mut rows = statement.query([])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            let kind: String = row.get(2)?;
            let first: Option<i64> = row.get(4)?;
            let last: Option<i64> = row.get(5)?;
            let listed: bool = row.get(6)?;
            let stamp = listed.then(|| -> Result<Stamp, duckdb::Error> {
                Ok(Stamp {
                    device: row.get::<_, Option<i64>>(7)?.unwrap_or(0),
                    inode: row.get::<_, Option<i64>>(8)?.unwrap_or(0),
                    modified_ns: row.get::<_, Option<i64>>(9)?.unwrap_or(0),
                    changed_ns: row.get::<_, Option<i64>>(10)?.unwrap_or(0),
                    size: row.get::<_, Option<i64>>(11)?.unwrap_or(0),
                })
            });
            records.push(FolderRecord {
                folder_id: row.get(0)?,
                path: row.get(1)?,
                // A kind this version does not know is listed as a folder would be.
                kind: FolderKind::from_name(&kind).unwrap_or(FolderKind::Folder),
                parent_id: row.get(3)?,
                stamp: stamp.transpose()?,
                links_followed: row.get(12)?,
                file_ids: first.zip(last),
            });
        }
        Ok(Folders::new(records))
    }

    /// The walk's view of the ledger: its own connection, which reads what earlier
    /// batches committed while the writer appends the next.
    pub fn ledger_reader(&self) -> Result<LedgerReader<'_>, StoreError> {
        Ok(LedgerReader {
            conn: self.database().bound_connection()?,
        })
    }
}

/// Looks up the files of one folder at a time (see [`LedgerLookup`]).
pub struct LedgerReader<'a> {
    conn: BoundConnection<'a>,
}

impl LedgerLookup for LedgerReader<'_> {
    fn files_of(
        &mut self,
        folder: &FolderRecord,
        wanted: Option<&[u128]>,
    ) -> Result<FolderFiles, LookupError> {
        let error = |error: duckdb::Error| LookupError {
            folder: folder.path.clone(),
            message: error.to_string(),
        };
        files_of(self.conn.connection(), folder, wanted).map_err(error)
    }
}

/// The ledger's entries of the files of `folder`, or of those in `wanted` only.
fn files_of(
    conn: &Connection,
    folder: &FolderRecord,
    wanted: Option<&[u128]>,
) -> Result<FolderFiles, duckdb::Error> {
    // Numbers of our own, written into the SQL so that DuckDB can compare them with
    // each row group's bounds before it reads any row.
    let range = match folder.file_ids {
        Some((first, last)) => format!(" AND file_id BETWEEN {first} AND {last}"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT path_key, file_id, size, epoch_us(modified_at), content_hash
         FROM files WHERE folder_id = {}{range}",
        folder.folder_id
    );
    let mut wanted: Option<Vec<u128>> = wanted.map(<[u128]>::to_vec);
    if let Some(keys) = &mut wanted {
        keys.sort_unstable();
    }
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([])?;
    let mut files = FolderFiles::default();
    while let Some(row) = rows.next()? {
        let path_key: u128 = row.get(0)?;
        if wanted
            .as_ref()
            .is_some_and(|keys| keys.binary_search(&path_key).is_err())
        {
            continue;
        }
        let file = KnownFile {
            file_id: row.get(1)?,
            size: row.get::<_, i64>(2)? as u64,
            modified_us: row.get(3)?,
            content_hash: row.get(4)?,
        };
        files.insert(path_key, file);
    }
    files.seal();
    Ok(files)
}
