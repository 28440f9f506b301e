//! Hostile file trees: named pipes, sockets and devices, links that lead nowhere or in a
//! circle, files that vanish or may not be read, names that are not UTF-8 or hold a
//! newline, files refused by a limit. The real binary on a real archive; every run is
//! killed after a minute, so that a hang fails the test instead of holding up CI.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{Workdir, stderr, summary};
use postback_archive::discover::{
    self, EmptyLedger, Folders, Found, WalkCounters, WalkInput, WalkOptions,
};
use postback_archive::problem::ProblemKind;
use xxhash_rust::xxh3::xxh3_128;

/// Longer than any of these imports takes, short enough to fail a hung one.
const GUARD: Duration = Duration::from_secs(60);

fn postback(code: &str, tracking: &str) -> String {
    format!(
        "<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>{code}</CODE><STATUS>Message Sent</STATUS><TO>16503333058</TO><TRACKINGID>{tracking}</TRACKINGID><SPID>0001470</SPID><TIMESTAMP>2013-11-05T05:41:08-05:00</TIMESTAMP></POSTBACK>"
    )
}

/// Run the binary in `work`, failing the test if it has not ended within [`GUARD`].
fn run(work: &Workdir, args: &[&str]) -> Output {
    guarded(work.command(args))
}

fn guarded(mut command: assert_cmd::Command) -> Output {
    let output = command.timeout(GUARD).output().unwrap();
    assert!(
        output.status.code().is_some(),
        "killed after {GUARD:?}: the command hung ({}); stderr: {}",
        output.status,
        stderr(&output)
    );
    output
}

/// The canonical folder of `relative` in the workdir, as paths are printed.
fn root(work: &Workdir, relative: &str) -> PathBuf {
    work.path().canonicalize().unwrap().join(relative)
}

fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
}

fn lines(output: &Output) -> Vec<String> {
    stderr(output).lines().map(String::from).collect()
}

#[test]
fn a_named_pipe_in_the_tree_is_reported_and_the_import_finishes() {
    let work = Workdir::new();
    work.write("in/good.xml", postback("N201", "A"));
    mkfifo(&work.path().join("in/pipe.xml"));
    mkfifo(&work.path().join("in/pipe.txt"));
    let output = run(&work, &["import", "in"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let pipe = root(&work, "in/pipe.xml");
    let reported = format!(
        "{}: unreadable: not a regular file (a named pipe)",
        pipe.display()
    );
    assert_eq!(lines(&output), std::slice::from_ref(&reported));
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 2 files seen, 0 unchanged, 2 read, 1 other; 1 new postbacks, 0 duplicates; 1 problems"
    );
    assert_eq!(
        work.rows("SELECT kind, message, file_id IS NULL FROM import_errors"),
        ["unreadable|not a regular file (a named pipe)|true"]
    );
    assert_eq!(
        work.rows("SELECT regexp_extract(path, '[^/]+$') FROM files"),
        ["good.xml"],
        "the pipe stays out of the ledger"
    );
    // Still not a file to import: reported again by every run, on one thread too.
    let again = run(&work, &["import", "--threads", "1", "in"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(lines(&again), [reported]);
    assert_eq!(
        summary(&again),
        "import run 2: 1 folders listed, 0 unchanged; 2 files seen, 1 unchanged, 1 read, 1 other; 0 new postbacks, 0 duplicates; 1 problems"
    );
}

#[test]
fn a_named_pipe_named_on_the_command_line_is_reported() {
    let work = Workdir::new();
    mkfifo(&work.path().join("incoming"));
    let output = run(&work, &["import", "incoming"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        lines(&output),
        [format!(
            "{}: unreadable: not a regular file (a named pipe)",
            root(&work, "incoming").display()
        )]
    );
    assert_eq!(
        summary(&output),
        "import run 1: 0 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 0 other; 0 new postbacks, 0 duplicates; 1 problems"
    );
}

#[test]
fn pipes_devices_and_sockets_behind_symlinks_are_reported_when_links_are_followed() {
    let work = Workdir::new();
    work.write("in/good.xml", postback("N201", "A"));
    mkfifo(&work.path().join("pipe"));
    let _socket = std::os::unix::net::UnixListener::bind(work.path().join("socket")).unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, work.path().join("in").join(name)).unwrap();
    };
    link(&work.path().join("pipe"), "pipe.xml");
    link(Path::new("/dev/null"), "null.xml");
    link(&work.path().join("socket"), "socket.xml");
    link(Path::new("/dev/zero"), "zero.txt");
    let skipped = run(&work, &["import", "in"]);
    assert_eq!(skipped.status.code(), Some(0), "{}", stderr(&skipped));
    assert_eq!(
        summary(&skipped),
        "import run 1: 1 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 4 other; 1 new postbacks, 0 duplicates; 0 problems"
    );
    let followed = run(&work, &["import", "--follow-symlinks", "in"]);
    assert_eq!(followed.status.code(), Some(2));
    let root = root(&work, "in");
    let expected = [
        "null.xml: unreadable: not a regular file (a character device)",
        "pipe.xml: unreadable: not a regular file (a named pipe)",
        "socket.xml: unreadable: not a regular file (a socket)",
    ]
    .map(|line| format!("{}/{line}", root.display()));
    assert_eq!(lines(&followed), expected);
    assert_eq!(
        summary(&followed),
        "import run 2: 1 folders listed, 0 unchanged; 4 files seen, 1 unchanged, 3 read, 1 other; 0 new postbacks, 0 duplicates; 3 problems"
    );
}

#[test]
fn links_that_loop_or_lead_nowhere_are_reported_and_the_run_goes_on() {
    let work = Workdir::new();
    work.write("in/good.xml", postback("N201", "A"));
    let folder = work.path().join("in");
    std::os::unix::fs::symlink(folder.join("missing.xml"), folder.join("dangling.xml")).unwrap();
    std::os::unix::fs::symlink(folder.join("self.xml"), folder.join("self.xml")).unwrap();
    std::os::unix::fs::symlink(&folder, folder.join("up")).unwrap();
    let output = run(&work, &["import", "--follow-symlinks", "in"]);
    assert_eq!(output.status.code(), Some(2));
    let root = root(&work, "in");
    let r = root.display();
    let expected = [
        format!(
            "{r}/dangling.xml: unreadable: a symbolic link to {}/missing.xml, which does not exist",
            folder.display()
        ),
        format!(
            "{r}/self.xml: unreadable: cannot follow the symbolic link to {}/self.xml: Too many levels of symbolic links (os error 40)",
            folder.display()
        ),
        format!(
            "{r}/up: unreadable: a symbolic link back to {r}, which holds it; not followed again"
        ),
    ];
    assert_eq!(lines(&output), expected);
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 4 files seen, 0 unchanged, 4 read, 0 other; 1 new postbacks, 0 duplicates; 3 problems"
    );
}

#[test]
fn a_directory_named_like_a_postback_file_is_walked_into() {
    let work = Workdir::new();
    work.write("in/2026.xml/a.xml", postback("N201", "A"));
    work.write("in/2026.xml.gz/b.xml", postback("N201", "B"));
    let output = run(&work, &["import", "in", "in/2026.xml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 1: 3 folders listed, 0 unchanged; 2 files seen, 0 unchanged, 2 read, 0 other; 2 new postbacks, 0 duplicates; 0 problems"
    );
}

/// The stages a run goes through for one file, with the file deleted between the
/// walk that found it and the read: the window no test of the binary can hit on purpose.
#[test]
fn a_file_that_vanishes_after_the_walk_is_reported_not_ledgered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.xml");
    std::fs::write(&path, postback("N201", "A")).unwrap();
    let counters = WalkCounters::default();
    let mut found = Vec::new();
    discover::walk(
        &WalkInput::Roots(vec![dir.path().to_path_buf()]),
        &mut Folders::default(),
        &mut EmptyLedger,
        WalkOptions::default(),
        &counters,
        |f| {
            found.push(f);
            true
        },
    )
    .unwrap();
    let [Found::File(file), Found::Listed(_)] = &found[..] else {
        panic!("one file found: {found:?}");
    };
    std::fs::remove_file(&path).unwrap();
    assert_eq!(discover::unchanged(file), Ok(false), "new: it must be read");
    let problem = discover::read_file(file, 1 << 20).unwrap_err();
    assert_eq!(
        (problem.kind, problem.message.as_str()),
        (
            ProblemKind::Unreadable,
            "cannot open: No such file or directory (os error 2)"
        )
    );
    let known = discover::KnownFile {
        file_id: 1,
        size: 1,
        modified_us: 1,
        content_hash: Some(1),
    };
    let mut read_before = file.clone();
    read_before.known = Some(known);
    let problem = discover::unchanged(&read_before).unwrap_err();
    assert_eq!(
        problem.message,
        "cannot read its metadata: No such file or directory (os error 2)"
    );
}

/// As root every file is readable, so the import runs as `nobody` there: the
/// permission check is the kernel's, not a simulation.
#[test]
fn a_file_without_read_permission_is_reported_and_read_once_it_may_be() {
    use std::os::unix::fs::PermissionsExt;
    let work = Workdir::new();
    work.write("in/good.xml", postback("N201", "A"));
    let secret = work.write("in/secret.xml", postback("N201", "S"));
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(
        work.path().join("in"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let import = || {
        guarded(assert_cmd::Command::from_std(
            work.command_unprivileged(&["import", "in"]),
        ))
    };
    let output = import();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        lines(&output),
        [format!(
            "{}: unreadable: cannot open: Permission denied (os error 13)",
            root(&work, "in/secret.xml").display()
        )]
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = import();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 2: 1 folders listed, 0 unchanged; 2 files seen, 1 unchanged, 1 read, 0 other; 1 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "2");
}

#[test]
fn names_that_differ_only_in_bytes_that_are_not_utf8_are_ledgered_apart() {
    let work = Workdir::new();
    let folder = work.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    let ff = folder.join(OsStr::from_bytes(b"a\xff.xml"));
    let fe = folder.join(OsStr::from_bytes(b"a\xfe.xml"));
    std::fs::write(&ff, postback("N201", "FF")).unwrap();
    std::fs::write(&fe, postback("N201", "FE")).unwrap();
    let first = run(&work, &["import", "in"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        summary(&first),
        "import run 1: 1 folders listed, 0 unchanged; 2 files seen, 0 unchanged, 2 read, 0 other; 2 new postbacks, 0 duplicates; 0 problems"
    );
    let second = run(&work, &["import", "--rescan", "in"]);
    assert_eq!(
        summary(&second),
        "import run 2: 1 folders listed, 0 unchanged; 2 files seen, 2 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    let ff_key = xxh3_128(ff.canonicalize().unwrap().as_os_str().as_bytes());
    let fe_key = xxh3_128(fe.canonicalize().unwrap().as_os_str().as_bytes());
    let shown = format!("{}/a\u{fffd}.xml", root(&work, "in").display());
    let mut expected = [format!("{shown}|{ff_key}|1"), format!("{shown}|{fe_key}|1")];
    expected.sort();
    assert_eq!(
        work.rows("SELECT path, path_key, run_id FROM files ORDER BY path_key::VARCHAR"),
        expected
    );
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "0");
}

/// Archives written before the ledger keyed on exact bytes hold the hash of the lossy
/// name for a name that is not UTF-8, and the hash of the text (the same as of its
/// bytes) for any other: neither file is read again as a new one.
#[test]
fn files_ledgered_by_an_earlier_version_are_not_read_again() {
    let work = Workdir::new();
    let folder = work.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    let odd = folder.join(OsStr::from_bytes(b"caf\xe9.xml"));
    std::fs::write(&odd, postback("N201", "ODD")).unwrap();
    work.write("in/caf\u{e9}.xml", postback("N201", "UTF8"));
    assert_eq!(run(&work, &["import", "in"]).status.code(), Some(0));
    let shown = format!("{}/caf\u{fffd}.xml", root(&work, "in").display());
    let utf8 = format!("{}/caf\u{e9}.xml", root(&work, "in").display());
    assert_eq!(
        work.value(&format!("SELECT path_key FROM files WHERE path = '{utf8}'")),
        xxh3_128(utf8.as_bytes()).to_string(),
        "the key of a UTF-8 name is the hash of its text, as it always was"
    );
    let lossy_key = xxh3_128(shown.as_bytes());
    {
        let archive = duckdb::Connection::open(work.db()).unwrap();
        let sql = format!("UPDATE files SET path_key = {lossy_key} WHERE path = '{shown}'");
        assert_eq!(archive.execute(&sql, []).unwrap(), 1);
    }
    let again = run(&work, &["import", "--rescan", "in"]);
    assert_eq!(
        summary(&again),
        "import run 2: 1 folders listed, 0 unchanged; 2 files seen, 2 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    // Changed, it is read as the file it was, and its row takes the exact key.
    let bundle = format!("{}{}", postback("N201", "ODD"), postback("N202", "ODD"));
    std::fs::write(&odd, bundle).unwrap();
    let changed = run(&work, &["import", "--rescan", "in"]);
    assert_eq!(
        summary(&changed),
        "import run 3: 1 folders listed, 0 unchanged; 2 files seen, 1 unchanged, 1 read, 0 other; 1 new postbacks, 0 duplicates; 0 problems"
    );
    let exact = xxh3_128(odd.canonicalize().unwrap().as_os_str().as_bytes());
    assert_eq!(
        work.rows(&format!(
            "SELECT path_key, postbacks, first_run_id FROM files WHERE path = '{shown}'"
        )),
        [format!("{exact}|2|1")]
    );
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "0");
}

/// A bundle of `count` distinct postbacks (tracking ids `{prefix}0`, …): about 230 bytes each.
fn bundle(prefix: &str, count: usize) -> String {
    let postbacks: String = (0..count)
        .map(|i| postback("N201", &format!("{prefix}{i}")))
        .collect();
    format!("<POSTBACKS>\n{postbacks}\n</POSTBACKS>\n")
}

#[test]
fn files_refused_as_too_large_are_imported_once_by_a_run_with_a_larger_limit() {
    let work = Workdir::new();
    let big = bundle("BIG", 6000);
    assert!(big.len() > 1 << 20);
    work.write("in/big.xml", &big);
    let packed = work.write_gz("in/packed.xml.gz", bundle("PACKED", 7000));
    assert!(std::fs::metadata(&packed).unwrap().len() < 1 << 20);
    work.write("in/small.xml", postback("N202", "SMALL"));
    let refused = run(&work, &["import", "--max-file-size", "1", "in"]);
    assert_eq!(refused.status.code(), Some(2));
    let root = root(&work, "in");
    let packed_size = bundle("PACKED", 7000).len();
    let expected = [
        format!("big.xml: too_large: the file is {} bytes, over the --max-file-size limit of 1 MiB; not imported; import it with --max-file-size 2 or larger", big.len()),
        format!("packed.xml.gz: too_large: it decompresses to {packed_size} bytes, over the --max-file-size limit of 1 MiB; not imported; import it with --max-file-size 2 or larger"),
    ]
    .map(|line| format!("{}/{line}", root.display()));
    assert_eq!(lines(&refused), expected);
    assert_eq!(
        summary(&refused),
        "import run 1: 1 folders listed, 0 unchanged; 3 files seen, 0 unchanged, 3 read, 0 other; 1 new postbacks, 0 duplicates; 2 problems"
    );
    // Still refused: reported again, since it is still not imported.
    let still = run(&work, &["import", "--max-file-size", "1", "in"]);
    assert_eq!(still.status.code(), Some(2));
    assert_eq!(lines(&still), expected);
    assert_eq!(
        summary(&still),
        "import run 2: 1 folders listed, 0 unchanged; 3 files seen, 1 unchanged, 2 read, 0 other; 0 new postbacks, 0 duplicates; 2 problems"
    );
    assert_eq!(
        work.rows("SELECT run_id, kind FROM import_errors ORDER BY path"),
        ["2|too_large", "2|too_large"],
        "the refusal of the latest run stands for each file"
    );
    let imported = run(&work, &["import", "--max-file-size", "2", "in"]);
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    assert_eq!(
        summary(&imported),
        "import run 3: 1 folders listed, 0 unchanged; 3 files seen, 1 unchanged, 2 read, 0 other; 13000 new postbacks, 0 duplicates; 0 problems"
    );
    let settled = run(&work, &["import", "in"]);
    assert_eq!(
        summary(&settled),
        "import run 4: 0 folders listed, 1 unchanged; 0 files seen, 0 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "13001");
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "0");
    assert_eq!(work.value("SELECT count(*) FROM import_errors"), "0");
    assert_eq!(
        work.rows("SELECT regexp_extract(path, '[^/]+$'), postbacks, errors, content_hash IS NOT NULL FROM files ORDER BY path"),
        ["big.xml|6000|0|true", "packed.xml.gz|7000|0|true", "small.xml|1|0|true"]
    );
}

#[test]
fn a_damaged_gzip_whose_bytes_did_not_change_is_not_read_again() {
    let work = Workdir::new();
    let packed = work.write_gz("in/cut.xml.gz", bundle("CUT", 50));
    let bytes = std::fs::read(&packed).unwrap();
    std::fs::write(&packed, &bytes[..bytes.len() - 12]).unwrap();
    let first = run(&work, &["import", "in"]);
    assert_eq!(first.status.code(), Some(2));
    assert_eq!(
        work.rows("SELECT kind FROM import_errors ORDER BY kind"),
        ["bad_gzip", "truncated"],
        "the stream ends inside a postback"
    );
    let kept = work.value("SELECT count(*) FROM postbacks");
    let second = run(&work, &["import", "--rescan", "in"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(stderr(&second), "");
    assert_eq!(
        summary(&second),
        "import run 2: 1 folders listed, 0 unchanged; 1 files seen, 1 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), kept);
}

#[test]
fn a_newline_in_a_file_name_cannot_forge_a_problem_line() {
    let work = Workdir::new();
    work.write("in/x.xml:1:1: not_xml: forged\nreal.xml", "");
    let output = run(&work, &["import", "in"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "{}/x.xml:1:1: not_xml: forged\\nreal.xml: empty_file: the file is empty\n",
            root(&work, "in").display()
        )
    );
    let missing = run(&work, &["import", "no\nsuch\u{1b}[31m"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "postback-archive: error: cannot read no\\nsuch\\u{1b}[31m: No such file or directory (os error 2)\n"
    );
}
