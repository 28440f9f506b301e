//! Store, helper: the archive's side of `export` (store -> **lake**): which import
//! runs and reference tables a lake lacks, the Parquet files DuckDB writes for them
//! into a staging folder, and the record of what was exported where
//! (`lake_exports`, `lake_files`; `sql/migrations/003-lake-exports.sql`).
//!
//! An import run is exported once it has ended. It is exported again when its rows
//! changed since (a changed file read again replaces its earlier duplicate sightings
//! and problems; a schema upgrade rewrites rows), which the row counts per run and the
//! schema version recorded with each file tell.

use std::path::{Path, PathBuf};

use duckdb::params;

use super::LakeError;
use super::columns::{LakeTable, TableKind, lake_tables, literal, quoted, to_lake};
use crate::store::runs::utc_now;
use crate::store::{Archive, SCHEMA_VERSION};

/// The partition column DuckDB splits each table's rows by import run with; it names
/// a folder of the staging area only, never a column of a file.
const RUN_PARTITION: &str = "lake_run";

/// About how many postbacks one `COPY` writes (see `Exporter::day_batches`).
const ROWS_PER_COPY: i64 = 250_000;

/// One export into one lake, from `begin` to `finish`.
pub struct Exporter<'a> {
    archive: &'a Archive,
    lake_id: String,
    export_id: i32,
    archive_id: String,
    tables: Vec<LakeTable>,
    /// What a run's files are read from: the schema version.
    run_content: String,
    /// What a reference table's file is read from: the schema version and the
    /// reference data the binary loaded.
    reference_content: String,
}

/// What an export has to write.
#[derive(Debug, Clone, Default)]
pub struct ExportPlan {
    /// Ended import runs that the lake lacks, or holds in an older state.
    pub runs: Vec<i32>,
    /// Import runs still marked `running`: one is importing, or was killed (the next
    /// import marks it `interrupted`); they are exported once they have ended.
    pub unfinished: Vec<i32>,
    /// Reference tables the lake lacks, or holds in an older state.
    pub references: Vec<String>,
    /// The lake paths earlier exports recorded for those runs and tables: what the
    /// new files replace, and what must go if no new file takes its name.
    pub recorded: Vec<String>,
}

impl ExportPlan {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.references.is_empty()
    }
}

/// A Parquet file DuckDB wrote into the staging folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub table: String,
    /// The import run; `None` for a reference table.
    pub run_id: Option<i32>,
    /// The UTC day of `occurred_at` (`2026-11-01`), for `postbacks`; `None` for a
    /// postback without a time, and for other tables.
    pub day: Option<String>,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// A staged file and the path, relative to the lake's folder, it is put at.
#[derive(Debug, Clone)]
pub struct Placement {
    pub staged: StagedFile,
    pub target: String,
}

impl<'a> Exporter<'a> {
    /// Start an export of `archive` into the lake `lake_id` (found at `lake_path`):
    /// exports left `running` by a killed process are marked `interrupted`, and this
    /// one is recorded as `running`.
    pub fn begin(archive: &'a Archive, lake_id: &str, lake_path: &Path) -> Result<Self, LakeError> {
        let conn = archive.connection();
        let archive_id: Option<String> = conn
            .query_row(
                "SELECT value FROM archive_meta WHERE key = 'archive_id'",
                [],
                |row| row.get(0),
            )
            .ok();
        let archive_id = archive_id
            .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(LakeError::NoArchiveId)?;
        let reference_data: Option<String> = conn
            .query_row(
                "SELECT value FROM archive_meta WHERE key = 'reference_data'",
                [],
                |row| row.get(0),
            )
            .ok();
        let tables = lake_tables(conn)?;
        conn.execute_batch("BEGIN TRANSACTION")?;
        conn.execute(
            "UPDATE lake_exports SET status = 'interrupted' WHERE status = 'running'",
            [],
        )?;
        let export_id: i32 = conn.query_row(
            "INSERT INTO lake_exports (export_id, lake_id, lake_path, started_at, status)
             SELECT coalesce(max(export_id), 0) + 1, ?, ?, ?, 'running' FROM lake_exports
             RETURNING export_id",
            params![lake_id, lake_path.to_string_lossy(), utc_now()],
            |row| row.get(0),
        )?;
        conn.execute_batch("COMMIT")?;
        let run_content = format!("schema {SCHEMA_VERSION}");
        Ok(Exporter {
            archive,
            lake_id: lake_id.to_string(),
            export_id,
            archive_id,
            tables,
            reference_content: format!(
                "{run_content}, reference data {}",
                reference_data.unwrap_or_default()
            ),
            run_content,
        })
    }

    /// The archive's id, which starts the name of every file it exports.
    pub fn archive_id(&self) -> &str {
        &self.archive_id
    }

    pub fn export_id(&self) -> i32 {
        self.export_id
    }

    /// What the lake lacks.
    pub fn plan(&self) -> Result<ExportPlan, LakeError> {
        let conn = self.archive.connection();
        let mut plan = ExportPlan::default();
        let mut statement = conn.prepare(&self.pending_runs_sql())?;
        let rows = statement.query_map(params![self.run_content, self.lake_id], |row| {
            Ok((row.get::<_, i32>(0)?, row.get::<_, bool>(1)?))
        })?;
        for row in rows {
            match row? {
                (run_id, true) => plan.unfinished.push(run_id),
                (run_id, false) => plan.runs.push(run_id),
            }
        }
        for table in self.tables_of(&[TableKind::Reference]) {
            let current: Option<bool> = conn.query_row(
                "SELECT bool_and(placed AND content = ?) FROM lake_files
                 WHERE lake_id = ? AND table_name = ? AND run_id IS NULL",
                params![self.reference_content, self.lake_id, table.name],
                |row| row.get(0),
            )?;
            if current != Some(true) {
                plan.references.push(table.name.clone());
            }
        }
        let mut statement = conn.prepare(&format!(
            "SELECT path FROM lake_files WHERE lake_id = ? AND {} ORDER BY path",
            self.covered(&plan)
        ))?;
        let paths = statement.query_map(params![self.lake_id], |row| row.get(0))?;
        plan.recorded = paths.collect::<Result<_, _>>()?;
        Ok(plan)
    }

    /// The runs not up to date in the lake, with whether each is still running: an
    /// ended run is up to date when every file recorded for it is in place, was read
    /// from this schema version, and the rows recorded per table are the rows the
    /// archive holds for the run now.
    fn pending_runs_sql(&self) -> String {
        let per_run = self.tables_of(&[TableKind::ByRunAndDay, TableKind::ByRun]);
        let current: Vec<String> = per_run
            .iter()
            .map(|table| {
                format!(
                    "SELECT run_id, {} AS table_name, count(*) AS rows FROM {} GROUP BY run_id",
                    literal(&table.name),
                    quoted(&table.name)
                )
            })
            .collect();
        format!(
            "WITH current AS ({}),
             recorded AS (
                 SELECT run_id, table_name, sum(rows) AS rows,
                        bool_and(placed AND content = $1) AS current_state
                 FROM lake_files WHERE lake_id = $2 AND run_id IS NOT NULL
                 GROUP BY run_id, table_name),
             compared AS (
                 SELECT coalesce(c.run_id, r.run_id) AS run_id,
                        coalesce(c.rows, 0) = coalesce(r.rows, 0)
                            AND coalesce(r.current_state, true) AS same,
                        r.run_id IS NOT NULL AS recorded
                 FROM current c FULL JOIN recorded r
                   ON r.run_id = c.run_id AND r.table_name = c.table_name),
             per_run AS (
                 SELECT run_id, bool_and(same) AND bool_or(recorded) AS up_to_date
                 FROM compared GROUP BY run_id)
             SELECT i.run_id, i.status = 'running'
             FROM import_runs i LEFT JOIN per_run p ON p.run_id = i.run_id
             WHERE NOT coalesce(p.up_to_date, false)
             ORDER BY i.run_id",
            current.join(" UNION ALL ")
        )
    }

    /// The SQL condition on `lake_files` rows that selects the runs and reference
    /// tables of `plan`.
    fn covered(&self, plan: &ExportPlan) -> String {
        let runs: Vec<String> = plan.runs.iter().map(i32::to_string).collect();
        let tables: Vec<String> = plan.references.iter().map(|t| literal(t)).collect();
        format!(
            "(run_id IN ({}) OR (run_id IS NULL AND table_name IN ({})))",
            if runs.is_empty() {
                "NULL".to_string()
            } else {
                runs.join(", ")
            },
            if tables.is_empty() {
                "NULL".to_string()
            } else {
                tables.join(", ")
            },
        )
    }

    fn tables_of(&self, kinds: &[TableKind]) -> Vec<&LakeTable> {
        self.tables
            .iter()
            .filter(|table| kinds.contains(&table.kind))
            .collect()
    }

    /// Write the rows of `plan` as Parquet into `staging` (an empty folder):
    /// `TABLE-B/day=D/lake_run=R/data_N.tmp` for postbacks (B: the batch of days),
    /// `TABLE/lake_run=R/data_N.tmp`
    /// for the other tables of runs, `TABLE.tmp` for reference tables. Runs and
    /// tables without rows get no file, except reference tables.
    pub fn stage(&self, plan: &ExportPlan, staging: &Path) -> Result<Vec<StagedFile>, LakeError> {
        let mut staged = Vec::new();
        for table in &self.tables {
            let run_file = table.kind != TableKind::Reference;
            let wanted = if run_file {
                !plan.runs.is_empty()
            } else {
                plan.references.contains(&table.name)
            };
            if !wanted {
                continue;
            }
            let batches = match table.kind {
                TableKind::ByRunAndDay => self.day_batches(table, &plan.runs)?,
                _ => vec![None],
            };
            for (index, batch) in batches.iter().enumerate() {
                let target = staging.join(match (run_file, batch) {
                    (false, _) => format!("{}.tmp", table.name),
                    (true, None) => table.name.clone(),
                    (true, Some(_)) => format!("{}-{index}", table.name),
                });
                let sql = self.copy_sql(table, &plan.runs, &target, batch.as_deref())?;
                let written: Vec<String> = self
                    .archive
                    .connection()
                    .query_row(&sql, [], |row| row.get::<_, duckdb::types::Value>(1))
                    .map(text_list)?;
                staged.extend(self.describe_staged(&table.name, &written)?);
            }
        }
        Ok(staged)
    }

    /// The days of `runs` in `table` (`postbacks`), as conditions on `occurred_at`
    /// that each select about [`ROWS_PER_COPY`] rows or one whole day: DuckDB holds
    /// the rows of a partitioned `COPY` in memory until it ends (a 10-million-postback
    /// archive took 7.5 GB at once), so the days are written a batch at a time. The
    /// conditions are ranges, which the archive's zone maps answer without reading
    /// the rows of other days.
    fn day_batches(
        &self,
        table: &LakeTable,
        runs: &[i32],
    ) -> Result<Vec<Option<String>>, LakeError> {
        let runs: Vec<String> = runs.iter().map(i32::to_string).collect();
        let mut statement = self.archive.connection().prepare(&format!(
            "SELECT CAST(occurred_at AS DATE)::VARCHAR AS day, count(*) FROM {}
             WHERE run_id IN ({}) GROUP BY ALL ORDER BY day NULLS FIRST",
            quoted(&table.name),
            runs.join(", ")
        ))?;
        let days = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(Option<String>, i64)>, _>>()?;
        Ok(pack_days(&days, ROWS_PER_COPY))
    }

    /// The `COPY` that writes `table`'s rows of `runs` (or the whole reference table)
    /// to `target`, returning the number of rows and the files written.
    fn copy_sql(
        &self,
        table: &LakeTable,
        runs: &[i32],
        target: &Path,
        batch: Option<&str>,
    ) -> Result<String, LakeError> {
        let mut columns = vec![format!("{} AS archive_id", literal(&self.archive_id))];
        for column in &table.columns {
            columns.push(to_lake(&table.name, column)?);
        }
        let target_text = target
            .to_str()
            .ok_or_else(|| LakeError::NotUtf8(target.to_string_lossy().into_owned()))?;
        let options = "FORMAT parquet, COMPRESSION zstd, RETURN_FILES true";
        let runs: Vec<String> = runs.iter().map(i32::to_string).collect();
        let sql = match table.kind {
            TableKind::Reference => format!(
                "COPY (SELECT {} FROM {}) TO {} ({options})",
                columns.join(", "),
                quoted(&table.name),
                literal(target_text)
            ),
            TableKind::ByRun | TableKind::ByRunAndDay => {
                let mut partitions = vec![RUN_PARTITION];
                if table.kind == TableKind::ByRunAndDay {
                    columns.push("CAST(occurred_at AS DATE) AS day".to_string());
                    partitions.insert(0, "day");
                }
                columns.push(format!("run_id AS {RUN_PARTITION}"));
                format!(
                    "COPY (SELECT {} FROM {} WHERE run_id IN ({}) AND ({})) TO {} \
                     ({options}, PARTITION_BY ({}), FILE_EXTENSION 'tmp')",
                    columns.join(", "),
                    quoted(&table.name),
                    runs.join(", "),
                    batch.unwrap_or("true"),
                    literal(target_text),
                    partitions.join(", ")
                )
            }
        };
        Ok(sql)
    }

    /// The rows and bytes of each file DuckDB wrote for `table`.
    fn describe_staged(
        &self,
        table: &str,
        written: &[String],
    ) -> Result<Vec<StagedFile>, LakeError> {
        if written.is_empty() {
            return Ok(Vec::new());
        }
        let files: Vec<String> = written.iter().map(|path| literal(path)).collect();
        let mut statement = self.archive.connection().prepare(&format!(
            "SELECT file_name, num_rows FROM parquet_file_metadata([{}])",
            files.join(", ")
        ))?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut staged = Vec::with_capacity(written.len());
        for row in rows {
            let (file, rows) = row?;
            let path = PathBuf::from(file);
            let bytes = std::fs::metadata(&path).map_or(0, |metadata| metadata.len());
            let (day, run_id) = partition_of(&path);
            staged.push(StagedFile {
                table: table.to_string(),
                run_id,
                day,
                path,
                rows: u64::try_from(rows).unwrap_or_default(),
                bytes,
            });
        }
        Ok(staged)
    }

    /// Record the files about to be put in place, before any is: should the export
    /// be killed halfway, the next one knows which files to replace or remove.
    pub fn record_intent(&self, placements: &[Placement]) -> Result<(), LakeError> {
        let conn = self.archive.connection();
        conn.execute_batch("BEGIN TRANSACTION")?;
        let mut insert = conn.prepare(
            "INSERT INTO lake_files
             (lake_id, table_name, run_id, path, rows, bytes, export_id, content, placed)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, false)",
        )?;
        for placement in placements {
            let staged = &placement.staged;
            let content = match staged.run_id {
                Some(_) => &self.run_content,
                None => &self.reference_content,
            };
            insert.execute(params![
                self.lake_id,
                staged.table,
                staged.run_id,
                placement.target,
                i64::try_from(staged.rows).unwrap_or(i64::MAX),
                i64::try_from(staged.bytes).unwrap_or(i64::MAX),
                self.export_id,
                content
            ])?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Every file of `placements` is in place: they replace what earlier exports
    /// recorded for the same runs and tables, and the export is recorded as done.
    pub fn finish(&self, plan: &ExportPlan, placements: &[Placement]) -> Result<(), LakeError> {
        let conn = self.archive.connection();
        let rows: u64 = placements.iter().map(|p| p.staged.rows).sum();
        let bytes: u64 = placements.iter().map(|p| p.staged.bytes).sum();
        let runs: Vec<String> = plan.runs.iter().map(i32::to_string).collect();
        conn.execute_batch("BEGIN TRANSACTION")?;
        conn.execute(
            &format!(
                "DELETE FROM lake_files WHERE lake_id = ? AND {}
                 AND NOT (export_id = ? AND NOT placed)",
                self.covered(plan)
            ),
            params![self.lake_id, self.export_id],
        )?;
        conn.execute(
            "UPDATE lake_files SET placed = true WHERE lake_id = ? AND export_id = ?",
            params![self.lake_id, self.export_id],
        )?;
        conn.execute(
            &format!(
                "UPDATE lake_exports SET status = 'ok', finished_at = ?, runs = [{}]::INTEGER[],
                        files = ?, rows = ?, bytes = ?
                 WHERE export_id = ?",
                runs.join(", ")
            ),
            params![
                utc_now(),
                i64::try_from(placements.len()).unwrap_or(i64::MAX),
                i64::try_from(rows).unwrap_or(i64::MAX),
                i64::try_from(bytes).unwrap_or(i64::MAX),
                self.export_id
            ],
        )?;
        conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Record that the export failed, and why (best effort: the archive may be what
    /// failed). Files it recorded but did not place are replaced by the next export.
    pub fn fail(&self, message: &str) {
        let conn = self.archive.connection();
        let _ = conn.execute_batch("ROLLBACK");
        let _ = conn.execute(
            "UPDATE lake_exports SET status = 'failed', finished_at = ?, message = ?
             WHERE export_id = ?",
            params![utc_now(), message, self.export_id],
        );
    }
}

/// The texts of a `VARCHAR[]` value (the files `COPY … RETURN_FILES` wrote).
fn text_list(value: duckdb::types::Value) -> Vec<String> {
    match value {
        duckdb::types::Value::List(items) => items
            .into_iter()
            .filter_map(|item| match item {
                duckdb::types::Value::Text(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The UTC day and import run of a staged file, from the folders DuckDB's
/// `PARTITION_BY` put it in (`day=2026-11-01/lake_run=3/data_0.tmp`; a `NULL` day is
/// `day=__HIVE_DEFAULT_PARTITION__`).
/// `days` (each UTC day and its rows, in order; `None` for no time) packed into
/// conditions on `occurred_at` of at most `limit` rows each, or one whole day.
fn pack_days(days: &[(Option<String>, i64)], limit: i64) -> Vec<Option<String>> {
    let mut batches = Vec::new();
    let mut open: Option<(&str, &str, i64)> = None;
    for (day, rows) in days {
        let Some(day) = day.as_deref() else {
            batches.push(Some("occurred_at IS NULL".to_string()));
            continue;
        };
        open = match open.take() {
            Some((first, _, total)) if total + rows <= limit => Some((first, day, total + rows)),
            Some((first, last, _)) => {
                batches.push(Some(day_range(first, last)));
                Some((day, day, *rows))
            }
            None => Some((day, day, *rows)),
        };
    }
    if let Some((first, last, _)) = open {
        batches.push(Some(day_range(first, last)));
    }
    batches
}

/// The SQL condition for `occurred_at` on the UTC days `first` to `last` (`YYYY-MM-DD`,
/// as DuckDB printed them).
fn day_range(first: &str, last: &str) -> String {
    format!(
        "occurred_at >= DATE {} AND occurred_at < DATE {} + 1",
        literal(first),
        literal(last)
    )
}

fn partition_of(path: &Path) -> (Option<String>, Option<i32>) {
    let mut day = None;
    let mut run_id = None;
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        if let Some(value) = text.strip_prefix("day=") {
            day = (value != "__HIVE_DEFAULT_PARTITION__" && value != "NULL")
                .then(|| value.to_string());
        } else if let Some(value) = text.strip_prefix(&format!("{RUN_PARTITION}=")) {
            run_id = value.parse().ok();
        }
    }
    (day, run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_packed_into_copies_of_bounded_rows() {
        let days: Vec<(Option<String>, i64)> = vec![
            (None, 5),
            (Some("2026-11-01".into()), 60),
            (Some("2026-11-02".into()), 40),
            (Some("2026-11-03".into()), 150),
            (Some("2026-11-05".into()), 10),
        ];
        let range = |a: &str, b: &str| {
            Some(format!(
                "occurred_at >= DATE '{a}' AND occurred_at < DATE '{b}' + 1"
            ))
        };
        assert_eq!(
            pack_days(&days, 100),
            [
                Some("occurred_at IS NULL".to_string()),
                range("2026-11-01", "2026-11-02"),
                range("2026-11-03", "2026-11-03"),
                range("2026-11-05", "2026-11-05"),
            ]
        );
        assert_eq!(pack_days(&[], 100), Vec::<Option<String>>::new());
    }

    #[test]
    fn reads_day_and_run_from_duckdbs_partition_folders() {
        assert_eq!(
            partition_of(Path::new(
                "/l/.s/postbacks/day=2026-11-01/lake_run=12/data_0.tmp"
            )),
            (Some("2026-11-01".to_string()), Some(12))
        );
        assert_eq!(
            partition_of(Path::new(
                "/l/.s/postbacks/day=__HIVE_DEFAULT_PARTITION__/lake_run=3/data_1.tmp"
            )),
            (None, Some(3))
        );
        assert_eq!(
            partition_of(Path::new("/l/.s/duplicates/lake_run=7/data_0.tmp")),
            (None, Some(7))
        );
        assert_eq!(partition_of(Path::new("/l/.s/carriers.tmp")), (None, None));
    }
}
