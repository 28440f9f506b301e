//! Store, helper: create and migrate the archive's schema, and load the reference tables.
//!
//! Migrations are SQL files compiled into the binary, numbered from 1; `archive_meta`
//! records the version an archive is at. The reference tables are rebuilt from the
//! CSV files in `data/` whenever the binary carries different ones.

use std::path::Path;

use duckdb::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::StoreError;

/// Every migration, in order: version N brings an archive from N-1 to N. Version 3
/// (the export state) follows version 2, and stands alone where a build has no 2.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../sql/schema.sql")),
    (3, include_str!("../../sql/migrations/003-lake-exports.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

const STATUS_CODES_CSV: &str = include_str!("../../data/status_codes.csv");
const CARRIERS_CSV: &str = include_str!("../../data/carriers.csv");

/// Bring a writable archive to [`SCHEMA_VERSION`] and refresh its reference tables.
pub fn prepare(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = schema_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        conn.execute_batch("BEGIN TRANSACTION")?;
        conn.execute_batch(sql)?;
        set_meta(conn, "schema_version", &version.to_string())?;
        conn.execute_batch("COMMIT")?;
    }
    refresh_reference_tables(conn)
}

/// Check that a read-only archive can be queried by this build.
pub fn check_readable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = schema_version(conn, path)?;
    match found {
        0 => Err(StoreError::EmptyDatabase {
            path: path.to_path_buf(),
        }),
        v if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        }),
        v if v < SCHEMA_VERSION => Err(StoreError::NeedsUpgrade {
            path: path.to_path_buf(),
            found,
        }),
        _ => Ok(()),
    }
}

/// 0 for a new, empty database. A database holding anything of its own (a table, a
/// view, a macro, a sequence, a schema, a type) but no `archive_meta` is someone
/// else's, and is never taken over.
fn schema_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'archive_meta'",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        let objects = user_objects(conn)?;
        return if objects.is_empty() {
            Ok(0)
        } else {
            Err(StoreError::NotAnArchive {
                path: path.to_path_buf(),
                holds: objects.join(", "),
            })
        };
    }
    let unreadable = |value: Option<String>| StoreError::UnreadableVersion {
        path: path.to_path_buf(),
        value,
    };
    let mut statement = conn
        .prepare("SELECT value::VARCHAR FROM archive_meta WHERE key::VARCHAR = 'schema_version'")
        .map_err(|_| unreadable(None))?;
    let mut rows = statement.query([]).map_err(|_| unreadable(None))?;
    let value: Option<String> = match rows.next().map_err(|_| unreadable(None))? {
        Some(row) => row.get(0).map_err(|_| unreadable(None))?,
        None => None,
    };
    match value.as_deref().map(str::parse::<u32>) {
        Some(Ok(version)) if version > 0 => Ok(version),
        _ => Err(unreadable(value)),
    }
}

/// The kinds of objects of the database's own, counted: `["2 views", "1 macro"]`.
fn user_objects(conn: &Connection) -> Result<Vec<String>, StoreError> {
    const OWN: &str = "database_name = current_database()";
    let counts: [(&str, String); 6] = [
        (
            "table",
            format!("SELECT count(*) FROM duckdb_tables() WHERE {OWN} AND NOT internal"),
        ),
        (
            "view",
            format!("SELECT count(*) FROM duckdb_views() WHERE {OWN} AND NOT internal"),
        ),
        (
            "macro",
            format!(
                "SELECT count(*) FROM duckdb_functions() WHERE {OWN} AND NOT internal \
                 AND function_type IN ('macro', 'table_macro')"
            ),
        ),
        (
            "sequence",
            format!("SELECT count(*) FROM duckdb_sequences() WHERE {OWN}"),
        ),
        (
            "schema",
            format!(
                "SELECT count(*) FROM duckdb_schemas() WHERE {OWN} AND NOT internal AND schema_name <> 'main'"
            ),
        ),
        (
            "type",
            format!("SELECT count(*) FROM duckdb_types() WHERE {OWN} AND NOT internal"),
        ),
    ];
    let mut objects = Vec::new();
    for (kind, sql) in counts {
        let count: i64 = conn.query_row(&sql, [], |row| row.get(0))?;
        match count {
            0 => {}
            1 => objects.push(format!("1 {kind}")),
            n => objects.push(format!("{n} {kind}s")),
        }
    }
    Ok(objects)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO archive_meta VALUES (?, ?)",
        params![key, value],
    )?;
    Ok(())
}

fn refresh_reference_tables(conn: &Connection) -> Result<(), StoreError> {
    let wanted = format!(
        "{:016x}",
        xxh3_64(format!("{STATUS_CODES_CSV}\0{CARRIERS_CSV}").as_bytes())
    );
    let current: Option<String> = conn
        .query_row(
            "SELECT value FROM archive_meta WHERE key = 'reference_data'",
            [],
            |row| row.get(0),
        )
        .ok();
    if current.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    conn.execute_batch("BEGIN TRANSACTION; DELETE FROM status_codes; DELETE FROM carriers;")?;
    load_csv(conn, "status_codes", STATUS_CODES_CSV)?;
    load_csv(conn, "carriers", CARRIERS_CSV)?;
    set_meta(conn, "reference_data", &wanted)?;
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// Appends every record of an embedded CSV (header skipped) to `table`.
fn load_csv(conn: &Connection, table: &str, csv_text: &str) -> Result<(), StoreError> {
    let mut appender = conn.appender(table)?;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    for record in reader.records() {
        let record = record.expect("data/*.csv is valid CSV (checked by a test)");
        let values: Vec<&str> = record.iter().collect();
        let params: Vec<&dyn duckdb::ToSql> =
            values.iter().map(|v| v as &dyn duckdb::ToSql).collect();
        appender.append_row(params.as_slice())?;
    }
    appender.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_csvs_parse_and_have_the_expected_rows() {
        let count = |text: &str| {
            csv::Reader::from_reader(text.as_bytes())
                .records()
                .filter(|r| r.is_ok())
                .count()
        };
        assert_eq!(count(STATUS_CODES_CSV), 31);
        assert_eq!(count(CARRIERS_CSV), 565);
    }
}
