//! Parse, helper: turn byte offsets into the line and column people see in an editor.

use crate::problem::Position;

/// Distance between remembered places; going back costs at most this many bytes of
/// recounting.
const CHECKPOINT_EVERY: usize = 16 * 1024;

/// Counts newlines incrementally, so locating many increasing offsets costs one pass
/// over the text in total. It remembers the line every [`CHECKPOINT_EVERY`] bytes
/// (a few bytes per 16 KiB of text), so an offset before the last one located is
/// found by recounting from the checkpoint before it, never from the start.
pub struct LineCounter<'t> {
    text: &'t str,
    at: Mark,
    /// `checkpoints[i]` is the mark at offset `i * CHECKPOINT_EVERY`.
    checkpoints: Vec<Mark>,
}

/// A counted place: its offset, its line, and where that line starts.
#[derive(Debug, Clone, Copy)]
struct Mark {
    offset: usize,
    line: u32,
    line_start: usize,
}

const START: Mark = Mark {
    offset: 0,
    line: 1,
    line_start: 0,
};

impl<'t> LineCounter<'t> {
    pub fn new(text: &'t str) -> Self {
        LineCounter {
            text,
            at: START,
            checkpoints: vec![START],
        }
    }

    /// The 1-based line and byte column of `offset` (the end of the text past it).
    pub fn locate(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.at.offset {
            let checkpoint = self.checkpoints.get(offset / CHECKPOINT_EVERY);
            self.at = checkpoint.copied().unwrap_or(START);
        }
        while self.at.offset < offset {
            let next_checkpoint = self.checkpoints.len().saturating_mul(CHECKPOINT_EVERY);
            self.count_to(offset.min(next_checkpoint));
            if self.at.offset == next_checkpoint {
                self.checkpoints.push(self.at);
            }
        }
        let column = offset - self.at.line_start + 1;
        Position::new(self.at.line, u32::try_from(column).unwrap_or(u32::MAX))
    }

    fn count_to(&mut self, offset: usize) {
        let span = self
            .text
            .as_bytes()
            .get(self.at.offset..offset)
            .unwrap_or(&[]);
        for newline in memchr::memchr_iter(b'\n', span) {
            self.at.line = self.at.line.saturating_add(1);
            self.at.line_start = self.at.offset + newline + 1;
        }
        self.at.offset = offset;
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

    /// What the counter must answer, counted from the start every time.
    fn counted_afresh(text: &str, offset: usize) -> Position {
        let before = &text.as_bytes()[..offset.min(text.len())];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        Position::new(line as u32, (before.len() - line_start + 1) as u32)
    }

    #[test]
    fn offsets_out_of_order_are_located_from_a_checkpoint() {
        // Long lines and short ones across several checkpoints.
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(&"x".repeat(i * 7 % 300));
            text.push('\n');
        }
        let mut lines = LineCounter::new(&text);
        let offsets = [
            text.len(),
            5,
            200_000,
            16_384,
            16_383,
            16_385,
            0,
            299_999,
            1,
            text.len() + 9,
        ];
        for offset in offsets {
            assert_eq!(
                lines.locate(offset),
                counted_afresh(&text, offset),
                "{offset}"
            );
        }
        assert_eq!(lines.checkpoints.len(), text.len() / CHECKPOINT_EVERY + 1);
    }

    proptest::proptest! {
        #[test]
        fn any_order_of_offsets_is_located_exactly(
            text in "[a\n]{0,40000}",
            offsets in proptest::collection::vec(0usize..41_000, 1..20),
        ) {
            let mut lines = LineCounter::new(&text);
            for offset in offsets {
                proptest::prop_assert_eq!(lines.locate(offset), counted_afresh(&text, offset));
            }
        }
    }
}
