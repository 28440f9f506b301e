//! Discover, step 1: walk the roots and pick the files to read.

use std::fs::{FileType, Metadata};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use rustix::fs::{Mode, OFlags};
use walkdir::{DirEntry, WalkDir};

use super::{DiscoverError, FileToRead, Found, Ledger, WalkCounters, path_key};
use crate::problem::{Problem, ProblemKind};

/// How to walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalkOptions {
    pub follow_symlinks: bool,
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

/// Walk `roots` in a stable order and hand every candidate file, with what the ledger
/// knows of it, to `emit`, which returns false to stop early (the consumer has gone).
/// Files named on the command line are candidates whatever their name; in directories
/// only `*.xml` and `*.xml.gz` are. The walk reads and opens directories only: no file
/// metadata, no file opened. A candidate that is not a regular file (a named pipe, a socket,
/// a device) is found `Unreadable`; other such entries are counted as `other`.
pub fn walk(
    roots: &[PathBuf],
    ledger: &Ledger,
    options: WalkOptions,
    counters: &WalkCounters,
    mut emit: impl FnMut(Found) -> bool,
) {
    // One set for the whole walk: its bound holds however many roots are named.
    let mut dirs = OpenDirs::new();
    for root in roots {
        let walker = WalkDir::new(root)
            .follow_links(options.follow_symlinks)
            // Siblings share their parent's path, so comparing whole paths as bytes
            // orders them by name, without parsing path components per comparison.
            .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()));
        for entry in walker {
            let found = match entry {
                Ok(entry) => match consider(&entry, ledger, counters, &mut dirs) {
                    Some(found) => found,
                    None => continue,
                },
                Err(error) => {
                    counters.seen.fetch_add(1, Ordering::Relaxed);
                    let path = error.path().unwrap_or(root).display().to_string();
                    let problem =
                        Problem::whole_file(ProblemKind::Unreadable, walk_error_message(&error));
                    Found::Unreadable {
                        display: path,
                        problem,
                    }
                }
            };
            if !emit(found) {
                return;
            }
        }
    }
}

/// Decide about one entry of the walk: ignore it, or hand it on to be read (or to be
/// reported, when it is a candidate but not a regular file).
fn consider(
    entry: &DirEntry,
    ledger: &Ledger,
    counters: &WalkCounters,
    dirs: &mut OpenDirs,
) -> Option<Found> {
    let file_type = entry.file_type();
    if file_type.is_dir() {
        dirs.entered(entry);
        return None;
    }
    let path = entry.path();
    let explicit = entry.depth() == 0;
    let name = path.file_name()?.as_encoded_bytes();
    let candidate = explicit || ends_with(name, ".xml") || ends_with(name, ".xml.gz");
    // A symbolic link is only seen here when links are not followed.
    if !candidate || file_type.is_symlink() {
        counters.other.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    counters.seen.fetch_add(1, Ordering::Relaxed);
    let display = path.display().to_string();
    if !file_type.is_file() {
        let problem = not_a_regular_file(file_type);
        return Some(Found::Unreadable { display, problem });
    }
    let known = ledger.find(path, &display);
    Some(Found::File(FileToRead {
        path: path.to_path_buf(),
        parent: dirs.parent_of(entry),
        path_key: path_key(path),
        display,
        compressed: ends_with(name, ".gz"),
        known,
    }))
}

/// Most directories held open at once for the files on their way to the readers. The
/// walk can run 8,192 files ahead; in an archive of one file a folder, each would
/// hold its own directory open, past a cron job's usual limit of 1,024 descriptors.
/// Past this many, files are opened by their whole path again.
pub const MAX_OPEN_DIRS: usize = 64;

/// The share of the process's descriptor limit that held directories may take: the
/// rest is for DuckDB, walkdir's own directory handles and the files being read. So
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

/// The directories on the walk's way down, by depth, open while fewer than
/// [`open_dirs_allowed`] are.
struct OpenDirs {
    path: Vec<Option<Arc<OpenDir>>>,
    open: Arc<AtomicUsize>,
    allowed: usize,
}

impl OpenDirs {
    fn new() -> Self {
        OpenDirs {
            path: Vec::new(),
            open: Arc::default(),
            allowed: open_dirs_allowed(),
        }
    }

    /// The walk entered `dir` (walkdir yields a directory before what it holds). A
    /// directory that cannot be opened gives its files no parent: they are opened by
    /// path, and fail there with the error to report.
    fn entered(&mut self, dir: &DirEntry) {
        self.path.truncate(dir.depth());
        self.path.resize(dir.depth(), None);
        let opened = (self.open.load(Ordering::Relaxed) < self.allowed)
            .then(|| {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
                rustix::fs::open(dir.path(), flags, Mode::empty()).ok()
            })
            .flatten()
            .map(|fd| {
                self.open.fetch_add(1, Ordering::Relaxed);
                let open = Arc::clone(&self.open);
                Arc::new(OpenDir { fd, open })
            });
        self.path.push(opened);
    }

    fn parent_of(&self, file: &DirEntry) -> Option<Arc<OpenDir>> {
        let depth = file.depth().checked_sub(1)?;
        self.path.get(depth)?.clone()
    }
}

/// Whether a file name ends with `suffix` in any case (`.XML`, `.Xml.GZ`), without
/// making a lower-case copy of every name walked.
fn ends_with(name: &[u8], suffix: &str) -> bool {
    name.len()
        .checked_sub(suffix.len())
        .and_then(|start| name.get(start..))
        .is_some_and(|end| end.eq_ignore_ascii_case(suffix.as_bytes()))
}

/// The `unreadable` problem of a candidate that is not a regular file, naming what it
/// is: reading a named pipe would wait for a writer forever, and a device never ends.
pub(super) fn not_a_regular_file(file_type: FileType) -> Problem {
    let what = if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "of an unknown type"
    };
    Problem::whole_file(
        ProblemKind::Unreadable,
        format!("not a regular file ({what})"),
    )
}

/// Whether a file the ledger knows still has the size and modification time it had
/// when it was read, so that it need not be read again. The readers call this, in
/// parallel, rather than the walk: a nightly run over a large archive is mostly stats.
/// A file the ledger holds without a content hash was not fully imported (it was too
/// large): it is never unchanged, so that a run that can import it does.
pub fn unchanged(file: &FileToRead) -> Result<bool, Problem> {
    let Some(known) = file.known.filter(|known| known.content_hash.is_some()) else {
        return Ok(false);
    };
    match file.path.metadata() {
        Ok(metadata) => {
            Ok(known.size == metadata.len() && known.modified_us == modified_micros(&metadata))
        }
        Err(error) => {
            let message = format!("cannot read its metadata: {error}");
            Err(Problem::whole_file(ProblemKind::Unreadable, message))
        }
    }
}

/// Modification time in microseconds since the epoch, as the ledger stores it.
pub fn modified_micros(metadata: &Metadata) -> i64 {
    match metadata.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
        Ok(Ok(since)) => since.as_micros() as i64,
        Ok(Err(before)) => -(before.duration().as_micros() as i64),
        Err(_) => 0,
    }
}

/// What went wrong at a place the walk could not look at: a directory it may not
/// read, or (with `--follow-symlinks`) a link that leads nowhere or in a circle.
fn walk_error_message(error: &walkdir::Error) -> String {
    if let Some(ancestor) = error.loop_ancestor() {
        let ancestor = ancestor.display();
        return format!("a symbolic link back to {ancestor}, which holds it; not followed again");
    }
    let Some(io) = error.io_error() else {
        return error.to_string();
    };
    match error.path().and_then(|path| std::fs::read_link(path).ok()) {
        Some(target) if io.kind() == std::io::ErrorKind::NotFound => {
            format!(
                "a symbolic link to {}, which does not exist",
                target.display()
            )
        }
        Some(target) => format!(
            "cannot follow the symbolic link to {}: {io}",
            target.display()
        ),
        None => format!("cannot read: {io}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::discover::{KnownFile, mkfifo};

    fn walk_all(
        root: &Path,
        ledger: &Ledger,
        options: WalkOptions,
    ) -> (Vec<String>, (u64, u64, u64)) {
        let counters = WalkCounters::default();
        let mut names = Vec::new();
        walk(&[root.to_path_buf()], ledger, options, &counters, |found| {
            if let Found::File(file) = found {
                names.push(file.path.strip_prefix(root).unwrap().display().to_string());
            }
            true
        });
        (names, counters.snapshot())
    }

    #[test]
    fn picks_xml_and_gz_in_name_order_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "b/2.xml",
            "b/1.XML",
            "a.xml.gz",
            "notes.txt",
            "c/d/e.xml",
            "f.Xml.GZ",
            "xml",
        ];
        for name in names {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "<POSTBACK/>").unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("b/2.xml"), dir.path().join("link.xml"))
            .unwrap();
        let (names, counts) = walk_all(dir.path(), &Ledger::default(), WalkOptions::default());
        let xml = ["a.xml.gz", "b/1.XML", "b/2.xml", "c/d/e.xml", "f.Xml.GZ"];
        assert_eq!(names, xml);
        assert_eq!(
            counts,
            (5, 0, 3),
            "seen, skipped, other (notes.txt, xml and the symlink)"
        );
        let follow = WalkOptions {
            follow_symlinks: true,
        };
        assert_eq!(walk_all(dir.path(), &Ledger::default(), follow).0.len(), 6);
    }

    /// Files are opened relative to the directory the walk opened, but never more than
    /// [`MAX_OPEN_DIRS`] directories are held open, however far the walk runs ahead.
    #[test]
    fn files_are_opened_in_their_directory_with_a_bounded_number_held_open() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..100 {
            let sub = dir.path().join(format!("d{n:03}"));
            std::fs::create_dir(&sub).unwrap();
            std::fs::write(sub.join("a.xml"), format!("<N>{n}</N>")).unwrap();
        }
        let walk_root = |use_found: &mut dyn FnMut(Found)| {
            let (ledger, options) = (Ledger::default(), WalkOptions::default());
            let counters = WalkCounters::default();
            walk(
                &[dir.path().to_path_buf()],
                &ledger,
                options,
                &counters,
                |found| {
                    use_found(found);
                    true
                },
            );
        };
        let mut files = Vec::new();
        walk_root(&mut |found| {
            if let Found::File(file) = found {
                files.push(file);
            }
        });
        assert_eq!(files.len(), 100);
        // The root and the first 63 folders were held open; the rest go by path.
        let with_parent = files.iter().filter(|f| f.parent.is_some()).count();
        assert_eq!(with_parent, open_dirs_allowed() - 1);
        assert!(files[0].parent.is_some() && files[99].parent.is_none());
        // Both ways read the right file, even after the folders were renamed: a file
        // with its folder open is read from that folder.
        std::fs::rename(dir.path().join("d000"), dir.path().join("moved")).unwrap();
        let read = |file: &FileToRead| crate::discover::read_file(file, 1000).map(|b| b.content);
        assert_eq!(read(&files[0]).unwrap(), b"<N>0</N>");
        assert_eq!(read(&files[99]).unwrap(), b"<N>99</N>");
        // Once the files are gone, the next walk opens folders again: each file found
        // (and dropped at once) has its folder.
        files.clear();
        let mut parents = 0;
        walk_root(&mut |found| {
            if let Found::File(file) = found {
                parents += usize::from(file.parent.is_some());
            }
        });
        assert_eq!(parents, 100);
    }

    #[test]
    fn suffixes_match_in_any_case_and_never_past_the_start_of_a_name() {
        assert!(ends_with(b"a.xml", ".xml") && ends_with(b".XmL", ".xml"));
        assert!(ends_with(b"a.xml.GZ", ".gz") && !ends_with(b"a.xml", ".gz"));
        assert!(!ends_with(b"xml", ".xml") && !ends_with(b"", ".gz"));
        // A multibyte character just before the suffix is no problem for byte slicing.
        assert!(ends_with("é.xml".as_bytes(), ".xml") && !ends_with("é".as_bytes(), ".xml"));
    }

    #[test]
    fn a_known_file_is_unchanged_while_its_size_and_time_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        std::fs::write(&path, "<POSTBACK/>").unwrap();
        let metadata = path.metadata().unwrap();
        let known = |size, content_hash| KnownFile {
            file_id: 1,
            size,
            modified_us: modified_micros(&metadata),
            content_hash,
        };
        let file = |known| FileToRead {
            path: path.clone(),
            parent: None,
            display: String::new(),
            path_key: 0,
            compressed: false,
            known,
        };
        assert_eq!(unchanged(&file(Some(known(11, Some(5))))), Ok(true));
        assert_eq!(
            unchanged(&file(Some(known(10, Some(5))))),
            Ok(false),
            "size changed"
        );
        assert_eq!(unchanged(&file(None)), Ok(false), "not in the ledger");
        assert_eq!(
            unchanged(&file(Some(known(11, None)))),
            Ok(false),
            "never fully imported (too large): read again"
        );
        let mut ledger = Ledger::default();
        ledger.insert(path_key(&path), known(11, Some(5)));
        ledger.seal();
        let counters = WalkCounters::default();
        let mut found = Vec::new();
        walk(
            &[dir.path().to_path_buf()],
            &ledger,
            WalkOptions::default(),
            &counters,
            |f| {
                found.push(f);
                true
            },
        );
        assert!(matches!(&found[..], [Found::File(f)] if f.known == Some(known(11, Some(5)))));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            unchanged(&file(Some(known(11, Some(5))))).unwrap_err().kind,
            ProblemKind::Unreadable
        );
    }

    /// Everything a walk hands on, as `name: file` or `name: problem message`.
    fn walk_found(root: &Path, options: WalkOptions) -> (Vec<String>, (u64, u64, u64)) {
        let counters = WalkCounters::default();
        let mut found = Vec::new();
        let name = |display: &str| {
            display
                .strip_prefix(&format!("{}/", root.display()))
                .unwrap_or(display)
                .to_string()
        };
        walk(
            &[root.to_path_buf()],
            &Ledger::default(),
            options,
            &counters,
            |f| {
                found.push(match f {
                    Found::File(file) => format!("{}: file", name(&file.display)),
                    Found::Unreadable { display, problem } => {
                        format!("{}: {}", name(&display), problem.message)
                    }
                });
                true
            },
        );
        (found, counters.snapshot())
    }

    #[test]
    fn entries_that_are_not_regular_files_are_reported_or_counted_never_handed_on() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        mkfifo(&root.join("pipe.xml"));
        mkfifo(&root.join("pipe.txt"));
        let _socket = std::os::unix::net::UnixListener::bind(root.join("socket.xml.gz")).unwrap();
        std::fs::create_dir(root.join("folder.xml")).unwrap();
        std::fs::write(root.join("folder.xml/inside.xml"), "<POSTBACK/>").unwrap();
        let links = root.join("links");
        std::fs::create_dir(&links).unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, links.join(name)).unwrap()
        };
        link(Path::new("/dev/null"), "null.xml");
        link(&root.join("pipe.xml"), "to-pipe.xml");
        link(&root.join("missing.xml"), "dangling.xml");
        link(&links.join("self.xml"), "self.xml");
        link(root, "up");
        let (found, counts) = walk_found(root, WalkOptions::default());
        assert_eq!(
            found,
            [
                "folder.xml/inside.xml: file",
                "pipe.xml: not a regular file (a named pipe)",
                "socket.xml.gz: not a regular file (a socket)",
            ]
        );
        assert_eq!(
            counts,
            (3, 0, 6),
            "pipe.txt and the five symbolic links are other"
        );
        let follow = WalkOptions {
            follow_symlinks: true,
        };
        let (found, counts) = walk_found(root, follow);
        assert_eq!(
            found,
            [
                "folder.xml/inside.xml: file",
                format!("links/dangling.xml: a symbolic link to {}/missing.xml, which does not exist", root.display()).as_str(),
                "links/null.xml: not a regular file (a character device)",
                format!("links/self.xml: cannot follow the symbolic link to {}/links/self.xml: Too many levels of symbolic links (os error 40)", root.display()).as_str(),
                "links/to-pipe.xml: not a regular file (a named pipe)",
                format!("links/up: a symbolic link back to {}, which holds it; not followed again", root.display()).as_str(),
                "pipe.xml: not a regular file (a named pipe)",
                "socket.xml.gz: not a regular file (a socket)",
            ]
        );
        assert_eq!(counts, (8, 0, 1), "pipe.txt is other");
    }

    #[test]
    fn a_named_pipe_named_on_the_command_line_is_reported_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let (found, counts) = walk_found(&fifo, WalkOptions::default());
        assert_eq!(
            found,
            [format!(
                "{}: not a regular file (a named pipe)",
                fifo.display()
            )]
        );
        assert_eq!(counts, (1, 0, 0));
    }

    #[test]
    fn nested_roots_are_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("x/y")).unwrap();
        let roots = resolve_roots(&[
            dir.path().join("x/y"),
            dir.path().join("x"),
            dir.path().join("x/../x"),
        ])
        .unwrap();
        assert_eq!(roots, [dir.path().canonicalize().unwrap().join("x")]);
        let missing = resolve_roots(&[dir.path().join("nope")]).unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!("cannot read {}", dir.path().join("nope").display())
        );
        assert_eq!(
            std::error::Error::source(&missing).unwrap().to_string(),
            "No such file or directory (os error 2)"
        );
    }
}
