//! Discover, helper of the walk: listing one folder (its entries sorted by name, with
//! their kinds, following a symbolic link when asked), and what names and kinds mean
//! for the import: which names hold postbacks or are tarballs, what a non-regular
//! file is called in its problem.

use std::ffi::{CStr, OsStr};
use std::fs::FileType;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::folders::Stamp;
use crate::problem::{Problem, ProblemKind};

/// One entry of a listed folder.
pub(super) struct Entry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    File,
    Folder,
    Symlink,
    /// A named pipe, socket, device, or what the file system would not say.
    Special(SpecialKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpecialKind {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

/// The name of `child` inside `parent`, when `child` (a path as shown) is directly in it.
pub(super) fn child_name<'c>(parent: &Path, child: &'c str) -> Option<&'c OsStr> {
    let name = Path::new(child).file_name()?;
    (Path::new(child).parent()? == parent).then_some(name)
}

/// Open a folder to list it, with its stamp taken from the open handle before any
/// entry is read: whatever changes after that moves its times past the stamp.
pub(super) fn open_folder(path: &Path) -> Result<(OwnedFd, Stamp), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    Ok((fd, Stamp::of_stat(&stat)))
}

/// The entries of an open folder, sorted by name, without `.` and `..`. An entry whose
/// type the file system does not give is asked about (not following links).
pub(super) fn list(fd: &OwnedFd) -> Result<Vec<Entry>, Errno> {
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

pub(super) fn kind_of_mode(file_type: rustix::fs::FileType) -> EntryKind {
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
    pub(super) fn of(file_type: FileType) -> SpecialKind {
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

    pub(super) fn describe(self) -> &'static str {
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
pub(super) fn link_error_message(path: &Path, error: Errno) -> String {
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
