//! Parse, helper: the attributes of a start tag, read leniently.
//!
//! Real postbacks carry `xmlns:xsi` attributes, and the platform's own pass-postback
//! example breaks the attribute name `xsi:noNamespaceSchemaLocation` across two lines.
//! A strict XML reader rejects that; we join the halves and report the repair.

use crate::parse::{Field, excerpt};

/// Most attributes read on one tag (real postbacks carry two). A tag with more is
/// not read: the parser reports it and skips to the next `<POSTBACK`.
pub const MAX_ATTRIBUTES: usize = 256;

/// Attributes of one tag, plus a description of the repair made, if any.
pub struct TagAttributes {
    pub attributes: Vec<Field<'static>>,
    pub repair: Option<String>,
    /// The tag has more than [`MAX_ATTRIBUTES`] attributes; `attributes` holds only
    /// the first of them.
    pub too_many: bool,
}

struct RawAttribute<'a> {
    name: &'a str,
    value: Option<&'a str>,
    /// Whether a line break separates this attribute from the previous one.
    after_line_break: bool,
}

/// Read `raw`, the text of a start tag after its name.
pub fn parse_attributes(raw: &str) -> TagAttributes {
    let mut out: Vec<Field<'static>> = Vec::new();
    let mut repair = None;
    let mut pending_valueless: Option<&str> = None;
    let tokens = tokenize(raw, MAX_ATTRIBUTES + 1);
    let too_many = tokens.len() > MAX_ATTRIBUTES;
    for attribute in tokens.into_iter().take(MAX_ATTRIBUTES) {
        if let Some(head) = pending_valueless.take() {
            if let (true, Some(value)) = (attribute.after_line_break, attribute.value) {
                let joined = format!("{head}{}", attribute.name);
                repair = Some(format!(
                    "attribute name broken across lines ({} + {}) read as {}",
                    excerpt(head, 60),
                    excerpt(attribute.name, 60),
                    excerpt(&joined, 60)
                ));
                out.push(Field::new(joined, unescape(value)));
                continue;
            }
            out.push(Field::new(head.to_string(), String::new()));
        }
        match attribute.value {
            Some(value) => out.push(Field::new(attribute.name.to_string(), unescape(value))),
            None => pending_valueless = Some(attribute.name),
        }
    }
    if let Some(head) = pending_valueless {
        out.push(Field::new(head.to_string(), String::new()));
    }
    TagAttributes {
        attributes: out,
        repair,
        too_many,
    }
}

fn unescape(value: &str) -> String {
    quick_xml::escape::unescape(value)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| value.to_string())
}

/// Splits `raw` into at most `limit` attributes, in one pass over it.
fn tokenize(raw: &str, limit: usize) -> Vec<RawAttribute<'_>> {
    let mut attributes = Vec::new();
    // Trimmed once: trimming the end again for each attribute would cost time
    // quadratic in a tag that ends with a long run of spaces or slashes.
    let mut rest = raw.trim().trim_end_matches('/');
    while attributes.len() < limit {
        let trimmed = rest.trim_start();
        let skipped = rest.len() - trimmed.len();
        let after_line_break = rest.get(..skipped).is_some_and(|s| s.contains('\n'));
        rest = trimmed;
        if rest.is_empty() {
            break;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let (name, after_name) = rest.split_at_checked(name_end).unwrap_or((rest, ""));
        rest = after_name;
        let value = match rest.trim_start().strip_prefix('=') {
            Some(after_eq) => {
                let (value, remainder) = take_value(after_eq.trim_start());
                rest = remainder;
                Some(value)
            }
            None => None,
        };
        // An empty name is a stray `=`, whose value was just stepped over.
        if !name.is_empty() {
            attributes.push(RawAttribute {
                name,
                value,
                after_line_break,
            });
        }
    }
    attributes
}

/// The value after `=`, quoted or not, and the text after it.
fn take_value(s: &str) -> (&str, &str) {
    for quote in ['"', '\''] {
        if let Some(body) = s.strip_prefix(quote) {
            return body.split_once(quote).unwrap_or((body, ""));
        }
    }
    match s.find(char::is_whitespace) {
        Some(end) => s.split_at_checked(end).unwrap_or((s, "")),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        parse_attributes(raw)
            .attributes
            .into_iter()
            .map(|f| (f.name.into_owned(), f.value.into_owned()))
            .collect()
    }

    #[test]
    fn reads_quoted_values_and_spaces_around_equals() {
        assert_eq!(
            pairs(
                r#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation ="x.xsd""#
            ),
            vec![
                (
                    "xmlns:xsi".to_string(),
                    "http://www.w3.org/2001/XMLSchema-instance".to_string()
                ),
                (
                    "xsi:noNamespaceSchemaLocation".to_string(),
                    "x.xsd".to_string()
                ),
            ]
        );
        assert_eq!(
            pairs(" a='1 &amp; 2'"),
            vec![("a".to_string(), "1 & 2".to_string())]
        );
    }

    #[test]
    fn joins_a_name_broken_across_lines() {
        let parsed = parse_attributes(
            " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:no\nNamespaceSchemaLocation =\"http://www.skycore.com/schema/pass-postback.xsd\"",
        );
        assert_eq!(parsed.attributes[1].name, "xsi:noNamespaceSchemaLocation");
        assert_eq!(
            parsed.attributes[1].value,
            "http://www.skycore.com/schema/pass-postback.xsd"
        );
        assert_eq!(
            parsed.repair.unwrap(),
            "attribute name broken across lines (\"xsi:no\" + \"NamespaceSchemaLocation\") read as \"xsi:noNamespaceSchemaLocation\""
        );
    }

    #[test]
    fn keeps_valueless_attributes() {
        assert_eq!(
            pairs(" checked id=7"),
            vec![("checked".into(), "".into()), ("id".into(), "7".into())]
        );
    }
}
