//! Store, helper: `backup`: a consistent copy of the archive, written beside its
//! destination under a hidden name, checked as `verify` checks an archive, then
//! renamed into place, so that the destination holds the previous backup or the new
//! one, whole, whenever the backup is killed or the disk fills.
//!
//! DuckDB lets one process write a database file, and an import keeps the archive open
//! for writing for its whole run (`serve` for each of its scheduled imports): no other
//! process sees the archive between two of an import's batches. So a backup opens the
//! archive read-only, which waits (up to `--lock-timeout`) for a running import to end
//! and makes an import that starts meanwhile wait for the backup; the copy is taken
//! between two imports, of the archive as the last one committed it. It holds the
//! archive only while the file (and a WAL left by a killed import) is copied, at the
//! speed of the disk; the checks run on the copy after the archive is released.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::archive_files::{COMPANION_SUFFIXES, Found, inspect, with_suffix};
use super::c_api::Database;
use super::verify::{CHECKS, read_every_block, run_check};
use super::{Archive, StoreError, settings, shown};
use crate::disk::process_is_running;

/// What went wrong with the backup itself (the archive's own problems are
/// [`StoreError`]s).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("--to {}: {reason}", shown(to))]
    Destination { to: PathBuf, reason: String },
    #[error(
        "there is no room for the backup in {}: {message}. Nothing was written to {}; free \
         space there, or back up to another disk",
        shown(folder),
        shown(to)
    )]
    NoRoom {
        folder: PathBuf,
        to: PathBuf,
        message: String,
    },
    #[error(
        "cannot write the backup beside {}: {source}. Nothing was written to {}",
        shown(to),
        shown(to)
    )]
    Write { to: PathBuf, source: io::Error },
    #[error(
        "the copy of the archive failed its checks although the archive's own blocks are \
         sound: {problems}. Nothing was written to {}; the disk under it may be failing. Run \
         the backup again, or back up to another disk",
        shown(to)
    )]
    CopyDamaged { to: PathBuf, problems: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a backup copied and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    /// Blocks whose checksums were checked, and rows read, in the copy.
    pub blocks: u64,
    pub rows: u64,
    /// How long the archive was held once open (imports wait meanwhile).
    pub held: Duration,
}

/// Back up the archive at `db` to `to`: copy it while holding it read-only (waiting up
/// to `lock_timeout` for a writer, telling `on_wait`), fold a copied WAL into the copy,
/// check every block and invariant of the copy, then rename it over `to`.
pub fn backup(
    db: &Path,
    to: &Path,
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
) -> Result<BackupSummary, BackupError> {
    let destination = Destination::check(to)?;
    destination.clean_up_after_killed_backups();
    let staged = Staged {
        path: destination.staging_name(),
        placed: false,
    };
    let archive = Archive::open_for_checks(db, lock_timeout, on_wait)?;
    let started = Instant::now();
    if archive.files().is_hit_by_file(to) {
        return Err(destination.refuse("it names the archive, its WAL or their folder"));
    }
    let bytes = staged.copy_from(archive.files().file(), &destination)?;
    drop(archive);
    let held = started.elapsed();
    staged.fold_in_wal(&destination)?;
    let (blocks, rows) = staged.check(db, &destination)?;
    staged.place(&destination)?;
    Ok(BackupSummary {
        bytes,
        blocks,
        rows,
        held,
    })
}

/// Where the backup goes: the folder, and the file's name in it.
struct Destination {
    to: PathBuf,
    folder: PathBuf,
    name: String,
}

impl Destination {
    /// `to` may name a file, or nothing yet, in a folder that exists; a file there must
    /// be a DuckDB database (an earlier backup), which is replaced.
    fn check(to: &Path) -> Result<Destination, BackupError> {
        let refuse = |reason: &str| BackupError::Destination {
            to: to.to_path_buf(),
            reason: reason.to_string(),
        };
        let name = to
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| refuse("name the backup file, such as /backups/postbacks.duckdb"))?;
        let parent = match to.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let folder = fs::canonicalize(parent).map_err(|error| {
            refuse(&format!(
                "its folder {} cannot be used ({error}); create it first",
                shown(parent)
            ))
        })?;
        if to.is_dir() {
            return Err(refuse(
                "it is a folder; name the backup file, such as /backups/postbacks.duckdb",
            ));
        }
        match inspect(to) {
            Ok(Found::Nothing | Found::DuckDb) => {}
            Err(_) => {
                return Err(refuse(
                    "it holds something other than a DuckDB database, which a backup would \
                     replace; name a new file, or an earlier backup",
                ));
            }
        }
        Ok(Destination {
            to: to.to_path_buf(),
            folder,
            name: name.to_string(),
        })
    }

    fn refuse(&self, reason: &str) -> BackupError {
        BackupError::Destination {
            to: self.to.clone(),
            reason: reason.to_string(),
        }
    }

    /// `.NAME.PID.backup` beside the destination.
    fn staging_name(&self) -> PathBuf {
        self.folder
            .join(format!(".{}.{}.backup", self.name, std::process::id()))
    }

    /// Remove what killed backups to this destination left: their staged copies and
    /// WALs, named after processes no longer running.
    fn clean_up_after_killed_backups(&self) {
        let prefix = format!(".{}.", self.name);
        let Ok(entries) = fs::read_dir(&self.folder) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            let Some((pid, suffix)) = rest.split_once(".backup") else {
                continue;
            };
            let ours = suffix.is_empty() || COMPANION_SUFFIXES.contains(&suffix);
            if ours && pid.parse::<u32>().is_ok_and(|pid| !process_is_running(pid)) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// An error writing the backup: a full disk said as such.
    fn write_error(&self, error: io::Error) -> BackupError {
        if error.kind() == io::ErrorKind::StorageFull || error.raw_os_error() == Some(28) {
            self.no_room(error.to_string())
        } else {
            BackupError::Write {
                to: self.to.clone(),
                source: error,
            }
        }
    }

    fn no_room(&self, message: String) -> BackupError {
        BackupError::NoRoom {
            folder: self.folder.clone(),
            to: self.to.clone(),
            message,
        }
    }
}

/// The copy being made, removed (with its WAL) unless it was placed.
struct Staged {
    path: PathBuf,
    placed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.placed {
            for suffix in std::iter::once("").chain(COMPANION_SUFFIXES) {
                let _ = fs::remove_file(with_suffix(&self.path, suffix));
            }
        }
    }
}

impl Staged {
    /// Copy the archive file and its companions (a WAL left by a killed import);
    /// returns the bytes copied.
    fn copy_from(&self, file: &Path, destination: &Destination) -> Result<u64, BackupError> {
        let mut bytes = 0;
        for suffix in std::iter::once("").chain(COMPANION_SUFFIXES) {
            let source = with_suffix(file, suffix);
            if suffix.is_empty() || source.exists() {
                bytes += fs::copy(&source, with_suffix(&self.path, suffix))
                    .map_err(|error| destination.write_error(error))?;
            }
        }
        Ok(bytes)
    }

    /// Open the copy for writing once and checkpoint it, so that a copied WAL is folded
    /// into the file, written in DuckDB 1.5's storage format like the archive.
    fn fold_in_wal(&self, destination: &Destination) -> Result<(), BackupError> {
        let database = Database::open(&self.path, &settings(false))
            .map_err(|error| self.duckdb_error(destination, error.to_string()))?;
        let checkpoint = database
            .raw_connection()
            .and_then(|conn| conn.execute("CHECKPOINT"));
        drop(database);
        checkpoint.map_err(|error| self.duckdb_error(destination, error.to_string()))?;
        if with_suffix(&self.path, ".wal").exists() {
            return Err(BackupError::Write {
                to: destination.to.clone(),
                source: io::Error::other("DuckDB left a WAL beside the checkpointed copy"),
            });
        }
        Ok(())
    }

    fn duckdb_error(&self, destination: &Destination, message: String) -> BackupError {
        if message.contains("No space left on device") {
            destination.no_room(message)
        } else {
            BackupError::Write {
                to: destination.to.clone(),
                source: io::Error::other(message),
            }
        }
    }

    /// Check every block and invariant of the copy. A problem is the archive's when
    /// the archive's own blocks show it too, or it is an invariant (the copy holds what
    /// the archive held); otherwise the copy was damaged on its way.
    fn check(&self, db: &Path, destination: &Destination) -> Result<(u64, u64), BackupError> {
        let copy = Archive::open_for_checks(&self.path, Duration::ZERO, |_| {})?;
        let read = read_every_block(&copy)?;
        if !read.damage.is_empty() {
            drop(copy);
            if let Some(what) = super::find_damage(db) {
                return Err(StoreError::Damaged {
                    path: db.to_path_buf(),
                    what,
                }
                .into());
            }
            return Err(BackupError::CopyDamaged {
                to: destination.to.clone(),
                problems: read.damage.join("; "),
            });
        }
        for check in CHECKS {
            if let Some(finding) = run_check(&copy, check)? {
                return Err(StoreError::Damaged {
                    path: db.to_path_buf(),
                    what: format!(
                        "check {} found {} problem(s), such as: {}",
                        finding.check, finding.problems, finding.example
                    ),
                }
                .into());
            }
        }
        Ok((read.blocks, read.rows))
    }

    /// Make the copy durable, rename it over the destination, and make the rename
    /// durable.
    fn place(mut self, destination: &Destination) -> Result<(), BackupError> {
        let durable = File::open(&self.path)
            .and_then(|file| file.sync_all())
            .and_then(|()| fs::rename(&self.path, &destination.to));
        durable.map_err(|error| destination.write_error(error))?;
        self.placed = true;
        // The rename is done; a failure to sync the folder leaves it to the system.
        let _ = File::open(&destination.folder).and_then(|folder| folder.sync_all());
        Ok(())
    }
}
