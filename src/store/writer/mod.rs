//! Store, the import writer: appends files, postbacks, duplicates and problems in batches.
//!
//! Each batch of files is one transaction holding the files' ledger rows together with
//! everything found in them, so a killed import never leaves half a file behind, and the
//! next run reads exactly the files whose batch did not commit. A single writer, on a
//! connection of its own, appending data chunks: no per-row SQL.

mod earlier;
mod folders;
mod key;
mod records;
mod rows;

pub(crate) use earlier::{SPAN, filters_that_differ};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use duckdb::Connection;

use super::c_api::{ChunkAppender, RawConnection, RawError};
use super::runs::{RunCounters, RunStart, counters_sql};
use super::{Archive, StoreError};
use crate::discover::WalkCounters;
use crate::normalize::Postback;
use earlier::Earlier;
pub use folders::FolderChange;
use folders::apply_folder_changes;
use key::{Key, KeyHash};
pub use records::{Entry, FileContent, FileRecord};
use rows::LedgerEntry;

/// When to commit: whichever limit a batch reaches first. A batch of more than a
/// row group (122,880 rows) lets DuckDB write the rows to the database file once,
/// instead of to the write-ahead log and then again at the checkpoint.
const BATCH_POSTBACKS: usize = 131_072;
/// Files per batch unless the import's options say fewer (the crash tests do, to get
/// many commits out of a small corpus).
pub const BATCH_FILES: usize = 131_072;
const BATCH_AGE: Duration = Duration::from_secs(20);

/// Into an archive that already holds postbacks, files are stored in groups of this
/// many postbacks (or files), with one lookup of earlier copies a group. Each lookup
/// reads the archive's fingerprint filters (6 bytes a stored postback, see
/// `earlier.rs`), so a group holds a whole nightly run of about 22,000 postbacks: one
/// read a night instead of two, for about 25 MB more of files held while they wait.
const LOOKUP_POSTBACKS: usize = 32_768;
const LOOKUP_FILES: usize = 32_768;

/// DuckDB's memory during an import, in MB, unless `import --memory-limit` says
/// otherwise. Without a limit DuckDB keeps up to 80% of the machine's memory as a
/// cache of the blocks an import writes, which it does not read again. A batch needs
/// about 62 MB of it (a row group of postbacks in progress, the batch's files), and
/// 64 MB proved too tight: the checkpoints of a 1,000,000-file import into a
/// non-empty archive failed to get blocks.
pub const DEFAULT_MEMORY_LIMIT_MB: u32 = 96;

/// Writes one import run's results, streaming them into an open transaction that
/// is committed every batch.
pub struct ImportWriter<'a> {
    /// For lookups of what earlier runs stored (committed data only).
    conn: &'a Connection,
    /// The writer's own connection: its transaction holds the open batch.
    raw: &'a RawConnection<'a>,
    run_id: i32,
    /// The run's row, written with the first commit.
    run: &'a RunStart,
    walk: &'a WalkCounters,
    next_postback_id: i64,
    next_file_id: i64,
    /// Postbacks stored before this run have ids below this; looked up in the archive.
    first_postback_id: i64,
    /// Postbacks stored by this run: fingerprint -> postback_id - first_postback_id.
    /// About 21 bytes a postback: the only memory of an import that grows with it.
    stored: HashMap<Key, u32, KeyHash>,
    batch: Option<Batch<'a>>,
    batch_files: usize,
    committed: RunCounters,
    /// Files waiting for the next lookup group (see [`LOOKUP_POSTBACKS`]).
    pending: Vec<Entry>,
    pending_postbacks: usize,
    /// Whether `fingerprint_filters` covers every postback stored before this run
    /// (brought up to date by the run's first lookup).
    filters_cover_earlier: bool,
    /// Folders with a row in the archive, or in the open batch, that the walk did not
    /// know of.
    folders_added: HashSet<i64>,
    /// Folders of this run with a file left for a later run: not stamped as read whole.
    incomplete: HashSet<i64>,
}

/// The open transaction: its appenders and what it has written so far.
struct Batch<'c> {
    postbacks: ChunkAppender<'c>,
    duplicates: ChunkAppender<'c>,
    files: ChunkAppender<'c>,
    errors: ChunkAppender<'c>,
    updates: ChunkAppender<'c>,
    reread: ChunkAppender<'c>,
    folder_changes: ChunkAppender<'c>,
    /// What the batch changes of folders' rows, written out when it commits.
    folders: BTreeMap<i64, FolderChange>,
    counters: RunCounters,
    files_written: usize,
    started: Instant,
}

impl<'c> Batch<'c> {
    fn appenders(&mut self) -> [&mut ChunkAppender<'c>; 7] {
        let Batch {
            postbacks,
            duplicates,
            files,
            errors,
            updates,
            reread,
            folder_changes,
            ..
        } = self;
        [
            postbacks,
            duplicates,
            files,
            errors,
            updates,
            reread,
            folder_changes,
        ]
    }
}

/// The temp tables a batch stages ledger changes in, applied at commit: files read
/// again, the new size, time and counts of files already known, and the folders'
/// rows.
const STAGING_TABLES: &str = "
    CREATE TEMP TABLE IF NOT EXISTS pa_reread (file_id BIGINT);
    CREATE TEMP TABLE IF NOT EXISTS pa_file_updates (
        file_id BIGINT, path_key UHUGEINT, size BIGINT, modified_at TIMESTAMP,
        content_hash UHUGEINT, touch_only BOOLEAN, postbacks INTEGER, duplicates INTEGER, errors INTEGER);
    CREATE TEMP TABLE IF NOT EXISTS pa_folder_changes (
        folder_id BIGINT, is_new BOOLEAN, path VARCHAR, kind VARCHAR, parent_id BIGINT,
        set_listed BOOLEAN, listed BOOLEAN, links_followed BOOLEAN, device BIGINT, inode BIGINT,
        modified_ns BIGINT, changed_ns BIGINT, size BIGINT, first_file_id BIGINT, last_file_id BIGINT);";

impl<'a> ImportWriter<'a> {
    /// A writer for one run; `raw` comes from [`Archive::writer_connection`].
    pub fn new(
        archive: &'a Archive,
        raw: &'a RawConnection<'a>,
        run: &'a RunStart,
        walk: &'a WalkCounters,
        memory_limit_mb: u32,
        batch_files: usize,
    ) -> Result<Self, StoreError> {
        let conn = archive.connection();
        raw.execute(STAGING_TABLES).map_err(StoreError::Write)?;
        // One DuckDB thread: the import's own readers keep the cores busy, and DuckDB's
        // second worker mostly waited for tasks (its scheduler took about a tenth of the
        // CPU): a 200,000-file import used 17% less CPU (BENCHMARKS.md).
        conn.execute_batch(&format!(
            "SET threads = 1;
             SET memory_limit = '{memory_limit_mb}MB';
             CREATE TEMP TABLE IF NOT EXISTS pa_fingerprints (fingerprint UHUGEINT);"
        ))?;
        let next_id = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0));
        let first_postback_id = next_id("SELECT coalesce(max(postback_id), 0) + 1 FROM postbacks")?;
        Ok(ImportWriter {
            conn,
            raw,
            run_id: run.run_id,
            run,
            walk,
            next_postback_id: first_postback_id,
            next_file_id: next_id("SELECT coalesce(max(file_id), 0) + 1 FROM files")?,
            first_postback_id,
            stored: HashMap::default(),
            batch: None,
            batch_files: batch_files.max(1),
            committed: RunCounters::default(),
            pending: Vec::new(),
            pending_postbacks: 0,
            filters_cover_earlier: false,
            folders_added: HashSet::new(),
            incomplete: HashSet::new(),
        })
    }

    /// Store files and folders, in order; commits when the batch is full or old
    /// enough. Files for an archive that already holds postbacks may wait for the next
    /// lookup group.
    pub fn write(&mut self, entries: Vec<Entry>) -> Result<(), StoreError> {
        if self.first_postback_id == 1 {
            return self.write_group(&entries);
        }
        self.pending_postbacks += entries.iter().map(Entry::postback_count).sum::<usize>();
        self.pending.extend(entries);
        if lookup_group_full(self.pending.len(), self.pending_postbacks, self.batch_files) {
            self.write_pending()
        } else {
            Ok(())
        }
    }

    fn write_pending(&mut self) -> Result<(), StoreError> {
        let records = std::mem::take(&mut self.pending);
        self.pending_postbacks = 0;
        self.write_group(&records)
    }

    /// Store files with one lookup of what earlier runs stored of their postbacks.
    fn write_group(&mut self, entries: &[Entry]) -> Result<(), StoreError> {
        let earlier = self.stored_before_this_run(entries)?;
        let mut batch = match self.batch.take() {
            Some(batch) => batch,
            None => self.open_batch()?,
        };
        let result = entries.iter().try_for_each(|entry| match entry {
            Entry::File(record) => self.write_record(&mut batch, &earlier, record),
            Entry::Listed(listed) => {
                self.folder_listed(&mut batch, listed);
                Ok(())
            }
        });
        let full = batch.files_written >= self.batch_files
            || batch.counters.postbacks_new + batch.counters.postbacks_duplicate
                >= BATCH_POSTBACKS as u64
            || batch.started.elapsed() >= BATCH_AGE;
        self.batch = Some(batch);
        result.map_err(StoreError::Write)?;
        if full { self.commit() } else { Ok(()) }
    }

    /// Commit what is open and return the run's counters.
    pub fn finish(mut self) -> Result<RunCounters, StoreError> {
        self.write_pending()?;
        self.commit()?;
        Ok(self.totals(&RunCounters::default()))
    }

    fn open_batch(&self) -> Result<Batch<'a>, StoreError> {
        let raw = self.raw;
        raw.execute("BEGIN TRANSACTION")
            .map_err(StoreError::Write)?;
        let open = |table, temporary, columns: &[&str]| {
            raw.appender(table, temporary, columns)
                .map_err(StoreError::Write)
        };
        Ok(Batch {
            postbacks: open("postbacks", false, &rows::postback_columns())?,
            duplicates: open("duplicates", false, &rows::DUPLICATE_COLUMNS)?,
            files: open("files", false, &rows::FILE_COLUMNS)?,
            errors: open("import_errors", false, &rows::PROBLEM_COLUMNS)?,
            updates: open("pa_file_updates", true, &rows::FILE_UPDATE_COLUMNS)?,
            reread: open("pa_reread", true, &["file_id"])?,
            folder_changes: open("pa_folder_changes", true, &rows::FOLDER_CHANGE_COLUMNS)?,
            folders: BTreeMap::new(),
            counters: RunCounters::default(),
            files_written: 0,
            started: Instant::now(),
        })
    }
    fn totals(&self, batch: &RunCounters) -> RunCounters {
        let walk = self.walk.snapshot();
        RunCounters {
            files_seen: walk.seen,
            files_skipped: walk.skipped,
            files_other: walk.other,
            folders_listed: walk.folders_listed,
            folders_unchanged: walk.folders_unchanged,
            files_read: self.committed.files_read + batch.files_read,
            postbacks_new: self.committed.postbacks_new + batch.postbacks_new,
            postbacks_duplicate: self.committed.postbacks_duplicate + batch.postbacks_duplicate,
            errors: self.committed.errors + batch.errors,
        }
    }

    /// Flush the open batch and commit it with the run's counters so far.
    fn commit(&mut self) -> Result<(), StoreError> {
        let Some(mut batch) = self.batch.take() else {
            return Ok(());
        };
        let totals = self.totals(&batch.counters);
        let result = self.flush(&mut batch).and_then(|()| {
            drop(batch);
            self.raw.execute(&counters_sql(self.run, &totals))?;
            self.raw.execute("COMMIT")
        });
        match result {
            Ok(()) => {
                self.committed = totals;
                Ok(())
            }
            Err(error) => {
                let _ = self.raw.execute("ROLLBACK");
                Err(StoreError::Write(error))
            }
        }
    }

    fn flush(&self, batch: &mut Batch<'_>) -> Result<(), RawError> {
        for (folder_id, change) in &batch.folders {
            rows::folder_change(&mut batch.folder_changes, *folder_id, change)?;
        }
        for appender in batch.appenders() {
            appender.flush()?;
        }
        let run_id = self.run_id;
        if !batch.folders.is_empty() {
            self.raw.execute(&apply_folder_changes(run_id))?;
        }
        // A changed file read again replaces what its earlier reads recorded
        // (duplicate sightings, problems); postbacks first seen in it stay.
        self.raw.execute(&format!(
            "DELETE FROM duplicates WHERE run_id <> {run_id} AND file_id IN (SELECT file_id FROM pa_reread);
             DELETE FROM import_errors WHERE run_id <> {run_id} AND file_id IN (SELECT file_id FROM pa_reread);
             UPDATE files SET path_key = u.path_key, size = u.size, modified_at = u.modified_at, run_id = {run_id}
             FROM pa_file_updates u WHERE files.file_id = u.file_id AND u.touch_only;
             UPDATE files SET path_key = u.path_key, size = u.size, modified_at = u.modified_at, content_hash = u.content_hash,
                    run_id = {run_id}, postbacks = u.postbacks, duplicates = u.duplicates, errors = u.errors
             FROM pa_file_updates u WHERE files.file_id = u.file_id AND NOT u.touch_only;
             DELETE FROM pa_file_updates;
             DELETE FROM pa_reread;"
        ))
    }

    /// Postbacks stored by earlier runs among this group's fingerprints:
    /// fingerprint -> (postback_id, file_id). No query when the archive was empty; the
    /// first lookup of a run brings the fingerprint filters up to date.
    fn stored_before_this_run(&mut self, entries: &[Entry]) -> Result<Earlier, StoreError> {
        if self.first_postback_id == 1 {
            return Ok(Earlier::new());
        }
        let fingerprints: HashSet<u128> = entries
            .iter()
            .flat_map(|entry| match entry {
                Entry::File(FileRecord {
                    content: FileContent::Read { postbacks, .. },
                    ..
                }) => postbacks.as_slice(),
                _ => &[],
            })
            .map(|p| p.fingerprint)
            .filter(|f| !self.stored.contains_key(&Key::from(*f)))
            .collect();
        if fingerprints.is_empty() {
            return Ok(Earlier::new());
        }
        if !self.filters_cover_earlier {
            earlier::cover(self.conn, self.first_postback_id)?;
            self.filters_cover_earlier = true;
        }
        Ok(earlier::stored_before(
            self.conn,
            &fingerprints,
            self.first_postback_id,
        )?)
    }

    fn write_record(
        &mut self,
        batch: &mut Batch<'_>,
        earlier: &Earlier,
        record: &FileRecord,
    ) -> Result<(), RawError> {
        batch.files_written += 1;
        batch.counters.files_read += 1;
        let folder_id = record.folder.as_ref().map(|folder| folder.folder_id);
        if let Some(folder) = &record.folder {
            self.folder_change(batch, folder);
            if record.left_for_later() {
                self.incomplete.insert(folder.folder_id);
            }
        }
        let (content_hash, postbacks, problems) = match &record.content {
            FileContent::Unreadable(problem) => {
                batch.counters.errors += 1;
                return rows::problem(&mut batch.errors, self.run_id, None, &record.path, problem);
            }
            FileContent::Unchanged(known) => {
                let entry = LedgerEntry {
                    file_id: known.file_id,
                    folder_id,
                    content_hash: known.content_hash,
                    touch_only: true,
                    postbacks: 0,
                    duplicates: 0,
                    errors: 0,
                };
                return entry.append_update(&mut batch.updates, record);
            }
            FileContent::Read {
                content_hash,
                postbacks,
                problems,
            } => (*content_hash, postbacks, problems),
        };
        let file_id = match record.known {
            Some(known) => {
                batch.reread.set_i64(0, Some(known.file_id));
                batch.reread.end_row()?;
                known.file_id
            }
            None => {
                self.next_file_id += 1;
                let file_id = self.next_file_id - 1;
                if let Some(folder_id) = folder_id {
                    let change = batch.folders.entry(folder_id).or_default();
                    let (first, last) = change.file_ids.unwrap_or((file_id, file_id));
                    change.file_ids = Some((first.min(file_id), last.max(file_id)));
                }
                file_id
            }
        };
        let duplicates = self.write_postbacks(batch, earlier, record, file_id, postbacks)?;
        for problem in problems {
            rows::problem(
                &mut batch.errors,
                self.run_id,
                Some(file_id),
                &record.path,
                problem,
            )?;
        }
        batch.counters.errors += problems.len() as u64;
        let entry = LedgerEntry {
            file_id,
            folder_id,
            content_hash,
            touch_only: false,
            postbacks: postbacks.len() as i32,
            duplicates: duplicates as i32,
            errors: problems.len() as i32,
        };
        match record.known {
            Some(_) => entry.append_update(&mut batch.updates, record),
            None => entry.append_new(&mut batch.files, record, self.run_id),
        }
    }

    /// Stores each new postback and records every other sighting as a duplicate.
    /// Returns the number of duplicates.
    fn write_postbacks(
        &mut self,
        batch: &mut Batch<'_>,
        earlier: &Earlier,
        record: &FileRecord,
        file_id: i64,
        postbacks: &[Postback],
    ) -> Result<u64, RawError> {
        let (mut new, mut duplicates) = (0, 0);
        let mut seen_in_file: HashSet<Key, KeyHash> = HashSet::default();
        for postback in postbacks {
            let fingerprint = postback.fingerprint;
            let key = Key::from(fingerprint);
            let first_in_file = postbacks.len() == 1 || seen_in_file.insert(key);
            // (postback_id, whether an earlier read of this very file stored it)
            let stored = match self.stored.get(&key) {
                Some(&offset) => Some((self.first_postback_id + i64::from(offset), false)),
                None => earlier
                    .get(&fingerprint)
                    .map(|&(id, stored_file)| (id, stored_file == file_id)),
            };
            match stored {
                // Stored from this very file by an earlier read: its first sighting here is that row.
                Some((_, true)) if first_in_file => {}
                Some((postback_id, _)) => {
                    duplicates += 1;
                    rows::duplicate(
                        &mut batch.duplicates,
                        postback_id,
                        self.run_id,
                        record,
                        file_id,
                        postback,
                    )?;
                }
                None => {
                    new += 1;
                    let postback_id = self.next_postback_id;
                    self.next_postback_id += 1;
                    let offset = (postback_id - self.first_postback_id) as u32;
                    self.stored.insert(key, offset);
                    rows::postback(
                        &mut batch.postbacks,
                        postback_id,
                        self.run_id,
                        record,
                        file_id,
                        postback,
                    )?;
                }
            }
        }
        batch.counters.postbacks_new += new;
        batch.counters.postbacks_duplicate += duplicates;
        Ok(duplicates)
    }
}

/// Whether the files waiting for a lookup of earlier copies are enough for one (see
/// [`LOOKUP_POSTBACKS`]); a batch never holds more files than `batch_files`.
fn lookup_group_full(files: usize, postbacks: usize, batch_files: usize) -> bool {
    postbacks >= LOOKUP_POSTBACKS || files >= LOOKUP_FILES.min(batch_files)
}

impl Drop for ImportWriter<'_> {
    /// A writer dropped with a batch open (after an error) rolls it back.
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            drop(batch);
            let _ = self.raw.execute("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// DuckDB's own threads only waited beside the import's readers (see [`ImportWriter::new`]).
    #[test]
    fn an_import_runs_duckdb_on_one_thread() {
        let archive = Archive::in_memory();
        super::super::schema::prepare(archive.connection(), Path::new(":memory:")).unwrap();
        let raw = archive.writer_connection().unwrap();
        let walk = WalkCounters::default();
        let threads = |conn: &Connection| -> i64 {
            conn.query_row("SELECT current_setting('threads')", [], |row| row.get(0))
                .unwrap()
        };
        assert!(threads(archive.connection()) > 1 || num_cpus_is_one());
        let run = archive.begin_run(&[]).unwrap();
        let _writer = ImportWriter::new(
            &archive,
            &raw,
            &run,
            &walk,
            DEFAULT_MEMORY_LIMIT_MB,
            BATCH_FILES,
        )
        .unwrap();
        assert_eq!(threads(archive.connection()), 1);
    }

    fn num_cpus_is_one() -> bool {
        std::thread::available_parallelism().map_or(true, |n| n.get() == 1)
    }

    /// The benchmark's nightly run (19,956 files, 22,346 postbacks) fits one group, so
    /// it scans the archive's fingerprints once, not twice.
    #[test]
    fn a_nightly_run_is_looked_up_in_one_group() {
        assert!(!lookup_group_full(19_956, 22_346, BATCH_FILES));
        assert!(lookup_group_full(19_956, 32_768, BATCH_FILES));
        assert!(lookup_group_full(32_768, 30_000, BATCH_FILES));
        assert!(lookup_group_full(3, 3, 3));
    }
}
