//! Report, helper: the documents `report daily` writes beside the reports (report ->
//! files): `summary.md` and `summary.json` for people and dashboards, and
//! `manifest.json`, which says what the folder holds and what the archive was.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::output::{self, Format};
use crate::store::query::{Cell, Column};
use crate::store::report::ArchiveState;

use super::ReportError;
use super::daily::WrittenReport;
use super::period::{Period, local_rfc3339};

/// What is known about the day once its reports ran.
pub(super) struct DayFacts {
    pub period: Period,
    pub postbacks: i64,
    /// Of those, the ones dated by their arrival: they carry no timestamp.
    pub dated_by_arrival: i64,
    pub notices: Vec<String>,
    pub key_figures: Vec<(String, String)>,
}

/// `Postback reports for 2026-11-01 (America/New_York)`.
pub(super) fn title(day: &Period) -> String {
    format!("Postback reports for {}", day.describe())
}

/// `2026-11-01T00:00:00-04:00 to 2026-11-02T00:00:00-05:00: 25 hours, 27 postbacks`,
/// and `(1 dated by arrival)` when some carry no timestamp.
pub(super) fn subtitle(facts: &DayFacts) -> String {
    let (starts, ends) = (facts.period.starts(), facts.period.ends());
    let by_arrival = match facts.dated_by_arrival {
        0 => String::new(),
        n => format!(" ({n} dated by arrival)"),
    };
    format!(
        "{} to {}: {} hours, {} postbacks{by_arrival}",
        starts.format("%Y-%m-%dT%H:%M:%S%:z"),
        ends.format("%Y-%m-%dT%H:%M:%S%:z"),
        (ends - starts).num_hours(),
        facts.postbacks
    )
}

/// Write `summary.md` and `summary.json`; returns their names.
pub(super) fn write_summary(
    folder: &Path,
    facts: &DayFacts,
    written: &[WrittenReport<'_>],
) -> Result<Vec<String>, ReportError> {
    write_file(folder, "summary.md", &summary_markdown(facts, written))?;
    let summary = SummaryJson {
        date: facts.period.first().to_string(),
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
    };
    write_json(folder, "summary.json", &summary)?;
    Ok(vec!["summary.md".to_string(), "summary.json".to_string()])
}

fn summary_markdown(facts: &DayFacts, written: &[WrittenReport<'_>]) -> String {
    let mut text = format!("# {}\n\n{}.\n", title(&facts.period), subtitle(facts));
    if !facts.notices.is_empty() {
        text.push_str("\n## Notices\n\n");
        for notice in &facts.notices {
            text.push_str(&format!("- {notice}\n"));
        }
    }
    text.push_str("\n## Key figures\n\n");
    let figures: Vec<Vec<Cell>> = facts
        .key_figures
        .iter()
        .map(|(figure, value)| vec![Cell::Text(figure.clone()), Cell::Text(value.clone())])
        .collect();
    text.push_str(&output::render_to_string(
        Format::Markdown,
        &[text_column("figure"), text_column("value")],
        &figures,
    ));
    text.push_str("\n## Reports\n\n");
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
                Cell::Text(period_label(&w.period)),
                Cell::UInt(w.rows),
                Cell::Text(links.join(" ")),
            ]
        })
        .collect();
    let columns = [
        text_column("report"),
        text_column("title"),
        text_column("period"),
        Column {
            name: "rows".to_string(),
            type_name: "UBIGINT".to_string(),
            numeric: true,
        },
        text_column("files"),
    ];
    text.push_str(&output::render_to_string(
        Format::Markdown,
        &columns,
        &reports,
    ));
    text
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

#[derive(Serialize)]
struct SummaryJson<'a> {
    date: String,
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
    date: String,
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
        facts: &'a DayFacts,
        written: &'a [WrittenReport<'a>],
        files: &'a [String],
        now: DateTime<Utc>,
    ) -> Self {
        let day = &facts.period;
        let (starts, ends) = (day.starts(), day.ends());
        let run = state.last_import_run.as_ref().map(|run| ImportRunJson {
            run_id: run.run_id,
            status: run.status.clone(),
            started_at: utc_text(run.started_at),
            finished_at: run.finished_at.map(utc_text),
            files_read: run.files_read,
            postbacks_new: run.postbacks_new,
            postbacks_duplicate: run.postbacks_duplicate,
            errors: run.errors,
        });
        Manifest {
            format: "postback-archive daily reports 1",
            date: day.first().to_string(),
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

fn report_json<'a>(written: &'a WrittenReport<'a>) -> ReportJson<'a> {
    ReportJson {
        name: written.report.name(),
        title: &written.report.header.title,
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

/// Write `value` as pretty JSON to `folder/name`.
pub(super) fn write_json(
    folder: &Path,
    name: &str,
    value: &impl Serialize,
) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(value).expect("plain data serializes");
    text.push('\n');
    write_file(folder, name, &text)
}

/// Write `text` to `folder/name`.
pub(super) fn write_file(folder: &Path, name: &str, text: &str) -> Result<(), ReportError> {
    let path = folder.join(name);
    std::fs::write(&path, text).map_err(|source| ReportError::Folder { path, source })
}
