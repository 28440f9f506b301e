//! Store, helper: load the file ledger that discovery uses to skip unchanged files.

use super::{Archive, StoreError};
use crate::discover::{KnownFile, Ledger};

impl Archive {
    /// Every file the archive has read, as discovery needs it: one streamed query of
    /// numbers only (paths are looked up by their key), 56 bytes of memory per file.
    pub fn load_ledger(&self) -> Result<Ledger, StoreError> {
        let files: i64 = self
            .connection()
            .query_row("SELECT count(*) FROM files", [], |row| row.get(0))?;
        let mut ledger = Ledger::with_capacity(files as usize);
        let mut statement = self.connection().prepare(
            "SELECT path_key, file_id, size, epoch_us(modified_at), content_hash FROM files",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let path_key: u128 = row.get(0)?;
            let file = KnownFile {
                file_id: row.get(1)?,
                size: row.get::<_, i64>(2)? as u64,
                modified_us: row.get(3)?,
                content_hash: row.get(4)?,
            };
            ledger.insert(path_key, file);
        }
        ledger.seal();
        Ok(ledger)
    }
}
