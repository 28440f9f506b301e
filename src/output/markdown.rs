//! Output, formats: a GitHub-flavoured Markdown table, streamed row by row (so its
//! columns are not padded; Markdown renderers align them).

use std::io::{self, Write};

use super::Encoder;
use super::text::write_text;
use crate::store::query::{Cell, Column};

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

/// `|` would end the cell and a line break the row: `\|` and `<br>` keep them inside.
fn escape(value: &str) -> String {
    value
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
        .replace('|', "\\|")
}
