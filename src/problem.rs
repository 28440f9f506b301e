//! Problems found in input files: produced by discover, parse and normalize, stored in `import_errors`.
//!
//! A problem never stops an import. It is reported as `path:line:col: kind: message`,
//! counted, recorded, and makes the run exit with status 2.

use std::fmt;

/// What kind of trouble an input file had. The `as_str` names are stored in
/// `import_errors.kind` and documented in the README, so they are part of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The file has no bytes, or only whitespace.
    EmptyFile,
    /// Binary data, text that is not markup, or an HTML page.
    NotXml,
    /// XML syntax the parser could not recover from; postbacks before it are kept.
    MalformedXml,
    /// The file ends inside an element; the postback cut off there is not stored.
    Truncated,
    /// Broken XML the importer repaired (an unclosed element, `<X><X>` for `<X></X>`,
    /// a bare `&`, an unknown entity); the postback is stored.
    Salvaged,
    /// The bytes were not valid in the declared encoding and were read as Windows-1252.
    Encoding,
    /// Well-formed XML that holds no postback.
    NoPostbacks,
    /// Content outside any postback (wrapper fields, text between documents); kept in the message.
    StrayContent,
    /// The file could not be opened or read.
    Unreadable,
    /// The file, or its decompressed content, is larger than `--max-file-size`.
    TooLarge,
    /// A `.gz` file that is not valid gzip; whatever decompressed before the damage is imported.
    BadGzip,
    /// A field whose value does not fit its typed column (a timestamp or number); kept in `extra`.
    BadValue,
}

impl ProblemKind {
    /// The name stored in `import_errors.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::EmptyFile => "empty_file",
            ProblemKind::NotXml => "not_xml",
            ProblemKind::MalformedXml => "malformed_xml",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Salvaged => "salvaged",
            ProblemKind::Encoding => "encoding",
            ProblemKind::NoPostbacks => "no_postbacks",
            ProblemKind::StrayContent => "stray_content",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::TooLarge => "too_large",
            ProblemKind::BadGzip => "bad_gzip",
            ProblemKind::BadValue => "bad_value",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a file something was found: 1-based line and byte column of the
/// decoded text. `Position::default()` (0, 0) means "the file as a whole".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    pub fn new(line: u32, column: u32) -> Self {
        Position { line, column }
    }

    /// True when the position points into the file rather than at the whole file.
    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub position: Position,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, position: Position, message: impl Into<String>) -> Self {
        Problem {
            kind,
            position,
            message: message.into(),
        }
    }

    /// A problem that concerns the whole file rather than a place in it.
    pub fn whole_file(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem::new(kind, Position::default(), message)
    }

    /// `path:line:col: kind: message`, the form compilers and ripgrep use, so
    /// editors and terminals can jump to the place.
    pub fn display_for<'a>(&'a self, path: &'a str) -> impl fmt::Display + 'a {
        DisplayProblem {
            problem: self,
            path,
        }
    }
}

struct DisplayProblem<'a> {
    problem: &'a Problem,
    path: &'a str,
}

impl fmt::Display for DisplayProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.problem;
        if p.position.is_known() {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.path, p.position.line, p.position.column, p.kind, p.message
            )
        } else {
            write!(f, "{}: {}: {}", self.path, p.kind, p.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler_message() {
        let p = Problem::new(ProblemKind::Truncated, Position::new(3, 7), "cut off");
        assert_eq!(
            p.display_for("a/b.xml").to_string(),
            "a/b.xml:3:7: truncated: cut off"
        );
        let whole = Problem::whole_file(ProblemKind::EmptyFile, "no bytes");
        assert_eq!(
            whole.display_for("e.xml").to_string(),
            "e.xml: empty_file: no bytes"
        );
    }
}
