//! Parse, step 2: the streaming reader. Turns quick-xml events into postbacks,
//! repairing what can be repaired and recording the rest as problems.

use std::borrow::Cow;

use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesRef, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;

use super::attributes;
use super::lines::LineCounter;
use super::{Field, ParsedFile, RawPostback};
use crate::problem::{Position, Problem, ProblemKind};

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
}

impl Frame<'_> {
    fn is_postback(&self) -> bool {
        self.fields.iter().any(|f| f.name == "ORIGIN")
            || (self.name.eq_ignore_ascii_case("POSTBACK") && !self.fields.is_empty())
    }
}

struct Parser<'t> {
    text: &'t str,
    lines: LineCounter<'t>,
    stack: Vec<Frame<'t>>,
    out: ParsedFile<'t>,
    /// Set when the document turns out to be HTML; parsing stops there.
    html: bool,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            text,
            lines: LineCounter::new(text),
            stack: Vec::new(),
            out: ParsedFile::default(),
            html: false,
        }
    }

    fn run(&mut self) {
        let mut base = 0;
        while let Some(resume) = self.read_from(base) {
            base = resume;
        }
        self.at_end();
    }

    /// Reads events from `base` to the end; after a syntax error, returns where to resume.
    fn read_from(&mut self, base: usize) -> Option<usize> {
        let text = self.text;
        let mut reader = Reader::from_str(&text[base..]);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.allow_dangling_amp = true;
        while !self.html {
            let start = base + reader.buffer_position() as usize;
            match reader.read_event() {
                Ok(Event::Eof) => return None,
                Ok(event) => self.on_event(event, start),
                Err(error) => {
                    let at = base + reader.error_position() as usize;
                    return self.recover(&error, at);
                }
            }
        }
        None
    }

    fn on_event(&mut self, event: Event<'t>, start: usize) {
        match event {
            Event::Start(e) => {
                self.open(self.name_at(start + 1, e.name()), e.attributes_raw(), start)
            }
            Event::Empty(e) => {
                self.open(self.name_at(start + 1, e.name()), e.attributes_raw(), start);
                if !self.html {
                    self.close_top();
                }
            }
            Event::End(e) => self.close_named(e.name().as_ref(), start),
            Event::Text(e) => {
                let content = e.xml10_content();
                if self.stack.is_empty() && !content.trim().is_empty() {
                    let start_text: String = content.trim().chars().take(60).collect();
                    let leading_space = e.len() - e.trim_start().len();
                    let position = self.lines.locate(start + leading_space);
                    let message = format!("text outside any element: {start_text:?}");
                    self.out.problems.push(Problem::new(
                        ProblemKind::StrayContent,
                        position,
                        message,
                    ));
                } else if content.contains('&') {
                    self.salvaged(
                        start,
                        format!("a bare '&' in {} kept as text", self.where_()),
                    );
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
    }

    /// The element name that starts at `offset`, borrowed from the text (the event
    /// only lends it for its own lifetime).
    fn name_at(&self, offset: usize, name: QName<'_>) -> &'t str {
        let text = self.text;
        let name = name.as_ref();
        match text.get(offset..offset + name.len()) {
            Some(borrowed) if borrowed == name => borrowed,
            _ => unreachable!("a start tag's name follows its '<'"),
        }
    }

    fn open(&mut self, name: &'t str, raw_attributes: &str, start: usize) {
        let position = self.lines.locate(start);
        if self.stack.is_empty() && name.eq_ignore_ascii_case("html") {
            return self.found_html(start, name);
        }
        if self.read_doubled_as_empty(name, raw_attributes, position) {
            return;
        }
        self.close_unclosed_leaf(name);
        if let Some(parent) = self.stack.last_mut() {
            parent.has_children = true;
            if parent.text.trim().is_empty() {
                parent.text = Cow::Borrowed("");
            }
        }
        let mut attributes = Vec::new();
        if !raw_attributes.trim().is_empty() {
            let parsed = attributes::parse_attributes(raw_attributes);
            if let Some(repair) = parsed.repair {
                self.out
                    .problems
                    .push(Problem::new(ProblemKind::Salvaged, position, repair));
            }
            attributes = parsed.attributes;
        }
        self.stack.push(Frame {
            name,
            position,
            attributes,
            text: Cow::Borrowed(""),
            fields: Vec::new(),
            has_children: false,
            holds_postback: false,
        });
    }

    /// An end tag: closes its element, and any element left open inside it.
    fn close_named(&mut self, name: &str, start: usize) {
        let Some(index) = self.stack.iter().rposition(|f| f.name == name) else {
            let message = format!("closing tag </{name}> has no matching start tag; ignored");
            return self.malformed(start, message);
        };
        while self.stack.len() > index + 1 {
            self.close_unclosed(&format!("closed by </{name}>"));
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
            let message = format!("<{name}><{name}> read as an empty <{name}></{name}>");
            self.out
                .problems
                .push(Problem::new(ProblemKind::Salvaged, at, message));
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
            self.close_unclosed(&format!("closed before <{next}>"));
        }
    }

    /// Close the innermost element, which was never closed, and record how.
    fn close_unclosed(&mut self, how: &str) {
        let Some(top) = self.stack.last() else {
            return;
        };
        let message = format!(
            "<{}> opened at line {} was never closed; {how}",
            top.name, top.position.line
        );
        let position = top.position;
        self.out
            .problems
            .push(Problem::new(ProblemKind::Salvaged, position, message));
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
            frame.fields.push(Field::new("#text", text));
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
            for attribute in frame.attributes {
                parent.fields.push(Field::new(
                    format!("{prefix}@{}", attribute.name),
                    attribute.value,
                ));
            }
            for field in frame.fields {
                parent
                    .fields
                    .push(Field::new(format!("{prefix}{}", field.name), field.value));
            }
        }
    }

    fn close_leaf(&mut self, frame: Frame<'t>) {
        let Some(parent) = self.stack.last_mut() else {
            return;
        };
        for attribute in frame.attributes {
            parent.fields.push(Field::new(
                format!("{}/@{}", frame.name, attribute.name),
                attribute.value,
            ));
        }
        parent.fields.push(Field {
            name: Cow::Borrowed(frame.name),
            value: frame.text,
        });
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
        let ordinal = self.out.postbacks.len() as u32 + 1;
        self.out.postbacks.push(RawPostback {
            ordinal,
            position: frame.position,
            attributes,
            fields: frame.fields,
        });
    }

    fn report_stray_fields(&mut self, wrapper: &Frame<'_>) {
        if wrapper.fields.is_empty() {
            return;
        }
        let listed: Vec<String> = wrapper
            .fields
            .iter()
            .map(|f| format!("{}={:?}", f.name, f.value))
            .collect();
        let message = format!(
            "content of <{}> outside any postback: {}",
            wrapper.name,
            listed.join(", ")
        );
        self.out.problems.push(Problem::new(
            ProblemKind::StrayContent,
            wrapper.position,
            message,
        ));
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
                self.salvaged(
                    start,
                    format!("unknown entity &{name}; in {} kept as text", self.where_()),
                );
                self.append_text(Cow::Owned(format!("&{name};")));
            }
        }
    }

    fn where_(&self) -> String {
        self.stack
            .last()
            .map_or_else(|| "the document".to_string(), |f| format!("<{}>", f.name))
    }

    fn salvaged(&mut self, start: usize, message: String) {
        let position = self.lines.locate(start);
        self.out
            .problems
            .push(Problem::new(ProblemKind::Salvaged, position, message));
    }

    fn malformed(&mut self, at: usize, message: String) {
        let position = self.lines.locate(at);
        self.out
            .problems
            .push(Problem::new(ProblemKind::MalformedXml, position, message));
    }

    fn found_html(&mut self, start: usize, name: &str) {
        self.html = true;
        let position = self.lines.locate(start);
        let message = format!("an HTML page (<{name}>), not a postback");
        self.out
            .problems
            .push(Problem::new(ProblemKind::NotXml, position, message));
    }

    /// After a syntax error: drop the postback being read and resume at the next
    /// `<POSTBACK`. Markup left open at the end of the text means the file was cut off.
    fn recover(&mut self, error: &XmlError, at: usize) -> Option<usize> {
        let lost = self.open_postback_line();
        let unclosed = matches!(error, XmlError::Syntax(e) if *e != SyntaxError::InvalidBangMarkup);
        let cut_off = unclosed && !self.text[at..].contains('>');
        let mut message = if cut_off {
            format!("the file ends inside markup ({error})")
        } else {
            error.to_string()
        };
        if let Some(line) = lost {
            message.push_str(&format!(
                "; the postback that starts at line {line} is not stored"
            ));
        }
        let kind = if cut_off {
            ProblemKind::Truncated
        } else {
            ProblemKind::MalformedXml
        };
        let position = self.lines.locate(at);
        self.out
            .problems
            .push(Problem::new(kind, position, message));
        let resume = find_postback_start(self.text, at + 1);
        match (
            resume,
            self.stack
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case("POSTBACK")),
        ) {
            (None, _) => self.stack.clear(),
            (Some(_), Some(index)) => self.stack.truncate(index),
            (Some(_), None) => {}
        }
        resume
    }

    /// Line of the outermost open element that is (or holds) a postback being read.
    fn open_postback_line(&self) -> Option<u32> {
        self.stack
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("POSTBACK") || f.is_postback())
            .or_else(|| {
                self.stack
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case("NOTIFICATION"))
            })
            .map(|f| f.position.line)
    }

    fn at_end(&mut self) {
        if let Some(innermost) = self.stack.last() {
            let mut message = format!(
                "the file ends inside <{}> opened at line {}",
                innermost.name, innermost.position.line
            );
            if let Some(line) = self.open_postback_line() {
                message.push_str(&format!(
                    "; the postback that starts at line {line} is not stored"
                ));
            }
            let end = self.lines.locate(self.text.len());
            self.out
                .problems
                .push(Problem::new(ProblemKind::Truncated, end, message));
            self.stack.clear();
        }
        let has_problem = self
            .out
            .problems
            .iter()
            .any(|p| p.kind != ProblemKind::Encoding);
        if self.out.postbacks.is_empty() && !has_problem {
            let problem = Problem::whole_file(
                ProblemKind::NoPostbacks,
                "well-formed XML, but no postback in it",
            );
            self.out.problems.push(problem);
        }
    }
}

pub(super) fn is_container(name: &str) -> bool {
    CONTAINERS.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// Offset of the next `<POSTBACK` start tag at or after `from`.
fn find_postback_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from.min(bytes.len());
    while let Some(found) = memchr::memmem::find(&bytes[at..], b"<POSTBACK") {
        let index = at + found;
        match bytes.get(index + "<POSTBACK".len()) {
            Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n') => return Some(index),
            _ => at = index + 1,
        }
    }
    None
}
