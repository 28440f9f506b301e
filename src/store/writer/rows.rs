//! Store, import writer helper: how one postback, duplicate, ledger row or problem
//! is laid out in the columns of its table (see sql/schema.sql).

use super::FileRecord;
use crate::normalize::columns::COLUMNS;
use crate::normalize::{Postback, Value};
use crate::problem::Problem;
use crate::store::raw::ChunkAppender;

type Appended = Result<(), String>;

/// One `postbacks` row: where it was seen, then its time, typed columns and `extra`.
pub fn postback(
    a: &mut ChunkAppender<'_>,
    postback_id: i64,
    run_id: i32,
    file_id: i64,
    p: &Postback,
) -> Appended {
    sighting(a, postback_id, run_id, file_id, p);
    a.set_timestamp(6, p.occurred_at);
    a.set_i16(7, p.utc_offset_minutes);
    const TYPED: usize = 8;
    for (index, value) in p.values.iter().enumerate() {
        match value {
            None => a.set_null(TYPED + index),
            Some(Value::Text(text)) => a.set_str(TYPED + index, Some(text)),
            Some(Value::Integer(number)) => a.set_i64(TYPED + index, Some(*number)),
        }
    }
    a.set_str(TYPED + COLUMNS.len(), p.extra.as_deref());
    a.end_row()
}

/// One `duplicates` row: a further sighting of a stored postback.
pub fn duplicate(
    a: &mut ChunkAppender<'_>,
    postback_id: i64,
    run_id: i32,
    file_id: i64,
    p: &Postback,
) -> Appended {
    sighting(a, postback_id, run_id, file_id, p);
    a.end_row()
}

/// The first six columns, which `postbacks` and `duplicates` share: which postback,
/// and where (run, file, place in the file, line) it was seen.
fn sighting(a: &mut ChunkAppender<'_>, postback_id: i64, run_id: i32, file_id: i64, p: &Postback) {
    a.set_i64(0, Some(postback_id));
    a.set_u128(1, Some(p.fingerprint));
    a.set_i32(2, Some(run_id));
    a.set_i64(3, Some(file_id));
    a.set_i32(4, Some(p.ordinal as i32));
    a.set_i32(5, Some(p.line as i32));
}

/// One `import_errors` row.
pub fn problem(
    a: &mut ChunkAppender<'_>,
    run_id: i32,
    file_id: Option<i64>,
    path: &str,
    problem: &Problem,
) -> Appended {
    let known = problem.position.is_known();
    a.set_i32(0, Some(run_id));
    a.set_i64(1, file_id);
    a.set_str(2, Some(path));
    a.set_i32(3, known.then_some(problem.position.line as i32));
    a.set_i32(4, known.then_some(problem.position.column as i32));
    a.set_str(5, Some(problem.kind.as_str()));
    a.set_str(6, Some(&problem.message));
    a.end_row()
}

/// What the ledger learns about a file from one read.
pub struct LedgerEntry {
    pub file_id: i64,
    pub content_hash: Option<u128>,
    /// Only the size and time changed; the counts stay as they were.
    pub touch_only: bool,
    pub postbacks: i32,
    pub duplicates: i32,
    pub errors: i32,
}

impl LedgerEntry {
    /// A new `files` row.
    pub fn append_new(
        &self,
        a: &mut ChunkAppender<'_>,
        record: &FileRecord,
        run_id: i32,
    ) -> Appended {
        a.set_i64(0, Some(self.file_id));
        a.set_str(1, Some(&record.path));
        a.set_u128(2, Some(record.path_key));
        a.set_i64(3, Some(record.size as i64));
        a.set_timestamp(4, Some(record.modified_us));
        a.set_u128(5, self.content_hash);
        a.set_bool(6, Some(record.compressed));
        a.set_i32(7, Some(run_id));
        a.set_i32(8, Some(run_id));
        self.append_counts(a, 9)
    }

    /// A row of the `pa_file_updates` temp table, applied to `files` at commit. It
    /// carries the path's key too: a row an earlier version keyed on a lossy name
    /// takes the exact one.
    pub fn append_update(&self, a: &mut ChunkAppender<'_>, record: &FileRecord) -> Appended {
        a.set_i64(0, Some(self.file_id));
        a.set_u128(1, Some(record.path_key));
        a.set_i64(2, Some(record.size as i64));
        a.set_timestamp(3, Some(record.modified_us));
        a.set_u128(4, self.content_hash);
        a.set_bool(5, Some(self.touch_only));
        self.append_counts(a, 6)
    }

    fn append_counts(&self, a: &mut ChunkAppender<'_>, first: usize) -> Appended {
        a.set_i32(first, Some(self.postbacks));
        a.set_i32(first + 1, Some(self.duplicates));
        a.set_i32(first + 2, Some(self.errors));
        a.end_row()
    }
}
