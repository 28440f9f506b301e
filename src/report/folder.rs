//! Report, helper: a folder that appears whole or not at all (report -> files).
//!
//! `report daily` writes into a hidden sibling, `.NAME.PID.tmp`, and renames it to
//! `NAME` only when every file is written; a reader (or a web server) never sees a
//! half-written day. An existing `NAME` is renamed aside first and deleted after,
//! so re-running a day replaces it. Dropped without [`StagedFolder::commit`], the
//! staging folder is removed and any earlier `NAME` stays as it was. What a killed
//! run leaves behind is cleaned up by the next run of the same day.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::store::process_is_running;

/// A folder being written under a temporary name beside its destination.
#[derive(Debug)]
pub struct StagedFolder {
    staging: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedFolder {
    /// Create the staging folder for `parent/name`, creating `parent` if needed.
    pub fn create(parent: &Path, name: &str) -> io::Result<Self> {
        fs::create_dir_all(parent)?;
        clean_up_after_killed_runs(parent, name)?;
        let staging = parent.join(format!(".{name}.{}.tmp", std::process::id()));
        if staging.exists() {
            // Left by a killed run that had this process id.
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)?;
        Ok(StagedFolder {
            staging,
            target: parent.join(name),
            committed: false,
        })
    }

    /// Where to write the folder's files until it is committed.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Put the folder in place, replacing an earlier one of the same name.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        if self.target.exists() {
            let file_name = self.target.file_name().unwrap_or_default();
            let mut aside_name = std::ffi::OsString::from(".");
            aside_name.push(file_name);
            aside_name.push(format!(".{}.old", std::process::id()));
            let aside = self.target.with_file_name(aside_name);
            fs::rename(&self.target, &aside)?;
            if let Err(error) = fs::rename(&self.staging, &self.target) {
                let _ = fs::rename(&aside, &self.target);
                return Err(error);
            }
            self.committed = true;
            fs::remove_dir_all(&aside)?;
        } else {
            fs::rename(&self.staging, &self.target)?;
            self.committed = true;
        }
        Ok(self.target.clone())
    }
}

/// Remove what a run killed mid-write left of `parent/name`: its `.NAME.PID.tmp`
/// staging folder, and put back a `.NAME.PID.old` it had moved aside when `NAME` is
/// missing. Only folders of processes that are no longer running are touched, so a
/// run of the same day in progress keeps its own.
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

impl Drop for StagedFolder {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
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
}
