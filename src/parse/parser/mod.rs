//! Parse, step 2: the streaming reader. Turns quick-xml events into postbacks,
//! repairing what can be repaired and recording the rest as problems.
//!
//! Its work and memory stay in proportion to the text, whatever the text holds (see
//! `limits`): elements nest at most [`MAX_DEPTH`] deep, fields are named by paths of
//! at most [`MAX_PATH_BYTES`], one element gathers at most [`MAX_FIELDS`] fields and a
//! tag at most [`MAX_ATTRIBUTES`] attributes (past each limit the reader skips to the
//! next `<POSTBACK`, see `recover`); rereading after syntax errors and the memory of
//! fields are budgeted ([`SCAN_FACTOR`], [`FIELD_MEMORY_FACTOR`]).

mod limits;
mod recover;

use std::borrow::Cow;
use std::ops::ControlFlow;

use quick_xml::events::{BytesRef, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;

use super::attributes::{self, MAX_ATTRIBUTES};
use super::lines::LineCounter;
use super::{Field, ParsedFile, RawPostback, excerpt};
use crate::problem::{MAX_PROBLEMS_PER_FILE, Position, Problem, ProblemKind};
use limits::{FIELD_SIZE, ReaderOpenTags};

pub use limits::{
    FIELD_MEMORY_FACTOR, FIELD_MEMORY_SLACK, MAX_DEPTH, MAX_FIELDS, MAX_PATH_BYTES, SCAN_FACTOR,
    SCAN_SLACK,
};

/// Read every postback in `text`.
pub fn parse_text(text: &str) -> ParsedFile<'_> {
    let mut parser = Parser::new(text);
    parser.run();
    parser.out
}

/// Element names that hold other elements; `<X><X>` is read as `<X></X>` for any other name.
const CONTAINERS: [&str; 4] = ["POSTBACK", "POSTBACKS", "NOTIFICATION", "CONTENT"];

/// An element that is open while streaming.
struct Frame<'t> {
    name: &'t str,
    position: Position,
    attributes: Vec<Field<'t>>,
    text: Cow<'t, str>,
    fields: Vec<Field<'t>>,
    has_children: bool,
    holds_postback: bool,
    /// Whether one of `fields` is `ORIGIN` (kept so that no check rescans the fields).
    has_origin: bool,
}

impl<'t> Frame<'t> {
    fn is_postback(&self) -> bool {
        self.has_origin || (self.name.eq_ignore_ascii_case("POSTBACK") && !self.fields.is_empty())
    }

    /// Whether this element holds (or is) a postback as far as it is read, so that its
    /// fields are named from here.
    fn may_be_postback(&self) -> bool {
        self.has_origin
            || self.name.eq_ignore_ascii_case("POSTBACK")
            || self.name.eq_ignore_ascii_case("NOTIFICATION")
    }

    fn push_field(&mut self, field: Field<'t>) {
        self.has_origin |= field.name == "ORIGIN";
        self.fields.push(field);
    }
}

struct Parser<'t> {
    text: &'t str,
    lines: LineCounter<'t>,
    stack: Vec<Frame<'t>>,
    out: ParsedFile<'t>,
    /// Set when the document turns out to be HTML; parsing stops there.
    html: bool,
    /// Offset of the last `>` in the text: no tag can end after it.
    last_tag_end: Option<usize>,
    /// Bytes the XML readers went through, resumes included (see [`SCAN_FACTOR`]).
    scanned: usize,
    /// Memory taken by fields so far, counted as they are made (see
    /// [`FIELD_MEMORY_FACTOR`]).
    field_memory: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            text,
            lines: LineCounter::new(text),
            stack: Vec::new(),
            out: ParsedFile::default(),
            html: false,
            last_tag_end: memchr::memrchr(b'>', text.as_bytes()),
            scanned: 0,
            field_memory: 0,
        }
    }

    fn run(&mut self) {
        let budget = self
            .text
            .len()
            .saturating_mul(SCAN_FACTOR)
            .saturating_add(SCAN_SLACK);
        let mut base = 0;
        while let Some(resume) = self.read_from(base) {
            if self.scanned > budget {
                let why = "too many syntax errors that leave markup open to the end of the file";
                self.give_up(resume, why);
                break;
            }
            base = resume;
        }
        self.out.steps = self.out.steps.saturating_add(self.scanned as u64);
        self.at_end();
    }

    /// Reads events from `base` to the end; after a syntax error, or markup past a
    /// limit, returns where to resume.
    fn read_from(&mut self, base: usize) -> Option<usize> {
        // `base` is where the text starts with `<` or blanks (decoding made sure), the
        // `<` of a `<POSTBACK`, or the end of a tag: never a byte-order mark, which
        // quick-xml would drop without counting it in its positions.
        let mut reader = lenient_reader(self.text.get(base..)?);
        let offset =
            |position: u64| base.saturating_add(usize::try_from(position).unwrap_or(usize::MAX));
        let mut reader_open = ReaderOpenTags::default();
        let resume = loop {
            if self.html {
                break None;
            }
            let start = offset(reader.buffer_position());
            let event = match reader.read_event() {
                Ok(Event::Eof) => break None,
                Ok(event) => event,
                Err(error) => break self.recover(&error, offset(reader.error_position())),
            };
            reader_open.track(&event);
            if let ControlFlow::Break(resume) = self.on_event(event, start) {
                break resume;
            }
            let here = offset(reader.buffer_position());
            if let ControlFlow::Break(resume) = self.between_events(&reader_open, here) {
                break resume;
            }
        };
        let read = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        self.scanned = self.scanned.saturating_add(read);
        resume
    }

    /// Handles one event; breaks with where to resume when the rest of the postback
    /// being read has to be skipped.
    fn on_event(&mut self, event: Event<'t>, start: usize) -> ControlFlow<Option<usize>> {
        match event {
            Event::Start(e) => {
                if let Some(name) = self.name_at(start, e.name()) {
                    return self.open(name, e.attributes_raw(), start);
                }
            }
            Event::Empty(e) => {
                if let Some(name) = self.name_at(start, e.name()) {
                    self.open(name, e.attributes_raw(), start)?;
                    if !self.html {
                        self.close_top();
                    }
                }
            }
            Event::End(e) => self.close_named(e.name().as_ref(), start),
            Event::Text(e) => {
                let content = e.xml10_content();
                if self.stack.is_empty() && !content.trim().is_empty() {
                    let leading_space = e.len() - e.trim_start().len();
                    let position = self.lines.locate(start + leading_space);
                    self.report(ProblemKind::StrayContent, position, || {
                        format!("text outside any element: {}", excerpt(content.trim(), 60))
                    });
                } else if content.contains('&') {
                    let place = self.where_();
                    self.salvaged(start, || format!("a bare '&' in {place} kept as text"));
                }
                self.append_text(content);
            }
            Event::CData(e) => self.append_text(e.xml10_content()),
            Event::GeneralRef(e) => self.append_reference(&e, start),
            Event::DocType(e) if e.trim().eq_ignore_ascii_case("html") => {
                self.found_html(start, "html")
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) | Event::Eof => {}
        }
        ControlFlow::Continue(())
    }

    /// The element name of the tag whose `<` is at `start`, borrowed from the text (the
    /// event only lends it for its own lifetime). Should the reader ever report a tag
    /// elsewhere, the tag is skipped and reported rather than misread.
    fn name_at(&mut self, start: usize, name: QName<'_>) -> Option<&'t str> {
        let text = self.text;
        let name = name.as_ref();
        let from = start.saturating_add(1);
        let borrowed = text.get(from..from.saturating_add(name.len()));
        if let Some(borrowed) = borrowed.filter(|b| *b == name) {
            return Some(borrowed);
        }
        let message = format!(
            "the start tag <{}> could not be placed; skipped",
            excerpt_name(name)
        );
        self.malformed(start, message);
        None
    }

    fn open(
        &mut self,
        name: &'t str,
        raw_attributes: &str,
        start: usize,
    ) -> ControlFlow<Option<usize>> {
        let position = self.lines.locate(start);
        if self.stack.is_empty() && name.eq_ignore_ascii_case("html") {
            self.found_html(start, name);
            return ControlFlow::Continue(());
        }
        if self.read_doubled_as_empty(name, raw_attributes, position) {
            return ControlFlow::Continue(());
        }
        self.close_unclosed_leaf(name);
        self.check_limits(name, start)?;
        let attributes = match self.read_attributes(name, raw_attributes, start, position) {
            Ok(attributes) => attributes,
            Err(resume) => return ControlFlow::Break(resume),
        };
        if let Some(parent) = self.stack.last_mut() {
            // Checked at the first child only: after it, blank text is not gathered, and
            // trimming again for every child would rescan long leading blanks.
            if !parent.has_children && parent.text.trim().is_empty() {
                parent.text = Cow::Borrowed("");
            }
            parent.has_children = true;
        }
        self.stack.push(Frame {
            name,
            position,
            attributes,
            text: Cow::Borrowed(""),
            fields: Vec::new(),
            has_children: false,
            holds_postback: false,
            has_origin: false,
        });
        ControlFlow::Continue(())
    }

    /// The attributes of the start tag of `name`, or, when it has too many, where to
    /// resume reading (the tag and its postback are skipped).
    fn read_attributes(
        &mut self,
        name: &str,
        raw_attributes: &str,
        start: usize,
        position: Position,
    ) -> Result<Vec<Field<'t>>, Option<usize>> {
        if raw_attributes.trim().is_empty() {
            return Ok(Vec::new());
        }
        let parsed = attributes::parse_attributes(raw_attributes);
        if parsed.too_many {
            let message = format!(
                "<{}> has more than {MAX_ATTRIBUTES} attributes",
                excerpt_name(name)
            );
            return Err(self.skip_to_next_postback(ProblemKind::MalformedXml, start, message));
        }
        if let Some(repair) = parsed.repair {
            self.report(ProblemKind::Salvaged, position, || repair);
        }
        let owned: usize = (parsed.attributes.iter())
            .map(|a| FIELD_SIZE + a.name.len() + a.value.len())
            .sum();
        self.field_memory += owned;
        Ok(parsed.attributes)
    }

    /// An end tag: closes its element, and any element left open inside it.
    fn close_named(&mut self, name: &str, start: usize) {
        let Some(index) = self.stack.iter().rposition(|f| f.name == name) else {
            return self.malformed_with(start, || {
                format!(
                    "closing tag </{}> has no matching start tag; ignored",
                    excerpt_name(name)
                )
            });
        };
        while self.stack.len() > index + 1 {
            self.close_unclosed(|| format!("closed by </{}>", excerpt_name(name)));
        }
        self.close_top();
    }

    /// `<X><X>` with nothing between (the platform's doubled `<FROM_MASK>`): read as an
    /// empty `<X/>`. Returns whether the start tag was taken so.
    fn read_doubled_as_empty(&mut self, name: &str, raw_attributes: &str, at: Position) -> bool {
        let doubled =
            self.stack.last().is_some_and(|top| {
                top.name == name && !top.has_children && top.text.trim().is_empty()
            }) && raw_attributes.trim().is_empty()
                && !is_container(name);
        if doubled {
            self.report(ProblemKind::Salvaged, at, || {
                let name = excerpt_name(name);
                format!("<{name}><{name}> read as an empty <{name}></{name}>")
            });
            self.close_top();
        }
        doubled
    }

    /// Postbacks have no mixed content: a field that holds text when an element starts
    /// was left unclosed, and the new element (`next`) is its sibling.
    fn close_unclosed_leaf(&mut self, next: &str) {
        let unclosed = self.stack.last().is_some_and(|top| {
            !top.has_children && !top.text.trim().is_empty() && !is_container(top.name)
        });
        if unclosed {
            self.close_unclosed(|| format!("closed before <{}>", excerpt_name(next)));
        }
    }

    /// Close the innermost element, which was never closed, and record how.
    fn close_unclosed(&mut self, how: impl FnOnce() -> String) {
        let Some(top) = self.stack.last() else {
            return;
        };
        let (name, position) = (top.name, top.position);
        self.report(ProblemKind::Salvaged, position, || {
            format!(
                "<{}> opened at line {} was never closed; {}",
                excerpt_name(name),
                position.line,
                how()
            )
        });
        self.close_top();
    }

    fn close_top(&mut self) {
        let Some(mut frame) = self.stack.pop() else {
            return;
        };
        if !frame.has_children {
            return self.close_leaf(frame);
        }
        let stray_text = frame.text.trim();
        if !stray_text.is_empty() {
            let text = stray_text.to_string();
            self.field_memory += FIELD_SIZE + text.len();
            frame.push_field(Field::new("#text", text));
        }
        if frame.is_postback() {
            self.emit(frame);
        } else if frame.holds_postback {
            self.report_stray_fields(&frame);
        } else if let Some(parent) = self.stack.last_mut() {
            let prefix = if frame.name.eq_ignore_ascii_case("NOTIFICATION") {
                String::new()
            } else {
                format!("{}/", frame.name)
            };
            let mut named = 0;
            for attribute in frame.attributes {
                let name = format!("{prefix}@{}", attribute.name);
                named += FIELD_SIZE + name.len();
                parent.push_field(Field::new(name, attribute.value));
            }
            for field in frame.fields {
                let name = format!("{prefix}{}", field.name);
                named += FIELD_SIZE + name.len();
                parent.push_field(Field::new(name, field.value));
            }
            self.field_memory += named;
        }
    }

    fn close_leaf(&mut self, frame: Frame<'t>) {
        let Some(parent) = self.stack.last_mut() else {
            return;
        };
        let mut made = 0;
        for attribute in frame.attributes {
            let name = format!("{}/@{}", frame.name, attribute.name);
            made += FIELD_SIZE + name.len();
            parent.push_field(Field::new(name, attribute.value));
        }
        if let Cow::Owned(text) = &frame.text {
            made += text.len();
        }
        parent.push_field(Field {
            name: Cow::Borrowed(frame.name),
            value: frame.text,
        });
        self.field_memory += FIELD_SIZE + made;
    }

    fn emit(&mut self, frame: Frame<'t>) {
        let mut attributes = frame.attributes;
        if let Some(parent) = self.stack.last_mut() {
            parent.holds_postback = true;
            // `<POSTBACK xmlns:…><NOTIFICATION>…`: the wrapper's attributes belong to
            // the one postback it wraps.
            if parent.name.eq_ignore_ascii_case("POSTBACK") && !parent.attributes.is_empty() {
                let mut inherited = std::mem::take(&mut parent.attributes);
                inherited.append(&mut attributes);
                attributes = inherited;
            }
        }
        let ordinal = u32::try_from(self.out.postbacks.len() + 1).unwrap_or(u32::MAX);
        self.out.postbacks.push(RawPostback {
            ordinal,
            position: frame.position,
            attributes,
            fields: frame.fields,
        });
    }

    /// A wrapper's own fields (a bundle's `<COUNT>`): reported with the first few of
    /// them, so that nothing is dropped unsaid and the message stays short.
    fn report_stray_fields(&mut self, wrapper: &Frame<'_>) {
        const LISTED: usize = 10;
        if wrapper.fields.is_empty() {
            return;
        }
        self.report(ProblemKind::StrayContent, wrapper.position, || {
            let mut listed: Vec<String> = wrapper
                .fields
                .iter()
                .take(LISTED)
                .map(|f| format!("{}={}", excerpt_name(&f.name), excerpt(&f.value, 60)))
                .collect();
            if wrapper.fields.len() > LISTED {
                listed.push(format!("and {} more", wrapper.fields.len() - LISTED));
            }
            format!(
                "content of <{}> outside any postback: {}",
                excerpt_name(wrapper.name),
                listed.join(", ")
            )
        });
    }

    fn append_text(&mut self, content: Cow<'t, str>) {
        match self.stack.last_mut() {
            Some(top) if !(top.has_children && content.trim().is_empty()) => {
                if top.text.is_empty() {
                    top.text = content;
                } else {
                    top.text.to_mut().push_str(&content);
                }
            }
            _ => {}
        }
    }

    /// `&amp;`, `&#8211;` and friends; an unknown entity is kept as written.
    fn append_reference(&mut self, reference: &BytesRef<'_>, start: usize) {
        let name: &str = reference;
        let resolved = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => reference.resolve_char_ref().ok().flatten(),
        };
        match resolved {
            Some(c) => self.append_text(Cow::Owned(c.to_string())),
            None => {
                let place = self.where_();
                self.salvaged(start, || {
                    format!(
                        "unknown entity &{}; in {place} kept as text",
                        excerpt_name(name)
                    )
                });
                self.append_text(Cow::Owned(format!("&{name};")));
            }
        }
    }

    /// The innermost open element, for a message; empty once messages are no longer
    /// kept (see [`Parser::report`]).
    fn where_(&self) -> String {
        if self.out.problems.len() >= MAX_PROBLEMS_PER_FILE {
            return String::new();
        }
        self.stack.last().map_or_else(
            || "the document".to_string(),
            |f| format!("<{}>", excerpt_name(f.name)),
        )
    }

    /// Record a problem. The message is only written while the file's problems are
    /// still kept in full: past the cap they are only counted, and a hostile file can
    /// make millions of them.
    fn report(&mut self, kind: ProblemKind, position: Position, message: impl FnOnce() -> String) {
        let message = if self.out.problems.len() < MAX_PROBLEMS_PER_FILE {
            message()
        } else {
            String::new()
        };
        self.out
            .problems
            .push(Problem::new(kind, position, message));
    }

    fn salvaged(&mut self, start: usize, message: impl FnOnce() -> String) {
        let position = self.lines.locate(start);
        self.report(ProblemKind::Salvaged, position, message);
    }

    fn malformed(&mut self, at: usize, message: String) {
        self.malformed_with(at, || message);
    }

    fn malformed_with(&mut self, at: usize, message: impl FnOnce() -> String) {
        let position = self.lines.locate(at);
        self.report(ProblemKind::MalformedXml, position, message);
    }

    fn found_html(&mut self, start: usize, name: &str) {
        self.html = true;
        let position = self.lines.locate(start);
        let message = format!("an HTML page (<{}>), not a postback", excerpt_name(name));
        self.report(ProblemKind::NotXml, position, || message);
    }
}

/// A quick-xml reader that lets the parser repair what it can: end tags need not match,
/// and a bare `&` is text.
fn lenient_reader(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    reader
}

pub(super) fn is_container(name: &str) -> bool {
    CONTAINERS.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// An element or entity name as shown in a message: cut short when it is long.
fn excerpt_name(name: &str) -> Cow<'_, str> {
    const SHOWN: usize = 60;
    match name.char_indices().nth(SHOWN) {
        Some((end, _)) => Cow::Owned(format!("{}…", name.get(..end).unwrap_or(name))),
        None => Cow::Borrowed(name),
    }
}
