//! Report, helper: the day's HTML page (report -> files), built from the rows of
//! every report and drawn by [`crate::output::html`]: the key figures as cards, the
//! notices as a banner, then each other report's chart (from its header) and table.

use chrono::{DateTime, Utc};

use crate::output::html::{self, HtmlDocument, HtmlSection};

use super::day::{DayFacts, WrittenReport, is_key_figures, subtitle, title};
use super::header::{Chart, ChartKind};

/// The page for `facts` and `written`, whose kept rows it takes.
pub(super) fn render(
    facts: &DayFacts,
    written: &mut [WrittenReport<'_>],
    now: DateTime<Utc>,
) -> String {
    // The key figures are the cards at the top, not a section again.
    let sections = written
        .iter_mut()
        .filter(|w| !is_key_figures(w.report))
        .map(section)
        .collect();
    let document = HtmlDocument {
        title: title(&facts.period),
        subtitle: format!(
            "{}; written {}",
            subtitle(facts),
            now.format("%Y-%m-%d %H:%M UTC")
        ),
        summary: facts.key_figures.clone(),
        notices: facts.notices.clone(),
        sections,
    };
    html::render(&document)
}

fn section(written: &mut WrittenReport<'_>) -> HtmlSection {
    let kept = written.kept.take().unwrap_or_default();
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
        columns: kept.columns,
        rows: kept.rows,
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
