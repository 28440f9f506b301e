//! Store, import writer helper: how one postback, duplicate, ledger row or problem
//! is laid out in the columns of its table (see sql/schema.sql).
//!
//! Each table's appender is opened on the column names listed here (`*_COLUMNS`), and
//! each row function sets them by their place in that list: the table's own column
//! order does not matter. `tests` checks every name against the schema, with the type
//! written.

use super::{FileRecord, FolderChange};
use crate::normalize::columns::COLUMNS;
use crate::normalize::{Postback, Value};
use crate::problem::Problem;
use crate::store::c_api::{ChunkAppender, RawError};

type Appended = Result<(), RawError>;

/// Which postback, and where it was seen (run, file, place in the file, line, the
/// file's modification time): what `postbacks` and `duplicates` rows start with.
const SIGHTING_COLUMNS: [&str; 7] = [
    "postback_id",
    "fingerprint",
    "run_id",
    "file_id",
    "file_position",
    "line",
    "received_at",
];

/// The `postbacks` columns [`postback`] sets, in order: the sighting, the time of the
/// event, the typed columns of [`COLUMNS`] and `extra`.
pub fn postback_columns() -> Vec<&'static str> {
    let mut names = SIGHTING_COLUMNS.to_vec();
    names.extend(["occurred_at", "utc_offset_minutes"]);
    names.extend(COLUMNS.iter().map(|column| column.name));
    names.push("extra");
    names
}

/// One `postbacks` row: where it was seen, then its time, typed columns and `extra`.
pub fn postback(
    a: &mut ChunkAppender<'_>,
    postback_id: i64,
    run_id: i32,
    file: &FileRecord,
    file_id: i64,
    p: &Postback,
) -> Appended {
    sighting(a, postback_id, run_id, file, file_id, p);
    const TIME: usize = SIGHTING_COLUMNS.len();
    a.set_timestamp(TIME, p.occurred_at);
    a.set_i16(TIME + 1, p.utc_offset_minutes);
    const TYPED: usize = TIME + 2;
    for index in 0..COLUMNS.len() {
        match p.value(index) {
            None => a.set_null(TYPED + index),
            Some(Value::Text(text)) => a.set_str(TYPED + index, Some(text)),
            Some(Value::Integer(number)) => a.set_i64(TYPED + index, Some(number)),
        }
    }
    a.set_str(TYPED + COLUMNS.len(), p.extra());
    a.end_row()
}

/// The `duplicates` columns [`duplicate`] sets.
pub const DUPLICATE_COLUMNS: [&str; 7] = SIGHTING_COLUMNS;

/// One `duplicates` row: a further sighting of a stored postback.
pub fn duplicate(
    a: &mut ChunkAppender<'_>,
    postback_id: i64,
    run_id: i32,
    file: &FileRecord,
    file_id: i64,
    p: &Postback,
) -> Appended {
    sighting(a, postback_id, run_id, file, file_id, p);
    a.end_row()
}

/// The [`SIGHTING_COLUMNS`]. A postback arrived when its file was last written, as far
/// as anyone can tell from a file: the file's modification time.
fn sighting(
    a: &mut ChunkAppender<'_>,
    postback_id: i64,
    run_id: i32,
    file: &FileRecord,
    file_id: i64,
    p: &Postback,
) {
    a.set_i64(0, Some(postback_id));
    a.set_u128(1, Some(p.fingerprint));
    a.set_i32(2, Some(run_id));
    a.set_i64(3, Some(file_id));
    a.set_i32(4, Some(p.ordinal as i32));
    a.set_i32(5, Some(p.line as i32));
    a.set_timestamp(6, Some(file.modified_us));
}

/// The `import_errors` columns [`problem`] sets.
pub const PROBLEM_COLUMNS: [&str; 7] = [
    "run_id", "file_id", "path", "line", "col", "kind", "message",
];

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
    /// The folder (or tarball) holding it (`folders.folder_id`).
    pub folder_id: Option<i64>,
    pub content_hash: Option<u128>,
    /// Only the size and time changed; the counts stay as they were.
    pub touch_only: bool,
    pub postbacks: i32,
    pub duplicates: i32,
    pub errors: i32,
}

/// The `files` columns [`LedgerEntry::append_new`] sets.
pub const FILE_COLUMNS: [&str; 13] = [
    "file_id",
    "folder_id",
    "path",
    "path_key",
    "size",
    "modified_at",
    "content_hash",
    "compressed",
    "first_run_id",
    "run_id",
    "postbacks",
    "duplicates",
    "errors",
];

/// The columns of the `pa_file_updates` temp table that [`LedgerEntry::append_update`]
/// sets (the temp table is created with exactly these, in `writer`).
pub const FILE_UPDATE_COLUMNS: [&str; 9] = [
    "file_id",
    "path_key",
    "size",
    "modified_at",
    "content_hash",
    "touch_only",
    "postbacks",
    "duplicates",
    "errors",
];

impl LedgerEntry {
    /// A new `files` row.
    pub fn append_new(
        &self,
        a: &mut ChunkAppender<'_>,
        record: &FileRecord,
        run_id: i32,
    ) -> Appended {
        a.set_i64(0, Some(self.file_id));
        a.set_i64(1, self.folder_id);
        a.set_str(2, Some(&record.path));
        a.set_u128(3, Some(record.path_key));
        a.set_i64(4, Some(record.size as i64));
        a.set_timestamp(5, Some(record.modified_us));
        a.set_u128(6, self.content_hash);
        a.set_bool(7, Some(record.compressed));
        a.set_i32(8, Some(run_id));
        a.set_i32(9, Some(run_id));
        self.append_counts(a, 10)
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

/// The columns of the `pa_folder_changes` temp table that [`folder_change`] sets (the
/// temp table is created with exactly these, in `writer`).
pub const FOLDER_CHANGE_COLUMNS: [&str; 15] = [
    "folder_id",
    "is_new",
    "path",
    "kind",
    "parent_id",
    "set_listed",
    "listed",
    "links_followed",
    "device",
    "inode",
    "modified_ns",
    "changed_ns",
    "size",
    "first_file_id",
    "last_file_id",
];

/// One row of `pa_folder_changes`: what a batch changes of a folder's row.
pub fn folder_change(a: &mut ChunkAppender<'_>, folder_id: i64, change: &FolderChange) -> Appended {
    a.set_i64(0, Some(folder_id));
    a.set_bool(1, Some(change.new.is_some()));
    a.set_str(2, change.new.as_ref().map(|(path, _)| &**path));
    a.set_str(3, change.new.as_ref().map(|(_, kind)| kind.as_str()));
    a.set_i64(4, change.parent_id);
    a.set_bool(5, Some(change.listed.is_some()));
    let stamp = change.listed.flatten();
    a.set_bool(6, Some(stamp.is_some()));
    a.set_bool(7, Some(change.links_followed));
    a.set_i64(8, stamp.map(|s| s.device));
    a.set_i64(9, stamp.map(|s| s.inode));
    a.set_i64(10, stamp.map(|s| s.modified_ns));
    a.set_i64(11, stamp.map(|s| s.changed_ns));
    a.set_i64(12, stamp.map(|s| s.size));
    a.set_i64(13, change.file_ids.map(|(first, _)| first));
    a.set_i64(14, change.file_ids.map(|(_, last)| last));
    a.end_row()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use crate::parse::parse_file;
    use crate::problem::{Position, ProblemKind};
    use crate::store::Archive;
    use crate::store::schema;
    use crate::store::writer::FileContent;

    /// Every row function, through appenders opened on its column names, into the
    /// schema of a new archive: a name the table lacks fails to open, a type other
    /// than the one written panics in the appender, a value left unset fails the row,
    /// and each value comes back from the column it was meant for.
    #[test]
    fn every_column_the_writer_names_is_in_the_schema_with_the_type_written() {
        let archive = Archive::in_memory();
        schema::prepare(archive.connection(), std::path::Path::new(":memory:")).unwrap();
        let raw = archive.writer_connection().unwrap();
        raw.execute(super::super::STAGING_TABLES).unwrap();
        let xml = b"<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><CODE>N801</CODE>\
            <STATUSCODE>N802</STATUSCODE><PASSDATAID>7</PASSDATAID><X>y</X>\
            <TIMESTAMP>2026-11-01T12:00:00-05:00</TIMESTAMP></POSTBACK>";
        let (parsed, _) = normalize(&parse_file(xml).postbacks[0]);
        let record = FileRecord {
            path: "/in/a.xml".to_string(),
            path_key: 77,
            size: 10,
            modified_us: 1_793_552_400_000_000,
            compressed: false,
            known: None,
            folder: None,
            content: FileContent::Read {
                content_hash: Some(99),
                postbacks: Vec::new(),
                problems: Vec::new(),
            },
        };
        let entry = LedgerEntry {
            file_id: 4,
            folder_id: Some(6),
            content_hash: Some(99),
            touch_only: false,
            postbacks: 1,
            duplicates: 1,
            errors: 1,
        };
        let problem = Problem::new(ProblemKind::BadValue, Position::new(3, 5), "bad");
        let open = |table: &str, temporary: bool, columns: &[&str]| {
            raw.appender(table, temporary, columns).unwrap()
        };
        let mut a = open("postbacks", false, &postback_columns());
        postback(&mut a, 1, 2, &record, 4, &parsed).unwrap();
        a.flush().unwrap();
        let mut a = open("duplicates", false, &DUPLICATE_COLUMNS);
        duplicate(&mut a, 1, 3, &record, 4, &parsed).unwrap();
        a.flush().unwrap();
        let mut a = open("import_errors", false, &PROBLEM_COLUMNS);
        super::problem(&mut a, 2, Some(4), &record.path, &problem).unwrap();
        a.flush().unwrap();
        let mut a = open("files", false, &FILE_COLUMNS);
        entry.append_new(&mut a, &record, 2).unwrap();
        a.flush().unwrap();
        let mut a = open("pa_file_updates", true, &FILE_UPDATE_COLUMNS);
        entry.append_update(&mut a, &record).unwrap();
        a.flush().unwrap();
        drop(a);

        let conn = archive.connection();
        let text = |sql: &str| -> String { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
        assert_eq!(
            text(
                "SELECT concat_ws('|', postback_id, fingerprint = (SELECT fingerprint FROM duplicates),
                        run_id, file_id, file_position, line, received_at, occurred_at,
                        utc_offset_minutes, origin, code, status_code, pass_data_id, extra)
                 FROM postbacks"
            ),
            "1|true|2|4|1|1|2026-11-01 17:00:00|2026-11-01 17:00:00|-300|GENERATE_PASS|N801|N802|7|{\"X\":\"y\"}"
        );
        assert_eq!(
            text(
                "SELECT concat_ws('|', postback_id, run_id, file_id, file_position, line, received_at) FROM duplicates"
            ),
            "1|3|4|1|1|2026-11-01 17:00:00"
        );
        assert_eq!(
            text(
                "SELECT concat_ws('|', run_id, file_id, path, line, col, kind, message) FROM import_errors"
            ),
            "2|4|/in/a.xml|3|5|bad_value|bad"
        );
        assert_eq!(
            text(
                "SELECT concat_ws('|', file_id, folder_id, path, path_key, size, modified_at, content_hash,
                        compressed, first_run_id, run_id, postbacks, duplicates, errors) FROM files"
            ),
            "4|6|/in/a.xml|77|10|2026-11-01 17:00:00|99|false|2|2|1|1|1"
        );
        // The temp table lives in the writer's connection: copy it out to read it here.
        raw.execute("CREATE TABLE staged AS FROM pa_file_updates")
            .unwrap();
        assert_eq!(
            text(
                "SELECT concat_ws('|', file_id, path_key, size, modified_at, content_hash, touch_only,
                        postbacks, duplicates, errors) FROM staged"
            ),
            "4|77|10|2026-11-01 17:00:00|99|false|1|1|1"
        );
    }
}
