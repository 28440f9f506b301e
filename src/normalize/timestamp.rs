//! Normalize, helper: read the platform's timestamps into a UTC instant and the original offset.
//!
//! The reference shows `2013-11-26T11:37:11-05:00`, the short `2014-07-02T14:32:23-04`,
//! and real archives add `…Z`. All are accepted, with `T` or a space before the time
//! and optional fractional seconds.

use chrono::{NaiveDate, NaiveDateTime};

/// A moment as the platform wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Microseconds since the Unix epoch, UTC.
    pub utc_micros: i64,
    /// The offset written after the time, in minutes east of UTC; `None` when the text
    /// had no offset (the time is then taken as UTC).
    pub offset_minutes: Option<i16>,
}

/// Parse one timestamp, or `None` when the text is not one. Never panics: the text is
/// read as bytes, so a multibyte character anywhere (`2014-07-02T14:32:2é`) is simply
/// not a digit.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (local, offset_minutes) = split_offset(text)?;
    let local = parse_local(local.as_bytes())?;
    let offset = i64::from(offset_minutes.unwrap_or(0));
    let utc_micros = local
        .and_utc()
        .timestamp_micros()
        .checked_sub(offset * 60_000_000)?;
    Some(Timestamp {
        utc_micros,
        offset_minutes,
    })
}

/// `YYYY-MM-DDTHH:MM:SS` (or a space for the `T`), optional `.fraction`; read by hand
/// because this runs for every postback and chrono's format parser is slow.
fn parse_local(text: &[u8]) -> Option<NaiveDateTime> {
    let (head, fraction) = text.split_at_checked(19)?;
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T' | b' ',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
    ] = *head
    else {
        return None;
    };
    let year = i32::try_from(digits(&[y0, y1, y2, y3])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(&[mo0, mo1])?, digits(&[d0, d1])?)?;
    let micros = match fraction {
        [] => 0,
        [b'.', decimals @ ..]
            if (1..=9).contains(&decimals.len()) && decimals.iter().all(u8::is_ascii_digit) =>
        {
            let kept = decimals.get(..6).unwrap_or(decimals);
            let scale = 10u32.pow((6 - kept.len()) as u32);
            digits(kept)? * scale
        }
        _ => return None,
    };
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[mi0, mi1])?, digits(&[s0, s1])?);
    date.and_hms_micro_opt(hour, minute, second, micros)
}

/// The number written by ASCII digits (at most nine, so it fits); `None` for anything else.
fn digits(ascii: &[u8]) -> Option<u32> {
    if ascii.is_empty() || ascii.len() > 9 {
        return None;
    }
    ascii.iter().try_fold(0u32, |number, &digit| {
        digit
            .is_ascii_digit()
            .then(|| number * 10 + u32::from(digit - b'0'))
    })
}

/// Splits `2014-07-02T14:32:23-04` into the local part and the offset in minutes.
fn split_offset(text: &str) -> Option<(&str, Option<i16>)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, Some(0)));
    }
    // The date's own hyphens end at byte 10; a sign after that starts the offset.
    let sign_at = text.bytes().rposition(|b| matches!(b, b'+' | b'-'));
    let Some(sign_at) = sign_at.filter(|at| *at >= 10) else {
        return Some((text, None));
    };
    // The sign is ASCII, so both halves are whole characters.
    let (local, offset) = text.split_at_checked(sign_at)?;
    let (sign, written) = offset.as_bytes().split_first()?;
    let sign: i16 = if *sign == b'-' { -1 } else { 1 };
    // `04`, `0400` or `04:00`: two or four digits, colons anywhere.
    let mut written_digits = [0u8; 4];
    let mut count = 0;
    for digit in written.iter().copied().filter(|b| *b != b':') {
        *written_digits.get_mut(count)? = digit;
        count += 1;
    }
    let (hours, minutes) = match written_digits.get(..count)? {
        [h0, h1] => (digits(&[*h0, *h1])?, 0),
        [h0, h1, m0, m1] => (digits(&[*h0, *h1])?, digits(&[*m0, *m1])?),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    let minutes = i16::try_from(hours * 60 + minutes).ok()?;
    Some((local, Some(sign * minutes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> (String, Option<i16>) {
        let ts = parse_timestamp(text).unwrap();
        let instant = chrono::DateTime::from_timestamp_micros(ts.utc_micros).unwrap();
        (
            instant.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            ts.offset_minutes,
        )
    }

    #[test]
    fn reads_every_form_in_the_reference() {
        assert_eq!(
            utc("2013-11-26T11:37:11-05:00"),
            ("2013-11-26 16:37:11".into(), Some(-300))
        );
        assert_eq!(
            utc("2014-07-02T14:32:23-04"),
            ("2014-07-02 18:32:23".into(), Some(-240))
        );
        assert_eq!(
            utc("2014-07-02T14:32:23Z"),
            ("2014-07-02 14:32:23".into(), Some(0))
        );
        assert_eq!(
            utc(" 2014-07-02 14:32:23.250+0530 "),
            ("2014-07-02 09:02:23.250".into(), Some(330))
        );
        assert_eq!(
            utc("2014-07-02T14:32:23"),
            ("2014-07-02 14:32:23".into(), None)
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for text in [
            "",
            "yesterday",
            "2014-13-02T14:32:23Z",
            "2014-07-02T14:32:23-4",
            "2014-07-02T14:32:23+99:00",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?}");
        }
    }

    /// Issue 8, item 1: byte slicing off a character boundary panicked on these.
    #[test]
    fn regression_multibyte_character_in_a_timestamp_panicked() {
        for text in [
            "2014-07-02T14:32:2\u{e9}",
            "2014-07-02T14:32:2\u{e9}Z",
            "2014-07-02T14:32:2\u{1f600}",
            "2014-07-02T14:32:2e\u{301}",
            "2014-07-02T14:32:23.2\u{e9}",
            "2014-07-02T14:32:23+0\u{e9}:00",
            "2014-07-\u{e9}T14:32:23",
            "\u{e9}014-07-02T14:32:23",
            "2014-07-02T14:32:23\u{e9}",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?}");
        }
    }

    const VALID: [&str; 5] = [
        "2013-11-26T11:37:11-05:00",
        "2014-07-02T14:32:23-04",
        "2014-07-02T14:32:23Z",
        "2014-07-02 14:32:23.250+0530",
        "2014-07-02T14:32:23",
    ];

    /// Characters of two, three and four bytes, a combining accent, and a sign and a
    /// digit from outside ASCII.
    const FOREIGN: [char; 6] = [
        '\u{e9}',
        '\u{2026}',
        '\u{1f600}',
        '\u{301}',
        '\u{2212}',
        '\u{663}',
    ];

    #[test]
    fn a_foreign_character_at_any_offset_of_a_valid_timestamp_is_not_one() {
        for valid in VALID {
            for at in 0..=valid.len() {
                for foreign in FOREIGN {
                    let mut text = valid.to_string();
                    text.insert(at, foreign);
                    assert_eq!(parse_timestamp(&text), None, "{text:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_or_refused_without_panic(text in "\\PC{0,40}") {
            let _ = parse_timestamp(&text);
        }

        #[test]
        fn any_character_inserted_anywhere_is_read_or_refused_without_panic(
            valid in proptest::sample::select(VALID.to_vec()),
            inserted in proptest::char::any(),
            at in 0usize..40,
        ) {
            let mut text = valid.to_string();
            text.insert(at.min(text.len()), inserted);
            let read = parse_timestamp(&text);
            if !inserted.is_ascii() && !inserted.is_whitespace() {
                proptest::prop_assert_eq!(read, None, "{:?}", text);
            }
        }
    }
}
