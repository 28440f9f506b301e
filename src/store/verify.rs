//! Store, helper: what `verify` and `backup` check in an archive: every block read, and
//! the archive's invariants, each a named check.
//!
//! Reading every block takes two passes. [`super::blocks::check_every_block`] checks the
//! checksum of every block in use, indexes included, which no query reads whole; then a
//! scan that hashes every value of every column of every table makes DuckDB read, and
//! check, every block of data, also those that a WAL left by a killed import points at.
//!
//! The invariants are [`CHECKS`]: a name, and SQL in `sql/checks/` (one row: how many
//! problems, and one of them in words) or a check in Rust. To add one, write its file
//! and add a line there; `verify` runs and reports every check in order.

use duckdb::Connection;

use super::blocks::{self, BlockError};
use super::{Archive, StoreError, is_damage};

/// One invariant of the archive.
pub struct Check {
    /// Its name in `verify`'s report.
    pub name: &'static str,
    kind: Kind,
}

enum Kind {
    /// SQL answering one row: the number of problems, and one of them in words.
    Sql(&'static str),
    /// The fingerprint filters hold the keys of the postbacks they cover.
    FingerprintFilters,
}

/// The archive's invariants, in the order `verify` checks them.
pub const CHECKS: &[Check] = &[
    Check {
        name: "ledger_holds_every_file",
        kind: Kind::Sql(include_str!("../../sql/checks/ledger-holds-every-file.sql")),
    },
    Check {
        name: "files_count_their_rows",
        kind: Kind::Sql(include_str!("../../sql/checks/files-count-their-rows.sql")),
    },
    Check {
        name: "fingerprints_are_unique",
        kind: Kind::Sql(include_str!("../../sql/checks/fingerprints-are-unique.sql")),
    },
    Check {
        name: "duplicates_copy_stored_postbacks",
        kind: Kind::Sql(include_str!(
            "../../sql/checks/duplicates-copy-stored-postbacks.sql"
        )),
    },
    Check {
        name: "folders_file_every_file",
        kind: Kind::Sql(include_str!("../../sql/checks/folders-file-every-file.sql")),
    },
    Check {
        name: "compactions_are_finished",
        kind: Kind::Sql(include_str!(
            "../../sql/checks/compactions-are-finished.sql"
        )),
    },
    Check {
        name: "runs_count_their_rows",
        kind: Kind::Sql(include_str!("../../sql/checks/runs-count-their-rows.sql")),
    },
    Check {
        name: "fingerprint_filters_match",
        kind: Kind::FingerprintFilters,
    },
];

/// An invariant that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub problems: u64,
    /// One of the problems, in words.
    pub example: String,
}

/// Run one check; `None` when it holds. DuckDB meeting damage while it runs the
/// check is an error ([`StoreError::Damaged`]), not a finding.
pub fn run_check(archive: &Archive, check: &Check) -> Result<Option<Finding>, StoreError> {
    let conn = archive.connection();
    let (problems, example) = match check.kind {
        Kind::Sql(sql) => conn
            .query_row(sql, [], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
            })
            .map(|(problems, example)| (problems.unsigned_abs(), example.unwrap_or_default()))
            .map_err(|error| named_damage(archive, error))?,
        Kind::FingerprintFilters => filters(conn).map_err(|error| named_damage(archive, error))?,
    };
    Ok((problems > 0).then_some(Finding {
        check: check.name,
        problems,
        example,
    }))
}

fn filters(conn: &Connection) -> duckdb::Result<(u64, String)> {
    let spans = super::writer::filters_that_differ(conn)?;
    let example = spans.first().map_or_else(String::new, |span| {
        format!(
            "the filter of postback ids {} to {} does not hold exactly their fingerprints' keys",
            span * super::writer::SPAN + 1,
            (span + 1) * super::writer::SPAN
        )
    });
    Ok((spans.len() as u64, example))
}

/// What reading every block found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Blocks in use whose checksums were checked (0 when the layout was unknown).
    pub blocks: u64,
    /// Each damaged block, or what DuckDB said when its scan met damage, in words.
    pub damage: Vec<String>,
    /// Rows scanned, over every table.
    pub rows: u64,
}

/// Read every block of the archive: the checksum of each block in use, then every
/// value of every table through DuckDB. The scan is skipped once a block is found
/// damaged (DuckDB would stop at it anyway).
pub fn read_every_block(archive: &Archive) -> Result<BlockReport, StoreError> {
    let mut report = BlockReport::default();
    match blocks::check_every_block(archive.files().file()) {
        Ok((layout, damage)) => {
            report.blocks = layout.used().count() as u64;
            report.damage = damage.iter().map(ToString::to_string).collect();
        }
        Err(BlockError::Damaged(damage)) => report.damage.push(damage.to_string()),
        Err(BlockError::Unknown(_)) => {}
        Err(BlockError::Io(error)) => {
            return Err(StoreError::Open {
                path: archive.path().to_path_buf(),
                message: error.to_string(),
            });
        }
    }
    if !report.damage.is_empty() {
        return Ok(report);
    }
    let conn = archive.connection();
    for table in tables(conn)? {
        match conn.query_row(&scan_sql(conn, &table)?, [], |row| row.get::<_, i64>(0)) {
            Ok(rows) => report.rows += rows.unsigned_abs(),
            Err(error) if is_damage(&error.to_string()) => {
                let message = archive.without_private_names(&error.to_string());
                report
                    .damage
                    .push(format!("DuckDB, reading {table}: {message}"));
                break;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(report)
}

/// The archive's own tables.
fn tables(conn: &Connection) -> Result<Vec<String>, StoreError> {
    Ok(conn
        .prepare(
            "SELECT table_name FROM duckdb_tables()
             WHERE database_name = current_database() AND NOT internal AND NOT temporary
             ORDER BY table_name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<duckdb::Result<_>>()?)
}

/// A query that counts `table`'s rows and hashes every value of every column, so
/// that DuckDB reads every block of the table (strings stored apart from their column,
/// too: a count alone would read no value, and DuckDB answers it from its metadata).
fn scan_sql(conn: &Connection, table: &str) -> Result<String, StoreError> {
    let columns: Vec<String> = conn
        .prepare(
            "SELECT column_name FROM duckdb_columns()
             WHERE database_name = current_database() AND table_name = ? ORDER BY column_index",
        )?
        .query_map([table], |row| row.get(0))?
        .collect::<duckdb::Result<_>>()?;
    let hashes: Vec<String> = columns
        .iter()
        .map(|column| format!("bit_xor(hash({}))", quoted(column)))
        .collect();
    Ok(format!(
        "SELECT count(*), {} FROM {}",
        hashes.join(", "),
        quoted(table)
    ))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// DuckDB's error, as damage of the archive when it says so.
fn named_damage(archive: &Archive, error: duckdb::Error) -> StoreError {
    let message = error.to_string();
    if is_damage(&message) {
        StoreError::Damaged {
            path: archive.path().to_path_buf(),
            what: format!("DuckDB says: {}", archive.without_private_names(&message)),
        }
    } else {
        StoreError::Db(error)
    }
}

/// What the archive recorded of one lake `export` wrote into: where it was last
/// reached, and every file it placed there with its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeRecord {
    pub lake_id: String,
    pub lake_path: String,
    /// (path relative to the lake's folder, bytes).
    pub files: Vec<(String, u64)>,
}

/// The export record of every lake, for `verify` to compare with the lake itself.
pub fn lake_records(archive: &Archive) -> Result<Vec<LakeRecord>, StoreError> {
    let conn = archive.connection();
    let lakes: Vec<(String, String)> = conn
        .prepare(
            "SELECT lake_id, arg_max(lake_path, export_id) FROM lake_exports
             GROUP BY lake_id ORDER BY lake_id",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<duckdb::Result<_>>()?;
    let mut records = Vec::with_capacity(lakes.len());
    for (lake_id, lake_path) in lakes {
        let files = conn
            .prepare(
                "SELECT path, bytes FROM lake_files WHERE lake_id = ? AND placed ORDER BY path",
            )?
            .query_map([&lake_id], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)?.unsigned_abs()))
            })?
            .collect::<duckdb::Result<_>>()?;
        records.push(LakeRecord {
            lake_id,
            lake_path,
            files,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    /// Every check runs on a new, empty archive, and each holds there.
    #[test]
    fn every_check_holds_on_an_empty_archive() {
        let archive = Archive::in_memory();
        schema::prepare(archive.connection(), std::path::Path::new(":memory:")).unwrap();
        for check in CHECKS {
            assert_eq!(run_check(&archive, check).unwrap(), None, "{}", check.name);
        }
        let names: Vec<&str> = CHECKS.iter().map(|check| check.name).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
    }

    /// The scan names every column of every table, quoted.
    #[test]
    fn the_scan_hashes_every_column() {
        let archive = Archive::in_memory();
        let conn = archive.connection();
        conn.execute_batch("CREATE TABLE \"a\"\"b\" (x INTEGER, \"y z\" VARCHAR[])")
            .unwrap();
        assert_eq!(
            scan_sql(conn, "a\"b").unwrap(),
            "SELECT count(*), bit_xor(hash(\"x\")), bit_xor(hash(\"y z\")) FROM \"a\"\"b\""
        );
        assert_eq!(tables(conn).unwrap(), ["a\"b"]);
    }
}
