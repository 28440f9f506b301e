//! Report, helper: what the documents of a report folder (`report daily`, `report
//! period`) say beside the reports (report -> output): `summary.md` and
//! `summary.json` for people and dashboards, and `manifest.json`, which says what the
//! folder holds and what the archive was. The output module writes them (Markdown,
//! JSON, the folder).

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::output::MarkdownDocument;
use crate::store::report_inputs::ArchiveState;
use crate::value::{Cell, Column};

use super::facts::{PeriodFacts, RanReport, subtitle, title};
use super::period::{Period, local_rfc3339};

/// `summary.md`: the title, the notices, the key figures and a table of the reports
/// (with the clock that dates each one's rows) with links to their files.
pub(super) fn markdown(facts: &PeriodFacts, written: &[RanReport<'_>]) -> MarkdownDocument {
    let lead = format!("{}.", subtitle(facts));
    let mut document = MarkdownDocument::new(&title(&facts.period), &lead);
    if !facts.notices.is_empty() {
        document.section("Notices");
        document.bullets(&facts.notices);
    }
    document.section("Key figures");
    let figures: Vec<Vec<Cell>> = facts
        .key_figures
        .iter()
        .map(|(figure, value)| vec![Cell::Text(figure.clone()), Cell::Text(value.clone())])
        .collect();
    document.table(&[text_column("figure"), text_column("value")], &figures);
    document.section("Reports");
    let reports: Vec<Vec<Cell>> = written
        .iter()
        .map(|w| {
            let links: Vec<String> = w
                .files
                .iter()
                .map(|file| format!("[{file}]({file})"))
                .collect();
            vec![
                Cell::Text(w.report.name().to_string()),
                Cell::Text(w.report.header.title.clone()),
                Cell::Text(w.report.header.dated_by.clone()),
                Cell::Text(period_label(&w.period)),
                Cell::UInt(w.rows),
                Cell::Text(links.join(" ")),
            ]
        })
        .collect();
    let columns = [
        text_column("report"),
        text_column("title"),
        text_column("dated by"),
        text_column("period"),
        Column {
            name: "rows".to_string(),
            type_name: "UBIGINT".to_string(),
            numeric: true,
        },
        text_column("files"),
    ];
    document.table(&columns, &reports);
    document
}

/// `summary.json`: the day's facts for dashboards.
pub(super) fn json(facts: &PeriodFacts) -> SummaryJson<'_> {
    SummaryJson {
        days: DaysJson::of(&facts.period),
        time_zone: facts.period.zone().name(),
        from: facts
            .period
            .starts()
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        to: facts
            .period
            .ends()
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        postbacks: facts.postbacks,
        postbacks_dated_by_arrival: facts.dated_by_arrival,
        notices: &facts.notices,
        key_figures: facts
            .key_figures
            .iter()
            .map(|(figure, value)| KeyFigure { figure, value })
            .collect(),
    }
}

fn text_column(name: &str) -> Column {
    Column {
        name: name.to_string(),
        type_name: "VARCHAR".to_string(),
        numeric: false,
    }
}

/// `2026-11-01`, or `2026-10-19 to 2026-11-01` for a report of several days.
fn period_label(period: &Period) -> String {
    if period.first() == period.last() {
        period.first().to_string()
    } else {
        format!("{} to {}", period.first(), period.last())
    }
}

/// The days of a folder: `date` for one day (what `report daily` has always written),
/// `first_day`, `last_day` and `days` for a span.
#[derive(Serialize)]
#[serde(untagged)]
enum DaysJson {
    Day {
        date: String,
    },
    Days {
        first_day: String,
        last_day: String,
        days: i64,
    },
}

impl DaysJson {
    fn of(period: &Period) -> Self {
        if period.first() == period.last() {
            DaysJson::Day {
                date: period.first().to_string(),
            }
        } else {
            DaysJson::Days {
                first_day: period.first().to_string(),
                last_day: period.last().to_string(),
                days: period.day_count(),
            }
        }
    }

    /// The manifest's `format`: one for a day's folder, one for a span's.
    fn manifest_format(&self) -> &'static str {
        match self {
            DaysJson::Day { .. } => "postback-archive daily reports 1",
            DaysJson::Days { .. } => "postback-archive period reports 1",
        }
    }
}

#[derive(Serialize)]
pub(super) struct SummaryJson<'a> {
    #[serde(flatten)]
    days: DaysJson,
    time_zone: &'a str,
    from: String,
    to: String,
    postbacks: i64,
    postbacks_dated_by_arrival: i64,
    notices: &'a [String],
    key_figures: Vec<KeyFigure<'a>>,
}

#[derive(Serialize)]
struct KeyFigure<'a> {
    figure: &'a str,
    value: &'a str,
}

/// `manifest.json`: what the folder holds, for what period, from what archive.
#[derive(Serialize)]
pub(super) struct Manifest<'a> {
    format: &'static str,
    #[serde(flatten)]
    days: DaysJson,
    time_zone: &'a str,
    from: String,
    to: String,
    hours: i64,
    generated_at: String,
    tool_version: &'static str,
    archive: ArchiveJson,
    postbacks_in_period: i64,
    /// Of those, the ones without a timestamp of their own, dated by their arrival.
    postbacks_dated_by_arrival: i64,
    notices: &'a [String],
    reports: Vec<ReportJson<'a>>,
    /// Every file of the folder but the manifest, in the order written.
    files: &'a [String],
}

#[derive(Serialize)]
struct ArchiveJson {
    path: String,
    postbacks: i64,
    last_import_run: Option<ImportRunJson>,
}

#[derive(Serialize)]
struct ImportRunJson {
    run_id: i64,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    files_read: i64,
    postbacks_new: i64,
    postbacks_duplicate: i64,
    errors: i64,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    name: &'a str,
    title: &'a str,
    /// Which clock puts a row in the period; empty when the report does not say.
    dated_by: &'a str,
    source: String,
    from: String,
    to: String,
    rows: u64,
    files: &'a [String],
}

impl<'a> Manifest<'a> {
    pub(super) fn new(
        archive_path: &Path,
        state: &ArchiveState,
        facts: &'a PeriodFacts,
        written: &'a [RanReport<'a>],
        files: &'a [String],
        now: DateTime<Utc>,
    ) -> Self {
        let day = &facts.period;
        let (starts, ends) = (day.starts(), day.ends());
        let run = state.last_import_run.as_ref().map(|run| ImportRunJson {
            run_id: run.run_id,
            status: run.status.to_string(),
            started_at: utc_text(run.started_at),
            finished_at: run.finished_at.map(utc_text),
            files_read: run.files_read,
            postbacks_new: run.postbacks_new,
            postbacks_duplicate: run.postbacks_duplicate,
            errors: run.errors,
        });
        let days = DaysJson::of(day);
        Manifest {
            format: days.manifest_format(),
            days,
            time_zone: day.zone().name(),
            from: local_rfc3339(starts.naive_utc(), day.zone()),
            to: local_rfc3339(ends.naive_utc(), day.zone()),
            hours: (ends - starts).num_hours(),
            generated_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            tool_version: env!("CARGO_PKG_VERSION"),
            archive: ArchiveJson {
                path: archive_path.display().to_string(),
                postbacks: state.postbacks,
                last_import_run: run,
            },
            postbacks_in_period: facts.postbacks,
            postbacks_dated_by_arrival: facts.dated_by_arrival,
            notices: &facts.notices,
            reports: written.iter().map(report_json).collect(),
            files,
        }
    }
}

fn report_json<'a>(written: &'a RanReport<'a>) -> ReportJson<'a> {
    ReportJson {
        name: written.report.name(),
        title: &written.report.header.title,
        dated_by: &written.report.header.dated_by,
        source: written.report.source_label(),
        from: written.period.first().to_string(),
        to: written.period.last().to_string(),
        rows: written.rows,
        files: &written.files,
    }
}

fn utc_text(instant: NaiveDateTime) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
