//! Report, the cron jobs (store -> **report** -> output): every report of a period
//! (one local day for `report daily`, any span of days for `report period`), with a
//! summary, a manifest and the page, planned as one folder that [`crate::output`]
//! names, formats and writes whole.
//!
//! This module composes the folder: it runs the reports, has [`super::summary`] and
//! [`super::page`] say what the documents hold (both read [`super::facts`], neither
//! reads this), and hands the [`FolderPlan`] to [`output::write_folder`].

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

pub use crate::output::FileFormat;
use crate::output::{self, FolderPlan};
use crate::store::Archive;
use crate::store::report_inputs::{
    ArchiveState, PeriodCounts, archive_state, dated_by_arrival_per_code, period_counts,
};
use crate::store::runs::RunStatus;

use super::facts::{
    ARRIVAL_WARNING_PERCENT, PeriodFacts, RanReport, during, is_key_figures, percent, span_word,
};
use super::period::Period;
use super::{Catalog, Collected, ReportError, page, run_report, summary};

/// What `report daily` and `report period` write when `--formats` is not given.
pub const DEFAULT_FORMATS: [FileFormat; 4] = [
    FileFormat::Csv,
    FileFormat::Json,
    FileFormat::Markdown,
    FileFormat::Html,
];

/// Which folder: a day's (`DIR/YYYY-MM-DD`) or a span's (`DIR/FROM_TO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// `report daily --date DAY`.
    Day(NaiveDate),
    /// `report period --from FIRST --to LAST`.
    Days { first: NaiveDate, last: NaiveDate },
}

impl Span {
    /// The folder's name under `--out-dir`.
    pub fn folder_name(self) -> String {
        match self {
            Span::Day(day) => day.to_string(),
            Span::Days { first, last } => format!("{first}_{last}"),
        }
    }

    fn days(self) -> (NaiveDate, NaiveDate) {
        match self {
            Span::Day(day) => (day, day),
            Span::Days { first, last } => (first, last),
        }
    }
}

/// What `report daily` or `report period` was asked to do, resolved from the command
/// line.
#[derive(Debug, Clone)]
pub struct FolderConfig {
    pub span: Span,
    pub zone: Tz,
    pub out_dir: PathBuf,
    pub formats: Vec<FileFormat>,
}

/// What the folder command did.
#[derive(Debug, Clone)]
pub struct FolderOutcome {
    /// `DIR/YYYY-MM-DD` or `DIR/FROM_TO`, now in place.
    pub folder: PathBuf,
    pub files: usize,
    /// How many postbacks occurred in the period: zero deserves a warning.
    pub postbacks: i64,
    pub period: Period,
}

/// Write every report of `config.span` to its folder under `config.out_dir`. Nothing
/// is put in place unless every report ran and every file was written.
pub fn write_report_folder(
    archive: &Archive,
    catalog: &Catalog,
    config: &FolderConfig,
    now: DateTime<Utc>,
) -> Result<FolderOutcome, ReportError> {
    let (first, last) = config.span.days();
    let whole =
        Period::new(first, last, config.zone).map_err(|message| ReportError::Period { message })?;
    refuse_folder_holding_archive(archive, config)?;
    let state = archive_state(archive)?;
    let (from, to) = (whole.starts().naive_utc(), whole.ends().naive_utc());
    let counts = period_counts(archive, from, to)?;
    let arrival_codes =
        match super::facts::dominated_by_arrival(counts.postbacks, counts.dated_by_arrival) {
            true => dated_by_arrival_per_code(archive, from, to)?,
            false => Vec::new(),
        };
    let mut ran = Vec::with_capacity(catalog.reports().len());
    for report in catalog.reports() {
        let period = report_period(&whole, report.header.period_days);
        let mut result = Collected::default();
        run_report(archive, report, &period, &mut result)?;
        ran.push(RanReport {
            report,
            period,
            rows: result.rows.len() as u64,
            files: Vec::new(),
            result,
        });
    }
    let facts = PeriodFacts {
        period: whole,
        postbacks: counts.postbacks,
        dated_by_arrival: counts.dated_by_arrival,
        notices: notices(&whole, &counts, &arrival_codes, &state),
        key_figures: key_figures(&ran),
    };
    let plan = plan_folder(config, archive, &state, &facts, &mut ran, now);
    let folder = output::write_folder(&config.out_dir, &plan)?;
    Ok(FolderOutcome {
        folder,
        files: plan.file_names().len(),
        postbacks: counts.postbacks,
        period: whole,
    })
}

/// The period a report covers in a folder of `whole`: the whole span, or the report's
/// usual period ending with its last day when that is longer (the 14 days of
/// `failure-trend` in a day's folder).
fn report_period(whole: &Period, usual_days: u32) -> Period {
    if i64::from(usual_days) > whole.day_count() {
        Period::ending(whole.last(), usual_days, whole.zone())
    } else {
        *whole
    }
}

/// The folder: each report's files, `summary.md`, `summary.json`, the page, and
/// `manifest.json` naming them all.
fn plan_folder(
    config: &FolderConfig,
    archive: &Archive,
    state: &ArchiveState,
    facts: &PeriodFacts,
    ran: &mut [RanReport<'_>],
    now: DateTime<Utc>,
) -> FolderPlan {
    let mut plan = FolderPlan::new(&config.span.folder_name(), &config.formats);
    let page = plan.wants_page().then(|| page::document(facts, ran, now));
    for report in ran.iter_mut() {
        let result = std::mem::take(&mut report.result);
        report.files = plan.add_report(report.report.name(), result.columns, result.rows);
    }
    plan.add_markdown("summary.md", summary::markdown(facts, ran));
    plan.add_json("summary.json", &summary::json(facts));
    if let Some(page) = page {
        plan.add_page(page);
    }
    let files = plan.file_names();
    let manifest = summary::Manifest::new(archive.path(), state, facts, ran, &files, now);
    plan.add_json("manifest.json", &manifest);
    plan
}

/// The folder of the span is replaced whole, and hidden `DIR/.NAME.*` folders of
/// killed runs are removed: none of them may hold the archive.
fn refuse_folder_holding_archive(
    archive: &Archive,
    config: &FolderConfig,
) -> Result<(), ReportError> {
    let name = config.span.folder_name();
    let folder = config.out_dir.join(&name);
    let entry = archive.files().entry_holding_archive(&config.out_dir);
    let hidden_prefix = format!(".{name}.");
    let holding = entry.and_then(|entry| {
        let entry_name = entry.to_string_lossy();
        (entry_name == name.as_str() || entry_name.starts_with(&hidden_prefix))
            .then(|| config.out_dir.join(&entry))
    });
    let holding = holding.or_else(|| {
        archive
            .files()
            .holds_archive(&folder)
            .then(|| folder.clone())
    });
    match holding {
        Some(folder) => Err(ReportError::FolderHoldsArchive {
            folder,
            archive: archive.files().file().to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// What the reader of the folder's reports must be told before reading them; a period
/// dominated by postbacks dated by their arrival is warned of first, with
/// `arrival_codes`, their count per code.
fn notices(
    period: &Period,
    counts: &PeriodCounts,
    arrival_codes: &[(String, i64)],
    state: &ArchiveState,
) -> Vec<String> {
    let word = span_word(period);
    let mut notices = Vec::new();
    if counts.postbacks == 0 {
        notices.push(format!(
            "No postbacks in the archive occurred {}: the reports of this {word} have no rows, or only zeros. Check that the import ran.",
            during(period)
        ));
    }
    if super::facts::dominated_by_arrival(counts.postbacks, counts.dated_by_arrival) {
        notices.push(arrival_warning(word, counts, arrival_codes));
    } else if counts.dated_by_arrival > 0 {
        notices.push(format!(
            "{} of the {word}'s {} postbacks carry no timestamp of their own (EMAIL_SUB, older-edition SUB, saved-MMS results, MMS send failures): the reports date them by when they arrived (received_at; for imported files, the file's modification time).",
            counts.dated_by_arrival, counts.postbacks
        ));
    }
    if counts.outcome_unknown > 0 {
        notices.push(format!(
            "{} of the {word}'s postbacks have a code, or a STATUS for their code, that neither edition of the platform's documentation defines: their outcome is unknown, and the reports count them as neither success nor failure (SELECT * FROM postback_outcomes WHERE outcome = 'unknown' lists them).",
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
fn arrival_warning(word: &str, counts: &PeriodCounts, arrival_codes: &[(String, i64)]) -> String {
    let per_code: Vec<String> = arrival_codes
        .iter()
        .map(|(code, postbacks)| format!("{code} {postbacks}"))
        .collect();
    format!(
        "Warning: {} of the {word}'s {} postbacks ({}) carry no timestamp of their own and are dated by when they arrived, by code: {}. More than {ARRIVAL_WARNING_PERCENT}% of a {word} is unusual: files copied without their modification times (cp without -p, rsync without -t) put every such postback of an archive on the day of the copy. If that happened, this {word}'s send failures (E101), subscriptions and saved-MMS results are not this {word}'s; \"Keeping file times\" in docs/guide.md says how to copy an archive.",
        counts.dated_by_arrival,
        counts.postbacks,
        percent(counts.dated_by_arrival, counts.postbacks),
        per_code.join(", ")
    )
}

/// The key-figures report as (figure, value) pairs.
fn key_figures(ran: &[RanReport<'_>]) -> Vec<(String, String)> {
    let Some(key_figures) = ran.iter().find(|r| is_key_figures(r.report)) else {
        return Vec::new();
    };
    key_figures
        .result
        .rows
        .iter()
        .filter_map(|row| match row.as_slice() {
            [figure, value, ..] => Some((
                output::cell_text::text(figure),
                output::cell_text::text(value),
            )),
            _ => None,
        })
        .collect()
}
