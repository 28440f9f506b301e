//! A damaged archive (cut short, a flipped byte in a block, rows lost or changed) is
//! found by `verify` and named by every command that meets it, under the archive's own
//! path and with what to do, with status 1; no command changes it.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Workdir, bundle, leave_a_wal, leftovers};

/// Words of every message about a damaged archive.
const ADVICE: &str = "postback-archive changed nothing in it. Restore it from your last backup \
                      (copy the file `postback-archive backup` wrote back over it), or import \
                      the raw postback files into a new archive";

/// An archive of 20,000 postbacks in 20 bundles, 50 retried copies and a file with a
/// problem.
fn imported() -> Workdir {
    let work = Workdir::new();
    for file in 0..20 {
        work.write(&format!("in/{file:02}.xml"), bundle(file * 1000, 1000));
    }
    work.write("in/retried.xml", bundle(500, 50));
    work.write("in/broken.xml", "<POSTBACK><ORIGIN>SUB</ORIGIN>");
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    work
}

fn assert_named_damaged(work: &Workdir, output: &Output, what: &str, args: &[&str]) {
    let stderr = common::stderr(output);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    let named = format!("the archive {} is damaged: ", work.db().display());
    assert!(stderr.contains(&named), "{args:?}: {stderr}");
    assert!(stderr.contains(what), "{args:?}: {what} in {stderr}");
    assert!(stderr.contains(ADVICE), "{args:?}: {stderr}");
    assert!(
        !stderr.contains(".sql/"),
        "{args:?}: a private name in {stderr}"
    );
}

fn bytes_of(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Flip every bit of the byte at `offset`.
fn flip(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[!byte[0]], offset).unwrap();
}

/// The offset of a byte inside the first block that holds `column` of `table`.
fn byte_in_block_of(work: &Workdir, table: &str, column: &str) -> u64 {
    let block: u64 = work
        .value(&format!(
            "SELECT min(block_id) FROM pragma_storage_info('{table}')
             WHERE column_name = '{column}' AND block_id >= 0"
        ))
        .parse()
        .unwrap();
    3 * 4096 + block * 262_144 + 4096
}

/// Every command that reads or writes the archive, as a user would run them.
const COMMANDS: [&[&str]; 8] = [
    &["query", "SELECT count(*) FROM postbacks"],
    &[
        "query",
        "SELECT origin, count(*) FROM postbacks GROUP BY ALL",
    ],
    &[
        "report",
        "run",
        "key-figures",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-09",
    ],
    &["import", "in"],
    &["export", "--to", "lake"],
    &["verify"],
    &["verify", "--quick"],
    &["backup", "--to", "backup.duckdb"],
];

#[test]
fn an_archive_cut_short_anywhere_is_named_damaged_by_every_command_and_left_as_it_was() {
    let work = imported();
    let sound = bytes_of(&work.db());
    let length = sound.len();
    assert!(
        length > 8 * 262_144,
        "{length} bytes: too few blocks to cut"
    );
    for cut in [5000, length / 4, length / 2, 3 * length / 4, length - 4096] {
        std::fs::write(work.db(), &sound[..cut]).unwrap();
        let what = format!("it is cut short: it is {cut} bytes, and the blocks it holds need ");
        for args in COMMANDS {
            let output = work.run(args);
            assert_named_damaged(&work, &output, &what, args);
            assert!(bytes_of(&work.db()) == sound[..cut], "{args:?} changed it");
        }
        assert!(!work.path().join("backup.duckdb").exists());
        assert!(!work.path().join("lake").join("postbacks").exists());
    }
}

#[test]
fn regression_a_query_on_an_archive_cut_at_half_answered_as_if_nothing_were_wrong() {
    let work = imported();
    let sound = bytes_of(&work.db());
    std::fs::write(work.db(), &sound[..sound.len() / 2]).unwrap();
    let output = work.run(&["query", "SELECT count(*) FROM postbacks"]);
    assert_eq!(common::stdout(&output), "");
    assert_named_damaged(&work, &output, "it is cut short", &["query"]);
}

#[test]
fn a_flipped_byte_in_a_data_block_is_found_by_verify_and_named_by_what_reads_it() {
    let work = imported();
    let offset = byte_in_block_of(&work, "postbacks", "reference_value");
    let block = (offset - 3 * 4096) / 262_144;
    flip(&work.db(), offset);
    let damaged = bytes_of(&work.db());

    let verify = work.run(&["verify"]);
    let start = 3 * 4096 + block * 262_144;
    let what = format!(
        "block {block} (bytes {start} to {}) fails its checksum",
        start + 262_144 - 1
    );
    assert_named_damaged(&work, &verify, &what, &["verify"]);
    assert!(
        common::stderr(&verify).contains(&format!(
            "postback-archive: verify: {}: {what}\n",
            work.db().display()
        )),
        "{}",
        common::stderr(&verify)
    );
    assert_eq!(common::stdout(&verify), "");

    // DuckDB meets the block when a query reads the column: named as damage, under the
    // archive's own name, never the sandbox's private link.
    let args = [
        "query",
        "SELECT count(DISTINCT reference_value) FROM postbacks",
    ];
    let query = work.run(&args);
    assert_named_damaged(&work, &query, &what, &args);
    // A backup reads every block of its copy, and refuses it.
    let args = ["backup", "--to", "backup.duckdb"];
    let backup = work.run(&args);
    assert_named_damaged(&work, &backup, &what, &args);
    assert!(!work.path().join("backup.duckdb").exists());
    assert_eq!(leftovers(work.path()), Vec::<String>::new());
    assert!(bytes_of(&work.db()) == damaged, "nothing repaired it");
}

#[test]
fn regression_import_into_an_archive_whose_ledger_block_is_damaged_said_unknown_error_code() {
    let work = imported();
    let offset = byte_in_block_of(&work, "files", "path");
    flip(&work.db(), offset);
    let damaged = bytes_of(&work.db());
    work.write("in/new.xml", bundle(90_000, 3));
    let args = ["import", "in"];
    let output = work.run(&args);
    assert_named_damaged(&work, &output, "fails its checksum", &args);
    assert!(!common::stderr(&output).contains("Unknown error code"));
    assert!(bytes_of(&work.db()) == damaged, "nothing repaired it");
}

#[test]
fn a_sound_archive_is_verified_with_every_check_and_quietly_under_quiet() {
    let work = imported();
    let before = bytes_of(&work.db());
    let output = work.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    let said = common::stdout(&output);
    // Every row of every table of the archive is read.
    let tables = work
        .rows("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()");
    let rows: u64 = tables
        .iter()
        .map(|table| {
            let count = work.value(&format!("SELECT count(*) FROM \"{table}\""));
            count.parse::<u64>().unwrap()
        })
        .sum();
    assert!(rows > 20_000, "{rows}");
    let prefix = format!("{} is sound: ", work.db().display());
    assert!(
        said.starts_with(&prefix)
            && said.contains(&format!(" blocks and {rows} rows read, 9 checks hold (")),
        "{said}"
    );
    assert_eq!(common::stderr(&output), "");
    let quick = work.run(&["verify", "--quick"]);
    assert_eq!(quick.status.code(), Some(0));
    assert!(
        common::stdout(&quick).starts_with(&format!(
            "{} holds together: 9 checks hold; its blocks were not read (--quick)",
            work.db().display()
        )),
        "{}",
        common::stdout(&quick)
    );
    let quiet = work.run(&["--quiet", "verify"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(
        (common::stdout(&quiet), common::stderr(&quiet)),
        (String::new(), String::new())
    );
    assert!(bytes_of(&work.db()) == before, "verify changed the archive");
    assert_eq!(leftovers(work.path()), Vec::<String>::new());
}

/// Change the archive with DuckDB directly, as a bad disk, a bad tool or a bad hand could.
fn tamper(work: &Workdir, sql: &str) {
    let conn = duckdb::Connection::open(work.db()).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn each_invariant_that_does_not_hold_is_named_with_one_example() {
    let cases: [(&str, &str); 8] = [
        (
            "DELETE FROM files WHERE path LIKE '%/in/03.xml'",
            "check ledger_holds_every_file found 1000 problem(s), such as: postback 3001 names file 4, which the ledger does not hold",
        ),
        (
            "UPDATE files SET duplicates = duplicates + 1 WHERE path LIKE '%/in/retried.xml'",
            "check files_count_their_rows found 1 problem(s), such as: ",
        ),
        (
            "INSERT INTO postbacks SELECT * REPLACE (postback_id + 100000 AS postback_id) FROM postbacks WHERE postback_id = 7",
            "check fingerprints_are_unique found 1 problem(s), such as: postbacks 7, 100007 hold the same fingerprint",
        ),
        (
            "UPDATE duplicates SET postback_id = 999999 WHERE postback_id = (SELECT min(postback_id) FROM duplicates)",
            "check duplicates_copy_stored_postbacks found 1 problem(s), such as: a copy in file ",
        ),
        (
            "UPDATE import_runs SET postbacks_new = postbacks_new - 1",
            "check runs_count_their_rows found 1 problem(s), such as: import run 1 counted 19999 new postbacks",
        ),
        (
            "DELETE FROM postbacks WHERE postback_id = 20000",
            "check files_count_their_rows found 1 problem(s)",
        ),
        (
            "UPDATE files SET folder_id = 999999 WHERE path LIKE '%/in/03.xml'",
            "check folders_file_every_file found 1 problem(s), such as: file 4 (",
        ),
        (
            "INSERT INTO compactions VALUES (1, 'x', 'x.tar.zst', 'y', 77, TIMESTAMP '2026-01-01', NULL, 1, 1, 'done')",
            "check compactions_are_finished found 1 problem(s), such as: compaction 1 of x (done) names the tarball x.tar.zst, which the ledger does not hold",
        ),
    ];
    for (sql, expected) in cases {
        let work = imported();
        tamper(&work, sql);
        let args = ["--quiet", "verify", "--quick"];
        let output = work.run(&args);
        assert_named_damaged(&work, &output, "problem(s), listed above", &args);
        let stderr = common::stderr(&output);
        assert!(
            stderr.starts_with(&format!(
                "postback-archive: verify: {}: {expected}",
                work.db().display()
            )),
            "{sql}: {stderr}"
        );
    }
}

#[test]
fn a_fingerprint_filter_that_lost_a_key_fails_verify() {
    let work = imported();
    // The filters are built by the first import into a non-empty archive.
    work.write("more/a.xml", bundle(50_000, 2));
    assert_eq!(work.run(&["import", "more"]).status.code(), Some(0));
    assert_eq!(work.run(&["verify"]).status.code(), Some(0));
    tamper(
        &work,
        "UPDATE fingerprint_filters SET keys = from_hex(substr(hex(keys), 13)) WHERE span = 0",
    );
    let output = work.run(&["verify", "--quick"]);
    let expected = "check fingerprint_filters_match found 1 problem(s), such as: the filter of postback ids 1 to 131072 does not hold exactly their fingerprints' keys";
    assert_named_damaged(&work, &output, "listed above", &["verify"]);
    assert!(
        common::stderr(&output).contains(expected),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn a_lake_that_lost_a_file_fails_verify_with_what_to_do_about_the_lake() {
    let work = imported();
    assert_eq!(work.run(&["export", "--to", "lake"]).status.code(), Some(0));
    assert_eq!(work.run(&["verify"]).status.code(), Some(0));
    let runs = work.path().join("lake/import_runs");
    let file = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&file).unwrap();
    let output = work.run(&["verify"]);
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lake = std::fs::canonicalize(work.path().join("lake")).unwrap();
    let relative = file.strip_prefix(work.path().join("lake")).unwrap();
    assert!(
        stderr.contains(&format!(
            "check export_record_matches_lake, lake {}: 1 of the ",
            Path::new(&lake).display()
        )) && stderr.contains(&format!(
            "differ, such as: {} is missing",
            relative.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("is sound, but 1 lake problem(s), listed above, say that a lake no longer holds what export put there. Export into a new, empty folder"),
        "{stderr}"
    );
}

#[test]
fn an_archive_with_a_wal_left_by_a_killed_import_is_sound() {
    let work = imported();
    leave_a_wal(&work.db());
    assert!(Path::new(&format!("{}.wal", work.db().display())).exists());
    let output = work.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
}

#[test]
fn archives_of_the_sample_and_of_the_previous_version_are_sound() {
    let work = Workdir::new();
    work.copy_from_repo("data/sample", "sample");
    assert_eq!(work.run(&["import", "sample"]).status.code(), Some(2));
    let output = work.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));

    let upgraded = Workdir::new();
    upgraded.copy_fixture("archives/v1-duckdb-1.5.5.duckdb", "archive.duckdb");
    upgraded.copy_fixture("reference", "ref");
    assert_eq!(upgraded.run(&["import", "ref"]).status.code(), Some(2));
    let output = upgraded.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
}
