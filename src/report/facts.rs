//! Report, helper: what a report folder's run of the reports found (report): each
//! report's result and the facts of the folder's period (a day, or any span of days),
//! shared by the documents built from them: [`super::summary`] and [`super::page`]
//! read them, and [`super::folder`], which composes the folder, fills them.

use super::period::Period;
use super::{Collected, Report, Source};

/// One report as run for the folder.
pub(super) struct RanReport<'a> {
    pub report: &'a Report,
    pub period: Period,
    pub rows: u64,
    /// The files the folder holds it in, as the folder's plan named them.
    pub files: Vec<String>,
    /// Its result, until the folder's plan takes it.
    pub result: Collected,
}

/// What is known about the folder's period once its reports ran.
pub(super) struct PeriodFacts {
    pub period: Period,
    pub postbacks: i64,
    /// Of those, the ones dated by their arrival: they carry no timestamp.
    pub dated_by_arrival: i64,
    pub notices: Vec<String>,
    pub key_figures: Vec<(String, String)>,
}

/// `day` for a period of one day, else `period`: how notices name it.
pub(super) fn span_word(period: &Period) -> &'static str {
    if period.first() == period.last() {
        "day"
    } else {
        "period"
    }
}

/// `on 2026-11-10 (UTC)`, or `from 2026-11-01 to 2026-11-07 (UTC)`.
pub fn during(period: &Period) -> String {
    if period.first() == period.last() {
        format!("on {}", period.describe())
    } else {
        format!("from {}", period.describe())
    }
}

/// Above this share of a period's postbacks, those dated by their arrival get a warning
/// of their own, first among the notices and in the subtitle. Postbacks without a
/// timestamp (email subscriptions, older-edition SUB, saved-MMS results, E101) are a
/// small share of a day's traffic that arrived on time (8% of the bundled sample's
/// 300; 14% of `tests/fixtures/meaning`, which has one postback of every documented
/// code), and then their arrival is their day. Files copied without their
/// modification times put every such postback of the archive on the day of the copy,
/// where they are most of it (400 of 413 postbacks in issue 23's recount, which made
/// that day's send failure rate 96.7%). A fifth is well above the first and far below
/// the second.
pub(super) const ARRIVAL_WARNING_PERCENT: i64 = 20;

/// Whether `by_arrival` of a period's `postbacks` are more than
/// [`ARRIVAL_WARNING_PERCENT`] of them.
pub(super) fn dominated_by_arrival(postbacks: i64, by_arrival: i64) -> bool {
    by_arrival > 0 && by_arrival * 100 > postbacks * ARRIVAL_WARNING_PERCENT
}

/// `96.9%`: `part` of `whole` to one decimal (`0.0%` of none).
pub(super) fn percent(part: i64, whole: i64) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

/// `Postback reports for 2026-11-01 (America/New_York)`, or for `2026-11-01 to
/// 2026-11-07 (UTC)`.
pub(super) fn title(period: &Period) -> String {
    format!("Postback reports for {}", period.describe())
}

/// `2026-11-01T00:00:00-04:00 to 2026-11-02T00:00:00-05:00: 25 hours, 27 postbacks`,
/// and `(1 dated by arrival)` when some carry no timestamp, with their share and a
/// pointer to the warning when they dominate the day.
pub(super) fn subtitle(facts: &PeriodFacts) -> String {
    let (starts, ends) = (facts.period.starts(), facts.period.ends());
    let by_arrival = match facts.dated_by_arrival {
        0 => String::new(),
        n if dominated_by_arrival(facts.postbacks, n) => format!(
            " ({n} dated by arrival: {}, see the warning)",
            percent(n, facts.postbacks)
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_dominated_by_arrival_above_a_fifth_of_its_postbacks() {
        assert!(!dominated_by_arrival(0, 0));
        assert!(!dominated_by_arrival(100, 20));
        assert!(dominated_by_arrival(100, 21));
        assert!(!dominated_by_arrival(5, 1));
        assert!(dominated_by_arrival(1, 1));
        assert!(dominated_by_arrival(413, 400));
        assert_eq!(percent(400, 413), "96.9%");
        assert_eq!(percent(0, 0), "0.0%");
    }
}
