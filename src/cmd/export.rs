//! `postback-archive export`: write what imports added since the last export into a
//! Parquet lake that Spark, Trino and DuckDB read.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::{Global, Outcome};
use crate::lake::Lake;
use crate::lake::export::{ExportSummary, export};
use crate::problem::shown;
use crate::store::Archive;

const EXPORT: &str = "\
The lake is a folder of Hive-partitioned Parquet files:
  _lake.json                                     the lake's format version and id
  postbacks/day=YYYY-MM-DD/ARCHIVE-runNNNNNN-N.parquet
                                                 by UTC day of occurred_at; postbacks
                                                 without a time are in
                                                 day=__HIVE_DEFAULT_PARTITION__
  duplicates/, import_errors/, import_runs/      one file per import run
  status_codes/ARCHIVE.parquet, carriers/...     one file per archive
ARCHIVE is the archive's id, so several archives (one per server, say) can export into
one lake. Each export writes only the import runs that ended since the last one (and
runs whose rows changed since); a run is written again under the same names. Files
appear whole: they are written into a hidden staging folder and renamed into place. A
killed export is completed exactly by the next one. The archive records what went
where in lake_exports and lake_files.

Read the lake with Spark (spark.read.parquet(\"DIR/postbacks\")), DuckDB
(read_parquet('DIR/postbacks/*/*.parquet', hive_partitioning = true)), or run the
reports over it: postback-archive report daily --lake DIR --out-dir reports

Examples:
  postback-archive export --to /srv/lake
  postback-archive --quiet --db /srv/postbacks/postbacks.duckdb export --to /srv/lake";

/// Write what imports added since the last export into a lake of Parquet files that
/// Spark, Trino and DuckDB read.
#[derive(Debug, Args)]
#[command(after_help = EXPORT)]
pub struct ExportArgs {
    /// The lake's folder; created if missing. It may not hold the archive.
    #[arg(long, value_name = "DIR", env = "POSTBACK_ARCHIVE_LAKE")]
    to: PathBuf,
}

pub fn run(global: &Global, args: ExportArgs) -> anyhow::Result<Outcome> {
    let archive = Archive::open_existing_for_write(&global.db, global.lock_timeout, |holder| {
        global.announce_wait(holder)
    })?;
    if archive.files().holds_archive(&args.to) {
        bail!(
            "--to {} holds the archive; export into a folder of its own, such as lake/ beside the archive",
            shown(&args.to)
        );
    }
    let lake = Lake::create_or_open(&args.to)?;
    let summary = export(&archive, &lake)
        .with_context(|| format!("export into {} failed", shown(&args.to)))?;
    for run_id in &summary.unfinished {
        eprintln!(
            "postback-archive: warning: import run {run_id} has not ended (an import is \
             running, or was killed and the next import marks it interrupted); it is \
             exported once it has ended"
        );
    }
    if !global.quiet {
        println!("{}", describe(&summary, &shown(&args.to)));
    }
    Ok(Outcome::Success)
}

/// The summary line, as `export` prints it.
fn describe(summary: &ExportSummary, lake: &str) -> String {
    let head = format!("export {} to {lake}", summary.export_id);
    if summary.files == 0 {
        return format!("{head}: nothing new since the last export");
    }
    let rows = |table: &str| summary.rows.get(table).copied().unwrap_or_default();
    let runs = match summary.runs.as_slice() {
        [] => "reference tables only".to_string(),
        [run] => format!("import run {run}"),
        runs => format!("import runs {}", run_ranges(runs)),
    };
    let seconds = summary.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        summary.postbacks() as f64 / seconds
    } else {
        0.0
    };
    let removed = match summary.removed {
        0 => String::new(),
        n => format!(", {n} old removed"),
    };
    format!(
        "{head}: {runs}; {} postbacks in {} day partitions, {} duplicates, {} import errors; \
         {} files ({}){removed}; {seconds:.1} s ({rate:.0} postbacks/s)",
        summary.postbacks(),
        summary.days,
        rows("duplicates"),
        rows("import_errors"),
        summary.files,
        human_bytes(summary.bytes),
    )
}

/// `1-3, 5, 7-8`.
fn run_ranges(runs: &[i32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut start = None;
    for (index, run) in runs.iter().enumerate() {
        let first = *start.get_or_insert(*run);
        if runs.get(index + 1) != Some(&(run + 1)) {
            parts.push(if first == *run {
                run.to_string()
            } else {
                format!("{first}-{run}")
            });
            start = None;
        }
    }
    parts.join(", ")
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("TB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_printed_as_ranges() {
        assert_eq!(run_ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        assert_eq!(run_ranges(&[4]), "4");
    }

    #[test]
    fn sizes_are_printed_in_decimal_units() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(61_234), "61.2 KB");
        assert_eq!(human_bytes(1_250_000_000), "1.2 GB");
    }
}
