//! Discover, step 1: walk the roots and pick the files to read, listing only the
//! folders that can have changed.
//!
//! A folder the folder ledger holds a stamp for, and whose metadata still matches it,
//! is not listed: the walk goes on into the subfolders the ledger recorded in it. A
//! folder that changed (or was never read whole) is listed; its files are looked up in
//! the ledger for that folder alone, and handed on with what the ledger knows of them,
//! followed by a [`FolderListed`] that lets the writer store the folder's new stamp.
//! The walk opens folders only, and a tarball's metadata; no file is opened.

use std::ffi::{CStr, OsStr};
use std::fs::FileType;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::folders::{
    FolderKind, FolderListed, FolderRecord, FolderRef, Folders, SETTLE_TIME, Stamp,
};
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

/// One entry of a listed folder.
struct Entry {
    name: Vec<u8>,
    kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Folder,
    Symlink,
    /// A named pipe, socket, device, or what the file system would not say.
    Special(SpecialKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpecialKind {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
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

/// The name of `child` inside `parent`, when `child` (a path as shown) is directly in it.
fn child_name<'c>(parent: &Path, child: &'c str) -> Option<&'c OsStr> {
    let name = Path::new(child).file_name()?;
    (Path::new(child).parent()? == parent).then_some(name)
}

/// Open a folder to list it, with its stamp taken from the open handle before any
/// entry is read: whatever changes after that moves its times past the stamp.
fn open_folder(path: &Path) -> Result<(OwnedFd, Stamp), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    Ok((fd, Stamp::of_stat(&stat)))
}

/// The entries of an open folder, sorted by name, without `.` and `..`. An entry whose
/// type the file system does not give is asked about (not following links).
fn list(fd: &OwnedFd) -> Result<Vec<Entry>, Errno> {
    let mut entries = Vec::new();
    let mut dir = rustix::fs::Dir::read_from(fd)?;
    for entry in &mut dir {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        let name = name.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.file_type() {
            rustix::fs::FileType::Unknown => {
                match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => kind_of_mode(rustix::fs::FileType::from_raw_mode(stat.st_mode)),
                    Err(_) => EntryKind::Special(SpecialKind::Unknown),
                }
            }
            file_type => kind_of_mode(file_type),
        };
        entries.push(Entry {
            name: name.to_vec(),
            kind,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn kind_of_mode(file_type: rustix::fs::FileType) -> EntryKind {
    use rustix::fs::FileType as T;
    match file_type {
        T::RegularFile => EntryKind::File,
        T::Directory => EntryKind::Folder,
        T::Symlink => EntryKind::Symlink,
        T::Fifo => EntryKind::Special(SpecialKind::Fifo),
        T::Socket => EntryKind::Special(SpecialKind::Socket),
        T::CharacterDevice => EntryKind::Special(SpecialKind::CharDevice),
        T::BlockDevice => EntryKind::Special(SpecialKind::BlockDevice),
        _ => EntryKind::Special(SpecialKind::Unknown),
    }
}

impl SpecialKind {
    fn of(file_type: FileType) -> SpecialKind {
        if file_type.is_fifo() {
            SpecialKind::Fifo
        } else if file_type.is_socket() {
            SpecialKind::Socket
        } else if file_type.is_char_device() {
            SpecialKind::CharDevice
        } else if file_type.is_block_device() {
            SpecialKind::BlockDevice
        } else {
            SpecialKind::Unknown
        }
    }

    fn describe(self) -> &'static str {
        match self {
            SpecialKind::Fifo => "a named pipe",
            SpecialKind::Socket => "a socket",
            SpecialKind::CharDevice => "a character device",
            SpecialKind::BlockDevice => "a block device",
            SpecialKind::Unknown => "of an unknown type",
        }
    }
}

/// Why a followed symbolic link could not be looked at.
fn link_error_message(path: &Path, error: Errno) -> String {
    let io = std::io::Error::from(error);
    match std::fs::read_link(path) {
        Ok(target) if error == Errno::NOENT => format!(
            "a symbolic link to {}, which does not exist",
            target.display()
        ),
        Ok(target) => format!(
            "cannot follow the symbolic link to {}: {io}",
            target.display()
        ),
        Err(_) => format!("cannot read: {io}"),
    }
}

/// How a tarball's bytes are compressed, told from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression of a tarball named `name` (`.tar`, `.tar.gz`, `.tgz`,
    /// `.tar.zst`), or `None` when the name is not a tarball's.
    pub fn of_tarball(name: &[u8]) -> Option<Compression> {
        if ends_with(name, ".tar") {
            Some(Compression::None)
        } else if ends_with(name, ".tar.gz") || ends_with(name, ".tgz") {
            Some(Compression::Gzip)
        } else if ends_with(name, ".tar.zst") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }
}

/// Whether a file (or tarball member) named `name` holds postbacks: `*.xml` or
/// `*.xml.gz`, in any case.
pub fn is_postback_file(name: &[u8]) -> bool {
    ends_with(name, ".xml") || ends_with(name, ".xml.gz")
}

/// Most directories held open at once for the files on their way to the readers. The
/// walk can run 8,192 files ahead; in an archive of one file a folder, each would
/// hold its own directory open, past a cron job's usual limit of 1,024 descriptors.
/// Past this many, files are opened by their whole path again.
pub const MAX_OPEN_DIRS: usize = 64;

/// The share of the process's descriptor limit that held directories may take: the
/// rest is for DuckDB, the walk's own folder handles and the files being read. So
/// under `ulimit -n 64` at most 8 are held, under 16 at most 2.
const DESCRIPTOR_SHARE: u64 = 8;

/// How many directories this process may hold open: [`MAX_OPEN_DIRS`], or fewer under
/// a low limit of open files (`RLIMIT_NOFILE`).
fn open_dirs_allowed() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let share = limit.map_or(u64::MAX, |limit| limit / DESCRIPTOR_SHARE);
    usize::try_from(share).map_or(MAX_OPEN_DIRS, |share| share.min(MAX_OPEN_DIRS))
}

/// A directory the walk opened, shared by the files found in it (see
/// [`FileToRead::parent`]).
#[derive(Debug)]
pub struct OpenDir {
    fd: OwnedFd,
    open: Arc<AtomicUsize>,
}

impl AsFd for OpenDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for OpenDir {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The handle of a folder being listed: shared with its files while fewer than
/// [`open_dirs_allowed`] are held, else kept by the walk alone until it moves on.
enum DirHandle {
    Shared(Arc<OpenDir>),
    Own(OwnedFd),
}

impl DirHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirHandle::Shared(dir) => dir.as_fd(),
            DirHandle::Own(fd) => fd.as_fd(),
        }
    }

    fn shared(&self) -> Option<Arc<OpenDir>> {
        match self {
            DirHandle::Shared(dir) => Some(Arc::clone(dir)),
            DirHandle::Own(_) => None,
        }
    }
}

/// Counts the folder handles the files on their way to the readers hold.
struct OpenDirs {
    open: Arc<AtomicUsize>,
    allowed: usize,
}

impl OpenDirs {
    fn new() -> Self {
        OpenDirs {
            open: Arc::default(),
            allowed: open_dirs_allowed(),
        }
    }

    /// The handle of the folder being listed, shared with its files when the bound
    /// allows (the walk holds one of its own while listing either way).
    fn hold(&mut self, fd: OwnedFd) -> DirHandle {
        if self.open.load(Ordering::Relaxed) + 1 >= self.allowed {
            return DirHandle::Own(fd);
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        let open = Arc::clone(&self.open);
        DirHandle::Shared(Arc::new(OpenDir { fd, open }))
    }
}

/// Whether a file name ends with `suffix` in any case (`.XML`, `.Xml.GZ`), without
/// making a lower-case copy of every name walked.
pub(super) fn ends_with(name: &[u8], suffix: &str) -> bool {
    name.len()
        .checked_sub(suffix.len())
        .and_then(|start| name.get(start..))
        .is_some_and(|end| end.eq_ignore_ascii_case(suffix.as_bytes()))
}

/// The `unreadable` problem of a candidate that is not a regular file, naming what it
/// is: reading a named pipe would wait for a writer forever, and a device never ends.
pub(super) fn not_a_regular_file(what: &str) -> Problem {
    Problem::whole_file(
        ProblemKind::Unreadable,
        format!("not a regular file ({what})"),
    )
}

/// What a file type that is not a regular file is, for [`not_a_regular_file`].
pub(super) fn describe_file_type(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        SpecialKind::of(file_type).describe()
    }
}

#[cfg(test)]
mod tests;
