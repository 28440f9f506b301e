//! Output, formats: JSON (one array, an object per line) and JSON lines (an object
//! per line). Numbers are numbers, but 128-bit integers and decimals are strings, as
//! in the DuckDB CLI: JavaScript would round them. Lists (and `ROW(...)` values) are
//! arrays, structs and maps objects, values of JSON columns JSON; every other value
//! is its DuckDB text. [`pretty`] writes the daily folder's own JSON documents.

use std::io::{self, Write};

use super::Encoder;
use super::cell_text::{is_number, is_unnamed, write_text};
use crate::value::{Cell, Column};

/// `value` as indented JSON ending in a newline, as the summary and manifest files are
/// written.
pub fn pretty(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("plain data serializes");
    text.push('\n');
    text
}

pub struct Json {
    /// Wrap the objects in `[` `]`, one per line, separated by commas.
    array: bool,
    rows: u64,
    /// Each column's name, already a JSON string with its colon: `"origin":`.
    keys: Vec<String>,
    line: String,
}

impl Json {
    pub fn array() -> Self {
        Json::new(true)
    }

    pub fn lines() -> Self {
        Json::new(false)
    }

    fn new(array: bool) -> Self {
        Json {
            array,
            rows: 0,
            keys: Vec::new(),
            line: String::new(),
        }
    }
}

impl Encoder for Json {
    fn header(&mut self, _out: &mut dyn Write, columns: &[Column]) -> io::Result<()> {
        self.keys = columns
            .iter()
            .map(|column| {
                let mut key = String::new();
                write_string(&mut key, &column.name);
                key.push(':');
                key
            })
            .collect();
        Ok(())
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
        self.line.clear();
        if self.array {
            self.line
                .push_str(if self.rows == 0 { "[\n" } else { ",\n" });
        }
        self.line.push('{');
        for (index, (key, cell)) in self.keys.iter().zip(cells).enumerate() {
            if index > 0 {
                self.line.push(',');
            }
            self.line.push_str(key);
            write_value(&mut self.line, cell);
        }
        self.line.push('}');
        if !self.array {
            self.line.push('\n');
        }
        self.rows += 1;
        out.write_all(self.line.as_bytes())
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match (self.array, self.rows) {
            (false, _) => Ok(()),
            (true, 0) => out.write_all(b"[]\n"),
            (true, _) => out.write_all(b"\n]\n"),
        }
    }
}

fn write_value(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => out.push_str("null"),
        Cell::Bool(_) => write_text(out, cell),
        number if is_number(number) => write_text(out, number),
        Cell::Json(json) if serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok() => {
            write_minified(out, json)
        }
        Cell::Struct(fields) if is_unnamed(fields) => {
            let values: Vec<Cell> = fields.iter().map(|(_, value)| value.clone()).collect();
            write_value(out, &Cell::List(values));
        }
        Cell::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Cell::Struct(fields) => {
            out.push('{');
            for (index, (name, value)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, value);
            }
            out.push('}');
        }
        Cell::Map(entries) => {
            out.push('{');
            for (index, (key, value)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                let mut key_text = String::new();
                write_text(&mut key_text, key);
                write_string(out, &key_text);
                out.push(':');
                write_value(out, value);
            }
            out.push('}');
        }
        other => {
            let mut text = String::new();
            write_text(&mut text, other);
            write_string(out, &text);
        }
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).expect("a string serializes"));
}

/// Valid JSON without the whitespace between tokens, so that a JSON lines row stays
/// on one line; strings and key order are kept as stored.
fn write_minified(out: &mut String, json: &str) {
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
}
