//! Store, helper: the archive's files on disk. What `--db` names is checked before
//! DuckDB opens it (a folder, a FIFO, a SQLite database or a text file is refused with
//! a message that says so), and [`ArchiveFiles`] knows every path that holds the
//! archive, so that nothing `query` or `report` writes can replace one of them.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::StoreError;
use crate::problem::shown;

/// The names DuckDB gives the files beside a database: its write-ahead log and the
/// files of a checkpoint or recovery in progress.
pub(super) const COMPANION_SUFFIXES: [&str; 3] = [".wal", ".wal.checkpoint", ".wal.recovery"];

/// What sits at the path `--db` names, before DuckDB is let near it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing: `import` creates the archive there; the other commands have nothing to read.
    Nothing,
    /// A file that starts like a DuckDB database.
    DuckDb,
}

/// Check what `path` names: nothing, or a DuckDB file. Anything else is refused: an
/// empty path or `:memory:`; a folder, FIFO, socket or device, told from its metadata
/// without being opened (a FIFO would make the command hang); a file that does not
/// start like a DuckDB database (SQLite, empty, text), after reading its first bytes.
pub(super) fn inspect(path: &Path) -> Result<Found, StoreError> {
    let given = path.as_os_str();
    if given.is_empty() {
        return Err(StoreError::EmptyPath);
    }
    if given.as_encoded_bytes().starts_with(b":memory:") {
        return Err(StoreError::InMemory {
            given: path.to_string_lossy().into_owned(),
        });
    }
    // DuckDB names the database after its file, and takes only a UTF-8 name.
    if path.file_name().is_some_and(|name| name.to_str().is_none()) {
        return Err(StoreError::NotUtf8Name {
            path: path.to_path_buf(),
        });
    }
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(error) => return Err(unreadable(path, &error)),
    };
    let special = special_kind(&metadata.file_type());
    if let Some(what) = special {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what: what.to_string(),
        });
    }
    let mut header = Vec::with_capacity(16);
    File::open(path)
        .and_then(|file| file.take(16).read_to_end(&mut header))
        .map_err(|error| unreadable(path, &error))?;
    match file_kind(&header) {
        None => Ok(Found::DuckDb),
        Some(what) => Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what: what.to_string(),
        }),
    }
}

/// What a file that starts with `header` is, when it is not a DuckDB database. DuckDB
/// writes its magic bytes `DUCK` after an 8-byte checksum.
fn file_kind(header: &[u8]) -> Option<&'static str> {
    if header.get(8..12) == Some(b"DUCK".as_slice()) {
        return None;
    }
    Some(if header.is_empty() {
        "an empty file"
    } else if header.starts_with(b"SQLite format 3\0") {
        "a SQLite database"
    } else if header.starts_with(b"PAR1") {
        "a Parquet file"
    } else if header.starts_with(&[0x1f, 0x8b]) {
        "a gzip file"
    } else if header.starts_with(b"<") || header.starts_with("\u{feff}<".as_bytes()) {
        "an XML or HTML file"
    } else {
        "a file DuckDB did not write"
    })
}

/// What a path that is not a regular file is, for the message.
fn special_kind(file_type: &fs::FileType) -> Option<&'static str> {
    if file_type.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return Some("a device");
        }
    }
    (!file_type.is_file()).then_some("not a regular file")
}

/// The device and inode of the file `path` leads to, which hard links share.
pub(super) fn identity(path: &Path) -> Option<(u64, u64)> {
    let metadata = fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        None
    }
}

fn unreadable(path: &Path, error: &io::Error) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Every path that holds the archive, resolved once when it is opened: the database
/// file and its companions (`.wal`, …) under the name given and under the name its
/// symbolic links lead to, the folders holding them, and the files' identities
/// (device and inode), so that a hard link counts too.
#[derive(Debug, Clone, Default)]
pub struct ArchiveFiles {
    /// The database file with symbolic links resolved.
    file: PathBuf,
    /// Canonical names (folder resolved, then the file's own name) that must never be
    /// written: the database and its companions, as given and as resolved.
    names: Vec<PathBuf>,
    /// Canonical folders holding those names.
    folders: Vec<PathBuf>,
    /// Device and inode of each of those files that exists.
    identities: Vec<(u64, u64)>,
}

impl ArchiveFiles {
    /// The files of the archive at `path`, which exists.
    pub(super) fn locate(path: &Path) -> Result<Self, StoreError> {
        let file = fs::canonicalize(path).map_err(|error| unreadable(path, &error))?;
        let mut located = ArchiveFiles {
            file: file.clone(),
            ..ArchiveFiles::default()
        };
        let given = canonical_name(path).unwrap_or_else(|| file.clone());
        for base in [file, given] {
            if let Some(folder) = base.parent() {
                push_new(&mut located.folders, folder.to_path_buf());
            }
            let companions = COMPANION_SUFFIXES
                .iter()
                .map(|suffix| with_suffix(&base, suffix));
            for name in std::iter::once(base.clone()).chain(companions) {
                if let Some(identity) = identity(&name)
                    && !located.identities.contains(&identity)
                {
                    located.identities.push(identity);
                }
                push_new(&mut located.names, name);
            }
        }
        Ok(located)
    }

    /// The database file, symbolic links resolved.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The folder holding the database file (symbolic links resolved).
    pub fn folder(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }

    /// Whether writing a file at `target` (or renaming one over it) would hit the
    /// archive: `target` names the database or a companion (through any symbolic
    /// or hard link), or the folder holding them, or a folder above it.
    pub fn is_hit_by_file(&self, target: &Path) -> bool {
        if canonical_name(target).is_some_and(|name| self.names.contains(&name)) {
            return true;
        }
        if identity(target).is_some_and(|identity| self.identities.contains(&identity)) {
            return true;
        }
        self.holds_archive(target)
    }

    /// Whether `path` is one of the archive's files, or names a file in a folder that
    /// holds them: what SQL was refused for the archive's sake, rather than for want
    /// of a grant.
    pub fn is_beside_archive(&self, path: &Path) -> bool {
        self.is_hit_by_file(path)
            || canonical_name(path)
                .and_then(|name| name.parent().map(Path::to_path_buf))
                .is_some_and(|parent| self.folders.contains(&parent))
    }

    /// Whether the folder `dir` (symbolic links resolved) is, or is above, a folder
    /// that holds the archive.
    pub fn holds_archive(&self, dir: &Path) -> bool {
        fs::canonicalize(dir)
            .is_ok_and(|dir| self.folders.iter().any(|folder| folder.starts_with(&dir)))
    }

    /// The name of the entry of `dir` under which the archive lies, when it lies
    /// somewhere below `dir`: `report daily` must not replace or clean up that entry.
    pub fn entry_holding_archive(&self, dir: &Path) -> Option<std::ffi::OsString> {
        let dir = fs::canonicalize(dir).ok()?;
        self.names.iter().find_map(|name| {
            let below = name.strip_prefix(&dir).ok()?;
            let mut components = below.components();
            let first = components.next()?;
            components
                .next()
                .is_some()
                .then(|| first.as_os_str().to_os_string())
        })
    }

    /// Whether `dir` may be granted to SQL: it must not be, or be above, a folder
    /// holding the archive, and nothing inside it may lead there (see
    /// [`ArchiveFiles::check_grant_entries`]). Returns the folder, canonical.
    pub(super) fn check_grant(&self, dir: &Path) -> Result<PathBuf, StoreError> {
        let refuse = |reason: String| StoreError::Grant {
            dir: dir.to_path_buf(),
            reason,
        };
        let canonical = fs::canonicalize(dir).map_err(|error| refuse(error.to_string()))?;
        if !canonical.is_dir() {
            return Err(refuse("it is not a folder".to_string()));
        }
        if let Some(folder) = self
            .folders
            .iter()
            .find(|folder| folder.starts_with(&canonical))
        {
            return Err(refuse(if *folder == canonical {
                "it is the folder that holds the archive".to_string()
            } else {
                format!("it holds the archive's folder {}", shown(folder))
            }));
        }
        self.check_grant_entries(&canonical).map_err(refuse)?;
        Ok(canonical)
    }

    /// What DuckDB could be led to through the entries of a granted folder: it
    /// follows symbolic links (it resolves them before its own check, but not while it
    /// empties a folder for `OVERWRITE`, nor when a link leads to a file not yet
    /// there), and a hard link is the archive under another name. So the folder may
    /// hold no symbolic link into, or above, a folder holding the archive, and no
    /// hard link to one of its files.
    fn check_grant_entries(&self, granted: &Path) -> Result<(), String> {
        for entry in WalkDir::new(granted).follow_links(false).min_depth(1) {
            let entry = entry.map_err(|error| error.to_string())?;
            let shown_entry = shown(entry.path());
            if entry.path_is_symlink() {
                let target = link_target(entry.path());
                let near = self
                    .folders
                    .iter()
                    .any(|folder| folder.starts_with(&target) || target.starts_with(folder));
                if near {
                    return Err(format!(
                        "{shown_entry} inside it is a symbolic link to {}, where the archive is",
                        shown(&target)
                    ));
                }
            } else if entry.file_type().is_file()
                && identity(entry.path()).is_some_and(|id| self.identities.contains(&id))
            {
                return Err(format!(
                    "{shown_entry} inside it is a hard link to the archive"
                ));
            }
        }
        Ok(())
    }
}

/// Where the symbolic link `link` leads, resolved as far as it exists: a link to a
/// file not yet created leads to that file's canonical folder and its name.
fn link_target(link: &Path) -> PathBuf {
    if let Ok(target) = fs::canonicalize(link) {
        return target;
    }
    let Ok(target) = fs::read_link(link) else {
        return link.to_path_buf();
    };
    let target = match link.parent() {
        Some(parent) if target.is_relative() => parent.join(target),
        _ => target,
    };
    let mut existing = target.as_path();
    let mut rest = Vec::new();
    while let Some(parent) = existing.parent() {
        if let Some(name) = existing.file_name() {
            rest.push(name.to_os_string());
        }
        existing = parent;
        if let Ok(canonical) = fs::canonicalize(existing) {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, name| path.join(name));
        }
    }
    target
}

/// `path` with its folder made canonical (symbolic links resolved) and its own name
/// kept, which is what a rename over `path` replaces; `None` when the folder does
/// not exist or `path` names no file.
fn canonical_name(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(parent).ok()?.join(name))
}

/// `path` with `suffix` appended to its file name (`a.duckdb` -> `a.duckdb.wal`).
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn push_new(paths: &mut Vec<PathBuf>, path: PathBuf) {
    if !paths.contains(&path) {
        paths.push(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_duckdb_files_from_others_by_their_first_bytes() {
        let mut duckdb = vec![0u8; 8];
        duckdb.extend_from_slice(b"DUCK\x40\0\0\0");
        assert_eq!(file_kind(&duckdb), None);
        assert_eq!(file_kind(b""), Some("an empty file"));
        assert_eq!(
            file_kind(b"SQLite format 3\0\x10\0"),
            Some("a SQLite database")
        );
        assert_eq!(file_kind(b"<?xml version"), Some("an XML or HTML file"));
        assert_eq!(file_kind(b"hello"), Some("a file DuckDB did not write"));
    }
}
