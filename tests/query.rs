//! `postback-archive query`, driven as users drive it: the real binary on an archive
//! imported from the reference examples.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Workdir, stderr, stdout};

const SUMMARY: &str =
    "SELECT origin, count(*) AS n, min(occurred_at) AS first FROM postbacks GROUP BY 1 ORDER BY 1";

/// A value with every character some format has to escape, a NULL and a number.
const AWKWARD: &str = "SELECT 'a,b \"q\"' || chr(10) || 'x' || chr(9) || 'y|z\\' AS note, NULL::INTEGER AS missing, 7 AS n";

/// A workdir whose archive holds the 34 postbacks of the reference examples.
fn imported() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    let output = work.run(&["import", "--allow-bad-input", "ref"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "34");
    work
}

/// Run a query that must succeed and return what it printed.
fn query(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(&[&["query"], args].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    stdout(&output)
}

/// Run a query that must fail and return its error message.
fn query_error(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(&[&["query"], args].concat());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(stdout(&output), "");
    stderr(&output)
}

#[test]
fn every_format_prints_the_same_result_exactly() {
    let work = imported();
    let expected = [
        (
            "table",
            "\
┌───────────────┬────┬─────────────────────┐
│ origin        │  n │ first               │
├───────────────┼────┼─────────────────────┤
│ EMAIL_SUB     │  4 │ NULL                │
│ GENERATE_PASS │  2 │ 2013-11-26 16:37:11 │
│ MMS_MO        │  2 │ 2014-02-03 16:19:49 │
│ MMS_MT        │ 14 │ 2012-06-07 12:27:29 │
│ SMS_MO        │  2 │ 2011-09-28 21:31:02 │
│ SMS_MT        │  6 │ 2013-11-05 10:41:08 │
│ SUB           │  4 │ 2014-07-02 18:32:23 │
└───────────────┴────┴─────────────────────┘
",
        ),
        (
            "csv",
            "\
origin,n,first
EMAIL_SUB,4,
GENERATE_PASS,2,2013-11-26 16:37:11
MMS_MO,2,2014-02-03 16:19:49
MMS_MT,14,2012-06-07 12:27:29
SMS_MO,2,2011-09-28 21:31:02
SMS_MT,6,2013-11-05 10:41:08
SUB,4,2014-07-02 18:32:23
",
        ),
        (
            "tsv",
            "\
origin\tn\tfirst
EMAIL_SUB\t4\t
GENERATE_PASS\t2\t2013-11-26 16:37:11
MMS_MO\t2\t2014-02-03 16:19:49
MMS_MT\t14\t2012-06-07 12:27:29
SMS_MO\t2\t2011-09-28 21:31:02
SMS_MT\t6\t2013-11-05 10:41:08
SUB\t4\t2014-07-02 18:32:23
",
        ),
        (
            "json",
            r#"[
{"origin":"EMAIL_SUB","n":4,"first":null},
{"origin":"GENERATE_PASS","n":2,"first":"2013-11-26 16:37:11"},
{"origin":"MMS_MO","n":2,"first":"2014-02-03 16:19:49"},
{"origin":"MMS_MT","n":14,"first":"2012-06-07 12:27:29"},
{"origin":"SMS_MO","n":2,"first":"2011-09-28 21:31:02"},
{"origin":"SMS_MT","n":6,"first":"2013-11-05 10:41:08"},
{"origin":"SUB","n":4,"first":"2014-07-02 18:32:23"}
]
"#,
        ),
        (
            "jsonl",
            r#"{"origin":"EMAIL_SUB","n":4,"first":null}
{"origin":"GENERATE_PASS","n":2,"first":"2013-11-26 16:37:11"}
{"origin":"MMS_MO","n":2,"first":"2014-02-03 16:19:49"}
{"origin":"MMS_MT","n":14,"first":"2012-06-07 12:27:29"}
{"origin":"SMS_MO","n":2,"first":"2011-09-28 21:31:02"}
{"origin":"SMS_MT","n":6,"first":"2013-11-05 10:41:08"}
{"origin":"SUB","n":4,"first":"2014-07-02 18:32:23"}
"#,
        ),
        (
            "markdown",
            "\
| origin | n | first |
|---|--:|---|
| EMAIL_SUB | 4 | NULL |
| GENERATE_PASS | 2 | 2013-11-26 16:37:11 |
| MMS_MO | 2 | 2014-02-03 16:19:49 |
| MMS_MT | 14 | 2012-06-07 12:27:29 |
| SMS_MO | 2 | 2011-09-28 21:31:02 |
| SMS_MT | 6 | 2013-11-05 10:41:08 |
| SUB | 4 | 2014-07-02 18:32:23 |
",
        ),
    ];
    for (format, text) in expected {
        assert_eq!(
            query(&work, &["--format", format, SUMMARY]),
            text,
            "{format}"
        );
    }
    assert_eq!(
        query(&work, &[SUMMARY]),
        expected[0].1,
        "table is the default"
    );
}

#[test]
fn commas_quotes_line_breaks_tabs_pipes_and_nulls_are_escaped_per_format() {
    let work = imported();
    let expected = [
        (
            "table",
            "\
┌──────────────────┬─────────┬───┐
│ note             │ missing │ n │
├──────────────────┼─────────┼───┤
│ a,b \"q\"\\nx\\ty|z\\ │    NULL │ 7 │
└──────────────────┴─────────┴───┘
",
        ),
        ("csv", "note,missing,n\n\"a,b \"\"q\"\"\nx\ty|z\\\",,7\n"),
        ("tsv", "note\tmissing\tn\na,b \"q\"\\nx\\ty|z\\\\\t\t7\n"),
        (
            "json",
            "[\n{\"note\":\"a,b \\\"q\\\"\\nx\\ty|z\\\\\",\"missing\":null,\"n\":7}\n]\n",
        ),
        (
            "jsonl",
            "{\"note\":\"a,b \\\"q\\\"\\nx\\ty|z\\\\\",\"missing\":null,\"n\":7}\n",
        ),
        (
            "markdown",
            "| note | missing | n |\n|---|--:|--:|\n| a,b \"q\"<br>x\ty\\|z\\ | NULL | 7 |\n",
        ),
    ];
    for (format, text) in expected {
        assert_eq!(
            query(&work, &["--format", format, AWKWARD]),
            text,
            "{format}"
        );
    }
}

/// Each value must print exactly as DuckDB's own `CAST(value AS VARCHAR)` does.
#[test]
fn values_print_as_duckdb_casts_them_to_text() {
    let work = imported();
    let values = [
        "TIMESTAMP '2026-11-01 12:00:00'",
        "TIMESTAMP '2026-11-01 12:00:00.25'",
        "'2021-01-01 12:00:00.123456789'::TIMESTAMP_NS",
        "TIMESTAMP_S '2021-01-01 12:00:00'",
        "TIMESTAMP_MS '2021-01-01 12:00:00.123'",
        "TIMESTAMPTZ '2021-01-01 12:00:00.5'",
        "TIMESTAMP '0044-03-15 10:00:00' - INTERVAL 100 YEAR",
        "'infinity'::TIMESTAMP",
        "'-infinity'::DATE",
        "DATE '12345-01-01'",
        "TIME '24:00:00'",
        "TIME '12:34:56.789'",
        "INTERVAL '-1 year -2 months -1 day -01:02:03.5'",
        "INTERVAL '100 hours'",
        "INTERVAL '0 seconds'",
        "'\\xAB\\x00a\\x5Cb''\"c'::BLOB",
        "12.50::DECIMAL(10,2)",
        "-0.05::DECIMAL(4,3)",
        "123456789012345678901234567890.12::DECIMAL(38,2)",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID",
        "'x'::ENUM('x', 'y')",
        "(-128)::TINYINT",
        "255::UTINYINT",
        "18446744073709551615::UBIGINT",
        "(-170141183460469231731687303715884105727)::HUGEINT",
        "340282366920938463463374607431768211455::UHUGEINT",
        "1e16::DOUBLE",
        "1e-5::DOUBLE",
        "100::DOUBLE",
        "1/3",
        "0.3::FLOAT",
        "'nan'::DOUBLE",
        "'-inf'::DOUBLE",
        "true",
        "'{\"a\": [1, 2]}'::JSON",
        "['', ' a', 'null', 'a\\b', 'it''s', NULL, 'x,y', 'b c']",
        "[TIMESTAMP '2021-01-01 12:00:00', NULL]",
        "[340282366920938463463374607431768211455::UHUGEINT]",
        "[TIMESTAMPTZ '2021-01-01 12:00:00']",
        "['{\"a\": 1}'::JSON, '\"x y\"'::JSON]",
        "[['a b', 'c'], []]",
        "([1, 2, 3])::INTEGER[3]",
        "{'x y': [1, 2], 'k': 'it''s', 'j': '{\"a\": 1}'::JSON}",
        "MAP {'k': 1, 'k 2': NULL}",
        "MAP {[1]: 'x'}",
        "ROW(1, 'a')",
        "union_value(k := 'hi')",
        "[INTERVAL 1 DAY, NULL]",
        "['\\xAB'::BLOB]",
    ];
    let columns: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, value)| format!("{value} AS v{i}, CAST({value} AS VARCHAR) AS t{i}"))
        .collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let csv = query(&work, &["--format", "csv", &sql]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let record = reader.records().next().unwrap().unwrap();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(&record[2 * i], &record[2 * i + 1], "{value}");
    }
}

#[test]
fn json_keeps_numbers_quotes_huge_ones_and_embeds_json_columns() {
    let work = imported();
    let sql = "SELECT 340282366920938463463374607431768211455::UHUGEINT AS fingerprint, 1.50::DECIMAL(3,2) AS price,
                      file_position, content_urls, [file_position, NULL] AS positions, {'ok': true} AS flags
               FROM postbacks p JOIN files f USING (file_id) WHERE f.path LIKE '%older/MMS_MO_N401.xml'";
    assert_eq!(
        query(&work, &["--format", "jsonl", sql]),
        "{\"fingerprint\":\"340282366920938463463374607431768211455\",\"price\":\"1.50\",\"file_position\":1,\
         \"content_urls\":[\"URL of Content Here\",\"URL of Content Here\",\"URL of Content Here\"],\
         \"positions\":[1,null],\"flags\":{\"ok\":true}}\n"
    );
}

#[test]
fn sql_comes_from_the_argument_a_file_or_standard_input() {
    let work = imported();
    let sql = "SELECT count(*) AS postbacks FROM postbacks";
    let expected = "postbacks\n34\n";
    assert_eq!(query(&work, &["--format", "csv", sql]), expected);

    work.write("count.sql", format!("-- how many\n{sql};\n"));
    assert_eq!(
        query(&work, &["--format", "csv", "-f", "count.sql"]),
        expected
    );

    for args in [&["--format", "csv"][..], &["--format", "csv", "-"][..]] {
        let output = work
            .command(&[&["query"], args].concat())
            .write_stdin(sql)
            .output()
            .unwrap();
        assert_eq!(stdout(&output), expected, "{args:?}");
        assert_eq!(output.status.code(), Some(0));
    }

    // Several statements: the last one's result is printed.
    let several = "CREATE TEMP TABLE origins AS SELECT DISTINCT origin FROM postbacks; SELECT count(*) AS n FROM origins";
    assert_eq!(query(&work, &["--format", "csv", several]), "n\n7\n");
}

#[test]
fn missing_or_empty_sql_is_an_error() {
    let work = imported();
    assert_eq!(
        query_error(&work, &["-f", "nope.sql"]),
        "postback-archive: error: cannot read the SQL file nope.sql: No such file or directory (os error 2)\n"
    );
    assert_eq!(
        query_error(&work, &["  \n"]),
        "postback-archive: error: the SQL is empty; nothing to run\n"
    );
}

#[test]
fn out_writes_the_file_only_when_the_query_succeeds() {
    let work = imported();
    let path = work.path().join("origins.csv");
    let sql = "SELECT DISTINCT origin FROM postbacks WHERE origin LIKE 'SMS%' ORDER BY 1";
    let output = work.run(&["query", "--format", "csv", "--out", "origins.csv", sql]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "origin\nSMS_MO\nSMS_MT\n"
    );

    // A failing query leaves the earlier file as it was, and no temporary file.
    let error = query_error(
        &work,
        &[
            "--format",
            "csv",
            "--out",
            "origins.csv",
            "SELECT nope FROM postbacks",
        ],
    );
    assert!(
        error.starts_with(
            "postback-archive: error: Binder Error: Referenced column \"nope\" not found"
        ),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "origin\nSMS_MO\nSMS_MT\n"
    );
    // And a failing query never creates its file.
    query_error(&work, &["--out", "never.csv", "SELECT nope"]);
    let mut names: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["archive.duckdb", "origins.csv", "ref"]);
}

#[test]
fn out_in_a_missing_folder_names_the_file() {
    let work = imported();
    assert_eq!(
        query_error(&work, &["--out", "no/such/folder/x.csv", "SELECT 1"]),
        "postback-archive: error: cannot write no/such/folder/x.csv: No such file or directory (os error 2)\n"
    );
}

#[test]
fn sql_errors_print_duckdbs_message_and_exit_1() {
    let work = imported();
    assert_eq!(
        query_error(&work, &["SELECT * FROM nope"]),
        "postback-archive: error: Catalog Error: Table with name nope does not exist!\n\
         Did you mean \"inbound_messages\"?\n\nLINE 1: SELECT * FROM nope\n                      ^^^^\n"
    );
}

#[test]
fn queries_never_change_the_archive() {
    let work = imported();
    let before = std::fs::read(work.db()).unwrap();
    query(&work, &[SUMMARY]);
    assert_eq!(
        query_error(&work, &["DELETE FROM postbacks"]),
        "postback-archive: error: Invalid Input Error: Cannot execute statement of type \"EXECUTE\" on database \"archive\" which is attached in read-only mode!\n"
    );
    assert!(
        std::fs::read(work.db()).unwrap() == before,
        "the archive changed"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "34");
}

#[test]
fn a_missing_archive_is_reported_not_created() {
    let work = Workdir::new();
    assert_eq!(
        query_error(&work, &["SELECT 1"]),
        format!(
            "postback-archive: error: there is no archive at {}; create it with `postback-archive import PATH...` (or pass --db)\n",
            work.db().display()
        )
    );
    assert!(!work.db().exists());
}

#[test]
fn a_closed_pipe_ends_the_query_quietly() {
    let work = imported();
    let mut child = Command::new(env!("CARGO_BIN_EXE_postback-archive"))
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .arg("--db")
        .arg(work.db())
        .args(["query", "--format", "csv", "SELECT * FROM range(3000000)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "range\n");
    drop(reader);
    let output = child.wait_with_output().unwrap();
    assert_eq!(stderr(&output), "");
    assert_eq!(output.status.code(), Some(0));
}

/// 3 million rows of 110 bytes: holding them, in DuckDB or here, would take over 300 MB.
#[test]
fn a_large_result_streams_in_bounded_memory() {
    let work = imported();
    let time = std::path::Path::new("/usr/bin/time");
    let sql = "SELECT range AS n, repeat('x', 100) AS padding FROM range(3000000)";
    let mut command = if time.exists() {
        let mut command = Command::new(time);
        command
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_postback-archive"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_postback-archive"))
    };
    let mut child = command
        .current_dir(work.path())
        .env_remove("POSTBACK_ARCHIVE_DB")
        .arg("--db")
        .arg(work.db())
        .args(["query", "--format", "csv", sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = 0_u64;
    let mut last = String::new();
    for line in reader.lines() {
        lines += 1;
        last = line.unwrap();
    }
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{errors}");
    assert_eq!(lines, 3_000_001);
    assert_eq!(last, format!("2999999,{}", "x".repeat(100)));
    if time.exists() {
        let peak_kib: u64 = errors.trim().parse().expect("peak memory in KiB");
        assert!(peak_kib < 200 * 1024, "peak memory {peak_kib} KiB");
    }
}

#[test]
fn a_writer_holding_the_archive_makes_query_wait_say_so_then_fail() {
    let work = imported();
    let holder = duckdb::Connection::open(work.db()).unwrap();
    let message = query_error(&work, &["--lock-timeout", "1", "SELECT 1"]);
    let pid = std::process::id();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(
        lines[0].starts_with("postback-archive: waiting up to 1 s for ")
            && lines[0].contains(&format!("(PID {pid})")),
        "{message}"
    );
    assert!(
        lines[1].ends_with("; gave up after 1 s. Retry when it has finished, or pass --lock-timeout SECONDS to wait longer"),
        "{message}"
    );
    let quiet = work.run(&["--quiet", "query", "--lock-timeout", "1", "SELECT 1"]);
    assert_eq!(quiet.status.code(), Some(1));
    assert_eq!(stderr(&quiet).lines().count(), 1, "{}", stderr(&quiet));
    drop(holder);
    assert_eq!(
        query(&work, &["--format", "csv", "SELECT 1 AS one"]),
        "one\n1\n"
    );
}
