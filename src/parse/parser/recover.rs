//! Parse, step 2, its recovery: what the reader does after a syntax error, past a
//! limit, and at the end of the text.

use quick_xml::errors::{Error as XmlError, SyntaxError};

use super::{Parser, excerpt_name};
use crate::problem::{Problem, ProblemKind};

impl Parser<'_> {
    /// After a syntax error: drop the postback being read and resume at the next
    /// `<POSTBACK`. Markup left open at the end of the text means the file was cut off;
    /// then no tag can end after it, so nothing further is read.
    pub(super) fn recover(&mut self, error: &XmlError, at: usize) -> Option<usize> {
        let unclosed = matches!(error, XmlError::Syntax(e) if *e != SyntaxError::InvalidBangMarkup);
        let cut_off = unclosed && self.last_tag_end.is_none_or(|end| end <= at);
        if !cut_off {
            return self.skip_to_next_postback(ProblemKind::MalformedXml, at, error.to_string());
        }
        let mut message = format!("the file ends inside markup ({error})");
        if let Some(line) = self.open_postback_line() {
            message.push_str(&format!(
                "; the postback that starts at line {line} is not stored"
            ));
        }
        let position = self.lines.locate(at);
        self.report(ProblemKind::Truncated, position, || message);
        self.stack.clear();
        None
    }

    /// Report `message` at `at`, drop the postback being read, and return where the next
    /// `<POSTBACK` starts (the reader resumes there), if there is one.
    pub(super) fn skip_to_next_postback(
        &mut self,
        kind: ProblemKind,
        at: usize,
        mut message: String,
    ) -> Option<usize> {
        if let Some(line) = self.open_postback_line() {
            message.push_str(&format!(
                "; the postback that starts at line {line} is not stored"
            ));
        }
        let position = self.lines.locate(at);
        self.report(kind, position, || message);
        let from = at.saturating_add(1);
        let resume = find_postback_start(self.text, from);
        let searched = resume.unwrap_or(self.text.len()).saturating_sub(from);
        self.out.steps = self.out.steps.saturating_add(searched as u64);
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

    /// A budget is spent (see [`SCAN_FACTOR`], [`FIELD_MEMORY_FACTOR`]): say why and
    /// where reading stopped, and drop the postback being read.
    pub(super) fn give_up(&mut self, at: usize, why: &str) {
        let position = self.lines.locate(at);
        let unread = self.text.len().saturating_sub(at);
        let mut message = format!(
            "{why}; the rest of the file, from line {} ({unread} bytes), is not read",
            position.line
        );
        if let Some(line) = self.open_postback_line() {
            message.push_str(&format!(", nor the postback that starts at line {line}"));
        }
        message.push_str(". Repair or remove the damaged part and import the file again");
        self.report(ProblemKind::MalformedXml, position, || message);
        self.stack.clear();
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

    pub(super) fn at_end(&mut self) {
        if let Some(innermost) = self.stack.last() {
            let mut message = format!(
                "the file ends inside <{}> opened at line {}",
                excerpt_name(innermost.name),
                innermost.position.line
            );
            if let Some(line) = self.open_postback_line() {
                message.push_str(&format!(
                    "; the postback that starts at line {line} is not stored"
                ));
            }
            let end = self.lines.locate(self.text.len());
            self.report(ProblemKind::Truncated, end, || message);
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

/// Offset of the next `<POSTBACK` start tag at or after `from`.
fn find_postback_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from.min(bytes.len());
    while let Some(found) = memchr::memmem::find(bytes.get(at..)?, b"<POSTBACK") {
        let index = at + found;
        match bytes.get(index + "<POSTBACK".len()) {
            Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n') => return Some(index),
            _ => at = index + 1,
        }
    }
    None
}
