//! Report, helper: what the HTML page of a report folder shows (report -> output),
//! built from the rows of every report and drawn by [`crate::output::html`]: the key
//! figures as cards, the notices as a banner, then each other report's chart (from its
//! header; a report with a row per day charts the folder's days) and table.

use chrono::{DateTime, Utc};

use crate::output::html::{self, HtmlDocument, HtmlSection};

use super::facts::{PeriodFacts, RanReport, is_key_figures, subtitle, title};
use super::header::{Chart, ChartKind};

/// The page for `facts` and the reports' results in `ran`.
pub(super) fn document(
    facts: &PeriodFacts,
    ran: &[RanReport<'_>],
    now: DateTime<Utc>,
) -> HtmlDocument {
    // The key figures are the cards at the top, not a section again.
    let sections = ran
        .iter()
        .filter(|r| !is_key_figures(r.report))
        .map(section)
        .collect();
    HtmlDocument {
        title: title(&facts.period),
        subtitle: format!(
            "{}; written {}",
            subtitle(facts),
            now.format("%Y-%m-%d %H:%M UTC")
        ),
        summary: facts.key_figures.clone(),
        notices: facts.notices.clone(),
        sections,
    }
}

fn section(written: &RanReport<'_>) -> HtmlSection {
    let kept = &written.result;
    let header = &written.report.header;
    HtmlSection {
        id: written.report.name().to_string(),
        title: header.title.clone(),
        description: format!(
            "{} Period: {}.{}",
            header.description,
            written.period.describe(),
            dated_by_sentence(&header.dated_by)
        ),
        columns: kept.columns.clone(),
        rows: kept.rows.clone(),
        chart: header
            .chart
            .as_ref()
            .map(|chart| html_chart(chart, &header.title)),
    }
}

/// ` Rows dated by the send's time.`, or nothing when the header does not say.
fn dated_by_sentence(dated_by: &str) -> String {
    match dated_by {
        "" => String::new(),
        clock => format!(" Rows dated by {clock}."),
    }
}

fn html_chart(chart: &Chart, title: &str) -> html::Chart {
    html::Chart {
        kind: match chart.kind {
            ChartKind::Bars => html::ChartKind::Bars,
            ChartKind::StackedBars => html::ChartKind::StackedBars,
            ChartKind::HorizontalBars => html::ChartKind::HorizontalBars,
        },
        title: title.to_string(),
        x: chart.x.clone(),
        series: chart.series.clone(),
        y_label: chart.y_label.clone(),
    }
}
