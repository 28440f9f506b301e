//! Parse, helper: the attributes of a start tag, read leniently.
//!
//! Real postbacks carry `xmlns:xsi` attributes, and the platform's own pass-postback
//! example breaks the attribute name `xsi:noNamespaceSchemaLocation` across two lines.
//! A strict XML reader rejects that; we join the halves and report the repair.

use crate::parse::Field;

/// Attributes of one tag, plus a description of the repair made, if any.
pub struct TagAttributes {
    pub attributes: Vec<Field<'static>>,
    pub repair: Option<String>,
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
    for attribute in tokenize(raw) {
        if let Some(head) = pending_valueless.take() {
            if attribute.after_line_break && attribute.value.is_some() {
                let joined = format!("{head}{}", attribute.name);
                repair = Some(format!(
                    "attribute name broken across lines ({head:?} + {:?}) read as {joined:?}",
                    attribute.name
                ));
                out.push(Field::new(joined, unescape(attribute.value.unwrap_or(""))));
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
    }
}

fn unescape(value: &str) -> String {
    quick_xml::escape::unescape(value)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| value.to_string())
}

fn tokenize(raw: &str) -> Vec<RawAttribute<'_>> {
    let mut attributes = Vec::new();
    let mut rest = raw;
    loop {
        let trimmed = rest.trim_start();
        let after_line_break = rest[..rest.len() - trimmed.len()].contains('\n');
        rest = trimmed.trim_end_matches('/');
        if rest.trim().is_empty() {
            return attributes;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = &rest[name_end..];
        let before_eq = rest.trim_start();
        let value = if let Some(after_eq) = before_eq.strip_prefix('=') {
            let (value, remainder) = take_value(after_eq.trim_start());
            rest = remainder;
            Some(value)
        } else {
            None
        };
        if !name.is_empty() {
            attributes.push(RawAttribute {
                name,
                value,
                after_line_break,
            });
        } else if value.is_none() {
            rest = &rest[rest.chars().next().map_or(0, char::len_utf8)..];
        }
    }
}

fn take_value(s: &str) -> (&str, &str) {
    match s.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let body = &s[1..];
            match body.find(quote) {
                Some(end) => (&body[..end], &body[end + 1..]),
                None => (body, ""),
            }
        }
        _ => {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            (&s[..end], &s[end..])
        }
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
