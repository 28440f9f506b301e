//! `postback-archive man`: write the manual pages, one for the tool and one for each
//! subcommand, into a folder, for `man` to find.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{Global, Outcome};
use crate::output;
use crate::problem::shown;

const INSTALL: &str = "\
Writes postback-archive.1 and one page per subcommand (postback-archive-import.1,
postback-archive-report-daily.1, ...); each file appears whole, replacing an earlier one.
Put them where man looks, for example ~/.local/share/man/man1 (man finds it when
~/.local/bin is on PATH) or /usr/local/share/man/man1, then run man postback-archive-import.

Examples:
  postback-archive man ~/.local/share/man/man1
  postback-archive man /usr/local/share/man/man1";

/// Write the manual pages (roff, section 1) into DIR.
#[derive(Debug, Args)]
#[command(after_help = INSTALL)]
pub struct ManArgs {
    /// The folder to write the pages into; created if missing.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Write a page for `command` and each of its subcommands into `args.dir`.
pub fn run(global: &Global, args: ManArgs, command: clap::Command) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create the folder {}", shown(&args.dir)))?;
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect_pages(&command, &mut pages)?;
    for (name, page) in &pages {
        output::write_file(&args.dir.join(name), page)?;
    }
    if !global.quiet {
        println!("wrote {} manual pages to {}", pages.len(), shown(&args.dir));
    }
    Ok(Outcome::Success)
}

/// The page of `command` (`postback-archive-report-run.1` for `report run`), then those
/// of its subcommands, as (file name, roff).
fn collect_pages(
    command: &clap::Command,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render(&mut page)
        .context("cannot render a manual page")?;
    pages.push((man.get_filename(), page));
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(subcommand, pages)?;
    }
    Ok(())
}
