//! Output, formats: CSV (through the `csv` crate) and TSV, one line per row after a
//! header line. NULL is an empty field in both.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use super::Encoder;
use super::cell_text::write_text;
use crate::value::{Cell, Column};

/// RFC 4180 CSV: fields quoted only when they hold a comma, quote or line break.
pub struct Csv {
    writer: csv::Writer<Record>,
    /// What the writer encoded, to be copied out: the csv writer wants to own its
    /// output, and the sink owns the real one.
    record: Record,
}

/// A buffer shared between the csv writer and [`Csv`].
#[derive(Clone, Default)]
struct Record(Rc<RefCell<Vec<u8>>>);

impl Write for Record {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Csv {
    pub fn new() -> Self {
        let record = Record::default();
        Csv {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(record.clone()),
            record,
        }
    }

    fn record<'a>(
        &mut self,
        out: &mut dyn Write,
        fields: impl IntoIterator<Item = &'a str>,
    ) -> io::Result<()> {
        self.writer.write_record(fields).map_err(csv_to_io)?;
        self.writer.flush()?;
        let mut encoded = self.record.0.borrow_mut();
        out.write_all(&encoded)?;
        encoded.clear();
        Ok(())
    }
}

impl Encoder for Csv {
    fn header(&mut self, out: &mut dyn Write, columns: &[Column]) -> io::Result<()> {
        self.record(out, columns.iter().map(|column| column.name.as_str()))
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
        let fields: Vec<String> = cells.iter().map(field).collect();
        self.record(out, fields.iter().map(String::as_str))
    }

    fn footer(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

fn csv_to_io(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Tab-separated values; a tab, line break or backslash inside a value is written as
/// `\t`, `\n`, `\r` or `\\`, so every row is one line and every field one column.
pub struct Tsv;

impl Encoder for Tsv {
    fn header(&mut self, out: &mut dyn Write, columns: &[Column]) -> io::Result<()> {
        let names: Vec<String> = columns.iter().map(|column| escape(&column.name)).collect();
        writeln!(out, "{}", names.join("\t"))
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
        let fields: Vec<String> = cells.iter().map(|cell| escape(&field(cell))).collect();
        writeln!(out, "{}", fields.join("\t"))
    }

    fn footer(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\\' => escaped.push_str("\\\\"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A cell's text, NULL as nothing.
fn field(cell: &Cell) -> String {
    let mut text = String::new();
    if *cell != Cell::Null {
        write_text(&mut text, cell);
    }
    text
}
