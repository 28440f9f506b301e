//! Parse, step 2, its limits: what keeps the reader's work and memory in proportion to
//! the text whatever the text holds, and what happens past each limit.

use std::ops::ControlFlow;

use quick_xml::events::Event;

use super::{Parser, excerpt_name};
use crate::parse::Field;
use crate::problem::ProblemKind;

/// Deepest nesting of elements read. Real postbacks nest five deep at most (a bundle,
/// the postback, `NOTIFICATION`, `CONTENT`, `FILE`); deeper markup is skipped to the
/// next `<POSTBACK` with one `malformed_xml` problem, so that a file of a million
/// `<A><B>` costs neither a million frames nor a million problems.
pub const MAX_DEPTH: usize = 64;

/// Longest path a field may be named by, below its postback (`CONTENT/FILE` in real
/// postbacks). Each nested field carries its whole path, so without this limit one
/// long name above ten thousand short elements would make ten thousand long names;
/// with it, a field's name costs at most this much more than the text it came from.
pub const MAX_PATH_BYTES: usize = 64;

/// Most memory the fields read from one file may take, in bytes per byte of its text
/// (plus [`FIELD_MEMORY_SLACK`]): a field's place in its list and the names and values
/// it had to copy. Real postbacks take about 1; a file past the limit (attributes by
/// the thousand, say) is reported, and the rest of it not read.
pub const FIELD_MEMORY_FACTOR: usize = 16;

/// Field memory allowed beyond [`FIELD_MEMORY_FACTOR`], so small files are never cut.
pub const FIELD_MEMORY_SLACK: usize = 1 << 20;

/// Memory of one field beyond what it owns.
pub(super) const FIELD_SIZE: usize = std::mem::size_of::<Field<'static>>();

/// Most fields (and attributes) one element may gather; a real postback has about 15.
/// An element that would hold more is skipped to the next `<POSTBACK`.
pub const MAX_FIELDS: usize = 10_000;

/// How much rereading syntax errors may cost: the reader goes over at most this many
/// times the text's length (plus [`SCAN_SLACK`]) in all. Each error that leaves markup
/// open to the end of the text (an unclosed comment, CDATA section or quote) makes the
/// reader go to the end before resuming at the next `<POSTBACK`, so a file made of
/// such errors would otherwise cost time quadratic in its size. Past the budget the
/// rest of the file is reported and not read.
pub const SCAN_FACTOR: usize = 8;

/// Rereading allowed beyond [`SCAN_FACTOR`], so that small files always recover fully.
pub const SCAN_SLACK: usize = 64 * 1024;

impl Parser<'_> {
    /// After each event, at `here`: stop when the fields take too much memory (see
    /// [`FIELD_MEMORY_FACTOR`]), and go on with a fresh reader when quick-xml holds too
    /// many open tags (see [`ReaderOpenTags`]).
    pub(super) fn between_events(
        &mut self,
        reader_open: &ReaderOpenTags,
        here: usize,
    ) -> ControlFlow<Option<usize>> {
        let field_budget = self
            .text
            .len()
            .saturating_mul(FIELD_MEMORY_FACTOR)
            .saturating_add(FIELD_MEMORY_SLACK);
        if self.field_memory > field_budget {
            let why = format!(
                "the fields read so far take more than {FIELD_MEMORY_FACTOR} bytes of memory per byte of the file"
            );
            self.give_up(here, &why);
            return ControlFlow::Break(None);
        }
        // Not at a byte-order mark, which the fresh reader would drop (see above).
        let fresh_start = self
            .text
            .get(here..)
            .is_some_and(|t| !t.starts_with('\u{feff}'));
        if reader_open.too_many() && fresh_start {
            return ControlFlow::Break(Some(here));
        }
        ControlFlow::Continue(())
    }

    /// Markup nested too deep, or an element holding too many fields: skip to the next
    /// `<POSTBACK` rather than let one file's frames grow without end.
    pub(super) fn check_limits(&mut self, name: &str, start: usize) -> ControlFlow<Option<usize>> {
        match self.limit_passed(name) {
            Some(message) => {
                let resume = self.skip_to_next_postback(ProblemKind::MalformedXml, start, message);
                ControlFlow::Break(resume)
            }
            None => ControlFlow::Continue(()),
        }
    }

    /// What opening `name` here would pass beyond a limit, if anything.
    fn limit_passed(&self, name: &str) -> Option<String> {
        if self.stack.len() >= MAX_DEPTH {
            return Some(format!(
                "<{}> is nested more than {MAX_DEPTH} elements deep",
                excerpt_name(name)
            ));
        }
        // The path a field would be named by: from below the postback (or the root).
        let below_postback = self.stack.iter().rev().take_while(|f| !f.may_be_postback());
        let path: usize = below_postback.map(|f| f.name.len() + 1).sum::<usize>() + name.len();
        if path > MAX_PATH_BYTES {
            return Some(format!(
                "<{}> would name a field by a path longer than {MAX_PATH_BYTES} bytes",
                excerpt_name(name)
            ));
        }
        let parent = self.stack.last()?;
        (parent.fields.len() + parent.attributes.len() >= MAX_FIELDS).then(|| {
            format!(
                "<{}> opened at line {} holds more than {MAX_FIELDS} fields",
                excerpt_name(parent.name),
                parent.position.line
            )
        })
    }
}

/// The start tags quick-xml holds as open. It keeps the name of every start tag not
/// yet ended, even with end-name checks off, so `<A>` repeated (read by us as empty
/// elements) would grow its buffer with the file. Mirrored here, by name length, so
/// that the reader can be replaced by a fresh one before it holds too much.
#[derive(Default)]
pub(super) struct ReaderOpenTags {
    name_lengths: Vec<usize>,
    name_bytes: usize,
}

impl ReaderOpenTags {
    /// Most tags, and bytes of their names, one reader may hold open.
    const MAX_TAGS: usize = 1024;
    const MAX_NAME_BYTES: usize = 1 << 20;

    pub(super) fn track(&mut self, event: &Event<'_>) {
        match event {
            Event::Start(e) => {
                let length = e.name().as_ref().len();
                self.name_lengths.push(length);
                self.name_bytes += length;
            }
            Event::End(_) => {
                let length = self.name_lengths.pop().unwrap_or(0);
                self.name_bytes -= length.min(self.name_bytes);
            }
            _ => {}
        }
    }

    pub(super) fn too_many(&self) -> bool {
        self.name_lengths.len() > Self::MAX_TAGS || self.name_bytes > Self::MAX_NAME_BYTES
    }
}
