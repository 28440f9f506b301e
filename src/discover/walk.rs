//! Discover, step 1: walk the roots and pick the files to read, listing only the
//! folders that can have changed.
//!
//! A folder the folder ledger holds a stamp for, and whose metadata still matches it,
//! is not listed: the walk goes on into the subfolders the ledger recorded in it. A
//! folder that changed (or was never read whole) is listed; its files are looked up in
//! the ledger for that folder alone, and handed on with what the ledger knows of them,
//! followed by a [`FolderListed`] that lets the writer store the folder's new stamp.
//! The walk opens folders only, and a tarball's metadata; no file is opened.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::folders::{
    FolderKind, FolderListed, FolderRecord, FolderRef, Folders, SETTLE_TIME, Stamp,
};
use super::listing::{
    Compression, Entry, EntryKind, SpecialKind, child_name, ends_with, is_postback_file,
    kind_of_mode, link_error_message, list, not_a_regular_file, open_folder,
};
use super::open_dirs::{DirHandle, OpenDir, OpenDirs};
use super::{
    DiscoverError, FileToRead, FolderFiles, Found, LedgerLookup, LookupError, TarballToRead,
    WalkCounters, ledger_keys, path_key,
};
use crate::problem::{Problem, ProblemKind};

/// How to walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    pub follow_symlinks: bool,
    /// List every folder, even those the ledger says are unchanged (`--rescan`,
    /// `--force`): files changed in place in an unchanged folder are found this way.
    pub relist: bool,
    /// Read every tarball, even those unchanged since the ledger read them (`--force`).
    pub reread: bool,
    /// How old a folder's times must be for its stamp to be kept (see
    /// [`SETTLE_TIME`]); tests set it to 0 so as not to wait.
    pub settle_time: Duration,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            follow_symlinks: false,
            relist: false,
            reread: false,
            settle_time: SETTLE_TIME,
        }
    }
}

/// What a run walks.
#[derive(Debug, Clone)]
pub enum WalkInput {
    /// Canonical roots (see [`resolve_roots`]): folders are walked, files read.
    Roots(Vec<PathBuf>),
    /// Files known to be new or changed (what `serve` wrote since its last import):
    /// read without listing any folder.
    Files(Vec<PathBuf>),
}

/// Absolute, canonical roots; a root inside another root is dropped so no file is walked twice.
pub fn resolve_roots(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut roots = Vec::new();
    for path in paths {
        let root = path.canonicalize().map_err(|source| DiscoverError::Root {
            path: path.clone(),
            source,
        })?;
        roots.push(root);
    }
    roots.sort();
    roots.dedup();
    let all = roots.clone();
    roots.retain(|root| {
        !all.iter()
            .any(|other| other != root && root.starts_with(other))
    });
    Ok(roots)
}

/// Walk `input` in a stable order (in each folder, its files by name, then its
/// subfolders by name) and hand every candidate file, with what the ledger knows of it,
/// to `emit`, which returns false to stop early (the consumer has gone). Files named
/// directly are candidates whatever their name; in folders only `*.xml`, `*.xml.gz`
/// and tarballs are. A candidate that is not a regular file (a named pipe, a socket, a
/// device) is found `Unreadable`; other such entries are counted as `other`. Fails only
/// when the ledger cannot be read.
pub fn walk(
    input: &WalkInput,
    folders: &mut Folders,
    ledger: &mut dyn LedgerLookup,
    options: WalkOptions,
    counters: &WalkCounters,
    emit: impl FnMut(Found) -> bool,
) -> Result<(), LookupError> {
    let mut walker = Walker {
        folders,
        ledger,
        options,
        counters,
        // One set for the whole walk: its bound holds however many roots are named.
        dirs: OpenDirs::new(),
        emit,
        stopped: false,
        ancestors: Vec::new(),
    };
    match input {
        WalkInput::Roots(roots) => {
            for root in roots {
                if walker.stopped {
                    break;
                }
                if std::fs::metadata(root).is_ok_and(|m| m.is_dir()) {
                    walker.folder(root, None, false)?;
                } else {
                    walker.named_files(std::slice::from_ref(root))?;
                }
            }
        }
        WalkInput::Files(files) => walker.named_files(files)?,
    }
    Ok(())
}

/// The state of one walk.
struct Walker<'w, E> {
    folders: &'w mut Folders,
    ledger: &'w mut dyn LedgerLookup,
    options: WalkOptions,
    counters: &'w WalkCounters,
    dirs: OpenDirs,
    emit: E,
    stopped: bool,
    /// Device, inode and path of the folders on the way down, to tell a followed
    /// symbolic link that leads back up.
    ancestors: Vec<(i64, i64, PathBuf)>,
}

impl<E: FnMut(Found) -> bool> Walker<'_, E> {
    fn emit(&mut self, found: Found) {
        if !self.stopped && !(self.emit)(found) {
            self.stopped = true;
        }
    }

    fn unreadable(&mut self, display: String, message: String) {
        let problem = Problem::whole_file(ProblemKind::Unreadable, message);
        self.report(display, problem, None);
    }

    /// A candidate that cannot be read: seen, and handed on with its problem (and its
    /// folder, which is then not taken as read whole).
    fn report(&mut self, display: String, problem: Problem, folder: Option<&FolderRef>) {
        self.counters.seen.fetch_add(1, Ordering::Relaxed);
        self.emit(Found::Unreadable {
            display,
            problem,
            folder: folder.cloned(),
        });
    }

    /// Walk the folder at `path`: list it when it may have changed, else go on into
    /// the subfolders the ledger recorded in it. `recorded_child` says the ledger
    /// named it as a subfolder: if it has gone since, that is no problem to report.
    fn folder(
        &mut self,
        path: &Path,
        parent_id: Option<i64>,
        recorded_child: bool,
    ) -> Result<(), LookupError> {
        let display = path.display().to_string();
        let (fd, stamp) = match open_folder(path) {
            Ok(opened) => opened,
            Err(Errno::NOENT | Errno::NOTDIR) if recorded_child => return Ok(()),
            Err(error) => {
                let message = format!("cannot read: {}", std::io::Error::from(error));
                self.unreadable(display, message);
                return Ok(());
            }
        };
        let folder = self
            .folders
            .reference(&display, FolderKind::Folder, parent_id);
        let record = self.folders.get(&display).cloned();
        self.ancestors
            .push((stamp.device, stamp.inode, path.to_path_buf()));
        let result = match record {
            Some(record)
                if !self.options.relist
                    && (record.links_followed || !self.options.follow_symlinks)
                    && record
                        .stamp
                        .is_some_and(|known| known.unchanged(FolderKind::Folder, &stamp)) =>
            {
                drop(fd);
                self.unchanged_folder(path, &record)
            }
            record => self.list_folder(path, fd, stamp, folder, record.as_ref()),
        };
        self.ancestors.pop();
        result
    }

    /// A folder that has not changed: only its recorded subfolders are walked.
    fn unchanged_folder(&mut self, path: &Path, record: &FolderRecord) -> Result<(), LookupError> {
        self.counters
            .folders_unchanged
            .fetch_add(1, Ordering::Relaxed);
        let children: Vec<PathBuf> = self
            .folders
            .children(record.folder_id)
            .filter(|child| child.kind == FolderKind::Folder)
            .filter_map(|child| child_name(path, &child.path))
            .map(|name| path.join(name))
            .collect();
        for child in children {
            if self.stopped {
                break;
            }
            self.folder(&child, Some(record.folder_id), true)?;
        }
        Ok(())
    }

    /// List a folder that may have changed: its files (with what the ledger knows of
    /// them), the folder itself, then its subfolders.
    fn list_folder(
        &mut self,
        path: &Path,
        fd: OwnedFd,
        stamp: Stamp,
        folder: FolderRef,
        record: Option<&FolderRecord>,
    ) -> Result<(), LookupError> {
        self.counters.folders_listed.fetch_add(1, Ordering::Relaxed);
        let listed_at = SystemTime::now();
        let entries = match list(&fd) {
            Ok(entries) => entries,
            Err(error) => {
                let message = format!("cannot read: {}", std::io::Error::from(error));
                self.unreadable(path.display().to_string(), message);
                return Ok(());
            }
        };
        let files = match record {
            Some(record) => self.ledger.files_of(record, None)?,
            None => FolderFiles::default(),
        };
        let dir = self.dirs.hold(fd);
        let mut subfolders = Vec::new();
        for entry in entries {
            if self.stopped {
                return Ok(());
            }
            let entry_path = path.join(OsStr::from_bytes(&entry.name));
            match self.resolve(&dir, &entry, &entry_path) {
                Some(EntryKind::Folder) => subfolders.push(entry_path),
                Some(kind) => self.entry(&folder, &files, &dir, &entry, kind, entry_path)?,
                None => {}
            }
        }
        let subfolders: Vec<(PathBuf, FolderRef)> = subfolders
            .into_iter()
            .map(|sub| {
                let display = sub.display().to_string();
                let reference =
                    self.folders
                        .reference(&display, FolderKind::Folder, Some(folder.folder_id));
                (sub, reference)
            })
            .collect();
        let folder_id = folder.folder_id;
        self.emit(Found::Listed(FolderListed {
            folder,
            stamp: stamp
                .settled(listed_at, self.options.settle_time)
                .then_some(stamp),
            links_followed: self.options.follow_symlinks,
            subfolders: subfolders.iter().map(|(_, r)| r.clone()).collect(),
        }));
        drop(dir);
        for (sub, _) in subfolders {
            if self.stopped {
                break;
            }
            self.folder(&sub, Some(folder_id), false)?;
        }
        Ok(())
    }

    /// What an entry is, following a symbolic link when asked (a link that leads
    /// nowhere, or back up, is reported here); `None` when it was reported.
    fn resolve(&mut self, dir: &DirHandle, entry: &Entry, path: &Path) -> Option<EntryKind> {
        if entry.kind != EntryKind::Symlink || !self.options.follow_symlinks {
            return Some(entry.kind);
        }
        let stat = match rustix::fs::statat(dir.as_fd(), entry.name.as_slice(), AtFlags::empty()) {
            Ok(stat) => stat,
            Err(error) => {
                let message = link_error_message(path, error);
                self.unreadable(path.display().to_string(), message);
                return None;
            }
        };
        let kind = kind_of_mode(rustix::fs::FileType::from_raw_mode(stat.st_mode));
        if kind == EntryKind::Folder {
            let (device, inode) = (stat.st_dev as i64, stat.st_ino as i64);
            let ancestor = self
                .ancestors
                .iter()
                .find(|(d, i, _)| (*d, *i) == (device, inode));
            if let Some((_, _, ancestor)) = ancestor {
                let message = format!(
                    "a symbolic link back to {}, which holds it; not followed again",
                    ancestor.display()
                );
                self.unreadable(path.display().to_string(), message);
                return None;
            }
        }
        Some(kind)
    }

    /// Hand on one entry of a listed folder that is not a folder.
    fn entry(
        &mut self,
        folder: &FolderRef,
        files: &FolderFiles,
        dir: &DirHandle,
        entry: &Entry,
        kind: EntryKind,
        path: PathBuf,
    ) -> Result<(), LookupError> {
        let name = entry.name.as_slice();
        let tarball = Compression::of_tarball(name);
        let candidate = is_postback_file(name) || tarball.is_some();
        // A symbolic link is only seen here when links are not followed.
        if !candidate || kind == EntryKind::Symlink {
            self.counters.other.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let display = path.display().to_string();
        if let EntryKind::Special(special) = kind {
            let problem = not_a_regular_file(special.describe());
            self.report(display, problem, Some(folder));
            return Ok(());
        }
        if let Some(compression) = tarball {
            let flags = self.stat_flags();
            let stamp = rustix::fs::statat(dir.as_fd(), name, flags)
                .map(|stat| Stamp::of_stat(&stat))
                .ok();
            return self.tarball(path, display, dir.shared(), folder, stamp, compression);
        }
        self.counters.seen.fetch_add(1, Ordering::Relaxed);
        let known = files.find(&path, &display);
        self.emit(Found::File(FileToRead {
            path_key: path_key(&path),
            compressed: ends_with(name, ".gz"),
            parent: dir.shared(),
            path,
            display,
            known,
            folder: Some(folder.clone()),
        }));
        Ok(())
    }

    fn stat_flags(&self) -> AtFlags {
        if self.options.follow_symlinks {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        }
    }

    /// A tarball: skipped when the ledger read it whole and its size and time are as
    /// they were, else handed on with the ledger's entries of its members.
    fn tarball(
        &mut self,
        path: PathBuf,
        display: String,
        parent: Option<Arc<OpenDir>>,
        folder: &FolderRef,
        stamp: Option<Stamp>,
        compression: Compression,
    ) -> Result<(), LookupError> {
        self.counters.seen.fetch_add(1, Ordering::Relaxed);
        let record = self.folders.get(&display).cloned();
        let unchanged = !self.options.reread
            && record
                .as_ref()
                .and_then(|r| r.stamp.zip(stamp))
                .is_some_and(|(known, now)| known.unchanged(FolderKind::Tarball, &now));
        if unchanged {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let members = match &record {
            Some(record) => self.ledger.files_of(record, None)?,
            None => FolderFiles::default(),
        };
        let container =
            self.folders
                .reference(&display, FolderKind::Tarball, Some(folder.folder_id));
        self.emit(Found::Tarball(TarballToRead {
            path,
            parent,
            display,
            container,
            members,
            compression,
        }));
        Ok(())
    }

    /// Files named directly (on the command line, or by `serve`), in order; each is
    /// looked up in the ledger of its folder, one lookup for a run of files of one
    /// folder.
    fn named_files(&mut self, paths: &[PathBuf]) -> Result<(), LookupError> {
        let mut start = 0;
        while start < paths.len() && !self.stopped {
            let folder_of = |path: &PathBuf| path.parent().map(Path::to_path_buf);
            let parent = folder_of(&paths[start]);
            let end = paths[start..]
                .iter()
                .position(|path| folder_of(path) != parent)
                .map_or(paths.len(), |offset| start + offset);
            self.named_group(&paths[start..end], parent.as_deref())?;
            start = end;
        }
        Ok(())
    }

    /// Files named directly that share the folder `parent`.
    fn named_group(&mut self, paths: &[PathBuf], parent: Option<&Path>) -> Result<(), LookupError> {
        let folder_display = parent.map_or_else(String::new, |p| p.display().to_string());
        let folder = self
            .folders
            .reference(&folder_display, FolderKind::Folder, None);
        let files = match self.folders.get(&folder_display).cloned() {
            Some(record) => {
                let wanted: Vec<u128> = paths.iter().flat_map(|p| ledger_keys(p)).collect();
                self.ledger.files_of(&record, Some(&wanted))?
            }
            None => FolderFiles::default(),
        };
        for path in paths {
            if self.stopped {
                break;
            }
            self.named_file(path, &folder, &files)?;
        }
        Ok(())
    }

    fn named_file(
        &mut self,
        path: &Path,
        folder: &FolderRef,
        files: &FolderFiles,
    ) -> Result<(), LookupError> {
        let display = path.display().to_string();
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => {
                let message = format!("cannot read: {error}");
                let problem = Problem::whole_file(ProblemKind::Unreadable, message);
                self.report(display, problem, Some(folder));
                return Ok(());
            }
        };
        let name = path.file_name().map_or(&[][..], OsStrExt::as_bytes);
        if metadata.is_file()
            && let Some(compression) = Compression::of_tarball(name)
        {
            let stamp = Some(Stamp::of(&metadata));
            return self.tarball(
                path.to_path_buf(),
                display,
                None,
                folder,
                stamp,
                compression,
            );
        }
        if !metadata.is_file() {
            let problem = not_a_regular_file(SpecialKind::of(metadata.file_type()).describe());
            self.report(display, problem, Some(folder));
            return Ok(());
        }
        self.counters.seen.fetch_add(1, Ordering::Relaxed);
        let known = files.find(path, &display);
        self.emit(Found::File(FileToRead {
            path: path.to_path_buf(),
            parent: None,
            path_key: path_key(path),
            compressed: ends_with(name, ".gz"),
            display,
            known,
            folder: Some(folder.clone()),
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
