//! Nothing run through `query` or `report` can change, replace or delete the archive,
//! its WAL or the folder holding them; SQL reaches files only in folders granted with
//! `--allow-dir`; and what is wrong with `--db` is said as it is. Every attack runs the
//! real binary, asserts the refusal and exit status 1, and then that the archive's
//! bytes, its folder and its row counts are as they were.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};

use assert_cmd::Command;
use common::{Workdir, stderr, stdout};

/// A workdir whose archive holds the 34 postbacks of the reference examples, and an
/// `exports` folder beside it.
fn imported() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    let output = work.run(&["import", "--allow-bad-input", "ref"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    std::fs::create_dir(work.path().join("exports")).unwrap();
    work
}

/// What must not change: the archive's bytes, the names in its folder (hidden ones
/// included) and in the folders below it, and whether it has a WAL.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    archive: Vec<u8>,
    listing: Vec<String>,
}

fn snapshot(work: &Workdir) -> Snapshot {
    Snapshot {
        archive: std::fs::read(work.db()).unwrap(),
        listing: listing(work.path()),
    }
}

/// Every path below `dir`, relative to it, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            names.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    names.sort();
    names
}

/// The archive is as it was, and still opens with the same row counts.
fn assert_untouched(work: &Workdir, before: &Snapshot) {
    let after = snapshot(work);
    assert!(
        after.archive == before.archive,
        "the archive's bytes changed"
    );
    assert_eq!(
        after.listing, before.listing,
        "the archive's folder changed"
    );
    assert_eq!(
        work.rows("SELECT (SELECT count(*) FROM postbacks), (SELECT count(*) FROM files)"),
        ["34|37"]
    );
}

/// Nothing changed but what was written to the granted folder `exports`.
fn assert_unchanged_but_exports(work: &Workdir, mut before: Snapshot) {
    let mut after = snapshot(work);
    after.listing.retain(|name| !name.starts_with("exports/"));
    before.listing.retain(|name| !name.starts_with("exports/"));
    assert_eq!(after, before);
}

/// Run `args` that must fail with status 1 and nothing on stdout; returns stderr.
fn refused(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(args);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(stdout(&output), "");
    stderr(&output)
}

/// Run `args` that must succeed with nothing on stderr; returns stdout.
fn succeeds(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    stdout(&output)
}

/// The message for SQL that reached for the archive or its folder.
fn beside_archive(path: &str) -> String {
    format!(
        "postback-archive: error: SQL may not read or write {path}: no SQL run by \
         postback-archive may touch the archive or the folder that holds it. Write results to a \
         folder granted with --allow-dir DIR\n"
    )
}

/// The message for SQL that reached for a file no grant covers.
fn not_granted(path: &str) -> String {
    format!(
        "postback-archive: error: SQL may not read or write {path}: SQL run by postback-archive \
         reaches only files inside folders granted with --allow-dir DIR (or \
         POSTBACK_ARCHIVE_ALLOW_DIRS); pass the folder you want to read or write with --allow-dir\n"
    )
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn copy_onto_the_archive_is_refused_by_every_name() {
    let work = imported();
    let before = snapshot(&work);
    let db = text(&work.db());
    let folder = text(work.path());
    for target in [
        db.clone(),
        "archive.duckdb".to_string(),
        "./archive.duckdb".to_string(),
        "ref/../archive.duckdb".to_string(),
        format!("{folder}/./ref/../archive.duckdb"),
    ] {
        for options in [
            "FORMAT csv",
            "FORMAT csv, USE_TMP_FILE false",
            "FORMAT parquet",
        ] {
            let sql = format!("COPY (SELECT 1 AS x) TO '{target}' ({options})");
            assert_eq!(
                refused(&work, &["query", &sql]),
                beside_archive(&target),
                "{sql}"
            );
        }
    }
    assert_untouched(&work, &before);
}

#[test]
fn copy_onto_the_wal_names_and_into_the_folder_is_refused() {
    let work = imported();
    let before = snapshot(&work);
    let db = text(&work.db());
    for (sql, path) in [
        (
            format!("COPY (SELECT 1) TO '{db}.wal' (FORMAT csv, USE_TMP_FILE false)"),
            format!("{db}.wal"),
        ),
        (
            format!("COPY (SELECT 1) TO '{db}.wal.checkpoint' (FORMAT csv, USE_TMP_FILE false)"),
            format!("{db}.wal.checkpoint"),
        ),
        (
            format!("COPY (SELECT 1) TO '{db}.wal.recovery' (FORMAT csv, USE_TMP_FILE false)"),
            format!("{db}.wal.recovery"),
        ),
    ] {
        assert_eq!(
            refused(&work, &["query", &sql]),
            beside_archive(&path),
            "{sql}"
        );
    }
    // DuckDB's temporary folder beside the archive (during an import) is no way in either.
    assert_eq!(
        refused(
            &work,
            &[
                "query",
                &format!("COPY (SELECT 1) TO '{db}.tmp/spill.csv' (FORMAT csv)")
            ]
        ),
        not_granted(&format!("{db}.tmp/spill.csv"))
    );
    let folder = text(work.path());
    let partitioned = format!(
        "COPY (SELECT 1 AS p, 2 AS v) TO '{folder}' (FORMAT csv, PARTITION_BY (p), OVERWRITE)"
    );
    assert_eq!(
        refused(&work, &["query", &partitioned]),
        beside_archive(&folder)
    );
    let partitioned =
        "COPY (SELECT 1 AS p) TO '.' (FORMAT csv, PARTITION_BY (p), OVERWRITE_OR_IGNORE)";
    assert_eq!(refused(&work, &["query", partitioned]), beside_archive("."));
    assert_eq!(
        refused(
            &work,
            &["query", &format!("EXPORT DATABASE '{folder}/dump'")]
        ),
        not_granted(&format!("{folder}/dump/archive_meta.csv"))
    );
    assert_untouched(&work, &before);
}

#[test]
fn attach_of_the_archive_or_its_wal_is_refused() {
    let work = imported();
    let before = snapshot(&work);
    let db = text(&work.db());
    for (sql, path) in [
        (format!("ATTACH '{db}' AS again"), db.clone()),
        (
            format!("ATTACH '{db}.wal' AS wal; CREATE TABLE wal.t AS SELECT 1"),
            format!("{db}.wal"),
        ),
        (
            format!("ATTACH '{db}.wal.checkpoint' AS c"),
            format!("{db}.wal.checkpoint"),
        ),
        (
            "ATTACH 'archive.duckdb' AS again (READ_WRITE)".to_string(),
            db.clone(),
        ),
    ] {
        assert_eq!(
            refused(&work, &["query", &sql]),
            beside_archive(&path),
            "{sql}"
        );
    }
    assert_untouched(&work, &before);
}

/// DuckDB's refusal to change a setting once the configuration is locked.
fn locked(setting: &str) -> String {
    format!(
        "postback-archive: error: Invalid Input Error: Cannot change configuration option \
         \"{setting}\" - the configuration has been locked\n"
    )
}

#[test]
fn settings_that_would_open_the_sandbox_are_locked() {
    let work = imported();
    let before = snapshot(&work);
    let db = text(&work.db());
    let folder = text(work.path());
    for (sql, setting) in [
        (
            "SET enable_external_access = true".to_string(),
            "enable_external_access",
        ),
        (
            "RESET enable_external_access".to_string(),
            "enable_external_access",
        ),
        (
            format!("SET allowed_directories = ['{folder}']"),
            "allowed_directories",
        ),
        (format!("SET allowed_paths = ['{db}']"), "allowed_paths"),
        (format!("SET temp_directory = '{folder}'"), "temp_directory"),
        (
            "SET lock_configuration = false".to_string(),
            "lock_configuration",
        ),
        (format!("SET profiling_output = '{db}'"), "profiling_output"),
        (
            format!("PRAGMA profiling_output = '{db}'"),
            "profiling_output",
        ),
        (
            "PRAGMA enable_profiling = 'json'".to_string(),
            "enable_profiling",
        ),
        (
            format!("CALL enable_logging(storage = 'file', storage_path = '{db}')"),
            "enable_logging",
        ),
        (format!("SET home_directory = '{folder}'"), "home_directory"),
        (
            format!("SET secret_directory = '{folder}'"),
            "secret_directory",
        ),
        (
            format!("SET extension_directory = '{folder}'"),
            "extension_directory",
        ),
        (
            "SET autoinstall_known_extensions = true".to_string(),
            "autoinstall_known_extensions",
        ),
        (
            "SET allow_unsigned_extensions = true".to_string(),
            "allow_unsigned_extensions",
        ),
    ] {
        assert_eq!(refused(&work, &["query", &sql]), locked(setting), "{sql}");
    }
    let extensions_disabled = "postback-archive: error: Permission Error: Loading external \
                               extensions is disabled through configuration\n";
    assert_eq!(
        refused(&work, &["query", "LOAD sqlite"]),
        extensions_disabled
    );
    assert_eq!(
        refused(
            &work,
            &["query", &format!("LOAD '{folder}/x.duckdb_extension'")]
        ),
        extensions_disabled
    );
    let error = refused(&work, &["query", "INSTALL sqlite"]);
    assert!(
        error.starts_with("postback-archive: error: SQL may not read or write "),
        "{error}"
    );
    // What a read-only database ignores changes nothing either.
    for sql in ["CHECKPOINT", "FORCE CHECKPOINT", "VACUUM"] {
        succeeds(&work, &["query", sql]);
    }
    assert_untouched(&work, &before);
}

#[test]
fn a_symlinked_folder_does_not_lead_sql_to_the_archive() {
    let work = imported();
    std::os::unix::fs::symlink(work.path(), work.path().join("exports/back")).unwrap();
    std::os::unix::fs::symlink(work.db(), work.path().join("exports/link.duckdb")).unwrap();
    let before = snapshot(&work);
    for target in [
        "exports/back/archive.duckdb",
        "exports/link.duckdb",
        "exports/../archive.duckdb",
    ] {
        let sql = format!("COPY (SELECT 1) TO '{target}' (FORMAT csv, USE_TMP_FILE false)");
        assert_eq!(
            refused(&work, &["query", &sql]),
            beside_archive(target),
            "{target}"
        );
    }
    assert_untouched(&work, &before);
}

#[test]
fn the_private_names_duckdb_reports_lead_nowhere() {
    let work = imported();
    let before = snapshot(&work);
    let path = succeeds(
        &work,
        &[
            "query",
            "--format",
            "csv",
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
        ],
    );
    let private = path.lines().nth(1).unwrap().to_string();
    assert_ne!(private, text(&work.db()));
    assert!(
        private.starts_with(&format!("{}/.archive.duckdb.", text(work.path())))
            && private.ends_with(".sql/archive.duckdb"),
        "{private}"
    );
    // DuckDB 2.0.1 refuses to write over the private name, or its WAL's (files of an
    // attached database); the message names the archive by the name the user gave.
    let set = "SET VARIABLE target = (SELECT path FROM duckdb_databases() WHERE database_name = current_database());";
    for suffix in ["", ".wal"] {
        let over = format!(
            "{set} COPY (SELECT 1 AS x) TO (getvariable('target') || '{suffix}') (FORMAT csv, USE_TMP_FILE false)"
        );
        let output = work.run(&["query", "--format", "csv", &over]);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            stderr(&output),
            format!(
                "postback-archive: error: Binder Error: Cannot COPY to \"{}{suffix}\": the file belongs to an attached database\n",
                text(&work.db())
            )
        );
    }
    assert_untouched(&work, &before);
}

#[test]
fn out_may_not_name_the_archive_its_wal_or_its_folder() {
    let work = imported();
    let db = text(&work.db());
    std::os::unix::fs::symlink(work.db(), work.path().join("exports/link.duckdb")).unwrap();
    std::fs::hard_link(work.db(), work.path().join("exports/hard.duckdb")).unwrap();
    let before = snapshot(&work);
    for target in [
        db.clone(),
        "archive.duckdb".to_string(),
        "./archive.duckdb".to_string(),
        "ref/../archive.duckdb".to_string(),
        format!("{db}.wal"),
        "archive.duckdb.wal.checkpoint".to_string(),
        "archive.duckdb.wal.recovery".to_string(),
        "exports/link.duckdb".to_string(),
        "exports/hard.duckdb".to_string(),
        ".".to_string(),
        text(work.path()),
        "..".to_string(),
    ] {
        let expected = format!(
            "postback-archive: error: refusing to write the result to {target}: it is the archive \
             {}, one of its WAL files, or a folder holding them; write it to another file\n",
            text(&std::fs::canonicalize(work.db()).unwrap())
        );
        assert_eq!(
            refused(&work, &["query", "-o", &target, "SELECT 1"]),
            expected
        );
        assert_eq!(
            refused(
                &work,
                &[
                    "report",
                    "run",
                    "key-figures",
                    "--to",
                    "2026-11-01",
                    "-o",
                    &target
                ]
            ),
            expected
        );
    }
    assert_untouched(&work, &before);
    // Beside the archive, any other name is fine.
    succeeds(
        &work,
        &[
            "query",
            "-o",
            "result.csv",
            "--format",
            "csv",
            "SELECT 1 AS one",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("result.csv")).unwrap(),
        "one\n1\n"
    );
}

/// The binary with an archive at `db` instead of the workdir's.
fn command_with_db(work: &Workdir, db: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("postback-archive")
        .unwrap()
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .env_remove("POSTBACK_ARCHIVE_ALLOW_DIRS")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn daily_never_replaces_a_folder_holding_the_archive() {
    let work = imported();
    // The day's folder, and the hidden folders of killed runs that daily removes.
    for (folder, holder, context) in [
        (
            "out/2026-11-03",
            "out/2026-11-03",
            "no reports written; out/2026-11-03 is as it was",
        ),
        (
            "out/.2026-11-03.4000000000.old",
            "out/.2026-11-03.4000000000.old",
            "no reports written to out/2026-11-03",
        ),
        (
            "out/.2026-11-03.4000000000.tmp/deep",
            "out/.2026-11-03.4000000000.tmp",
            "no reports written to out/2026-11-03",
        ),
    ] {
        let dir = work.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("a.duckdb");
        std::fs::copy(work.db(), &db).unwrap();
        let bytes = std::fs::read(&db).unwrap();
        let output = command_with_db(
            &work,
            &db,
            &[
                "report",
                "daily",
                "--date",
                "2026-11-03",
                "--out-dir",
                "out",
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        assert_eq!(
            stderr(&output),
            format!(
                "postback-archive: error: {context}: {holder} holds the archive {}, and a \
                 report folder is replaced whole; pass an --out-dir whose report folders do \
                 not hold the archive\n",
                text(&std::fs::canonicalize(&db).unwrap())
            )
        );
        assert!(std::fs::read(&db).unwrap() == bytes);
        std::fs::remove_dir_all(work.path().join("out")).unwrap();
    }
    // A symbolic link as the day folder, leading to the archive's folder, is refused too.
    std::fs::create_dir(work.path().join("out")).unwrap();
    std::os::unix::fs::symlink(work.path(), work.path().join("out/2026-11-03")).unwrap();
    let before = snapshot(&work);
    assert_eq!(
        refused(
            &work,
            &[
                "report",
                "daily",
                "--date",
                "2026-11-03",
                "--out-dir",
                "out"
            ]
        ),
        format!(
            "postback-archive: error: no reports written; out/2026-11-03 is as it was: \
             out/2026-11-03 holds the archive {}, and a report folder is replaced whole; \
             pass an --out-dir whose report folders do not hold the archive\n",
            text(&std::fs::canonicalize(work.db()).unwrap())
        )
    );
    assert_untouched(&work, &before);
}

const USER_HEADER: &str = "\
-- name: NAME
-- title: Hostile
-- description: A report that tries to damage the archive.
-- param: from  start
-- param: to    end
";

fn user_report(work: &Workdir, name: &str, sql: &str) {
    work.write(
        &format!("mine/{name}.sql"),
        format!("{}{sql}\n", USER_HEADER.replace("NAME", name)),
    );
}

#[test]
fn user_reports_run_in_the_same_sandbox() {
    let work = imported();
    let db = text(&work.db());
    user_report(
        &work,
        "overwrite",
        &format!("COPY (SELECT 1) TO '{db}' (FORMAT csv, USE_TMP_FILE false)"),
    );
    user_report(
        &work,
        "drop",
        "SELECT count(*) FROM postbacks WHERE occurred_at >= $from AND occurred_at < $to; DROP TABLE postbacks; --",
    );
    user_report(&work, "attach", &format!("ATTACH '{db}.wal' AS w"));
    let before = snapshot(&work);
    let run = |name: &str| {
        refused(
            &work,
            &[
                "report",
                "run",
                name,
                "--to",
                "2026-11-01",
                "--reports-dir",
                "mine",
            ],
        )
    };
    assert_eq!(
        run("overwrite"),
        beside_archive(&db).replace(
            "postback-archive: error: ",
            "postback-archive: error: report overwrite failed: "
        )
    );
    assert_eq!(
        run("drop"),
        "postback-archive: error: mine/drop.sql: it holds 2 SQL statements, but a report must be \
         exactly one statement (a query); keep only that one\n"
    );
    let error = run("attach");
    assert!(
        error.starts_with("postback-archive: error: report attach failed: SQL may not"),
        "{error}"
    );
    let error = refused(
        &work,
        &[
            "report",
            "daily",
            "--date",
            "2026-11-01",
            "--out-dir",
            "exports",
            "--reports-dir",
            "mine",
        ],
    );
    assert!(error.contains("SQL may not read or write"), "{error}");
    // The failed daily run left nothing behind in exports either.
    assert!(
        std::fs::read_dir(work.path().join("exports"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_unchanged_but_exports(&work, before);
}

#[test]
fn granted_folders_take_copies_partitions_exports_and_reads() {
    let work = imported();
    let before = snapshot(&work);
    succeeds(
        &work,
        &[
            "--allow-dir",
            "exports",
            "query",
            "COPY (SELECT origin, count(*) AS n FROM postbacks GROUP BY ALL ORDER BY ALL) TO 'exports/origins.csv' (FORMAT csv);
             COPY (SELECT origin, postback_id FROM postbacks) TO 'exports/parts' (FORMAT csv, PARTITION_BY (origin), OVERWRITE);
             COPY (SELECT origin, postback_id FROM postbacks) TO 'exports/parts' (FORMAT csv, PARTITION_BY (origin), OVERWRITE);
             SELECT 1",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("exports/origins.csv")).unwrap(),
        "origin,n\nEMAIL_SUB,4\nGENERATE_PASS,2\nMMS_MO,2\nMMS_MT,14\nSMS_MO,2\nSMS_MT,6\nSUB,4\n"
    );
    assert!(work.path().join("exports/parts/origin=MMS_MT").is_dir());
    // Read back from the granted folder, through the environment variable this time.
    let output = work
        .command(&[
            "query",
            "--format",
            "csv",
            "SELECT sum(n) AS n FROM read_csv('exports/origins.csv')",
        ])
        .env(
            "POSTBACK_ARCHIVE_ALLOW_DIRS",
            format!("{}::exports", text(&work.path().join("ref"))),
        )
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "n\n34\n", "{}", stderr(&output));
    let absolute = text(&work.path().join("exports"));
    succeeds(
        &work,
        &[
            "--allow-dir",
            &absolute,
            "query",
            &format!("EXPORT DATABASE '{absolute}/dump'"),
        ],
    );
    assert!(work.path().join("exports/dump/schema.sql").is_file());
    assert_unchanged_but_exports(&work, before);
}

#[test]
fn without_a_grant_sql_reaches_no_file_and_says_how_to_grant_one() {
    let work = imported();
    let target = text(&work.path().join("exports/x.csv"));
    assert_eq!(
        refused(
            &work,
            &[
                "query",
                &format!("COPY (SELECT 1) TO '{target}' (FORMAT csv)")
            ]
        ),
        not_granted(&target)
    );
    let error = refused(&work, &["query", "SELECT * FROM read_csv('/etc/hostname')"]);
    assert_eq!(error, not_granted("/etc/hostname"));
}

/// The message for a folder that cannot be granted.
fn ungranted(dir: &str, reason: &str) -> String {
    format!(
        "postback-archive: error: --allow-dir {dir} cannot be granted: {reason}. SQL may never \
         reach the archive; grant a folder that neither holds it nor links to it, such as a \
         folder of exports beside it\n"
    )
}

#[test]
fn a_grant_that_holds_the_archive_is_refused() {
    let work = imported();
    std::os::unix::fs::symlink(work.path(), work.path().join("back")).unwrap();
    let folder = text(&std::fs::canonicalize(work.path()).unwrap());
    let parent = text(work.path().parent().unwrap());
    let before = snapshot(&work);
    for (dir, reason) in [
        (
            ".".to_string(),
            "it is the folder that holds the archive".to_string(),
        ),
        (
            text(work.path()),
            "it is the folder that holds the archive".to_string(),
        ),
        (
            "back".to_string(),
            "it is the folder that holds the archive".to_string(),
        ),
        (
            "exports/..".to_string(),
            "it is the folder that holds the archive".to_string(),
        ),
        (
            parent.clone(),
            format!("it holds the archive's folder {folder}"),
        ),
        (
            "/".to_string(),
            format!("it holds the archive's folder {folder}"),
        ),
        (
            "missing".to_string(),
            "No such file or directory (os error 2)".to_string(),
        ),
        (
            "archive.duckdb".to_string(),
            "it is not a folder".to_string(),
        ),
    ] {
        assert_eq!(
            refused(&work, &["--allow-dir", &dir, "query", "SELECT 1"]),
            ungranted(&dir, &reason),
            "{dir}"
        );
    }
    assert_untouched(&work, &before);
}

/// `--allow-dir exports` is refused for `reason`, and nothing changes.
fn refused_grant(work: &Workdir, reason: &str) {
    let before = snapshot(work);
    assert_eq!(
        refused(work, &["--allow-dir", "exports", "query", "SELECT 1"]),
        ungranted("exports", reason)
    );
    assert_untouched(work, &before);
}

#[test]
fn a_grant_holding_a_link_to_the_archive_is_refused() {
    use std::os::unix::fs::symlink;
    let work = imported();
    let folder = text(&std::fs::canonicalize(work.path()).unwrap());
    let exports = format!("{folder}/exports");
    std::fs::create_dir_all(work.path().join("exports/parts/origin=SMS_MT")).unwrap();
    let wal = "../archive.duckdb.wal";
    let symlinks = [
        (
            "exports/parts/origin=SMS_MT/evil",
            work.path(),
            folder.clone(),
        ),
        ("exports/root", Path::new("/"), "/".to_string()),
        (
            "exports/next.wal",
            Path::new(wal),
            format!("{folder}/archive.duckdb.wal"),
        ),
        ("exports/db", &work.db(), format!("{folder}/archive.duckdb")),
    ];
    for (entry, target, resolved) in symlinks {
        symlink(target, work.path().join(entry)).unwrap();
        let reason = format!(
            "{folder}/{entry} inside it is a symbolic link to {resolved}, where the archive is"
        );
        refused_grant(&work, &reason);
        std::fs::remove_file(work.path().join(entry)).unwrap();
    }
    std::fs::hard_link(work.db(), work.path().join("exports/hard.duckdb")).unwrap();
    refused_grant(
        &work,
        &format!("{folder}/exports/hard.duckdb inside it is a hard link to the archive"),
    );
    std::fs::remove_file(work.path().join("exports/hard.duckdb")).unwrap();
    // A link elsewhere is fine.
    std::os::unix::fs::symlink("/etc", work.path().join("exports/etc")).unwrap();
    assert_eq!(
        succeeds(
            &work,
            &[
                "--allow-dir",
                &exports,
                "query",
                "--format",
                "csv",
                "SELECT 1 AS one"
            ]
        ),
        "one\n1\n"
    );
}

#[test]
fn queries_keep_their_everyday_powers() {
    let work = imported();
    let before = snapshot(&work);
    let sql = "SET VARIABLE cutoff = 10;
               SET threads = 1;
               SET memory_limit = '200MB';
               CREATE TEMP TABLE counts AS SELECT origin, count(*) AS n FROM postbacks GROUP BY ALL;
               CREATE TEMP MACRO twice(x) AS x * 2;
               CREATE TEMP VIEW big AS SELECT * FROM counts WHERE n > getvariable('cutoff');
               ATTACH ':memory:' AS scratch (READ_WRITE);
               CREATE TABLE scratch.t AS SELECT 1 AS one;
               SELECT origin, twice(n) AS n2, (SELECT one FROM scratch.t) AS one FROM big ORDER BY origin";
    assert_eq!(
        succeeds(&work, &["query", "--format", "csv", sql]),
        "origin,n2,one\nMMS_MT,28,1\n"
    );
    assert_untouched(&work, &before);
}

#[test]
fn an_archive_with_a_wal_left_by_a_killed_import_is_read_whole() {
    let work = imported();
    common::leave_a_wal(&work.db());
    let wal = PathBuf::from(format!("{}.wal", text(&work.db())));
    assert!(wal.exists(), "the test needs a WAL");
    let wal_bytes = std::fs::read(&wal).unwrap();
    let before = snapshot(&work);
    assert_eq!(
        succeeds(
            &work,
            &[
                "query",
                "--format",
                "csv",
                "SELECT value FROM archive_meta WHERE key = 'probe'"
            ]
        ),
        "value\nfrom the wal\n"
    );
    assert!(std::fs::read(&wal).unwrap() == wal_bytes, "the WAL changed");
    assert_eq!(snapshot(&work), before);
}

#[test]
fn a_reader_in_the_sandbox_holds_the_lock_a_writer_sees() {
    let work = imported();
    let mut reader = StdCommand::new(env!("CARGO_BIN_EXE_postback-archive"))
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .args(["--db", "archive.duckdb", "query", "--format", "csv"])
        .arg("SELECT * FROM range(50000000)")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The header arrives once the archive is open; the pipe then fills and the reader waits.
    let mut stdout_pipe = reader.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout_pipe, &mut first).unwrap();
    assert_eq!(&first, b"range\n");
    let error = refused(&work, &["import", "--lock-timeout", "0", "ref"]);
    let holder = format!("postback-archive (PID {})", reader.id());
    assert!(error.contains(&holder), "{error}");
    assert!(
        !error.contains("readonly") && !error.contains("However"),
        "{error}"
    );
    reader.kill().unwrap();
    reader.wait().unwrap();
    drop(stdout_pipe);
}

#[test]
fn a_reader_that_gives_up_waiting_leaves_nothing_beside_the_archive() {
    let work = imported();
    let before = snapshot(&work);
    let writer = duckdb::Connection::open(work.db()).unwrap();
    let error = refused(
        &work,
        &["--quiet", "query", "--lock-timeout", "0", "SELECT 1"],
    );
    assert!(error.contains("is locked by another process"), "{error}");
    assert_eq!(listing(work.path()), before.listing);
    drop(writer);
    assert_untouched(&work, &before);
}

#[test]
fn the_private_folder_of_a_killed_reader_is_cleaned_up_by_the_next() {
    let work = imported();
    let leftover = work.path().join(".archive.duckdb.4000000000.sql");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::hard_link(work.db(), leftover.join("archive.duckdb")).unwrap();
    let live = work
        .path()
        .join(format!(".archive.duckdb.{}.sql", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    succeeds(&work, &["query", "SELECT 1"]);
    assert!(!leftover.exists());
    assert!(live.exists(), "a folder of a running process is kept");
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "34");
}

// Messages that say what is really wrong with --db (each exits 1).

fn db_error(work: &Workdir, db: &Path, args: &[&str]) -> String {
    let output = command_with_db(work, db, args);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    stderr(&output)
}

#[test]
fn a_db_that_is_not_a_duckdb_file_is_named_for_what_it_is() {
    let work = imported();
    let sqlite = work.write(
        "data.sqlite",
        b"SQLite format 3\0\x10\0\x01\x01\0@  \0\0\0\x01",
    );
    let text_file = work.write("notes.txt", "hello\n");
    let empty = work.write("empty.duckdb", "");
    let fifo = work.path().join("pipe.duckdb");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    for (path, what) in [
        (&sqlite, "a SQLite database"),
        (&text_file, "a file DuckDB did not write"),
        (&empty, "an empty file"),
        (&fifo, "a named pipe (FIFO)"),
        (&work.path().join("ref"), "a folder"),
    ] {
        let expected = format!(
            "postback-archive: error: {} is {what}, not a postback archive; pass the archive's \
             file with --db (or, for `import`, a path where nothing is yet)\n",
            text(path)
        );
        assert_eq!(db_error(&work, path, &["query", "SELECT 1"]), expected);
        assert_eq!(db_error(&work, path, &["import", "ref"]), expected);
    }
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(std::fs::read(&text_file).unwrap(), b"hello\n");
}

#[test]
fn memory_and_empty_db_paths_are_refused_for_every_command() {
    let work = imported();
    for command in [
        &["import", "ref"][..],
        &["query", "SELECT 1"],
        &["report", "run", "key-figures"],
    ] {
        assert_eq!(
            db_error(&work, Path::new(":memory:"), command),
            "postback-archive: error: --db :memory: is DuckDB's in-memory database, which keeps \
             nothing once the command ends; pass the path of the archive file (such as postbacks.duckdb)\n"
        );
        assert_eq!(
            db_error(&work, Path::new(""), command),
            "postback-archive: error: --db is empty; pass the path of the archive file (such as postbacks.duckdb)\n"
        );
    }
}

#[test]
fn a_garbled_schema_version_is_named_not_migrated_over() {
    let work = imported();
    {
        let conn = duckdb::Connection::open(work.db()).unwrap();
        conn.execute_batch("UPDATE archive_meta SET value = '1x' WHERE key = 'schema_version'")
            .unwrap();
    }
    let expected = format!(
        "postback-archive: error: the archive {}'s schema version is unreadable (archive_meta \
         holds schema_version \"1x\"); it was damaged or not written by postback-archive, so it \
         is left alone. Restore it from a backup, or pass another --db\n",
        text(&work.db())
    );
    assert_eq!(refused(&work, &["query", "SELECT 1"]), expected);
    assert_eq!(refused(&work, &["import", "ref"]), expected);
    {
        let conn = duckdb::Connection::open(work.db()).unwrap();
        conn.execute_batch("DELETE FROM archive_meta WHERE key = 'schema_version'")
            .unwrap();
    }
    assert!(refused(&work, &["import", "ref"]).contains("(archive_meta holds no schema_version)"));
}

#[test]
fn a_duckdb_file_of_views_or_macros_is_not_taken_over() {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    let cases = [
        (
            "views.duckdb",
            "CREATE VIEW v AS SELECT 1 AS x; CREATE VIEW w AS SELECT 2 AS y",
            "2 views",
        ),
        ("macro.duckdb", "CREATE MACRO twice(x) AS x * 2", "1 macro"),
        ("sequence.duckdb", "CREATE SEQUENCE s", "1 sequence"),
        ("schema.duckdb", "CREATE SCHEMA mine", "1 schema"),
        (
            "type.duckdb",
            "CREATE TYPE mood AS ENUM ('ok', 'not')",
            "1 type",
        ),
        (
            "mixed.duckdb",
            "CREATE TABLE t (x INT); CREATE VIEW v AS SELECT 1",
            "1 table, 1 view",
        ),
    ];
    for (name, sql, holds) in cases {
        let db = work.path().join(name);
        {
            let conn = duckdb::Connection::open(&db).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        let bytes = std::fs::read(&db).unwrap();
        let expected = format!(
            "postback-archive: error: {} is a DuckDB database but not a postback archive: it holds \
             {holds} but no archive_meta table, so postback-archive leaves it alone. Pass the \
             archive's file with --db (or, for `import`, a path where nothing is yet)\n",
            text(&db)
        );
        assert_eq!(db_error(&work, &db, &["import", "ref"]), expected, "{name}");
        assert_eq!(
            db_error(&work, &db, &["query", "SELECT 1"]),
            expected,
            "{name}"
        );
        assert!(std::fs::read(&db).unwrap() == bytes, "{name} changed");
    }
}

#[test]
fn an_empty_duckdb_file_is_no_archive_yet_and_import_makes_it_one() {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    drop(duckdb::Connection::open(work.db()).unwrap());
    assert_eq!(
        refused(&work, &["query", "SELECT 1"]),
        format!(
            "postback-archive: error: {} is an empty DuckDB database, not a postback archive yet; \
             import postbacks into it first (`postback-archive import PATH...`)\n",
            text(&work.db())
        )
    );
    let output = work.run(&["import", "--allow-bad-input", "ref"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "34");
}

#[test]
fn a_reader_holding_the_lock_is_named_without_duckdbs_cli_hint() {
    let work = imported();
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    let reader = duckdb::Connection::open_with_flags(work.db(), config).unwrap();
    let holder = format!(
        "{} (PID {})",
        text(&std::env::current_exe().unwrap()),
        std::process::id()
    );
    assert_eq!(
        refused(&work, &["--quiet", "import", "--lock-timeout", "0", "ref"]),
        format!(
            "postback-archive: error: the archive {} is locked by another process ({holder}); \
             gave up after 0 s. Retry when it has finished, or pass --lock-timeout SECONDS to \
             wait longer\n",
            text(&work.db())
        )
    );
    drop(reader);
}

#[test]
fn control_characters_in_paths_are_escaped_in_messages() {
    let work = Workdir::new();
    let db = work.path().join("a\nforged:1:1: not_xml: b.duckdb");
    let error = db_error(&work, &db, &["query", "SELECT 1"]);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains("a\\nforged:1:1: not_xml: b.duckdb"),
        "{error}"
    );
}
