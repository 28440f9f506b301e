//! `postback-archive import`: bring new and changed postback files into the archive.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::{Global, Outcome};
use crate::discover::folders::SETTLE_TIME;
use crate::discover::{WalkInput, WalkOptions, resolve_roots};
use crate::import::{Ending, ImportOptions, ImportOutcome, import_archive};
use crate::problem::printable;
use crate::progress::ImportProgress;
use crate::signals::Stop;
use crate::store::runs::RunCounters;
use crate::store::writer::{BATCH_FILES, DEFAULT_MEMORY_LIMIT_MB};

const EXAMPLES: &str = "\
Examples:
  postback-archive import /var/postbacks
  postback-archive --quiet import --allow-bad-input /var/postbacks 2026/11/ extra/one.xml
  postback-archive import --rescan --threads 4 /var/postbacks";

/// Import postback files: every *.xml and *.xml.gz under the given directories (and
/// files named directly), and the members of tarballs (.tar, .tar.gz, .tar.zst).
/// Folders unchanged since the last import are not listed, and files unchanged are
/// skipped without being read; each postback is stored once, and every retried copy
/// is recorded in `duplicates`. Problems in input files are reported, recorded in
/// `import_errors`, and never stop the run.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ImportArgs {
    /// Files and directories to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Follow symbolic links while walking directories (by default they are skipped).
    #[arg(long)]
    follow_symlinks: bool,

    /// List every folder, even those unchanged since the last import, to find files
    /// changed in place (appended to, or copied over) in a folder that did not
    /// otherwise change. Unchanged files are still skipped. For a weekly cron line.
    #[arg(long)]
    rescan: bool,

    /// Read every file again, even those unchanged since the last import.
    #[arg(long)]
    force: bool,

    /// Worker threads, 1 to 256 [default: the number of CPU cores].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_THREADS)))]
    threads: Option<u16>,

    /// Largest file, or decompressed .gz content, to read, in MiB (1 to 1048576).
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=MAX_FILE_SIZE_MIB))]
    max_file_size: u64,

    /// DuckDB's memory for the import, in MB (16 to 1048576). Raise it if an import
    /// fails with "could not allocate block" or "failed to pin block".
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MEMORY_LIMIT_MB,
          value_parser = clap::value_parser!(u32).range(i64::from(MIN_MEMORY_LIMIT_MB)..=MAX_MEMORY_LIMIT_MB))]
    memory_limit: u32,

    /// Exit with status 0 even when some input files had problems (they are still
    /// reported and recorded), e.g. to run `report` after `import &&`.
    #[arg(long)]
    allow_bad_input: bool,

    /// Seconds a folder's times must be old for a run to trust that it will not list
    /// the folder again (default 5). Not for everyday use: the tests set 0 so as not
    /// to wait before they change a folder.
    #[arg(long, hide = true, env = "POSTBACK_ARCHIVE_SETTLE_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    settle_seconds: Option<u64>,

    /// Files per committed batch (default 131072). Not for everyday use: the crash,
    /// signal and disk-full tests set it to get many commits out of a small corpus.
    #[arg(long, hide = true, env = "POSTBACK_ARCHIVE_BATCH_FILES", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=131_072))]
    batch_files: Option<u32>,
}

/// More threads than this only cost memory and start-up time; the import's work comes
/// in chunks of files, and its single writer is the limit long before.
const MAX_THREADS: u16 = 256;
/// 1 TiB, far beyond any postback file, and small enough that it cannot overflow in bytes.
const MAX_FILE_SIZE_MIB: u64 = 1024 * 1024;
/// Below this DuckDB cannot hold the appenders of one batch.
pub(super) const MIN_MEMORY_LIMIT_MB: u32 = 16;
/// 1 TB.
pub(super) const MAX_MEMORY_LIMIT_MB: i64 = 1024 * 1024;

pub fn run(global: &Global, args: ImportArgs) -> anyhow::Result<Outcome> {
    let roots = resolve_roots(&args.paths)?;
    let options = ImportOptions {
        input: WalkInput::Roots(roots),
        walk: WalkOptions {
            follow_symlinks: args.follow_symlinks,
            relist: args.rescan,
            reread: false,
            settle_time: args.settle_seconds.map_or(SETTLE_TIME, Duration::from_secs),
        },
        force: args.force,
        threads: args
            .threads
            .map_or_else(default_threads, usize::from)
            .min(usize::from(MAX_THREADS)),
        max_file_size: args.max_file_size.saturating_mul(1024 * 1024),
        memory_limit_mb: args.memory_limit,
        batch_files: args.batch_files.map_or(BATCH_FILES, |files| files as usize),
    };
    let stop = Stop::on_signals().context("cannot install the handlers of stop signals")?;
    let progress = ImportProgress::new(global.progress, global.quiet);
    let on_wait = |holder: &str| global.announce_wait(holder);
    let outcome = import_archive(
        &global.db,
        global.lock_timeout,
        on_wait,
        &options,
        &progress,
        &stop,
    );
    progress.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(failure) if failure.opening => return Err(failure.into()),
        Err(failure) => {
            let db = printable(&global.db.display().to_string()).into_owned();
            return Err(anyhow::Error::new(failure).context(format!("import into {db} failed")));
        }
    };
    match outcome.ending {
        Ending::Interrupted(signal) => {
            eprintln!(
                "postback-archive: import run {} interrupted by {}; the batches it committed are kept, and the next import finishes the job",
                outcome.run_id,
                signal.name()
            );
            Ok(Outcome::Interrupted(signal))
        }
        Ending::Finished(counters) => {
            report(global, &outcome, &counters);
            Ok(if counters.errors > 0 && !args.allow_bad_input {
                Outcome::InputProblems
            } else {
                Outcome::Success
            })
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The one-line summary, or under `--quiet` a line only when something needs attention.
fn report(global: &Global, outcome: &ImportOutcome, c: &RunCounters) {
    if global.quiet {
        if c.errors > 0 {
            eprintln!(
                "postback-archive: import run {} found {} problem(s) in input files; see the import_errors table",
                outcome.run_id, c.errors
            );
        }
        return;
    }
    let seconds = outcome.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        c.files_seen as f64 / seconds
    } else {
        0.0
    };
    println!(
        "import run {}: {} folders listed, {} unchanged; {} files seen, {} unchanged, {} read, {} other; {} new postbacks, {} duplicates; {} problems; {:.1} s ({:.0} files/s)",
        outcome.run_id,
        c.folders_listed,
        c.folders_unchanged,
        c.files_seen,
        c.files_skipped,
        c.files_read,
        c.files_other,
        c.postbacks_new,
        c.postbacks_duplicate,
        c.errors,
        seconds,
        rate
    );
}
