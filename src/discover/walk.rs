//! Discover, step 1: walk the roots and pick the files to read.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use super::{DiscoverError, FileToRead, Found, Ledger, WalkCounters};
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
/// only `*.xml` and `*.xml.gz` are. The walk reads directories only, no file metadata.
pub fn walk(
    roots: &[PathBuf],
    ledger: &Ledger,
    options: WalkOptions,
    counters: &WalkCounters,
    mut emit: impl FnMut(Found) -> bool,
) {
    for root in roots {
        let walker = WalkDir::new(root)
            .follow_links(options.follow_symlinks)
            // Siblings share their parent's path, so comparing whole paths as bytes
            // orders them by name, without parsing path components per comparison.
            .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()));
        for entry in walker {
            let found = match entry {
                Ok(entry) if entry.file_type().is_dir() => continue,
                Ok(entry) if entry.file_type().is_symlink() => {
                    counters.other.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Ok(entry) => {
                    let explicit = entry.depth() == 0;
                    match consider(entry.path(), explicit, ledger, counters) {
                        Some(found) => found,
                        None => continue,
                    }
                }
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

/// Decide about one file: ignore it, skip it as unchanged, or read it.
fn consider(
    path: &Path,
    explicit: bool,
    ledger: &Ledger,
    counters: &WalkCounters,
) -> Option<Found> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let compressed = name.ends_with(".gz");
    if !(explicit || name.ends_with(".xml") || name.ends_with(".xml.gz")) {
        counters.other.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    counters.seen.fetch_add(1, Ordering::Relaxed);
    let display = path.display().to_string();
    let known = ledger.get(&display);
    Some(Found::File(FileToRead {
        path: path.to_path_buf(),
        display,
        compressed,
        known,
    }))
}

/// Whether a file the ledger knows still has the size and modification time it had
/// when it was read, so that it need not be read again. The readers call this, in
/// parallel, rather than the walk: a nightly run over a large archive is mostly stats.
pub fn unchanged(file: &FileToRead) -> Result<bool, Problem> {
    let Some(known) = file.known else {
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

fn walk_error_message(error: &walkdir::Error) -> String {
    if let Some(ancestor) = error.loop_ancestor() {
        return format!("symlink loop back to {}", ancestor.display());
    }
    match error.io_error() {
        Some(io) => format!("cannot read: {io}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for name in ["b/2.xml", "b/1.XML", "a.xml.gz", "notes.txt", "c/d/e.xml"] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "<POSTBACK/>").unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("b/2.xml"), dir.path().join("link.xml"))
            .unwrap();
        let (names, counts) = walk_all(dir.path(), &Ledger::default(), WalkOptions::default());
        assert_eq!(names, ["a.xml.gz", "b/1.XML", "b/2.xml", "c/d/e.xml"]);
        assert_eq!(
            counts,
            (4, 0, 2),
            "seen, skipped, other (notes.txt and the symlink)"
        );
        let follow = WalkOptions {
            follow_symlinks: true,
        };
        assert_eq!(walk_all(dir.path(), &Ledger::default(), follow).0.len(), 5);
    }

    #[test]
    fn a_known_file_is_unchanged_while_its_size_and_time_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        std::fs::write(&path, "<POSTBACK/>").unwrap();
        let metadata = path.metadata().unwrap();
        let known = |size| crate::discover::KnownFile {
            file_id: 1,
            size,
            modified_us: modified_micros(&metadata),
            content_hash: None,
        };
        let file = |known| FileToRead {
            path: path.clone(),
            display: String::new(),
            compressed: false,
            known,
        };
        assert_eq!(unchanged(&file(Some(known(11)))), Ok(true));
        assert_eq!(unchanged(&file(Some(known(10)))), Ok(false), "size changed");
        assert_eq!(unchanged(&file(None)), Ok(false), "not in the ledger");
        let mut ledger = Ledger::default();
        ledger.insert(
            crate::discover::path_key(&path.display().to_string()),
            known(11),
        );
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
        assert!(matches!(&found[..], [Found::File(f)] if f.known == Some(known(11))));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            unchanged(&file(Some(known(11)))).unwrap_err().kind,
            ProblemKind::Unreadable
        );
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
