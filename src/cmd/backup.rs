//! `postback-archive backup`: a consistent, checked copy of the archive, put in place
//! whole.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{Global, Outcome};
use crate::problem::shown;
use crate::store::backup::backup;

const BACKUP: &str = "\
The copy is taken while no import writes: backup opens the archive read-only, so it
waits (up to --lock-timeout) for a running import or a scheduled import of serve to
end, and an import that starts meanwhile waits for the backup (up to its own
--lock-timeout) while the file is copied. The copy is written beside FILE under a
hidden name (.FILE.PID.backup), checked as verify checks an archive (every block, every
invariant), written to disk, and renamed over FILE: whenever it is killed, or the disk
fills, FILE holds the previous backup (or nothing), never part of one. The copy opens in
DuckDB 1.5 as the archive does.

To restore, stop imports (and serve), then copy the backup back over the archive:
  cp /backups/postbacks.duckdb /srv/postbacks/postbacks.duckdb
and remove a postbacks.duckdb.wal beside it, if there is one. The next import reads
again the files that arrived after the backup; none is stored twice.

Exit status: 0 the backup is in place; 1 it is not (FILE is as it was).

Run it nightly from cron (0 4 * * *, the last example): silent unless it fails.

Examples:
  postback-archive backup --to postbacks-copy.duckdb
  postback-archive --quiet --lock-timeout 3600 --db /srv/postbacks/postbacks.duckdb \\
    backup --to /backups/postbacks.duckdb  (cron)";

/// Copy the archive to FILE, consistently while imports and serve run, check the copy,
/// and put it in place whole.
#[derive(Debug, Args)]
#[command(after_help = BACKUP)]
pub struct BackupArgs {
    /// The backup file: created, or replaced if it holds an earlier backup.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

pub fn run(global: &Global, args: BackupArgs) -> anyhow::Result<Outcome> {
    let summary = backup(&global.db, &args.to, global.lock_timeout, |holder| {
        global.announce_wait(holder)
    })
    .with_context(|| format!("backup of {} failed", shown(&global.db)))?;
    if !global.quiet {
        println!(
            "backup of {} to {}: {} MB copied (the archive held for {:.1} s); {} blocks and {} \
             rows read back, every check holds",
            shown(&global.db),
            shown(&args.to),
            summary.bytes.div_ceil(1_000_000),
            summary.held.as_secs_f64(),
            summary.blocks,
            summary.rows
        );
    }
    Ok(Outcome::Success)
}
