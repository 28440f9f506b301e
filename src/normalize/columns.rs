//! Normalize, helper: the typed columns of `postbacks` and the XML elements that fill them.
//!
//! This one table decides which element lands in which column. The import writer
//! appends them by name (`store/writer/rows.rs`), so `sql/schema.sql` may declare them
//! in any order; a store test checks that each exists there with the type written.

use std::collections::HashMap;
use std::sync::OnceLock;

/// How an element's text becomes a column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text with surrounding whitespace trimmed.
    Text,
    /// Free text (an SMS body, an MMS subject), kept exactly as written.
    FreeText,
    /// A whole number (BIGINT); other text goes to `extra` with a `bad_value` problem.
    Integer,
    /// Every occurrence collected into one JSON array (`CONTENT/FILE`).
    List,
}

/// One typed column of `postbacks`.
#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    /// Element names (upper case) that fill it; the first one found wins.
    pub elements: &'static [&'static str],
    pub kind: ColumnKind,
}

const fn column(name: &'static str, elements: &'static [&'static str], kind: ColumnKind) -> Column {
    Column {
        name,
        elements,
        kind,
    }
}

use ColumnKind::{FreeText, Integer, List, Text};

/// The typed columns, after the fixed ones (ids, provenance, time).
pub const COLUMNS: &[Column] = &[
    column("origin", &["ORIGIN"], Text),
    column("code", &["CODE"], Text),
    // STATUSCODE, the code that decides a pass's outcome; CODE where there is none
    // (see `normalize`), so that it is the deciding code of every postback.
    column("status_code", &["STATUSCODE"], Text),
    column("status", &["STATUS"], Text),
    column("status_details", &["STATUSDETAILS"], Text),
    column("sent_as", &["SENTAS"], Text),
    column("mms_id", &["MMSID"], Integer),
    column("from_address", &["FROM"], Text),
    column("from_mask", &["FROM_MASK"], Text),
    column("to_address", &["TO"], Text),
    column("spid", &["SPID"], Text),
    column("tracking_id", &["TRACKINGID"], Text),
    column("transaction_id", &["TRANSACTIONID"], Text),
    column("aggregator_id", &["AGGREGATORID", "AGGREGATOR"], Text),
    column("handset", &["HANDSET"], Text),
    column("keyword", &["KEYWORD"], Text),
    column("subject", &["SUBJECT"], FreeText),
    column("message_text", &["TEXT"], FreeText),
    column("content_urls", &["CONTENT/FILE"], List),
    column("audio_name", &["AUDIONAME"], Text),
    column("video_name", &["VIDEONAME"], Text),
    column("mobile", &["MOBILE"], Text),
    column("email", &["EMAIL"], Text),
    column("campaign_id", &["CAMPAIGNID"], Integer),
    column("campaign_title", &["CAMPAIGNTITLE"], Text),
    column("subscription_id", &["SUBID"], Integer),
    column("shortcode", &["SHORTCODE"], Text),
    column("brand_name", &["BRANDNAME"], Text),
    column("source", &["SOURCE"], Text),
    column("reference_type", &["REFERENCEDBY"], Text),
    column("reference_value", &["REFERENCEVALUE"], Text),
    column("custom_pass_id", &["CUSTOMPASSID"], Text),
    column("pass_data_id", &["PASSDATAID"], Integer),
    column("serial_number", &["SERIALNUMBER"], Text),
];

/// Elements whose text is the moment of the event, stored as `occurred_at` and
/// `utc_offset_minutes`: `TIMESTAMP` for most postbacks, `RECEIVED` for SMS MO.
pub const TIME_ELEMENTS: [&str; 2] = ["TIMESTAMP", "RECEIVED"];

/// Index in [`COLUMNS`] of the column an element fills, if any (names match in any case).
pub fn column_for(element: &str) -> Option<usize> {
    // foldhash, not the default SipHash: this runs for every field of every postback,
    // and the keys are our own names, so there is nothing to defend against.
    type ByElement = HashMap<&'static str, usize, foldhash::fast::FixedState>;
    static BY_ELEMENT: OnceLock<ByElement> = OnceLock::new();
    let by_element = BY_ELEMENT.get_or_init(|| {
        let pairs = COLUMNS.iter().enumerate();
        pairs
            .flat_map(|(index, c)| c.elements.iter().map(move |e| (*e, index)))
            .collect()
    });
    match by_element.get(element) {
        Some(index) => Some(*index),
        None if element.bytes().any(|b| b.is_ascii_lowercase()) => by_element
            .get(element.to_ascii_uppercase().as_str())
            .copied(),
        None => None,
    }
}

/// Index of a column by name, if the table has it. A `const fn`, so that the columns
/// the normalizer reads itself ([`ORIGIN`] ...) are found when the program is built.
pub const fn column_index(name: &str) -> Option<usize> {
    let mut index = 0;
    while index < COLUMNS.len() {
        if same_name(COLUMNS[index].name, name) {
            return Some(index);
        }
        index += 1;
    }
    None
}

/// The index of a column the normalizer reads itself; used in `const` items only, so a
/// name not in the table stops the build rather than a run.
const fn known_column(name: &str) -> usize {
    match column_index(name) {
        Some(index) => index,
        None => panic!("no such column in COLUMNS"),
    }
}

const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The columns the normalizer itself reads, by index.
pub const ORIGIN: usize = known_column("origin");
pub const CODE: usize = known_column("code");
pub const STATUS_CODE: usize = known_column("status_code");
