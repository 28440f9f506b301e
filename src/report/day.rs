//! Report, helper: what one day's run of the reports produced (report), shared by the
//! documents built from it: [`super::summary`] and [`super::page`] read it, and
//! [`super::daily`], which composes them, fills it.

use super::period::Period;
use super::{Collected, Report, Source};

/// One report as written to the folder.
pub(super) struct WrittenReport<'a> {
    pub report: &'a Report,
    pub period: Period,
    pub rows: u64,
    pub files: Vec<String>,
    /// The rows, when the HTML page or the summary needs them.
    pub kept: Option<Collected>,
}

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

/// The canned report whose rows are the summary's key figures.
pub(super) fn is_key_figures(report: &Report) -> bool {
    report.source == Source::Canned && report.name() == "key-figures"
}
