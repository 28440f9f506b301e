//! Report, the nightly job (store -> **report** -> files): every report of one local
//! day, in every format asked for, written to `DIR/YYYY-MM-DD/` with a summary and a
//! manifest. The folder appears whole or not at all ([`StagedFolder`]).
//!
//! This module composes the day: it runs the reports, then has [`super::summary`] and
//! [`super::page`] say what the documents hold (both read [`super::day`], neither
//! reads this), and [`crate::output`] writes every file in its format.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

pub use crate::output::FileFormat;
use crate::output::{self, Destination, OutputError, RowSink, StagedFolder};
use crate::store::Archive;
use crate::store::report_inputs::{
    ArchiveState, PeriodCounts, archive_state, dated_by_arrival_per_code, period_counts,
};
use crate::store::runs::RunStatus;
use crate::value::{Cell, Column, RowReceiver};

use super::day::{
    ARRIVAL_WARNING_PERCENT, DayFacts, WrittenReport, dominated_by_arrival, is_key_figures, percent,
};
use super::period::Period;
use super::{Catalog, Collected, Report, ReportError, page, run_report, summary};

/// What `report daily` writes when `--formats` is not given.
pub const DEFAULT_FORMATS: [FileFormat; 4] = [
    FileFormat::Csv,
    FileFormat::Json,
    FileFormat::Markdown,
    FileFormat::Html,
];

/// What `report daily` was asked to do, resolved from the command line.
#[derive(Debug, Clone)]
pub struct DailyConfig {
    pub date: NaiveDate,
    pub zone: Tz,
    pub out_dir: PathBuf,
    pub formats: Vec<FileFormat>,
}

/// What `report daily` did.
#[derive(Debug, Clone)]
pub struct DailyOutcome {
    /// `DIR/YYYY-MM-DD`, now in place.
    pub folder: PathBuf,
    pub files: usize,
    /// How many postbacks occurred that day: zero deserves a warning.
    pub postbacks: i64,
    pub period: Period,
}

/// Write every report of `config.date` to `config.out_dir/YYYY-MM-DD`. Nothing is
/// put in place unless every report ran and every file was written.
pub fn write_daily(
    archive: &Archive,
    catalog: &Catalog,
    config: &DailyConfig,
    now: DateTime<Utc>,
) -> Result<DailyOutcome, ReportError> {
    refuse_folder_holding_archive(archive, config)?;
    let day = Period::ending(config.date, 1, config.zone);
    let state = archive_state(archive)?;
    let (from, to) = (day.starts().naive_utc(), day.ends().naive_utc());
    let counts = period_counts(archive, from, to)?;
    let arrival_codes = match dominated_by_arrival(counts.postbacks, counts.dated_by_arrival) {
        true => dated_by_arrival_per_code(archive, from, to)?,
        false => Vec::new(),
    };
    let target = config.out_dir.join(config.date.to_string());
    let folder_error = |source| ReportError::Folder {
        path: target.clone(),
        source,
    };
    let folder =
        StagedFolder::create(&config.out_dir, &config.date.to_string()).map_err(folder_error)?;
    let mut written = Vec::with_capacity(catalog.reports().len());
    for report in catalog.reports() {
        let period = Period::ending(config.date, report.header.period_days, config.zone);
        written.push(write_report(
            archive,
            report,
            period,
            config,
            folder.path(),
        )?);
    }
    let facts = DayFacts {
        period: day,
        postbacks: counts.postbacks,
        dated_by_arrival: counts.dated_by_arrival,
        notices: notices(&day, &counts, &arrival_codes, &state),
        key_figures: key_figures(&written),
    };
    let mut files: Vec<String> = written.iter().flat_map(|w| w.files.clone()).collect();
    put(
        &folder,
        &mut files,
        "summary.md",
        &summary::markdown(&facts, &written),
    )?;
    let summary_json = output::pretty_json(&summary::json(&facts));
    put(&folder, &mut files, "summary.json", &summary_json)?;
    if config.formats.contains(&FileFormat::Html) {
        let html = page::render(&facts, &mut written, now);
        put(&folder, &mut files, "index.html", &html)?;
    }
    let manifest = summary::Manifest::new(archive.path(), &state, &facts, &written, &files, now);
    let manifest = output::pretty_json(&manifest);
    put(&folder, &mut files, "manifest.json", &manifest)?;
    let folder = folder.commit().map_err(folder_error)?;
    Ok(DailyOutcome {
        folder,
        files: files.len(),
        postbacks: counts.postbacks,
        period: day,
    })
}

/// Write `text` to the file `name` of `folder` and add it to `files`.
fn put(
    folder: &StagedFolder,
    files: &mut Vec<String>,
    name: &str,
    text: &str,
) -> Result<(), ReportError> {
    folder
        .write_file(name, text)
        .map_err(|(path, source)| ReportError::Folder { path, source })?;
    files.push(name.to_string());
    Ok(())
}

/// The day's folder `DIR/DATE` is replaced whole, and hidden `DIR/.DATE.*` folders of
/// killed runs are removed: none of them may hold the archive.
fn refuse_folder_holding_archive(
    archive: &Archive,
    config: &DailyConfig,
) -> Result<(), ReportError> {
    let date = config.date.to_string();
    let day_folder = config.out_dir.join(&date);
    let entry = archive.files().entry_holding_archive(&config.out_dir);
    let hidden_prefix = format!(".{date}.");
    let holding = entry.and_then(|entry| {
        let name = entry.to_string_lossy();
        (name == date.as_str() || name.starts_with(&hidden_prefix))
            .then(|| config.out_dir.join(&entry))
    });
    let holding = holding.or_else(|| {
        archive
            .files()
            .holds_archive(&day_folder)
            .then(|| day_folder.clone())
    });
    match holding {
        Some(folder) => Err(ReportError::FolderHoldsArchive {
            folder,
            archive: archive.files().file().to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// Run one report into a file per format (and memory, when needed).
fn write_report<'a>(
    archive: &Archive,
    report: &'a Report,
    period: Period,
    config: &DailyConfig,
    folder: &Path,
) -> Result<WrittenReport<'a>, ReportError> {
    let mut fanout = Fanout::default();
    let mut files = Vec::new();
    for format in &config.formats {
        if let Some(output_format) = format.output_format() {
            let name = format!("{}.{}", report.name(), format.extension());
            let sink = output::open(output_format, &Destination::File(folder.join(&name)))?;
            fanout.sinks.push(sink);
            files.push(name);
        }
    }
    if config.formats.contains(&FileFormat::Html) || is_key_figures(report) {
        fanout.kept = Some(Collected::default());
    }
    run_report(archive, report, &period, &mut fanout)?;
    for sink in fanout.sinks {
        sink.finish()?;
    }
    Ok(WrittenReport {
        report,
        period,
        rows: fanout.rows,
        files,
        kept: fanout.kept,
    })
}

/// Sends a report's rows to every file at once, counting them.
#[derive(Default)]
struct Fanout {
    sinks: Vec<Box<dyn RowSink>>,
    rows: u64,
    kept: Option<Collected>,
}

impl RowReceiver for Fanout {
    type Error = OutputError;

    fn columns(&mut self, columns: &[Column]) -> Result<(), OutputError> {
        for sink in &mut self.sinks {
            sink.begin(columns)?;
        }
        if let Some(kept) = &mut self.kept {
            kept.columns(columns)?;
        }
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), OutputError> {
        self.rows += 1;
        for sink in &mut self.sinks {
            sink.row(cells)?;
        }
        if let Some(kept) = &mut self.kept {
            kept.row(cells)?;
        }
        Ok(())
    }
}

/// What the reader of the day's reports must be told before reading them; a day
/// dominated by postbacks dated by their arrival is warned of first, with
/// `arrival_codes`, their count per code.
fn notices(
    day: &Period,
    counts: &PeriodCounts,
    arrival_codes: &[(String, i64)],
    state: &ArchiveState,
) -> Vec<String> {
    let mut notices = Vec::new();
    if counts.postbacks == 0 {
        notices.push(format!(
            "No postbacks in the archive occurred on {}: the reports of this day have no rows, or only zeros. Check that the import ran.",
            day.describe()
        ));
    }
    if dominated_by_arrival(counts.postbacks, counts.dated_by_arrival) {
        notices.push(arrival_warning(counts, arrival_codes));
    } else if counts.dated_by_arrival > 0 {
        notices.push(format!(
            "{} of the day's {} postbacks carry no timestamp of their own (EMAIL_SUB, older-edition SUB, saved-MMS results, MMS send failures): the reports date them by when they arrived (received_at; for imported files, the file's modification time).",
            counts.dated_by_arrival, counts.postbacks
        ));
    }
    if counts.outcome_unknown > 0 {
        notices.push(format!(
            "{} of the day's postbacks have a code, or a STATUS for their code, that neither edition of the platform's documentation defines: their outcome is unknown, and the reports count them as neither success nor failure (SELECT * FROM postback_outcomes WHERE outcome = 'unknown' lists them).",
            counts.outcome_unknown
        ));
    }
    if counts.undated > 0 {
        notices.push(format!(
            "{} postbacks of the archive have neither a timestamp nor an arrival time: they belong to no day and are in no report.",
            counts.undated
        ));
    }
    match &state.last_import_run {
        None => notices.push("The archive has no import runs.".to_string()),
        Some(run) if run.status != RunStatus::Ok => notices.push(format!(
            "The last import, run {}, has status {}; see the import-health report and the import_errors table.",
            run.run_id, run.status
        )),
        Some(_) => {}
    }
    notices
}

/// `Warning: 400 of the day's 413 postbacks (96.9%) ...`, with their count per code.
fn arrival_warning(counts: &PeriodCounts, arrival_codes: &[(String, i64)]) -> String {
    let per_code: Vec<String> = arrival_codes
        .iter()
        .map(|(code, postbacks)| format!("{code} {postbacks}"))
        .collect();
    format!(
        "Warning: {} of the day's {} postbacks ({}) carry no timestamp of their own and are dated by when they arrived, by code: {}. More than {ARRIVAL_WARNING_PERCENT}% of a day is unusual: files copied without their modification times (cp without -p, rsync without -t) put every such postback of an archive on the day of the copy. If that happened, this day's send failures (E101), subscriptions and saved-MMS results are not this day's; the README's \"Keeping file times\" says how to copy an archive.",
        counts.dated_by_arrival,
        counts.postbacks,
        percent(counts.dated_by_arrival, counts.postbacks),
        per_code.join(", ")
    )
}

/// The key-figures report as (figure, value) pairs.
fn key_figures(written: &[WrittenReport<'_>]) -> Vec<(String, String)> {
    let Some(kept) = written
        .iter()
        .find(|w| is_key_figures(w.report))
        .and_then(|w| w.kept.as_ref())
    else {
        return Vec::new();
    };
    kept.rows
        .iter()
        .filter(|row| row.len() >= 2)
        .map(|row| (output::text::text(&row[0]), output::text::text(&row[1])))
        .collect()
}
