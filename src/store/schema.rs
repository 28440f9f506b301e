//! Store, helper: create and migrate the archive's schema, and load the reference tables.
//!
//! Migrations are SQL files compiled into the binary, numbered from 1; `archive_meta`
//! records the version an archive is at. The reference tables are rebuilt from the
//! CSV files in `data/` whenever the binary carries different ones.

use std::path::Path;

use duckdb::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::StoreError;

/// Every migration, in order: version N brings an archive from N-1 to N.
const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("../../sql/schema.sql"))];

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
        0 => Err(StoreError::NotAnArchive {
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

/// 0 for a new, empty database.
fn schema_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()",
        [],
        |row| row.get(0),
    )?;
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'archive_meta'",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return if tables == 0 {
            Ok(0)
        } else {
            Err(StoreError::NotAnArchive {
                path: path.to_path_buf(),
            })
        };
    }
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM archive_meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .ok();
    Ok(version.and_then(|v| v.parse().ok()).unwrap_or(0))
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
