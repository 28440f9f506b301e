//! Discover, helper of the walk: the folders held open for the files on their way to
//! the readers, so that a file is opened by name in its folder; bounded for the whole
//! walk and by the process's descriptor limit.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
pub(super) fn open_dirs_allowed() -> usize {
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
pub(super) enum DirHandle {
    Shared(Arc<OpenDir>),
    Own(OwnedFd),
}

impl DirHandle {
    pub(super) fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirHandle::Shared(dir) => dir.as_fd(),
            DirHandle::Own(fd) => fd.as_fd(),
        }
    }

    pub(super) fn shared(&self) -> Option<Arc<OpenDir>> {
        match self {
            DirHandle::Shared(dir) => Some(Arc::clone(dir)),
            DirHandle::Own(_) => None,
        }
    }
}

/// Counts the folder handles the files on their way to the readers hold.
pub(super) struct OpenDirs {
    open: Arc<AtomicUsize>,
    allowed: usize,
}

impl OpenDirs {
    pub(super) fn new() -> Self {
        OpenDirs {
            open: Arc::default(),
            allowed: open_dirs_allowed(),
        }
    }

    /// The handle of the folder being listed, shared with its files when the bound
    /// allows (the walk holds one of its own while listing either way).
    pub(super) fn hold(&mut self, fd: OwnedFd) -> DirHandle {
        if self.open.load(Ordering::Relaxed) + 1 >= self.allowed {
            return DirHandle::Own(fd);
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        let open = Arc::clone(&self.open);
        DirHandle::Shared(Arc::new(OpenDir { fd, open }))
    }
}
