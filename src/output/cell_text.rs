//! Output, helper: a [`Cell`] as the text DuckDB gives it (`CAST(value AS VARCHAR)`),
//! so every format prints values the way the DuckDB CLI does.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use crate::value::Cell;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
const NANOS_PER_DAY: i64 = MICROS_PER_DAY * 1_000;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01 (DuckDB's day 0), minus one.
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

/// Append `cell`'s DuckDB text to `out`; NULL is `NULL`.
pub fn write_text(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => out.push_str("NULL"),
        Cell::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Cell::Int(n) => push_display(out, n),
        Cell::UInt(n) => push_display(out, n),
        Cell::HugeInt(n) => push_display(out, n),
        Cell::UHugeInt(n) => push_display(out, n),
        Cell::Float(n) => write_float(out, f64::from(*n), &format!("{n:e}")),
        Cell::Double(n) => write_float(out, *n, &format!("{n:e}")),
        Cell::Decimal(text) | Cell::Text(text) | Cell::Json(text) => out.push_str(text),
        Cell::Blob(bytes) => write_blob(out, bytes),
        Cell::Date(days) => write_date(out, *days),
        Cell::Time(micros) => write_time_of_day(out, *micros, 6),
        Cell::Timestamp(micros) => write_timestamp(out, *micros, MICROS_PER_DAY, 6),
        Cell::TimestampNs(nanos) => write_timestamp(out, *nanos, NANOS_PER_DAY, 9),
        Cell::TimestampTz(micros) => {
            write_timestamp(out, *micros, MICROS_PER_DAY, 6);
            if micros.unsigned_abs() != i64::MAX.unsigned_abs() {
                out.push_str("+00");
            }
        }
        Cell::Interval {
            months,
            days,
            micros,
        } => write_interval(out, *months, *days, *micros),
        Cell::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                // A list of JSON is printed as JSON text, unquoted.
                match item {
                    Cell::Json(json) => out.push_str(json),
                    item => write_member(out, item),
                }
            }
            out.push(']');
        }
        Cell::Struct(fields) => write_struct(out, fields),
        Cell::Map(entries) => {
            out.push('{');
            for (index, (key, value)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_member(out, key);
                out.push('=');
                write_member(out, value);
            }
            out.push('}');
        }
    }
}

/// `cell`'s DuckDB text as a new string.
pub fn text(cell: &Cell) -> String {
    let mut out = String::new();
    write_text(&mut out, cell);
    out
}

/// Whether the text of `cell` is a number (JSON writes it unquoted).
pub fn is_number(cell: &Cell) -> bool {
    match cell {
        Cell::Int(_) | Cell::UInt(_) => true,
        Cell::Float(n) => n.is_finite(),
        Cell::Double(n) => n.is_finite(),
        _ => false,
    }
}

fn push_display(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

/// Whether a struct is a `ROW(...)` value, whose fields have no names.
pub fn is_unnamed(fields: &[(String, Cell)]) -> bool {
    !fields.is_empty() && fields.iter().all(|(name, _)| name.is_empty())
}

fn write_struct(out: &mut String, fields: &[(String, Cell)]) {
    let unnamed = is_unnamed(fields);
    out.push(if unnamed { '(' } else { '{' });
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        if !unnamed {
            write_quoted(out, name);
            out.push_str(": ");
        }
        write_member(out, value);
    }
    out.push(if unnamed { ')' } else { '}' });
}

/// A value inside a list, struct or map: nested values as they are, scalars quoted
/// when their text would be ambiguous there (DuckDB's `NestedToVarcharCast`).
fn write_member(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Null | Cell::List(_) | Cell::Struct(_) | Cell::Map(_) => write_text(out, cell),
        scalar => {
            let member = text(scalar);
            if needs_quotes(&member) {
                write_quoted(out, &member);
            } else {
                out.push_str(&member);
            }
        }
    }
}

fn needs_quotes(member: &str) -> bool {
    let bytes = member.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    match bytes {
        [] => true,
        [first, ..] if is_space(*first) => true,
        [_, .., last] if is_space(*last) => true,
        _ if member.eq_ignore_ascii_case("null") => true,
        _ => bytes.iter().any(|b| {
            matches!(
                b,
                b'"' | b'\'' | b'(' | b')' | b',' | b':' | b'=' | b'[' | b'\\' | b']' | b'{' | b'}'
            )
        }),
    }
}

fn write_quoted(out: &mut String, member: &str) {
    out.push('\'');
    for c in member.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
}

/// Python's `repr` rules, which DuckDB follows: the shortest text that reads back as
/// the same number, in exponent form below 1e-4 and from 1e16 on (`1.0`, `1e+20`).
/// `scientific` is Rust's shortest `{:e}` form of the same number.
fn write_float(out: &mut String, value: f64, scientific: &str) {
    if value.is_nan() {
        out.push_str("nan");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is a number");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        } else {
            let whole = exponent as usize + 1;
            if digits.len() <= whole {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', whole - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..whole]);
                out.push('.');
                out.push_str(&digits[whole..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
}

/// Bytes 32..=126 as they are (but `\`, `'` and `"`), the others as `\xAB`.
fn write_blob(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if (32..=126).contains(&byte) && !matches!(byte, b'\\' | b'\'' | b'"') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
}

fn write_date(out: &mut String, days: i32) {
    if days == i32::MAX || days == -i32::MAX {
        out.push_str(if days > 0 { "infinity" } else { "-infinity" });
        return;
    }
    let Some(date) = days
        .checked_add(UNIX_EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
    else {
        // Beyond chrono's ±262,143 years; DuckDB allows a little more.
        let _ = write!(out, "{days} days since 1970-01-01");
        return;
    };
    let year = date.year();
    let shown_year = if year <= 0 { 1 - year } else { year };
    let _ = write!(out, "{shown_year:04}-{:02}-{:02}", date.month(), date.day());
    if year <= 0 {
        out.push_str(" (BC)");
    }
}

/// `HH:MM:SS` and, when not zero, the fraction of a second without trailing zeros;
/// `per_second` is 10^`fraction_digits`.
fn write_time_of_day(out: &mut String, ticks: i64, fraction_digits: u32) {
    let per_second = 10_i64.pow(fraction_digits);
    let seconds = ticks / per_second;
    let fraction = ticks % per_second;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    write_fraction(out, fraction, fraction_digits);
}

fn write_fraction(out: &mut String, fraction: i64, digits: u32) {
    if fraction == 0 {
        return;
    }
    let text = format!("{fraction:0width$}", width = digits as usize);
    out.push('.');
    out.push_str(text.trim_end_matches('0'));
}

fn write_timestamp(out: &mut String, ticks: i64, per_day: i64, fraction_digits: u32) {
    if ticks == i64::MAX || ticks == -i64::MAX {
        out.push_str(if ticks > 0 { "infinity" } else { "-infinity" });
        return;
    }
    let days = ticks.div_euclid(per_day);
    write_date(out, i32::try_from(days).unwrap_or(i32::MIN + 1));
    out.push(' ');
    write_time_of_day(out, ticks.rem_euclid(per_day), fraction_digits);
}

/// `1 year 2 months 3 days 04:05:06.5`, or `00:00:00` for an empty interval.
fn write_interval(out: &mut String, months: i32, days: i32, micros: i64) {
    let start = out.len();
    let part = |out: &mut String, value: i32, unit: &str| {
        if value == 0 {
            return;
        }
        if out.len() > start {
            out.push(' ');
        }
        let plural = if value == 1 || value == -1 { "" } else { "s" };
        let _ = write!(out, "{value} {unit}{plural}");
    };
    part(out, months / 12, "year");
    part(out, months % 12, "month");
    part(out, days, "day");
    if micros != 0 {
        if out.len() > start {
            out.push(' ');
        }
        if micros < 0 {
            out.push('-');
        }
        let micros = micros.unsigned_abs();
        let seconds = micros / 1_000_000;
        let _ = write!(
            out,
            "{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        write_fraction(out, (micros % 1_000_000) as i64, 6);
    } else if out.len() == start {
        out.push_str("00:00:00");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(cell: Cell) -> String {
        text(&cell)
    }

    #[test]
    fn floats_print_like_python_repr_as_duckdb_does() {
        let cases = [
            (1.0, "1.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1e20, "1e+20"),
            (1.2345678901234568e16, "1.2345678901234568e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-2.5, "-2.5"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(show(Cell::Double(value)), expected, "{value:e}");
        }
        assert_eq!(show(Cell::Float(0.3)), "0.3");
        assert_eq!(show(Cell::Float(3e-7)), "3e-07");
        assert_eq!(show(Cell::Float(16_777_216.0)), "16777216.0");
    }

    #[test]
    fn times_print_like_duckdb() {
        // 2021-01-01 12:00:00.5 UTC
        let noon = 1_609_502_400 * MICROS_PER_SECOND;
        assert_eq!(show(Cell::Timestamp(noon)), "2021-01-01 12:00:00");
        assert_eq!(
            show(Cell::Timestamp(noon + 500_000)),
            "2021-01-01 12:00:00.5"
        );
        assert_eq!(
            show(Cell::TimestampTz(noon + 500_000)),
            "2021-01-01 12:00:00.5+00"
        );
        assert_eq!(
            show(Cell::TimestampNs(noon * 1000 + 123_456_789)),
            "2021-01-01 12:00:00.123456789"
        );
        assert_eq!(show(Cell::Timestamp(-1)), "1969-12-31 23:59:59.999999");
        assert_eq!(show(Cell::Timestamp(i64::MAX)), "infinity");
        assert_eq!(show(Cell::Date(-i32::MAX)), "-infinity");
        assert_eq!(show(Cell::Date(0)), "1970-01-01");
        let days = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d).unwrap().num_days_from_ce() - UNIX_EPOCH_FROM_CE
        };
        assert_eq!(show(Cell::Date(days(12345, 1, 1))), "12345-01-01");
        // 0057-03-15 (BC) is the proleptic year -56.
        assert_eq!(show(Cell::Date(days(-56, 3, 15))), "0057-03-15 (BC)");
        assert_eq!(show(Cell::Time(24 * 3600 * MICROS_PER_SECOND)), "24:00:00");
    }

    #[test]
    fn intervals_print_like_duckdb() {
        let interval = |months, days, micros| {
            show(Cell::Interval {
                months,
                days,
                micros,
            })
        };
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(
            interval(14, 3, 4 * 3600 * MICROS_PER_SECOND + 500_000),
            "1 year 2 months 3 days 04:00:00.5"
        );
        assert_eq!(
            interval(-14, -1, -(3723 * MICROS_PER_SECOND + 500_000)),
            "-1 year -2 months -1 day -01:02:03.5"
        );
        assert_eq!(interval(0, 0, 100 * 3600 * MICROS_PER_SECOND), "100:00:00");
    }

    #[test]
    fn nested_values_quote_members_only_when_ambiguous() {
        let list = Cell::List(vec![
            Cell::Text("a".into()),
            Cell::Text("b c".into()),
            Cell::Text("it's".into()),
            Cell::Null,
            Cell::Text("x,y".into()),
            Cell::Text(String::new()),
            Cell::Text(" a".into()),
            Cell::Text("null".into()),
            Cell::Text("a\\b".into()),
        ]);
        assert_eq!(
            show(list),
            r"[a, b c, 'it\'s', NULL, 'x,y', '', ' a', 'null', 'a\\b']"
        );
        let record = Cell::Struct(vec![
            ("a".into(), Cell::Int(1)),
            ("x y".into(), Cell::List(vec![Cell::Int(1), Cell::Int(2)])),
            ("t".into(), Cell::Timestamp(0)),
        ]);
        assert_eq!(
            show(record),
            "{'a': 1, 'x y': [1, 2], 't': '1970-01-01 00:00:00'}"
        );
        let map = Cell::Map(vec![
            (Cell::Text("k".into()), Cell::Int(1)),
            (Cell::Text("k 2".into()), Cell::Int(2)),
        ]);
        assert_eq!(show(map), "{k=1, k 2=2}");
        let json = Cell::Json("{\"a\": 1}".into());
        assert_eq!(show(Cell::List(vec![json.clone()])), "[{\"a\": 1}]");
        assert_eq!(
            show(Cell::Struct(vec![("j".into(), json)])),
            "{'j': '{\"a\": 1}'}"
        );
        let row = Cell::Struct(vec![
            (String::new(), Cell::Int(1)),
            (String::new(), Cell::Text("a".into())),
        ]);
        assert_eq!(show(row), "(1, a)");
    }

    #[test]
    fn blobs_escape_all_but_plain_ascii() {
        assert_eq!(
            show(Cell::Blob(b"\xAB\x00a\\b'\"c".to_vec())),
            r"\xAB\x00a\x5Cb\x27\x22c"
        );
    }
}
