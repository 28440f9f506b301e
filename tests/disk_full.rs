//! A full disk under the archive fails the import cleanly: the archive opens, holds
//! only whole files, the run is marked `failed`, and once there is room the next import
//! finishes the exact set. Needs root to mount a small tmpfs; skipped (with a line on
//! stderr) where that is not possible.

mod common;

use common::{SmallDisk, Workdir};

/// Distinct postbacks, so the archive grows with every file.
fn write_corpus(work: &Workdir, files: usize) {
    for i in 0..files {
        let body = format!(
            "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N801</STATUSCODE><REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{i}@mail.com</REFERENCEVALUE><PASSDATAID>{i}</PASSDATAID><TIMESTAMP>2026-11-0{}T11:37:11-05:00</TIMESTAMP></POSTBACK>",
            1 + i % 9
        );
        work.write(&format!("in/{:03}/{i:06}.xml", i / 1000), &body);
    }
}

#[test]
fn a_full_disk_fails_the_run_cleanly_and_the_next_import_finishes_the_exact_set() {
    let reference = Workdir::new();
    write_corpus(&reference, 12_000);
    assert_eq!(reference.run(&["import", "in"]).status.code(), Some(0));
    let expected = reference.content();

    let work = Workdir::new().with_archive_at("disk/archive.duckdb");
    write_corpus(&work, 12_000);
    let Some(disk) = SmallDisk::mount(&work.path().join("disk"), "3m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    // Small batches, so that some commit before the disk fills.
    let full = work
        .command(&["import", "in"])
        .env("POSTBACK_ARCHIVE_BATCH_FILES", "1000")
        .output()
        .unwrap();
    let message = common::stderr(&full);
    assert_eq!(full.status.code(), Some(1), "{message}");
    assert!(message.contains("No space left on device"), "{message}");
    assert!(
        message.contains(&format!(
            "The disk holding {} is full. The batches committed before it filled are kept; free space there and run import again to finish the job",
            work.db().display()
        )),
        "{message}"
    );

    // Still full: the archive opens read-only and holds only whole files. The run is
    // marked `failed`, unless the disk had no room left even for that one row: then it
    // stays `running` until the next import marks it `interrupted`.
    let status = work.value("SELECT status FROM import_runs");
    assert!(status == "failed" || status == "running", "{status}");
    let whole = work.rows(
        "SELECT (SELECT coalesce(sum(postbacks), 0) FROM files) = (SELECT count(*) FROM postbacks)",
    );
    assert_eq!(whole, ["true"]);

    disk.grow("256m");
    let again = work.run(&["import", "in"]);
    assert_eq!(again.status.code(), Some(0), "{}", common::stderr(&again));
    assert_eq!(work.content(), expected);
    let first = work.value("SELECT status FROM import_runs WHERE run_id = 1");
    let expected_first = if status == "failed" {
        "failed"
    } else {
        "interrupted"
    };
    assert_eq!(first, expected_first);
    drop(disk);
}
