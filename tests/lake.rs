//! `postback-archive export` and `--lake`: the archive as a Parquet lake, written
//! exactly once however often an export is run or killed, read by the stock DuckDB CLI
//! and PySpark 4.3 as the archive reads, and reported on like one archive when several
//! export into it.
//!
//! PySpark (PyPI `pyspark==4.3.0`, with a Java runtime) and the DuckDB CLI are installed
//! by `.ci/run`, which points the variables below at them. Elsewhere each test that
//! needs one says how to install it and passes without it; under CI (`CI` set) it
//! requires it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Workdir, duckdb_cli, required_tool, stderr, stdout};
use duckdb::Connection;

/// Python with `pyspark==4.3.0`.
const PYSPARK_PYTHON: &str = "POSTBACK_ARCHIVE_TEST_PYSPARK";

/// Run `export --to LAKE` on the workdir's archive, which must succeed; returns stdout.
fn export(work: &Workdir, lake: &Path) -> String {
    let output = work.run(&["export", "--to", lake.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// The summary line without its timing, and with `SIZE` for the size of the files
/// (which DuckDB's Parquet writer decides; [`lake_bytes`] checks it).
fn without_timing(line: &str) -> String {
    line.trim_end()
        .split("; ")
        .filter(|part| !part.ends_with("postbacks/s)"))
        .map(|part| match part.split_once(" files (") {
            Some((files, size)) => match size.split_once(')') {
                Some((_, rest)) => format!("{files} files (SIZE){rest}"),
                None => part.to_string(),
            },
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The bytes of every Parquet file under the lake.
fn lake_bytes(lake: &Path) -> u64 {
    file_stamps(lake)
        .keys()
        .map(|path| std::fs::metadata(path).unwrap().len())
        .sum()
}

/// An archive that imported `data/sample`, exported into `lake/` beside it.
fn sample_lake() -> (Workdir, PathBuf) {
    let work = Workdir::new();
    work.copy_from_repo("data/sample", "sample");
    import(&work, "sample");
    let lake = work.path().join("lake");
    export(&work, &lake);
    (work, lake)
}

/// `query --lake LAKE --format csv SQL`, whatever its exit status.
fn query_lake(work: &Workdir, lake: &Path, sql: &str) -> Output {
    work.run(&[
        "query",
        "--lake",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ])
}

fn import(work: &Workdir, folder: &str) {
    let output = work.run(&["import", "--allow-bad-input", folder]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

fn archive_id(work: &Workdir) -> String {
    work.value("SELECT value FROM archive_meta WHERE key = 'archive_id'")
}

/// Rows of `sql` run by this build's DuckDB on the lake's files, values joined by `|`.
fn parquet_rows(sql: &str) -> Vec<String> {
    common::query_rows(&Connection::open_in_memory().unwrap(), sql)
}

/// The files of a table in the lake, as `read_parquet` takes them.
fn table_glob(lake: &Path, table: &str) -> String {
    let depth = if table == "postbacks" { "*/*" } else { "*" };
    format!("'{}/{table}/{depth}.parquet'", lake.display())
}

/// Every file under the lake, relative, with `ARCHIVE` for the archive's id.
fn lake_listing(lake: &Path, id: &str) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(lake)
        .min_depth(1)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            entry
                .path()
                .strip_prefix(lake)
                .unwrap()
                .to_string_lossy()
                .replace(id, "ARCHIVE")
        })
        .collect();
    files.sort();
    files
}

/// Each Parquet file of the lake with its inode and modification time.
fn file_stamps(lake: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(lake)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "parquet"))
        .map(|entry| {
            let metadata = entry.metadata().unwrap();
            (
                entry.path().to_path_buf(),
                (metadata.ino(), metadata.modified().unwrap()),
            )
        })
        .collect()
}

/// One pass per file, `count` of them from number `first`, each on one of `days` UTC
/// days from November 1st plus `first_day`; every tenth is retried in a second file.
fn write_passes(
    work: &Workdir,
    folder: &str,
    first: usize,
    count: usize,
    first_day: u64,
    days: usize,
) {
    let november = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    for i in first..first + count {
        let day = november + chrono::Days::new(first_day + (i % days) as u64);
        let body = format!(
            "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N80{}</STATUSCODE><REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{i}@mail.com</REFERENCEVALUE><PASSDATAID>{i}</PASSDATAID><TIMESTAMP>{day}T11:37:11-05:00</TIMESTAMP></POSTBACK>",
            1 + i % 2,
        );
        work.write(&format!("{folder}/{i:06}.xml"), &body);
        if i % 10 == 0 {
            work.write(&format!("{folder}/{i:06}-retry.xml"), &body);
        }
    }
}

#[test]
fn export_writes_each_table_as_hive_partitioned_parquet_named_by_archive_and_run() {
    let work = Workdir::new();
    work.copy_from_repo("data/sample", "sample");
    import(&work, "sample");
    let lake = work.path().join("lake");
    let printed = export(&work, &lake);
    assert_eq!(
        without_timing(&printed),
        "export 1 to ".to_string()
            + lake.to_str().unwrap()
            + ": import run 1; 300 postbacks in 6 day partitions, 25 duplicates, 6 import errors; 12 files (SIZE)"
    );
    let id = archive_id(&work);
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let mut expected: Vec<String> = (1..=5)
        .map(|day| format!("postbacks/day=2026-11-0{day}/ARCHIVE-run000001-0.parquet"))
        .collect();
    expected.extend(
        [
            "_lake.json",
            "carriers/ARCHIVE.parquet",
            "code_statuses/ARCHIVE.parquet",
            "duplicates/ARCHIVE-run000001-0.parquet",
            "import_errors/ARCHIVE-run000001-0.parquet",
            "import_runs/ARCHIVE-run000001-0.parquet",
            "postbacks/day=__HIVE_DEFAULT_PARTITION__/ARCHIVE-run000001-0.parquet",
            "status_codes/ARCHIVE.parquet",
        ]
        .map(String::from),
    );
    expected.sort();
    assert_eq!(lake_listing(&lake, &id), expected);

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lake.join("_lake.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "postback-archive lake");
    assert_eq!(manifest["lake_version"], 1);
    let lake_id = manifest["lake_id"].as_str().unwrap();
    assert_eq!(lake_id.len(), 32);

    // The archive records what went where.
    assert_eq!(
        work.rows("SELECT export_id, lake_id, status, runs, files, rows FROM lake_exports"),
        [format!("1|{lake_id}|ok|List([Int(1)])|12|993")]
    );
    // The size it printed and recorded is the size of the files on disk.
    let bytes = lake_bytes(&lake);
    assert_eq!(
        work.value("SELECT bytes FROM lake_exports"),
        bytes.to_string()
    );
    assert_eq!(
        work.value("SELECT sum(bytes) FROM lake_files"),
        bytes.to_string()
    );
    assert!(
        printed.contains(&format!(" files ({:.1} KB); ", bytes as f64 / 1000.0)),
        "{printed}"
    );
    assert_eq!(
        work.rows(
            "SELECT table_name, count(*), sum(rows), bool_and(placed), min(content) FROM lake_files
             GROUP BY ALL ORDER BY ALL"
        ),
        [
            "carriers|1|565|true|schema 6, reference data ".to_string()
                + &work.value("SELECT value FROM archive_meta WHERE key = 'reference_data'"),
            "code_statuses|1|65|true|schema 6, reference data ".to_string()
                + &work.value("SELECT value FROM archive_meta WHERE key = 'reference_data'"),
            "duplicates|1|25|true|schema 6".to_string(),
            "import_errors|1|6|true|schema 6".to_string(),
            "import_runs|1|1|true|schema 6".to_string(),
            "postbacks|6|300|true|schema 6".to_string(),
            "status_codes|1|31|true|schema 6, reference data ".to_string()
                + &work.value("SELECT value FROM archive_meta WHERE key = 'reference_data'"),
        ]
    );
    // Every postback once, in the partition of its UTC day, with the same values.
    let in_lake = parquet_rows(&format!(
        "SELECT day::VARCHAR, count(*) FROM read_parquet({}, hive_partitioning = true) GROUP BY ALL ORDER BY ALL NULLS LAST",
        table_glob(&lake, "postbacks")
    ));
    let in_archive =
        work.rows("SELECT CAST(occurred_at AS DATE)::VARCHAR, count(*) FROM postbacks GROUP BY ALL ORDER BY ALL NULLS LAST");
    assert_eq!(in_lake, in_archive);
}

#[test]
fn every_value_reads_back_exactly_with_types_spark_and_trino_take() {
    let (work, lake) = sample_lake();
    // Fingerprints as 32 hex characters and instants to the microsecond, row for row.
    let archive: Vec<String> = work
        .rows(
            "SELECT postback_id, fingerprint, epoch_us(occurred_at), epoch_us(received_at),
                    coalesce(code, '-'), coalesce(status_code, '-'), extra::VARCHAR
             FROM postbacks ORDER BY postback_id",
        )
        .into_iter()
        .map(|row| {
            let mut parts: Vec<String> = row.split('|').map(String::from).collect();
            parts[1] = format!("{:032x}", parts[1].parse::<u128>().unwrap());
            parts.join("|")
        })
        .collect();
    let lake_rows = parquet_rows(&format!(
        "SELECT postback_id, fingerprint, epoch_us(occurred_at), epoch_us(received_at),
                coalesce(code, '-'), coalesce(status_code, '-'), extra
         FROM read_parquet({}) ORDER BY postback_id",
        table_glob(&lake, "postbacks")
    ));
    assert_eq!(lake_rows.len(), 300);
    assert_eq!(lake_rows, archive);
    assert!(
        lake_rows.iter().any(|row| row.contains("|0")),
        "a fingerprint with leading zeros"
    );

    // No type some engine rejects or misreads: every column of every file.
    let types = parquet_rows(&format!(
        "SELECT DISTINCT name, type, coalesce(logical_type, '') FROM parquet_schema('{}/**/*.parquet')
         WHERE name IN ('fingerprint', 'occurred_at', 'received_at', 'started_at', 'extra', 'content_urls', 'utc_offset_minutes')
         ORDER BY ALL",
        lake.display()
    ));
    assert_eq!(
        types,
        [
            "content_urls|BYTE_ARRAY|",
            "extra|BYTE_ARRAY|",
            "fingerprint|BYTE_ARRAY|",
            "occurred_at|INT64|TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
            "received_at|INT64|TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
            "started_at|INT64|TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
            "utc_offset_minutes|INT32|",
        ]
    );
    let forbidden = parquet_rows(&format!(
        "SELECT count(*) FROM parquet_schema('{}/**/*.parquet')
         WHERE type IN ('INT96', 'FIXED_LEN_BYTE_ARRAY') OR logical_type ILIKE '%uuid%'
            OR logical_type ILIKE '%time(%' OR logical_type ILIKE '%json%' OR logical_type ILIKE '%NANOS=Nano%'
            OR converted_type IN ('INTERVAL', 'TIME_MILLIS', 'TIME_MICROS', 'JSON')",
        lake.display()
    ));
    assert_eq!(forbidden, ["0"]);
}

#[test]
fn an_export_after_an_import_writes_only_the_new_runs_files() {
    let work = Workdir::new();
    write_passes(&work, "first", 0, 40, 0, 4);
    import(&work, "first");
    let lake = work.path().join("lake");
    export(&work, &lake);
    let before = file_stamps(&lake);
    // Four days' postbacks, duplicates, import_runs and three reference tables.
    assert_eq!(before.len(), 4 + 5);

    let nothing = export(&work, &lake);
    assert_eq!(
        nothing.trim_end(),
        format!(
            "export 2 to {}: nothing new since the last export",
            lake.display()
        )
    );
    assert_eq!(file_stamps(&lake), before);

    // Days 4 to 6: one day the lake has, two it has not.
    write_passes(&work, "second", 1003, 30, 3, 3);
    import(&work, "second");
    let printed = export(&work, &lake);
    assert_eq!(
        without_timing(&printed),
        format!(
            "export 3 to {}: import run 2; 30 postbacks in 3 day partitions, 3 duplicates, 0 import errors; 5 files (SIZE)",
            lake.display()
        )
    );
    let after = file_stamps(&lake);
    for (path, stamp) in &before {
        assert_eq!(
            after.get(path),
            Some(stamp),
            "{} was touched",
            path.display()
        );
    }
    let id = archive_id(&work);
    let mut added: Vec<String> = after
        .keys()
        .filter(|path| !before.contains_key(*path))
        .map(|path| {
            path.strip_prefix(&lake)
                .unwrap()
                .to_string_lossy()
                .replace(&id, "A")
        })
        .collect();
    added.sort();
    assert_eq!(
        added,
        [
            "duplicates/A-run000002-0.parquet",
            "import_runs/A-run000002-0.parquet",
            "postbacks/day=2026-11-04/A-run000002-0.parquet",
            "postbacks/day=2026-11-05/A-run000002-0.parquet",
            "postbacks/day=2026-11-06/A-run000002-0.parquet",
        ]
    );
}

#[test]
fn a_file_read_again_exports_its_earlier_run_again_without_its_old_duplicates() {
    // Regression: reading a changed file again moves its duplicate sightings from the
    // run that first read it to the new run; the lake must not keep the old ones.
    let work = Workdir::new();
    write_passes(&work, "in", 0, 20, 0, 2);
    work.write(
        "in/again.xml",
        std::fs::read(work.path().join("in/000000.xml")).unwrap(),
    );
    import(&work, "in");
    let lake = work.path().join("lake");
    export(&work, &lake);
    let duplicates_of_run_1 = work.value("SELECT count(*) FROM duplicates WHERE run_id = 1");
    assert_eq!(duplicates_of_run_1, "3");

    // The retried copy's file grows a postback of its own: run 2 reads it again.
    let mut grown = std::fs::read(work.path().join("in/again.xml")).unwrap();
    grown.extend_from_slice(
        b"<POSTBACK><ORIGIN>SMS_MO</ORIGIN><CODE>N201</CODE><TIMESTAMP>2026-11-02T10:00:00Z</TIMESTAMP></POSTBACK>",
    );
    std::fs::write(work.path().join("in/again.xml"), grown).unwrap();
    // Changed in place, in a folder that did not change: `--rescan` finds it.
    let output = work.run(&["import", "--allow-bad-input", "--rescan", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        work.value("SELECT count(*) FROM duplicates WHERE run_id = 1"),
        "2"
    );
    let printed = export(&work, &lake);
    assert_eq!(
        without_timing(&printed),
        format!(
            "export 2 to {}: import runs 1-2; 21 postbacks in 2 day partitions, 3 duplicates, 0 import errors; 7 files (SIZE)",
            lake.display()
        )
    );
    let per_run = parquet_rows(&format!(
        "SELECT run_id, count(*) FROM read_parquet({}) GROUP BY ALL ORDER BY ALL",
        table_glob(&lake, "duplicates")
    ));
    assert_eq!(
        per_run,
        work.rows("SELECT run_id, count(*) FROM duplicates GROUP BY ALL ORDER BY ALL")
    );
    assert_eq!(per_run, ["1|2", "2|1"]);
}

/// Copy `data/sample`'s files into `folder`: those whose place in name order is
/// `part` modulo 2, or all of them (`None`).
fn copy_sample_part(work: &Workdir, folder: &str, part: Option<usize>) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&sample)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().to_path_buf())
        .collect();
    files.sort();
    for (index, file) in files.iter().enumerate() {
        if part.is_none_or(|part| index % 2 == part) {
            let relative = file.strip_prefix(&sample).unwrap().to_str().unwrap();
            work.write(
                &format!("{folder}/{relative}"),
                std::fs::read(file).unwrap(),
            );
        }
    }
}

/// `report daily` for `date` into `out`, on the archive or on `--lake`.
fn daily(work: &Workdir, lake: Option<&Path>, date: &str, out: &Path) {
    let mut args = vec![
        "report",
        "daily",
        "--date",
        date,
        "--out-dir",
        out.to_str().unwrap(),
    ];
    if let Some(lake) = lake {
        args.extend(["--lake", lake.to_str().unwrap()]);
    }
    let output = work.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// A daily file with what may differ between two runs over the same postbacks put
/// aside: when it was written, which archive or lake it read, and the id of the last
/// import run (a lake numbers the runs of each archive apart).
fn comparable(name: &str, text: &str) -> String {
    let mut text = text.to_string();
    if name == "manifest.json" {
        let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
        let object = manifest.as_object_mut().unwrap();
        object.remove("generated_at");
        object.remove("archive");
        text = serde_json::to_string_pretty(&manifest).unwrap();
    }
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = match line.split_once("The last import, run ") {
            Some((before, after)) => {
                let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                format!("{before}The last import, run N{rest}")
            }
            None => line.to_string(),
        };
        let line = match line.split_once("; written ") {
            Some((before, _)) => format!("{before}; written …"),
            None => line,
        };
        lines.push(line);
    }
    lines.join("\n")
}

fn folder_contents(folder: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = comparable(&name, &text);
            (name, text)
        })
        .collect()
}

#[test]
fn two_archives_in_one_lake_report_exactly_like_one_archive_of_everything() {
    let (first, second, everything) = (Workdir::new(), Workdir::new(), Workdir::new());
    copy_sample_part(&first, "in", Some(0));
    copy_sample_part(&second, "in", Some(1));
    copy_sample_part(&everything, "in", None);
    for work in [&first, &second, &everything] {
        import(work, "in");
    }
    assert_ne!(archive_id(&first), archive_id(&second));
    let lake = everything.path().join("lake");
    export(&first, &lake);
    export(&second, &lake);

    let query = |sql: &str| -> String {
        let output = query_lake(&everything, &lake, sql);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout(&output)
    };
    // Retried copies landed in both archives: the lake counts them as copies.
    let across: usize = query("SELECT count(*) FROM lake_copies")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(across >= 5, "only {across} copies across the archives");
    let counts = "SELECT (SELECT count(*) FROM postbacks) AS postbacks,
                         (SELECT count(DISTINCT fingerprint) FROM postbacks) AS distinct_postbacks,
                         (SELECT count(*) FROM duplicates) AS duplicates,
                         (SELECT count(*) FROM duplicates d JOIN postbacks p USING (postback_id)) AS pointed,
                         (SELECT count(DISTINCT postback_id) FROM postbacks) AS ids";
    assert_eq!(
        query(counts),
        "postbacks,distinct_postbacks,duplicates,pointed,ids\n300,300,25,25,300\n"
    );
    assert_eq!(
        query("SELECT archive_ordinal, run_id_offset, id_offset FROM lake_archives ORDER BY 1"),
        "archive_ordinal,run_id_offset,id_offset\n0,0,0\n1,100000,1000000000000\n"
    );

    // report daily, file for file, for every day of the sample.
    let (from_lake, from_archive) = (
        lake.parent().unwrap().join("lake-reports"),
        everything.path().join("reports"),
    );
    for day in 1..=5 {
        let date = format!("2026-11-0{day}");
        daily(&everything, Some(&lake), &date, &from_lake);
        daily(&everything, None, &date, &from_archive);
        let (lake_files, archive_files) = (
            folder_contents(&from_lake.join(&date)),
            folder_contents(&from_archive.join(&date)),
        );
        assert_eq!(lake_files.len(), 37);
        assert_eq!(
            lake_files.keys().collect::<Vec<_>>(),
            archive_files.keys().collect::<Vec<_>>()
        );
        for (name, text) in &lake_files {
            assert_eq!(text, &archive_files[name], "{date}/{name}");
        }
    }
}

#[test]
fn a_lake_of_one_archive_keeps_its_ids_and_reports_like_it() {
    let (work, lake) = sample_lake();
    let sql = "SELECT p.postback_id, p.run_id, p.file_id, count(d.postback_id) AS copies
               FROM postbacks p LEFT JOIN duplicates d USING (postback_id)
               GROUP BY ALL ORDER BY ALL";
    let on_lake = query_lake(&work, &lake, sql);
    let on_archive = work.run(&["query", "--format", "csv", sql]);
    assert_eq!(on_lake.status.code(), Some(0), "{}", stderr(&on_lake));
    assert_eq!(stdout(&on_lake), stdout(&on_archive));
    for name in ["key-figures", "retries", "pass-volume", "failure-codes"] {
        let args = [
            "report",
            "run",
            name,
            "--to",
            "2026-11-03",
            "--format",
            "csv",
        ];
        let on_lake = work.run(&[&args[..], &["--lake", lake.to_str().unwrap()]].concat());
        assert_eq!(on_lake.status.code(), Some(0), "{}", stderr(&on_lake));
        assert_eq!(stdout(&on_lake), stdout(&work.run(&args)), "{name}");
    }
}

#[test]
fn sql_on_a_lake_runs_in_the_sandbox_and_a_lake_holding_the_archive_is_refused() {
    let (work, lake) = sample_lake();
    let lake_arg = lake.to_str().unwrap();

    let output = work.run(&[
        "query",
        "--lake",
        lake_arg,
        "SELECT * FROM read_csv('/etc/hostname')",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "postback-archive: error: SQL may not read or write /etc/hostname: SQL run by \
         postback-archive reaches only files inside folders granted with --allow-dir DIR (or \
         POSTBACK_ARCHIVE_ALLOW_DIRS); pass the folder you want to read or write with --allow-dir\n"
    );
    let archive_path = work.db();
    let output = work.run(&[
        "query",
        "--lake",
        lake_arg,
        &format!(
            "COPY (SELECT 1) TO '{}' (FORMAT csv)",
            archive_path.display()
        ),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no SQL run by postback-archive may touch the archive"),
        "{}",
        stderr(&output)
    );

    // An export into the archive's own folder, and a lake that holds the archive.
    let output = work.run(&["export", "--to", work.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: error: --to {} holds the archive; export into a folder of its own, such as lake/ beside the archive\n",
            work.path().display()
        )
    );
    std::fs::copy(work.db(), lake.join("inside.duckdb")).unwrap();
    let inside = lake.join("inside.duckdb");
    let output = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"))
        .args([
            "--db",
            inside.to_str().unwrap(),
            "query",
            "--lake",
            lake_arg,
            "SELECT 1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: error: --lake {lake_arg} cannot be read: it is the folder that holds \
             the archive. SQL may never reach the archive; keep the lake in a folder that neither \
             holds the archive nor links to it\n"
        )
    );
}

#[test]
fn folders_that_are_not_lakes_are_refused_with_a_way_out() {
    let work = Workdir::new();
    work.copy_from_repo("data/sample", "sample");
    import(&work, "sample");
    work.write("photos/cat.jpg", "not a lake");
    let photos = work.path().join("photos");
    let output = work.run(&["export", "--to", photos.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: error: {} is not a postback-archive lake: it holds files but no \
             _lake.json, and export does not write among other files. Export into a new or empty folder\n",
            photos.display()
        )
    );
    let output = work.run(&["query", "--lake", photos.to_str().unwrap(), "SELECT 1"]);
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: error: {} is not a postback-archive lake (it has no _lake.json); \
             pass the folder that `postback-archive export --to` wrote\n",
            photos.display()
        )
    );
    let lake = work.path().join("lake");
    export(&work, &lake);
    let manifest = std::fs::read_to_string(lake.join("_lake.json")).unwrap();
    std::fs::write(
        lake.join("_lake.json"),
        manifest.replace("\"lake_version\": 1", "\"lake_version\": 2"),
    )
    .unwrap();
    let output = work.run(&["report", "run", "retries", "--lake", lake.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: error: the lake {} has version 2, and this postback-archive reads \
             and writes version 1; use the postback-archive that wrote it, or export into a new folder\n",
            lake.display()
        )
    );
    let missing = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"))
        .current_dir(work.path())
        .args([
            "--db",
            "nothing.duckdb",
            "export",
            "--to",
            lake.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing)
            .starts_with("postback-archive: error: there is no archive at nothing.duckdb;")
    );
    assert!(!work.path().join("nothing.duckdb").exists());
}

/// What must hold after any export that ran to its end: every file the archive
/// records is in place and nothing else is; no staging is left; each table holds, per
/// import run, exactly the archive's rows.
fn assert_exact(work: &Workdir, lake: &Path, context: &str) {
    let recorded: BTreeSet<String> = work
        .rows("SELECT path FROM lake_files WHERE placed")
        .into_iter()
        .collect();
    assert_eq!(
        work.value("SELECT count(*) FROM lake_files WHERE NOT placed"),
        "0",
        "{context}"
    );
    let on_disk: BTreeSet<String> = lake_listing(lake, "\u{0}")
        .into_iter()
        .filter(|path| path != "_lake.json")
        .collect();
    assert_eq!(on_disk, recorded, "{context}");
    for table in ["postbacks", "duplicates", "import_errors", "import_runs"] {
        let has_files = recorded
            .iter()
            .any(|path| path.starts_with(&format!("{table}/")));
        let in_lake = if has_files {
            parquet_rows(&format!(
                "SELECT run_id, count(*) FROM read_parquet({}) GROUP BY ALL ORDER BY ALL",
                table_glob(lake, table)
            ))
        } else {
            Vec::new()
        };
        let in_archive = work.rows(&format!(
            "SELECT run_id, count(*) FROM {table} GROUP BY ALL ORDER BY ALL"
        ));
        assert_eq!(in_lake, in_archive, "{context}: {table}");
    }
    let fingerprints: Vec<String> = work
        .rows("SELECT fingerprint FROM postbacks ORDER BY postback_id")
        .into_iter()
        .map(|f| format!("{:032x}", f.parse::<u128>().unwrap()))
        .collect();
    let in_lake = parquet_rows(&format!(
        "SELECT fingerprint FROM read_parquet({}) ORDER BY postback_id",
        table_glob(lake, "postbacks")
    ));
    assert_eq!(in_lake, fingerprints, "{context}");
}

#[test]
fn an_export_killed_at_any_moment_is_completed_exactly_by_the_next() {
    let work = Workdir::new();
    let lake = work.path().join("lake");
    // Each batch spreads over many days, so that an export places many files.
    write_passes(&work, "batch0", 0, 600, 0, 300);
    import(&work, "batch0");
    let started = Instant::now();
    export(&work, &lake);
    let export_time = started.elapsed();
    assert_exact(&work, &lake, "clean export");

    let mut killed = 0;
    for (round, fraction) in [0.1, 0.3, 0.45, 0.6, 0.75, 0.9, 0.2, 0.5, 0.7, 0.85]
        .into_iter()
        .enumerate()
    {
        // Something new for the export to write: a run of new postbacks and copies.
        let folder = format!("batch{}", round + 1);
        write_passes(&work, &folder, 1000 * (round + 1), 600, 0, 300);
        work.write(
            &format!("{folder}/copy.xml"),
            std::fs::read(work.path().join("batch0/000001.xml")).unwrap(),
        );
        import(&work, &folder);
        let delay = export_time.mul_f64(fraction);
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"))
            .current_dir(work.path())
            .args([
                "--db",
                work.db().to_str().unwrap(),
                "export",
                "--to",
                lake.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let spawned = Instant::now();
        while spawned.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
        let resumed = export(&work, &lake);
        assert!(resumed.starts_with("export "), "{resumed}");
        assert_exact(&work, &lake, &format!("killed after {delay:?}"));
    }
    let interrupted: usize = work
        .value("SELECT count(*) FROM lake_exports WHERE status = 'interrupted'")
        .parse()
        .unwrap();
    assert!(
        killed >= 5 && interrupted >= 3,
        "{killed} kills, {interrupted} mid-export; make the batches larger"
    );
    // The same files, file for file, as one clean export of the archive.
    let fresh = work.path().join("fresh");
    export(&work, &fresh);
    let id = archive_id(&work);
    assert_eq!(lake_listing(&lake, &id), lake_listing(&fresh, &id));
}

fn required(variable: &str, what: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os(variable).map(PathBuf::from);
    required_tool(found, &format!("{what} ({variable})"), install)
}

fn run_ok(command: &mut Command) -> String {
    let output: Output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn the_stock_duckdb_cli_reads_the_lake_as_the_archive_reads() {
    let Some(cli) = duckdb_cli() else { return };
    let (work, lake) = sample_lake();
    let postbacks = format!(
        "read_parquet('{}/postbacks/*/*.parquet', hive_partitioning = true)",
        lake.display()
    );
    let cli_rows = |sql: &str| -> Vec<String> {
        let printed = run_ok(Command::new(&cli).args(["-csv", "-noheader", "-c", sql]));
        printed.lines().map(str::to_string).collect()
    };
    let per_day = cli_rows(&format!(
        "SELECT day, status_code, count(*), epoch_us(min(occurred_at)) FROM {postbacks}
         GROUP BY ALL ORDER BY ALL NULLS LAST"
    ));
    // The CLI writes a NULL as `NULL` in CSV.
    let expected: Vec<String> = work
        .rows(
            "SELECT coalesce(day::VARCHAR, 'NULL'), coalesce(status_code, 'NULL'),
                    count(*), coalesce(epoch_us(min(occurred_at))::VARCHAR, 'NULL')
             FROM (SELECT CAST(occurred_at AS DATE) AS day, status_code, occurred_at FROM postbacks)
             GROUP BY day, status_code ORDER BY day NULLS LAST, status_code NULLS LAST",
        )
        .into_iter()
        .map(|row| row.replace('|', ","))
        .collect();
    assert_eq!(per_day, expected);
    let fingerprints: Vec<String> = work
        .rows("SELECT fingerprint FROM postbacks ORDER BY postback_id")
        .into_iter()
        .map(|f| format!("{:032x}", f.parse::<u128>().unwrap()))
        .collect();
    assert_eq!(
        cli_rows(&format!(
            "SELECT fingerprint FROM {postbacks} ORDER BY postback_id"
        )),
        fingerprints
    );
    assert_eq!(
        cli_rows(&format!(
            "SELECT DISTINCT typeof(fingerprint), typeof(occurred_at), typeof(day), typeof(extra) FROM {postbacks}"
        )),
        ["VARCHAR,TIMESTAMP WITH TIME ZONE,DATE,VARCHAR"]
    );
}

/// The Spark SQL of the guide's pass volume per day (docs/guide.md, *Spark and other engines*).
const SPARK_PASS_VOLUME: &str = "SELECT day,
       count(*) FILTER (WHERE status_code = 'N801') AS generated,
       count(*) FILTER (WHERE status_code IN ('N802', 'N803', 'N811')) AS failed
FROM postbacks
WHERE origin = 'GENERATE_PASS' AND day IS NOT NULL
GROUP BY day
ORDER BY day";

#[test]
fn pyspark_reads_the_lake_as_the_archive_reads() {
    let Some(python) = required(
        PYSPARK_PYTHON,
        "Python with pyspark 4.3.0",
        "pip install pyspark==4.3.0 (and a Java 17 runtime)",
    ) else {
        return;
    };
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md"))
            .unwrap();
    assert!(
        guide.contains(SPARK_PASS_VOLUME),
        "docs/guide.md's Spark SQL differs from the tested one"
    );
    let (work, lake) = sample_lake();
    let script = format!(
        r#"
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("lake-test")
         .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
lake = sys.argv[1]
postbacks = spark.read.parquet(lake + "/postbacks")
postbacks.createOrReplaceTempView("postbacks")
print("types", dict(postbacks.dtypes)["fingerprint"], dict(postbacks.dtypes)["occurred_at"], dict(postbacks.dtypes)["day"], dict(postbacks.dtypes)["extra"])
for row in spark.sql("SELECT day, status_code, count(*) AS n FROM postbacks GROUP BY day, status_code ORDER BY day NULLS LAST, status_code NULLS FIRST").collect():
    print("count", row["day"], row["status_code"], row["n"])
for row in spark.sql("SELECT postback_id, fingerprint, date_format(occurred_at, 'yyyy-MM-dd HH:mm:ss.SSSSSS') AS at FROM postbacks ORDER BY postback_id").collect():
    print("row", row["postback_id"], row["fingerprint"], row["at"])
for row in spark.sql("""{SPARK_PASS_VOLUME}""").collect():
    print("volume", row["day"], row["generated"], row["failed"])
for table in ["duplicates", "import_errors", "import_runs", "status_codes", "code_statuses", "carriers"]:
    print("table", table, spark.read.parquet(lake + "/" + table).count())
spark.stop()
"#
    );
    let printed = run_ok(Command::new(&python).args(["-c", &script, lake.to_str().unwrap()]));
    let lines = |prefix: &str| -> Vec<String> {
        printed
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(lines("types "), ["string timestamp date string"]);
    let counts: Vec<String> = work
        .rows(
            "SELECT coalesce(day::VARCHAR, 'None'), coalesce(status_code, 'None'), count(*)
             FROM (SELECT CAST(occurred_at AS DATE) AS day, status_code FROM postbacks)
             GROUP BY day, status_code ORDER BY day NULLS LAST, status_code NULLS FIRST",
        )
        .into_iter()
        .map(|row| row.replace('|', " "))
        .collect();
    assert_eq!(lines("count "), counts);
    let rows: Vec<String> = work
        .rows("SELECT postback_id, fingerprint, coalesce(strftime(occurred_at, '%Y-%m-%d %H:%M:%S.%f'), 'None') FROM postbacks ORDER BY postback_id")
        .into_iter()
        .map(|row| {
            let parts: Vec<&str> = row.split('|').collect();
            format!("{} {:032x} {}", parts[0], parts[1].parse::<u128>().unwrap(), parts[2])
        })
        .collect();
    assert_eq!(lines("row "), rows);
    let volume: Vec<String> = work
        .rows(
            "SELECT CAST(occurred_at AS DATE)::VARCHAR,
                    count(*) FILTER (WHERE status_code = 'N801'),
                    count(*) FILTER (WHERE status_code IN ('N802', 'N803', 'N811'))
             FROM postbacks WHERE origin = 'GENERATE_PASS' AND occurred_at IS NOT NULL
             GROUP BY ALL ORDER BY ALL",
        )
        .into_iter()
        .map(|row| row.replace('|', " "))
        .collect();
    assert_eq!(lines("volume "), volume);
    assert_eq!(
        lines("table "),
        [
            "duplicates 25",
            "import_errors 6",
            "import_runs 1",
            "status_codes 31",
            "code_statuses 65",
            "carriers 565"
        ]
    );
}
