//! An import under hostile conditions: out-of-range options, signals at any moment, a
//! store that fails, files that inflate to far more than their size. Each case drives
//! the real binary and checks exit statuses, messages and the archive it leaves.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workdir, stderr, summary};

fn pass(i: usize) -> String {
    format!(
        "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N801</STATUSCODE><REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{i}@mail.com</REFERENCEVALUE><PASSDATAID>{i}</PASSDATAID><TIMESTAMP>2026-11-0{}T11:37:11-05:00</TIMESTAMP></POSTBACK>",
        1 + i % 9
    )
}

/// `files` single-postback files (every 50th retried in a second file), after one file
/// that is not XML: its problem line on stderr tells that the import is under way.
fn write_corpus(work: &Workdir, files: usize) {
    work.write("in/000/0.xml", "not xml");
    for i in 0..files {
        let folder = i / 1000;
        work.write(&format!("in/{folder:03}/{i:06}.xml"), pass(i));
        if i % 50 == 0 {
            work.write(&format!("in/{folder:03}/{i:06}-retry.xml"), pass(i));
        }
    }
}

// ---- option ranges -------------------------------------------------------------------

/// Runs `import` with `args` and checks it was refused with exit status 1, `message`
/// as clap's first line, and no archive created.
fn refused(args: &[&str], message: &str) {
    let work = Workdir::new();
    work.write("in/a.xml", pass(1));
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.push("in");
    let output = work.run(&all);
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    let text = stderr(&output);
    assert_eq!(
        text,
        format!("{message}\n\nFor more information, try '--help'.\n"),
        "{args:?}"
    );
    assert!(!work.db().exists(), "{args:?} created the archive");
}

#[test]
fn threads_out_of_range_are_refused() {
    refused(
        &["--threads", "0"],
        "error: invalid value '0' for '--threads <N>': 0 is not in 1..=256",
    );
    refused(
        &["--threads", "4000"],
        "error: invalid value '4000' for '--threads <N>': 4000 is not in 1..=256",
    );
}

#[test]
fn max_file_size_out_of_range_is_refused() {
    refused(
        &["--max-file-size", "0"],
        "error: invalid value '0' for '--max-file-size <MIB>': 0 is not in 1..=1048576",
    );
    refused(
        &["--max-file-size", "17592186044416"],
        "error: invalid value '17592186044416' for '--max-file-size <MIB>': 17592186044416 is not in 1..=1048576",
    );
}

#[test]
fn memory_limit_out_of_range_is_refused() {
    refused(
        &["--memory-limit", "1"],
        "error: invalid value '1' for '--memory-limit <MB>': 1 is not in 16..=1048576",
    );
    refused(
        &["--memory-limit", "4294967296"],
        "error: invalid value '4294967296' for '--memory-limit <MB>': 4294967296 is not in 16..=1048576",
    );
}

#[test]
fn lock_timeout_out_of_range_is_refused() {
    refused(
        &["--lock-timeout", "18446744073709551615"],
        "error: invalid value '18446744073709551615' for '--lock-timeout <SECONDS>': 18446744073709551615 is not in 0..=86400",
    );
    refused(
        &["--lock-timeout", "86401"],
        "error: invalid value '86401' for '--lock-timeout <SECONDS>': 86401 is not in 0..=86400",
    );
}

#[test]
fn the_largest_thread_count_imports_a_few_files() {
    let work = Workdir::new();
    for i in 0..50 {
        work.write(&format!("in/{i:02}.xml"), pass(i));
    }
    let output = work.run(&["import", "--threads", "256", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 50 files seen, 0 unchanged, 50 read, 0 other; 50 new postbacks, 0 duplicates; 0 problems"
    );
}

// ---- signals -------------------------------------------------------------------------

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        _ => "SIGTERM",
    }
}

fn remove_archive(work: &Workdir) {
    let _ = std::fs::remove_file(work.db());
    let _ = std::fs::remove_file(work.db().with_extension("duckdb.wal"));
}

/// An import of `in` with small batches, so that it commits often.
fn start_import(work: &Workdir) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("postback-archive"))
        .current_dir(work.path())
        .args(["--db", work.db().to_str().unwrap(), "import", "in"])
        .env("POSTBACK_ARCHIVE_BATCH_FILES", "2000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill only sends a signal to the child this test started.
    let sent = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(sent, 0);
}

/// Start an import, wait until it prints its first problem (it is under way, with its
/// signal handlers in place), wait `delay` more, send `signals`, and return its exit
/// status and everything it printed on stderr.
fn import_then_signal(work: &Workdir, delay: Duration, signals: &[i32]) -> (Option<i32>, String) {
    let mut child = start_import(work);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("in/000/0.xml: not_xml: "), "{first}");
    let started = Instant::now();
    let mut ended = None;
    while started.elapsed() < delay && ended.is_none() {
        std::thread::sleep(Duration::from_millis(5));
        ended = child.try_wait().unwrap();
    }
    if ended.is_none() {
        // Stopped while they are sent, the child takes all the signals at once when it
        // continues, however slow the machine is.
        send(&child, libc::SIGSTOP);
        for &signal in signals {
            send(&child, signal);
        }
        send(&child, libc::SIGCONT);
    }
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = match ended {
        Some(status) => status,
        None => child.wait().unwrap(),
    };
    (status.code(), rest.join("\n"))
}

/// Every file in the ledger has all its postbacks: nothing half imported.
fn assert_no_half_file(work: &Workdir) {
    assert_eq!(
        work.value("SELECT coalesce(sum(postbacks), 0) FROM files"),
        work.value("SELECT (SELECT count(*) FROM postbacks) + (SELECT count(*) FROM duplicates)")
    );
}

#[test]
fn a_stop_signal_marks_the_run_interrupted_and_the_next_import_finishes_the_job() {
    let work = Workdir::new();
    write_corpus(&work, 30_000);
    let started = Instant::now();
    let clean = start_import(&work).wait_with_output().unwrap();
    let import_time = started.elapsed();
    assert_eq!(clean.status.code(), Some(2), "{}", stderr(&clean));
    let expected = work.content();
    assert_eq!(expected[0].split('|').next(), Some("30000"));

    let mut interrupted = 0;
    let moments = [
        (SIGTERM, 0.0),
        (SIGINT, 0.2),
        (SIGHUP, 0.4),
        (SIGTERM, 0.6),
        (SIGINT, 0.8),
    ];
    for (signal, fraction) in moments {
        remove_archive(&work);
        let delay = import_time.mul_f64(fraction);
        let (status, printed) = import_then_signal(&work, delay, &[signal]);
        let run = work.value(
            "SELECT status || '|' || (finished_at IS NOT NULL) || '|' || coalesce(message, '') FROM import_runs",
        );
        let name = signal_name(signal);
        if status == Some(2) {
            // The import ended before the signal came.
            assert_eq!(run, "errors|true|", "{name} after {delay:?}");
        } else {
            interrupted += 1;
            assert_eq!(
                status,
                Some(128 + signal),
                "{name} after {delay:?}: {printed}"
            );
            assert_eq!(run, format!("interrupted|true|interrupted by {name}"));
            assert_eq!(
                printed,
                format!(
                    "postback-archive: import run 1 interrupted by {name}; the batches it committed are kept, and the next import finishes the job"
                )
            );
        }
        assert_no_half_file(&work);

        let resumed = work.run(&["import", "in"]);
        assert!(
            matches!(resumed.status.code(), Some(0 | 2)),
            "{}",
            stderr(&resumed)
        );
        assert_eq!(work.content(), expected, "{name} after {delay:?}");
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} signals landed mid-import; make the corpus larger"
    );
}

#[test]
fn a_second_signal_ends_the_import_at_once() {
    let work = Workdir::new();
    write_corpus(&work, 10_000);
    // Two signals of one kind sent together arrive as one, so two kinds; either may be
    // taken first, and the other ends the process with its own status.
    let (status, _) = import_then_signal(&work, Duration::ZERO, &[SIGINT, SIGTERM]);
    assert!(matches!(status, Some(130 | 143)), "{status:?}");
    // No time to mark the run: its row, written with its first commit, stays
    // `running` (or there is none, when the signals came before that commit); the next
    // import marks it and finishes the job.
    let killed = work.rows("SELECT status FROM import_runs");
    assert!(killed.is_empty() || killed == ["running"], "{killed:?}");
    assert_no_half_file(&work);
    let resumed = work.run(&["import", "in"]);
    let ended = match resumed.status.code() {
        Some(0) => "ok",
        Some(2) => "errors",
        other => panic!("{other:?}: {}", stderr(&resumed)),
    };
    let mut expected = Vec::new();
    if !killed.is_empty() {
        expected.push("1|interrupted".to_string());
    }
    expected.push(format!("{}|{ended}", expected.len() + 1));
    assert_eq!(
        work.rows("SELECT run_id, status FROM import_runs ORDER BY run_id"),
        expected
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "10000");
}

// ---- memory --------------------------------------------------------------------------

#[test]
fn a_gzip_bomb_of_nested_elements_stores_at_most_101_problems() {
    let work = Workdir::new();
    // 64 KB on disk, 63 MiB of <A> once inflated: just under the default --max-file-size.
    let bomb = "<A>".repeat(63 * 1024 * 1024 / 3);
    work.write_gz("in/bomb.xml.gz", &bomb);
    work.write("in/fine.xml", pass(1));
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let per_file = work.rows(
        "SELECT regexp_extract(path, 'in/(.*)', 1), count(*), max(kind) FILTER (WHERE kind = 'more_problems')
         FROM import_errors GROUP BY ALL ORDER BY ALL",
    );
    assert_eq!(per_file, ["bomb.xml.gz|101|more_problems"]);
    // Each <A><A> is read as an empty <A/> (the platform's doubled tags), so the
    // elements never nest past two levels: 100 salvaged rows, and the other
    // 11,009,948 counted in the closing row.
    assert_eq!(
        work.rows(
            "SELECT kind, count(*), min(line), min(col), max(col), min(message), max(message)
             FROM import_errors GROUP BY ALL ORDER BY ALL"
        ),
        [
            "more_problems|1|1|604|604|11009948 more problem(s) in this file were not stored (salvaged 11009948); the first 100 are|11009948 more problem(s) in this file were not stored (salvaged 11009948); the first 100 are",
            "salvaged|100|1|4|598|<A><A> read as an empty <A></A>|<A><A> read as an empty <A></A>",
        ]
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "1");
}

#[test]
fn files_larger_than_a_piece_are_stored_in_walk_order() {
    let work = Workdir::new();
    let mut expected = 0;
    for i in 0..600 {
        // Three chunks of files; every hundredth is a bundle of 3,000 postbacks (1.3 MB),
        // more than a piece holds.
        let count = if i % 100 == 3 { 3000 } else { 1 };
        let body: String = (0..count).map(|n| pass(i * 10_000 + n)).collect();
        work.write(
            &format!("in/{i:03}.xml"),
            format!("<BUNDLE>{body}</BUNDLE>"),
        );
        expected += count;
    }
    let output = work.run(&["import", "--threads", "2", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        work.value("SELECT count(*) FROM postbacks"),
        expected.to_string()
    );
    // Postback ids follow the files' walk order and each file's own order.
    assert_eq!(
        work.value(
            "SELECT count(*) FROM (
                 SELECT postback_id, row_number() OVER (ORDER BY f.path, p.file_position) AS walked
                 FROM postbacks p JOIN files f USING (file_id))
             WHERE postback_id <> walked"
        ),
        "0"
    );
}
