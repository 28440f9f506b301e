//! `compact` rolls a day into a tarball that keeps every byte and time, that no later
//! run reads again, and that a kill at any moment leaves whole; tarballs are imported
//! member by member under the input rules (issue 18). On the real binary.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{Workdir, last_run, receipt as postback, run_settled as run, two_days};

/// Give the day folders under `in/2026/11` a time three days back, as a day's folder
/// has once the day is over.
fn age_days(work: &Workdir) {
    let days = work.path().join("in/2026/11");
    let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
    for entry in std::fs::read_dir(days).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            File::open(&path).unwrap().set_modified(old).unwrap();
        }
    }
}

/// Everything under `in/`, as `name mtime_us bytes` lines (folders skipped), read from
/// the files and from the members of any tarball.
fn every_byte(work: &Workdir) -> Vec<String> {
    let mut seen = Vec::new();
    for entry in walk(&work.path().join("in")) {
        let name = entry
            .strip_prefix(work.path().join("in"))
            .unwrap()
            .display()
            .to_string();
        if name.ends_with(".compacting") {
            continue;
        }
        if name.ends_with(".tar.zst") {
            let file = File::open(&entry).unwrap();
            let decoder = zstd::stream::read::Decoder::new(file).unwrap();
            let mut archive = tar::Archive::new(decoder);
            let folder = name.trim_end_matches(".tar.zst").to_string();
            for member in archive.entries().unwrap() {
                let mut member = member.unwrap();
                let mtime = pax_mtime(&mut member);
                let path = member.path().unwrap().display().to_string();
                let (_, file) = path.split_once('/').unwrap();
                let mut bytes = String::new();
                member.read_to_string(&mut bytes).unwrap();
                seen.push(format!("{folder}/{file} {mtime} {bytes}"));
            }
        } else {
            let metadata = entry.metadata().unwrap();
            let mtime = metadata.mtime() * 1_000_000 + metadata.mtime_nsec() / 1000;
            let bytes = std::fs::read_to_string(&entry).unwrap();
            seen.push(format!("{name} {mtime} {bytes}"));
        }
    }
    seen.sort();
    seen
}

fn pax_mtime<R: Read>(member: &mut tar::Entry<'_, R>) -> i64 {
    for extension in member.pax_extensions().unwrap().unwrap() {
        let extension = extension.unwrap();
        if extension.key().unwrap() == "mtime" {
            let (seconds, micros) = extension.value().unwrap().split_once('.').unwrap();
            return seconds.parse::<i64>().unwrap() * 1_000_000 + micros.parse::<i64>().unwrap();
        }
    }
    panic!("no PAX mtime")
}

/// The files below `dir` (what vanishes while a compaction runs is skipped).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn compaction_keeps_every_byte_and_time_and_the_next_runs_read_nothing_again() {
    let work = Workdir::new();
    two_days(&work);
    work.write("in/2026/11/15/broken.xml", "<POSTBACK><ORIGIN>SMS");
    let before = every_byte(&work);
    let imported = work
        .command(&["import", "in"])
        .env("POSTBACK_ARCHIVE_SETTLE_SECONDS", "0")
        .output()
        .unwrap();
    assert_eq!(imported.status.code(), Some(2), "broken.xml has a problem");
    let output = run(&work, &["compact", "--older-than", "1", "in"]);
    assert_eq!(
        common::stdout(&output).lines().map(String::from).collect::<Vec<_>>(),
        [
            format!("left {}/in/2026/11/14 as it is: changed within the last 1 day(s)", work.path().canonicalize().unwrap().display()),
            format!("left {}/in/2026/11/15 as it is: changed within the last 1 day(s)", work.path().canonicalize().unwrap().display()),
            "compact: compacted 0 folder(s), 0 files, 0 bytes into 0 bytes; 2 folder(s) left as they are".to_string(),
        ]
    );
    age_days(&work);
    let output = run(&work, &["compact", "--older-than", "2", "in"]);
    let root = work.path().canonicalize().unwrap().join("in");
    assert_eq!(
        common::stdout(&output).lines().last().unwrap(),
        format!(
            "compact: compacted 2 folder(s), 6 files, {} bytes into {} bytes; 0 folder(s) left as they are",
            (0..6).map(|id| postback(id).len()).sum::<usize>(),
            std::fs::metadata(root.join("2026/11/14.tar.zst"))
                .unwrap()
                .len()
                + std::fs::metadata(root.join("2026/11/15.tar.zst"))
                    .unwrap()
                    .len()
        )
    );
    assert!(!root.join("2026/11/14").exists(), "an emptied folder goes");
    assert!(
        root.join("2026/11/15/broken.xml").exists(),
        "a file with problems stays"
    );
    assert_eq!(every_byte(&work), before, "every byte and time kept");
    assert_eq!(
        work.rows("SELECT regexp_replace(path, '^.*/in/', '') FROM files ORDER BY file_id"),
        [
            "2026/11/14.tar.zst!14/000.xml",
            "2026/11/14.tar.zst!14/001.xml",
            "2026/11/14.tar.zst!14/002.xml",
            "2026/11/15.tar.zst!15/003.xml",
            "2026/11/15.tar.zst!15/004.xml",
            "2026/11/15.tar.zst!15/005.xml",
            "2026/11/15/broken.xml",
        ]
    );
    let counts =
        "SELECT (SELECT count(*) FROM postbacks) || ' ' || (SELECT count(*) FROM duplicates)";
    assert_eq!(work.value(counts), "6 0");
    // The next import lists the folders that changed, skips the tarballs unopened,
    // and then nothing at all; --rescan reads nothing; --force reads all, adds nothing.
    run(&work, &["import", "--allow-bad-input", "in"]);
    assert_eq!(
        last_run(&work),
        "2 2 3 0 0 0",
        "11 and 15 changed: 2 tarballs, broken.xml"
    );
    run(&work, &["import", "--allow-bad-input", "in"]);
    assert_eq!(last_run(&work), "0 4 0 0 0 0");
    run(&work, &["import", "--allow-bad-input", "--rescan", "in"]);
    assert_eq!(last_run(&work), "4 0 3 0 0 0");
    run(&work, &["import", "--allow-bad-input", "--force", "in"]);
    assert_eq!(
        last_run(&work),
        "4 0 9 7 0 0",
        "6 members and broken.xml read again"
    );
    assert_eq!(work.value(counts), "6 0");
}

#[test]
fn tarballs_are_imported_member_by_member_under_the_input_rules() {
    let work = Workdir::new();
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_763_200_000);
        builder.append_data(&mut header, name, bytes).unwrap();
    };
    add("day/a.xml", postback(1).as_bytes());
    add("day/b.xml", postback(2).as_bytes());
    add("day/b-retry.xml", postback(2).as_bytes());
    add("day/notes.txt", b"not a postback");
    add("day/broken.xml", b"<POSTBACK><ORIGIN>SMS");
    add("day/huge.xml", &vec![b' '; 3 * 1024 * 1024]);
    let tar = builder.into_inner().unwrap();
    let gz = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&tar).unwrap();
        encoder.finish().unwrap()
    };
    work.write("in/old.tar.gz", &gz);
    let output = work
        .command(&["import", "--max-file-size", "1", "in"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    let root = work.path().canonicalize().unwrap().join("in");
    let tarball = root.join("old.tar.gz").display().to_string();
    assert_eq!(
        work.rows("SELECT regexp_replace(path, '^.*/in/', '') || ' ' || postbacks || ' ' || duplicates FROM files ORDER BY file_id"),
        [
            "old.tar.gz!day/a.xml 1 0",
            "old.tar.gz!day/b.xml 1 0",
            "old.tar.gz!day/b-retry.xml 1 1",
            "old.tar.gz!day/broken.xml 0 0",
            "old.tar.gz!day/huge.xml 0 0",
        ]
    );
    assert_eq!(
        work.rows("SELECT regexp_replace(path, '^.*/in/', '') || ' ' || kind FROM import_errors ORDER BY path"),
        ["old.tar.gz!day/broken.xml truncated", "old.tar.gz!day/huge.xml too_large"]
    );
    assert!(common::stderr(&output).contains(&format!(
        "{tarball}!day/huge.xml: too_large: the member is 3145728 bytes"
    )));
    // huge.xml is not in the archive yet, so the tarball is read again by the next run,
    // which finds the rest unchanged; a large enough limit imports it, once.
    let again = work
        .command(&["import", "--max-file-size", "4", "in"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "huge.xml is blank: no_postbacks"
    );
    assert_eq!(
        last_run(&work),
        "1 0 6 1 0 0",
        "the tarball and its 5 postback members"
    );
    run(&work, &["import", "--allow-bad-input", "in"]);
    assert_eq!(
        last_run(&work),
        "0 1 0 0 0 0",
        "read whole: not opened again"
    );
}

/// Three days of 3,000 files, imported and three days old: a corpus for compactions
/// that take long enough to be killed.
fn killable(work: &Workdir) {
    for day in 12..15 {
        for n in 0..3000 {
            let id = day * 10_000 + n;
            work.write(&format!("in/2026/11/{day}/{n:05}.xml"), postback(id));
        }
    }
    run(work, &["import", "in"]);
    age_days(work);
}

fn compact_command(work: &Workdir) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"));
    command
        .current_dir(work.path())
        .args([
            "--db",
            work.db().to_str().unwrap(),
            "compact",
            "--older-than",
            "1",
            "in",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[test]
fn a_compaction_killed_at_any_moment_loses_no_file_and_imports_nothing_twice() {
    let counts = "SELECT (SELECT count(*) FROM postbacks) || ' ' || (SELECT count(*) FROM duplicates) || ' ' || (SELECT count(*) FROM files)";
    let clean = Workdir::new();
    killable(&clean);
    let started = Instant::now();
    assert!(compact_command(&clean).status().unwrap().success());
    let compact_time = started.elapsed();
    assert_eq!(clean.value(counts), "9000 0 9000");

    // Kills in each phase, seen on disk (a staged tarball being written, a tarball in
    // place with its originals being removed, for the first and the second day), and at
    // points through a clean run's time.
    let moments = [
        Moment::Appears(".compacting", 1),
        Moment::Appears(".tar.zst", 1),
        Moment::Appears(".compacting", 2),
        Moment::Appears(".tar.zst", 2),
        Moment::After(compact_time.mul_f64(0.3)),
        Moment::After(compact_time.mul_f64(0.6)),
        Moment::After(compact_time.mul_f64(0.9)),
    ];
    let mut landed = 0;
    for moment in moments {
        let work = Workdir::new();
        killable(&work);
        let before = every_byte(&work);
        let mut child = compact_command(&work).spawn().unwrap();
        moment.wait(&work, &mut child);
        landed += usize::from(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
        // The next import finishes (or undoes) what the kill left before it reads any
        // folder: every byte once, no postback twice, nothing read again.
        run(&work, &["import", "in"]);
        assert_eq!(every_byte(&work), before, "killed at {moment:?}");
        assert_eq!(work.value(counts), "9000 0 9000", "killed at {moment:?}");
        assert_eq!(
            last_run(&work).split(' ').nth(3),
            Some("0"),
            "nothing read again"
        );
        assert_eq!(
            work.value("SELECT count(*) FROM compactions WHERE status = 'moved'"),
            "0"
        );
        // A second compact completes the job; nothing is left half-way.
        run(&work, &["compact", "--older-than", "1", "in"]);
        assert_eq!(every_byte(&work), before);
        assert_eq!(count_ending(&work, ".tar.zst"), 3, "killed at {moment:?}");
        assert_eq!(
            count_ending(&work, ".compacting"),
            0,
            "no staged tarball left"
        );
        run(&work, &["import", "in"]);
        assert_eq!(work.value(counts), "9000 0 9000");
    }
    assert!(landed >= 4, "only {landed} kills landed mid-compaction");
}

/// When a compaction is killed.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Once this many files ending so are under `in/` (or the command ended).
    Appears(&'static str, usize),
    After(Duration),
}

impl Moment {
    fn wait(self, work: &Workdir, child: &mut std::process::Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        match self {
            Moment::After(delay) => std::thread::sleep(delay),
            Moment::Appears(ending, count) => {
                while count_ending(work, ending) < count && child.try_wait().unwrap().is_none() {
                    assert!(Instant::now() < deadline, "{self:?} never came");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

/// How many files under `in/` have names ending in `ending`.
fn count_ending(work: &Workdir, ending: &str) -> usize {
    walk(&work.path().join("in"))
        .iter()
        .filter(|path| path.display().to_string().ends_with(ending))
        .count()
}
