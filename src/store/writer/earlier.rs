//! Store, import writer helper: which of a lookup group's postbacks earlier runs
//! stored, without scanning every fingerprint in the archive.
//!
//! Fingerprints are random, so no sort order or zone map of `postbacks` narrows a
//! search for thousands of them: DuckDB reads all 16 bytes of every row (about 0.6
//! CPU-seconds at 10 million, BENCHMARKS.md). `fingerprint_filters` keeps, for each
//! span of [`SPAN`] postback ids, the sorted top 48 bits of its fingerprints (6 bytes a
//! postback). A lookup reads those, keeps the fingerprints whose top bits some span
//! holds, and asks `postbacks` about them within that span's ids only, which its zone
//! maps make cheap. Two different fingerprints share their top 48 bits with a chance
//! of about 1 in 2^48 / 131,072 per span: a false match only costs one small query,
//! and the answer always comes from `postbacks` itself.
//!
//! The filters are derived data: [`cover`] builds what is missing (the spans written
//! to since the last lookup, or all of them in an archive from an earlier version) from
//! `postbacks`, so a killed import or an older writer can never make them wrong, only
//! incomplete until the next lookup.

use std::collections::{BTreeMap, HashMap, HashSet};

use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::Int64Type;
use duckdb::{Connection, params};

/// Postback ids per filter: span `k` holds ids `k * SPAN + 1 ..= (k + 1) * SPAN`. The
/// last span is rebuilt while it fills, so a nightly run rereads at most this many
/// fingerprints.
pub const SPAN: i64 = 131_072;

/// Bytes of a fingerprint a filter keeps.
const KEY_BYTES: usize = 6;

/// Keys a row of `fingerprint_filters` holds (6 KiB). DuckDB hands a query's rows
/// over 2,048 at a time and keeps their blocks pinned meanwhile, so a lookup holds at
/// most 12 MiB of filters however large the archive: 48 KiB rows failed the import's
/// default memory limit at 10 million postbacks.
const PIECE_KEYS: usize = 1_024;

/// Above this many spans with candidates, one query over all earlier postbacks is
/// cheaper than a query a span (an import of files the archive mostly holds already).
const MAX_SPAN_QUERIES: usize = 16;

/// Earlier postbacks, by fingerprint: (postback_id, file_id).
pub type Earlier = HashMap<u128, (i64, i64)>;

/// A filter's key of a fingerprint: its top 48 bits.
fn key(fingerprint: u128) -> u64 {
    (fingerprint >> (128 - 8 * KEY_BYTES)) as u64
}

fn decode(record: &[u8; KEY_BYTES]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..KEY_BYTES].copy_from_slice(record);
    u64::from_le_bytes(bytes)
}

/// The filter of a span: its keys sorted, `KEY_BYTES` little-endian bytes each.
fn encode(mut keys: Vec<u64>) -> Vec<u8> {
    keys.sort_unstable();
    keys.dedup();
    keys.iter()
        .flat_map(|key| key.to_le_bytes().into_iter().take(KEY_BYTES))
        .collect()
}

/// The first id span `span` may hold.
fn first_id(span: i64) -> i64 {
    span * SPAN + 1
}

/// Make `fingerprint_filters` cover every postback with an id below `before`. The
/// filters always cover every id up to the highest they name (postbacks are only ever
/// added above it), so only the spans holding newer ids are (re)built, in order and
/// each in a transaction of its own (which keeps that promise if the run is killed,
/// and keeps DuckDB's memory to one span): the zone maps of `postback_id` keep finding
/// them cheap, and ids may have gaps of any size.
pub fn cover(conn: &Connection, before: i64) -> duckdb::Result<()> {
    let covered: i64 = conn.query_row(
        "SELECT coalesce(max(last_postback_id), 0) FROM fingerprint_filters",
        [],
        |row| row.get(0),
    )?;
    let stale: Vec<(i64, i64)> = conn
        .prepare(&format!(
            "SELECT (postback_id - 1) // {SPAN} AS span, max(postback_id) FROM postbacks
             WHERE postback_id > ? AND postback_id < ? GROUP BY span ORDER BY span"
        ))?
        .query_map([covered, before], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<duckdb::Result<_>>()?;
    stale
        .iter()
        .try_for_each(|&(span, last)| build(conn, span, last))
}

/// (Re)build the filter of one span from the fingerprints `postbacks` holds there, up
/// to id `last`.
fn build(conn: &Connection, span: i64, last: i64) -> duckdb::Result<()> {
    let first = first_id(span);
    let keys = conn
        .prepare_cached("SELECT fingerprint FROM postbacks WHERE postback_id BETWEEN ? AND ?")?
        .query_map([first, last], |row| row.get::<_, u128>(0).map(key))?
        .collect::<duckdb::Result<Vec<u64>>>()?;
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = conn
        .execute("DELETE FROM fingerprint_filters WHERE span = ?", [span])
        .and_then(|_| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO fingerprint_filters (span, last_postback_id, keys) VALUES (?, ?, ?)",
            )?;
            encode(keys)
                .chunks(PIECE_KEYS * KEY_BYTES)
                .try_for_each(|piece| insert.execute(params![span, last, piece]).map(drop))
        });
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

/// Which of `fingerprints` postbacks with ids below `before` hold, and where. Call
/// [`cover`] first: a span without a filter is not searched.
pub fn stored_before(
    conn: &Connection,
    fingerprints: &HashSet<u128>,
    before: i64,
) -> duckdb::Result<Earlier> {
    let wanted = Wanted::new(fingerprints);
    // Streamed, a data chunk of at most 2,048 pieces at a time: a query's whole result
    // (6 bytes a stored postback) could exceed the import's memory limit.
    let mut by_span: BTreeMap<i64, (i64, Vec<u128>)> = BTreeMap::new();
    let mut statement =
        conn.prepare("SELECT span, last_postback_id, keys FROM fingerprint_filters")?;
    for batch in statement.stream_arrow([])? {
        let batch = batch?;
        let (Some(spans), Some(lasts), Some(keys)) = (
            batch.column(0).as_primitive_opt::<Int64Type>(),
            batch.column(1).as_primitive_opt::<Int64Type>(),
            batch.column(2).as_binary_opt::<i32>(),
        ) else {
            return Err(duckdb::Error::InvalidColumnType(
                2,
                "fingerprint_filters".into(),
                duckdb::types::Type::Blob,
            ));
        };
        for row in 0..batch.num_rows() {
            let hits = wanted.matching(keys.value(row));
            if !hits.is_empty() {
                let entry = by_span.entry(spans.value(row)).or_default();
                entry.0 = lasts.value(row);
                entry.1.extend(hits);
            }
        }
    }
    let candidates: Vec<((i64, i64), Vec<u128>)> = by_span
        .into_iter()
        .map(|(span, (last, hits))| ((first_id(span), last.min(before - 1)), hits))
        .collect();
    let mut earlier = Earlier::new();
    if candidates.len() > MAX_SPAN_QUERIES {
        let all: Vec<u128> = candidates.into_iter().flat_map(|(_, hits)| hits).collect();
        find(conn, &all, (1, before - 1), &mut earlier)?;
        return Ok(earlier);
    }
    for (ids, hits) in candidates {
        find(conn, &hits, ids, &mut earlier)?;
    }
    Ok(earlier)
}

/// The fingerprints a lookup wants, by key, and a bitmap of their keys' top
/// [`PREFIX_BITS`] bits: a stored key is looked for among them only when its bit is set,
/// so most of the millions of stored keys cost one load and a test.
struct Wanted {
    prefixes: Vec<u64>,
    /// (key, fingerprint), sorted.
    keys: Vec<(u64, u128)>,
}

/// Bits of a key the bitmap of [`Wanted`] is indexed by: 2^20 bits, 128 KiB, of which a
/// nightly run's 22,000 keys set about 2%.
const PREFIX_BITS: u32 = 20;

impl Wanted {
    fn new(fingerprints: &HashSet<u128>) -> Self {
        let mut keys: Vec<(u64, u128)> = fingerprints.iter().map(|&f| (key(f), f)).collect();
        keys.sort_unstable();
        let mut prefixes = vec![0u64; (1 << PREFIX_BITS) / 64];
        for &(key, _) in &keys {
            let prefix = Self::prefix(key);
            if let Some(word) = prefixes.get_mut(prefix / 64) {
                *word |= 1 << (prefix % 64);
            }
        }
        Wanted { prefixes, keys }
    }

    fn prefix(key: u64) -> usize {
        (key >> (8 * KEY_BYTES as u32 - PREFIX_BITS)) as usize
    }

    /// The wanted fingerprints whose key the filter piece `keys` holds.
    fn matching(&self, keys: &[u8]) -> Vec<u128> {
        let (records, _) = keys.as_chunks::<KEY_BYTES>();
        let mut hits = Vec::new();
        for key in records.iter().map(decode) {
            let prefix = Self::prefix(key);
            let word = self.prefixes.get(prefix / 64).copied().unwrap_or(0);
            if word & (1 << (prefix % 64)) == 0 {
                continue;
            }
            let from = self.keys.partition_point(|&(k, _)| k < key);
            let same = self.keys.get(from..).unwrap_or_default();
            hits.extend(same.iter().take_while(|&&(k, _)| k == key).map(|&(_, f)| f));
        }
        hits
    }
}

/// Look `fingerprints` up in `postbacks` among the ids `first..=last`.
fn find(
    conn: &Connection,
    fingerprints: &[u128],
    (first, last): (i64, i64),
    earlier: &mut Earlier,
) -> duckdb::Result<()> {
    conn.execute_batch("DELETE FROM pa_fingerprints")?;
    let mut appender = conn.appender_to_catalog_and_db("pa_fingerprints", "temp", "main")?;
    for &fingerprint in fingerprints {
        appender.append_row([fingerprint])?;
    }
    appender.flush()?;
    drop(appender);
    let mut statement = conn.prepare_cached(
        "SELECT fingerprint, postback_id, file_id FROM postbacks
         WHERE postback_id BETWEEN ? AND ?
           AND fingerprint IN (SELECT fingerprint FROM pa_fingerprints)",
    )?;
    let rows = statement.query_map([first, last], |row| {
        Ok((row.get::<_, u128>(0)?, (row.get(1)?, row.get(2)?)))
    })?;
    for row in rows {
        let (fingerprint, ids) = row?;
        earlier.insert(fingerprint, ids);
    }
    Ok(())
}

/// The spans whose filter is not what [`build`] makes of `postbacks` (for `verify`): the
/// keys of every postback with an id from the span's first to its `last_postback_id`,
/// no more and no less, and one `last_postback_id` for all of a span's rows. A span
/// without a filter is no fault (the next import builds it); a filter that misses a
/// key would let an import store a copy of an earlier postback a second time.
pub fn filters_that_differ(conn: &Connection) -> duckdb::Result<Vec<i64>> {
    let spans: Vec<(i64, i64, i64)> = conn
        .prepare(
            "SELECT span, max(last_postback_id), count(DISTINCT last_postback_id)
             FROM fingerprint_filters GROUP BY span ORDER BY span",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<duckdb::Result<_>>()?;
    let mut differ = Vec::new();
    for (span, last, lasts) in spans {
        let stored: Vec<u8> = conn
            .prepare_cached("SELECT keys FROM fingerprint_filters WHERE span = ?")?
            .query_map([span], |row| row.get::<_, Vec<u8>>(0))?
            .collect::<duckdb::Result<Vec<_>>>()?
            .concat();
        let (records, rest) = stored.as_chunks::<KEY_BYTES>();
        let stored = encode(records.iter().map(decode).collect());
        let expected = encode(
            conn.prepare_cached(
                "SELECT fingerprint FROM postbacks WHERE postback_id BETWEEN ? AND ?",
            )?
            .query_map([first_id(span), last], |row| row.get::<_, u128>(0).map(key))?
            .collect::<duckdb::Result<Vec<u64>>>()?,
        );
        if lasts != 1 || !rest.is_empty() || stored != expected {
            differ.push(span);
        }
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DuckDB with just what this module reads and writes.
    fn archive() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(concat!(
            "CREATE TABLE postbacks (postback_id BIGINT, fingerprint UHUGEINT, file_id BIGINT);",
            "CREATE TEMP TABLE pa_fingerprints (fingerprint UHUGEINT);",
            include_str!("../../../sql/migrations/004-fingerprint-filters.sql"),
        ))
        .unwrap();
        conn
    }

    fn fingerprint(n: i64) -> u128 {
        (n as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    }

    fn store(conn: &Connection, ids: impl IntoIterator<Item = i64>) {
        let mut appender = conn.appender("postbacks").unwrap();
        for id in ids {
            appender
                .append_row(params![id, fingerprint(id), id % 7])
                .unwrap();
        }
    }

    fn spans(conn: &Connection) -> Vec<(i64, i64)> {
        conn.prepare("SELECT span, last_postback_id FROM fingerprint_filters ORDER BY span")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap()
    }

    #[test]
    fn spans_start_at_their_first_id() {
        assert_eq!(first_id(0), 1);
        assert_eq!(first_id(1), SPAN + 1);
    }

    /// Ids with gaps of 10^8 (as in the benchmark's archive): one span each, found
    /// without counting up to the largest id; a span that fills further is rebuilt;
    /// postbacks from `before` on are neither covered nor found.
    #[test]
    fn cover_builds_the_spans_that_hold_ids_and_rebuilds_the_one_that_grew() {
        let conn = archive();
        let ids: Vec<i64> = (0..20).map(|k| k * 100_000_000 + 1).collect();
        store(&conn, ids.iter().copied());
        let before = ids[19] + 1;
        cover(&conn, before).unwrap();
        let expected: Vec<(i64, i64)> = ids.iter().map(|&id| ((id - 1) / SPAN, id)).collect();
        assert_eq!(spans(&conn), expected);

        store(&conn, [before, before + 1]);
        cover(&conn, before + 1).unwrap();
        let last = spans(&conn).last().copied();
        assert_eq!(
            last,
            Some(((before - 1) / SPAN, before)),
            "rebuilt up to before - 1"
        );
        assert_eq!(spans(&conn).len(), 20);
        cover(&conn, before + 1).unwrap();
        assert_eq!(spans(&conn).len(), 20, "nothing to build twice");

        let wanted: HashSet<u128> = [before, before + 1, 5].map(fingerprint).into();
        let found = stored_before(&conn, &wanted, before + 1).unwrap();
        assert_eq!(
            found,
            Earlier::from([(fingerprint(before), (before, before % 7))])
        );
    }

    /// More spans with candidates than [`MAX_SPAN_QUERIES`] are asked about in one
    /// query; fewer, a query a span: both find exactly what is stored.
    #[test]
    fn earlier_postbacks_are_found_in_few_spans_and_in_many() {
        let conn = archive();
        let ids: Vec<i64> = (0..20).map(|k| k * SPAN + 3).collect();
        store(&conn, ids.iter().copied());
        let before = ids[19] + 1;
        cover(&conn, before).unwrap();
        let expect = |ids: &[i64]| -> Earlier {
            ids.iter()
                .map(|&id| (fingerprint(id), (id, id % 7)))
                .collect()
        };
        for some in [&ids[..3], &ids[..]] {
            let mut wanted: HashSet<u128> = some.iter().map(|&id| fingerprint(id)).collect();
            wanted.insert(fingerprint(4));
            assert_eq!(stored_before(&conn, &wanted, before).unwrap(), expect(some));
        }
    }

    #[test]
    fn a_filter_finds_exactly_the_fingerprints_whose_top_bits_it_holds() {
        let stored: Vec<u128> = (1..=1000u128)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .collect();
        let filter = encode(stored.iter().map(|&f| key(f)).collect());
        assert_eq!(filter.len(), 1000 * KEY_BYTES);
        let other = stored[7] ^ 1; // the same top bits: a false match, confirmed later
        let absent = !stored[3];
        let wanted = Wanted::new(&HashSet::from([
            stored[999],
            stored[0],
            other,
            absent,
            stored[500],
        ]));
        let mut hits = wanted.matching(&filter);
        hits.sort_unstable();
        let mut expected = vec![stored[999], stored[0], other, stored[500]];
        expected.sort_unstable();
        assert_eq!(hits, expected);
        assert!(
            wanted.matching(&filter[..5]).is_empty(),
            "a cut-off record is no key"
        );
    }

    /// A filter built from `postbacks` matches; one that lost a key, or names a
    /// postback `postbacks` does not hold, does not; a missing filter is no fault.
    #[test]
    fn filters_that_differ_from_the_postbacks_of_their_span_are_found() {
        let conn = archive();
        store(&conn, (1..=10).chain(SPAN + 1..=SPAN + 5));
        cover(&conn, SPAN + 6).unwrap();
        assert_eq!(filters_that_differ(&conn).unwrap(), Vec::<i64>::new());
        conn.execute_batch("DELETE FROM postbacks WHERE postback_id = 4")
            .unwrap();
        assert_eq!(filters_that_differ(&conn).unwrap(), [0]);
        conn.execute_batch(
            "DELETE FROM fingerprint_filters WHERE span = 0;
             UPDATE fingerprint_filters SET keys = from_hex(substr(hex(keys), 13)) WHERE span = 1;",
        )
        .unwrap();
        assert_eq!(filters_that_differ(&conn).unwrap(), [1]);
    }
}
