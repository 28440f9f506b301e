//! What the user sees while an import runs: a progress bar on a terminal, and each
//! problem as `path:line:col: kind: message` on stderr (the first few, then a count).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::import::Observer;
use crate::store::writer::{FileContent, FileRecord};

/// Problems printed one by one before the rest are only counted.
const PRINTED_PROBLEMS: u64 = 20;

/// Progress of one import, drawn on stderr.
pub struct ImportProgress {
    bar: ProgressBar,
    quiet: bool,
    problems: AtomicU64,
}

impl ImportProgress {
    /// `show_bar`: draw the bar (stderr is a terminal); `quiet`: print no problems.
    pub fn new(show_bar: bool, quiet: bool) -> Self {
        let bar = if show_bar {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/{human_len} files, {per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        ImportProgress {
            bar,
            quiet,
            problems: AtomicU64::new(0),
        }
    }

    /// Clear the bar and say how many problems were not printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        let problems = self.problems.load(Ordering::Relaxed);
        if !self.quiet && problems > PRINTED_PROBLEMS {
            eprintln!(
                "... and {} more problem(s); all are in the import_errors table",
                problems - PRINTED_PROBLEMS
            );
        }
    }

    fn print(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }
}

impl Observer for ImportProgress {
    fn found(&self, count: u64) {
        self.bar.inc_length(count);
    }

    fn skipped(&self, count: u64) {
        self.bar.inc(count);
    }

    fn stored(&self, record: &FileRecord) {
        self.bar.inc(1);
        let problems = match &record.content {
            FileContent::Unreadable(problem) => std::slice::from_ref(problem),
            FileContent::Read { problems, .. } => problems.as_slice(),
            FileContent::Unchanged(_) => &[],
        };
        for problem in problems {
            let count = self.problems.fetch_add(1, Ordering::Relaxed) + 1;
            if !self.quiet && count <= PRINTED_PROBLEMS {
                self.print(problem.display_for(&record.path).to_string());
            }
        }
    }
}
