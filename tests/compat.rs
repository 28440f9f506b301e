//! The archive opens in the stock DuckDB CLI and in Python `duckdb` of the same version.
//!
//! `.ci/run` installs both (PyPI `duckdb-cli==1.5.5` and `duckdb==1.5.5`). Elsewhere the
//! test says how to install them and passes without them; under CI it requires them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Workdir;

fn required_tool(path: Option<PathBuf>, what: &str) -> Option<PathBuf> {
    if path.is_none() {
        let hint =
            format!("{what} not found; install with: pip install duckdb==1.5.5 duckdb-cli==1.5.5");
        assert!(
            std::env::var_os("CI").is_none(),
            "{hint} (.ci/run does this)"
        );
        eprintln!("skipped: {hint}");
    }
    path
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|candidate| candidate.is_file())
}

fn imported_reference() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    assert_eq!(work.run(&["import", "ref"]).status.code(), Some(2));
    work
}

const CHECK_SQL: &str = "SELECT count(*), count(DISTINCT origin) FROM postbacks; \
    SELECT delivery_state, count(*) FROM outbound_messages GROUP BY 1 ORDER BY 1; \
    SELECT content_urls[1] FROM inbound_messages WHERE channel = 'MMS' LIMIT 1;";

#[test]
fn the_duckdb_cli_reads_the_archive() {
    let Some(cli) = required_tool(on_path("duckdb"), "the DuckDB CLI") else {
        return;
    };
    let work = imported_reference();
    let output = Command::new(cli)
        .args([
            "-readonly",
            "-csv",
            "-noheader",
            work.db().to_str().unwrap(),
            "-c",
        ])
        .arg(format!("SELECT version(); {CHECK_SQL}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "v1.5.5\n34,7\ndelivered,6\nfailed,1\nrejected,1\nsend_failed,3\nsent,7\nURL of Content Here\n"
    );
}

#[test]
fn python_duckdb_reads_the_archive() {
    let python = std::env::var_os("POSTBACK_ARCHIVE_TEST_PYTHON").map(PathBuf::from);
    let Some(python) = required_tool(python, "Python duckdb (POSTBACK_ARCHIVE_TEST_PYTHON)") else {
        return;
    };
    let work = imported_reference();
    let script = format!(
        "import duckdb\ncon = duckdb.connect({:?}, read_only=True)\nprint(duckdb.__version__)\nfor q in {:?}.split(';')[:-1]:\n    print(con.sql(q).fetchall())\n",
        work.db().to_str().unwrap(),
        CHECK_SQL
    );
    let output = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "1.5.5\n[(34, 7)]\n[('delivered', 6), ('failed', 1), ('rejected', 1), ('send_failed', 3), ('sent', 7)]\n[('URL of Content Here',)]\n"
    );
}
