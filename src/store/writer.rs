//! Store, the import writer: appends files, postbacks, duplicates and problems in batches.
//!
//! Each batch of files is one transaction holding the files' ledger rows together with
//! everything found in them, so a killed import never leaves half a file behind, and the
//! next run reads exactly the files whose batch did not commit. A single writer with
//! DuckDB's Appender, no per-row SQL.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use duckdb::types::{TimeUnit, ToSqlOutput, Value as DbValue, ValueRef};
use duckdb::{Appender, Connection, ToSql};

use super::StoreError;
use super::runs::{RunCounters, update_counters};
use crate::discover::{KnownFile, WalkCounters};
use crate::normalize::{Postback, Value};
use crate::problem::Problem;

/// Everything the store needs to know about one file that discovery handed on.
#[derive(Debug)]
pub struct FileRecord {
    pub path: String,
    pub size: u64,
    pub modified_us: i64,
    pub compressed: bool,
    pub known: Option<KnownFile>,
    pub content: FileContent,
}

impl FileRecord {
    /// A file that could not be read at all.
    pub fn unreadable(path: String, known: Option<KnownFile>, problem: Problem) -> Self {
        FileRecord {
            path,
            size: 0,
            modified_us: 0,
            compressed: false,
            known,
            content: FileContent::Unreadable(problem),
        }
    }
}

/// What reading a file produced.
#[derive(Debug)]
pub enum FileContent {
    /// Could not be read: the problem is recorded, but the file stays out of the
    /// ledger so that the next run tries again.
    Unreadable(Problem),
    /// Its size or time changed but its bytes did not: only the ledger is updated.
    Unchanged,
    /// Read and parsed (possibly with problems, possibly holding no postback).
    Read {
        content_hash: Option<u128>,
        postbacks: Vec<Postback>,
        problems: Vec<Problem>,
    },
}

/// When to commit: whichever limit a batch reaches first. A batch of more than a
/// row group (122,880 rows) lets DuckDB write the rows to the database file once,
/// instead of to the write-ahead log and then again at the checkpoint.
const BATCH_POSTBACKS: usize = 131_072;
const BATCH_FILES: usize = 131_072;
const BATCH_AGE: Duration = Duration::from_secs(20);

/// Files per batch: [`BATCH_FILES`], or `POSTBACK_ARCHIVE_BATCH_FILES` when set,
/// which the crash tests use to get many commits out of a small archive.
fn batch_files() -> usize {
    std::env::var("POSTBACK_ARCHIVE_BATCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH_FILES)
}

/// Writes one import run's results, streaming them into an open transaction that
/// is committed every batch.
pub struct ImportWriter<'a> {
    conn: &'a Connection,
    run_id: i32,
    walk: &'a WalkCounters,
    next_postback_id: i64,
    next_file_id: i64,
    /// Postbacks stored before this run have ids below this; looked up in the archive.
    first_postback_id: i64,
    /// Postbacks stored by this run: fingerprint -> (postback_id, file_id).
    stored: HashMap<u128, (i64, i64)>,
    batch: Option<Batch<'a>>,
    batch_files: usize,
    committed: RunCounters,
}

/// The open transaction: its appenders and what it has written so far.
struct Batch<'c> {
    postbacks: Appender<'c>,
    duplicates: Appender<'c>,
    files: Appender<'c>,
    errors: Appender<'c>,
    updates: Appender<'c>,
    reread: Appender<'c>,
    counters: RunCounters,
    files_written: usize,
    started: Instant,
}

impl<'a> ImportWriter<'a> {
    pub fn new(
        conn: &'a Connection,
        run_id: i32,
        walk: &'a WalkCounters,
    ) -> Result<Self, StoreError> {
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS pa_fingerprints (fingerprint UHUGEINT);
             CREATE TEMP TABLE IF NOT EXISTS pa_reread (file_id BIGINT);
             CREATE TEMP TABLE IF NOT EXISTS pa_file_updates (
                 file_id BIGINT, size BIGINT, modified_at TIMESTAMP, content_hash UHUGEINT,
                 touch_only BOOLEAN, postbacks INTEGER, duplicates INTEGER, errors INTEGER);",
        )?;
        let next_id = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0));
        let first_postback_id = next_id("SELECT coalesce(max(postback_id), 0) + 1 FROM postbacks")?;
        Ok(ImportWriter {
            conn,
            run_id,
            walk,
            next_postback_id: first_postback_id,
            next_file_id: next_id("SELECT coalesce(max(file_id), 0) + 1 FROM files")?,
            first_postback_id,
            stored: HashMap::new(),
            batch: None,
            batch_files: batch_files(),
            committed: RunCounters::default(),
        })
    }

    /// Store a chunk of files, in order; commits when the batch is full or old enough.
    pub fn write(&mut self, records: Vec<FileRecord>) -> Result<(), StoreError> {
        if self.batch.is_none() {
            self.conn.execute_batch("BEGIN TRANSACTION")?;
            self.batch = Some(self.open_batch()?);
        }
        let earlier = self.stored_before_this_run(&records)?;
        let mut batch = self.batch.take().expect("a batch is open");
        let result = records
            .iter()
            .try_for_each(|record| self.write_record(&mut batch, &earlier, record));
        let full = batch.files_written >= self.batch_files
            || batch.counters.postbacks_new + batch.counters.postbacks_duplicate
                >= BATCH_POSTBACKS as u64
            || batch.started.elapsed() >= BATCH_AGE;
        self.batch = Some(batch);
        result?;
        if full { self.commit() } else { Ok(()) }
    }

    /// Commit what is open and return the run's counters.
    pub fn finish(mut self) -> Result<RunCounters, StoreError> {
        self.commit()?;
        Ok(self.totals(&RunCounters::default()))
    }

    fn open_batch(&self) -> Result<Batch<'a>, StoreError> {
        let temp = |table| self.conn.appender_to_catalog_and_db(table, "temp", "main");
        Ok(Batch {
            postbacks: self.conn.appender("postbacks")?,
            duplicates: self.conn.appender("duplicates")?,
            files: self.conn.appender("files")?,
            errors: self.conn.appender("import_errors")?,
            updates: temp("pa_file_updates")?,
            reread: temp("pa_reread")?,
            counters: RunCounters::default(),
            files_written: 0,
            started: Instant::now(),
        })
    }

    fn totals(&self, batch: &RunCounters) -> RunCounters {
        let (seen, skipped, other) = self.walk.snapshot();
        RunCounters {
            files_seen: seen,
            files_skipped: skipped,
            files_other: other,
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
        let result = self.flush(&mut batch).and_then(|()| {
            let totals = self.totals(&batch.counters);
            update_counters(self.conn, self.run_id, &totals)?;
            self.conn.execute_batch("COMMIT")?;
            Ok(totals)
        });
        match result {
            Ok(totals) => {
                self.committed = totals;
                Ok(())
            }
            Err(error) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    fn flush(&self, batch: &mut Batch<'_>) -> Result<(), StoreError> {
        for appender in [
            &mut batch.postbacks,
            &mut batch.duplicates,
            &mut batch.files,
            &mut batch.errors,
            &mut batch.updates,
            &mut batch.reread,
        ] {
            appender.flush()?;
        }
        let run_id = self.run_id;
        // A changed file read again replaces what its earlier reads recorded
        // (duplicate sightings, problems); postbacks first seen in it stay.
        self.conn.execute(
            "DELETE FROM duplicates WHERE run_id <> ? AND file_id IN (SELECT file_id FROM pa_reread)",
            [run_id],
        )?;
        self.conn.execute(
            "DELETE FROM import_errors WHERE run_id <> ? AND file_id IN (SELECT file_id FROM pa_reread)",
            [run_id],
        )?;
        self.conn.execute(
            "UPDATE files SET size = u.size, modified_at = u.modified_at, run_id = ?
             FROM pa_file_updates u WHERE files.file_id = u.file_id AND u.touch_only",
            [run_id],
        )?;
        self.conn.execute(
            "UPDATE files SET size = u.size, modified_at = u.modified_at, content_hash = u.content_hash,
                    run_id = ?, postbacks = u.postbacks, duplicates = u.duplicates, errors = u.errors
             FROM pa_file_updates u WHERE files.file_id = u.file_id AND NOT u.touch_only",
            [run_id],
        )?;
        self.conn
            .execute_batch("DELETE FROM pa_file_updates; DELETE FROM pa_reread;")?;
        Ok(())
    }

    /// Postbacks stored by earlier runs among this chunk's fingerprints:
    /// fingerprint -> (postback_id, file_id). No query when the archive was empty.
    fn stored_before_this_run(
        &self,
        records: &[FileRecord],
    ) -> Result<HashMap<u128, (i64, i64)>, StoreError> {
        let mut earlier = HashMap::new();
        if self.first_postback_id == 1 {
            return Ok(earlier);
        }
        let fingerprints: HashSet<u128> = records
            .iter()
            .flat_map(|r| match &r.content {
                FileContent::Read { postbacks, .. } => postbacks.as_slice(),
                _ => &[],
            })
            .map(|p| p.fingerprint)
            .filter(|f| !self.stored.contains_key(f))
            .collect();
        if fingerprints.is_empty() {
            return Ok(earlier);
        }
        self.conn.execute_batch("DELETE FROM pa_fingerprints")?;
        let mut appender =
            self.conn
                .appender_to_catalog_and_db("pa_fingerprints", "temp", "main")?;
        for fingerprint in fingerprints {
            appender.append_row([fingerprint])?;
        }
        appender.flush()?;
        drop(appender);
        let mut statement = self.conn.prepare(
            "SELECT fingerprint, postback_id, file_id FROM postbacks
             WHERE postback_id < ? AND fingerprint IN (SELECT fingerprint FROM pa_fingerprints)",
        )?;
        let rows = statement.query_map([self.first_postback_id], |row| {
            Ok((row.get::<_, u128>(0)?, (row.get(1)?, row.get(2)?)))
        })?;
        for row in rows {
            let (fingerprint, ids) = row?;
            earlier.insert(fingerprint, ids);
        }
        Ok(earlier)
    }

    fn write_record(
        &mut self,
        batch: &mut Batch<'_>,
        earlier: &HashMap<u128, (i64, i64)>,
        record: &FileRecord,
    ) -> Result<(), StoreError> {
        batch.files_written += 1;
        batch.counters.files_read += 1;
        let (content_hash, postbacks, problems) = match &record.content {
            FileContent::Unreadable(problem) => {
                batch.counters.errors += 1;
                return append_problem(&mut batch.errors, self.run_id, None, &record.path, problem);
            }
            FileContent::Unchanged => {
                let known = record.known.expect("an unchanged file is in the ledger");
                let row = FileUpdate {
                    file_id: known.file_id,
                    touch_only: true,
                    ..FileUpdate::new(record)
                };
                return row.append(&mut batch.updates);
            }
            FileContent::Read {
                content_hash,
                postbacks,
                problems,
            } => (*content_hash, postbacks, problems),
        };
        let file_id = match record.known {
            Some(known) => {
                batch.reread.append_row([known.file_id])?;
                known.file_id
            }
            None => {
                self.next_file_id += 1;
                self.next_file_id - 1
            }
        };
        let duplicates = self.write_postbacks(batch, earlier, file_id, postbacks)?;
        for problem in problems {
            append_problem(
                &mut batch.errors,
                self.run_id,
                Some(file_id),
                &record.path,
                problem,
            )?;
        }
        batch.counters.errors += problems.len() as u64;
        let update = FileUpdate {
            file_id,
            content_hash,
            touch_only: false,
            postbacks: postbacks.len() as i32,
            duplicates: duplicates as i32,
            errors: problems.len() as i32,
            ..FileUpdate::new(record)
        };
        if record.known.is_some() {
            update.append(&mut batch.updates)
        } else {
            update.append_new(&mut batch.files, record, self.run_id)
        }
    }

    /// Stores each new postback and records every other sighting as a duplicate.
    /// Returns the number of duplicates.
    fn write_postbacks(
        &mut self,
        batch: &mut Batch<'_>,
        earlier: &HashMap<u128, (i64, i64)>,
        file_id: i64,
        postbacks: &[Postback],
    ) -> Result<u64, StoreError> {
        let (mut new, mut duplicates) = (0, 0);
        let mut seen_in_file: HashSet<u128> = HashSet::new();
        for postback in postbacks {
            let first_in_file = seen_in_file.insert(postback.fingerprint);
            let stored = self
                .stored
                .get(&postback.fingerprint)
                .or(earlier.get(&postback.fingerprint));
            match stored.copied() {
                // Stored from this very file by an earlier read: its first sighting here is that row.
                Some((_, stored_file)) if stored_file == file_id && first_in_file => {}
                Some((postback_id, _)) => {
                    duplicates += 1;
                    let row: [&dyn ToSql; 6] = [
                        &postback_id,
                        &postback.fingerprint,
                        &self.run_id,
                        &file_id,
                        &(postback.ordinal as i32),
                        &(postback.line as i32),
                    ];
                    batch.duplicates.append_row(row.as_slice())?;
                }
                None => {
                    new += 1;
                    let postback_id = self.next_postback_id;
                    self.next_postback_id += 1;
                    self.stored
                        .insert(postback.fingerprint, (postback_id, file_id));
                    append_postback(
                        &mut batch.postbacks,
                        postback_id,
                        self.run_id,
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

impl Drop for ImportWriter<'_> {
    /// A writer dropped with a batch open (after an error) rolls it back.
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            drop(batch);
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// One `files` row, new or updated.
struct FileUpdate {
    file_id: i64,
    size: i64,
    modified_at: DbValue,
    content_hash: Option<u128>,
    touch_only: bool,
    postbacks: i32,
    duplicates: i32,
    errors: i32,
}

impl FileUpdate {
    fn new(record: &FileRecord) -> Self {
        FileUpdate {
            file_id: 0,
            size: record.size as i64,
            modified_at: timestamp(record.modified_us),
            content_hash: None,
            touch_only: false,
            postbacks: 0,
            duplicates: 0,
            errors: 0,
        }
    }

    /// Queue an update of a file already in the ledger.
    fn append(&self, updates: &mut Appender<'_>) -> Result<(), StoreError> {
        let row: [&dyn ToSql; 8] = [
            &self.file_id,
            &self.size,
            &self.modified_at,
            &self.content_hash,
            &self.touch_only,
            &self.postbacks,
            &self.duplicates,
            &self.errors,
        ];
        updates.append_row(row.as_slice())?;
        Ok(())
    }

    /// Add a file to the ledger.
    fn append_new(
        &self,
        files: &mut Appender<'_>,
        record: &FileRecord,
        run_id: i32,
    ) -> Result<(), StoreError> {
        let row: [&dyn ToSql; 11] = [
            &self.file_id,
            &record.path,
            &self.size,
            &self.modified_at,
            &self.content_hash,
            &record.compressed,
            &run_id,
            &run_id,
            &self.postbacks,
            &self.duplicates,
            &self.errors,
        ];
        files.append_row(row.as_slice())?;
        Ok(())
    }
}

fn append_problem(
    errors: &mut Appender<'_>,
    run_id: i32,
    file_id: Option<i64>,
    path: &str,
    problem: &Problem,
) -> Result<(), StoreError> {
    let known = problem.position.is_known();
    let line = known.then_some(problem.position.line as i32);
    let column = known.then_some(problem.position.column as i32);
    let row: [&dyn ToSql; 7] = [
        &run_id,
        &file_id,
        &path,
        &line,
        &column,
        &problem.kind.as_str(),
        &problem.message,
    ];
    errors.append_row(row.as_slice())?;
    Ok(())
}

fn append_postback(
    appender: &mut Appender<'_>,
    postback_id: i64,
    run_id: i32,
    file_id: i64,
    postback: &Postback,
) -> Result<(), StoreError> {
    let occurred_at = postback.occurred_at.map(timestamp);
    let fixed: [&dyn ToSql; 8] = [
        &postback_id,
        &postback.fingerprint,
        &run_id,
        &file_id,
        &(postback.ordinal as i32),
        &(postback.line as i32),
        &occurred_at,
        &postback.utc_offset_minutes,
    ];
    let cells: Vec<Cell<'_>> = postback.values.iter().map(|v| Cell(v.as_ref())).collect();
    let mut row: Vec<&dyn ToSql> = Vec::with_capacity(fixed.len() + cells.len() + 1);
    row.extend_from_slice(&fixed);
    row.extend(cells.iter().map(|c| c as &dyn ToSql));
    row.push(&postback.extra);
    appender.append_row(row.as_slice())?;
    Ok(())
}

/// A typed column value handed to DuckDB without copying its text.
struct Cell<'v>(Option<&'v Value>);

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            None => ToSqlOutput::Owned(DbValue::Null),
            Some(Value::Text(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Some(Value::Integer(number)) => ToSqlOutput::Owned(DbValue::BigInt(*number)),
        })
    }
}

fn timestamp(micros: i64) -> DbValue {
    DbValue::Timestamp(TimeUnit::Microsecond, micros)
}
