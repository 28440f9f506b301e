//! The mutations, each with what the parser must still make of the mutated file.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::{Case, Corpus, Delivery, Seed};

type Fields = Vec<(String, String)>;

/// What the parser must make of a mutated file, beyond the invariants every case keeps.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// Nothing more (the markup may be broken anywhere).
    Anything,
    /// Exactly these postbacks (the file was re-encoded or re-declared, not changed).
    Same(Vec<Fields>),
    /// These postbacks, with exactly one value longer by `by` bytes (characters or
    /// entities were added to one value).
    OneValueGrown { postbacks: Vec<Fields>, by: usize },
    /// One edit broke the markup at one place: unless the file has a problem, these
    /// postbacks (the unmutated file's postbacks that start after the edit) all come
    /// back, in order.
    LaterKept(Vec<Fields>),
}

/// Where a single edit was made, in the unmutated file's bytes: `at..end` was replaced.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub at: usize,
    pub end: usize,
}

/// A file being mutated, with what is known about it.
pub struct Mutated<'s> {
    seed: &'s Seed,
    pub bytes: Vec<u8>,
    pub story: Vec<String>,
    pub expectation: Expectation,
    /// No mutation yet: offsets in `bytes` are the seed's.
    fresh: bool,
}

impl<'s> Mutated<'s> {
    pub fn of(seed: &'s Seed) -> Mutated<'s> {
        Mutated {
            seed,
            bytes: seed.bytes.clone(),
            story: Vec::new(),
            expectation: Expectation::Same(seed.postbacks.clone()),
            fresh: true,
        }
    }

    /// Record a mutation. `expected` is what it leaves when it is the first one;
    /// after another mutation only the general invariants hold.
    fn done(mut self, story: String, bytes: Vec<u8>, expected: Expectation) -> Mutated<'s> {
        self.expectation = if self.fresh {
            expected
        } else {
            Expectation::Anything
        };
        self.fresh = false;
        self.story.push(story);
        self.bytes = bytes;
        self
    }

    /// What a single edit at `site` leaves: the postbacks after it.
    fn after(&self, site: Site) -> Expectation {
        match &self.seed.starts {
            Some(starts) if self.fresh => Expectation::LaterKept(
                starts
                    .iter()
                    .zip(&self.seed.postbacks)
                    .filter(|(start, _)| **start >= site.end)
                    .map(|(_, fields)| fields.clone())
                    .collect(),
            ),
            _ => Expectation::Anything,
        }
    }

    fn grown(&self, by: usize) -> Expectation {
        Expectation::OneValueGrown {
            postbacks: self.seed.postbacks.clone(),
            by,
        }
    }
}

/// Bytes the mutations like to put in: markup, quotes, entities, NUL, Latin-1, and a
/// lead byte of a multibyte character.
const INTERESTING_BYTES: [u8; 16] = [
    b'<', b'>', b'&', b'/', b'"', b'\'', b'=', b'!', b'?', b'-', b']', b'\n', 0, 0xE9, 0xC3, 0xFF,
];

/// Markup the mutations insert.
const TOKENS: [&str; 24] = [
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?",
    "?>",
    "<!DOCTYPE x>",
    "<!DOCTYPE html>",
    "<POSTBACK>",
    "</POSTBACK>",
    "<POSTBACK ",
    "<POSTBACKS>",
    "<NOTIFICATION>",
    "<CONTENT>",
    "<ORIGIN>X</ORIGIN>",
    "</",
    "/>",
    "<",
    ">",
    "\"",
    "'",
    "<html>",
    "\r\n",
    "<?xml version='1.0'?>",
];

/// Characters inserted into values: multibyte of every width, combining, separators.
const MULTIBYTE: [char; 10] = [
    '\u{e9}',
    '\u{2026}',
    '\u{1f600}',
    '\u{301}',
    '\u{feff}',
    '\u{fffd}',
    '\u{2028}',
    '\u{4e2d}',
    '\u{85}',
    '\u{10ffff}',
];

/// Entities and what they resolve to (`None`: kept as text and reported).
const ENTITIES: [(&str, Option<char>); 12] = [
    ("&amp;", Some('&')),
    ("&lt;", Some('<')),
    ("&#233;", Some('\u{e9}')),
    ("&#x1F600;", Some('\u{1f600}')),
    ("&#8211;", Some('\u{2013}')),
    ("&nbsp;", None),
    ("&#0;", None),
    ("&#xD800;", None),
    ("&#99999999999;", None),
    ("&", None),
    ("&#;", None),
    ("&#x;", None),
];

/// Apply one randomly chosen mutation.
pub fn apply<'s>(
    rng: &mut ChaCha8Rng,
    corpus: &'s Corpus,
    mutated: Mutated<'s>,
    max_len: usize,
) -> Mutated<'s> {
    match rng.random_range(0..16) {
        0 | 1 => flip_bits(rng, mutated),
        2 => set_byte(rng, mutated),
        3 | 4 => insert_token(rng, mutated),
        5 | 6 => insert_in_value(rng, mutated),
        7 => truncate(rng, mutated),
        8 => splice(rng, corpus, mutated),
        9 => re_encode(rng, mutated),
        10 => nest(rng, mutated, max_len),
        11 => insert_entities(rng, mutated, max_len),
        12 => cdata(rng, mutated),
        13 => repeat_slice(rng, mutated, max_len),
        14 => flood(rng, mutated, max_len),
        _ => delete_range(rng, mutated),
    }
}

/// A count from 1 to `max`, as likely to be under 10 as over 10,000: most cases stay
/// small and fast, a few are large.
fn how_many(rng: &mut ChaCha8Rng, max: usize) -> usize {
    let max = max.max(1);
    let doublings = rng.random_range(0..=usize::BITS - max.leading_zeros());
    (1usize << doublings.min(usize::BITS - 1)).clamp(1, max)
}

fn offset(rng: &mut ChaCha8Rng, bytes: &[u8]) -> usize {
    rng.random_range(0..=bytes.len())
}

/// An insertion of `inserted` at `at`.
fn inserted(bytes: &[u8], at: usize, inserted: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + inserted.len());
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(inserted);
    out.extend_from_slice(&bytes[at..]);
    out
}

fn flip_bits<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    if m.bytes.is_empty() {
        return truncate(rng, m);
    }
    let flips = if rng.random_bool(0.6) {
        1
    } else {
        rng.random_range(2..=8)
    };
    let mut bytes = m.bytes.clone();
    let mut places = Vec::new();
    for _ in 0..flips {
        let at = rng.random_range(0..bytes.len());
        bytes[at] ^= 1 << rng.random_range(0..8);
        places.push(at);
    }
    let expected = if flips == 1 {
        m.after(Site {
            at: places[0],
            end: places[0] + 1,
        })
    } else {
        Expectation::Anything
    };
    m.done(format!("bits flipped at {places:?}"), bytes, expected)
}

fn set_byte<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    if m.bytes.is_empty() {
        return truncate(rng, m);
    }
    let at = rng.random_range(0..m.bytes.len());
    let value = *INTERESTING_BYTES.choose(rng).unwrap_or(&b'<');
    let mut bytes = m.bytes.clone();
    bytes[at] = value;
    let expected = m.after(Site { at, end: at + 1 });
    m.done(format!("byte {at} set to {value:#04x}"), bytes, expected)
}

fn insert_token<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let token = *TOKENS.choose(rng).unwrap_or(&"<");
    let at = offset(rng, &m.bytes);
    let bytes = inserted(&m.bytes, at, token.as_bytes());
    let expected = m.after(Site { at, end: at });
    m.done(format!("{token:?} inserted at {at}"), bytes, expected)
}

/// A multibyte character into a value (the markup stays whole), or anywhere when the
/// file has no value to put it in.
fn insert_in_value<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let c = *MULTIBYTE.choose(rng).unwrap_or(&'\u{e9}');
    match pick_value_offset(rng, &m) {
        Some(at) => {
            let mut encoded = [0; 4];
            let bytes = inserted(&m.bytes, at, c.encode_utf8(&mut encoded).as_bytes());
            let expected = m.grown(c.len_utf8());
            m.done(
                format!("{c:?} inserted in a value at {at}"),
                bytes,
                expected,
            )
        }
        None => {
            let at = offset(rng, &m.bytes);
            let mut encoded = [0; 4];
            let bytes = inserted(&m.bytes, at, c.encode_utf8(&mut encoded).as_bytes());
            let expected = m.after(Site { at, end: at });
            m.done(format!("{c:?} inserted at {at}"), bytes, expected)
        }
    }
}

/// A character boundary inside one of the seed's values, while offsets are the seed's.
fn pick_value_offset(rng: &mut ChaCha8Rng, m: &Mutated<'_>) -> Option<usize> {
    if !m.fresh {
        return None;
    }
    let range = m.seed.values.choose(rng)?.clone();
    let text = std::str::from_utf8(&m.seed.bytes[range.clone()]).ok()?;
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    Some(range.start + *boundaries.choose(rng)?)
}

/// `seed` with `c` inserted at byte `at` of a value: the sweep's case.
pub fn insert_char(seed: &Seed, at: usize, c: char) -> Case {
    let mut encoded = [0; 4];
    let bytes = inserted(&seed.bytes, at, c.encode_utf8(&mut encoded).as_bytes());
    Case {
        seed: 0,
        index: 0,
        story: format!("{}: {c:?} inserted in a value at {at} (sweep)", seed.name),
        replay: "cargo run --release --example fuzz -- --sweep".to_string(),
        bytes,
        delivery: Delivery::Plain,
        expectation: Expectation::OneValueGrown {
            postbacks: seed.postbacks.clone(),
            by: c.len_utf8(),
        },
    }
}

fn truncate<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let at = offset(rng, &m.bytes);
    let bytes = m.bytes[..at].to_vec();
    m.done(format!("cut at {at}"), bytes, Expectation::Anything)
}

fn delete_range<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let at = offset(rng, &m.bytes);
    let end = (at + rng.random_range(1..=64)).min(m.bytes.len());
    let mut bytes = m.bytes.clone();
    bytes.drain(at..end);
    let expected = m.after(Site { at, end });
    m.done(format!("bytes {at}..{end} deleted"), bytes, expected)
}

fn splice<'s>(rng: &mut ChaCha8Rng, corpus: &'s Corpus, m: Mutated<'s>) -> Mutated<'s> {
    let Some(other) = corpus.seeds.choose(rng) else {
        return truncate(rng, m);
    };
    let cut = offset(rng, &m.bytes);
    let from = offset(rng, &other.bytes);
    let mut bytes = m.bytes[..cut].to_vec();
    bytes.extend_from_slice(&other.bytes[from..]);
    let story = format!("cut at {cut} and joined to {} from {from}", other.name);
    m.done(story, bytes, Expectation::Anything)
}

/// The same text in another encoding, or declared as another: UTF-16 with and without
/// a byte-order mark, a UTF-8 mark, ISO-8859-1 on ASCII text, an unknown encoding.
fn re_encode<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let plain_utf8 = m.seed.starts.is_some() && m.fresh;
    let starts_with_tag = m.bytes.first() == Some(&b'<');
    let utf16 = |little: bool, bom: bool, bytes: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(bytes);
        let mark = if bom { Some(0xFEFF) } else { None };
        mark.into_iter()
            .chain(text.encode_utf16())
            .flat_map(|unit| {
                if little {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                }
            })
            .collect()
    };
    let (story, bytes, keeps) = match rng.random_range(0..7) {
        0 => (
            "as UTF-16LE with a BOM",
            utf16(true, true, &m.bytes),
            plain_utf8,
        ),
        1 => (
            "as UTF-16BE with a BOM",
            utf16(false, true, &m.bytes),
            plain_utf8,
        ),
        2 => (
            "as UTF-16LE without a BOM",
            utf16(true, false, &m.bytes),
            plain_utf8 && starts_with_tag,
        ),
        3 => (
            "as UTF-16BE without a BOM",
            utf16(false, false, &m.bytes),
            plain_utf8 && starts_with_tag,
        ),
        4 => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend_from_slice(&m.bytes);
            ("with a UTF-8 BOM", bytes, plain_utf8)
        }
        5 => (
            "declared ISO-8859-1",
            declared(&m.bytes, "ISO-8859-1"),
            plain_utf8 && m.bytes.is_ascii(),
        ),
        _ => (
            "declared an unknown encoding",
            declared(&m.bytes, "x-bogus-42"),
            plain_utf8,
        ),
    };
    let expected = if keeps {
        Expectation::Same(m.seed.postbacks.clone())
    } else {
        Expectation::Anything
    };
    m.done(story.to_string(), bytes, expected)
}

/// `bytes` with its XML declaration replaced by one naming `encoding`.
fn declared(bytes: &[u8], encoding: &str) -> Vec<u8> {
    let declaration = format!("<?xml version=\"1.0\" encoding=\"{encoding}\"?>");
    let rest = match bytes.strip_prefix(b"<?xml") {
        Some(after) => match memchr::memmem::find(after, b"?>") {
            Some(end) => &after[end + 2..],
            None => bytes,
        },
        None => bytes,
    };
    let mut out = declaration.into_bytes();
    out.extend_from_slice(rest);
    out
}

/// `unit` repeated `times` times, inserted at `at`: one edit.
fn insert_run<'s>(m: Mutated<'s>, unit: &str, times: usize, at: usize) -> Mutated<'s> {
    let bytes = inserted(&m.bytes, at, unit.repeat(times).as_bytes());
    let expected = m.after(Site { at, end: at });
    m.done(
        format!("{unit:?} x {times} inserted at {at}"),
        bytes,
        expected,
    )
}

/// Deep nesting at the start of a tag: `<A><B>`, `<CONTENT>`, `<A>` (doubled, read as
/// empty) or `<NOTIFICATION>`, from one level to far past the limit.
fn nest<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>, max_len: usize) -> Mutated<'s> {
    let unit = *["<A><B>", "<CONTENT>", "<A>", "<NOTIFICATION>", "<A x='1'>"]
        .choose(rng)
        .unwrap_or(&"<A>");
    let times = *[1usize, 10, 63, 64, 65, 200, 5_000, 100_000]
        .choose(rng)
        .unwrap_or(&1);
    let times = times.min(max_len / unit.len()).max(1);
    let tags: Vec<usize> = memchr::memchr_iter(b'<', &m.bytes).collect();
    let at = tags.choose(rng).copied().unwrap_or(0);
    insert_run(m, unit, times, at)
}

fn insert_entities<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>, max_len: usize) -> Mutated<'s> {
    let (entity, resolved) = *ENTITIES.choose(rng).unwrap_or(&("&amp;", Some('&')));
    let times = *[1usize, 2, 100, 10_000].choose(rng).unwrap_or(&1);
    let times = times.min(max_len / entity.len()).max(1);
    let run = entity.repeat(times);
    let story = format!("{entity:?} x {times}");
    match (pick_value_offset(rng, &m), resolved) {
        (Some(at), Some(c)) => {
            let bytes = inserted(&m.bytes, at, run.as_bytes());
            let expected = m.grown(c.len_utf8() * times);
            m.done(
                format!("{story} inserted in a value at {at}"),
                bytes,
                expected,
            )
        }
        (value, _) => {
            let at = value.unwrap_or_else(|| offset(rng, &m.bytes));
            let bytes = inserted(&m.bytes, at, run.as_bytes());
            let expected = m.after(Site { at, end: at });
            m.done(format!("{story} inserted at {at}"), bytes, expected)
        }
    }
}

/// A whole value wrapped in CDATA (same postbacks), or a CDATA section left open.
fn cdata<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>) -> Mutated<'s> {
    let range = if m.fresh {
        m.seed.values.choose(rng).cloned()
    } else {
        None
    };
    match range {
        Some(range) if rng.random_bool(0.7) => {
            let mut bytes = m.bytes[..range.start].to_vec();
            bytes.extend_from_slice(b"<![CDATA[");
            bytes.extend_from_slice(&m.bytes[range.clone()]);
            bytes.extend_from_slice(b"]]>");
            bytes.extend_from_slice(&m.bytes[range.end..]);
            let expected = Expectation::Same(m.seed.postbacks.clone());
            m.done(
                format!("value at {} wrapped in CDATA", range.start),
                bytes,
                expected,
            )
        }
        _ => {
            let at = offset(rng, &m.bytes);
            let bytes = inserted(&m.bytes, at, b"<![CDATA[");
            let expected = m.after(Site { at, end: at });
            m.done(format!("CDATA opened at {at}"), bytes, expected)
        }
    }
}

/// A slice of the file repeated, up to `max_len`: large bundles, long runs of markup.
fn repeat_slice<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>, max_len: usize) -> Mutated<'s> {
    let start = offset(rng, &m.bytes);
    let end = (start + rng.random_range(1..=512)).min(m.bytes.len());
    let slice = m.bytes[start..end].to_vec();
    if slice.is_empty() {
        return truncate(rng, m);
    }
    let times = how_many(rng, max_len / slice.len()).max(2);
    let mut bytes = m.bytes[..end].to_vec();
    for _ in 1..times {
        bytes.extend_from_slice(&slice);
    }
    bytes.extend_from_slice(&m.bytes[end..]);
    m.done(
        format!("bytes {start}..{end} x {times}"),
        bytes,
        Expectation::Anything,
    )
}

/// Long runs of one thing: attributes in a tag, spaces, newlines, `<`, `&`, slashes.
fn flood<'s>(rng: &mut ChaCha8Rng, m: Mutated<'s>, max_len: usize) -> Mutated<'s> {
    let unit = *[
        " a=\"1\"", " a", " ", "\n", "<", "&", "/", "x", "\u{e9}", "]]>", "=\"",
    ]
    .choose(rng)
    .unwrap_or(&" ");
    let times = how_many(rng, max_len / unit.len());
    let at = match unit {
        " a=\"1\"" | " a" | " " | "/" => {
            // Just after a tag's name, where attributes go.
            let tags: Vec<usize> = memchr::memchr_iter(b'<', &m.bytes).collect();
            tags.choose(rng).map_or(0, |&tag| {
                let name = m.bytes[tag..]
                    .iter()
                    .position(|b| matches!(b, b'>' | b' ' | b'/'))
                    .unwrap_or(0);
                tag + name
            })
        }
        _ => offset(rng, &m.bytes),
    };
    insert_run(m, unit, times, at)
}

/// Damage to the gzip framing of a case delivered gzipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzipDamage {
    None,
    /// The last `n` bytes cut off (the trailer, or part of the stream).
    CutTail(usize),
    /// One byte of the compressed stream flipped.
    Flip(usize),
    /// Text after the stream.
    Trailing,
    /// The stream twice (two members, as `cat a.gz b.gz` makes).
    TwoMembers,
}

impl GzipDamage {
    pub fn pick(rng: &mut ChaCha8Rng) -> GzipDamage {
        match rng.random_range(0..6) {
            0 => GzipDamage::CutTail(rng.random_range(1..=64)),
            1 => GzipDamage::Flip(rng.random_range(0..4096)),
            2 => GzipDamage::Trailing,
            3 => GzipDamage::TwoMembers,
            _ => GzipDamage::None,
        }
    }

    pub fn apply(self, packed: &[u8]) -> Vec<u8> {
        let mut out = packed.to_vec();
        match self {
            GzipDamage::None => {}
            GzipDamage::CutTail(n) => out.truncate(out.len().saturating_sub(n)),
            GzipDamage::Flip(at) => {
                if !out.is_empty() {
                    let at = at % out.len();
                    out[at] ^= 0x20;
                }
            }
            GzipDamage::Trailing => out.extend_from_slice(b"HTTP/1.1 200 OK\r\n"),
            GzipDamage::TwoMembers => out.extend_from_slice(packed),
        }
        out
    }
}

/// Whether the parser's postbacks meet `expectation`; the difference when not.
pub fn meets(expectation: &Expectation, got: &[Fields], problems: u64) -> Result<(), String> {
    match expectation {
        Expectation::Anything => Ok(()),
        Expectation::Same(expected) if got == expected.as_slice() => Ok(()),
        Expectation::Same(expected) => Err(format!(
            "expected the unmutated file's {} postback(s) unchanged, got {}: {}",
            expected.len(),
            got.len(),
            first_difference(expected, got)
        )),
        Expectation::OneValueGrown { postbacks, by } => one_value_grown(postbacks, got, *by),
        Expectation::LaterKept(later) if problems > 0 || is_subsequence(later, got) => Ok(()),
        Expectation::LaterKept(later) => Err(format!(
            "no problem reported, yet the {} postback(s) after the edit did not all come back (got {})",
            later.len(),
            got.len()
        )),
    }
}

fn one_value_grown(expected: &[Fields], got: &[Fields], by: usize) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!(
            "a character added to a value changed the postbacks from {} to {}",
            expected.len(),
            got.len()
        ));
    }
    let mut changed = Vec::new();
    for (want, have) in expected.iter().zip(got) {
        let names = |f: &Fields| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if names(want) != names(have) {
            return Err(format!(
                "field names changed: {}",
                first_difference(expected, got)
            ));
        }
        for ((name, a), (_, b)) in want.iter().zip(have) {
            if a != b {
                changed.push((name.clone(), a.len(), b.len()));
            }
        }
    }
    match changed.as_slice() {
        [(_, before, after)] if *after == before + by => Ok(()),
        _ => Err(format!(
            "expected one value longer by {by} bytes, got these changes: {changed:?}"
        )),
    }
}

fn is_subsequence(wanted: &[Fields], got: &[Fields]) -> bool {
    let mut got = got.iter();
    wanted.iter().all(|w| got.any(|g| g == w))
}

fn first_difference(expected: &[Fields], got: &[Fields]) -> String {
    for (i, (want, have)) in expected.iter().zip(got).enumerate() {
        if want != have {
            return format!("postback {} was {want:?}, is {have:?}", i + 1);
        }
    }
    "the count differs".to_string()
}
