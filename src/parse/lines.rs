//! Parse, helper: turn byte offsets into the line and column people see in an editor.

use crate::problem::Position;

/// Counts newlines incrementally, so locating many increasing offsets costs
/// one pass over the text in total.
pub struct LineCounter<'t> {
    text: &'t str,
    offset: usize,
    line: u32,
    line_start: usize,
}

impl<'t> LineCounter<'t> {
    pub fn new(text: &'t str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The 1-based line and byte column of `offset`.
    pub fn locate(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            *self = LineCounter::new(self.text);
        }
        let span = &self.text.as_bytes()[self.offset..offset];
        for newline in memchr::memchr_iter(b'\n', span) {
            self.line += 1;
            self.line_start = self.offset + newline + 1;
        }
        self.offset = offset;
        Position::new(self.line, (offset - self.line_start + 1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let mut lines = LineCounter::new("ab\ncd\r\nef");
        assert_eq!(lines.locate(0), Position::new(1, 1));
        assert_eq!(lines.locate(4), Position::new(2, 2));
        assert_eq!(lines.locate(8), Position::new(3, 2));
        assert_eq!(lines.locate(1), Position::new(1, 2));
    }
}
