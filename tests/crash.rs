//! A killed import leaves a consistent archive, and the next import completes it exactly.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Workdir;

/// Many small files (some retried copies, one bundle per folder), so an import takes long enough to kill.
fn write_corpus(work: &Workdir, files: usize) {
    for i in 0..files {
        let folder = i / 1000;
        let body = format!(
            "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N801</STATUSCODE><REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{i}@mail.com</REFERENCEVALUE><PASSDATAID>{i}</PASSDATAID><TIMESTAMP>2026-11-0{}T11:37:11-05:00</TIMESTAMP></POSTBACK>",
            1 + i % 9
        );
        work.write(&format!("in/{folder:03}/{i:06}.xml"), &body);
        if i % 50 == 0 {
            work.write(&format!("in/{folder:03}/{i:06}-retry.xml"), &body);
        }
    }
}

/// Right after a kill: the archive opens, every file in the ledger has all its
/// postbacks, and the run row counts exactly the committed files.
fn assert_consistent_after_kill(work: &Workdir, delay_ms: u64) {
    let schema = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'import_runs'";
    if work.value(schema) == "0" {
        // Killed before the schema was committed: an empty DuckDB file, no archive yet.
        assert_eq!(work.value("SELECT count(*) FROM duckdb_tables()"), "0");
        return;
    }
    let runs = work.rows("SELECT status, files_read FROM import_runs");
    let [files, occurrences, stored] = [
        "SELECT count(*) FROM files",
        "SELECT coalesce(sum(postbacks), 0) FROM files",
        "SELECT (SELECT count(*) FROM postbacks) + (SELECT count(*) FROM duplicates)",
    ]
    .map(|sql| work.value(sql));
    assert_eq!(occurrences, stored, "killed after {delay_ms} ms");
    match runs.as_slice() {
        [] => assert_eq!(files, "0"),
        [run] => assert!(
            run == &format!("running|{files}") || run == &format!("ok|{files}"),
            "{run} vs {files} files"
        ),
        more => panic!("one run expected, found {more:?}"),
    }
}

#[test]
fn a_killed_import_is_completed_by_the_next_run_with_the_exact_set() {
    let work = Workdir::new();
    write_corpus(&work, 30_000);
    let started = Instant::now();
    let clean = work.run(&["import", "in"]);
    let import_time = started.elapsed();
    assert_eq!(clean.status.code(), Some(0), "{}", common::stderr(&clean));
    let expected = work.content();
    assert_eq!(expected[0].split('|').next(), Some("30000"));

    let mut interrupted = 0;
    // Kill at several points through an import as long as the clean one.
    for fraction in [0.15, 0.35, 0.55, 0.75] {
        let delay_ms = (import_time.as_millis() as f64 * fraction) as u64;
        std::fs::remove_file(work.db()).unwrap();
        let _ = std::fs::remove_file(work.db().with_extension("duckdb.wal"));
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"))
            .current_dir(work.path())
            .args(["--db", work.db().to_str().unwrap(), "import", "in"])
            .env("POSTBACK_ARCHIVE_BATCH_FILES", "2000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(delay_ms)
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if work.db().exists() {
            assert_consistent_after_kill(&work, delay_ms);
        }

        let resumed = work.run(&["import", "in"]);
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "{}",
            common::stderr(&resumed)
        );
        assert_eq!(work.content(), expected, "killed after {delay_ms} ms");
        let first_run = work.value("SELECT status FROM import_runs WHERE run_id = 1");
        if first_run == "interrupted" {
            interrupted += 1;
        } else {
            assert_eq!(first_run, "ok", "killed after {delay_ms} ms");
        }
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} of the kills landed mid-import; make the corpus larger"
    );
}
