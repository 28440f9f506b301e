//! Output: the edge of the last stage (store -> **report**), where results leave.
//!
//! The only module that decides between standard output and a file, and between a
//! table, CSV, TSV, JSON, JSON lines, Markdown and HTML. Commands hand it [`Column`]s
//! and rows of [`Cell`]s through a [`RowSink`]; every format streams, so a result of
//! any size is printed in bounded memory, and a file appears only once it is complete
//! (`staged`: a file or a whole folder, written under a hidden name and renamed). The
//! report stage plans a folder of reports ([`FolderPlan`]: each report's rows, its
//! [`MarkdownDocument`]s, JSON and page) and [`write_folder`] names, formats and
//! writes its files. Values print as DuckDB's text of them (`cell_text`).

pub mod cell_text;
mod delimited;
mod folder;
pub mod html;
mod json;
mod markdown;
mod staged;
mod table;

use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::problem::shown;
use crate::value::{Cell, Column, RowReceiver};
pub use folder::{FolderPlan, PAGE_FILE, write_folder};
pub use json::pretty as pretty_json;
pub use markdown::MarkdownDocument;
use staged::AtomicFile;
pub use staged::StagedFolder;

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns in a box, for reading in a terminal.
    Table,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// Tab-separated values with a header row; tab, newline, CR and `\` escaped as `\t`, `\n`, `\r`, `\\`.
    Tsv,
    /// One JSON array of objects, one object per line.
    Json,
    /// One JSON object per line (JSON lines).
    Jsonl,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

/// A format of the files `report daily` writes: each of [`Format`]'s file formats, one
/// file per report, or the one HTML page of them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Tsv,
    Json,
    Jsonl,
    Markdown,
    /// One page, `index.html`, with every report and its chart.
    Html,
}

impl FileFormat {
    /// The file name extension, which is also the name `--formats` takes.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Tsv => "tsv",
            FileFormat::Json => "json",
            FileFormat::Jsonl => "jsonl",
            FileFormat::Markdown => "md",
            FileFormat::Html => "html",
        }
    }

    /// The output format of each report's own file; `None` for the one HTML page.
    pub fn output_format(self) -> Option<Format> {
        match self {
            FileFormat::Csv => Some(Format::Csv),
            FileFormat::Tsv => Some(Format::Tsv),
            FileFormat::Json => Some(Format::Json),
            FileFormat::Jsonl => Some(Format::Jsonl),
            FileFormat::Markdown => Some(Format::Markdown),
            FileFormat::Html => None,
        }
    }
}

impl FromStr for FileFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "csv" => Ok(FileFormat::Csv),
            "tsv" => Ok(FileFormat::Tsv),
            "json" => Ok(FileFormat::Json),
            "jsonl" => Ok(FileFormat::Jsonl),
            "md" | "markdown" => Ok(FileFormat::Markdown),
            "html" => Ok(FileFormat::Html),
            other => Err(format!(
                "unknown format '{other}'; use csv, tsv, json, jsonl, md or html"
            )),
        }
    }
}

/// Where rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    /// Written beside it under a temporary name and renamed over it by
    /// [`RowSink::finish`], so the file is never seen half written.
    File(PathBuf),
}

/// Writing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader of standard output went away (`| head`): not a failure of ours.
    #[error("standard output was closed")]
    Closed,
    #[error("cannot write to standard output")]
    Stdout { source: io::Error },
    #[error("cannot write {}", shown(path))]
    File { path: PathBuf, source: io::Error },
    /// A report folder could not be staged or put in place.
    #[error("cannot write the report folder {}", shown(path))]
    Folder { path: PathBuf, source: io::Error },
    /// The output file would replace the archive, a file beside it that DuckDB reads
    /// as part of it, or a folder holding them.
    #[error(
        "refusing to write the result to {}: it is the archive {}, one of its WAL files, or \
         a folder holding them; write it to another file",
        shown(path),
        shown(archive)
    )]
    HitsArchive { path: PathBuf, archive: PathBuf },
}

impl OutputError {
    /// The reader went away: the command should stop quietly and exit 0.
    pub fn is_closed(&self) -> bool {
        matches!(self, OutputError::Closed)
    }
}

/// Receives a result and prints it: the columns once, then each row.
pub trait RowSink {
    fn begin(&mut self, columns: &[Column]) -> Result<(), OutputError>;
    fn row(&mut self, cells: &[Cell]) -> Result<(), OutputError>;
    /// Write what is left and, for a file, put it in place. A sink dropped without
    /// `finish` (because the query failed) leaves no file behind.
    fn finish(self: Box<Self>) -> Result<(), OutputError>;
}

/// Write `bytes` to the file `path`, which appears whole (written beside it under a
/// hidden name, made durable, renamed over it) or not at all.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let error = |source| OutputError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(error)?;
    file.writer.write_all(bytes).map_err(error)?;
    file.commit().map_err(error)
}

/// A sink printing `format` to `destination`; for a file, its temporary file is
/// created now, so an unwritable destination fails before any query runs.
pub fn open(format: Format, destination: &Destination) -> Result<Box<dyn RowSink>, OutputError> {
    let target =
        match destination {
            Destination::Stdout => Target::Stdout(BufWriter::new(io::stdout())),
            Destination::File(path) => Target::File(AtomicFile::create(path).map_err(
                |source| OutputError::File {
                    path: path.clone(),
                    source,
                },
            )?),
        };
    Ok(Box::new(Sink {
        encoder: encoder(format),
        target,
    }))
}

/// `columns` and `rows` printed in `format` into a string, for documents that embed a
/// small table (the daily summary) rather than stream a result.
pub fn render_to_string(format: Format, columns: &[Column], rows: &[Vec<Cell>]) -> String {
    let mut encoder = encoder(format);
    let mut out = Vec::new();
    let written = encoder.header(&mut out, columns).and_then(|()| {
        rows.iter()
            .try_for_each(|row| encoder.row(&mut out, row))
            .and_then(|()| encoder.footer(&mut out))
    });
    written.expect("writing to memory cannot fail");
    String::from_utf8(out).expect("every format writes UTF-8")
}

fn encoder(format: Format) -> Box<dyn Encoder> {
    match format {
        Format::Table => Box::new(table::Table::new()),
        Format::Csv => Box::new(delimited::Csv::new()),
        Format::Tsv => Box::new(delimited::Tsv),
        Format::Json => Box::new(json::Json::array()),
        Format::Jsonl => Box::new(json::Json::lines()),
        Format::Markdown => Box::new(markdown::Markdown),
    }
}

/// Lets [`crate::store::query::run_query`] stream straight into a sink.
impl RowReceiver for dyn RowSink + '_ {
    type Error = OutputError;

    fn columns(&mut self, columns: &[Column]) -> Result<(), OutputError> {
        self.begin(columns)
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), OutputError> {
        RowSink::row(self, cells)
    }
}

/// One format: turns columns and rows into bytes.
trait Encoder {
    fn header(&mut self, out: &mut dyn Write, columns: &[Column]) -> io::Result<()>;
    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> io::Result<()>;
    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

struct Sink {
    encoder: Box<dyn Encoder>,
    target: Target,
}

impl RowSink for Sink {
    fn begin(&mut self, columns: &[Column]) -> Result<(), OutputError> {
        let result = self.encoder.header(&mut self.target, columns);
        result.map_err(|error| self.target.error(error))
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), OutputError> {
        let result = self.encoder.row(&mut self.target, cells);
        result.map_err(|error| self.target.error(error))
    }

    fn finish(mut self: Box<Self>) -> Result<(), OutputError> {
        let result = self
            .encoder
            .footer(&mut self.target)
            .and_then(|()| self.target.commit());
        result.map_err(|error| self.target.error(error))
    }
}

enum Target {
    Stdout(BufWriter<Stdout>),
    File(AtomicFile),
}

impl Target {
    fn error(&self, source: io::Error) -> OutputError {
        match self {
            Target::Stdout(_) if source.kind() == io::ErrorKind::BrokenPipe => OutputError::Closed,
            Target::Stdout(_) => OutputError::Stdout { source },
            Target::File(file) => OutputError::File {
                path: file.path().to_path_buf(),
                source,
            },
        }
    }

    fn commit(&mut self) -> io::Result<()> {
        match self {
            Target::Stdout(stdout) => stdout.flush(),
            Target::File(file) => file.commit(),
        }
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::Stdout(stdout) => stdout.write(buf),
            Target::File(file) => file.writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Target::Stdout(stdout) => stdout.write_all(buf),
            Target::File(file) => file.writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::Stdout(stdout) => stdout.flush(),
            Target::File(file) => file.writer.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, numeric: bool) -> Column {
        Column::for_test(name, numeric)
    }

    /// Everything `format` prints for these columns and rows.
    pub(super) fn render(format: Format, columns: &[Column], rows: &[Vec<Cell>]) -> String {
        let mut encoder = encoder(format);
        let mut out = Vec::new();
        encoder.header(&mut out, columns).unwrap();
        for row in rows {
            encoder.row(&mut out, row).unwrap();
        }
        encoder.footer(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn awkward() -> (Vec<Column>, Vec<Vec<Cell>>) {
        let columns = vec![column("name", false), column("n", true)];
        let rows = vec![
            vec![
                Cell::Text("a,b \"q\"\nnext\tcol|pipe\\".into()),
                Cell::Int(-1),
            ],
            vec![Cell::Null, Cell::Null],
            vec![Cell::Text(String::new()), Cell::UHugeInt(u128::MAX)],
        ];
        (columns, rows)
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_leaves_null_empty() {
        let (columns, rows) = awkward();
        assert_eq!(
            render(Format::Csv, &columns, &rows),
            "name,n\n\"a,b \"\"q\"\"\nnext\tcol|pipe\\\",-1\n,\n,340282366920938463463374607431768211455\n"
        );
    }

    #[test]
    fn tsv_escapes_tabs_newlines_and_backslashes() {
        let (columns, rows) = awkward();
        assert_eq!(
            render(Format::Tsv, &columns, &rows),
            "name\tn\na,b \"q\"\\nnext\\tcol|pipe\\\\\t-1\n\t\n\t340282366920938463463374607431768211455\n"
        );
    }

    #[test]
    fn json_writes_nulls_numbers_and_huge_integers_as_strings() {
        let (columns, rows) = awkward();
        assert_eq!(
            render(Format::Jsonl, &columns, &rows),
            "{\"name\":\"a,b \\\"q\\\"\\nnext\\tcol|pipe\\\\\",\"n\":-1}\n\
             {\"name\":null,\"n\":null}\n\
             {\"name\":\"\",\"n\":\"340282366920938463463374607431768211455\"}\n"
        );
        assert_eq!(
            render(Format::Json, &columns, &rows[1..2]),
            "[\n{\"name\":null,\"n\":null}\n]\n"
        );
        assert_eq!(render(Format::Json, &columns, &[]), "[]\n");
    }

    #[test]
    fn json_embeds_json_values_and_nests_lists_structs_and_maps() {
        let columns = vec![
            column("j", false),
            column("bad", false),
            column("l", false),
            column("s", false),
            column("m", false),
            column("x", false),
        ];
        let rows = vec![vec![
            Cell::Json("{\"z\": 1,\n \"a\": [1, \"x y\"]}".into()),
            Cell::Json("{not json".into()),
            Cell::List(vec![Cell::Int(1), Cell::Null, Cell::Timestamp(0)]),
            Cell::Struct(vec![("k".into(), Cell::Double(f64::NAN))]),
            Cell::Map(vec![(Cell::Int(7), Cell::Decimal("1.50".into()))]),
            Cell::Blob(vec![0, b'a']),
        ]];
        assert_eq!(
            render(Format::Jsonl, &columns, &rows),
            "{\"j\":{\"z\":1,\"a\":[1,\"x y\"]},\"bad\":\"{not json\",\"l\":[1,null,\"1970-01-01 00:00:00\"],\
             \"s\":{\"k\":\"nan\"},\"m\":{\"7\":\"1.50\"},\"x\":\"\\\\x00a\"}\n"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_line_breaks() {
        let (columns, rows) = awkward();
        assert_eq!(
            render(Format::Markdown, &columns, &rows),
            "| name | n |\n\
             |---|--:|\n\
             | a,b \"q\"<br>next\tcol\\|pipe\\ | -1 |\n\
             | NULL | NULL |\n\
             |  | 340282366920938463463374607431768211455 |\n"
        );
    }

    #[test]
    fn table_aligns_numbers_right_and_shows_escapes() {
        let (columns, rows) = awkward();
        assert_eq!(
            render(Format::Table, &columns, &rows),
            "\
┌──────────────────────────┬─────────────────────────────────────────┐
│ name                     │                                       n │
├──────────────────────────┼─────────────────────────────────────────┤
│ a,b \"q\"\\nnext\\tcol|pipe\\ │                                      -1 │
│ NULL                     │                                    NULL │
│                          │ 340282366920938463463374607431768211455 │
└──────────────────────────┴─────────────────────────────────────────┘
"
        );
    }

    #[test]
    fn table_of_no_rows_is_just_the_header() {
        let columns = vec![column("origin", false), column("n", true)];
        assert_eq!(
            render(Format::Table, &columns, &[]),
            "┌────────┬───┐\n│ origin │ n │\n└────────┴───┘\n"
        );
    }
}
