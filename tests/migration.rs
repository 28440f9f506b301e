//! Schema version 2 on archives that version 1 wrote: the first `import` upgrades them
//! in place. CODE and STATUSCODE move to columns of their own, every postback and
//! copy gets its arrival time, the archive gets an id, nothing else changes, and the
//! result has exactly the schema of a new archive and still opens in DuckDB 1.5.
//!
//! The version-1 archives are described in `tests/fixtures/archives/README.md`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Workdir, stderr};
use duckdb::{Config, Connection};

/// The fixture folder of `tests/fixtures/`, as an absolute path.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A workdir whose archive is the exported version-1 archive, in DuckDB 1.5's storage
/// format as version 1 wrote it.
fn exported_v1_archive() -> Workdir {
    let work = Workdir::new();
    let config = Config::default()
        .with("storage_compatibility_version", "v1.5.0")
        .unwrap();
    let conn = Connection::open_with_flags(work.db(), config).unwrap();
    let export = fixture("archives/v1-export");
    conn.execute_batch(&format!("IMPORT DATABASE '{}'", export.display()))
        .unwrap();
    drop(conn);
    work
}

/// Upgrade the workdir's archive the way users do: any import opens it for writing.
fn upgrade(work: &Workdir) {
    std::fs::create_dir_all(work.path().join("nothing")).unwrap();
    let output = work.run(&["import", "nothing"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// What must hold of every postback of `before` in `after`, whatever the archive.
struct Snapshot {
    counts: Vec<String>,
    postbacks: Vec<String>,
    /// The rows of postbacks and duplicates in the order they are stored, which the
    /// zone maps of their times depend on.
    stored_order: Vec<String>,
}

fn snapshot(work: &Workdir) -> Snapshot {
    Snapshot {
        counts: work.rows(
            "SELECT (SELECT count(*) FROM postbacks), (SELECT count(*) FROM duplicates),
                    (SELECT count(*) FROM files), (SELECT count(*) FROM import_errors),
                    (SELECT count(DISTINCT fingerprint) FROM postbacks)",
        ),
        // id, fingerprint, origin, the stored code and extra of every postback.
        postbacks: work.rows(
            "SELECT postback_id, fingerprint, origin, coalesce(status_code, 'NULL'),
                    coalesce(extra::VARCHAR, 'NULL')
             FROM postbacks ORDER BY postback_id",
        ),
        stored_order: work.rows(
            "SELECT md5(string_agg(postback_id::VARCHAR, ',' ORDER BY rowid)) FROM postbacks
             UNION ALL
             SELECT md5(string_agg(concat_ws(':', postback_id, file_id, file_position), ','
                                   ORDER BY rowid))
             FROM duplicates",
        ),
    }
}

/// Version 1 parked the second of CODE and STATUSCODE in `extra` under its name as
/// written: does this row's `extra` hold one?
fn parked_code(extra: &str) -> bool {
    let extra = extra.to_ascii_uppercase();
    extra.contains("\"CODE\":") || extra.contains("\"STATUSCODE\":")
}

/// The invariants of the migration on any version-1 archive.
fn check_upgrade(work: &Workdir, before: &Snapshot) {
    let now = snapshot(work);
    assert_eq!(now.counts, before.counts, "rows or fingerprints lost");
    assert_eq!(now.stored_order, before.stored_order, "rows reordered");
    common::assert_current_schema_with_archive_id(work);
    // Each postback and each copy arrived when its file was last modified.
    assert_eq!(
        work.value(
            "SELECT count(*) FROM postbacks p JOIN files f USING (file_id)
             WHERE p.received_at = f.modified_at"
        ),
        before.counts[0].split('|').next().unwrap()
    );
    assert_eq!(
        work.value(
            "SELECT count(*) FROM duplicates d JOIN files f USING (file_id)
             WHERE d.received_at = f.modified_at"
        ),
        before.counts[0].split('|').nth(1).unwrap()
    );
    // Rows without a parked code keep everything; their one code is CODE, except on
    // a pass, whose documented examples send STATUSCODE alone.
    let after = work.rows(
        "SELECT postback_id, fingerprint, origin, coalesce(code, 'NULL'),
                coalesce(status_code, 'NULL'), coalesce(extra::VARCHAR, 'NULL')
         FROM postbacks ORDER BY postback_id",
    );
    assert_eq!(after.len(), before.postbacks.len());
    for (old, new) in before.postbacks.iter().zip(&after) {
        let old: Vec<&str> = old.split('|').collect();
        let new: Vec<&str> = new.split('|').collect();
        assert_eq!(old[..3], new[..3], "id, fingerprint and origin");
        if parked_code(old[4]) {
            continue;
        }
        let code = if old[2] == "GENERATE_PASS" {
            "NULL"
        } else {
            old[3]
        };
        assert_eq!([code, old[3], old[4]], new[3..], "postback {}", old[0]);
    }
}

/// Columns, constraints, views and macros, as DuckDB describes them.
fn schema_of(work: &Workdir) -> Vec<String> {
    let mut schema = work.rows(
        "SELECT table_name, column_index, column_name, data_type, is_nullable,
                coalesce(column_default, '')
         FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal
         ORDER BY ALL",
    );
    schema.extend(work.rows(
        "SELECT table_name, constraint_type, constraint_column_names::VARCHAR
         FROM duckdb_constraints() WHERE database_name = current_database() ORDER BY ALL",
    ));
    schema.extend(work.rows(
        "SELECT view_name, sql FROM duckdb_views()
         WHERE database_name = current_database() AND NOT internal ORDER BY ALL",
    ));
    schema.extend(work.rows(
        "SELECT DISTINCT function_name, function_type FROM duckdb_functions()
         WHERE database_name = current_database() AND NOT internal ORDER BY ALL",
    ));
    schema
}

#[test]
fn a_version_1_archive_is_upgraded_in_place_moving_code_and_statuscode_to_their_columns() {
    let work = exported_v1_archive();
    let before = snapshot(&work);
    assert_eq!(before.counts, ["307|25|276|6|307"]);
    // Read-only commands say what to do rather than upgrade.
    let output = work.run(&["query", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has schema version 1; open it once for writing (run `import`)"),
        "{}",
        stderr(&output)
    );
    upgrade(&work);
    check_upgrade(&work, &before);
    // Run 2 of the version-1 archive: tests/fixtures/archives/v1-input, by file name.
    assert_eq!(
        work.rows(
            "SELECT postback_id, coalesce(code, 'NULL'), status_code,
                    coalesce(extra::VARCHAR, 'NULL'), received_at::VARCHAR
             FROM postbacks WHERE run_id = 2 ORDER BY postback_id"
        ),
        [
            "301|NULL|N801|NULL|2026-11-03 14:10:00",
            "302|N801|N802|NULL|2026-11-03 14:10:01",
            "303|N801|N803|{\"@batch\":\"7\",\"PROMO\":\"autumn\"}|2026-11-03 14:10:02",
            "304|N801|N811|NULL|2026-11-03 14:10:03",
            "305|N801|N802|{\"STATUSCODE\":[\"N803\",\"N811\"]}|2026-11-03 14:10:04",
            "306|N801|N802|{\"STATUSCODE\":\"N811\"}|2026-11-03 14:10:05",
            "307|N201|N201|{\"CODE\":\"N202\"}|2026-11-03 14:10:06",
        ]
    );
    // The pass of CODE N801 and STATUSCODE N802 (302) is a failure now; in version 1 it
    // was one of 78 generated passes (72 of the sample, 6 of run 2).
    assert_eq!(
        work.rows(
            "SELECT count(*) FILTER (WHERE generated), count(*) FILTER (WHERE failed)
             FROM pass_generations"
        ),
        ["73|12"]
    );
    // A sample file's postbacks arrived when the file was written.
    assert_eq!(
        work.value(
            "SELECT received_at::VARCHAR FROM postbacks p JOIN files f USING (file_id)
             WHERE f.path LIKE '%/2026/11/01/000014-000001.xml'"
        ),
        "2026-11-01 00:00:14"
    );
}

#[test]
fn a_large_version_1_archive_keeps_its_rows_in_arrival_order() {
    // Enough rows for DuckDB to spread the rebuild over threads, where a join would
    // hand them back in any order.
    let work = exported_v1_archive();
    let conn = Connection::open(work.db()).unwrap();
    conn.execute_batch(
        "INSERT INTO files SELECT 1000 + i, '/big/' || i || '.xml', i, 100,
                TIMESTAMP '2026-11-04' + to_seconds(i), NULL, false, 3, 3, 1, 0, 0
         FROM range(125000) t(i);
         INSERT INTO postbacks (postback_id, fingerprint, run_id, file_id, file_position, line,
                                occurred_at, origin, status_code, extra)
         SELECT 1000 + i, i, 3, 1000 + (i * 7919) % 125000, 1, 1,
                TIMESTAMP '2026-11-04' + to_seconds(i), 'GENERATE_PASS', 'N801',
                CASE WHEN i % 3 = 0 THEN '{\"STATUSCODE\":\"N802\"}' END
         FROM range(250000) t(i);",
    )
    .unwrap();
    drop(conn);
    let before = snapshot(&work);
    upgrade(&work);
    check_upgrade(&work, &before);
    assert_eq!(
        work.value("SELECT count(*) FROM postbacks WHERE status_code = 'N802' AND run_id = 3"),
        "83334"
    );
}

#[test]
fn an_upgraded_archive_has_exactly_the_schema_of_a_new_one() {
    let migrated = exported_v1_archive();
    upgrade(&migrated);
    let new = Workdir::new();
    upgrade(&new);
    assert_eq!(schema_of(&migrated), schema_of(&new));
    assert!(schema_of(&new).len() > 100);
}

/// A way to run SQL in DuckDB 1.5: the stock CLI on `PATH`, or Python `duckdb` 1.5.5
/// (`POSTBACK_ARCHIVE_TEST_PYTHON`), as `.ci/run` installs them (see tests/compat.rs).
fn duckdb_15(db: &Path, sql: &str) -> Option<String> {
    let cli = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("duckdb"))
            .find(|candidate| candidate.is_file())
    });
    let output = if let Some(cli) = cli {
        Command::new(cli)
            .args(["-readonly", "-csv", "-noheader"])
            .arg(db)
            .arg("-c")
            .arg(sql)
            .output()
            .unwrap()
    } else if let Some(python) = std::env::var_os("POSTBACK_ARCHIVE_TEST_PYTHON") {
        let script = format!(
            "import duckdb\ncon = duckdb.connect({:?}, read_only=True)\n\
             for row in con.sql({sql:?}).fetchall():\n    print(','.join(map(str, row)))\n",
            db.to_str().unwrap()
        );
        Command::new(python).args(["-c", &script]).output().unwrap()
    } else {
        let hint = "DuckDB 1.5 not found; install with: pip install duckdb-cli==1.5.6";
        assert!(
            std::env::var_os("CI").is_none(),
            "{hint} (.ci/run does this)"
        );
        eprintln!("skipped: {hint}");
        return None;
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn an_upgraded_archive_still_opens_in_duckdb_15_with_its_views() {
    let work = exported_v1_archive();
    upgrade(&work);
    let sql = "SELECT count(*) FILTER (WHERE generated), count(*) FILTER (WHERE failed), \
               count(*) FILTER (WHERE dated_by = 'arrival') FROM pass_generations";
    if let Some(printed) = duckdb_15(&work.db(), sql) {
        assert_eq!(printed, "73,12,0\n");
    }
}

#[test]
fn the_previous_releases_own_archive_is_upgraded_in_place() {
    let archive = fixture("archives/v1-duckdb-1.5.5.duckdb");
    let work = Workdir::new();
    std::fs::copy(&archive, work.db()).unwrap();
    let before = snapshot(&work);
    upgrade(&work);
    check_upgrade(&work, &before);
    let sql = "SELECT count(*) FROM postbacks WHERE received_at IS NOT NULL";
    if let Some(printed) = duckdb_15(&work.db(), sql) {
        assert_eq!(printed.trim(), before.counts[0].split('|').next().unwrap());
    }
}
