//! Parse, step 1: turn a file's bytes into UTF-8 text for the XML reader.
//!
//! Handles a UTF-8 or UTF-16 byte-order mark (also doubled), UTF-16 without one, the
//! `encoding="ISO-8859-1"` declarations real archives carry, and bytes that are not
//! valid UTF-8, and rejects what is plainly not XML (empty, binary, not starting with
//! `<`) before any parsing.

use std::borrow::Cow;

use crate::problem::{Problem, ProblemKind};

/// Decoded text plus the problem met while decoding, if any (the text is still usable).
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub problem: Option<Problem>,
}

/// Decode `bytes` to text, or say why the file cannot be a postback document.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let what = if bytes.is_empty() {
            "the file is empty"
        } else {
            "the file holds only whitespace"
        };
        return Err(Problem::whole_file(ProblemKind::EmptyFile, what));
    }
    if let Some(decoded) = decode_utf16(bytes) {
        if decoded.text.contains('\0') {
            return Err(Problem::whole_file(
                ProblemKind::NotXml,
                "binary content (a NUL character in UTF-16 text), not XML",
            ));
        }
        return check_markup(decoded);
    }
    let mut bytes = bytes;
    while let Some(after_mark) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        bytes = after_mark;
    }
    if let Some(offset) = memchr::memchr(0, bytes) {
        return Err(binary(offset));
    }
    let decoded = if declares_single_byte_encoding(bytes) {
        Decoded {
            text: Cow::Owned(windows_1252(bytes)),
            problem: None,
        }
    } else {
        // simdutf8 checks plain ASCII many times faster than `std::str::from_utf8`,
        // which took about 2% of an import's CPU; its error says where, as std's does.
        match simdutf8::compat::from_utf8(bytes) {
            Ok(text) => Decoded {
                text: Cow::Borrowed(text),
                problem: None,
            },
            Err(e) => Decoded {
                text: Cow::Owned(windows_1252(bytes)),
                problem: Some(Problem::whole_file(
                    ProblemKind::Encoding,
                    format!(
                        "not valid UTF-8 (first bad byte at offset {}); read as Windows-1252",
                        e.valid_up_to()
                    ),
                )),
            },
        }
    };
    check_markup(decoded)
}

fn check_markup(decoded: Decoded<'_>) -> Result<Decoded<'_>, Problem> {
    let first = decoded.text.trim_start().chars().next();
    if first != Some('<') {
        let start: String = decoded.text.trim_start().chars().take(40).collect();
        return Err(Problem::whole_file(
            ProblemKind::NotXml,
            format!("text that is not XML (starts with {start:?})"),
        ));
    }
    Ok(decoded)
}

fn binary(offset: usize) -> Problem {
    Problem::whole_file(
        ProblemKind::NotXml,
        format!("binary content (a NUL byte at offset {offset}), not XML"),
    )
}

/// UTF-16 with a byte-order mark, which some Windows tools write, or without one when
/// the text starts with `<` (`3C 00` or `00 3C`, as the XML specification's appendix F
/// detects it). Units that are not valid UTF-16 (a lone surrogate, an odd last byte)
/// are read as U+FFFD and reported.
fn decode_utf16(bytes: &[u8]) -> Option<Decoded<'static>> {
    let (little, units) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        [b'<', 0, ..] => (true, bytes),
        [0, b'<', ..] => (false, bytes),
        _ => return None,
    };
    let pairs = units.chunks_exact(2);
    let odd_byte = !pairs.remainder().is_empty();
    let units = pairs.map(|pair| match *pair {
        [a, b] if little => u16::from_le_bytes([a, b]),
        [a, b] => u16::from_be_bytes([a, b]),
        _ => 0xFFFD,
    });
    let mut invalid = 0usize;
    let mut text: String = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                invalid += 1;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if odd_byte {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    // A mark encoded again after the first (tools that add one blindly).
    let marks = text.len() - text.trim_start_matches('\u{feff}').len();
    text.drain(..marks);
    let problem = (invalid > 0 || odd_byte).then(|| {
        let odd = if odd_byte { ", an odd last byte" } else { "" };
        Problem::whole_file(
            ProblemKind::Encoding,
            format!("not valid UTF-16 ({invalid} lone surrogate(s){odd}); read as U+FFFD"),
        )
    });
    Some(Decoded {
        text: Cow::Owned(text),
        problem,
    })
}

/// True when the XML declaration names ISO-8859-1, Latin-1 or Windows-1252.
/// Like browsers, we read all three as Windows-1252, its superset.
fn declares_single_byte_encoding(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(200)];
    if !head.starts_with(b"<?xml") {
        return false;
    }
    let Some(end) = memchr::memmem::find(head, b"?>") else {
        return false;
    };
    let decl = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let Some(at) = decl.find("encoding") else {
        return false;
    };
    let value = decl[at + "encoding".len()..]
        .trim_start_matches([' ', '=', '"', '\''])
        .split(['"', '\''])
        .next()
        .unwrap_or("");
    matches!(
        value.trim(),
        "iso-8859-1"
            | "iso8859-1"
            | "iso_8859-1"
            | "latin1"
            | "latin-1"
            | "l1"
            | "windows-1252"
            | "cp1252"
    )
}

/// Windows-1252 to UTF-8. Bytes 0x80-0x9F map to the code page's printable characters;
/// the five it leaves undefined map to the C1 control of the same number, as in Latin-1.
fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .unwrap_or(char::REPLACEMENT_CHARACTER),
            _ => char::from(b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        decode(bytes).unwrap().text.into_owned()
    }

    #[test]
    fn strips_utf8_bom() {
        assert_eq!(text(b"\xEF\xBB\xBF<POSTBACK/>"), "<POSTBACK/>");
    }

    #[test]
    fn reads_declared_latin1() {
        let bytes = b"<?xml version='1.0' encoding=\"ISO-8859-1\"?><TEXT>Ol\xE1 \x80</TEXT>";
        let decoded = decode(bytes).unwrap();
        assert!(decoded.problem.is_none());
        assert!(decoded.text.ends_with("<TEXT>Olá €</TEXT>"));
    }

    #[test]
    fn invalid_utf8_falls_back_with_a_problem() {
        let decoded = decode(b"<TEXT>caf\xE9</TEXT>").unwrap();
        assert_eq!(decoded.text, "<TEXT>café</TEXT>");
        let problem = decoded.problem.unwrap();
        assert_eq!(problem.kind, ProblemKind::Encoding);
        assert_eq!(
            problem.message,
            "not valid UTF-8 (first bad byte at offset 9); read as Windows-1252"
        );
    }

    #[test]
    fn reads_utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<A>é</A>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(text(&bytes), "<A>é</A>");
    }

    #[test]
    fn rejects_empty_binary_and_plain_text() {
        assert_eq!(decode(b"").err().unwrap().message, "the file is empty");
        assert_eq!(
            decode(b" \r\n").err().unwrap().message,
            "the file holds only whitespace"
        );
        let binary = decode(b"\x1f\x8b\x00\x01").err().unwrap();
        assert_eq!(binary.kind, ProblemKind::NotXml);
        assert_eq!(
            binary.message,
            "binary content (a NUL byte at offset 2), not XML"
        );
        let plain = decode(b"502 Bad Gateway").err().unwrap();
        assert_eq!(
            plain.message,
            "text that is not XML (starts with \"502 Bad Gateway\")"
        );
    }
}
