//! Parse: the second stage (discover -> **parse** -> normalize -> store -> report).
//!
//! Streams one file's text through quick-xml and returns every postback in it as
//! ordered name/value fields, plus the problems found. Pure: bytes in, records out.
//!
//! What counts as a postback: an element that directly holds an `<ORIGIN>` field, or a
//! `<POSTBACK>` element with fields. So one `<POSTBACK>`, a bundle under any wrapper
//! element, several concatenated documents, and fields wrapped in `<NOTIFICATION>`
//! (MMS MO) all come out the same way. Nested groups such as `<CONTENT><FILE>…` become
//! fields named by their path (`CONTENT/FILE`).

mod attributes;
mod decode;
mod lines;
mod parser;

use std::borrow::Cow;

pub use attributes::MAX_ATTRIBUTES;
pub use parser::{
    FIELD_MEMORY_FACTOR, FIELD_MEMORY_SLACK, MAX_DEPTH, MAX_FIELDS, MAX_PATH_BYTES, SCAN_FACTOR,
    SCAN_SLACK,
};

use crate::problem::{Position, Problems};

/// One named value of a postback: a leaf element (`STATUS`), a nested leaf
/// (`CONTENT/FILE`), an attribute (`@xmlns:xsi`, `FILE/@type`), or stray text (`#text`).
/// Names and values borrow from the file's text where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'t> {
    pub name: Cow<'t, str>,
    pub value: Cow<'t, str>,
}

impl<'t> Field<'t> {
    pub fn new(name: impl Into<Cow<'t, str>>, value: impl Into<Cow<'t, str>>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
        }
    }

    fn into_owned(self) -> Field<'static> {
        Field::new(self.name.into_owned(), self.value.into_owned())
    }
}

/// A postback as written in the file, before any interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPostback<'t> {
    /// 1-based place of this postback among the postbacks of its file.
    pub ordinal: u32,
    /// Where its start tag is.
    pub position: Position,
    /// Attributes of the postback element itself.
    pub attributes: Vec<Field<'t>>,
    /// Fields in document order; values exactly as written, entities resolved.
    pub fields: Vec<Field<'t>>,
}

impl RawPostback<'_> {
    /// The same postback, no longer borrowing from the file's text.
    pub fn into_owned(self) -> RawPostback<'static> {
        RawPostback {
            ordinal: self.ordinal,
            position: self.position,
            attributes: self.attributes.into_iter().map(Field::into_owned).collect(),
            fields: self.fields.into_iter().map(Field::into_owned).collect(),
        }
    }
}

/// Everything one file yielded.
#[derive(Debug, Default)]
pub struct ParsedFile<'t> {
    pub postbacks: Vec<RawPostback<'t>>,
    /// Capped: a hostile file cannot make the parser hold millions of them.
    pub problems: Problems,
    /// The parser's work: the bytes its XML readers went through (resumes after
    /// errors included) and the bytes searched for a place to resume. Whatever the
    /// text holds, it stays within `(SCAN_FACTOR + 2)` times the text's length plus
    /// [`SCAN_SLACK`] (see [`SCAN_FACTOR`]); the fuzzer checks that.
    pub steps: u64,
}

/// `text` quoted for a message (as Rust's `{:?}` writes it, control characters
/// escaped), cut after `max_chars` characters with its full length said, so that one
/// huge value cannot make a huge message.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => format!("{text:?}"),
        Some((end, _)) => format!(
            "{:?}… ({} bytes)",
            text.get(..end).unwrap_or(""),
            text.len()
        ),
    }
}

/// Parse one file's (decompressed) bytes and hand what it holds to `use_parsed`.
/// The fields borrow from the decoded text, which lives only during the call,
/// so a postback costs no allocation per field unless its text needs unescaping.
pub fn parse_file_with<R>(bytes: &[u8], use_parsed: impl FnOnce(ParsedFile<'_>) -> R) -> R {
    match decode::decode(bytes) {
        Ok(decoded) => {
            let mut parsed = parser::parse_text(&decoded.text);
            let mut problems = Problems::from_iter(decoded.problem);
            problems.absorb(std::mem::take(&mut parsed.problems));
            parsed.problems = problems;
            use_parsed(parsed)
        }
        Err(problem) => use_parsed(ParsedFile {
            postbacks: Vec::new(),
            problems: Problems::from_iter([problem]),
            steps: 0,
        }),
    }
}

/// Parse one file's bytes into records that own their text.
pub fn parse_file(bytes: &[u8]) -> ParsedFile<'static> {
    parse_file_with(bytes, |parsed| ParsedFile {
        postbacks: parsed
            .postbacks
            .into_iter()
            .map(RawPostback::into_owned)
            .collect(),
        problems: parsed.problems,
        steps: parsed.steps,
    })
}

#[cfg(test)]
mod tests;
