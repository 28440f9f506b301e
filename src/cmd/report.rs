//! `postback-archive report`: list the reports, run one for a period, or write every
//! report of a day or of any span of days to a folder (the cron jobs).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use clap::{Args, Subcommand};

use super::{Global, Outcome};
use crate::output::{self, Destination, Format};
use crate::problem::shown;
use crate::report::folder::{
    DEFAULT_FORMATS, FileFormat, FolderConfig, FolderOutcome, Span, write_report_folder,
};
use crate::report::period::{Period, parse_date, parse_zone, yesterday};
use crate::report::{Catalog, ReportError, during, run_report};
use crate::value::{Cell, Column};

const REPORTS: &str = "\
A report is a SQL file that starts with a header of `-- key: value` lines:

  -- name: top-keywords                (the file must be top-keywords.sql)
  -- title: Top inbound keywords
  -- description: Inbound messages per keyword in the period.
  -- dated-by: each message's own time  (optional: which clock puts a row in the period)
  -- param: from   first instant of the period
  -- param: to     first instant after the period
  -- period: 7 days                    (optional: days covered when --from is not given)
  SELECT keyword, count(*) AS messages FROM inbound_messages
  WHERE occurred_at >= $from AND occurred_at < $to GROUP BY ALL ORDER BY messages DESC

Parameters, bound by the tool, never pasted into the SQL: $from and $to (UTC instants
of the period's first local midnight and of the midnight after its last day), $days
(number of days), $previous_from (start of as many days just before), $tz (the zone).
Tables: report_days(day, starts_at, ends_at) and report_hours(day, hour, starts_at,
ends_at, utc_offset, utc_offset_minutes) hold the UTC bounds of each local day and hour
of the period; local_time(ts) prints an instant of the period in local time.

Put your reports in a folder and pass --reports-dir DIR (or set
POSTBACK_ARCHIVE_REPORTS): they are listed, run and written by daily like the canned ones.

Examples:
  postback-archive report list
  postback-archive report run key-figures --from 2026-11-01 --to 2026-11-07 --tz Europe/Paris
  postback-archive report daily --tz America/New_York --out-dir /srv/reports";

const DAILY: &str = "\
DIR/YYYY-MM-DD/ holds NAME.FORMAT for every report (canned ones and yours), each for
its usual period ending with that day; index.html, one page with every report and its
chart; summary.md and summary.json with the key figures and notices; and
manifest.json with the files, their row counts, the period, the time zone, when they
were generated and the last import run.

Exit status: 0 when the folder was written, also for a day without postbacks (its
summary says so and a warning goes to stderr, so a quiet day does not alarm cron);
1 when anything failed, in which case nothing was written and an earlier folder of
that day is kept.

Examples:
  postback-archive report daily --date 2026-11-03 --tz America/New_York --out-dir reports
  postback-archive report daily --formats csv,html --out-dir /srv/reports
  postback-archive --quiet report daily --tz America/New_York --out-dir /srv/reports  (cron)";

const PERIOD: &str = "\
DIR/FROM_TO/ (2026-11-01_2026-11-07/) holds what report daily writes for a day, for the
whole span: NAME.FORMAT for every report, each run over the span (a report whose usual
period is longer, such as the 14 days of failure-trend, over that many days ending with
--to), index.html with the charts per day, summary.md, summary.json and manifest.json.
Its key figures are those of report run key-figures --from FROM --to TO.

Exit status: 0 when the folder was written, also for a span without postbacks (with a
warning on stderr); 1 when anything failed, and then nothing was written.

Examples:
  postback-archive report period --from 2026-11-01 --to 2026-11-07 --out-dir reports
  postback-archive report period --from 2026-10-01 --to 2026-10-31 --tz Europe/Paris --out-dir out
  (last week, from cron: see The nightly cron in docs/guide.md)
  postback-archive report period --from $(date -d '7 days ago' +%F) --to $(date -d yesterday +%F) \\
      --out-dir /srv/reports";

const LIST: &str = "\
Examples:
  postback-archive report list
  postback-archive report list --format csv
  postback-archive report list --reports-dir mine";

const RUN: &str = "\
Examples:
  postback-archive report run key-figures --from 2026-11-03 --to 2026-11-03 --tz Europe/Paris
  postback-archive report run failure-trend --to 2026-11-05 --format csv --out trend.csv
  postback-archive report run carrier-delivery --from 2026-11-01 --to 2026-11-05 --format markdown";

/// Canned reports and your own: list them, run one for a period, or write every report
/// of a day to a folder (for cron).
#[derive(Debug, Args)]
#[command(after_help = REPORTS)]
pub struct ReportArgs {
    /// A folder of your own reports: *.sql files with the same header as the canned ones.
    #[arg(
        long,
        global = true,
        env = "POSTBACK_ARCHIVE_REPORTS",
        value_name = "DIR"
    )]
    reports_dir: Option<PathBuf>,

    /// Run the reports on the lake DIR that `export` wrote (one or more archives, each
    /// postback counted once) instead of the archive.
    #[arg(long, global = true, value_name = "DIR")]
    lake: Option<PathBuf>,

    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    List(ListArgs),
    Run(RunArgs),
    Daily(DailyArgs),
    Period(PeriodArgs),
}

/// List the canned reports, then yours, each with the clock that dates its rows.
#[derive(Debug, Args)]
#[command(after_help = LIST)]
struct ListArgs {
    /// How to print the list.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run one report for a period of whole local days and print it.
#[derive(Debug, Args)]
#[command(after_help = RUN)]
struct RunArgs {
    /// The report, as `report list` names it.
    #[arg(value_name = "NAME")]
    name: String,

    /// First day of the period (YYYY-MM-DD); default: the report's usual period
    /// (`report list`) ending with --to.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    from: Option<NaiveDate>,

    /// Last day of the period, included (YYYY-MM-DD); default: yesterday in --tz.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    to: Option<NaiveDate>,

    /// The time zone whose days and hours the report counts (an IANA name).
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = parse_zone)]
    tz: Tz,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Write the result to FILE instead of standard output; FILE appears (or is
    /// replaced) only when the report succeeded.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Write every report of one day to DIR/YYYY-MM-DD/, for cron.
///
/// The folder appears whole, replacing an earlier one of the same day, or not at all.
#[derive(Debug, Args)]
#[command(after_help = DAILY)]
struct DailyArgs {
    /// The day to report on (YYYY-MM-DD); default: yesterday in --tz.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    date: Option<NaiveDate>,

    /// The folder that receives one folder per day; created if missing.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,

    /// The formats to write, comma-separated: csv, tsv, json, jsonl, md, html (one
    /// page, index.html, with every report and its chart) [default: csv,json,md,html].
    #[arg(long, value_name = "FORMATS", value_delimiter = ',', value_parser = parse_file_format)]
    formats: Vec<FileFormat>,

    /// The time zone whose day and hours the reports count (an IANA name).
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = parse_zone)]
    tz: Tz,
}

/// Write every report of the days FROM to TO to DIR/FROM_TO/, as report daily writes a
/// day: for a weekly or monthly mail.
///
/// The folder appears whole, replacing an earlier one of the same span, or not at all.
#[derive(Debug, Args)]
#[command(after_help = PERIOD)]
struct PeriodArgs {
    /// The span's first day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    from: NaiveDate,

    /// The span's last day, included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    to: NaiveDate,

    /// The folder that receives one folder per span; created if missing.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,

    /// The formats to write, comma-separated: csv, tsv, json, jsonl, md, html
    /// [default: csv,json,md,html].
    #[arg(long, value_name = "FORMATS", value_delimiter = ',', value_parser = parse_file_format)]
    formats: Vec<FileFormat>,

    /// The time zone whose days and hours the reports count (an IANA name).
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = parse_zone)]
    tz: Tz,
}

pub fn run(global: &Global, args: ReportArgs) -> anyhow::Result<Outcome> {
    let catalog = Catalog::load(args.reports_dir.as_deref())?;
    let source = Reading {
        global,
        lake: args.lake.as_deref(),
    };
    match args.command {
        ReportCommand::List(list_args) => list(&catalog, list_args),
        ReportCommand::Run(run_args) => run_one(&source, &catalog, run_args),
        ReportCommand::Daily(daily_args) => daily(&source, &catalog, daily_args),
        ReportCommand::Period(period_args) => period(&source, &catalog, period_args),
    }
}

/// What the reports read: the archive, or the lake of `--lake`.
struct Reading<'a> {
    global: &'a Global,
    lake: Option<&'a Path>,
}

impl Reading<'_> {
    fn open(&self) -> anyhow::Result<crate::store::Archive> {
        match self.lake {
            Some(dir) => self.global.open_lake(dir),
            None => Ok(self.global.open_read_only()?),
        }
    }
}

fn list(catalog: &Catalog, args: ListArgs) -> anyhow::Result<Outcome> {
    let column = |name: &str| Column {
        name: name.to_string(),
        type_name: "VARCHAR".to_string(),
        numeric: false,
    };
    let columns = [
        "name",
        "period",
        "parameters",
        "source",
        "title",
        "dated_by",
    ]
    .map(column);
    let mut sink = output::open(args.format, &Destination::Stdout)?;
    let printed = sink.begin(&columns).and_then(|()| {
        catalog.reports().iter().try_for_each(|report| {
            let days = report.header.period_days;
            let params: Vec<&str> = report
                .header
                .params
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            sink.row(&[
                Cell::Text(report.name().to_string()),
                Cell::Text(format!("{days} day{}", if days == 1 { "" } else { "s" })),
                Cell::Text(params.join(", ")),
                Cell::Text(report.source_label()),
                Cell::Text(report.header.title.clone()),
                Cell::Text(report.header.dated_by.clone()),
            ])
        })
    });
    match printed.and_then(|()| sink.finish()) {
        Err(error) if !error.is_closed() => Err(error.into()),
        _ => Ok(Outcome::Success),
    }
}

fn run_one(source: &Reading<'_>, catalog: &Catalog, args: RunArgs) -> anyhow::Result<Outcome> {
    let report = catalog.find(&args.name)?;
    let to = args.to.unwrap_or_else(|| yesterday(Utc::now(), args.tz));
    let period = match args.from {
        Some(from) => Period::new(from, to, args.tz).map_err(anyhow::Error::msg)?,
        None => Period::ending(to, report.header.period_days, args.tz),
    };
    let archive = source.open()?;
    let destination = match args.out {
        Some(path) => super::file_destination(path, &archive)?,
        None => Destination::Stdout,
    };
    let mut sink = output::open(args.format, &destination)?;
    let printed = match run_report(&archive, report, &period, sink.as_mut()) {
        Ok(()) => sink.finish(),
        Err(ReportError::Output(error)) => Err(error),
        Err(error) => return Err(error.into()),
    };
    match printed {
        Err(error) if !error.is_closed() => Err(error.into()),
        _ => Ok(Outcome::Success),
    }
}

fn daily(source: &Reading<'_>, catalog: &Catalog, args: DailyArgs) -> anyhow::Result<Outcome> {
    let date = args.date.unwrap_or_else(|| yesterday(Utc::now(), args.tz));
    let config = FolderConfig {
        span: Span::Day(date),
        zone: args.tz,
        out_dir: args.out_dir,
        formats: formats_or_default(args.formats),
    };
    write_folder(source, catalog, &config)
}

fn period(source: &Reading<'_>, catalog: &Catalog, args: PeriodArgs) -> anyhow::Result<Outcome> {
    Period::new(args.from, args.to, args.tz).map_err(anyhow::Error::msg)?;
    let config = FolderConfig {
        span: Span::Days {
            first: args.from,
            last: args.to,
        },
        zone: args.tz,
        out_dir: args.out_dir,
        formats: formats_or_default(args.formats),
    };
    write_folder(source, catalog, &config)
}

fn formats_or_default(asked: Vec<FileFormat>) -> Vec<FileFormat> {
    if asked.is_empty() {
        DEFAULT_FORMATS.to_vec()
    } else {
        asked
    }
}

/// Write the folder of `config`, say where (unless `--quiet`), and warn of a period
/// without postbacks.
fn write_folder(
    source: &Reading<'_>,
    catalog: &Catalog,
    config: &FolderConfig,
) -> anyhow::Result<Outcome> {
    let archive = source.open()?;
    let target = config.out_dir.join(config.span.folder_name());
    let FolderOutcome {
        folder,
        files,
        postbacks,
        period,
    } = write_report_folder(&archive, catalog, config, Utc::now())
        .with_context(|| nothing_written(&target))?;
    let folder = shown(&folder);
    if postbacks == 0 {
        eprintln!(
            "postback-archive: warning: no postbacks occurred {}; the reports in {folder} say so. Check that the import ran",
            during(&period)
        );
    }
    if !source.global.quiet {
        println!("wrote {files} files for {} to {folder}", period.describe());
    }
    Ok(Outcome::Success)
}

fn nothing_written(target: &Path) -> String {
    if target.exists() {
        format!("no reports written; {} is as it was", shown(target))
    } else {
        format!("no reports written to {}", shown(target))
    }
}

fn parse_file_format(text: &str) -> Result<FileFormat, String> {
    text.parse()
}
