//! The helper every integration test uses: a temporary working directory, the real
//! binary run inside it against `archive.duckdb`, and read-only queries of that archive.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use duckdb::{AccessMode, Config, Connection};
use flate2::Compression;
use flate2::write::GzEncoder;

pub struct Workdir {
    dir: tempfile::TempDir,
    archive: PathBuf,
}

impl Workdir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let archive = dir.path().join("archive.duckdb");
        Workdir { dir, archive }
    }

    /// The same workdir with its archive at `relative` (say, on a disk mounted there).
    pub fn with_archive_at(mut self, relative: &str) -> Self {
        self.archive = self.path().join(relative);
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The archive every command of this workdir uses.
    pub fn db(&self) -> PathBuf {
        self.archive.clone()
    }

    /// Write `content` to `relative`, creating folders.
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Write `content` gzipped to `relative`.
    pub fn write_gz(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(content.as_ref()).unwrap();
        self.write(relative, encoder.finish().unwrap())
    }

    /// Copy a fixture file or folder from `tests/fixtures/` into the workdir.
    pub fn copy_fixture(&self, fixture: &str, relative: &str) {
        self.copy_from_repo(&format!("tests/fixtures/{fixture}"), relative);
    }

    /// Copy a file or folder of the repository (e.g. `data/sample`) into the workdir.
    pub fn copy_from_repo(&self, in_repo: &str, relative: &str) {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(in_repo);
        copy_tree(&source, &self.path().join(relative));
    }

    /// The real binary, run in the workdir against its archive, without a terminal.
    /// A folder's times count as settled at once (`POSTBACK_ARCHIVE_SETTLE_SECONDS=0`),
    /// so whether a run lists a folder does not depend on how fast the test runs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("postback-archive").unwrap();
        command
            .current_dir(self.path())
            .env_remove("POSTBACK_ARCHIVE_DB")
            .env("POSTBACK_ARCHIVE_SETTLE_SECONDS", "0")
            .arg("--db")
            .arg(self.db())
            .args(args);
        command
    }

    /// The real binary, run as an unprivileged user (`nobody`) when the tests run as
    /// root, as CI does, so that permissions are enforced: a copy of the binary in the
    /// workdir (the build folder may be out of that user's reach), and the workdir
    /// opened to everyone. Not as root: the binary as it is.
    pub fn command_unprivileged(&self, args: &[&str]) -> std::process::Command {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let as_root = rustix::process::geteuid().is_root();
        let binary = if as_root {
            let copy = self.path().join("postback-archive");
            if !copy.exists() {
                std::fs::copy(assert_cmd::cargo::cargo_bin("postback-archive"), &copy).unwrap();
            }
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(self.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
            copy
        } else {
            assert_cmd::cargo::cargo_bin("postback-archive")
        };
        let mut command = std::process::Command::new(binary);
        command
            .current_dir(self.path())
            .env_remove("POSTBACK_ARCHIVE_DB")
            .env("POSTBACK_ARCHIVE_SETTLE_SECONDS", "0")
            .env("HOME", self.path())
            .arg("--db")
            .arg(self.db())
            .args(args);
        if as_root {
            command.uid(65534).gid(65534);
        }
        command
    }

    /// Run the binary and return its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Rows of a query on the archive, each row's values joined with `|` (NULL as `NULL`).
    pub fn rows(&self, sql: &str) -> Vec<String> {
        let config = Config::default().access_mode(AccessMode::ReadOnly).unwrap();
        let conn = Connection::open_with_flags(self.db(), config).unwrap();
        query_rows(&conn, sql)
    }

    /// What must be identical between a clean import and one killed or interrupted,
    /// then resumed: counts of every table and a checksum of the fingerprints.
    pub fn content(&self) -> Vec<String> {
        self.rows(
            "SELECT (SELECT count(*) FROM postbacks), (SELECT count(DISTINCT fingerprint) FROM postbacks),
                    (SELECT count(*) FROM duplicates), (SELECT count(*) FROM files), (SELECT count(DISTINCT path) FROM files),
                    (SELECT sum(postbacks) FROM files), (SELECT bit_xor(hash(fingerprint)) FROM postbacks),
                    (SELECT count(*) FROM import_errors)",
        )
    }

    /// The single value of a query, as text.
    pub fn value(&self, sql: &str) -> String {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql}");
        rows.into_iter().next().unwrap()
    }
}

/// A value as the DuckDB CLI would print it, for the common types.
/// Rows of a query on `conn`, each row's values joined with `|` (NULL as `NULL`).
pub fn query_rows(conn: &Connection, sql: &str) -> Vec<String> {
    let mut statement = conn.prepare(sql).unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let count = row.as_ref().column_count();
        let values: Vec<String> = (0..count)
            .map(|i| display(row.get_ref(i).unwrap().to_owned()))
            .collect();
        out.push(values.join("|"));
    }
    out
}

fn display(value: duckdb::types::Value) -> String {
    use duckdb::types::Value::*;
    match value {
        Null => "NULL".to_string(),
        Boolean(b) => b.to_string(),
        TinyInt(n) => n.to_string(),
        SmallInt(n) => n.to_string(),
        Int(n) => n.to_string(),
        BigInt(n) => n.to_string(),
        HugeInt(n) => n.to_string(),
        UTinyInt(n) => n.to_string(),
        USmallInt(n) => n.to_string(),
        UInt(n) => n.to_string(),
        UBigInt(n) => n.to_string(),
        UHugeInt(n) => n.to_string(),
        Double(n) => n.to_string(),
        Text(text) => text,
        other => format!("{other:?}"),
    }
}

/// Stdout and stderr of a run, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The summary line with its timing part removed, which varies between runs.
pub fn summary(output: &Output) -> String {
    let text = stdout(output);
    let line = text.lines().last().unwrap_or_default();
    line.split("; ")
        .filter(|part| !part.ends_with("files/s)"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Run the binary, expecting exit status 0.
pub fn run_settled(work: &Workdir, args: &[&str]) -> Output {
    let output = work.run(args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    output
}

/// The last import run's folders listed and unchanged, files seen and read, new
/// postbacks and duplicates, space-separated.
pub fn last_run(work: &Workdir) -> String {
    work.value(
        "SELECT concat_ws(' ', folders_listed, folders_unchanged, files_seen, files_read, postbacks_new, postbacks_duplicate)
         FROM import_runs ORDER BY run_id DESC LIMIT 1",
    )
}

/// A delivery receipt of its own TRACKINGID: one distinct postback a file.
pub fn receipt(id: usize) -> String {
    format!(
        "<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>N201</CODE><STATUS>DELIVERED</STATUS>\
         <TRACKINGID>trk-{id}</TRACKINGID><TIMESTAMP>2026-11-15T10:00:00+00:00</TIMESTAMP></POSTBACK>"
    )
}

/// `in/2026/11/14/` and `in/2026/11/15/`, three receipts each, as `serve` lays out days.
pub fn two_days(work: &Workdir) {
    for (day, first) in [(14, 0), (15, 3)] {
        for id in first..first + 3 {
            work.write(&format!("in/2026/11/{day}/{id:03}.xml"), receipt(id));
        }
    }
}

fn copy_tree(source: &Path, target: &Path) {
    if source.is_dir() {
        std::fs::create_dir_all(target).unwrap();
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &target.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source, target).unwrap();
    }
}

/// An outside program a test needs: its path, or `None` after saying how to install it
/// (under CI, where `.ci/run` installs it, a missing one fails the test instead).
pub fn required_tool(path: Option<PathBuf>, what: &str, install: &str) -> Option<PathBuf> {
    if path.is_none() {
        let hint = format!("{what} not found; install with: {install}");
        assert!(
            std::env::var_os("CI").is_none(),
            "{hint} (.ci/run does this)"
        );
        eprintln!("skipped: {hint}");
    }
    path
}

/// The stock DuckDB CLI on `PATH` (`.ci/run` installs 1.5.6 from PyPI).
pub fn duckdb_cli() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("duckdb"))
            .find(|candidate| candidate.is_file())
    });
    required_tool(found, "the DuckDB CLI", "pip install duckdb-cli==1.5.6")
}

/// An upgraded archive is at the current schema version (migration 2, then 3, the
/// export state, 4, the fingerprint filters, 5, the folder ledger, 6, the carriers'
/// older names) and has an archive id of 32 lowercase hex characters.
pub fn assert_current_schema_with_archive_id(work: &Workdir) {
    assert_eq!(
        work.value("SELECT value FROM archive_meta WHERE key = 'schema_version'"),
        "6",
        "migration 2, then 3 (the export state), 4 (the fingerprint filters), 5 (the folder \
         ledger), 6 (the carriers' older names)"
    );
    let id = work.value("SELECT value FROM archive_meta WHERE key = 'archive_id'");
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
}

/// A tmpfs mounted for one test (a disk that fills), unmounted when dropped. Mounting
/// needs root: `mount` is `None` elsewhere.
pub struct SmallDisk {
    mount_point: PathBuf,
}

impl SmallDisk {
    pub fn mount(mount_point: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(mount_point).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| Self {
            mount_point: mount_point.to_path_buf(),
        })
    }

    pub fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.mount_point)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount_point)
            .status();
    }
}

/// A bundle of `count` distinct pass postbacks, the first numbered `first`.
pub fn bundle(first: usize, count: usize) -> String {
    let postbacks: String = (first..first + count)
        .map(|i| {
            format!(
                "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N801</STATUSCODE>\
                 <REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{i}@mail.com</REFERENCEVALUE>\
                 <PASSDATAID>{i}</PASSDATAID><TIMESTAMP>2026-11-0{}T11:37:11-05:00</TIMESTAMP></POSTBACK>\n",
                1 + i % 9
            )
        })
        .collect();
    format!("<POSTBACKS>\n{postbacks}</POSTBACKS>\n")
}

/// Hidden entries left in `dir` (a backup's staged copy, a sandbox's private folder).
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Leave a WAL beside the archive `db`, as a killed import does: a row of
/// `archive_meta` (`probe`, `from the wal`) committed but not checkpointed.
pub fn leave_a_wal(db: &Path) {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch(
        "SET checkpoint_threshold = '1TB';
         PRAGMA disable_checkpoint_on_shutdown;
         INSERT INTO archive_meta VALUES ('probe', 'from the wal');",
    )
    .unwrap();
}
