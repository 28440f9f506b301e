//! Report, helper: a folder that appears whole or not at all (report -> files).
//!
//! `report daily` writes into a hidden sibling, `.NAME.PID.tmp`, and renames it to
//! `NAME` only when every file is written; a reader (or a web server) never sees a
//! half-written day. An existing `NAME` is renamed aside first and deleted after,
//! so re-running a day replaces it. Dropped without [`StagedFolder::commit`], the
//! staging folder is removed and any earlier `NAME` stays as it was.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
}
