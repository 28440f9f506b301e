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

/// When to commit: whichever limit a batch reaches first.
const BATCH_FILES: usize = 20_000;
const BATCH_POSTBACKS: usize = 50_000;
const BATCH_AGE: Duration = Duration::from_secs(2);

/// Writes one import run's results.
pub struct ImportWriter<'a> {
    conn: &'a Connection,
    run_id: i32,
    walk: &'a WalkCounters,
    next_postback_id: i64,
    next_file_id: i64,
    archive_has_postbacks: bool,
    pending: Vec<FileRecord>,
    pending_postbacks: usize,
    batch_started: Instant,
    committed: RunCounters,
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
        Ok(ImportWriter {
            conn,
            run_id,
            walk,
            next_postback_id: next_id("SELECT coalesce(max(postback_id), 0) + 1 FROM postbacks")?,
            next_file_id: next_id("SELECT coalesce(max(file_id), 0) + 1 FROM files")?,
            archive_has_postbacks: next_id(
                "SELECT count(*) FROM (SELECT 1 FROM postbacks LIMIT 1)",
            )? > 0,
            pending: Vec::new(),
            pending_postbacks: 0,
            batch_started: Instant::now(),
            committed: RunCounters::default(),
        })
    }

    /// Queue one file; commits a batch when it is full or old enough.
    pub fn write(&mut self, record: FileRecord) -> Result<(), StoreError> {
        if let FileContent::Read { postbacks, .. } = &record.content {
            self.pending_postbacks += postbacks.len();
        }
        self.pending.push(record);
        if self.pending.len() >= BATCH_FILES
            || self.pending_postbacks >= BATCH_POSTBACKS
            || self.batch_started.elapsed() >= BATCH_AGE
        {
            self.commit()?;
        }
        Ok(())
    }

    /// Commit what is queued and return the run's counters.
    pub fn finish(mut self) -> Result<RunCounters, StoreError> {
        self.commit()?;
        Ok(self.counters_with(&RunCounters::default()))
    }

    fn counters_with(&self, batch: &RunCounters) -> RunCounters {
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

    fn commit(&mut self) -> Result<(), StoreError> {
        let records = std::mem::take(&mut self.pending);
        self.pending_postbacks = 0;
        self.batch_started = Instant::now();
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let ids = (self.next_postback_id, self.next_file_id);
        let result = self.write_batch(&records).and_then(|batch| {
            let totals = self.counters_with(&batch);
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
                (self.next_postback_id, self.next_file_id) = ids;
                Err(error)
            }
        }
    }

    fn write_batch(&mut self, records: &[FileRecord]) -> Result<RunCounters, StoreError> {
        self.forget_previous_reads(records)?;
        let existing = self.existing_postbacks(records)?;
        let mut batch = Batch {
            postbacks: self.conn.appender("postbacks")?,
            duplicates: self.conn.appender("duplicates")?,
            files: self.conn.appender("files")?,
            errors: self.conn.appender("import_errors")?,
            updates: self
                .conn
                .appender_to_catalog_and_db("pa_file_updates", "temp", "main")?,
            existing,
            new_in_batch: HashMap::new(),
            counters: RunCounters::default(),
            has_updates: false,
        };
        for record in records {
            self.write_record(&mut batch, record)?;
        }
        for appender in [
            &mut batch.postbacks,
            &mut batch.duplicates,
            &mut batch.files,
            &mut batch.errors,
        ] {
            appender.flush()?;
        }
        batch.updates.flush()?;
        if batch.has_updates {
            self.apply_file_updates()?;
        }
        if batch.counters.postbacks_new > 0 {
            self.archive_has_postbacks = true;
        }
        Ok(batch.counters)
    }

    /// A changed file read again replaces what its earlier read recorded
    /// (duplicate sightings and problems); postbacks first seen in it stay.
    fn forget_previous_reads(&self, records: &[FileRecord]) -> Result<(), StoreError> {
        let reread: Vec<i64> = records
            .iter()
            .filter(|r| matches!(r.content, FileContent::Read { .. }))
            .filter_map(|r| r.known.map(|k| k.file_id))
            .collect();
        if reread.is_empty() {
            return Ok(());
        }
        self.conn.execute_batch("DELETE FROM pa_reread")?;
        let mut appender = self
            .conn
            .appender_to_catalog_and_db("pa_reread", "temp", "main")?;
        for file_id in reread {
            appender.append_row([file_id])?;
        }
        appender.flush()?;
        drop(appender);
        self.conn.execute_batch(
            "DELETE FROM duplicates WHERE file_id IN (SELECT file_id FROM pa_reread);
             DELETE FROM import_errors WHERE file_id IN (SELECT file_id FROM pa_reread);",
        )?;
        Ok(())
    }

    /// Stored postbacks among this batch's fingerprints: fingerprint -> (postback_id, file_id).
    fn existing_postbacks(
        &self,
        records: &[FileRecord],
    ) -> Result<HashMap<u128, (i64, i64)>, StoreError> {
        let mut existing = HashMap::new();
        if !self.archive_has_postbacks {
            return Ok(existing);
        }
        let fingerprints: HashSet<u128> = records
            .iter()
            .filter_map(|r| match &r.content {
                FileContent::Read { postbacks, .. } => {
                    Some(postbacks.iter().map(|p| p.fingerprint))
                }
                _ => None,
            })
            .flatten()
            .collect();
        if fingerprints.is_empty() {
            return Ok(existing);
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
             WHERE fingerprint IN (SELECT fingerprint FROM pa_fingerprints)",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, u128>(0)?, (row.get(1)?, row.get(2)?)))
        })?;
        for row in rows {
            let (fingerprint, ids) = row?;
            existing.insert(fingerprint, ids);
        }
        Ok(existing)
    }

    fn write_record(
        &mut self,
        batch: &mut Batch<'_>,
        record: &FileRecord,
    ) -> Result<(), StoreError> {
        batch.counters.files_read += 1;
        let (content_hash, postbacks, problems) = match &record.content {
            FileContent::Unreadable(problem) => {
                batch.counters.errors += 1;
                return append_problem(&mut batch.errors, self.run_id, None, &record.path, problem);
            }
            FileContent::Unchanged => {
                let known = record.known.expect("an unchanged file is in the ledger");
                batch.has_updates = true;
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
            Some(known) => known.file_id,
            None => {
                self.next_file_id += 1;
                self.next_file_id - 1
            }
        };
        let duplicates = self.write_postbacks(batch, file_id, postbacks)?;
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
            batch.has_updates = true;
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
        file_id: i64,
        postbacks: &[Postback],
    ) -> Result<u64, StoreError> {
        let (mut new, mut duplicates) = (0, 0);
        let mut seen_in_file: HashSet<u128> = HashSet::new();
        for postback in postbacks {
            let first_in_file = seen_in_file.insert(postback.fingerprint);
            let stored = batch
                .existing
                .get(&postback.fingerprint)
                .or(batch.new_in_batch.get(&postback.fingerprint));
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
                    batch
                        .new_in_batch
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

    fn apply_file_updates(&self) -> Result<(), StoreError> {
        let run_id = self.run_id;
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
        self.conn.execute_batch("DELETE FROM pa_file_updates")?;
        Ok(())
    }
}

/// The appenders and lookups of one batch.
struct Batch<'c> {
    postbacks: Appender<'c>,
    duplicates: Appender<'c>,
    files: Appender<'c>,
    errors: Appender<'c>,
    updates: Appender<'c>,
    existing: HashMap<u128, (i64, i64)>,
    new_in_batch: HashMap<u128, (i64, i64)>,
    counters: RunCounters,
    has_updates: bool,
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
