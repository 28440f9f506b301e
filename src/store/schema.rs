//! Store, helper: create and migrate the archive's schema, and load the reference
//! tables and the views.
//!
//! A new archive gets `sql/schema.sql`, the tables of version 2, and then the later
//! migrations; an older one runs the numbered files of `sql/migrations/` in turn,
//! each in one transaction, and `archive_meta` records the version an archive is at. The reference tables (from the
//! CSV files in `data/`) and the views and macros of `sql/views.sql` are rebuilt
//! whenever the binary carries different ones.

use std::path::Path;

use duckdb::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

use super::StoreError;

/// The tables of a new archive, at version [`SCHEMA_SQL_VERSION`]; the migrations
/// after that version then bring it to [`SCHEMA_VERSION`].
const SCHEMA: &str = include_str!("../../sql/schema.sql");

/// The version whose tables `sql/schema.sql` creates.
const SCHEMA_SQL_VERSION: u32 = 2;

/// Every migration, in order: version N brings an archive from N-1 to N. Version 3
/// adds the export state (`lake_exports`, `lake_files`), version 4 the fingerprint
/// filters (`fingerprint_filters`), version 5 the folder ledger (`folders`,
/// `files.folder_id`) and the journal of `compact` (`compactions`), version 6 the
/// older edition's carrier names (`carriers.older_country`, `older_carrier`), in a new
/// archive too.
const MIGRATIONS: &[(u32, &str)] = &[
    (
        2,
        include_str!("../../sql/migrations/002-code-and-arrival.sql"),
    ),
    (3, include_str!("../../sql/migrations/003-lake-exports.sql")),
    (
        4,
        include_str!("../../sql/migrations/004-fingerprint-filters.sql"),
    ),
    (
        5,
        include_str!("../../sql/migrations/005-folder-ledger.sql"),
    ),
    (
        6,
        include_str!("../../sql/migrations/006-carrier-editions.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

const VIEWS: &str = include_str!("../../sql/views.sql");

/// The reference tables and the CSV each is loaded from, in loading order.
const REFERENCE_TABLES: [(&str, &str); 3] = [
    ("status_codes", include_str!("../../data/status_codes.csv")),
    (
        "code_statuses",
        include_str!("../../data/code_statuses.csv"),
    ),
    ("carriers", include_str!("../../data/carriers.csv")),
];

/// The columns of the reference tables where an empty field of the CSV is NULL (the
/// older edition names a SPID no differently); everywhere else it is the empty string
/// (`code_statuses.status` of a `missing` or `other` rule).
const NULL_WHEN_EMPTY: [&str; 2] = ["older_country", "older_carrier"];

/// Bring a writable archive to [`SCHEMA_VERSION`], give it an `archive_id`, and
/// refresh its reference tables and views.
pub fn prepare(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = schema_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let mut at = found;
    if found == 0 {
        in_transaction(conn, SCHEMA, SCHEMA_SQL_VERSION)?;
        at = SCHEMA_SQL_VERSION;
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > at) {
        in_transaction(conn, sql, *version)?;
    }
    conn.execute_batch(
        "INSERT INTO archive_meta
         SELECT 'archive_id', md5(gen_random_uuid()::VARCHAR)
         WHERE NOT EXISTS (SELECT 1 FROM archive_meta WHERE key = 'archive_id')",
    )?;
    refresh_reference_tables(conn)
}

/// Run `sql` and record `version`, all or nothing.
fn in_transaction(conn: &Connection, sql: &str, version: u32) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = conn
        .execute_batch(sql)
        .map_err(StoreError::from)
        .and_then(|()| set_meta(conn, "schema_version", &version.to_string()));
    match result {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
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

/// Reload the reference tables and recreate the views when the binary carries
/// different ones than the archive last got (a hash of them is in `archive_meta`).
fn refresh_reference_tables(conn: &Connection) -> Result<(), StoreError> {
    let mut definitions = VIEWS.to_string();
    for (_, csv_text) in REFERENCE_TABLES {
        definitions.push('\0');
        definitions.push_str(csv_text);
    }
    let wanted = format!("{:016x}", xxh3_64(definitions.as_bytes()));
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
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = (|| {
        for (table, csv_text) in REFERENCE_TABLES {
            conn.execute_batch(&format!("DELETE FROM {table}"))?;
            load_csv(conn, table, csv_text)?;
        }
        conn.execute_batch(VIEWS)?;
        set_meta(conn, "reference_data", &wanted)
    })();
    match result {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

/// Appends every record of an embedded CSV (header skipped) to `table`.
fn load_csv(conn: &Connection, table: &str, csv_text: &str) -> Result<(), StoreError> {
    let mut appender = conn.appender(table)?;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let nullable: Vec<bool> = reader
        .headers()
        .expect("data/*.csv is valid CSV (checked by a test)")
        .iter()
        .map(|name| NULL_WHEN_EMPTY.contains(&name))
        .collect();
    for record in reader.records() {
        let record = record.expect("data/*.csv is valid CSV (checked by a test)");
        let values: Vec<Option<&str>> = record
            .iter()
            .zip(&nullable)
            .map(|(value, &nullable)| (!(nullable && value.is_empty())).then_some(value))
            .collect();
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
        let counts = REFERENCE_TABLES.map(|(table, text)| (table, count(text)));
        assert_eq!(
            counts,
            [
                ("status_codes", 31),
                ("code_statuses", 65),
                ("carriers", 565)
            ]
        );
    }

    #[test]
    fn the_last_migration_reaches_the_schema_version() {
        assert_eq!(MIGRATIONS.last().map(|(v, _)| *v), Some(SCHEMA_VERSION));
    }
}
