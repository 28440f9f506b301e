//! Normalize: the third stage (discover -> parse -> **normalize** -> store -> report).
//!
//! Turns a [`RawPostback`] into a [`Postback`]: typed column values, the UTC instant
//! and original offset of its timestamp, every unknown or surplus element in `extra`
//! (so nothing in a source file is dropped), and the content fingerprint that
//! identifies retried copies. Pure: records in, records out.

pub mod columns;
mod json;
pub mod timestamp;

use std::ops::Range;

use xxhash_rust::xxh3::Xxh3;

use crate::parse::{Field, RawPostback, excerpt};
use crate::problem::{Problem, ProblemKind, Problems};
use columns::{CODE, COLUMNS, ColumnKind, ORIGIN, STATUS_CODE, TIME_ELEMENTS, column_for};
use json::Extra;
use timestamp::parse_timestamp;

/// A typed column value, borrowed from its [`Postback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'p> {
    Text(&'p str),
    Integer(i64),
}

/// Where a column's value is: nowhere (NULL), a range of the postback's text, or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Null,
    Text(Range<usize>),
    Integer(i64),
}

/// One postback ready to store.
///
/// Its text values and `extra` are ranges of one string, so that a postback costs one
/// allocation between the parser and the writer, not one per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postback {
    /// xxh3-128 of the postback's fields in document order: equal for retried copies,
    /// and 128 bits wide so that a billion distinct postbacks do not collide (p < 1e-20).
    pub fingerprint: u128,
    /// 1-based place in its file.
    pub ordinal: u32,
    /// Line of its start tag.
    pub line: u32,
    /// When the event happened, microseconds since the epoch, UTC.
    pub occurred_at: Option<i64>,
    /// The offset the platform wrote, minutes east of UTC.
    pub utc_offset_minutes: Option<i16>,
    /// Every text value and `extra`, one after another.
    text: String,
    /// One entry per [`COLUMNS`] entry, in the same order.
    slots: [Slot; COLUMNS.len()],
    /// JSON object of everything without a column of its own; `None` when empty.
    extra: Option<Range<usize>>,
}

impl Postback {
    /// The value of the column at `index` in [`COLUMNS`]; `None` for NULL.
    pub fn value(&self, index: usize) -> Option<Value<'_>> {
        match self.slots.get(index)? {
            Slot::Null => None,
            Slot::Text(range) => self.text.get(range.clone()).map(Value::Text),
            Slot::Integer(number) => Some(Value::Integer(*number)),
        }
    }

    /// The value of a column by name, for tests and diagnostics; `None` also for a
    /// name that is no column.
    pub fn get(&self, column: &str) -> Option<Value<'_>> {
        self.value(columns::column_index(column)?)
    }

    /// The JSON object of everything without a column of its own, or `None` when empty.
    pub fn extra(&self) -> Option<&str> {
        self.text.get(self.extra.clone()?)
    }
}

/// Normalize one postback; problems (values that fit no column) are returned beside it.
pub fn normalize(raw: &RawPostback<'_>) -> (Postback, Vec<Problem>) {
    let fields = raw.fields.iter().chain(&raw.attributes);
    let mut builder = Builder {
        // Room for every value and its name (for `extra`) plus JSON punctuation, so
        // the text is allocated once.
        text: String::with_capacity(fields.map(|f| f.name.len() + f.value.len() + 8).sum()),
        slots: [const { Slot::Null }; COLUMNS.len()],
        lists: Vec::new(),
        time: None,
        extra: Vec::new(),
        problems: Vec::new(),
        raw,
    };
    for attribute in &raw.attributes {
        builder.extra.push(Extra {
            attribute: true,
            name: &attribute.name,
            value: &attribute.value,
        });
    }
    for field in &raw.fields {
        builder.add(field);
    }
    builder.finish()
}

/// Normalize every postback of a file, adding their problems to the file's: what an
/// import does with what the parser read.
pub fn normalize_all(raw: &[RawPostback<'_>], problems: &mut Problems) -> Vec<Postback> {
    raw.iter()
        .map(|raw| {
            let (postback, found) = normalize(raw);
            problems.extend(found);
            postback
        })
        .collect()
}

struct Builder<'r, 't> {
    text: String,
    slots: [Slot; COLUMNS.len()],
    /// Items of list columns (`CONTENT/FILE`), as (column index, item).
    lists: Vec<(usize, &'r str)>,
    time: Option<timestamp::Timestamp>,
    extra: Vec<Extra<'r>>,
    problems: Vec<Problem>,
    raw: &'r RawPostback<'t>,
}

impl<'r> Builder<'r, '_> {
    fn add(&mut self, field: &'r Field<'_>) {
        let name: &str = &field.name;
        if TIME_ELEMENTS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            return self.add_time(field);
        }
        let Some(index) = column_for(name) else {
            return self.keep_extra(field);
        };
        let column = &COLUMNS[index];
        if column.kind == ColumnKind::List {
            return self.lists.push((index, field.value.trim()));
        }
        if self.slots[index] != Slot::Null {
            return self.keep_extra(field);
        }
        let text = field.value.trim();
        self.slots[index] = match column.kind {
            ColumnKind::FreeText => self.push_text(&field.value),
            // An empty element (`<PASSDATAID></PASSDATAID>` on a failed pass) has no number.
            ColumnKind::Integer if text.is_empty() => Slot::Null,
            ColumnKind::Integer => match text.parse::<i64>() {
                Ok(number) => Slot::Integer(number),
                Err(_) => return self.bad_value(field, "is not a whole number"),
            },
            ColumnKind::Text | ColumnKind::List => self.push_text(text),
        };
    }

    fn push_text(&mut self, value: &str) -> Slot {
        let start = self.text.len();
        self.text.push_str(value);
        Slot::Text(start..self.text.len())
    }

    fn add_time(&mut self, field: &'r Field<'_>) {
        if self.time.is_some() {
            return self.keep_extra(field);
        }
        match parse_timestamp(&field.value) {
            Some(time) => self.time = Some(time),
            None => self.bad_value(field, "is not a timestamp"),
        }
    }

    fn bad_value(&mut self, field: &'r Field<'_>, what: &str) {
        let message = format!(
            "<{}> {} {what}; kept in extra",
            field.name,
            excerpt(&field.value, 100)
        );
        self.problems.push(Problem::new(
            ProblemKind::BadValue,
            self.raw.position,
            message,
        ));
        self.keep_extra(field);
    }

    /// Keeps for `extra`; a name seen twice becomes an array of its values.
    fn keep_extra(&mut self, field: &'r Field<'_>) {
        self.extra.push(Extra {
            attribute: false,
            name: &field.name,
            value: &field.value,
        });
    }

    fn finish(mut self) -> (Postback, Vec<Problem>) {
        // Stable, so that a list's items keep their order.
        self.lists.sort_by_key(|(index, _)| *index);
        let mut rest = self.lists.as_slice();
        while let Some((index, _)) = rest.first() {
            let count = rest.iter().take_while(|(i, _)| i == index).count();
            let (items, after) = rest.split_at(count);
            let start = self.text.len();
            json::write_array(&mut self.text, items.iter().map(|(_, item)| *item));
            self.slots[*index] = Slot::Text(start..self.text.len());
            rest = after;
        }
        // The code that decides the outcome: STATUSCODE where there is one, else CODE.
        if self.slots[STATUS_CODE] == Slot::Null {
            self.slots[STATUS_CODE] = self.slots[CODE].clone();
        }
        if self.slots[ORIGIN] == Slot::Null {
            let message = "postback has no <ORIGIN>; stored with origin NULL";
            self.problems.push(Problem::new(
                ProblemKind::BadValue,
                self.raw.position,
                message,
            ));
        }
        let extra = (!self.extra.is_empty()).then(|| {
            let start = self.text.len();
            json::write_object(&mut self.text, self.extra);
            start..self.text.len()
        });
        let postback = Postback {
            fingerprint: fingerprint(&self.raw.fields),
            ordinal: self.raw.ordinal,
            line: self.raw.position.line,
            occurred_at: self.time.map(|t| t.utc_micros),
            utc_offset_minutes: self.time.and_then(|t| t.offset_minutes),
            text: self.text,
            slots: self.slots,
            extra,
        };
        (postback, self.problems)
    }
}

/// The content fingerprint: the fields (not the attributes, which differ between a
/// lone postback and the same postback in a bundle) in document order.
pub fn fingerprint(fields: &[Field<'_>]) -> u128 {
    let mut hasher = Xxh3::new();
    for field in fields {
        hasher.update(field.name.as_bytes());
        hasher.update(&[0x1F]);
        hasher.update(field.value.as_bytes());
        hasher.update(&[0x1E]);
    }
    hasher.digest128()
}

#[cfg(test)]
mod tests;
