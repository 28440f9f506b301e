//! `postback-archive query`: run SQL on the archive, read-only, and print the result.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::{Global, Outcome};
use crate::output::{self, Destination, Format};
use crate::problem::shown;
use crate::store::query::{QueryError, run_query};

const VALUES: &str = "\
Values are printed as the DuckDB CLI prints them: timestamps as 2026-11-01 12:00:00
(UTC), lists as [a, b], structs as {'k': v}. NULL is empty in csv and tsv, NULL in
table and markdown, null in JSON. In json and jsonl, numbers are numbers except
HUGEINT, UHUGEINT (such as fingerprint) and DECIMAL, which are strings because
JavaScript would round them; lists are arrays, structs and maps are objects, JSON
columns (content_urls, extra) are embedded as JSON, and every other value is a string.

The table format sizes its columns from the first 1000 rows, then streams the rest;
a wider value, or one over 80 characters, is cut with …. Every other format prints
values whole. No format holds the whole result in memory.

The archive is opened read-only, so a query can never change it, and SQL reaches no
file except inside the folders granted with --allow-dir DIR (which may not hold the
archive): COPY ... TO, read_csv, EXPORT DATABASE and ATTACH work there. --out FILE may
not name the archive, its WAL or their folder. DuckDB allows many readers or one
writer: while an import runs, query waits up to --lock-timeout, and a long query makes
an import wait.

Examples:
  postback-archive query \"SELECT origin, count(*) AS n FROM postbacks GROUP BY ALL ORDER BY n DESC\"
  postback-archive query -f monthly.sql --format csv --out monthly.csv
  postback-archive --allow-dir exports query \"COPY postbacks TO 'exports/postbacks.parquet'\"";

/// Run SQL on the archive and print the result. The archive is opened read-only;
/// several statements may be given, and the result of the last one is printed.
#[derive(Debug, Args)]
#[command(after_help = VALUES)]
pub struct QueryArgs {
    /// The SQL to run; without it, or with -, it is read from standard input.
    #[arg(value_name = "SQL", conflicts_with = "file")]
    sql: Option<String>,

    /// Read the SQL from FILE.
    #[arg(long, short, value_name = "FILE")]
    file: Option<PathBuf>,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Write the result to FILE instead of standard output. FILE is replaced only
    /// when the query succeeded; a failed query leaves it as it was.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Run the SQL on the lake DIR that `export` wrote (one or more archives, each
    /// postback once) instead of the archive: the same tables and views.
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,
}

pub fn run(global: &Global, args: QueryArgs) -> anyhow::Result<Outcome> {
    let sql = read_sql(&args)?;
    let archive = match &args.lake {
        Some(dir) => global.open_lake(dir)?,
        None => global.open_read_only()?,
    };
    let destination = match args.out {
        Some(path) => super::file_destination(path, &archive)?,
        None => Destination::Stdout,
    };
    let mut sink = output::open(args.format, &destination)?;
    let printed = match run_query(&archive, &sql, &[], sink.as_mut()) {
        Ok(()) => sink.finish(),
        Err(QueryError::Receiver(error)) => Err(error),
        Err(error) => return Err(error.into()),
    };
    match printed {
        Ok(()) => Ok(Outcome::Success),
        Err(error) if error.is_closed() => Ok(Outcome::Success),
        Err(error) => Err(error.into()),
    }
}

/// The SQL text from the argument, `--file`, or standard input.
fn read_sql(args: &QueryArgs) -> anyhow::Result<String> {
    let sql = match (&args.sql, &args.file) {
        (_, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the SQL file {}", shown(path)))?,
        (Some(sql), None) if sql != "-" => sql.clone(),
        (sql, None) => {
            let stdin = std::io::stdin();
            if sql.is_none() && stdin.is_terminal() {
                bail!(
                    "no SQL given; pass it as an argument, with --file FILE, or on standard input"
                );
            }
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .context("cannot read the SQL from standard input")?;
            text
        }
    };
    if sql.trim().is_empty() {
        bail!("the SQL is empty; nothing to run");
    }
    Ok(sql)
}
