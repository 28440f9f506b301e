//! Output, HTML helper: a section's rows drawn as bars by plotters into inline SVG
//! (store -> **report**), from the same cells its table shows.
//!
//! plotters is built without fonts: it estimates text widths, and the browser draws
//! the text in the page's own font, so the layout here leaves room to spare.

use std::error::Error;
use std::fmt::Write as _;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, ChartKind, escape};
use crate::output::cell_text::text;
use crate::value::{Cell, Column};

/// Width of every chart's drawing; the page scales it to the width of the section.
const WIDTH: u32 = 960;
/// Height of the plot area of vertical bars, without the labels under it.
const PLOT_HEIGHT: u32 = 300;
/// Height of one row of horizontal bars.
const ROW_HEIGHT: u32 = 26;
/// Most vertical bars drawn (two months of days); the table has every row.
const MAX_COLUMNS: usize = 62;
/// Most horizontal bars drawn; the table has every row.
const MAX_ROWS: usize = 30;
/// Labels cut with `…` past this many characters, under a vertical bar or beside a
/// horizontal one.
const MAX_COLUMN_LABEL: usize = 18;
const MAX_ROW_LABEL: usize = 32;
/// Font size as plotters counts it; its SVG writes 1/1.24 of it, about 12px.
const FONT_SIZE: f64 = 15.0;
/// A generous width of one character at that size, for laying out labels.
const CHAR_WIDTH: f64 = 7.2;
const VALUE_AXIS_WIDTH: u32 = 80;
/// Height of the value axis under horizontal bars: its numbers and its description.
const ROWS_VALUE_AXIS_HEIGHT: u32 = 52;
/// How many numbers the value axis shows, about.
const VALUE_TICKS: usize = 6;
/// Margins of the drawing around the plot and its label areas.
const MARGIN_TOP: u32 = 12;
const MARGIN_LEFT: u32 = 8;
const COLUMNS_MARGIN_RIGHT: u32 = 16;
/// Wider: the totals are written past the ends of horizontal bars.
const ROWS_MARGIN_RIGHT: u32 = 24;
/// Height of level labels under vertical bars.
const LEVEL_LABEL_AREA: u32 = 28;
/// Room beside the widest label in a label area.
const LABEL_PADDING: u32 = 16;
/// Space between the axis and a row's or column's label.
const LABEL_GAP: i32 = 8;
/// Space between a bar's end and its total: above a vertical bar, after a horizontal one.
const TOTAL_GAP_ABOVE: i32 = 3;
const TOTAL_GAP_AFTER: i32 = 4;
/// Least room between neighbouring level labels, and between totals, beyond their width.
const LABEL_SPACING: f64 = 6.0;
const TOTAL_SPACING: f64 = 2.0;
/// Half the width of a whisker's end caps, in rows (shared by the side-by-side bars).
const WHISKER_CAP: f64 = 0.12;
const WHISKER_STROKE: u32 = 2;
/// Share of its row's slot that a group of side-by-side bars fills, centred.
const GROUP_WIDTH: f64 = 0.8;
const GROUP_INSET: f64 = 0.1;
/// Where a stacked bar spans its row's slot.
const STACK_SPAN: (f64, f64) = (0.15, 0.85);
/// Room past the highest bar (and the lowest) for its total, as a factor.
const VALUE_HEADROOM: f64 = 1.15;

/// Series colours, told apart also by people with a colour vision deficiency
/// (Tableau 10). The browser test finds the bars by these fills.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x9C, 0x75, 0x5F),
];
const INK: RGBColor = RGBColor(0x52, 0x60, 0x6D);
const AXIS: RGBColor = RGBColor(0x9A, 0xA5, 0xB1);
const GRID: RGBColor = RGBColor(0xE4, 0xE7, 0xEB);

/// The `<figure>` for `chart`: caption, legend and drawing, or a sentence saying
/// why there is nothing to draw.
pub(super) fn figure(chart: &Chart, columns: &[Column], rows: &[Vec<Cell>]) -> String {
    let caption = format!("<figcaption>{}</figcaption>\n", escape(&chart.title));
    let without_drawing = |why: &str| {
        let why = escape(why);
        format!(
            "<figure class=\"chart\">\n{caption}<p class=\"chart-empty\">{why}</p>\n</figure>\n"
        )
    };
    let plot = match Plot::from_rows(chart, columns, rows) {
        Ok(plot) => plot,
        Err(why) => return without_drawing(&why),
    };
    let drawn = match chart.kind {
        ChartKind::Bars | ChartKind::StackedBars => draw_columns(&plot, &chart.y_label),
        ChartKind::HorizontalBars => draw_rows(&plot, &chart.y_label),
    };
    let svg = match drawn {
        Ok(svg) => svg,
        Err(error) => return without_drawing(&format!("The chart could not be drawn: {error}.")),
    };
    let fills: Vec<String> = plot.series.iter().map(|series| hex(series.color)).collect();
    let mut html = format!(
        "<figure class=\"chart\" data-fills=\"{}\">\n{caption}<ul class=\"legend\">",
        fills.join(" ")
    );
    for (series, fill) in plot.series.iter().zip(&fills) {
        let _ = write!(
            html,
            "<li><span class=\"swatch\" style=\"background:{fill}\"></span>{}</li>",
            escape(&series.name)
        );
    }
    html.push_str("</ul>\n");
    html.push_str(&svg);
    if !plot.whiskers().is_empty() {
        html.push_str(
            "<p class=\"chart-note\">The line across each bar is the rate's 95% Wilson interval: \
             the wider it is, the fewer the counts behind the rate (the table gives them).</p>\n",
        );
    }
    if plot.omitted > 0 {
        let _ = writeln!(
            html,
            "<p class=\"chart-note\">The chart shows the first {} of {} rows; the table has them all.</p>",
            plot.labels.len(),
            plot.labels.len() + plot.omitted
        );
    }
    html.push_str("</figure>\n");
    html
}

/// What a chart draws: one label per row, one list of values per series.
struct Plot {
    kind: ChartKind,
    labels: Vec<String>,
    series: Vec<Series>,
    /// Rows past the most a chart draws, left to the table.
    omitted: usize,
}

struct Series {
    name: String,
    color: RGBColor,
    values: Vec<f64>,
    /// Each row's interval, from the columns `NAME_low` and `NAME_high` when the result
    /// has both (a rate's 95% Wilson interval): drawn as a line across the bar.
    intervals: Vec<Option<(f64, f64)>>,
}

/// One bar, or one piece of a stacked bar, in chart units: row `category` spans
/// `category..category + 1` across, and the value axis is `along`.
struct Bar {
    category: usize,
    series: usize,
    across: (f64, f64),
    along: (f64, f64),
}

impl Plot {
    /// The chart's columns picked out of the result, or why there is nothing to draw.
    fn from_rows(chart: &Chart, columns: &[Column], rows: &[Vec<Cell>]) -> Result<Plot, String> {
        let position = |name: &str| {
            columns
                .iter()
                .position(|column| column.name == name)
                .ok_or_else(|| format!("Cannot chart: the result has no column named {name}."))
        };
        let x: Vec<usize> = chart
            .x
            .split(',')
            .map(|name| position(name.trim()))
            .collect::<Result<_, _>>()?;
        if chart.series.is_empty() {
            return Err("Cannot chart: the chart names no series.".into());
        }
        if rows.is_empty() {
            return Err("Nothing to chart: no rows.".into());
        }
        let most = match chart.kind {
            ChartKind::Bars | ChartKind::StackedBars => MAX_COLUMNS,
            ChartKind::HorizontalBars => MAX_ROWS,
        };
        let shown = &rows[..rows.len().min(most)];
        let mut series = Vec::with_capacity(chart.series.len());
        for (index, name) in chart.series.iter().enumerate() {
            let column = position(name)?;
            let bound = |suffix: &str| {
                let bound = format!("{name}_{suffix}");
                columns.iter().position(|column| column.name == bound)
            };
            let intervals = match (bound("low"), bound("high")) {
                (Some(low), Some(high)) => {
                    shown.iter().map(|row| interval(row, low, high)).collect()
                }
                _ => Vec::new(),
            };
            series.push(Series {
                name: name.clone(),
                color: PALETTE[index % PALETTE.len()],
                values: shown
                    .iter()
                    .map(|row| row.get(column).map_or(0.0, number))
                    .collect(),
                intervals,
            });
        }
        if series
            .iter()
            .all(|series| series.values.iter().all(|&v| v == 0.0))
        {
            return Err(format!(
                "Nothing to chart: every value of {} is 0.",
                join_names(&chart.series)
            ));
        }
        Ok(Plot {
            kind: chart.kind,
            labels: shown.iter().map(|row| label(row, &x)).collect(),
            series,
            omitted: rows.len() - shown.len(),
        })
    }

    /// Series share one bar per row (stacked), unless they stand side by side.
    fn stacked(&self) -> bool {
        self.kind != ChartKind::Bars || self.series.len() == 1
    }

    /// Where each non-zero value is drawn; each is at least `min_length` long, so a
    /// small count next to a large one still shows.
    fn bars(&self, min_length: f64) -> Vec<Bar> {
        let width = GROUP_WIDTH / self.series.len() as f64;
        let mut bars = Vec::new();
        for category in 0..self.labels.len() {
            let start = category as f64;
            let (mut above, mut below) = (0.0_f64, 0.0_f64);
            for (index, series) in self.series.iter().enumerate() {
                let value = series.values[category];
                if value == 0.0 {
                    continue;
                }
                let length = value.signum() * value.abs().max(min_length);
                let (across, along) = if self.stacked() {
                    let base = if value > 0.0 { &mut above } else { &mut below };
                    let from = *base;
                    *base += length;
                    ((start + STACK_SPAN.0, start + STACK_SPAN.1), (from, *base))
                } else {
                    let left = start + GROUP_INSET + width * index as f64;
                    ((left, left + width), (0.0, length))
                };
                bars.push(Bar {
                    category,
                    series: index,
                    across,
                    along,
                });
            }
        }
        bars
    }

    /// The value axis: from 0 (or the lowest bar) to the highest bar, with room at
    /// the end for the totals.
    fn value_range(&self) -> (f64, f64) {
        let (mut low, mut high) = (0.0_f64, 0.0_f64);
        for bar in self.bars(0.0) {
            low = low.min(bar.along.0.min(bar.along.1));
            high = high.max(bar.along.0.max(bar.along.1));
        }
        for (_, (from, to)) in self.whiskers() {
            low = low.min(from);
            high = high.max(to);
        }
        (low * VALUE_HEADROOM, high * VALUE_HEADROOM)
    }

    /// The intervals to draw, as (where across, (from, to)): over side-by-side bars or
    /// a single series only, since a stacked piece has no interval of its own.
    fn whiskers(&self) -> Vec<(f64, (f64, f64))> {
        let stacked = self.kind == ChartKind::StackedBars && self.series.len() > 1;
        if stacked || self.kind == ChartKind::HorizontalBars {
            return Vec::new();
        }
        let width = GROUP_WIDTH / self.series.len() as f64;
        let mut whiskers = Vec::new();
        for (index, series) in self.series.iter().enumerate() {
            for (category, interval) in series.intervals.iter().enumerate() {
                if let Some(interval) = interval {
                    let left = category as f64 + GROUP_INSET + width * index as f64;
                    whiskers.push((left + width / 2.0, *interval));
                }
            }
        }
        whiskers
    }

    /// Each row's total and where its bar ends, for the label written past it;
    /// none when series stand side by side.
    fn totals(&self, bars: &[Bar]) -> Vec<(f64, f64)> {
        if !self.stacked() {
            return Vec::new();
        }
        let mut totals = vec![(0.0, 0.0); self.labels.len()];
        for series in &self.series {
            for (total, value) in totals.iter_mut().zip(&series.values) {
                total.0 += value;
            }
        }
        for bar in bars {
            let end = &mut totals[bar.category].1;
            *end = f64::max(*end, bar.along.0.max(bar.along.1));
        }
        totals
    }
}

/// Vertical bars, labels under them: level when they fit, else turned upright; totals
/// above the bars when every one of them fits.
fn draw_columns(plot: &Plot, value_label: &str) -> Result<String, Box<dyn Error>> {
    let count = plot.labels.len();
    let (labels, widest) = cut_labels(plot, MAX_COLUMN_LABEL);
    let slot =
        f64::from(WIDTH - VALUE_AXIS_WIDTH - MARGIN_LEFT - COLUMNS_MARGIN_RIGHT) / count as f64;
    let upright = widest + LABEL_SPACING > slot;
    let label_area = if upright {
        label_area(widest)
    } else {
        LEVEL_LABEL_AREA
    };
    let layout = Layout {
        size: (WIDTH, MARGIN_TOP + PLOT_HEIGHT + label_area),
        margin_right: COLUMNS_MARGIN_RIGHT,
        label_area: (label_area, VALUE_AXIS_WIDTH),
        direction: Direction::Up,
    };
    let (low, high) = plot.value_range();
    draw(
        &layout,
        0.0..count as f64,
        low..high,
        value_label,
        |root, chart| {
            let bars = plot.bars((high - low) / f64::from(PLOT_HEIGHT));
            chart.draw_series(bars.iter().map(|bar| {
                let corners = [(bar.across.0, bar.along.0), (bar.across.1, bar.along.1)];
                Rectangle::new(corners, plot.series[bar.series].color.filled())
            }))?;
            draw_whiskers(chart, plot)?;
            let totals = plot.totals(&bars);
            let texts: Vec<String> = totals
                .iter()
                .map(|(total, _)| number_text(*total))
                .collect();
            if texts
                .iter()
                .all(|text| text_width(text) + TOTAL_SPACING <= slot)
            {
                for (category, (text, (_, end))) in texts.into_iter().zip(totals).enumerate() {
                    let (x, y) = chart.backend_coord(&(category as f64 + 0.5, end));
                    let style = label_style().pos(Pos::new(HPos::Center, VPos::Bottom));
                    root.draw(&Text::new(text, (x, y - TOTAL_GAP_ABOVE), style))?;
                }
            }
            for (category, label) in labels.into_iter().enumerate() {
                let (x, y) = chart.backend_coord(&(category as f64 + 0.5, low));
                let style = if upright {
                    let style = label_style().transform(FontTransform::Rotate270);
                    style.pos(Pos::new(HPos::Right, VPos::Center))
                } else {
                    label_style().pos(Pos::new(HPos::Center, VPos::Top))
                };
                root.draw(&Text::new(label, (x, y + LABEL_GAP), style))?;
            }
            Ok(())
        },
    )
}

/// Each interval of vertical bars as a line across its bar with a cap at each end.
fn draw_whiskers(chart: &mut Plane<'_, '_>, plot: &Plot) -> Result<(), Box<dyn Error>> {
    for (across, (from, to)) in plot.whiskers() {
        let cap = WHISKER_CAP / plot.series.len() as f64;
        let style = INK.stroke_width(WHISKER_STROKE);
        let lines = [
            vec![(across, from), (across, to)],
            vec![(across - cap, from), (across + cap, from)],
            vec![(across - cap, to), (across + cap, to)],
        ];
        chart.draw_series(lines.into_iter().map(|line| PathElement::new(line, style)))?;
    }
    Ok(())
}

/// Horizontal bars, first row on top, labels on the left and totals at the ends.
/// Row labels are drawn here rather than by the mesh, which places ticks by value.
fn draw_rows(plot: &Plot, value_label: &str) -> Result<String, Box<dyn Error>> {
    let count = plot.labels.len();
    let (labels, widest) = cut_labels(plot, MAX_ROW_LABEL);
    let layout = Layout {
        size: (
            WIDTH,
            MARGIN_TOP + count as u32 * ROW_HEIGHT + ROWS_VALUE_AXIS_HEIGHT,
        ),
        margin_right: ROWS_MARGIN_RIGHT,
        label_area: (ROWS_VALUE_AXIS_HEIGHT, label_area(widest)),
        direction: Direction::Right,
    };
    let bar_room = WIDTH - label_area(widest) - MARGIN_LEFT - ROWS_MARGIN_RIGHT;
    let rows = count as f64;
    let (low, high) = plot.value_range();
    draw(&layout, low..high, 0.0..rows, value_label, |root, chart| {
        let bars = plot.bars((high - low) / f64::from(bar_room));
        chart.draw_series(bars.iter().map(|bar| {
            let corners = [
                (bar.along.0, rows - bar.across.0),
                (bar.along.1, rows - bar.across.1),
            ];
            Rectangle::new(corners, plot.series[bar.series].color.filled())
        }))?;
        for (row, (total, end)) in plot.totals(&bars).into_iter().enumerate() {
            let (x, y) = chart.backend_coord(&(end, rows - row as f64 - 0.5));
            let style = label_style().pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                number_text(total),
                (x + TOTAL_GAP_AFTER, y),
                style,
            ))?;
        }
        for (row, label) in labels.into_iter().enumerate() {
            let (x, y) = chart.backend_coord(&(low, rows - row as f64 - 0.5));
            let style = label_style().pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(label, (x - LABEL_GAP, y), style))?;
        }
        Ok(())
    })
}

/// Which way the bars grow; the value axis runs the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Right,
}

/// Where a chart's plot sits in its drawing.
struct Layout {
    size: (u32, u32),
    /// Room right of the plot: for totals past the longest horizontal bar.
    margin_right: u32,
    /// The areas for the labels under the plot and left of it.
    label_area: (u32, u32),
    direction: Direction,
}

/// The plot of a chart: `x` across, `y` up, in chart units.
type Plane<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Lay out an SVG drawing as `layout` says, draw its value axis (ticks, numbers, its
/// description and grid lines across the bars) and let `bars` draw the rest.
fn draw(
    layout: &Layout,
    x: Range<f64>,
    y: Range<f64>,
    value_label: &str,
    bars: impl FnOnce(
        &DrawingArea<SVGBackend<'_>, Shift>,
        &mut Plane<'_, '_>,
    ) -> Result<(), Box<dyn Error>>,
) -> Result<String, Box<dyn Error>> {
    svg(layout.size, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin_top(MARGIN_TOP)
            .margin_right(layout.margin_right)
            .margin_left(MARGIN_LEFT)
            .x_label_area_size(layout.label_area.0)
            .y_label_area_size(layout.label_area.1)
            .build_cartesian_2d(x, y)?;
        let value_text = |value: &f64| number_text(*value);
        let mut mesh = chart.configure_mesh();
        mesh.max_light_lines(0)
            .label_style(label_style())
            .axis_desc_style(label_style())
            .bold_line_style(GRID)
            .axis_style(AXIS);
        match layout.direction {
            Direction::Up => mesh
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(VALUE_TICKS)
                .y_label_formatter(&value_text)
                .y_desc(value_label),
            Direction::Right => mesh
                .disable_y_mesh()
                .x_labels(VALUE_TICKS)
                .y_labels(0)
                .x_label_formatter(&value_text)
                .x_desc(value_label),
        };
        mesh.draw()?;
        bars(root, &mut chart)
    })
}

/// Each row's label cut to `most` characters, and the estimated width of the widest.
fn cut_labels(plot: &Plot, most: usize) -> (Vec<String>, f64) {
    let labels: Vec<String> = plot.labels.iter().map(|label| cut(label, most)).collect();
    let widest = labels
        .iter()
        .map(|label| text_width(label))
        .fold(0.0, f64::max);
    (labels, widest)
}

/// Room for labels as wide as `widest` beside the axis.
fn label_area(widest: f64) -> u32 {
    widest as u32 + LABEL_PADDING
}

/// Run `draw` on an SVG drawing of `size` and return the drawing as inline SVG.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), Box<dyn Error>>,
) -> Result<String, Box<dyn Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    // SVG inside HTML needs no namespace; without it the page holds no URL at all.
    Ok(svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", FONT_SIZE).into_font().color(&INK)
}

/// A row's interval from its `low` and `high` columns, when both are numbers.
fn interval(row: &[Cell], low: usize, high: usize) -> Option<(f64, f64)> {
    let bound = |column: usize| row.get(column).filter(|cell| !matches!(cell, Cell::Null));
    Some((number(bound(low)?), number(bound(high)?)))
}

/// A row's label: the text of its `x` columns, NULLs left out, joined by spaces.
fn label(row: &[Cell], x: &[usize]) -> String {
    let parts: Vec<String> = x
        .iter()
        .filter_map(|&column| row.get(column))
        .filter(|cell| !matches!(cell, Cell::Null))
        .map(text)
        .collect();
    parts.join(" ")
}

/// A cell as a bar's length: numbers as they are, anything else (NULL) as 0.
fn number(cell: &Cell) -> f64 {
    let value = match cell {
        Cell::Int(n) => *n as f64,
        Cell::UInt(n) => *n as f64,
        Cell::HugeInt(n) => *n as f64,
        Cell::UHugeInt(n) => *n as f64,
        Cell::Float(n) => f64::from(*n),
        Cell::Double(n) => *n,
        Cell::Decimal(text) => text.parse().unwrap_or(0.0),
        _ => 0.0,
    };
    if value.is_finite() { value } else { 0.0 }
}

/// A number for an axis or a total: thousands grouped, at most three decimals.
fn number_text(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let decimals = match value.abs() {
        whole if whole.fract() == 0.0 || whole >= 100.0 => 0,
        at_least_one if at_least_one >= 1.0 => 2,
        _ => 3,
    };
    let fixed = format!("{value:.decimals$}");
    let fixed = if decimals > 0 {
        fixed.trim_end_matches('0').trim_end_matches('.')
    } else {
        &fixed
    };
    let (sign, unsigned) = fixed.split_at(usize::from(fixed.starts_with('-')));
    let (whole, fraction) = unsigned.split_at(unsigned.find('.').unwrap_or(unsigned.len()));
    let mut grouped = String::from(sign);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped.push_str(fraction);
    grouped
}

/// `label` cut to at most `most` characters, the last one `…`.
fn cut(label: &str, most: usize) -> String {
    if label.chars().count() <= most {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(most - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

fn text_width(label: &str) -> f64 {
    label.chars().count() as f64 * CHAR_WIDTH
}

/// `#RRGGBB`, as plotters writes a fill.
fn hex(color: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
}

/// `a`, `a and b`, `a, b and c`.
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded_for_reading() {
        let texts: Vec<String> = [0.0, 7.0, 1234.0, -1234567.0, 12.5, 0.125, 1234.56, 0.3]
            .into_iter()
            .map(number_text)
            .collect();
        assert_eq!(
            texts,
            [
                "0",
                "7",
                "1,234",
                "-1,234,567",
                "12.5",
                "0.125",
                "1,235",
                "0.3"
            ]
        );
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(cut("Verizon Wireless", 18), "Verizon Wireless");
        assert_eq!(
            cut("Cellco Partnership dba Verizon", 18),
            "Cellco Partnershi…"
        );
        assert_eq!(
            cut("Cellco Partnership dba Verizon", 20),
            "Cellco Partnership…"
        );
    }

    #[test]
    fn null_counts_as_zero_and_series_stack_or_stand_side_by_side() {
        let columns = [
            Column {
                name: "hour".into(),
                type_name: "VARCHAR".into(),
                numeric: false,
            },
            Column {
                name: "generated".into(),
                type_name: "BIGINT".into(),
                numeric: true,
            },
            Column {
                name: "failed".into(),
                type_name: "BIGINT".into(),
                numeric: true,
            },
        ];
        let rows = vec![
            vec![Cell::Text("00:00".into()), Cell::Int(5), Cell::Null],
            vec![Cell::Text("01:00".into()), Cell::UInt(2), Cell::Double(3.0)],
        ];
        let chart = Chart {
            kind: ChartKind::StackedBars,
            title: String::new(),
            x: "hour".into(),
            series: vec!["generated".into(), "failed".into()],
            y_label: String::new(),
        };
        let plot = Plot::from_rows(&chart, &columns, &rows).unwrap();
        let bars: Vec<_> = plot
            .bars(0.0)
            .iter()
            .map(|bar| (bar.category, bar.series, bar.along))
            .collect();
        assert_eq!(
            bars,
            [(0, 0, (0.0, 5.0)), (1, 0, (0.0, 2.0)), (1, 1, (2.0, 5.0))]
        );
        assert_eq!(plot.value_range(), (0.0, 5.0 * 1.15));

        let side_by_side = Plot {
            kind: ChartKind::Bars,
            ..plot
        };
        let bars: Vec<_> = side_by_side
            .bars(0.0)
            .iter()
            .map(|bar| (bar.category, bar.series, bar.across, bar.along))
            .collect();
        assert_eq!(
            bars,
            [
                (0, 0, (0.1, 0.5), (0.0, 5.0)),
                (1, 0, (1.1, 1.5), (0.0, 2.0)),
                (1, 1, (1.5, 1.9), (0.0, 3.0)),
            ]
        );
    }

    #[test]
    fn a_rate_with_low_and_high_columns_gets_its_interval_drawn_across_its_bar() {
        let column = |name: &str, numeric| Column {
            name: name.into(),
            type_name: if numeric { "DOUBLE" } else { "VARCHAR" }.into(),
            numeric,
        };
        let columns = [
            column("day", false),
            column("failure_pct", true),
            column("failure_pct_low", true),
            column("failure_pct_high", true),
            column("other_pct", true),
        ];
        let rows = vec![
            vec![
                Cell::Text("2026-11-01".into()),
                Cell::Double(42.9),
                Cell::Double(15.8),
                Cell::Double(75.0),
                Cell::Double(10.0),
            ],
            vec![
                Cell::Text("2026-11-02".into()),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Double(20.0),
            ],
        ];
        let chart = Chart {
            kind: ChartKind::Bars,
            title: String::new(),
            x: "day".into(),
            series: vec!["failure_pct".into(), "other_pct".into()],
            y_label: "% failed".into(),
        };
        let plot = Plot::from_rows(&chart, &columns, &rows).unwrap();
        // Over the first of two side-by-side bars of the first day, up to 75.
        let whiskers = plot.whiskers();
        assert_eq!(whiskers.len(), 1);
        assert!((whiskers[0].0 - 0.3).abs() < 1e-9, "{whiskers:?}");
        assert_eq!(whiskers[0].1, (15.8, 75.0));
        assert_eq!(plot.value_range(), (0.0, 75.0 * 1.15));
        let html = figure(&chart, &columns, &rows);
        let whisker = "<polyline fill=\"none\" opacity=\"1\" stroke=\"#52606D\" stroke-width=\"2\"";
        assert_eq!(html.matches(whisker).count(), 3, "{html}");
        assert!(html.contains("95% Wilson interval"));
        let stacked = Chart {
            kind: ChartKind::StackedBars,
            ..chart
        };
        assert!(
            Plot::from_rows(&stacked, &columns, &rows)
                .unwrap()
                .whiskers()
                .is_empty()
        );
    }
}
