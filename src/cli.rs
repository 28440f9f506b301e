//! The command line: global options, the subcommands, and exit statuses.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd::{self, Global, Outcome};

const EXIT_STATUS: &str = "\
Exit status:
  0  success; serve: stopped by a signal after its requests in flight and a last import
  1  the command failed: bad arguments, a SQL error, or the archive is locked, missing,
     unwritable or damaged (verify: the archive is not sound)
  2  import: some input files had problems; they are listed above and in the
     import_errors table, and everything else was imported
  129, 130, 143
     import: stopped by SIGHUP, SIGINT or SIGTERM (128 + the signal's number); the
     batches committed before it are kept, the run is marked interrupted, and the next
     import finishes the job. import and serve: a second signal ends the process at
     once with that status. Other commands are ended by the first, as any program is

report daily and report period exit 0 also for a period without postbacks: they write
the reports, a notice in their summary and a warning on stderr. When they exit 1, they
wrote nothing.

Examples:
  postback-archive import --allow-bad-input data/sample
  postback-archive query \"SELECT origin, count(*) FROM postbacks GROUP BY ALL\"
  postback-archive report daily --date 2026-11-03 --out-dir reports";

/// The longest wait for another process's lock: a day, past which a nightly job has
/// met the next one.
const MAX_LOCK_TIMEOUT_SECS: u64 = 86_400;

/// Turn years of archived Skycore postback XML into one fast, SQL-queryable DuckDB archive.
#[derive(Debug, Parser)]
#[command(name = "postback-archive", version, after_help = EXIT_STATUS)]
pub struct Cli {
    /// The archive, a DuckDB file; `import` creates it.
    #[arg(
        long,
        global = true,
        env = "POSTBACK_ARCHIVE_DB",
        default_value = "postbacks.duckdb",
        value_name = "PATH",
        value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from)
    )]
    pub db: PathBuf,

    /// Seconds to wait while another process holds the archive (0 to 86400, a day).
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(0..=MAX_LOCK_TIMEOUT_SECS))]
    pub lock_timeout: u64,

    /// No progress bar and no summary; only errors and warnings are printed (for cron).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// A folder whose files the SQL of `query` and reports may read and write (COPY …
    /// TO, read_csv, EXPORT DATABASE, ATTACH); repeat for more. Without it, SQL
    /// reaches no file. It may not hold the archive. Default: $POSTBACK_ARCHIVE_ALLOW_DIRS
    /// (folders separated by `:`).
    #[arg(long = "allow-dir", global = true, value_name = "DIR")]
    pub allow_dirs: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Import(cmd::import::ImportArgs),
    Compact(cmd::compact::CompactArgs),
    Export(cmd::export::ExportArgs),
    Query(cmd::query::QueryArgs),
    Report(cmd::report::ReportArgs),
    Serve(cmd::serve::ServeArgs),
    Verify(cmd::verify::VerifyArgs),
    Backup(cmd::backup::BackupArgs),
    Completions(cmd::completions::CompletionsArgs),
    Man(cmd::man::ManArgs),
}

/// The environment variable that grants SQL folders when `--allow-dir` is not given.
const ALLOW_DIRS_VARIABLE: &str = "POSTBACK_ARCHIVE_ALLOW_DIRS";

/// The folders of `--allow-dir`, or else of `$POSTBACK_ARCHIVE_ALLOW_DIRS` (a list
/// like `PATH`; empty entries are skipped).
fn allowed_dirs(given: Vec<PathBuf>) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given;
    }
    std::env::var_os(ALLOW_DIRS_VARIABLE)
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|dir| !dir.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// What `--version` prints: the tool, the DuckDB it embeds, and what it writes: the
/// archive's schema version and its storage format, which says which DuckDB releases
/// open the archive (the question a user with their own DuckDB CLI has).
fn long_version() -> String {
    let duckdb = crate::store::duckdb_version()
        .unwrap_or_else(|error| format!("(its version could not be read: {error})"));
    format!(
        "postback-archive {}\n\
         DuckDB {duckdb}, embedded\n\
         archive schema version {}\n\
         storage version {}: DuckDB {} and later open the archives it writes\n",
        env!("CARGO_PKG_VERSION"),
        crate::store::SCHEMA_VERSION,
        crate::store::STORAGE_VERSION,
        crate::store::STORAGE_VERSION_OPENED_BY,
    )
}

/// Run the program and return its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayVersion => {
            print!("{}", long_version());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let global = Global {
        db: cli.db,
        lock_timeout: Duration::from_secs(cli.lock_timeout),
        quiet: cli.quiet,
        progress: !cli.quiet && std::io::stderr().is_terminal(),
        allow_dirs: allowed_dirs(cli.allow_dirs),
    };
    let result = match cli.command {
        Command::Import(args) => cmd::import::run(&global, args),
        Command::Compact(args) => cmd::compact::run(&global, args),
        Command::Export(args) => cmd::export::run(&global, args),
        Command::Query(args) => cmd::query::run(&global, args),
        Command::Report(args) => cmd::report::run(&global, args),
        Command::Serve(args) => cmd::serve::run(&global, args),
        Command::Verify(args) => cmd::verify::run(&global, args),
        Command::Backup(args) => cmd::backup::run(&global, args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::man::run(&global, args, Cli::command()),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::InputProblems) => ExitCode::from(2),
        Ok(Outcome::Interrupted(signal)) => ExitCode::from(signal.exit_status()),
        Err(error) => {
            let error = cmd::name_damage(error, &global.db);
            eprintln!("postback-archive: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
