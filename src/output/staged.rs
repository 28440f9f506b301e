//! Output, helper: files and folders that appear whole or not at all (report/output ->
//! files).
//!
//! Both are written under a hidden name beside their destination, `.NAME.PID.tmp`
//! (beside it, so the rename stays on one file system), and renamed to `NAME` only
//! when complete; dropped before that, the hidden copy is removed. A reader (or a web
//! server) never sees a half-written result. [`AtomicFile`] is one result file;
//! [`StagedFolder`] is the folder of `report daily`, which also replaces an earlier
//! folder of the same name and cleans up what killed runs left behind.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::disk::process_is_running;

/// `.NAME.PID.SUFFIX` beside `target`: where this process stages (`tmp`) or sets
/// aside (`old`) the file or folder `target`.
fn hidden_beside(target: &Path, suffix: &str) -> io::Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut hidden = OsString::from(".");
    hidden.push(name);
    hidden.push(format!(".{}.{suffix}", std::process::id()));
    Ok(target.with_file_name(hidden))
}

/// The one stage-then-rename: a hidden file or folder that becomes `target` on
/// [`Staged::commit`] and is removed if dropped before. Made only once the hidden copy
/// exists, so a drop never removes what another run left there.
#[derive(Debug)]
struct Staged {
    staging: PathBuf,
    target: PathBuf,
    folder: bool,
    committed: bool,
}

impl Staged {
    /// Rename the staged copy to the target (which a file replaces atomically).
    fn commit(&mut self) -> io::Result<()> {
        fs::rename(&self.staging, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = if self.folder {
                fs::remove_dir_all(&self.staging)
            } else {
                fs::remove_file(&self.staging)
            };
        }
    }
}

/// A file written under a temporary name in its destination's folder and renamed over
/// the destination by `commit`.
pub(super) struct AtomicFile {
    staged: Staged,
    pub(super) writer: BufWriter<File>,
}

impl AtomicFile {
    pub(super) fn create(path: &Path) -> io::Result<Self> {
        let staging = hidden_beside(path, "tmp")?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)?;
        Ok(AtomicFile {
            staged: Staged {
                staging,
                target: path.to_path_buf(),
                folder: false,
                committed: false,
            },
            writer: BufWriter::new(file),
        })
    }

    /// The destination.
    pub(super) fn path(&self) -> &Path {
        &self.staged.target
    }

    pub(super) fn commit(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_all()?;
        self.staged.commit()
    }
}

/// A folder being written under a temporary name beside its destination. An existing
/// folder of that name is renamed aside (`.NAME.PID.old`) on commit and deleted after,
/// so re-running a day replaces it; dropped without commit, the staging folder is
/// removed and any earlier folder stays as it was. What a killed run leaves behind is
/// cleaned up by the next run of the same name.
#[derive(Debug)]
pub struct StagedFolder {
    staged: Staged,
}

impl StagedFolder {
    /// Create the staging folder for `parent/name`, creating `parent` if needed.
    pub fn create(parent: &Path, name: &str) -> io::Result<Self> {
        fs::create_dir_all(parent)?;
        clean_up_after_killed_runs(parent, name)?;
        let target = parent.join(name);
        let staging = hidden_beside(&target, "tmp")?;
        if staging.exists() {
            // Left by a killed run that had this process id.
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)?;
        Ok(StagedFolder {
            staged: Staged {
                staging,
                target,
                folder: true,
                committed: false,
            },
        })
    }

    /// Where to write the folder's files until it is committed.
    pub fn path(&self) -> &Path {
        &self.staged.staging
    }

    /// Write `text` to the file `name` of the folder; returns that file's path, or
    /// the path and the error.
    pub fn write_file(&self, name: &str, text: &str) -> Result<PathBuf, (PathBuf, io::Error)> {
        let path = self.path().join(name);
        match fs::write(&path, text) {
            Ok(()) => Ok(path),
            Err(error) => Err((path, error)),
        }
    }

    /// Put the folder in place, replacing an earlier one of the same name.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let target = self.staged.target.clone();
        if !target.exists() {
            self.staged.commit()?;
            return Ok(target);
        }
        let aside = hidden_beside(&target, "old")?;
        fs::rename(&target, &aside)?;
        if let Err(error) = self.staged.commit() {
            let _ = fs::rename(&aside, &target);
            return Err(error);
        }
        fs::remove_dir_all(&aside)?;
        Ok(target)
    }
}

/// Remove what a run killed mid-write left of `parent/name`: its `.NAME.PID.tmp`
/// staging folder, and put back a `.NAME.PID.old` it had moved aside when `NAME` is
/// missing. Only folders of processes that are no longer running are touched, so a
/// run of the same name in progress keeps its own.
fn clean_up_after_killed_runs(parent: &Path, name: &str) -> io::Result<()> {
    let prefix = format!(".{name}.");
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some((pid, suffix)) = rest.split_once('.') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if process_is_running(pid) {
            continue;
        }
        let target = parent.join(name);
        match suffix {
            "old" if !target.exists() => fs::rename(entry.path(), target)?,
            "tmp" | "old" => fs::remove_dir_all(entry.path())?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn appears_on_commit_replaces_the_old_one_and_vanishes_when_dropped() {
        let parent =
            std::env::temp_dir().join(format!("postback-archive-folder-{}", std::process::id()));
        let _ = fs::remove_dir_all(&parent);

        let first = StagedFolder::create(&parent, "2026-11-01").unwrap();
        fs::write(first.path().join("old.csv"), "a\n").unwrap();
        assert_eq!(
            names(&parent),
            [format!(".2026-11-01.{}.tmp", std::process::id())]
        );
        let target = first.commit().unwrap();
        assert_eq!(names(&target), ["old.csv"]);

        let second = StagedFolder::create(&parent, "2026-11-01").unwrap();
        fs::write(second.path().join("new.csv"), "b\n").unwrap();
        second.commit().unwrap();
        assert_eq!(names(&parent), ["2026-11-01"]);
        assert_eq!(names(&target), ["new.csv"]);

        let abandoned = StagedFolder::create(&parent, "2026-11-01").unwrap();
        fs::write(abandoned.path().join("partial.csv"), "c\n").unwrap();
        drop(abandoned);
        assert_eq!(names(&parent), ["2026-11-01"]);
        assert_eq!(names(&target), ["new.csv"]);
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn leftovers_of_killed_runs_are_cleaned_up_and_live_ones_kept() {
        let parent =
            std::env::temp_dir().join(format!("postback-archive-leftovers-{}", std::process::id()));
        let _ = fs::remove_dir_all(&parent);
        // No process has id 4,000,000,000 (Linux ids stay below 2^22).
        let dead = 4_000_000_000u32;
        let live = std::process::id();
        fs::create_dir_all(parent.join(format!(".2026-11-01.{dead}.tmp"))).unwrap();
        fs::create_dir_all(parent.join(format!(".2026-11-01.{dead}.old"))).unwrap();
        fs::write(
            parent.join(format!(".2026-11-01.{dead}.old/kept.csv")),
            "a\n",
        )
        .unwrap();
        fs::create_dir_all(parent.join(format!(".2026-11-02.{dead}.tmp"))).unwrap();
        fs::create_dir_all(parent.join(".2026-11-01.notapid.tmp")).unwrap();

        let staged = StagedFolder::create(&parent, "2026-11-01").unwrap();
        assert_eq!(
            names(&parent),
            [
                format!(".2026-11-01.{live}.tmp"),
                ".2026-11-01.notapid.tmp".to_string(),
                format!(".2026-11-02.{dead}.tmp"),
                "2026-11-01".to_string(),
            ]
        );
        assert_eq!(names(&parent.join("2026-11-01")), ["kept.csv"]);
        drop(staged);
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("postback-archive-out-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("result.csv");
        let mut file = AtomicFile::create(&path).unwrap();
        file.writer.write_all(b"a\n").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        drop(file);
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\n");

        let abandoned = AtomicFile::create(&dir.join("abandoned.csv")).unwrap();
        drop(abandoned);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["result.csv"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
