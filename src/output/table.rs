//! Output, formats: an aligned table in a box, for people at a terminal.
//!
//! Column widths come from the header and the first [`SAMPLE_ROWS`] rows, which are
//! held back until then; later rows stream through, and a value wider than its
//! column (or than [`MAX_WIDTH`]) is cut with `…`. CSV and JSON print values whole.

use std::io::{self, Write};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Encoder;
use super::cell_text::write_text;
use crate::value::{Cell, Column};

/// Rows read before the column widths are fixed.
pub const SAMPLE_ROWS: usize = 1000;
/// Widest a column gets, in terminal cells.
pub const MAX_WIDTH: usize = 80;

pub struct Table {
    columns: Vec<Column>,
    /// Rows held back until the widths are known, as display text.
    sample: Vec<Vec<String>>,
    /// Each column's width, once laid out.
    widths: Option<Vec<usize>>,
}

impl Table {
    pub fn new() -> Self {
        Table {
            columns: Vec::new(),
            sample: Vec::new(),
            widths: None,
        }
    }

    /// Fix the widths from the sample, then print the header and the sample.
    fn lay_out(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                let widest = self
                    .sample
                    .iter()
                    .map(|row| row[index].width())
                    .chain([display_text(&column.name).width()])
                    .max()
                    .unwrap_or(0);
                widest.clamp(1, MAX_WIDTH)
            })
            .collect();
        rule(out, &widths, '┌', '┬', '┐')?;
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|column| display_text(&column.name))
            .collect();
        self.line(out, &widths, &names)?;
        if !self.sample.is_empty() {
            rule(out, &widths, '├', '┼', '┤')?;
        }
        for row in std::mem::take(&mut self.sample) {
            self.line(out, &widths, &row)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    fn line(&self, out: &mut dyn Write, widths: &[usize], values: &[String]) -> io::Result<()> {
        let mut line = String::from("│");
        for ((value, width), column) in values.iter().zip(widths).zip(&self.columns) {
            line.push(' ');
            let fitted = fit(value, *width);
            let padding = " ".repeat(width - fitted.width());
            if column.numeric {
                line.push_str(&padding);
                line.push_str(&fitted);
            } else {
                line.push_str(&fitted);
                line.push_str(&padding);
            }
            line.push_str(" │");
        }
        line.push('\n');
        out.write_all(line.as_bytes())
    }
}

impl Encoder for Table {
    fn header(&mut self, _out: &mut dyn Write, columns: &[Column]) -> io::Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = cells.iter().map(display_cell).collect();
        match &self.widths {
            Some(widths) => self.line(out, widths, &values),
            None => {
                self.sample.push(values);
                if self.sample.len() == SAMPLE_ROWS {
                    self.lay_out(out)?;
                }
                Ok(())
            }
        }
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        if self.widths.is_none() {
            self.lay_out(out)?;
        }
        let widths = self.widths.as_deref().unwrap_or_default();
        rule(out, widths, '└', '┴', '┘')
    }
}

fn rule(
    out: &mut dyn Write,
    widths: &[usize],
    left: char,
    middle: char,
    right: char,
) -> io::Result<()> {
    let segments: Vec<String> = widths.iter().map(|width| "─".repeat(width + 2)).collect();
    writeln!(out, "{left}{}{right}", segments.join(&middle.to_string()))
}

fn display_cell(cell: &Cell) -> String {
    let mut text = String::new();
    write_text(&mut text, cell);
    display_text(&text)
}

/// Control characters would break the table's lines: `\n`, `\r`, `\t` and `\xHH`.
fn display_text(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if c.is_control() => shown.push_str(&format!("\\x{:02X}", u32::from(c))),
            c => shown.push(c),
        }
    }
    shown
}

/// `value` if it fits in `width` terminal cells, else its start and `…`.
fn fit(value: &str, width: usize) -> String {
    if value.width() <= width {
        return value.to_string();
    }
    let mut fitted = String::new();
    let mut used = 0;
    for c in value.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        fitted.push(c);
        used += w;
    }
    fitted.push('…');
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Format;
    use crate::output::tests::render;

    fn text_column(name: &str) -> Column {
        Column {
            name: name.to_string(),
            type_name: "VARCHAR".to_string(),
            numeric: false,
        }
    }

    #[test]
    fn long_values_and_late_wide_rows_are_cut_with_an_ellipsis() {
        let columns = vec![text_column("v")];
        let mut rows: Vec<Vec<Cell>> = (0..SAMPLE_ROWS)
            .map(|_| vec![Cell::Text("abc".into())])
            .collect();
        rows.push(vec![Cell::Text("abcdef".into())]);
        rows.push(vec![Cell::Text("日本語".into())]);
        let table = render(Format::Table, &columns, &rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "┌─────┐");
        assert_eq!(lines[3], "│ abc │");
        assert_eq!(lines[SAMPLE_ROWS + 3], "│ ab… │");
        assert_eq!(lines[SAMPLE_ROWS + 4], "│ 日… │");
        assert_eq!(lines.len(), SAMPLE_ROWS + 6);

        let wide = render(
            Format::Table,
            &columns,
            &[vec![Cell::Text("x".repeat(100))]],
        );
        let expected = format!("│ {}… │", "x".repeat(MAX_WIDTH - 1));
        assert_eq!(wide.lines().nth(3).unwrap(), expected);
    }
}
