//! The HTML report in a real browser: a page built through the library is opened by
//! headless Chromium with this test's measuring script added to a copy of it (the
//! page itself has no script), and the DOM Chromium dumps is checked for what the
//! script recorded on each chart: bars, labels, size, and blocked fetches.

use std::path::{Path, PathBuf};
use std::process::Command;

use postback_archive::output::html::{Chart, ChartKind, HtmlDocument, HtmlSection, render};
use postback_archive::value::{Cell, Column};

/// The 25 hours of 2026-11-01 in America/New_York, as the hourly report labels them.
fn dst_day_hours() -> Vec<String> {
    let mut hours = vec![
        "00:00".to_string(),
        "01:00-04:00".into(),
        "01:00-05:00".into(),
    ];
    hours.extend((2..24).map(|hour| format!("{hour:02}:00")));
    hours
}

fn column(name: &str, type_name: &str) -> Column {
    Column {
        name: name.into(),
        type_name: type_name.into(),
        numeric: ["BIGINT", "UBIGINT", "DOUBLE"].contains(&type_name),
    }
}

fn text(value: &str) -> Cell {
    Cell::Text(value.into())
}

/// Passes generated and failed per hour: 25 hours, nothing generated in the hours
/// 03:00 to 05:00 and failures only in every fourth hour.
fn hourly_volume() -> (HtmlSection, usize) {
    let mut rows = Vec::new();
    for (index, hour) in dst_day_hours().into_iter().enumerate() {
        let generated = if (4..=6).contains(&index) {
            0
        } else {
            40 + 7 * index as i64
        };
        let failed = if index % 4 == 0 { 3 } else { 0 };
        rows.push(vec![text(&hour), Cell::Int(generated), Cell::Int(failed)]);
    }
    let bars = rows
        .iter()
        .flat_map(|row| &row[1..])
        .filter(|cell| **cell != Cell::Int(0))
        .count();
    let section = HtmlSection {
        id: "pass-volume".into(),
        title: "Pass generation by hour".into(),
        description: "Passes generated and failed in each hour of the day, New York time.".into(),
        columns: vec![
            column("hour", "VARCHAR"),
            column("generated", "BIGINT"),
            column("failed", "BIGINT"),
        ],
        rows,
        chart: Some(Chart {
            kind: ChartKind::StackedBars,
            title: "Passes per hour".into(),
            x: "hour".into(),
            series: vec!["generated".into(), "failed".into()],
            y_label: "passes".into(),
        }),
    };
    (section, bars)
}

fn failures_by_code() -> HtmlSection {
    let codes = [
        ("E351", "Pass template not found", 14, 0.4),
        ("E352", "Invalid pass data", 9, 0.257),
        ("E101", "Invalid <MOBILE> number & carrier", 7, 0.2),
        ("E355", "Barcode value missing", 5, 0.143),
    ];
    HtmlSection {
        id: "failure-codes".into(),
        title: "Failures by code".into(),
        description: "Why passes failed, most frequent first.".into(),
        columns: vec![
            column("status_code", "VARCHAR"),
            column("description", "VARCHAR"),
            column("failures", "BIGINT"),
            column("share", "DOUBLE"),
        ],
        rows: codes
            .iter()
            .map(|(code, description, count, share)| {
                vec![
                    text(code),
                    text(description),
                    Cell::Int(*count),
                    Cell::Double(*share),
                ]
            })
            .collect(),
        chart: Some(Chart {
            kind: ChartKind::Bars,
            title: "Failures per code".into(),
            x: "status_code".into(),
            series: vec!["failures".into()],
            y_label: "failures".into(),
        }),
    }
}

/// Five carriers, long names among them, as carrier-delivery draws them: the messages
/// sent, by what their first receipt said or whether they were sent at all; NULL where
/// a carrier had none of an outcome.
fn delivery_by_carrier() -> (HtmlSection, usize) {
    let carriers = [
        (
            "Cellco Partnership dba Verizon Wireless",
            120,
            Cell::UInt(2),
            Cell::UInt(1),
        ),
        ("T-Mobile USA, Inc.", 95, Cell::Null, Cell::UInt(4)),
        ("AT&T Mobility", 80, Cell::UInt(6), Cell::Null),
        ("Sprint <PCS>", 0, Cell::UInt(3), Cell::Null),
        ("U.S. Cellular", 12, Cell::Null, Cell::Null),
    ];
    let rows: Vec<Vec<Cell>> = carriers
        .iter()
        .map(|(carrier, delivered, not_delivered, not_sent)| {
            vec![
                text(carrier),
                Cell::UInt(*delivered),
                not_delivered.clone(),
                not_sent.clone(),
            ]
        })
        .collect();
    let bars = rows
        .iter()
        .flat_map(|row| &row[1..])
        .filter(|cell| !matches!(cell, Cell::Null | Cell::UInt(0)))
        .count();
    let section = HtmlSection {
        id: "carriers".into(),
        title: "Outbound delivery by carrier".into(),
        description: "The messages sent per carrier, followed to their first receipt.".into(),
        columns: vec![
            column("carrier", "VARCHAR"),
            column("delivered", "UBIGINT"),
            column("not_delivered", "UBIGINT"),
            column("not_sent", "UBIGINT"),
        ],
        rows,
        chart: Some(Chart {
            kind: ChartKind::HorizontalBars,
            title: "Messages per carrier".into(),
            x: "carrier".into(),
            series: vec![
                "delivered".into(),
                "not_delivered".into(),
                "not_sent".into(),
            ],
            y_label: "messages".into(),
        }),
    };
    (section, bars)
}

fn retries_without_any() -> HtmlSection {
    HtmlSection {
        id: "retries".into(),
        title: "Retries".into(),
        description: "Copies the platform sent again because the endpoint did not answer.".into(),
        columns: vec![column("day", "DATE"), column("duplicates", "BIGINT")],
        rows: vec![vec![Cell::Date(20_758), Cell::Int(0)]],
        chart: Some(Chart {
            kind: ChartKind::Bars,
            title: "Retried copies per day".into(),
            x: "day".into(),
            series: vec!["duplicates".into()],
            y_label: "copies".into(),
        }),
    }
}

fn import_health() -> HtmlSection {
    HtmlSection {
        id: "import-health".into(),
        title: "Import health".into(),
        description: "Import runs of the day.".into(),
        columns: vec![
            column("run_id", "BIGINT"),
            column("status", "VARCHAR"),
            column("files", "BIGINT"),
            column("errors", "BIGINT"),
        ],
        rows: vec![vec![Cell::Int(7), text("ok"), Cell::Int(312), Cell::Null]],
        chart: None,
    }
}

/// The document the browser opens, and how many bars each chart must show.
fn report() -> (HtmlDocument, [usize; 3]) {
    let (hourly, hourly_bars) = hourly_volume();
    let (carriers, carrier_bars) = delivery_by_carrier();
    let document = HtmlDocument {
        title: "Postbacks on 2026-11-01".into(),
        subtitle: "America/New_York · 25 hours (daylight saving time ended)".into(),
        // As key-figures writes them: the delivery rate over the messages whose receipt
        // came, and the receipts whose send is not in the archive beside it.
        summary: vec![
            ("passes generated".into(), "1234".into()),
            (
                "delivery rate".into(),
                "50.0% (1 of 2; 95% CI 9.5-90.5%)".into(),
            ),
            ("sends without receipt".into(), "1".into()),
            ("receipts without a send".into(), "1".into()),
        ],
        notices: vec!["No retries in this period.".into()],
        sections: vec![
            hourly,
            failures_by_code(),
            carriers,
            retries_without_any(),
            import_health(),
        ],
    };
    (document, [hourly_bars, 4, carrier_bars])
}

/// Debian's `chromium` on `PATH`; on CI its absence is a failure, elsewhere a skip.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed; .ci/run installs it (apt-get install chromium)"
        );
        println!("skipped: chromium not installed (apt-get install chromium)");
    }
    found
}

/// The DOM of `page` after Chromium loaded it and its scripts ran.
fn dump_dom(chromium: &Path, page: &Path) -> String {
    dump_dom_at(chromium, page, (1280, 900))
}

/// The DOM of `page` loaded in a window of `width` x `height` CSS pixels.
fn dump_dom_at(chromium: &Path, page: &Path, (width, height): (u32, u32)) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// Once the page has loaded, record on each chart what the browser really drew (bars
/// with a non-zero box, labels, the drawing's size) and on `<body>` how many fetches
/// the policy blocked, as `data-` attributes that the dumped DOM shows.
const MEASURE_SCRIPT: &str = r#"
(function () {
  var blocked = 0;
  document.addEventListener('securitypolicyviolation', function () { blocked += 1; });
  window.addEventListener('load', function () {
    document.body.dataset.blockedRequests = blocked;
    document.querySelectorAll('figure.chart[data-fills]').forEach(function (figure) {
      var svg = figure.querySelector('svg');
      var fills = figure.dataset.fills.split(' ');
      var drawn = function (element) {
        var box = element.getBBox();
        return box.width > 0 && box.height > 0;
      };
      var bars = Array.prototype.filter.call(svg.querySelectorAll('rect'), function (rect) {
        return fills.indexOf(rect.getAttribute('fill')) >= 0 && drawn(rect);
      });
      var labels = Array.prototype.filter.call(svg.querySelectorAll('text'), drawn);
      var box = svg.getBBox();
      figure.dataset.drawnBars = bars.length;
      figure.dataset.drawnLabels = labels.length;
      figure.dataset.drawnSize = Math.round(box.width) + 'x' + Math.round(box.height);
    });
  });
})();
"#;

/// The page's policy, which lets no script run.
const PAGE_POLICY: &str = "content=\"default-src 'none'; style-src 'unsafe-inline'\">";

/// A copy of `html` to measure: [`MEASURE_SCRIPT`] added at the end of its head, and
/// its policy widened by exactly that script (by nonce), so that every fetch stays
/// blocked as in the page itself.
fn measured(html: &str) -> String {
    measured_with(html, MEASURE_SCRIPT)
}

/// A copy of `html` with `script` run in it, every fetch still blocked.
fn measured_with(html: &str, script: &str) -> String {
    assert!(!html.contains("<script"), "the page ships a script");
    assert_eq!(html.matches(PAGE_POLICY).count(), 1, "the page's policy");
    assert_eq!(html.matches("</head>").count(), 1);
    html.replace(
        PAGE_POLICY,
        "content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-measure'\">",
    )
    .replace(
        "</head>",
        &format!("<script nonce=\"measure\">{script}</script>\n</head>"),
    )
}

/// Write the measured copy of `html` for Chromium to open.
fn write_page(dir: &Path, html: &str) -> PathBuf {
    let page = dir.join("report.html");
    std::fs::write(&page, measured(html)).unwrap();
    page
}

/// The value of attribute `name` in an opening `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let length = tag[start..].find('"')?;
    Some(&tag[start..start + length])
}

/// Every opening tag in `dom` that starts with `tag_start`.
fn tags<'a>(dom: &'a str, tag_start: &str) -> Vec<&'a str> {
    dom.match_indices(tag_start)
        .map(|(start, _)| &dom[start..start + dom[start..].find('>').unwrap()])
        .collect()
}

#[test]
fn charts_draw_in_chromium_with_every_bar_and_nothing_fetched() {
    let Some(chromium) = chromium() else { return };
    let (document, expected_bars) = report();
    let html = render(&document);
    for outside in ["http://", "https://", "src=", "url(", "@import", "<link"] {
        assert!(
            !html.contains(outside),
            "the page refers outside itself: {outside}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let dom = dump_dom(&chromium, &write_page(dir.path(), &html));

    let body = tags(&dom, "<body");
    assert_eq!(attribute(body[0], "data-blocked-requests"), Some("0"));

    let drawn = tags(&dom, "<figure class=\"chart\" data-fills=");
    assert_eq!(drawn.len(), 3, "three charts drew:\n{drawn:#?}");
    let label_counts = [25, 4, 5];
    for ((figure, bars), labels) in drawn.iter().zip(expected_bars).zip(label_counts) {
        assert_eq!(
            attribute(figure, "data-drawn-bars"),
            Some(&*bars.to_string()),
            "{figure}"
        );
        let size = attribute(figure, "data-drawn-size").unwrap();
        let (width, height) = size.split_once('x').unwrap();
        let (width, height): (u32, u32) = (width.parse().unwrap(), height.parse().unwrap());
        assert!(width > 600 && height > 150, "{figure}");
        // At least every row's label, beside the axis ticks and totals.
        let drawn_labels: usize = attribute(figure, "data-drawn-labels")
            .unwrap()
            .parse()
            .unwrap();
        assert!(drawn_labels > labels, "{figure}");
    }
    assert_eq!(expected_bars, [22 + 7, 4, 4 + 3 + 2]);

    for hour in dst_day_hours() {
        assert!(
            dom.contains(&format!(">\n{hour}\n</text>")),
            "no label {hour}"
        );
    }
    assert!(dom.contains(">\nCellco Partnership dba Verizon…\n</text>"));
    assert!(dom.contains(">\nSprint &lt;PCS&gt;\n</text>"));
    assert!(dom.contains(
        "<figure class=\"chart\">\n<figcaption>Retried copies per day</figcaption>\n\
         <p class=\"chart-empty\">Nothing to chart: every value of duplicates is 0.</p>"
    ));
    assert!(dom.contains("<p class=\"notice\">No retries in this period.</p>"));
    assert!(dom.contains(
        "<div class=\"card\"><dt>delivery rate</dt><dd><span class=\"figure\">50.0%</span> \
         <span class=\"detail\">1 of 2; 95% CI 9.5-90.5%</span></dd></div>"
    ));
    assert!(dom.contains("<div class=\"card\"><dt>receipts without a send</dt><dd>1</dd></div>"));
}

/// The measuring would catch a fetch: the same page with one image from outside
/// reports it blocked.
#[test]
fn a_fetch_from_the_page_is_blocked_and_counted() {
    let Some(chromium) = chromium() else { return };
    let html = render(&report().0).replace(
        "</main>",
        "<img src=\"https://example.invalid/logo.png\" alt=\"\"></main>",
    );
    let dir = tempfile::tempdir().unwrap();
    let dom = dump_dom(&chromium, &write_page(dir.path(), &html));
    let body = tags(&dom, "<body");
    assert_eq!(attribute(body[0], "data-blocked-requests"), Some("1"));
}

/// A page that shows `html` in a frame `width` CSS pixels wide (what a phone or a
/// desktop window gives the page: headless Chromium makes no window narrower than 500
/// px) and, once it loaded, records in `<pre id="layout">` how the browser laid out
/// the page: the frame's width, the page's width, the key figure cards of the first
/// row, and each card's figure and detail (font size, lines) and whether it overflows.
/// The page keeps its own policy inside the frame; only this harness runs a script.
fn layout_harness(html: &str, width: u32) -> String {
    let escaped = html
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>body {{ margin: 0; }} iframe {{ border: 0; }}</style></head>
<body><iframe id="page" width="{width}" height="900" srcdoc="{escaped}"></iframe><pre id="layout"></pre>
<script>
document.getElementById('page').addEventListener('load', function () {{
  var frame = this.contentWindow, doc = this.contentDocument;
  var lines = function (element) {{
    var style = frame.getComputedStyle(element);
    return Math.round(element.getBoundingClientRect().height / parseFloat(style.lineHeight));
  }};
  var cards = Array.prototype.slice.call(doc.querySelectorAll('.card'));
  var layout = {{
    window: frame.innerWidth,
    page: doc.documentElement.scrollWidth,
    client: doc.documentElement.clientWidth,
    first_row: cards.filter(function (card) {{ return card.offsetTop === cards[0].offsetTop; }}).length,
    cards: cards.map(function (card) {{
      var figure = card.querySelector('.figure') || card.querySelector('dd');
      var detail = card.querySelector('.detail');
      return {{
        label: card.querySelector('dt').textContent,
        figure_font: frame.getComputedStyle(figure).fontSize,
        figure_lines: lines(figure),
        detail_font: detail ? frame.getComputedStyle(detail).fontSize : null,
        detail_lines: detail ? lines(detail) : 0,
        overflows: card.scrollWidth > card.clientWidth
      }};
    }}),
    empty_cells: Array.prototype.map.call(doc.querySelectorAll('td.null'), function (td) {{
      return td.textContent;
    }})
  }};
  document.getElementById('layout').textContent = JSON.stringify(layout);
}});
</script></body></html>
"#
    )
}

/// What [`layout_harness`] recorded, from the DOM Chromium dumped.
fn layout(dom: &str) -> serde_json::Value {
    let start = dom.find("<pre id=\"layout\">").expect("the harness ran") + 17;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|error| panic!("{error}: {json}"))
}

/// Issue 22: a rate card printed `0.0% (0 of 14; 95% CI 0.0-21.5%)` in the big
/// figure's font, over four lines, and empty cells printed `NULL`. At a phone's width
/// (390 px) and a desktop's (1280 px) the rate is one line in the large font, its
/// counts and interval at most two lines in the small one, no card overflows, the
/// page is no wider than its window, and an empty cell is a dash.
#[test]
fn rate_cards_and_empty_cells_read_well_at_a_phones_and_a_desktops_width() {
    let Some(chromium) = chromium() else { return };
    let (mut document, _) = report();
    document.summary = vec![
        ("postbacks".into(), "70".into()),
        (
            "pass failure rate".into(),
            "0.0% (0 of 14; 95% CI 0.0-21.5%)".into(),
        ),
        (
            "delivery rate".into(),
            "91.3% (21 of 23; 95% CI 73.2-97.6%)".into(),
        ),
        ("send failure rate".into(), "n/a (none)".into()),
        ("median delivery latency".into(), "32.0 s".into()),
    ];
    let html = render(&document);
    let dir = tempfile::tempdir().unwrap();
    for (width, first_row) in [(390, 2), (1280, 5)] {
        // 5 cards: two a row on a phone, all in one row on a desktop.
        let page = dir.path().join(format!("layout-{width}.html"));
        std::fs::write(&page, layout_harness(&html, width)).unwrap();
        let layout = layout(&dump_dom_at(&chromium, &page, (width + 100, 1000)));
        assert_eq!(layout["window"], width, "{layout}");
        assert_eq!(
            layout["page"], layout["client"],
            "the page is wider than {width} px: {layout}"
        );
        assert_eq!(layout["first_row"], first_row, "{width} px: {layout}");
        let cards = layout["cards"].as_array().unwrap();
        assert_eq!(cards.len(), 5);
        for card in cards {
            assert_eq!(card["figure_font"], "24px", "{width} px: {card}");
            assert_eq!(card["figure_lines"], 1, "{width} px: {card}");
            assert_eq!(card["overflows"], false, "{width} px: {card}");
        }
        for rate in &cards[1..4] {
            assert_eq!(rate["detail_font"], "12px", "{width} px: {rate}");
            let lines = rate["detail_lines"].as_u64().unwrap();
            assert!((1..=2).contains(&lines), "{width} px: {rate}");
        }
        assert_eq!(cards[4]["detail_font"], serde_json::Value::Null);
        // import-health's NULL errors, and carrier-delivery's NULL counts.
        let empty = layout["empty_cells"].as_array().unwrap();
        assert_eq!(empty.len(), 6, "{layout}");
        assert!(empty.iter().all(|cell| cell == "\u{2013}"), "{layout}");
    }
    assert!(html.contains(
        "<dd><span class=\"figure\">91.3%</span> <span class=\"detail\">21 of 23; 95% CI 73.2-97.6%</span></dd>"
    ));
    assert!(!html.contains(">NULL<"));
}
