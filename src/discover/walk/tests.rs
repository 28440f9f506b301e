use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::discover::open_dirs::open_dirs_allowed;
use crate::discover::{KnownFile, mkfifo};

/// A ledger in memory: the files of each folder, and which folders were asked for.
#[derive(Default)]
struct TestLedger {
    files: HashMap<i64, Vec<(u128, KnownFile)>>,
    asked: Vec<(i64, Option<usize>)>,
}

impl LedgerLookup for TestLedger {
    fn files_of(
        &mut self,
        folder: &FolderRecord,
        wanted: Option<&[u128]>,
    ) -> Result<FolderFiles, LookupError> {
        self.asked
            .push((folder.folder_id, wanted.map(<[u128]>::len)));
        let mut files = FolderFiles::default();
        for (key, file) in self.files.get(&folder.folder_id).into_iter().flatten() {
            files.insert(*key, *file);
        }
        files.seal();
        Ok(files)
    }
}

/// Everything one walk hands on, with the folder ledger it leaves: what the writer
/// would store of each folder listed (the settle time is 0, so stamps are kept).
struct Walked {
    found: Vec<Found>,
    counters: WalkCounters,
}

impl Walked {
    fn names(&self, root: &Path) -> Vec<String> {
        let name = |display: &str| {
            display
                .strip_prefix(&format!("{}/", root.display()))
                .unwrap_or(display)
                .to_string()
        };
        self.found
            .iter()
            .filter_map(|found| match found {
                Found::File(file) => Some(format!("{}: file", name(&file.display))),
                Found::Tarball(tarball) => Some(format!("{}: tarball", name(&tarball.display))),
                Found::Unreadable {
                    display, problem, ..
                } => Some(format!("{}: {}", name(display), problem.message)),
                Found::Listed(_) => None,
            })
            .collect()
    }

    fn files(&self) -> Vec<&FileToRead> {
        self.found
            .iter()
            .filter_map(|found| match found {
                Found::File(file) => Some(file),
                _ => None,
            })
            .collect()
    }

    /// The folder ledger the writer would hold after this walk, on top of `before`.
    fn folders(&self, before: &[FolderRecord]) -> Vec<FolderRecord> {
        let mut records: HashMap<i64, FolderRecord> =
            before.iter().map(|r| (r.folder_id, r.clone())).collect();
        fn add<'r>(
            records: &'r mut HashMap<i64, FolderRecord>,
            folder: &FolderRef,
        ) -> &'r mut FolderRecord {
            records
                .entry(folder.folder_id)
                .or_insert_with(|| FolderRecord {
                    folder_id: folder.folder_id,
                    path: folder.path.to_string(),
                    kind: folder.kind,
                    parent_id: folder.parent_id,
                    stamp: None,
                    links_followed: false,
                    file_ids: None,
                })
        }
        for found in &self.found {
            if let Found::Listed(listed) = found {
                let record = add(&mut records, &listed.folder);
                record.stamp = listed.stamp;
                record.links_followed = listed.links_followed;
                for sub in &listed.subfolders {
                    add(&mut records, sub).parent_id = Some(listed.folder.folder_id);
                }
            }
        }
        let mut records: Vec<FolderRecord> = records.into_values().collect();
        records.sort_by_key(|r| r.folder_id);
        records
    }
}

fn walk_with(
    input: WalkInput,
    records: &[FolderRecord],
    ledger: &mut TestLedger,
    options: WalkOptions,
) -> Walked {
    let mut folders = Folders::new(records.to_vec());
    let counters = WalkCounters::default();
    let mut found = Vec::new();
    walk(&input, &mut folders, ledger, options, &counters, |f| {
        found.push(f);
        true
    })
    .unwrap();
    Walked { found, counters }
}

fn settled() -> WalkOptions {
    WalkOptions {
        settle_time: Duration::ZERO,
        ..WalkOptions::default()
    }
}

fn walk_root(root: &Path, options: WalkOptions) -> Walked {
    let input = WalkInput::Roots(vec![root.to_path_buf()]);
    walk_with(input, &[], &mut TestLedger::default(), options)
}

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn picks_xml_gz_and_tarballs_files_before_folders_in_name_order_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "b/2.xml",
        "b/1.XML",
        "a.xml.gz",
        "notes.txt",
        "c/d/e.xml",
        "f.Xml.GZ",
        "xml",
        "g.tar.zst",
        "h.tgz",
    ] {
        write(dir.path(), name, "<POSTBACK/>");
    }
    std::os::unix::fs::symlink(dir.path().join("b/2.xml"), dir.path().join("link.xml")).unwrap();
    let walked = walk_root(dir.path(), WalkOptions::default());
    assert_eq!(
        walked.names(dir.path()),
        [
            "a.xml.gz: file",
            "f.Xml.GZ: file",
            "g.tar.zst: tarball",
            "h.tgz: tarball",
            "b/1.XML: file",
            "b/2.xml: file",
            "c/d/e.xml: file",
        ]
    );
    let counts = walked.counters.snapshot();
    assert_eq!(
        (counts.seen, counts.skipped, counts.other),
        (7, 0, 3),
        "seen, skipped, other (notes.txt, xml and the symlink)"
    );
    assert_eq!((counts.folders_listed, counts.folders_unchanged), (4, 0));
    let follow = WalkOptions {
        follow_symlinks: true,
        ..WalkOptions::default()
    };
    assert_eq!(walk_root(dir.path(), follow).files().len(), 6);
}

/// A folder read whole is not listed again while its stamp holds: the walk goes into
/// its recorded subfolders only, and finds a file added to one of them.
#[test]
fn an_unchanged_folder_is_not_listed_and_a_late_file_in_an_old_folder_is_found() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "2026/11/14/a.xml", "<A/>");
    write(dir.path(), "2026/11/15/b.xml", "<B/>");
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let mut ledger = TestLedger::default();
    let first = walk_with(input.clone(), &[], &mut ledger, settled());
    assert_eq!(first.files().len(), 2);
    assert_eq!(first.counters.snapshot().folders_listed, 5);
    let records = first.folders(&[]);
    assert!(records.iter().all(|r| r.stamp.is_some()), "{records:?}");
    assert!(
        ledger.asked.is_empty(),
        "new folders have no files to look up"
    );

    let again = walk_with(input.clone(), &records, &mut ledger, settled());
    assert!(again.found.is_empty(), "{:?}", again.names(dir.path()));
    let counts = again.counters.snapshot();
    assert_eq!((counts.folders_listed, counts.folders_unchanged), (0, 5));
    assert!(ledger.asked.is_empty());

    write(dir.path(), "2026/11/14/late.xml", "<L/>");
    let late = walk_with(input, &records, &mut ledger, settled());
    assert_eq!(
        late.names(dir.path()),
        ["2026/11/14/a.xml: file", "2026/11/14/late.xml: file"]
    );
    let counts = late.counters.snapshot();
    assert_eq!((counts.folders_listed, counts.folders_unchanged), (1, 4));
    let day = records.iter().find(|r| r.path.ends_with("/14")).unwrap();
    assert_eq!(
        ledger.asked,
        [(day.folder_id, None)],
        "one lookup, of that folder"
    );
}

/// What changes a folder's stamp: a file added, removed or renamed, the folder
/// replaced by another of the same name; and a `--rescan` lists every folder.
#[test]
fn a_folder_replaced_or_renamed_into_is_listed_and_rescan_lists_all() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/a.xml", "<A/>");
    write(dir.path(), "e/b.xml", "<B/>");
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let mut ledger = TestLedger::default();
    let records = walk_with(input.clone(), &[], &mut ledger, settled()).folders(&[]);

    std::fs::rename(dir.path().join("d"), dir.path().join("old-d")).unwrap();
    write(dir.path(), "d/a.xml", "<A2/>");
    std::fs::rename(dir.path().join("e/b.xml"), dir.path().join("e/c.xml")).unwrap();
    let walked = walk_with(input.clone(), &records, &mut ledger, settled());
    assert_eq!(
        walked.names(dir.path()),
        ["d/a.xml: file", "e/c.xml: file", "old-d/a.xml: file"]
    );
    let records = walked.folders(&records);

    let rescan = WalkOptions {
        relist: true,
        ..settled()
    };
    let walked = walk_with(input, &records, &mut ledger, rescan);
    assert_eq!(walked.files().len(), 3);
    assert_eq!(walked.counters.snapshot().folders_listed, 4);
}

/// A clock set back (or a tool that restores a folder's time) can give a folder the
/// very modification time of its stamp after a file came: its change time, which no
/// one can set, still tells.
#[test]
fn a_folder_whose_time_is_set_back_to_its_stamp_is_listed_by_its_change_time() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/a.xml", "<A/>");
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let mut ledger = TestLedger::default();
    let records = walk_with(input.clone(), &[], &mut ledger, settled()).folders(&[]);
    let folder = dir.path().join("d");
    let modified = std::fs::metadata(&folder).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    write(dir.path(), "d/late.xml", "<L/>");
    std::fs::File::open(&folder)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&folder).unwrap().modified().unwrap(),
        modified
    );
    let walked = walk_with(input, &records, &mut ledger, settled());
    assert_eq!(
        walked.names(dir.path()),
        ["d/a.xml: file", "d/late.xml: file"]
    );
}

/// A stamp taken while a folder's times were still fresh is not kept: the next run
/// lists the folder again.
#[test]
fn a_folder_changed_within_the_settle_time_is_listed_again() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/a.xml", "<A/>");
    let walked = walk_root(dir.path(), WalkOptions::default());
    let listed: Vec<Option<Stamp>> = walked
        .found
        .iter()
        .filter_map(|f| match f {
            Found::Listed(listed) => Some(listed.stamp),
            _ => None,
        })
        .collect();
    assert_eq!(listed, [None, None], "both folders were just made");
}

/// Files the ledger knows are handed on with their entries, looked up once for their
/// folder; files named directly are looked up by key in their folder.
#[test]
fn known_files_come_with_their_entries_and_named_files_are_looked_up_by_folder() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/a.xml", "<A/>");
    write(dir.path(), "d/b.xml", "<B/>");
    let folder = dir.path().join("d");
    let record = FolderRecord {
        folder_id: 7,
        path: folder.display().to_string(),
        kind: FolderKind::Folder,
        parent_id: None,
        stamp: None,
        links_followed: false,
        file_ids: Some((1, 1)),
    };
    let known = KnownFile {
        file_id: 1,
        size: 4,
        modified_us: 5,
        content_hash: Some(6),
    };
    let mut ledger = TestLedger::default();
    ledger
        .files
        .insert(7, vec![(path_key(&folder.join("a.xml")), known)]);
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let walked = walk_with(input, std::slice::from_ref(&record), &mut ledger, settled());
    let known_of: Vec<(String, Option<i64>, i64)> = walked
        .files()
        .iter()
        .map(|f| {
            let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            let folder = f.folder.as_ref().unwrap().folder_id;
            (name, f.known.map(|k| k.file_id), folder)
        })
        .collect();
    assert_eq!(
        known_of,
        [
            ("a.xml".to_string(), Some(1), 7),
            ("b.xml".to_string(), None, 7)
        ]
    );
    assert_eq!(ledger.asked, [(7, None)]);

    ledger.asked.clear();
    let named = WalkInput::Files(vec![folder.join("a.xml"), folder.join("b.xml")]);
    let walked = walk_with(named, std::slice::from_ref(&record), &mut ledger, settled());
    assert_eq!(walked.files().len(), 2);
    assert_eq!(walked.files()[0].known, Some(known));
    assert_eq!(ledger.asked, [(7, Some(2))], "one lookup for both, by key");
    assert_eq!(walked.counters.snapshot().folders_listed, 0);
}

/// A tarball whose size and time are as the ledger recorded is skipped unopened.
#[test]
fn an_unchanged_tarball_is_skipped_and_a_changed_one_handed_on_with_its_members() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "15.tar.zst", "not really");
    let tarball = dir.path().join("15.tar.zst");
    let stamp = Stamp::of(&tarball.metadata().unwrap());
    let record = |stamp| FolderRecord {
        folder_id: 3,
        path: tarball.display().to_string(),
        kind: FolderKind::Tarball,
        parent_id: None,
        stamp,
        links_followed: false,
        file_ids: Some((1, 9)),
    };
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let mut ledger = TestLedger::default();
    let walked = walk_with(
        input.clone(),
        &[record(Some(stamp))],
        &mut ledger,
        settled(),
    );
    assert_eq!(walked.names(dir.path()), Vec::<String>::new());
    let counts = walked.counters.snapshot();
    assert_eq!((counts.seen, counts.skipped), (1, 1));
    assert!(ledger.asked.is_empty());

    let grown = Stamp {
        size: stamp.size - 1,
        ..stamp
    };
    let walked = walk_with(input, &[record(Some(grown))], &mut ledger, settled());
    assert_eq!(walked.names(dir.path()), ["15.tar.zst: tarball"]);
    assert_eq!(ledger.asked, [(3, None)]);
}

/// Files are opened relative to the directory the walk opened, but never more than
/// [`MAX_OPEN_DIRS`] directories are held open, however far the walk runs ahead.
#[test]
fn files_are_opened_in_their_directory_with_a_bounded_number_held_open() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..100 {
        write(
            dir.path(),
            &format!("d{n:03}/a.xml"),
            &format!("<N>{n}</N>"),
        );
    }
    let mut walked = walk_root(dir.path(), WalkOptions::default());
    let files: Vec<FileToRead> = walked
        .found
        .drain(..)
        .filter_map(|f| match f {
            Found::File(file) => Some(file),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 100);
    let with_parent = files.iter().filter(|f| f.parent.is_some()).count();
    assert_eq!(with_parent, open_dirs_allowed() - 1);
    assert!(files[0].parent.is_some() && files[99].parent.is_none());
    // Both ways read the right file, even after the folders were renamed: a file
    // with its folder open is read from that folder.
    std::fs::rename(dir.path().join("d000"), dir.path().join("moved")).unwrap();
    let read = |file: &FileToRead| crate::discover::read_file(file, 1000).map(|b| b.content);
    assert_eq!(read(&files[0]).unwrap(), b"<N>0</N>");
    assert_eq!(read(&files[99]).unwrap(), b"<N>99</N>");
    drop(files);
    // Once the files are gone, the next walk holds folders again, each file found
    // (and dropped at once) with its folder.
    let mut folders = Folders::default();
    let counters = WalkCounters::default();
    let mut parents = 0;
    let input = WalkInput::Roots(vec![dir.path().to_path_buf()]);
    let mut ledger = TestLedger::default();
    walk(
        &input,
        &mut folders,
        &mut ledger,
        WalkOptions::default(),
        &counters,
        |found| {
            if let Found::File(file) = found {
                parents += usize::from(file.parent.is_some());
            }
            true
        },
    )
    .unwrap();
    assert_eq!(parents, 100);
}

#[test]
fn suffixes_match_in_any_case_and_never_past_the_start_of_a_name() {
    assert!(ends_with(b"a.xml", ".xml") && ends_with(b".XmL", ".xml"));
    assert!(ends_with(b"a.xml.GZ", ".gz") && !ends_with(b"a.xml", ".gz"));
    assert!(!ends_with(b"xml", ".xml") && !ends_with(b"", ".gz"));
    // A multibyte character just before the suffix is no problem for byte slicing.
    assert!(ends_with("é.xml".as_bytes(), ".xml") && !ends_with("é".as_bytes(), ".xml"));
    assert_eq!(
        Compression::of_tarball(b"15.TAR.ZST"),
        Some(Compression::Zstd)
    );
    assert_eq!(Compression::of_tarball(b"x.tgz"), Some(Compression::Gzip));
    assert_eq!(Compression::of_tarball(b"x.tar"), Some(Compression::None));
    assert_eq!(Compression::of_tarball(b"tar"), None);
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
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, links.join(name)).unwrap();
    link(Path::new("/dev/null"), "null.xml");
    link(&root.join("pipe.xml"), "to-pipe.xml");
    link(&root.join("missing.xml"), "dangling.xml");
    link(&links.join("self.xml"), "self.xml");
    link(root, "up");
    let walked = walk_root(root, WalkOptions::default());
    assert_eq!(
        walked.names(root),
        [
            "pipe.xml: not a regular file (a named pipe)",
            "socket.xml.gz: not a regular file (a socket)",
            "folder.xml/inside.xml: file",
        ]
    );
    let counts = walked.counters.snapshot();
    assert_eq!(
        (counts.seen, counts.skipped, counts.other),
        (3, 0, 6),
        "pipe.txt and the five symbolic links are other"
    );
    let follow = WalkOptions {
        follow_symlinks: true,
        ..WalkOptions::default()
    };
    let walked = walk_root(root, follow);
    assert_eq!(
        walked.names(root),
        [
            "pipe.xml: not a regular file (a named pipe)",
            "socket.xml.gz: not a regular file (a socket)",
            "folder.xml/inside.xml: file",
            format!("links/dangling.xml: a symbolic link to {}/missing.xml, which does not exist", root.display()).as_str(),
            "links/null.xml: not a regular file (a character device)",
            format!("links/self.xml: cannot follow the symbolic link to {}/links/self.xml: Too many levels of symbolic links (os error 40)", root.display()).as_str(),
            "links/to-pipe.xml: not a regular file (a named pipe)",
            format!("links/up: a symbolic link back to {}, which holds it; not followed again", root.display()).as_str(),
        ]
    );
    let counts = walked.counters.snapshot();
    assert_eq!((counts.seen, counts.other), (8, 1), "pipe.txt is other");
}

#[test]
fn a_named_pipe_named_on_the_command_line_is_reported_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let walked = walk_root(&fifo, WalkOptions::default());
    assert_eq!(
        walked.names(&fifo),
        [format!(
            "{}: not a regular file (a named pipe)",
            fifo.display()
        )]
    );
    let counts = walked.counters.snapshot();
    assert_eq!((counts.seen, counts.skipped, counts.other), (1, 0, 0));
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
