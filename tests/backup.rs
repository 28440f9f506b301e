//! `backup --to FILE`: a consistent, checked copy of the archive, put in place whole,
//! while imports and `serve` run; a kill or a full disk leaves the previous backup; the
//! copy restores by copying it back and opens in DuckDB 1.5.

mod common;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{SmallDisk, Workdir, bundle, duckdb_cli, leave_a_wal, leftovers};

/// An archive of `bundles` bundles of 1,000 postbacks.
fn imported(bundles: usize) -> Workdir {
    let work = Workdir::new();
    add_bundles(&work, 0, bundles);
    work
}

/// Import bundles `from..to` (1,000 postbacks each) into the archive.
fn add_bundles(work: &Workdir, from: usize, to: usize) {
    for file in from..to {
        work.write(&format!("in/{file:04}.xml"), bundle(file * 1000, 1000));
    }
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
}

/// The binary run with `--db db` (a backup, say) and `args`.
fn run_on(work: &Workdir, db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postback-archive"))
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// `verify` finds the archive (a backup) at `db` sound.
fn assert_verifies(work: &Workdir, db: &Path) {
    let verified = run_on(work, db, &["verify"]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        common::stderr(&verified)
    );
}

/// What [`Workdir::content`] says of the archive at `db`.
fn content_of(db: &Path) -> Vec<String> {
    let view = Workdir::new().with_archive_at(db.to_str().unwrap());
    view.content()
}

fn backup(work: &Workdir, to: &str) -> Output {
    work.run(&["backup", "--to", to])
}

#[test]
fn a_backup_is_a_checked_copy_that_restores_by_copying_it_back() {
    let work = imported(20);
    std::fs::create_dir(work.path().join("backups")).unwrap();
    let expected = work.content();
    let output = backup(&work, "backups/postbacks.duckdb");
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    let said = common::stdout(&output);
    let prefix = format!(
        "backup of {} to backups/postbacks.duckdb: ",
        work.db().display()
    );
    assert!(
        said.starts_with(&prefix)
            && said
                .trim_end()
                .ends_with("rows read back, every check holds"),
        "{said}"
    );
    assert_eq!(common::stderr(&output), "");
    let copy = work.path().join("backups/postbacks.duckdb");
    assert_eq!(
        leftovers(&work.path().join("backups")),
        Vec::<String>::new()
    );
    assert_eq!(leftovers(work.path()), Vec::<String>::new());
    assert!(!PathBuf::from(format!("{}.wal", copy.display())).exists());
    assert_eq!(content_of(&copy), expected);
    assert_verifies(&work, &copy);

    // The archive is lost (cut short); copied back, the backup is the archive again, and
    // the next import reads the files that came after it, storing none twice.
    let sound = std::fs::read(work.db()).unwrap();
    std::fs::write(work.db(), &sound[..sound.len() / 2]).unwrap();
    assert_eq!(work.run(&["query", "SELECT 1"]).status.code(), Some(1));
    std::fs::copy(&copy, work.db()).unwrap();
    assert_eq!(work.content(), expected);
    work.write("in/late.xml", bundle(900_000, 10));
    work.write("in/again.xml", bundle(0, 10));
    assert_eq!(
        work.run(&["--quiet", "import", "in"]).status.code(),
        Some(0)
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "20010");
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "10");
}

#[test]
fn duckdb_15_opens_a_backup() {
    let Some(cli) = duckdb_cli() else { return };
    let work = imported(3);
    assert_eq!(backup(&work, "b.duckdb").status.code(), Some(0));
    let output = Command::new(cli)
        .args(["-readonly", "-csv", "-noheader"])
        .arg(work.path().join("b.duckdb"))
        .args(["-c", "SELECT version(), count(*) FROM postbacks"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "v1.5.6,3000\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_wal_left_by_a_killed_import_is_folded_into_the_backup() {
    let work = imported(2);
    leave_a_wal(&work.db());
    let wal = PathBuf::from(format!("{}.wal", work.db().display()));
    let wal_bytes = std::fs::read(&wal).unwrap();
    assert_eq!(backup(&work, "b.duckdb").status.code(), Some(0));
    assert!(
        std::fs::read(&wal).unwrap() == wal_bytes,
        "the archive's WAL changed"
    );
    let copy = work.path().join("b.duckdb");
    assert!(!PathBuf::from(format!("{}.wal", copy.display())).exists());
    let view = Workdir::new().with_archive_at(copy.to_str().unwrap());
    assert_eq!(
        view.value("SELECT value FROM archive_meta WHERE key = 'probe'"),
        "from the wal"
    );
}

#[test]
fn a_backup_replaces_only_an_earlier_backup() {
    let work = imported(1);
    work.write("notes.txt", "not a backup");
    std::fs::create_dir(work.path().join("folder")).unwrap();
    let db = work.db().display().to_string();
    let cases = [
        (db.as_str(), "it names the archive, its WAL or their folder"),
        (
            "notes.txt",
            "it holds something other than a DuckDB database, which a backup would replace; name a new file, or an earlier backup",
        ),
        (
            "folder",
            "it is a folder; name the backup file, such as /backups/postbacks.duckdb",
        ),
        (
            "missing/b.duckdb",
            "its folder missing cannot be used (No such file or directory (os error 2)); create it first",
        ),
    ];
    let before = std::fs::read(work.db()).unwrap();
    for (to, reason) in cases {
        let output = backup(&work, to);
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{to}: {stderr}");
        assert!(stderr.contains(&format!("--to {to}: {reason}")), "{stderr}");
    }
    assert_eq!(
        std::fs::read(work.path().join("notes.txt")).unwrap(),
        b"not a backup"
    );
    assert!(std::fs::read(work.db()).unwrap() == before);
    assert_eq!(backup(&work, "b.duckdb").status.code(), Some(0));
    assert_eq!(
        backup(&work, "b.duckdb").status.code(),
        Some(0),
        "an earlier backup is replaced"
    );
}

/// Many small files, so that an import runs for seconds.
fn write_small_files(work: &Workdir, files: usize) {
    for i in 0..files {
        work.write(
            &format!("big/{:03}/{i:06}.xml", i / 1000),
            bundle(100_000 + i, 1),
        );
    }
}

#[test]
fn a_backup_during_an_import_waits_for_it_and_copies_what_it_committed() {
    let work = imported(1);
    write_small_files(&work, 30_000);
    let mut import = Command::new(env!("CARGO_BIN_EXE_postback-archive"))
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .arg("--db")
        .arg(work.db())
        .args(["import", "big"])
        .env("POSTBACK_ARCHIVE_BATCH_FILES", "2000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let backup = Command::new(env!("CARGO_BIN_EXE_postback-archive"))
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .arg("--db")
        .arg(work.db())
        .args(["--lock-timeout", "300", "backup", "--to", "b.duckdb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let import_ran_past_the_backup = import.try_wait().unwrap().is_none();
    let backup = backup.wait_with_output().unwrap();
    assert_eq!(import.wait().unwrap().code(), Some(0));
    let stderr = common::stderr(&backup);
    assert_eq!(backup.status.code(), Some(0), "{stderr}");
    if import_ran_past_the_backup {
        assert!(
            stderr.contains("postback-archive: waiting up to 300 s for "),
            "{stderr}"
        );
        // The backup waited for the import: it holds everything the import stored.
        assert_eq!(content_of(&work.path().join("b.duckdb")), work.content());
    }
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "31000");
    let backed_up: u64 = Workdir::new()
        .with_archive_at(work.path().join("b.duckdb").to_str().unwrap())
        .value("SELECT count(*) FROM postbacks")
        .parse()
        .unwrap();
    assert!(
        backed_up == 1000 || backed_up == 31_000,
        "{backed_up}: a run cut in two"
    );
    eprintln!("the backup waited {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn backups_during_serve_load_are_consistent_and_every_delivery_is_imported() {
    use serve_support::{Server, post, postback};
    let work = Workdir::new();
    let server = Server::start(
        &work.db(),
        &work.path().join("in"),
        &["--import-every", "1s"],
    );
    let addr = server.addr;
    let clients = std::thread::spawn(move || {
        for id in 1..=400 {
            assert_eq!(
                post(addr, "/postback", postback(id).as_bytes(), "").status,
                200
            );
            if id % 50 == 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    });
    // The first scheduled import creates the archive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !work.db().exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut counts = Vec::new();
    for round in 0..4 {
        let to = format!("b{round}.duckdb");
        let output = work.run(&["--lock-timeout", "60", "backup", "--to", &to]);
        assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
        let copy = work.path().join(&to);
        assert_verifies(&work, &copy);
        let view = Workdir::new().with_archive_at(copy.to_str().unwrap());
        // Whole runs only: every file in the ledger with all its postbacks.
        assert_eq!(
            view.value(
                "SELECT (SELECT count(*) FROM files) = (SELECT count(*) FROM postbacks) + (SELECT count(*) FROM duplicates)"
            ),
            "true"
        );
        counts.push(
            view.value("SELECT count(*) FROM postbacks")
                .parse::<u64>()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(700));
    }
    clients.join().unwrap();
    let log = server.log_handle();
    assert_eq!(server.stop().code(), Some(0));
    let log = log.lock().unwrap().clone();
    assert!(
        !log.iter().any(|line| line.contains("event=import_failed")),
        "{log:#?}"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "400");
    assert!(
        counts.windows(2).all(|pair| pair[0] <= pair[1]),
        "{counts:?}"
    );
    assert!(
        counts.iter().any(|count| *count > 0 && *count < 400),
        "{counts:?}: no backup under load"
    );
}

#[test]
fn a_killed_backup_leaves_the_previous_backup_whole() {
    let work = imported(60);
    assert_eq!(backup(&work, "b.duckdb").status.code(), Some(0));
    let previous = std::fs::read(work.path().join("b.duckdb")).unwrap();
    add_bundles(&work, 60, 120);
    let started = Instant::now();
    assert_eq!(backup(&work, "clean.duckdb").status.code(), Some(0));
    let clean = started.elapsed();
    let newer = content_of(&work.path().join("clean.duckdb"));
    let mut kept_previous = 0;
    for fraction in [0.05, 0.2, 0.4, 0.6, 0.8] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_postback-archive"))
            .current_dir(work.path())
            .env_remove("POSTBACK_ARCHIVE_DB")
            .arg("--db")
            .arg(work.db())
            .args(["backup", "--to", "b.duckdb"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(clean.mul_f64(fraction));
        child.kill().unwrap();
        child.wait().unwrap();
        let now = std::fs::read(work.path().join("b.duckdb")).unwrap();
        if now == previous {
            kept_previous += 1;
        } else {
            // Killed after the rename: the new backup, whole.
            assert_eq!(
                content_of(&work.path().join("b.duckdb")),
                newer,
                "at {fraction}"
            );
        }
    }
    assert!(
        kept_previous >= 2,
        "only {kept_previous} kills landed before the rename"
    );
    let output = backup(&work, "b.duckdb");
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    assert_eq!(
        leftovers(work.path()),
        Vec::<String>::new(),
        "the killed backups' copies are gone"
    );
    assert_eq!(content_of(&work.path().join("b.duckdb")), newer);
}

#[test]
fn a_backup_to_a_full_disk_fails_cleanly_and_keeps_the_previous_one() {
    let work = imported(30);
    let size = std::fs::metadata(work.db()).unwrap().len();
    let disk_path = work.path().join("disk");
    // Room for one backup and a half.
    let room = format!("{}k", size * 3 / 2 / 1024);
    let Some(disk) = SmallDisk::mount(&disk_path, &room) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    assert_eq!(backup(&work, "disk/b.duckdb").status.code(), Some(0));
    let previous = std::fs::read(disk_path.join("b.duckdb")).unwrap();
    add_bundles(&work, 30, 40);
    let output = backup(&work, "disk/b.duckdb");
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let canonical = std::fs::canonicalize(&disk_path).unwrap();
    assert!(
        stderr.contains(&format!(
            "there is no room for the backup in {}: No space left on device (os error 28). Nothing was written to disk/b.duckdb; free space there, or back up to another disk",
            canonical.display()
        )),
        "{stderr}"
    );
    assert!(std::fs::read(disk_path.join("b.duckdb")).unwrap() == previous);
    assert_eq!(leftovers(&disk_path), Vec::<String>::new());
    disk.grow("256m");
    assert_eq!(backup(&work, "disk/b.duckdb").status.code(), Some(0));
    assert_eq!(content_of(&disk_path.join("b.duckdb")), work.content());
    drop(disk);
}
