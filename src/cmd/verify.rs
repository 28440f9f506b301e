//! `postback-archive verify`: read every block of the archive and check its invariants;
//! exit 0 when it is sound and 1 when it is not, so that a cron line can alert.

use std::path::Path;
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;

use super::{Global, Outcome};
use crate::lake::Lake;
use crate::problem::shown;
use crate::store::verify::{CHECKS, LakeRecord, lake_records, read_every_block, run_check};
use crate::store::{Archive, StoreError, damaged};

const VERIFY: &str = "\
What is checked:
  blocks      every block of the archive in use, by its checksum (postback-archive reads
              the file itself, index blocks included), then every value of every table
              through DuckDB, which checks each block it reads again
  invariants  ledger_holds_every_file, files_count_their_rows, fingerprints_are_unique,
              duplicates_copy_stored_postbacks, runs_count_their_rows,
              fingerprint_filters_match, and export_record_matches_lake for each lake
              `export` wrote into that is on this machine

Each problem is printed on stderr (also under --quiet) with what to do: restore the
archive from the last backup, or import the raw postback files into a new archive.
Nothing is changed, in the archive or in a lake. verify opens the archive read-only: it
waits for a running import (up to --lock-timeout), and an import waits for it.

Exit status: 0 sound, 1 damaged (or verify could not run).

Run it weekly from cron (0 3 * * 0, the last example): silent unless something is wrong.

Examples:
  postback-archive verify
  postback-archive --db /srv/postbacks/postbacks.duckdb verify --quick
  postback-archive --quiet --db /srv/postbacks/postbacks.duckdb verify  (cron)";

/// Check the archive: read every block (DuckDB checks each one's checksum) and check
/// its invariants. Exits 0 when it is sound and 1 when it is not.
#[derive(Debug, Args)]
#[command(after_help = VERIFY)]
pub struct VerifyArgs {
    /// Check the invariants only, without reading every block.
    #[arg(long)]
    quick: bool,
}

/// What verify found wrong, by whose fault.
#[derive(Default)]
struct Problems {
    /// In the archive itself: restore it, or import the raw files into a new one.
    archive: Vec<String>,
    /// In a lake, which no longer holds what the archive recorded of it.
    lakes: Vec<String>,
}

pub fn run(global: &Global, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let archive = Archive::open_for_checks(&global.db, global.lock_timeout, |holder| {
        global.announce_wait(holder)
    })?;
    let mut problems = Problems::default();
    let mut read = None;
    if !args.quick {
        let blocks = read_every_block(&archive)?;
        problems.archive.extend(blocks.damage.iter().cloned());
        read = Some(blocks);
    }
    if problems.archive.is_empty() {
        check_invariants(&archive, &mut problems)?;
    }
    if problems.archive.is_empty() {
        check_lakes(global, &archive, &mut problems)?;
    }
    let db = shown(&global.db);
    for problem in problems.archive.iter().chain(&problems.lakes) {
        eprintln!("postback-archive: verify: {db}: {problem}");
    }
    if !problems.archive.is_empty() {
        let what = format!("{} problem(s), listed above", problems.archive.len());
        return Err(anyhow!(damaged(&global.db, &what)));
    }
    if !problems.lakes.is_empty() {
        return Err(anyhow!(
            "the archive {db} is sound, but {} lake problem(s), listed above, say that a lake no \
             longer holds what export put there. Export into a new, empty folder (export --to \
             NEW_DIR) to write a whole lake again",
            problems.lakes.len()
        ));
    }
    if !global.quiet {
        let seconds = started.elapsed().as_secs_f64();
        let checks = CHECKS.len() + 1;
        match read {
            Some(read) => println!(
                "{db} is sound: {} blocks and {} rows read, {checks} checks hold ({seconds:.1} s)",
                read.blocks, read.rows
            ),
            None => println!(
                "{db} holds together: {checks} checks hold; its blocks were not read (--quick) \
                 ({seconds:.1} s)"
            ),
        }
    }
    Ok(Outcome::Success)
}

/// Run every check of [`CHECKS`]; damage DuckDB meets meanwhile ends the checks.
fn check_invariants(archive: &Archive, problems: &mut Problems) -> anyhow::Result<()> {
    for check in CHECKS {
        match run_check(archive, check) {
            Ok(None) => {}
            Ok(Some(finding)) => problems.archive.push(format!(
                "check {} found {} problem(s), such as: {}",
                finding.check, finding.problems, finding.example
            )),
            Err(StoreError::Damaged { what, .. }) => {
                problems
                    .archive
                    .push(format!("check {}: {what}", check.name));
                break;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Check export_record_matches_lake for every lake the archive exported to: the lake
/// at the recorded folder is that lake, and holds every file placed there, at the
/// recorded size. A lake not on this machine is skipped, with a note.
fn check_lakes(global: &Global, archive: &Archive, problems: &mut Problems) -> anyhow::Result<()> {
    for record in lake_records(archive)? {
        let dir = Path::new(&record.lake_path);
        if !dir.is_dir() {
            if !global.quiet {
                eprintln!(
                    "postback-archive: verify: note: the lake {} is not on this machine; \
                     export_record_matches_lake was not checked for it",
                    shown(dir)
                );
            }
            continue;
        }
        if let Some(problem) = lake_problem(&record, dir) {
            problems.lakes.push(format!(
                "check export_record_matches_lake, lake {}: {problem}",
                shown(dir)
            ));
        }
    }
    Ok(())
}

/// What in the lake at `dir` differs from the archive's record of it.
fn lake_problem(record: &LakeRecord, dir: &Path) -> Option<String> {
    let lake = match Lake::open(dir) {
        Ok(lake) => lake,
        Err(error) => return Some(error.to_string()),
    };
    if lake.id() != record.lake_id {
        return Some(format!(
            "its _lake.json names lake {}, but the archive exported to lake {} there",
            lake.id(),
            record.lake_id
        ));
    }
    let differ: Vec<String> = record
        .files
        .iter()
        .filter_map(
            |(path, bytes)| match std::fs::metadata(lake.root().join(path)) {
                Ok(metadata) if metadata.len() == *bytes => None,
                Ok(metadata) => Some(format!(
                    "{path} is {} bytes, where export wrote {bytes}",
                    metadata.len()
                )),
                Err(_) => Some(format!("{path} is missing")),
            },
        )
        .collect();
    let first = differ.first()?;
    Some(format!(
        "{} of the {} files export placed there differ, such as: {first}",
        differ.len(),
        record.files.len()
    ))
}
