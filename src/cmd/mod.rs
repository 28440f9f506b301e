//! One module per subcommand: its arguments (with their `--help` text), then `run`;
//! and what every command shares: the global settings and how a command ended.

pub mod backup;
pub mod compact;
pub mod completions;
pub mod export;
pub mod import;
pub mod man;
pub mod query;
pub mod report;
pub mod serve;
pub mod verify;

use std::path::PathBuf;
use std::time::Duration;

use crate::signals::Signal;

/// Settings every command shares, resolved once from the command line.
#[derive(Debug, Clone)]
pub struct Global {
    pub db: PathBuf,
    pub lock_timeout: Duration,
    pub quiet: bool,
    /// Draw progress bars: stderr is a terminal and `--quiet` is off.
    pub progress: bool,
    /// The folders SQL may reach files in (`--allow-dir`, or the environment).
    pub allow_dirs: Vec<PathBuf>,
}

impl Global {
    /// Open the archive read-only for `query` and reports, in the sandbox that keeps
    /// their SQL from changing it, with the folders of `--allow-dir` granted.
    pub fn open_read_only(&self) -> Result<crate::store::Archive, crate::store::StoreError> {
        crate::store::Archive::open_read_only(
            &self.db,
            self.lock_timeout,
            &self.allow_dirs,
            |holder| self.announce_wait(holder),
        )
    }

    /// Open the lake at `dir` (`--lake`) in place of the archive, in the same
    /// sandbox: SQL may read the lake, which may not hold the archive `--db` names.
    pub fn open_lake(&self, dir: &std::path::Path) -> anyhow::Result<crate::store::Archive> {
        let lake = crate::lake::Lake::open(dir)?;
        let files = lake.files_by_table()?;
        let source = crate::store::parquet::read::LakeSource {
            root: lake.root(),
            files: &files,
            db: &self.db,
            grants: &self.allow_dirs,
        };
        Ok(crate::store::Archive::open_lake(&source)?)
    }

    /// What a command says once while it waits for another process to release the
    /// archive (nothing under `--quiet`), so a user at a terminal knows why it hangs.
    pub fn announce_wait(&self, holder: &str) {
        if !self.quiet {
            eprintln!(
                "postback-archive: waiting up to {} s for {} to release {}",
                self.lock_timeout.as_secs(),
                holder,
                crate::problem::shown(&self.db)
            );
        }
    }
}

/// `--out FILE` as a destination, unless writing it would hit the archive: the file is
/// written beside `path` and renamed over it, so `path` itself must not be the
/// archive, its WAL (under any name that leads to them) or a folder holding them.
pub fn file_destination(
    path: PathBuf,
    archive: &crate::store::Archive,
) -> Result<crate::output::Destination, crate::output::OutputError> {
    let files = archive.files();
    if files.is_hit_by_file(&path) {
        return Err(crate::output::OutputError::HitsArchive {
            path,
            archive: files.file().to_path_buf(),
        });
    }
    Ok(crate::output::Destination::File(path))
}

/// An error that met a damaged archive, said as damage of the archive `db` with what
/// to do, whichever command met it (see [`crate::store::damage_said`]); any other error
/// as it was, with the archive's private name in the sandbox replaced by `db`.
pub fn name_damage(error: anyhow::Error, db: &std::path::Path) -> anyhow::Error {
    let message = format!("{error:#}");
    if let Some(said) = crate::store::damage_said(db, &message, &error.root_cause().to_string()) {
        return anyhow::anyhow!(said);
    }
    let private = crate::store::without_private_names(db, &message);
    if private == message {
        error
    } else {
        anyhow::anyhow!(private)
    }
}

/// How a command that did its job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Some inputs had problems (exit status 2).
    InputProblems,
    /// A signal stopped the command; the exit status is 128 + the signal's number.
    Interrupted(Signal),
}
