//! `postback-archive compact`: roll folders whose files are all in the archive into one
//! tarball each, so that an archive folder of years holds a file a day, not a file a
//! postback.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{Global, Outcome};
use crate::compact::{CompactOptions, FolderOutcome, compact};
use crate::discover::{Compression, resolve_roots};
use crate::problem::printable;
use crate::store::Archive;

const EXAMPLES: &str = "\
Examples:
  postback-archive compact /srv/postbacks
  postback-archive compact --older-than 30 --dry-run /srv/postbacks/2026
  postback-archive --quiet compact --format gz /srv/postbacks";

/// Roll each folder under PATH whose files are all in the archive into one tarball
/// beside it (2026/11/15/ becomes 2026/11/15.tar.zst, its members 15/NAME, each the
/// original file byte for byte with its modification time). The tarball is written,
/// read back and checked before the files are removed, and the ledger moves onto its
/// members, so `import` reads none of them again. Folders changed within
/// --older-than days, files with problems, and other files stay where they are; a
/// folder with a file not imported yet is left whole.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, after_help = EXAMPLES)]
pub struct CompactArgs {
    /// The archive folders to compact (those of the archive at or below them).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Leave a folder alone while it changed within this many days (1 to 36500).
    #[arg(long, value_name = "DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(1..=36_500))]
    older_than: u64,

    /// Pack files in which the import found problems too (by default they stay in the
    /// folder, to be looked at there).
    #[arg(long)]
    with_problems: bool,

    /// How tarballs are compressed.
    #[arg(long, value_enum, default_value_t = Packing::Zst, value_name = "FORMAT")]
    format: Packing,

    /// Say which folders would be compacted, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The compression of the tarballs `compact` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Packing {
    /// `.tar.zst` (zstd level 3)
    Zst,
    /// `.tar.gz`
    Gz,
}

pub fn run(global: &Global, args: CompactArgs) -> anyhow::Result<Outcome> {
    let options = CompactOptions {
        roots: resolve_roots(&args.paths)?,
        older_than: Duration::from_secs(args.older_than * 86_400),
        with_problems: args.with_problems,
        compression: match args.format {
            Packing::Zst => Compression::Zstd,
            Packing::Gz => Compression::Gzip,
        },
        dry_run: args.dry_run,
    };
    let archive = Archive::open_existing_for_write(&global.db, global.lock_timeout, |holder| {
        global.announce_wait(holder)
    })?;
    let mut totals = Totals::default();
    let result = compact(&archive, &options, &mut |outcome| {
        totals.add(outcome);
        if !global.quiet {
            println!("{}", describe(outcome, options.dry_run));
        }
    });
    result.with_context(|| {
        format!(
            "compact of {} failed",
            printable(&global.db.display().to_string())
        )
    })?;
    if !global.quiet {
        println!("{}", totals.summary(options.dry_run));
    }
    Ok(Outcome::Success)
}

/// One line a folder.
fn describe(outcome: &FolderOutcome, dry_run: bool) -> String {
    match outcome {
        FolderOutcome::Compacted {
            folder,
            tarball,
            files,
            bytes,
            packed,
            stayed,
        } => {
            let stayed = match stayed {
                0 => String::new(),
                n => format!("; {n} other file(s) stay in the folder"),
            };
            if dry_run {
                format!(
                    "would compact {}: {files} files, {bytes} bytes, into {}{stayed}",
                    printable(folder),
                    printable(tarball)
                )
            } else {
                format!(
                    "compacted {}: {files} files, {bytes} bytes, into {} ({packed} bytes){stayed}",
                    printable(folder),
                    printable(tarball)
                )
            }
        }
        FolderOutcome::Skipped { folder, why } => {
            format!("left {} as it is: {why}", printable(folder))
        }
    }
}

/// What the whole run did.
#[derive(Debug, Default)]
struct Totals {
    folders: u64,
    files: u64,
    bytes: u64,
    packed: u64,
    skipped: u64,
}

impl Totals {
    fn add(&mut self, outcome: &FolderOutcome) {
        match outcome {
            FolderOutcome::Compacted {
                files,
                bytes,
                packed,
                ..
            } => {
                self.folders += 1;
                self.files += files;
                self.bytes += bytes;
                self.packed += packed;
            }
            FolderOutcome::Skipped { .. } => self.skipped += 1,
        }
    }

    fn summary(&self, dry_run: bool) -> String {
        let verb = if dry_run {
            "would compact"
        } else {
            "compacted"
        };
        format!(
            "compact: {verb} {} folder(s), {} files, {} bytes into {} bytes; {} folder(s) left as they are",
            self.folders, self.files, self.bytes, self.packed, self.skipped
        )
    }
}
