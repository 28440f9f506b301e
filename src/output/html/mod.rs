//! Output, formats: one self-contained HTML page for a report, at the edge of the last
//! stage (store -> **report**), for the person who opens the daily report folder.
//!
//! The page holds everything it shows: inline CSS and charts drawn as inline SVG by
//! `charts`; it has no script. A Content-Security-Policy forbids every fetch, so it
//! looks the same offline, attached to a mail or printed. Every value is escaped: it
//! comes from user data.

mod charts;

use std::fmt::Write as _;

use super::cell_text::write_text;
use crate::value::{Cell, Column};

/// A whole report page: what `report daily` writes as its HTML file.
#[derive(Debug, Clone)]
pub struct HtmlDocument {
    /// The page's heading and the browser tab's title.
    pub title: String,
    /// One line under the title: the period, the time zone, when it was written.
    pub subtitle: String,
    /// Key figures shown as cards at the top, as (label, value).
    pub summary: Vec<(String, String)>,
    /// Shown as a banner above everything else, e.g. "No postbacks in this period".
    pub notices: Vec<String>,
    pub sections: Vec<HtmlSection>,
}

/// One report's result: an optional chart above the table of all its rows.
#[derive(Debug, Clone)]
pub struct HtmlSection {
    /// The section's anchor in the page (`#id`), e.g. the report's name.
    pub id: String,
    pub title: String,
    /// One or two sentences under the title saying what the numbers mean.
    pub description: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Drawn from the same `columns` and `rows` as the table.
    pub chart: Option<Chart>,
}

/// How to draw a section's rows: one bar (or group of bars) per row.
#[derive(Debug, Clone)]
pub struct Chart {
    pub kind: ChartKind,
    /// Shown above the chart.
    pub title: String,
    /// The column whose values label the bars, e.g. `hour`, `status_code`, `carrier`;
    /// or several, comma-separated (`code, status`), whose values are joined by spaces.
    pub x: String,
    /// The numeric columns drawn as bars, one colour each; NULL counts as 0.
    pub series: Vec<String>,
    /// What the value axis counts, e.g. "postbacks".
    pub y_label: String,
}

/// The shape of a [`Chart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Vertical bars, several series side by side: hours or days left to right.
    Bars,
    /// Vertical bars, several series stacked into one bar per row.
    StackedBars,
    /// Horizontal bars, first row on top, several series stacked: for long labels
    /// such as carrier names.
    HorizontalBars,
}

/// The complete page for `doc`, as one HTML string.
pub fn render(doc: &HtmlDocument) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(CONTENT_SECURITY_POLICY);
    let _ = writeln!(html, "<title>{}</title>", escape(&doc.title));
    let _ = writeln!(html, "<style>{STYLE}</style>");
    html.push_str("</head>\n<body>\n<header class=\"page\">\n");
    let _ = writeln!(html, "<h1>{}</h1>", escape(&doc.title));
    if !doc.subtitle.is_empty() {
        let _ = writeln!(html, "<p class=\"subtitle\">{}</p>", escape(&doc.subtitle));
    }
    html.push_str("</header>\n<main>\n");
    write_notices(&mut html, &doc.notices);
    write_summary(&mut html, &doc.summary);
    write_contents(&mut html, &doc.sections);
    for section in &doc.sections {
        write_section(&mut html, section);
    }
    let _ = writeln!(
        html,
        "</main>\n<footer>Written by postback-archive {}.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    html
}

fn write_notices(html: &mut String, notices: &[String]) {
    if notices.is_empty() {
        return;
    }
    html.push_str("<div class=\"notices\" role=\"status\">\n");
    for notice in notices {
        let _ = writeln!(html, "<p class=\"notice\">{}</p>", escape(notice));
    }
    html.push_str("</div>\n");
}

fn write_summary(html: &mut String, summary: &[(String, String)]) {
    if summary.is_empty() {
        return;
    }
    html.push_str("<dl class=\"summary\">\n");
    for (label, value) in summary {
        let _ = write!(html, "<div class=\"card\"><dt>{}</dt><dd>", escape(label));
        match figure_and_detail(value) {
            Some((figure, detail)) => {
                let _ = write!(
                    html,
                    "<span class=\"figure\">{}</span> <span class=\"detail\">{}</span>",
                    escape(figure),
                    escape(detail)
                );
            }
            None => html.push_str(&escape(value)),
        }
        html.push_str("</dd></div>\n");
    }
    html.push_str("</dl>\n");
}

/// A key figure written `FIGURE (DETAIL)`, as a rate is (`91.3% (21 of 23; 95% CI
/// 73.2-97.6%)`), split so that the card shows the figure large and its counts and
/// interval small under it.
fn figure_and_detail(value: &str) -> Option<(&str, &str)> {
    let (figure, rest) = value.split_once(" (")?;
    let detail = rest.strip_suffix(')')?;
    (!figure.is_empty() && !detail.is_empty()).then_some((figure, detail))
}

/// Links to the sections, for a page with more than one.
fn write_contents(html: &mut String, sections: &[HtmlSection]) {
    if sections.len() < 2 {
        return;
    }
    html.push_str("<nav class=\"contents\" aria-label=\"Sections\">\n");
    for section in sections {
        let _ = writeln!(
            html,
            "<a href=\"#{}\">{}</a>",
            escape(&section.id),
            escape(&section.title)
        );
    }
    html.push_str("</nav>\n");
}

fn write_section(html: &mut String, section: &HtmlSection) {
    let _ = writeln!(html, "<section id=\"{}\">", escape(&section.id));
    let _ = writeln!(html, "<h2>{}</h2>", escape(&section.title));
    if !section.description.is_empty() {
        let _ = writeln!(
            html,
            "<p class=\"description\">{}</p>",
            escape(&section.description)
        );
    }
    if let Some(chart) = &section.chart {
        html.push_str(&charts::figure(chart, &section.columns, &section.rows));
    }
    write_table(html, &section.columns, &section.rows);
    html.push_str("</section>\n");
}

fn write_table(html: &mut String, columns: &[Column], rows: &[Vec<Cell>]) {
    html.push_str("<div class=\"table\">\n<table>\n<thead>\n<tr>");
    for column in columns {
        let _ = write!(
            html,
            "<th{}>{}</th>",
            numeric_class(column),
            escape(&column.name)
        );
    }
    html.push_str("</tr>\n</thead>\n<tbody>\n");
    if rows.is_empty() {
        let _ = writeln!(
            html,
            "<tr><td class=\"no-rows\" colspan=\"{}\">No rows.</td></tr>",
            columns.len().max(1)
        );
    }
    let mut text = String::new();
    for row in rows {
        html.push_str("<tr>");
        for (column, cell) in columns.iter().zip(row) {
            if matches!(cell, Cell::Null) {
                let class = if column.numeric { "num null" } else { "null" };
                let _ = write!(
                    html,
                    "<td class=\"{class}\" title=\"NULL\">{EMPTY_CELL}</td>"
                );
                continue;
            }
            text.clear();
            write_text(&mut text, cell);
            let _ = write!(html, "<td{}>{}</td>", numeric_class(column), escape(&text));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n</div>\n");
}

/// What an empty (NULL) cell of a table shows: a dash, as a printed table has, rather
/// than the word `NULL` the terminal formats print.
const EMPTY_CELL: &str = "\u{2013}";

fn numeric_class(column: &Column) -> &'static str {
    if column.numeric { " class=\"num\"" } else { "" }
}

/// `value` made safe as HTML text and inside a quoted attribute.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The browser may fetch nothing: no script, style, font or image from anywhere,
/// not even a file beside the page. Only the page's own inline style applies; no
/// script runs at all, since the page has none.
const CONTENT_SECURITY_POLICY: &str = "<meta http-equiv=\"Content-Security-Policy\" \
    content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";

const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --paper: #ffffff;
  --wash: #f5f7fa; --accent: #2f5d8a; --warn-ink: #7a4b00; --warn-wash: #fff4d6;
  --warn-line: #f0c36d; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--wash); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
header.page { background: var(--accent); color: #fff; padding: 24px 32px 20px; }
header.page h1 { margin: 0; font-size: 26px; font-weight: 600; }
header.page .subtitle { margin: 4px 0 0; opacity: 0.85; }
main { max-width: 1100px; margin: 0 auto; padding: 20px 24px 8px; }
.notices { margin-bottom: 16px; }
.notice { margin: 0 0 8px; padding: 10px 14px; border: 1px solid var(--warn-line);
  border-left-width: 5px; border-radius: 6px; background: var(--warn-wash);
  color: var(--warn-ink); font-weight: 600; }
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr));
  gap: 12px; margin: 0 0 16px; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; }
.card dt { color: var(--muted); font-size: 13px; }
.card dd { margin: 2px 0 0; font-size: 24px; font-weight: 600; line-height: 1.25;
  font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .figure { display: block; }
.card .detail { display: block; margin-top: 2px; color: var(--muted); font-size: 12px;
  font-weight: 400; line-height: 1.35; }
nav.contents { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 0 0 16px;
  font-size: 14px; }
nav.contents a { color: var(--accent); text-decoration: none; }
nav.contents a:hover { text-decoration: underline; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px 20px; margin: 0 0 20px; }
section h2 { margin: 0; font-size: 19px; font-weight: 600; }
.description { margin: 4px 0 0; color: var(--muted); }
figure.chart { margin: 16px 0 0; break-inside: avoid; }
figure.chart figcaption { font-weight: 600; font-size: 14px; }
figure.chart svg { display: block; width: 100%; height: auto; margin-top: 6px; }
figure.chart svg text { font-family: inherit; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 0; padding: 0;
  list-style: none; font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px;
  border-radius: 2px; vertical-align: -1px; }
.chart-empty { margin: 8px 0 0; padding: 24px; border: 1px dashed var(--line);
  border-radius: 6px; color: var(--muted); text-align: center; }
.chart-note { margin: 4px 0 0; color: var(--muted); font-size: 13px; }
.table { margin-top: 16px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; max-width: 40ch; overflow-wrap: anywhere; }
th { background: var(--wash); color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.null { color: #9aa5b1; }
td.no-rows { color: var(--muted); text-align: center; }
footer { max-width: 1100px; margin: 0 auto; padding: 0 24px 24px; color: var(--muted);
  font-size: 13px; }
@media (max-width: 600px) {
  header.page { padding: 16px 16px 14px; }
  header.page h1 { font-size: 21px; }
  main { padding: 12px 12px 4px; }
  section { padding: 12px 12px 16px; }
  footer { padding: 0 12px 16px; }
}
@media print {
  body { background: #fff; font-size: 12px; }
  header.page { background: none; color: var(--ink); padding: 0 0 8px;
    border-bottom: 2px solid var(--ink); }
  main { max-width: none; padding: 12px 0 0; }
  nav.contents { display: none; }
  section, .card { border-color: #ccc; }
  section { padding: 8px 0; border: 0; border-top: 1px solid #ccc; border-radius: 0; }
  .table { overflow: visible; }
  tbody tr:nth-child(even) { background: none; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, numeric: bool) -> Column {
        Column::for_test(name, numeric)
    }

    fn document(sections: Vec<HtmlSection>) -> HtmlDocument {
        HtmlDocument {
            title: "Daily report".into(),
            subtitle: String::new(),
            summary: Vec::new(),
            notices: Vec::new(),
            sections,
        }
    }

    fn section(rows: Vec<Vec<Cell>>, chart: Option<Chart>) -> HtmlSection {
        HtmlSection {
            id: "carriers".into(),
            title: "Delivery by carrier".into(),
            description: String::new(),
            columns: vec![column("carrier", false), column("sent", true)],
            rows,
            chart,
        }
    }

    fn chart() -> Chart {
        Chart {
            kind: ChartKind::HorizontalBars,
            title: "Sent per carrier".into(),
            x: "carrier".into(),
            series: vec!["sent".into()],
            y_label: "messages".into(),
        }
    }

    #[test]
    fn a_rate_card_shows_the_rate_large_and_its_counts_small_and_empty_cells_a_dash() {
        let mut doc = document(vec![section(
            vec![
                vec![Cell::Null, Cell::Null],
                vec![Cell::Text("AT&T".into()), Cell::Int(2)],
            ],
            None,
        )]);
        doc.summary = vec![
            (
                "delivery rate".into(),
                "91.3% (21 of 23; 95% CI 73.2-97.6%)".into(),
            ),
            ("pass failure rate".into(), "n/a (none)".into()),
            ("median delivery latency".into(), "32.0 s".into()),
            ("odd".into(), "(only detail)".into()),
        ];
        let html = render(&doc);
        assert!(html.contains(
            "<div class=\"card\"><dt>delivery rate</dt><dd><span class=\"figure\">91.3%</span> \
             <span class=\"detail\">21 of 23; 95% CI 73.2-97.6%</span></dd></div>"
        ));
        assert!(html.contains(
            "<dd><span class=\"figure\">n/a</span> <span class=\"detail\">none</span></dd>"
        ));
        assert!(html.contains("<dt>median delivery latency</dt><dd>32.0 s</dd>"));
        assert!(html.contains("<dt>odd</dt><dd>(only detail)</dd>"));
        assert!(html.contains(
            "<tr><td class=\"null\" title=\"NULL\">\u{2013}</td>\
             <td class=\"num null\" title=\"NULL\">\u{2013}</td></tr>"
        ));
        assert!(!html.contains(">NULL<"));
    }

    #[test]
    fn user_text_is_escaped_everywhere() {
        let mut doc = document(vec![section(
            vec![vec![
                Cell::Text("<script>alert('x')</script> & \"AT&T\"".into()),
                Cell::Int(3),
            ]],
            Some(chart()),
        )]);
        doc.title = "<b>title</b>".into();
        doc.notices = vec!["<img src=x>".into()];
        doc.summary = vec![("a<b".into(), "1 & 2".into())];
        let html = render(&doc);

        assert!(html.contains("<h1>&lt;b&gt;title&lt;/b&gt;</h1>"));
        assert!(html.contains("<p class=\"notice\">&lt;img src=x&gt;</p>"));
        assert!(html.contains("<dt>a&lt;b</dt><dd>1 &amp; 2</dd>"));
        assert!(html.contains(
            "<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;AT&amp;T&quot;</td>\
             <td class=\"num\">3</td>"
        ));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
    }

    #[test]
    fn chart_of_zeros_or_no_rows_says_so_instead_of_drawing() {
        let zeros = section(
            vec![
                vec![Cell::Text("Verizon".into()), Cell::Int(0)],
                vec![Cell::Text("T-Mobile".into()), Cell::Null],
            ],
            Some(chart()),
        );
        let html = render(&document(vec![zeros]));
        assert!(
            html.contains(
                "<p class=\"chart-empty\">Nothing to chart: every value of sent is 0.</p>"
            )
        );
        assert!(!html.contains("<svg"));

        let html = render(&document(vec![section(Vec::new(), Some(chart()))]));
        assert!(html.contains("<p class=\"chart-empty\">Nothing to chart: no rows.</p>"));
        assert!(html.contains("<td class=\"no-rows\" colspan=\"2\">No rows.</td>"));
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn chart_naming_a_missing_column_says_which() {
        let mut chart = chart();
        chart.series = vec!["delivered".into()];
        let rows = vec![vec![Cell::Text("Verizon".into()), Cell::Int(1)]];
        let html = render(&document(vec![section(rows, Some(chart))]));
        assert!(html.contains(
            "<p class=\"chart-empty\">Cannot chart: the result has no column named delivered.</p>"
        ));
    }

    /// Issue 12, finding 7: the script that measured the drawing for the browser test
    /// shipped in every page. The page has none, and its policy would run none.
    #[test]
    fn test_code_does_not_ship_in_the_page() {
        let html = render(&document(vec![section(
            vec![vec![Cell::Text("Verizon".into()), Cell::Int(3)]],
            Some(chart()),
        )]));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("script-src"));
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" \
             content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        ));
    }
}
