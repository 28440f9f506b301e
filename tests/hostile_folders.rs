//! Hostile folders for files opened relative to their folder's handle
//! (`FileToRead::parent`, `MAX_OPEN_DIRS`): the files read, their content and the errors
//! are what opening by the whole path gave, or safer, and no more than `MAX_OPEN_DIRS`
//! folders are held open at once, however many roots are named.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use postback_archive::discover::{
    EmptyLedger, FileToRead, Folders, Found, MAX_OPEN_DIRS, WalkCounters, WalkInput, WalkOptions,
    read_file, walk,
};

const FOLLOW: WalkOptions = WalkOptions {
    follow_symlinks: true,
    relist: false,
    reread: false,
    settle_time: Duration::from_secs(5),
};

/// Everything the walk of `roots` yields, kept alive (so their folders stay open).
fn walk_roots(roots: &[PathBuf], options: WalkOptions) -> (Vec<FileToRead>, Vec<String>) {
    let counters = WalkCounters::default();
    let (mut files, mut problems) = (Vec::new(), Vec::new());
    let input = WalkInput::Roots(roots.to_vec());
    let mut folders = Folders::default();
    walk(
        &input,
        &mut folders,
        &mut EmptyLedger,
        options,
        &counters,
        |found| {
            match found {
                Found::File(file) => files.push(file),
                Found::Unreadable {
                    display, problem, ..
                } => problems.push(format!("{display}: {}", problem.message)),
                Found::Tarball(_) | Found::Listed(_) => {}
            }
            true
        },
    )
    .unwrap();
    (files, problems)
}

/// The same file, opened by its whole path (as before folders were held open).
fn by_path(file: &FileToRead) -> FileToRead {
    FileToRead {
        parent: None,
        ..file.clone()
    }
}

/// What reading gives: the content, or the problem's message.
fn read(file: &FileToRead) -> Result<Vec<u8>, String> {
    match read_file(file, 1 << 20) {
        Ok(bytes) => match bytes.problem {
            None => Ok(bytes.content),
            Some(problem) => Err(problem.message),
        },
        Err(problem) => Err(problem.message),
    }
}

/// `read`, failing the test if it does not return within 10 s (a named pipe must never block).
fn read_in_time(file: &FileToRead) -> Result<Vec<u8>, String> {
    let (tx, rx) = mpsc::channel();
    let file = file.clone();
    std::thread::spawn(move || tx.send(read(&file)).unwrap());
    rx.recv_timeout(Duration::from_secs(10))
        .expect("reading blocked")
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn mkfifo(path: &Path) {
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
}

fn with_parent(files: &[FileToRead]) -> usize {
    files.iter().filter(|f| f.parent.is_some()).count()
}

/// Regression: the bound was per root, so `import d1 d2 … d3000` (a shell glob over day
/// folders) held one folder open per root for every file in flight, and the real
/// binary under 128 descriptors lost files to "Too many open files" (see
/// `descriptors.rs`). One bound for the whole walk.
#[test]
fn many_roots_share_one_bound_of_open_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut roots = Vec::new();
    for n in 0..100 {
        let root = dir.path().join(format!("r{n:03}"));
        write(&root.join("a.xml"), &format!("<N>{n}</N>"));
        roots.push(root);
    }
    let (files, problems) = walk_roots(&roots, WalkOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(files.len(), 100);
    assert!(
        with_parent(&files) <= MAX_OPEN_DIRS,
        "{} folders held open at once, over MAX_OPEN_DIRS = {MAX_OPEN_DIRS}",
        with_parent(&files)
    );
}

/// One root of many sibling folders: bounded, and every file reads as by its path.
#[test]
fn many_sibling_folders_are_bounded_and_read_the_same_as_by_path() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..300 {
        write(
            &dir.path().join(format!("d{n:03}/a.xml")),
            &format!("<N>{n}</N>"),
        );
    }
    let (files, _) = walk_roots(&[dir.path().to_path_buf()], WalkOptions::default());
    assert_eq!(files.len(), 300);
    assert_eq!(with_parent(&files), MAX_OPEN_DIRS - 1);
    for (n, file) in files.iter().enumerate() {
        assert_eq!(read(file).unwrap(), format!("<N>{n}</N>").as_bytes());
        assert_eq!(read(file), read(&by_path(file)));
    }
    // Dropping the files frees the folders: a new walk opens them again.
    drop(files);
    let (files, _) = walk_roots(&[dir.path().to_path_buf()], WalkOptions::default());
    assert_eq!(with_parent(&files), MAX_OPEN_DIRS - 1);
}

/// A tree deeper than MAX_OPEN_DIRS, a file at every level: the ancestors stay open,
/// deeper folders go by path, every file reads right.
#[test]
fn a_tree_deeper_than_max_open_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let mut path = dir.path().to_path_buf();
    for level in 0..150 {
        path.push("d");
        write(
            &path.join(format!("{level}.xml")),
            &format!("<L>{level}</L>"),
        );
    }
    let (files, problems) = walk_roots(&[dir.path().to_path_buf()], WalkOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(files.len(), 150);
    // The root is open too, holding no file.
    assert_eq!(with_parent(&files), MAX_OPEN_DIRS - 1);
    for file in &files {
        let level = file.path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(read(file).unwrap(), format!("<L>{level}</L>").as_bytes());
    }
    // A file of the deepest folder named on the command line: no parent, read by path.
    let deepest = files.last().unwrap().path.clone();
    let (named, _) = walk_roots(std::slice::from_ref(&deepest), WalkOptions::default());
    assert_eq!(named.len(), 1);
    assert!(named[0].parent.is_none());
    assert_eq!(read(&named[0]).unwrap(), b"<L>149</L>");
}

/// Names the old lower-cased lossy test and the new byte test must agree on, and that
/// `openat` must open by their exact bytes.
#[test]
fn odd_names_are_picked_and_read_by_their_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let gz = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"<GZ/>").unwrap();
        encoder.finish().unwrap()
    };
    let names: Vec<(&[u8], Option<&[u8]>)> = vec![
        (b".xml", Some(b"dot")),
        (b".XML.GZ", Some(b"<GZ/>")),
        (b"a.Xml.Gz", Some(b"<GZ/>")),
        (b"line\nbreak.xml", Some(b"newline")),
        (b"bad\xff\xfe.xml", Some(b"latin")),
        (b"bad\xff.xml", Some(b"latin2")),
        (b"\xff.XmL", Some(b"only-invalid")),
        (b"x.xml\xff", None),
        (b"x.xm", None),
        (b"xml", None),
        (b"x.gz", None),
        (b"x.xml.gz.txt", None),
        (b"x.xml ", None),
        (b"caf\xc3\xa9.xml", Some(b"utf8")),
        (b"\xe2\x80\xa8.xml", Some(b"u2028")),
    ];
    for (name, content) in &names {
        let path = dir.path().join(OsStr::from_bytes(name));
        match content {
            Some(b"<GZ/>") => std::fs::write(&path, &gz).unwrap(),
            Some(content) => std::fs::write(&path, content).unwrap(),
            None => std::fs::write(&path, b"not picked").unwrap(),
        }
    }
    let (files, problems) = walk_roots(&[dir.path().to_path_buf()], WalkOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    let mut picked: Vec<(Vec<u8>, Vec<u8>, bool)> = files
        .iter()
        .map(|f| {
            assert!(f.parent.is_some());
            assert_eq!(read(f), read(&by_path(f)));
            let name = f.path.file_name().unwrap().as_bytes().to_vec();
            (name, read(f).unwrap(), f.compressed)
        })
        .collect();
    picked.sort();
    let mut expected: Vec<(Vec<u8>, Vec<u8>, bool)> = names
        .iter()
        .filter_map(|(name, content)| {
            let compressed = name.to_ascii_lowercase().ends_with(b".gz");
            content.map(|c| (name.to_vec(), c.to_vec(), compressed))
        })
        .collect();
    expected.sort();
    assert_eq!(picked, expected);
}

/// After the walk, the folder is renamed and replaced by a symbolic link to a folder
/// outside the root holding a file of the same name: the file found is read (never the
/// one outside), where opening by path would follow the link.
#[test]
fn a_folder_swapped_for_a_link_outside_after_the_walk_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
    write(&root.join("sub/a.xml"), "inside");
    write(&outside.join("a.xml"), "OUTSIDE");
    let (files, _) = walk_roots(std::slice::from_ref(&root), WalkOptions::default());
    assert_eq!(files.len(), 1);
    std::fs::rename(root.join("sub"), root.join("gone")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
    assert_eq!(read(&files[0]).unwrap(), b"inside");
    assert_eq!(
        read(&by_path(&files[0])).unwrap(),
        b"OUTSIDE",
        "the old way"
    );
}

/// After the walk, the folder is removed, and something else takes its name: a file, a
/// named pipe, a link. Reading fails cleanly (the folder's handle now names a deleted
/// folder), never blocks, never reads what took the name.
#[test]
fn a_folder_replaced_after_the_walk_fails_cleanly() {
    for replacement in ["file", "fifo", "symlink", "dir"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        write(&root.join("sub/a.xml"), "inside");
        write(&dir.path().join("outside/a.xml"), "OUTSIDE");
        let (files, _) = walk_roots(std::slice::from_ref(&root), WalkOptions::default());
        assert!(files[0].parent.is_some());
        std::fs::remove_dir_all(root.join("sub")).unwrap();
        let sub = root.join("sub");
        match replacement {
            "file" => std::fs::write(&sub, "x").unwrap(),
            "fifo" => mkfifo(&sub),
            "symlink" => std::os::unix::fs::symlink(dir.path().join("outside"), &sub).unwrap(),
            _ => write(&sub.join("a.xml"), "NEW"),
        }
        let result = read_in_time(&files[0]);
        assert_eq!(
            result,
            Err("cannot open: No such file or directory (os error 2)".to_string()),
            "{replacement}"
        );
        // By its path, the file would be whatever now takes the folder's name.
        let by_path = read_in_time(&by_path(&files[0]));
        let expected = match replacement {
            "file" | "fifo" => Err("cannot open: Not a directory (os error 20)".to_string()),
            "symlink" => Ok(b"OUTSIDE".to_vec()),
            _ => Ok(b"NEW".to_vec()),
        };
        assert_eq!(by_path, expected, "{replacement}");
    }
}

/// A file swapped after the walk for a named pipe, a folder, a link to a pipe, a link
/// outside: read in its folder exactly as by its path, and a pipe never blocks.
#[test]
fn a_file_replaced_after_the_walk_reads_as_by_path_and_never_blocks() {
    for replacement in [
        "fifo",
        "dir",
        "link-to-fifo",
        "link-outside",
        "dangling",
        "socket",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        write(&root.join("sub/a.xml"), "inside");
        write(&dir.path().join("outside.xml"), "OUTSIDE");
        mkfifo(&dir.path().join("pipe"));
        let (files, _) = walk_roots(std::slice::from_ref(&root), WalkOptions::default());
        let file = root.join("sub/a.xml");
        std::fs::remove_file(&file).unwrap();
        let _listener;
        match replacement {
            "fifo" => mkfifo(&file),
            "dir" => std::fs::create_dir(&file).unwrap(),
            "link-to-fifo" => std::os::unix::fs::symlink(dir.path().join("pipe"), &file).unwrap(),
            "link-outside" => {
                std::os::unix::fs::symlink(dir.path().join("outside.xml"), &file).unwrap()
            }
            "dangling" => std::os::unix::fs::symlink(dir.path().join("nope"), &file).unwrap(),
            _ => _listener = std::os::unix::net::UnixListener::bind(&file).unwrap(),
        }
        let new = read_in_time(&files[0]);
        let old = read_in_time(&by_path(&files[0]));
        assert_eq!(new, old, "{replacement}");
    }
}

/// With links followed: a loop, two links to one folder, a link to a folder outside
/// the root. Every file found reads as by its path.
#[test]
fn followed_links_read_as_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(&root.join("real/a.xml"), "real");
    write(&root.join("real/deeper/b.xml"), "deeper");
    write(&dir.path().join("outside/c.xml"), "outside");
    std::os::unix::fs::symlink(root.join("real"), root.join("link1")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("link2")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("real/loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside"), root.join("out")).unwrap();
    std::os::unix::fs::symlink(root.join("real/a.xml"), root.join("filelink.xml")).unwrap();
    let (files, problems) = walk_roots(std::slice::from_ref(&root), FOLLOW);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "filelink.xml",
            "link1/a.xml",
            "link1/deeper/b.xml",
            "link2/a.xml",
            "link2/deeper/b.xml",
            "out/c.xml",
            "real/a.xml",
            "real/deeper/b.xml",
        ]
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(with_parent(&files), files.len());
    for file in &files {
        assert_eq!(read(file), read(&by_path(file)), "{}", file.path.display());
        assert!(read(file).is_ok());
    }
}

/// A root named twice, a root inside another, a file root inside a folder root.
#[test]
fn roots_given_twice_or_nested_find_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("x/y/a.xml"), "a");
    write(&dir.path().join("x/b.xml"), "b");
    let given = [
        dir.path().join("x/y"),
        dir.path().join("x"),
        dir.path().join("x"),
        dir.path().join("x/y/a.xml"),
    ];
    let roots = postback_archive::discover::resolve_roots(&given).unwrap();
    let (files, _) = walk_roots(&roots, WalkOptions::default());
    let contents: Vec<Vec<u8>> = files.iter().map(|f| read(f).unwrap()).collect();
    assert_eq!(contents, [b"b".to_vec(), b"a".to_vec()]);
}

/// Folders an unprivileged import may not enter: one it may not list (mode 0), one it
/// may list but not search (no `x`, so no file in it opens). Each is reported as a
/// folder that cannot be read, the rest is imported, and a run after the permissions are given imports them. As root (CI)
/// the import runs as `nobody`, so the denial is real.
#[test]
fn folders_without_permissions_are_reported_and_read_once_they_may_be() {
    use std::os::unix::fs::PermissionsExt;
    let work = common::Workdir::new();
    work.write("in/ok/c.xml", common::receipt(1));
    work.write("in/locked/a.xml", common::receipt(2));
    work.write("in/noexec/b.xml", common::receipt(3));
    let root = work.path().join("in");
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, PermissionsExt::from_mode(mode)).unwrap();
    };
    mode(&root, 0o777);
    mode(&root.join("ok"), 0o777);
    mode(&root.join("locked"), 0o000);
    mode(&root.join("noexec"), 0o444);
    let output = work
        .command_unprivileged(&["import", "in"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    let shown = root.canonicalize().unwrap().display().to_string();
    assert_eq!(
        common::stderr(&output).lines().collect::<Vec<_>>(),
        [
            format!("{shown}/locked: unreadable: cannot read: Permission denied (os error 13)"),
            format!("{shown}/noexec: unreadable: cannot read: Permission denied (os error 13)"),
        ]
    );
    mode(&root.join("locked"), 0o755);
    mode(&root.join("noexec"), 0o755);
    let output = work
        .command_unprivileged(&["import", "in"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    assert_eq!(work.value("SELECT count(*) FROM files"), "3");
}
