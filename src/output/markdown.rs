//! Output, formats: a GitHub-flavoured Markdown table, streamed row by row (so its
//! columns are not padded; Markdown renderers align them), and [`MarkdownDocument`],
//! prose with such tables (the daily `summary.md`).

use std::io::{self, Write};

use super::Encoder;
use super::cell_text::write_text;
use crate::value::{Cell, Column};

pub struct Markdown;

impl Encoder for Markdown {
    fn header(&mut self, out: &mut dyn Write, columns: &[Column]) -> io::Result<()> {
        if columns.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = columns.iter().map(|column| escape(&column.name)).collect();
        writeln!(out, "| {} |", names.join(" | "))?;
        let rules: Vec<&str> = columns
            .iter()
            .map(|column| if column.numeric { "--:" } else { "---" })
            .collect();
        writeln!(out, "|{}|", rules.join("|"))
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
        if cells.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        let fields: Vec<String> = cells
            .iter()
            .map(|cell| {
                text.clear();
                write_text(&mut text, cell);
                escape(&text)
            })
            .collect();
        writeln!(out, "| {} |", fields.join(" | "))
    }

    fn footer(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// A Markdown document built in order: a title and its lead paragraph, then sections
/// of bullet lists and tables. The report stage says what it holds; this says how
/// Markdown writes it.
#[derive(Debug, Clone)]
pub struct MarkdownDocument {
    text: String,
}

impl MarkdownDocument {
    /// `# title`, then the paragraph `lead`.
    pub fn new(title: &str, lead: &str) -> Self {
        MarkdownDocument {
            text: format!("# {title}\n\n{lead}\n"),
        }
    }

    /// A `## heading` starting a new section.
    pub fn section(&mut self, heading: &str) {
        self.text.push_str(&format!("\n## {heading}\n\n"));
    }

    /// One `- item` line per item.
    pub fn bullets(&mut self, items: &[String]) {
        for item in items {
            self.text.push_str(&format!("- {item}\n"));
        }
    }

    /// A table of `columns` and `rows`, as `--format markdown` prints it.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<Cell>]) {
        self.text.push_str(&super::render_to_string(
            super::Format::Markdown,
            columns,
            rows,
        ));
    }

    /// The document's text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// `|` would end the cell and a line break the row: `\|` and `<br>` keep them inside.
fn escape(value: &str) -> String {
    value
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
        .replace('|', "\\|")
}
