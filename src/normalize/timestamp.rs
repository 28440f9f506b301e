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

/// Parse one timestamp, or `None` when the text is not one.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (local, offset_minutes) = split_offset(text)?;
    let local = parse_local(local)?;
    let offset = i64::from(offset_minutes.unwrap_or(0));
    let utc_micros = local.and_utc().timestamp_micros() - offset * 60_000_000;
    Some(Timestamp {
        utc_micros,
        offset_minutes,
    })
}

/// `YYYY-MM-DDTHH:MM:SS` (or a space for the `T`), optional `.fraction`; read by hand
/// because this runs for every postback and chrono's format parser is slow.
fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &text[range];
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let micros = match &text[19..] {
        "" => 0,
        fraction => {
            let digits = fraction.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|d| d.is_ascii_digit())
            {
                return None;
            }
            let padded = format!("{digits:0<6}");
            padded[..6].parse().ok()?
        }
    };
    date.and_hms_micro_opt(number(11..13)?, number(14..16)?, number(17..19)?, micros)
}

/// Splits `2014-07-02T14:32:23-04` into the local part and the offset in minutes.
fn split_offset(text: &str) -> Option<(&str, Option<i16>)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, Some(0)));
    }
    // The date's own hyphens end at byte 10; a sign after that starts the offset.
    let Some(sign_at) = text
        .get(10..)
        .and_then(|t| t.rfind(['+', '-']))
        .map(|i| i + 10)
    else {
        return Some((text, None));
    };
    let sign: i16 = if text.as_bytes()[sign_at] == b'-' {
        -1
    } else {
        1
    };
    let digits: String = text[sign_at + 1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i16>().ok()?, 0),
        4 => (
            digits[..2].parse::<i16>().ok()?,
            digits[2..].parse::<i16>().ok()?,
        ),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some((&text[..sign_at], Some(sign * (hours * 60 + minutes))))
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
}
