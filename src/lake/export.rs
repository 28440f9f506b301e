//! Lake, the export itself (store -> **lake**): what the lake lacks is written by the
//! store into a staging folder, recorded in the archive, put in place, and then
//! recorded as done, so that an export killed at any moment is completed exactly by
//! the next one.
//!
//! 1. The store plans: the ended import runs and the reference tables the lake lacks
//!    or holds in an older state, and the files earlier exports recorded for them.
//! 2. DuckDB writes their rows into `.staging-ARCHIVE/`.
//! 3. The archive records every file about to be placed (not yet placed).
//! 4. Each file is flushed and renamed into place, replacing the file of that name.
//! 5. Recorded files that no new file replaced are removed.
//! 6. The archive records the new files as placed and forgets the old ones.
//!
//! Killed before 3, the lake is untouched. Killed after 3, the next export finds
//! unplaced files for those runs, writes the runs again, and steps 4 and 5 replace or
//! remove every file the killed one placed. File names depend only on the archive,
//! table, run, day and file number, so a run written again lands on the same names.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Lake, LakeDirError, day_partition, target_name};
use crate::store::Archive;
use crate::store::parquet::export::{Exporter, Placement, StagedFile};
use crate::store::parquet::{LakeError, POSTBACKS};

/// What can stop an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Lake(#[from] LakeDirError),
    #[error(transparent)]
    Store(#[from] LakeError),
}

/// What an export did.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub export_id: i32,
    /// The import runs written (again, for runs that changed since).
    pub runs: Vec<i32>,
    /// Import runs left for a later export because they have not ended.
    pub unfinished: Vec<i32>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// The `postbacks` day folders written into.
    pub days: usize,
    pub files: usize,
    pub bytes: u64,
    /// Files of earlier exports removed because no new file replaced them.
    pub removed: usize,
    pub elapsed: Duration,
}

impl ExportSummary {
    /// Postbacks written.
    pub fn postbacks(&self) -> u64 {
        self.rows.get(POSTBACKS).copied().unwrap_or_default()
    }
}

/// Export what `archive` added since its last export into `lake`.
pub fn export(archive: &Archive, lake: &Lake) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    let exporter = Exporter::begin(archive, lake.id(), lake.root())?;
    match write(&exporter, lake, started) {
        Ok(summary) => Ok(summary),
        Err(error) => {
            exporter.fail(&error.to_string());
            Err(error)
        }
    }
}

fn write(
    exporter: &Exporter<'_>,
    lake: &Lake,
    started: Instant,
) -> Result<ExportSummary, ExportError> {
    let plan = exporter.plan()?;
    let mut placements = Vec::new();
    let mut removed = 0;
    if !plan.is_empty() {
        let staging = lake.staging_folder(exporter.archive_id())?;
        let staged = exporter.stage(&plan, &staging)?;
        placements = name_files(staged, exporter.archive_id());
        exporter.record_intent(&placements)?;
        lake.place(&placements)?;
        let placed: HashSet<&str> = placements.iter().map(|p| p.target.as_str()).collect();
        let stale: Vec<&str> = plan
            .recorded
            .iter()
            .map(String::as_str)
            .filter(|path| !placed.contains(path))
            .collect();
        lake.remove(&stale)?;
        removed = stale.len();
        lake.remove_staging(&staging)?;
    }
    exporter.finish(&plan, &placements)?;
    let mut rows = BTreeMap::new();
    let mut days = BTreeSet::new();
    for placement in &placements {
        let staged = &placement.staged;
        *rows.entry(staged.table.clone()).or_insert(0) += staged.rows;
        if staged.table == POSTBACKS {
            days.insert(staged.day.clone());
        }
    }
    Ok(ExportSummary {
        export_id: exporter.export_id(),
        runs: plan.runs,
        unfinished: plan.unfinished,
        rows,
        days: days.len(),
        files: placements.len(),
        bytes: placements.iter().map(|p| p.staged.bytes).sum(),
        removed,
        elapsed: started.elapsed(),
    })
}

/// The lake path of each staged file. The files of one table, run and day are
/// numbered from 0 in the order of their staged names (DuckDB's `data_0`, `data_1`,
/// … when it splits a partition), so the same rows get the same names every time.
fn name_files(mut staged: Vec<StagedFile>, archive_id: &str) -> Vec<Placement> {
    staged.sort_by(|a, b| {
        (&a.table, a.run_id, &a.day, staged_number(&a.path), &a.path).cmp(&(
            &b.table,
            b.run_id,
            &b.day,
            staged_number(&b.path),
            &b.path,
        ))
    });
    let mut next: BTreeMap<(String, Option<i32>, Option<String>), usize> = BTreeMap::new();
    staged
        .into_iter()
        .map(|file| {
            let key = (file.table.clone(), file.run_id, file.day.clone());
            let index = next.entry(key).or_insert(0);
            let partition = (file.table == POSTBACKS).then(|| day_partition(file.day.as_deref()));
            let target = target_name(
                &file.table,
                partition.as_deref(),
                archive_id,
                file.run_id,
                *index,
            );
            *index += 1;
            Placement {
                staged: file,
                target,
            }
        })
        .collect()
}

/// N of DuckDB's `data_N.tmp`, so that `data_10` sorts after `data_9`.
fn staged_number(path: &Path) -> u64 {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| stem.rsplit('_').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn staged(table: &str, run_id: Option<i32>, day: Option<&str>, path: &str) -> StagedFile {
        StagedFile {
            table: table.to_string(),
            run_id,
            day: day.map(str::to_string),
            path: PathBuf::from(path),
            rows: 1,
            bytes: 1,
        }
    }

    #[test]
    fn files_of_one_run_and_day_are_numbered_in_duckdbs_order() {
        let placements = name_files(
            vec![
                staged(
                    "postbacks",
                    Some(2),
                    Some("2026-11-01"),
                    "/s/p/day=2026-11-01/lake_run=2/data_10.tmp",
                ),
                staged(
                    "postbacks",
                    Some(2),
                    Some("2026-11-01"),
                    "/s/p/day=2026-11-01/lake_run=2/data_9.tmp",
                ),
                staged(
                    "postbacks",
                    Some(2),
                    None,
                    "/s/p/day=__HIVE_DEFAULT_PARTITION__/lake_run=2/data_0.tmp",
                ),
                staged("duplicates", Some(2), None, "/s/d/lake_run=2/data_0.tmp"),
                staged("carriers", None, None, "/s/carriers.tmp"),
            ],
            ID,
        );
        let named: Vec<(&str, &str)> = placements
            .iter()
            .map(|p| (p.staged.path.to_str().unwrap(), p.target.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("/s/carriers.tmp", format!("carriers/{ID}.parquet").as_str()),
                (
                    "/s/d/lake_run=2/data_0.tmp",
                    &format!("duplicates/{ID}-run000002-0.parquet")
                ),
                (
                    "/s/p/day=__HIVE_DEFAULT_PARTITION__/lake_run=2/data_0.tmp",
                    &format!("postbacks/day=__HIVE_DEFAULT_PARTITION__/{ID}-run000002-0.parquet")
                ),
                (
                    "/s/p/day=2026-11-01/lake_run=2/data_9.tmp",
                    &format!("postbacks/day=2026-11-01/{ID}-run000002-0.parquet")
                ),
                (
                    "/s/p/day=2026-11-01/lake_run=2/data_10.tmp",
                    &format!("postbacks/day=2026-11-01/{ID}-run000002-1.parquet")
                ),
            ]
        );
    }
}
