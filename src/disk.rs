//! Writing that survives a crash, shared by `serve` (each body), `compact` (each
//! tarball) and the staged report folders: a folder made durable after an entry of it
//! changed, a rename that never replaces what is already there, and whether the process
//! that left a hidden file behind is still running.

use std::fs::File;
use std::io;
use std::path::Path;

/// fsync a folder, so that the entries created, renamed or removed in it survive a
/// crash.
pub fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

/// Rename, failing rather than replacing a file already at `to`.
#[cfg(target_os = "linux")]
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // A file system without RENAME_NOREPLACE.
        Err(rustix::io::Errno::INVAL) => link_then_unlink(from, to),
        Err(error) => Err(error.into()),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    link_then_unlink(from, to)
}

/// A rename that never replaces: `link` fails when `to` exists.
fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

/// Whether a process with this id exists (Linux `/proc`; elsewhere, assume it does,
/// which leaves a stale file rather than removing a live one's). How `compact` and the
/// staged report folders tell what a killed run left behind from what a running one
/// is writing.
pub fn process_is_running(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    pid == std::process::id()
        || !proc_root.join("self").exists()
        || proc_root.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_place_is_never_replaced() {
        let folder = tempfile::tempdir().unwrap();
        let (from, to) = (folder.path().join("new"), folder.path().join("old"));
        std::fs::write(&from, "new").unwrap();
        std::fs::write(&to, "old").unwrap();
        let error = rename_no_replace(&from, &to).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "old");
        link_then_unlink(&from, &folder.path().join("moved")).unwrap();
        assert!(!from.exists());
        assert!(link_then_unlink(&to, &folder.path().join("moved")).is_err());
        sync_folder(folder.path()).unwrap();
    }
}
