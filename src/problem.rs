//! Problems found in input files: produced by discover, parse and normalize, stored in `import_errors`.
//!
//! A problem never stops an import. It is reported as `path:line:col: kind: message`,
//! counted, recorded, and makes the run exit with status 2.

use std::fmt;

/// What kind of trouble an input file had. The `as_str` names are stored in
/// `import_errors.kind` and documented in docs/reference.md, so they are part of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// A tarball that is damaged, cut short or not a tarball; the members before the
    /// damage are imported, and the tarball is read again by the next run.
    BadTarball,
    /// A field whose value does not fit its typed column (a timestamp or number); kept in `extra`.
    BadValue,
    /// A bug of ours met while reading, parsing or normalizing this file (a panic caught
    /// at the file's edge); the file is retried by the next run.
    InternalError,
    /// The file had more than [`MAX_PROBLEMS_PER_FILE`] problems: this one row counts the
    /// rest, by kind.
    MoreProblems,
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
            ProblemKind::BadTarball => "bad_tarball",
            ProblemKind::BadValue => "bad_value",
            ProblemKind::InternalError => "internal_error",
            ProblemKind::MoreProblems => "more_problems",
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

/// Problems kept for one file; past this many they are only counted, so that a hostile
/// file (millions of broken elements) costs neither memory nor millions of rows.
pub const MAX_PROBLEMS_PER_FILE: usize = 100;

/// The problems of one file: the first [`MAX_PROBLEMS_PER_FILE`] in full, the rest
/// counted by kind and told in one closing `more_problems` problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    kept: Vec<Problem>,
    /// Kinds of the problems not kept, with how many of each.
    counted: Vec<(ProblemKind, u64)>,
    /// Where the first problem not kept was found.
    first_counted: Position,
}

impl Problems {
    /// Record a problem: kept while there is room, counted after.
    pub fn push(&mut self, problem: Problem) {
        if self.kept.len() < MAX_PROBLEMS_PER_FILE {
            return self.kept.push(problem);
        }
        if self.counted.is_empty() {
            self.first_counted = problem.position;
        }
        match self
            .counted
            .iter_mut()
            .find(|(kind, _)| *kind == problem.kind)
        {
            Some((_, count)) => *count += 1,
            None => self.counted.push((problem.kind, 1)),
        }
    }

    /// Add every problem of `other`, after those recorded here.
    pub fn absorb(&mut self, other: Problems) {
        self.extend(other.kept);
        for (kind, count) in other.counted {
            if self.counted.is_empty() {
                self.first_counted = other.first_counted;
            }
            match self.counted.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += count,
                None => self.counted.push((kind, count)),
            }
        }
    }

    /// How many problems were found, kept or only counted.
    pub fn total(&self) -> u64 {
        self.kept.len() as u64 + self.counted.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// The problems to store, in the order of their place in the file, with one
    /// `more_problems` problem last when some were only counted.
    pub fn into_vec(self) -> Vec<Problem> {
        let mut kept = self.kept;
        kept.sort_by_key(|p| (p.position.line, p.position.column));
        if self.counted.is_empty() {
            return kept;
        }
        let mut counted = self.counted;
        counted.sort();
        let more: u64 = counted.iter().map(|(_, n)| n).sum();
        let by_kind: Vec<String> = counted.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let message = format!(
            "{more} more problem(s) in this file were not stored ({}); the first {} are",
            by_kind.join(", "),
            kept.len()
        );
        kept.push(Problem::new(
            ProblemKind::MoreProblems,
            self.first_counted,
            message,
        ));
        kept
    }
}

impl std::ops::Deref for Problems {
    type Target = [Problem];

    /// The problems kept so far, in the order they were found.
    fn deref(&self) -> &[Problem] {
        &self.kept
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, problems: I) {
        problems.into_iter().for_each(|p| self.push(p));
    }
}

impl FromIterator<Problem> for Problems {
    fn from_iter<I: IntoIterator<Item = Problem>>(problems: I) -> Self {
        let mut all = Problems::default();
        all.extend(problems);
        all
    }
}

/// `path` as text for a message, with control characters escaped (as [`printable`]) and
/// bytes that are not UTF-8 shown as `�`: how every message names a file.
pub fn shown(path: &std::path::Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

/// `text` with control characters (newline, tab, escape, …) written as escapes such as
/// `\n` or `\u{1b}`, so that a file name cannot forge a line of output or drive the
/// terminal. Everything else, multibyte characters included, is left as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
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
                printable(self.path),
                p.position.line,
                p.position.column,
                p.kind,
                printable(&p.message)
            )
        } else {
            let (path, message) = (printable(self.path), printable(&p.message));
            write!(f, "{path}: {}: {message}", p.kind)
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

    #[test]
    fn problems_past_the_cap_are_counted_in_one_closing_row() {
        let mut problems = Problems::default();
        for line in (1..=MAX_PROBLEMS_PER_FILE as u32 + 3).rev() {
            let kind = if line % 2 == 0 {
                ProblemKind::Salvaged
            } else {
                ProblemKind::MalformedXml
            };
            problems.push(Problem::new(kind, Position::new(line, 1), "x"));
        }
        assert_eq!(problems.total(), MAX_PROBLEMS_PER_FILE as u64 + 3);
        assert_eq!(problems.len(), MAX_PROBLEMS_PER_FILE);
        let stored = problems.into_vec();
        assert_eq!(stored.len(), MAX_PROBLEMS_PER_FILE + 1);
        assert_eq!(
            stored[0].position,
            Position::new(4, 1),
            "kept in file order"
        );
        let last = &stored[MAX_PROBLEMS_PER_FILE];
        assert_eq!(last.kind, ProblemKind::MoreProblems);
        assert_eq!(last.position, Position::new(3, 1));
        assert_eq!(
            last.message,
            "3 more problem(s) in this file were not stored (malformed_xml 2, salvaged 1); the first 100 are"
        );
    }

    #[test]
    fn a_newline_in_a_path_cannot_forge_a_line_of_output() {
        let p = Problem::new(ProblemKind::Truncated, Position::new(3, 7), "cut\noff");
        let forged = "a.xml:1:1: not_xml: fake\nb.xml";
        assert_eq!(
            p.display_for(forged).to_string(),
            "a.xml:1:1: not_xml: fake\\nb.xml:3:7: truncated: cut\\noff"
        );
        assert_eq!(printable("caf\u{e9}\u{1b}[31m"), "caf\u{e9}\\u{1b}[31m");
        assert!(matches!(
            printable("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }
}
