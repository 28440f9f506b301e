//! Normalize, helper: the JSON of `extra` and of list columns, written straight into a
//! postback's text (no JSON values built first, no allocation per field).
//!
//! The text is the one `serde_json` writes for the same object, byte for byte (keys
//! sorted as a `BTreeMap` sorts them, a name seen twice an array of its values, the
//! same escapes), so archives written before and after this writer agree; a test
//! checks it against `serde_json`.

/// One element or attribute kept in `extra`: its key is `@name` for an attribute.
#[derive(Debug, Clone, Copy)]
pub struct Extra<'r> {
    pub attribute: bool,
    pub name: &'r str,
    pub value: &'r str,
}

impl Extra<'_> {
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let at: &[u8] = if self.attribute { b"@" } else { b"" };
        at.iter().copied().chain(self.name.bytes())
    }

    fn same_key(&self, other: &Extra<'_>) -> bool {
        self.key().eq(other.key())
    }
}

/// Appends `{"key":"value","twice":["a","b"],…}` to `out`, keys in byte order, the
/// values of one key in the order they came.
pub fn write_object(out: &mut String, mut extras: Vec<Extra<'_>>) {
    // Stable: values of one key keep their order.
    extras.sort_by(|a, b| a.key().cmp(b.key()));
    out.push('{');
    let mut rest = extras.as_slice();
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|e| e.same_key(first)).count();
        let (group, after) = rest.split_at(same);
        if rest.len() < extras.len() {
            out.push(',');
        }
        out.push('"');
        if first.attribute {
            out.push('@');
        }
        escape_into(out, first.name);
        out.push_str("\":");
        match group {
            [one] => write_string(out, one.value),
            _ => write_array(out, group.iter().map(|e| e.value)),
        }
        rest = after;
    }
    out.push('}');
}

/// Appends `["a","b",…]` to `out`.
pub fn write_array<'v>(out: &mut String, items: impl IntoIterator<Item = &'v str>) {
    out.push('[');
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, item);
    }
    out.push(']');
}

fn write_string(out: &mut String, value: &str) {
    out.push('"');
    escape_into(out, value);
    out.push('"');
}

/// JSON string escapes as `serde_json` writes them: `\"`, `\\`, the five short control
/// escapes, `\u00xx` (lower-case hex) for the other control characters; all else as is.
fn escape_into(out: &mut String, value: &str) {
    let mut plain_from = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0x08 => "\\b",
            0x0C => "\\f",
            0x00..=0x1F => "",
            _ => continue,
        };
        // `at` is an ASCII byte, so both cuts fall on character boundaries.
        out.push_str(value.get(plain_from..at).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        } else {
            out.push_str(escape);
        }
        plain_from = at + 1;
    }
    out.push_str(value.get(plain_from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value as Json};

    /// The old way: a `serde_json` map, a name seen twice an array.
    fn by_serde(extras: &[Extra<'_>]) -> String {
        let mut map = Map::new();
        for e in extras {
            let key = format!("{}{}", if e.attribute { "@" } else { "" }, e.name);
            let value = Json::String(e.value.to_string());
            match map.get_mut(&key) {
                None => {
                    map.insert(key, value);
                }
                Some(Json::Array(values)) => values.push(value),
                Some(first) => *first = Json::Array(vec![first.take(), value]),
            }
        }
        Json::Object(map).to_string()
    }

    fn ours(extras: &[Extra<'_>]) -> String {
        let mut out = String::new();
        write_object(&mut out, extras.to_vec());
        out
    }

    fn field(name: &'static str, value: &'static str) -> Extra<'static> {
        Extra {
            attribute: false,
            name,
            value,
        }
    }

    #[test]
    fn every_ascii_character_is_escaped_as_serde_json_escapes_it() {
        let all: String = (0u8..=0x7F).map(char::from).collect();
        let tricky = format!("{all}é😀\u{2028}\u{feff}");
        let extras = [Extra {
            attribute: true,
            name: &tricky,
            value: &tricky,
        }];
        assert_eq!(ours(&extras), by_serde(&extras));
    }

    #[test]
    fn keys_sort_by_bytes_and_repeated_names_become_arrays_in_order() {
        let extras = [
            field("b", "1"),
            field("A", "2"),
            Extra {
                attribute: true,
                name: "z",
                value: "3",
            },
            field("b", "4"),
            field("@z", "5"),
            field("", "6"),
            field("b", "7"),
            field("é", "8"),
            field("a", "9"),
        ];
        let expected = r#"{"":"6","@z":["3","5"],"A":"2","a":"9","b":["1","4","7"],"é":"8"}"#;
        assert_eq!(by_serde(&extras), expected);
        assert_eq!(ours(&extras), expected);
    }

    mod attack {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                2 => any::<String>(),
                2 => "[@xX \"\\\\\u{0}-\u{1f}\u{7f}\u{2028}\u{2029}é😀]{0,4}",
                1 => proptest::sample::select(vec![
                    String::new(), "x".to_string(), "@x".to_string(), "@".to_string(),
                ]),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

            /// Random (attribute?, name, value) lists with collisions (`x` as attribute
            /// and `@x` as field), control characters, quotes, U+2028, empty strings.
            #[test]
            fn write_object_is_serde_json(
                raw in proptest::collection::vec((any::<bool>(), text(), text()), 0..16)
            ) {
                let extras: Vec<Extra<'_>> = raw
                    .iter()
                    .map(|(attribute, name, value)| Extra { attribute: *attribute, name, value })
                    .collect();
                prop_assert_eq!(ours(&extras), by_serde(&extras));
            }

            #[test]
            fn write_array_is_serde_json(items in proptest::collection::vec(text(), 0..8)) {
                let mut out = String::new();
                write_array(&mut out, items.iter().map(String::as_str));
                prop_assert_eq!(out, serde_json::to_string(&items).unwrap());
            }
        }
    }

    #[test]
    fn an_empty_object_and_lists() {
        assert_eq!(ours(&[]), "{}");
        let mut out = String::new();
        write_array(&mut out, ["a\"b", " c"]);
        assert_eq!(out, r#"["a\"b"," c"]"#);
        assert_eq!(out, serde_json::json!(["a\"b", " c"]).to_string());
    }
}
