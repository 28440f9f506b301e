//! Store, helper: a lake opened for `query` and `report` (`--lake DIR`), as if it were
//! one archive (store -> **report**).
//!
//! An in-memory database gets the archive's schema from the same migrations and view
//! definitions an archive gets (`schema::prepare`); then each exported table is
//! replaced by a view of the same name, columns and types over the lake's Parquet
//! files. The archive's own views (`pass_generations`, `outbound_messages`, ...) and
//! macros stay as they are and now read the lake, so the report SQL cannot tell which
//! it runs on.
//!
//! Several archives exported into one lake read as one:
//!
//! - ids are made unique: the nth archive (from 0, in the order of their first import
//!   run) adds n × 100,000 to `run_id` and n × 10^12 to `postback_id` and `file_id`, so
//!   a lake of one archive keeps the archive's ids; `lake_archives` lists them;
//! - each postback is counted once: of the copies with one fingerprint, the one of the
//!   first archive is in `postbacks`, and every other is a row of `duplicates` (they
//!   are listed in `lake_copies`), beside the archives' own duplicate sightings, which
//!   point at that postback;
//! - reference tables are read from the first archive that has a row for a key.
//!
//! `files` stays empty (the ledger is not exported) and `archive_meta` holds the
//! schema of this build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use duckdb::Connection;

use super::LakeError;
use super::columns::{
    CatalogColumn, LakeTable, TableKind, from_lake, lake_tables, literal, quoted,
};
use crate::problem::shown;
use crate::store::archive_files::ArchiveFiles;
use crate::store::c_api::{Database, Opened};
use crate::store::sandbox::{self, Sandbox};
use crate::store::{Archive, StoreError, schema, settings};

/// The table of retried copies, whose rows the lake also draws from other archives'
/// `postbacks`.
const DUPLICATES: &str = "duplicates";

/// The column that tells copies of one postback.
const FINGERPRINT: &str = "fingerprint";

/// What `run_id` grows by per archive of a lake.
const RUN_ID_STEP: i64 = 100_000;
/// What `postback_id` and `file_id` grow by per archive of a lake.
const ID_STEP: i64 = 1_000_000_000_000;

/// A lake to open, as the lake stage found it.
pub struct LakeSource<'a> {
    /// The lake's folder, canonical.
    pub root: &'a Path,
    /// Every Parquet file an export wrote, by table (the folder under the root).
    pub files: &'a BTreeMap<String, Vec<PathBuf>>,
    /// The archive `--db` names: SQL may not reach it, nor may the lake hold it.
    pub db: &'a Path,
    /// The folders of `--allow-dir`.
    pub grants: &'a [PathBuf],
}

impl Archive {
    /// Open the lake `source` read-only, in the same sandbox as an archive: SQL may
    /// read the lake's folder and the folders of `--allow-dir`, none of which may hold
    /// the archive `--db` names.
    pub fn open_lake(source: &LakeSource<'_>) -> Result<Archive, LakeError> {
        let files = match source.db.exists() {
            true => ArchiveFiles::locate(source.db)?,
            false => ArchiveFiles::default(),
        };
        if let Err(StoreError::Grant { reason, .. }) = files.check_grant(source.root) {
            return Err(LakeError::HoldsArchive {
                lake: source.root.to_path_buf(),
                reason,
            });
        }
        let mut grants = vec![source.root.to_path_buf()];
        grants.extend_from_slice(source.grants);
        let granted = sandbox::granted_folders(&files, &grants)?;
        let unprotectable = |reason: String| StoreError::Unprotectable {
            path: source.root.to_path_buf(),
            reason,
        };
        let sandbox = Sandbox::in_temp_dir().map_err(unprotectable)?;
        let temp = sandbox.temp_directory();
        let temp = temp
            .to_str()
            .ok_or_else(|| LakeError::NotUtf8(shown(&temp)))?;
        let mut config: Vec<(&str, &str)> = settings(false).to_vec();
        config.push(("temp_directory", temp));
        let database =
            Database::open(Path::new(":memory:"), &config).map_err(|error| StoreError::Open {
                path: source.root.to_path_buf(),
                message: error.to_string(),
            })?;
        let opened = Opened::new(database).map_err(StoreError::from)?;
        schema::prepare(opened.connection(), source.root)?;
        build_views(opened.connection(), source)?;
        sandbox::lock_down(opened.database(), &granted).map_err(unprotectable)?;
        Ok(Archive {
            opened,
            sandbox: Some(sandbox),
            files,
            path: source.root.to_path_buf(),
        })
    }
}

/// Replace every exported table of the fresh schema on `conn` by a view over the lake.
fn build_views(conn: &Connection, source: &LakeSource<'_>) -> Result<(), LakeError> {
    let tables = lake_tables(conn)?;
    let archives = archive_ids(source.files);
    conn.execute_batch("SET parquet_metadata_cache = true")?;
    create_lake_archives(conn, &archives, files_of(source, "import_runs"))?;
    let mut bases = BTreeMap::new();
    for table in &tables {
        let base = base_select(conn, table, files_of(source, &table.name))?;
        bases.insert(table.name.as_str(), base);
    }
    let base_of = |name: &str| bases.get(name).map_or("", String::as_str);
    let postbacks = tables.iter().find(|t| t.kind == TableKind::ByRunAndDay);
    let duplicates = tables.iter().find(|t| t.name == DUPLICATES);
    let across = match (postbacks, duplicates) {
        (Some(postbacks), Some(duplicates))
            if archives.len() > 1 && !files_of(source, &postbacks.name).is_empty() =>
        {
            let files = files_of(source, &postbacks.name);
            create_lake_copies(conn, postbacks, base_of(&postbacks.name), files, duplicates)?;
            true
        }
        _ => false,
    };
    conn.execute_batch("BEGIN TRANSACTION")?;
    for table in &tables {
        let base = base_of(&table.name);
        let columns = column_list(&table.columns);
        let definition = match table.kind {
            TableKind::ByRunAndDay if across => format!(
                "SELECT {columns} FROM ({base}) \
                 WHERE postback_id NOT IN (SELECT postback_id FROM lake_copies)"
            ),
            TableKind::ByRun if across && table.name == DUPLICATES => {
                duplicates_across_archives(table, base)
            }
            TableKind::Reference => reference_view(conn, table, base)?,
            _ => format!("SELECT {columns} FROM ({base})"),
        };
        let name = quoted(&table.name);
        conn.execute_batch(&format!(
            "DROP TABLE {name}; CREATE VIEW {name} AS {definition};"
        ))?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

fn files_of<'a>(source: &'a LakeSource<'_>, table: &str) -> &'a [PathBuf] {
    source.files.get(table).map_or(&[], Vec::as_slice)
}

/// The archives of the lake: the 32 hex characters that start each file's name.
fn archive_ids(files: &BTreeMap<String, Vec<PathBuf>>) -> BTreeSet<String> {
    files
        .values()
        .flatten()
        .filter_map(|path| path.file_name()?.to_str()?.get(..32))
        .map(str::to_string)
        .collect()
}

/// `lake_archives`: each archive of the lake, its place (from 0, by its first import
/// run, then by id) and what its ids grow by.
fn create_lake_archives(
    conn: &Connection,
    archives: &BTreeSet<String>,
    import_runs: &[PathBuf],
) -> Result<(), LakeError> {
    let ids = if archives.is_empty() {
        "SELECT NULL::VARCHAR AS archive_id WHERE false".to_string()
    } else {
        let values: Vec<String> = archives
            .iter()
            .map(|id| format!("({})", literal(id)))
            .collect();
        format!("SELECT * FROM (VALUES {}) v(archive_id)", values.join(", "))
    };
    let firsts = if import_runs.is_empty() {
        "SELECT NULL::VARCHAR AS archive_id, NULL::TIMESTAMP AS first_import_at WHERE false"
            .to_string()
    } else {
        format!(
            "SELECT archive_id, min(make_timestamp(epoch_us(started_at))) AS first_import_at \
             FROM {} GROUP BY archive_id",
            read_parquet(import_runs)?
        )
    };
    conn.execute_batch(&format!(
        "CREATE TABLE lake_archives AS
         SELECT archive_id, archive_ordinal,
                (archive_ordinal * {RUN_ID_STEP})::INTEGER AS run_id_offset,
                archive_ordinal::BIGINT * {ID_STEP} AS id_offset,
                first_import_at
         FROM (SELECT i.archive_id, f.first_import_at,
                      (row_number() OVER (ORDER BY f.first_import_at NULLS LAST, i.archive_id) - 1)::INTEGER
                          AS archive_ordinal
               FROM ({ids}) i LEFT JOIN ({firsts}) f ON f.archive_id = i.archive_id)
         ORDER BY archive_ordinal;"
    ))?;
    Ok(())
}

/// `read_parquet` of `files`, by column name (files of older schemas lack columns),
/// without the `day=` folders as a column.
fn read_parquet(files: &[PathBuf]) -> Result<String, LakeError> {
    let mut literals = Vec::with_capacity(files.len());
    for file in files {
        let text = file
            .to_str()
            .ok_or_else(|| LakeError::NotUtf8(shown(file)))?;
        literals.push(literal(text));
    }
    Ok(format!(
        "read_parquet([{}], union_by_name = true, hive_partitioning = false)",
        literals.join(", ")
    ))
}

/// The rows of `table` in the lake with the archive's column names and types, ids
/// made unique across archives, plus `lake_ordinal`, the archive's place.
fn base_select(
    conn: &Connection,
    table: &LakeTable,
    files: &[PathBuf],
) -> Result<String, LakeError> {
    if files.is_empty() {
        let nulls: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("NULL::{} AS {}", c.type_name, quoted(&c.name)))
            .collect();
        return Ok(format!(
            "SELECT {}, NULL::INTEGER AS lake_ordinal WHERE false",
            nulls.join(", ")
        ));
    }
    let source = read_parquet(files)?;
    let mut statement = conn.prepare(&format!("DESCRIBE SELECT * FROM {source}"))?;
    let in_files: BTreeSet<String> = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut columns = Vec::with_capacity(table.columns.len() + 1);
    for column in &table.columns {
        let value = from_lake(&table.name, column, in_files.contains(&column.name))?;
        let offset = match column.name.as_str() {
            "run_id" => Some("lake_run_id_offset"),
            "postback_id" | "file_id" => Some("lake_id_offset"),
            _ => None,
        };
        let value = match offset {
            Some(offset) => format!("({value} + {offset})::{}", column.type_name),
            None => value,
        };
        columns.push(format!("{value} AS {}", quoted(&column.name)));
    }
    columns.push("lake_ordinal".to_string());
    if in_files.contains(FINGERPRINT) {
        // As written, for finding copies across archives without converting each.
        columns.push(format!("{} AS lake_fingerprint", quoted(FINGERPRINT)));
    }
    Ok(format!(
        "SELECT {} FROM (SELECT f.*, a.archive_ordinal AS lake_ordinal, \
         a.run_id_offset AS lake_run_id_offset, a.id_offset AS lake_id_offset \
         FROM {source} f JOIN lake_archives a ON a.archive_id = f.archive_id)",
        columns.join(", ")
    ))
}

fn column_list(columns: &[CatalogColumn]) -> String {
    let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
    names.join(", ")
}

/// `lake_copies`: every postback of the lake whose fingerprint an earlier archive
/// also stored, as a row of `duplicates` (its own `postback_id`, where it was seen)
/// plus `lake_kept`, the `postback_id` of the copy `postbacks` keeps. Computed once
/// when the lake is opened, so that each query reads the lake's postbacks straight,
/// leaving out these few.
fn create_lake_copies(
    conn: &Connection,
    postbacks: &LakeTable,
    postbacks_base: &str,
    postbacks_files: &[PathBuf],
    duplicates: &LakeTable,
) -> Result<(), LakeError> {
    let columns: Vec<String> = duplicates
        .columns
        .iter()
        .map(|column| {
            let name = quoted(&column.name);
            if postbacks.columns.iter().any(|c| c.name == column.name) {
                format!("{name}::{} AS {name}", column.type_name)
            } else {
                format!("NULL::{} AS {name}", column.type_name)
            }
        })
        .collect();
    let files = read_parquet(postbacks_files)?;
    conn.execute_batch(&format!(
        "CREATE TABLE lake_copies AS
         WITH copied AS (
             SELECT * FROM ({postbacks_base})
             WHERE lake_fingerprint IN (SELECT fingerprint FROM {files}
                                        GROUP BY fingerprint HAVING count(*) > 1))
         SELECT * EXCLUDE (lake_copy) FROM (
             SELECT {}, first_value(postback_id) OVER w AS lake_kept,
                    row_number() OVER w AS lake_copy
             FROM copied
             WINDOW w AS (PARTITION BY lake_fingerprint ORDER BY postback_id))
         WHERE lake_copy > 1;",
        columns.join(", ")
    ))?;
    Ok(())
}

/// `duplicates` of several archives: their own sightings, pointed at the postback the
/// lake keeps, and the copies in `lake_copies`.
fn duplicates_across_archives(duplicates: &LakeTable, base: &str) -> String {
    let pointed = |prefix: &str, kept: &str| -> String {
        let columns: Vec<String> = duplicates
            .columns
            .iter()
            .map(|column| match column.name.as_str() {
                "postback_id" => format!("{kept} AS postback_id"),
                name => format!("{prefix}{}", quoted(name)),
            })
            .collect();
        columns.join(", ")
    };
    format!(
        "SELECT {} FROM ({base}) d LEFT JOIN lake_copies c ON c.postback_id = d.postback_id
         UNION ALL
         SELECT {} FROM lake_copies c",
        pointed("d.", "coalesce(c.lake_kept, d.postback_id)"),
        pointed("c.", "c.lake_kept"),
    )
}

/// A reference table: one row per key, from the first archive that has it.
fn reference_view(conn: &Connection, table: &LakeTable, base: &str) -> Result<String, LakeError> {
    let key: Option<Vec<String>> = conn
        .query_row(
            "SELECT constraint_column_names FROM duckdb_constraints()
             WHERE database_name = current_database() AND table_name = ?
               AND constraint_type = 'PRIMARY KEY'",
            [&table.name],
            |row| row.get::<_, duckdb::types::Value>(0),
        )
        .ok()
        .and_then(|value| match value {
            duckdb::types::Value::List(names) => names
                .into_iter()
                .map(|name| match name {
                    duckdb::types::Value::Text(name) => Some(quoted(&name)),
                    _ => None,
                })
                .collect(),
            _ => None,
        });
    let columns = column_list(&table.columns);
    Ok(match key {
        Some(key) if !key.is_empty() => format!(
            "SELECT {columns} FROM ({base}) \
             QUALIFY row_number() OVER (PARTITION BY {} ORDER BY lake_ordinal) = 1",
            key.join(", ")
        ),
        _ => format!("SELECT DISTINCT {columns} FROM ({base})"),
    })
}
