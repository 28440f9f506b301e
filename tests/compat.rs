//! The archive opens in our users' own tools: the stock DuckDB CLI 1.5 and Python `duckdb`
//! 1.5 and 2.0, both for an archive this version creates and for one the previous
//! version (built on DuckDB 1.5.5) created and this version then imported into.
//!
//! `.ci/run` installs the tools (PyPI `duckdb-cli==1.5.6` and `duckdb==1.5.5` in one
//! virtual environment, `duckdb==2.0.1` in another) and points the variables below at
//! them. Elsewhere each test says how to install them and passes without them; under CI
//! (`CI` set) it requires them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Workdir, duckdb_cli, required_tool};

/// Python with `duckdb==1.5.5`, and Python with `duckdb==2.0.1`.
const PYTHON_15: &str = "POSTBACK_ARCHIVE_TEST_PYTHON";
const PYTHON_20: &str = "POSTBACK_ARCHIVE_TEST_PYTHON_DUCKDB2";

/// An archive the previous version (schema 1, DuckDB 1.5.5) made of `data/sample`.
const PREVIOUS_ARCHIVE: &str = "archives/v1-duckdb-1.5.5.duckdb";

fn python(variable: &str, version: &str) -> Option<PathBuf> {
    let found = std::env::var_os(variable).map(PathBuf::from);
    let what = format!("Python duckdb {version} ({variable})");
    required_tool(found, &what, &format!("pip install duckdb=={version}"))
}

/// The reference examples imported by this version into a new archive.
fn created_here() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    assert_eq!(work.run(&["import", "ref"]).status.code(), Some(2));
    work
}

/// The previous version's archive of `data/sample`, after this version imported the
/// reference examples into it (which upgrades it in place).
fn created_by_the_previous_version() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture(PREVIOUS_ARCHIVE, "archive.duckdb");
    work.copy_fixture("reference", "ref");
    let output = work.run(&["import", "ref"]);
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    work
}

const CHECK_SQL: &str = "SELECT count(*), count(DISTINCT origin) FROM postbacks; \
    SELECT delivery_state, count(*) FROM outbound_messages GROUP BY 1 ORDER BY 1; \
    SELECT content_urls[1] FROM inbound_messages WHERE channel = 'MMS' ORDER BY postback_id LIMIT 1;";

/// What the CLI prints for [`CHECK_SQL`] on an archive made by [`created_here`].
const CREATED_HERE_CSV: &str =
    "34,7\ndelivered,6\nfailed,1\nrejected,1\nsend_failed,3\nsent,7\nURL of Content Here\n";

fn run_cli(cli: &Path, db: &Path) -> String {
    cli_answer(cli, db, &format!("SELECT version(); {CHECK_SQL}"))
}

/// What the DuckDB CLI prints, as CSV without a header, for `sql` on the archive `db`.
fn cli_answer(cli: &Path, db: &Path, sql: &str) -> String {
    let output = Command::new(cli)
        .args(["-readonly", "-csv", "-noheader"])
        .arg(db)
        .arg("-c")
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run_python(python: &Path, db: &Path) -> String {
    let script = format!(
        "import duckdb\ncon = duckdb.connect({:?}, read_only=True)\nprint(duckdb.__version__)\nfor q in {:?}.split(';')[:-1]:\n    print(con.sql(q).fetchall())\n",
        db.to_str().unwrap(),
        CHECK_SQL
    );
    let output = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// [`CHECK_SQL`]'s answer on the previous version's archive after the reference import,
/// computed by this version itself, as the CLI prints it.
fn expected_csv(work: &Workdir) -> String {
    let mut lines: Vec<String> = Vec::new();
    for sql in CHECK_SQL.split(';').filter(|s| !s.trim().is_empty()) {
        let output = work.run(&["query", "--format", "csv", sql]);
        assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
        let text = common::stdout(&output);
        lines.extend(text.lines().skip(1).map(str::to_string));
    }
    lines.join("\n") + "\n"
}

#[test]
fn the_duckdb_15_cli_reads_an_archive_created_by_this_version() {
    let Some(cli) = duckdb_cli() else { return };
    let work = created_here();
    assert_eq!(
        run_cli(&cli, &work.db()),
        format!("v1.5.6\n{CREATED_HERE_CSV}")
    );
}

#[test]
fn python_duckdb_15_and_20_read_an_archive_created_by_this_version() {
    let expected = "[(34, 7)]\n[('delivered', 6), ('failed', 1), ('rejected', 1), ('send_failed', 3), ('sent', 7)]\n[('URL of Content Here',)]\n";
    for (variable, version) in [(PYTHON_15, "1.5.5"), (PYTHON_20, "2.0.1")] {
        let Some(python) = python(variable, version) else {
            continue;
        };
        let work = created_here();
        assert_eq!(
            run_python(&python, &work.db()),
            format!("{version}\n{expected}")
        );
    }
}

#[test]
fn an_archive_of_the_previous_version_is_upgraded_in_place_and_stays_readable_by_duckdb_15() {
    let work = created_by_the_previous_version();
    let expected = expected_csv(&work);
    assert_eq!(
        work.value("SELECT count(*) FROM import_runs"),
        "2",
        "the previous version's run and ours"
    );
    if let Some(cli) = duckdb_cli() {
        assert_eq!(run_cli(&cli, &work.db()), format!("v1.5.6\n{expected}"));
    }
    // Both Python clients print the same rows, and the first figure is this version's count.
    let count = work.value("SELECT count(*) FROM postbacks");
    let mut answers = Vec::new();
    for (variable, version) in [(PYTHON_15, "1.5.5"), (PYTHON_20, "2.0.1")] {
        if let Some(python) = python(variable, version) {
            let printed = run_python(&python, &work.db());
            let rows = printed.strip_prefix(&format!("{version}\n")).unwrap_or("");
            assert!(rows.starts_with(&format!("[({count}, ")), "{printed}");
            answers.push(rows.to_string());
        }
    }
    answers.dedup();
    assert!(answers.len() <= 1, "{answers:?}");
    migration_2_was_applied(&work);
}

/// What migration 2 adds to the previous version's archive (its 300 postbacks and 25
/// copies of run 1): schema version 2, an archive id, every postback and copy's arrival
/// time from its file, CODE in its own column, and DuckDB 1.5 reads them.
fn migration_2_was_applied(work: &Workdir) {
    common::assert_current_schema_with_archive_id(work);
    let arrivals = "SELECT (SELECT count(*) FROM postbacks p JOIN files f USING (file_id)
                            WHERE p.run_id = 1 AND p.received_at = f.modified_at),
                           (SELECT count(*) FROM duplicates d JOIN files f USING (file_id)
                            WHERE d.run_id = 1 AND d.received_at = f.modified_at)";
    assert_eq!(work.value(arrivals), "300|25");
    // Version 1 kept CODE in status_code for every postback but a pass; it is in code now.
    let codes = "SELECT count(*) FILTER (WHERE code IS DISTINCT FROM status_code),
                        count(*) FILTER (WHERE code IS NOT NULL)
                 FROM postbacks WHERE run_id = 1 AND origin <> 'GENERATE_PASS'";
    let codes_answer = work.value(codes);
    assert!(codes_answer.starts_with("0|"), "{codes_answer}");
    assert_ne!(codes_answer, "0|0");
    if let Some(cli) = duckdb_cli() {
        let printed = cli_answer(&cli, &work.db(), &format!("{arrivals}; {codes};"));
        assert_eq!(
            printed,
            format!(
                "{}\n{}\n",
                work.value(arrivals).replace('|', ","),
                codes_answer.replace('|', ",")
            )
        );
    }
}
