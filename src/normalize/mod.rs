//! Normalize: the third stage (discover -> parse -> **normalize** -> store -> report).
//!
//! Turns a [`RawPostback`] into a [`Postback`]: typed column values, the UTC instant
//! and original offset of its timestamp, every unknown or surplus element in `extra`
//! (so nothing in a source file is dropped), and the content fingerprint that
//! identifies retried copies. Pure: records in, records out.

pub mod columns;
pub mod timestamp;

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use xxhash_rust::xxh3::Xxh3;

use crate::parse::{Field, RawPostback, excerpt};
use crate::problem::{Problem, ProblemKind, Problems};
use columns::{CODE, COLUMNS, ColumnKind, ORIGIN, STATUS_CODE, TIME_ELEMENTS, column_for};
use timestamp::parse_timestamp;

/// A typed column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
}

/// One postback ready to store.
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
    /// One entry per [`COLUMNS`] entry, in the same order.
    pub values: Vec<Option<Value>>,
    /// JSON object of everything without a column of its own, or `None` when empty.
    pub extra: Option<String>,
}

impl Postback {
    /// The value of a column by name, for tests and diagnostics; `None` also for a
    /// name that is no column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.values.get(columns::column_index(column)?)?.as_ref()
    }
}

/// Normalize one postback; problems (values that fit no column) are returned beside it.
pub fn normalize(raw: &RawPostback<'_>) -> (Postback, Vec<Problem>) {
    let mut builder = Builder {
        values: vec![None; COLUMNS.len()],
        lists: Vec::new(),
        time: None,
        extra: Map::new(),
        problems: Vec::new(),
        raw,
    };
    for attribute in &raw.attributes {
        builder.keep_extra(&format!("@{}", attribute.name), &attribute.value);
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
    values: Vec<Option<Value>>,
    /// Items of list columns (`CONTENT/FILE`), as (column index, item).
    lists: Vec<(usize, Json)>,
    time: Option<timestamp::Timestamp>,
    extra: Map<String, Json>,
    problems: Vec<Problem>,
    raw: &'r RawPostback<'t>,
}

impl Builder<'_, '_> {
    fn add(&mut self, field: &Field<'_>) {
        let name: &str = &field.name;
        if TIME_ELEMENTS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            return self.add_time(field);
        }
        let Some(index) = column_for(name) else {
            return self.keep_extra(name, &field.value);
        };
        let column = &COLUMNS[index];
        if column.kind == ColumnKind::List {
            return self
                .lists
                .push((index, Json::String(field.value.trim().to_string())));
        }
        if self.values[index].is_some() {
            return self.keep_extra(name, &field.value);
        }
        let text = field.value.trim();
        self.values[index] = match column.kind {
            ColumnKind::FreeText => Some(Value::Text(field.value.to_string())),
            // An empty element (`<PASSDATAID></PASSDATAID>` on a failed pass) has no number.
            ColumnKind::Integer if text.is_empty() => None,
            ColumnKind::Integer => match text.parse::<i64>() {
                Ok(number) => Some(Value::Integer(number)),
                Err(_) => return self.bad_value(field, "is not a whole number"),
            },
            ColumnKind::Text | ColumnKind::List => Some(Value::Text(text.to_string())),
        };
    }

    fn add_time(&mut self, field: &Field<'_>) {
        if self.time.is_some() {
            return self.keep_extra(&field.name, &field.value);
        }
        match parse_timestamp(&field.value) {
            Some(time) => self.time = Some(time),
            None => self.bad_value(field, "is not a timestamp"),
        }
    }

    fn bad_value(&mut self, field: &Field<'_>, what: &str) {
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
        self.keep_extra(&field.name, &field.value);
    }

    /// Adds to `extra`; a name seen twice becomes an array of its values.
    fn keep_extra(&mut self, name: &str, value: &str) {
        let value = Json::String(value.to_string());
        match self.extra.get_mut(name) {
            None => {
                self.extra.insert(name.to_string(), value);
            }
            Some(Json::Array(values)) => values.push(value),
            Some(first) => *first = Json::Array(vec![first.take(), value]),
        }
    }

    fn finish(mut self) -> (Postback, Vec<Problem>) {
        let mut lists: BTreeMap<usize, Vec<Json>> = BTreeMap::new();
        for (index, item) in std::mem::take(&mut self.lists) {
            lists.entry(index).or_default().push(item);
        }
        for (index, items) in lists {
            self.values[index] = Some(Value::Text(Json::Array(items).to_string()));
        }
        // The code that decides the outcome: STATUSCODE where there is one, else CODE.
        if self.values[STATUS_CODE].is_none() {
            self.values[STATUS_CODE] = self.values[CODE].clone();
        }
        if self.values[ORIGIN].is_none() {
            let message = "postback has no <ORIGIN>; stored with origin NULL";
            self.problems.push(Problem::new(
                ProblemKind::BadValue,
                self.raw.position,
                message,
            ));
        }
        let postback = Postback {
            fingerprint: fingerprint(&self.raw.fields),
            ordinal: self.raw.ordinal,
            line: self.raw.position.line,
            occurred_at: self.time.map(|t| t.utc_micros),
            utc_offset_minutes: self.time.and_then(|t| t.offset_minutes),
            values: self.values,
            extra: (!self.extra.is_empty()).then(|| Json::Object(self.extra).to_string()),
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
