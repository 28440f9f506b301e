//! Serve's log: one structured line per event on stderr, in the `key=value` (logfmt)
//! form that journald, Loki and `grep` all read.

use std::fmt::{Display, Write as _};
use std::io::Write as _;

use chrono::{SecondsFormat, Utc};

/// How much a line matters: `info` lines are routine and left out under `--quiet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Where serve's lines go; `quiet` drops the routine (`info`) ones.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    pub quiet: bool,
}

impl Log {
    /// Start a line of `event` at `level`; add fields, then [`Line::emit`] it.
    pub fn line(&self, level: Level, event: &str) -> Line {
        let mut text = String::with_capacity(160);
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let _ = write!(text, "ts={now} level={} event={event}", level.name());
        Line {
            text,
            emit: !(self.quiet && level == Level::Info),
        }
    }
}

/// One log line being built. Values with spaces, quotes, `=` or control characters
/// are quoted and escaped, so every line splits into fields the same way.
#[must_use = "a line is written only by emit()"]
pub struct Line {
    text: String,
    emit: bool,
}

impl Line {
    pub fn field(mut self, key: &str, value: impl Display) -> Line {
        if self.emit {
            self.text.push(' ');
            self.text.push_str(key);
            self.text.push('=');
            push_value(&mut self.text, &value.to_string());
        }
        self
    }

    /// Write the line with one `write` call, so lines of concurrent requests never mix.
    pub fn emit(mut self) {
        if self.emit {
            self.text.push('\n');
            let _ = std::io::stderr().lock().write_all(self.text.as_bytes());
        }
    }
}

fn push_value(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> String {
        let mut out = String::new();
        push_value(&mut out, text);
        out
    }

    #[test]
    fn values_that_would_split_a_line_are_quoted_and_escaped() {
        assert_eq!(value("2026/11/30/a.xml"), "2026/11/30/a.xml");
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("disk full"), "\"disk full\"");
        assert_eq!(value("a=b"), "\"a=b\"");
        assert_eq!(value("say \"hi\"\nthen\\"), "\"say \\\"hi\\\"\\nthen\\\\\"");
        assert_eq!(value("bell\u{7}"), "\"bell\\u{7}\"");
    }

    #[test]
    fn quiet_drops_routine_lines_only() {
        let quiet = Log { quiet: true };
        assert!(!quiet.line(Level::Info, "request").emit);
        assert!(quiet.line(Level::Warn, "request").emit);
        let line = Log { quiet: false }
            .line(Level::Error, "write_failed")
            .field("status", 503);
        assert!(
            line.text
                .ends_with(" level=error event=write_failed status=503")
        );
    }
}
