//! `postback-archive import`, driven as users drive it: the real binary, a real archive.

mod common;

use common::{Workdir, stderr, stdout, summary};

const SUB_N301: &str = "<?xml version='1.0'?>\n<POSTBACK>\n  <ORIGIN>SUB</ORIGIN>\n  <CODE>N301</CODE>\n  <MOBILE>16501112222</MOBILE>\n  <CAMPAIGNID>1478</CAMPAIGNID>\n  <TIMESTAMP>2014-07-02T14:32:23-04</TIMESTAMP>\n</POSTBACK>\n";

fn postback(code: &str, tracking: &str) -> String {
    format!(
        "<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>{code}</CODE><STATUS>Message Sent</STATUS><TO>16503333058</TO><TRACKINGID>{tracking}</TRACKINGID><SPID>0001470</SPID><TIMESTAMP>2013-11-05T05:41:08-05:00</TIMESTAMP></POSTBACK>"
    )
}

#[test]
fn every_reference_example_imports_with_every_field() {
    let work = Workdir::new();
    work.copy_fixture("reference", "ref");
    let output = work.run(&["import", "ref"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 1: 3 folders listed, 0 unchanged; 37 files seen, 0 unchanged, 37 read, 0 other; 34 new postbacks, 3 duplicates; 4 problems"
    );
    let root = work.path().canonicalize().unwrap().join("ref");
    let expected_problems = [
        "newer/SMS_MT_E201.xml:7:16: salvaged: <FROM_MASK><FROM_MASK> read as an empty <FROM_MASK></FROM_MASK>",
        "newer/SMS_MT_N201.xml:7:16: salvaged: <FROM_MASK><FROM_MASK> read as an empty <FROM_MASK></FROM_MASK>",
        "older/GENERATE_PASS_N801.xml:1:1: salvaged: attribute name broken across lines (\"xsi:no\" + \"NamespaceSchemaLocation\") read as \"xsi:noNamespaceSchemaLocation\"",
        "older/MMS_MT_E101.xml:11:3: salvaged: <STATUSDETAILS> opened at line 11 was never closed; closed by </POSTBACK>",
    ];
    let expected: Vec<String> = expected_problems
        .iter()
        .map(|p| format!("{}/{p}", root.display()))
        .collect();
    assert_eq!(stderr(&output).lines().collect::<Vec<_>>(), expected);

    // Every documented field of the newer subscriber status example, typed.
    assert_eq!(
        work.rows(
            "SELECT origin, status_code, mobile, campaign_id, occurred_at::VARCHAR, utc_offset_minutes, shortcode,
                    campaign_title, brand_name, source, extra
             FROM postbacks p JOIN files f USING (file_id) WHERE f.path LIKE '%newer/SUB_N301.xml'"
        ),
        ["SUB|N301|16501112222|1478|2014-07-02 18:32:23|-240|123456|My Campaign Name|My Brand Name|API|NULL"]
    );
    // The older MMS MO: fields inside <NOTIFICATION>, three content files.
    assert_eq!(
        work.rows(
            "SELECT from_address, to_address, keyword, tracking_id, spid, content_urls, occurred_at::VARCHAR
             FROM postbacks p JOIN files f USING (file_id) WHERE f.path LIKE '%older/MMS_MO_N401.xml'"
        ),
        [
            "13217949521|74700|all|MMS_MO_iLnCRrL6|0001470|[\"URL of Content Here\",\"URL of Content Here\",\"URL of Content Here\"]|2014-02-03 16:19:49"
        ]
    );
    // Three examples appear twice: the save-MMS pair is the same in both editions, and the
    // older edition's xHTML and degraded-binary N202 examples are one postback.
    assert_eq!(
        work.rows(
            "SELECT regexp_extract(fd.path, 'ref/(.*)', 1), regexp_extract(fp.path, 'ref/(.*)', 1)
             FROM duplicates d JOIN files fd ON fd.file_id = d.file_id
             JOIN postbacks p USING (postback_id) JOIN files fp ON fp.file_id = p.file_id ORDER BY 1"
        ),
        [
            "older/MMS_MT_E002.xml|newer/MMS_MT_E002.xml",
            "older/MMS_MT_N003.xml|newer/MMS_MT_N003.xml",
            "older/MMS_MT_N202_2.xml|older/MMS_MT_N202.xml"
        ]
    );
    assert_eq!(
        work.rows("SELECT kind, count(*) FROM import_errors GROUP BY kind"),
        ["salvaged|4"]
    );
}

#[test]
fn importing_the_same_tree_twice_changes_nothing() {
    let work = Workdir::new();
    work.write("a/one.xml", SUB_N301);
    work.write_gz("a/two.xml.gz", postback("N201", "T1"));
    work.write(
        "a/b/three.xml",
        format!(
            "<BUNDLE>{}{}</BUNDLE>",
            postback("N201", "T2"),
            postback("N202", "T2")
        ),
    );
    work.write("a/notes.txt", "not a postback");
    let first = work.run(&["import", "a"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        summary(&first),
        "import run 1: 2 folders listed, 0 unchanged; 3 files seen, 0 unchanged, 3 read, 1 other; 4 new postbacks, 0 duplicates; 0 problems"
    );
    let snapshot = |work: &Workdir| {
        work.rows(
            "SELECT (SELECT count(*) FROM postbacks), (SELECT count(*) FROM files), (SELECT count(*) FROM duplicates),
                    (SELECT count(*) FROM import_errors), (SELECT string_agg(fingerprint::VARCHAR || file_position, ',' ORDER BY postback_id) FROM postbacks)",
        )
    };
    let before = snapshot(&work);
    let second = work.run(&["import", "a"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        summary(&second),
        "import run 2: 0 folders listed, 2 unchanged; 0 files seen, 0 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(snapshot(&work), before);
    assert_eq!(
        work.rows("SELECT run_id, status, files_seen, files_skipped, files_read, postbacks_new FROM import_runs ORDER BY run_id"),
        ["1|ok|3|0|3|4", "2|ok|0|0|0|0"]
    );
}

#[test]
fn a_retried_postback_is_stored_once_and_each_copy_recorded() {
    let work = Workdir::new();
    work.write("in/10-00.xml", postback("N201", "RETRY"));
    work.write_gz("in/10-05.xml.gz", postback("N201", "RETRY"));
    work.write(
        "in/10-10.xml",
        format!(
            "<POSTBACKS>{}{}</POSTBACKS>",
            postback("N202", "RETRY"),
            postback("N201", "RETRY")
        ),
    );
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 3 files seen, 0 unchanged, 3 read, 0 other; 2 new postbacks, 2 duplicates; 0 problems"
    );
    assert_eq!(
        work.rows(
            "SELECT d.postback_id, regexp_extract(f.path, '[^/]+$'), d.file_position, p.status_code
             FROM duplicates d JOIN files f USING (file_id) JOIN postbacks p USING (postback_id) ORDER BY f.path"
        ),
        ["1|10-05.xml.gz|1|N201", "1|10-10.xml|2|N201"]
    );
    assert_eq!(
        work.rows("SELECT regexp_extract(path, '[^/]+$'), compressed, postbacks, duplicates FROM files ORDER BY path"),
        ["10-00.xml|false|1|0", "10-05.xml.gz|true|1|1", "10-10.xml|false|2|1"]
    );
}

#[test]
fn copies_of_earlier_runs_are_found_in_every_lookup_group() {
    let work = Workdir::new();
    work.write("in/1/a.xml", postback("N201", "EARLIER"));
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
    let tracking = [
        "EARLIER", "NEW", "T2", "T3", "EARLIER", "T5", "NEW", "T7", "EARLIER", "T9",
    ];
    for (i, tracking) in tracking.iter().enumerate() {
        work.write(&format!("in/2/f{i:02}.xml"), postback("N201", tracking));
    }
    // Batches of 3 files cap the lookup groups at 3 files too.
    let output = work
        .command(&["import", "in"])
        .env("POSTBACK_ARCHIVE_BATCH_FILES", "3")
        .output()
        .unwrap();
    assert_eq!(
        summary(&output),
        "import run 2: 2 folders listed, 1 unchanged; 10 files seen, 0 unchanged, 10 read, 0 other; 6 new postbacks, 4 duplicates; 0 problems"
    );
    assert_eq!(
        work.rows(
            "SELECT p.postback_id, p.tracking_id, regexp_extract(f.path, '[^/]+$')
             FROM duplicates d JOIN files f USING (file_id) JOIN postbacks p USING (postback_id)
             ORDER BY f.path"
        ),
        [
            "1|EARLIER|f00.xml",
            "1|EARLIER|f04.xml",
            "2|NEW|f06.xml",
            "1|EARLIER|f08.xml"
        ]
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "7");
}

/// Earlier copies are found through `fingerprint_filters`, which the first lookup of a
/// run brings up to date from `postbacks`: built when first needed, extended for the
/// postbacks stored since, and rebuilt whole when lost (an archive of an earlier
/// version has none).
#[test]
fn earlier_copies_are_found_through_filters_built_from_the_archive() {
    let work = Workdir::new();
    let filters = "SELECT span, last_postback_id, octet_length(keys) FROM fingerprint_filters";
    for (name, tracking) in [("a", "EARLIER"), ("b", "A2"), ("c", "A3")] {
        work.write(&format!("in/1/{name}.xml"), postback("N201", tracking));
    }
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
    assert!(
        work.rows(filters).is_empty(),
        "an import into an empty archive looks nothing up"
    );

    work.write("in/2/x.xml", postback("N201", "EARLIER"));
    work.write("in/2/y.xml", postback("N201", "NEW1"));
    let output = work.run(&["import", "in"]);
    assert_eq!(
        summary(&output),
        "import run 2: 2 folders listed, 1 unchanged; 2 files seen, 0 unchanged, 2 read, 0 other; 1 new postbacks, 1 duplicates; 0 problems"
    );
    assert_eq!(
        work.rows(filters),
        ["0|3|18"],
        "three postbacks of 6 bytes each"
    );

    duckdb::Connection::open(work.db())
        .unwrap()
        .execute_batch("DELETE FROM fingerprint_filters")
        .unwrap();
    work.write("in/3/z.xml", postback("N201", "A2"));
    work.write("in/3/w.xml", postback("N201", "NEW1"));
    let output = work.run(&["import", "in"]);
    assert_eq!(
        summary(&output),
        "import run 3: 2 folders listed, 2 unchanged; 2 files seen, 0 unchanged, 2 read, 0 other; 0 new postbacks, 2 duplicates; 0 problems"
    );
    assert_eq!(work.rows(filters), ["0|4|24"]);
    assert_eq!(
        work.rows(
            "SELECT p.postback_id, p.tracking_id, regexp_extract(f.path, '[^/]+$')
             FROM duplicates d JOIN files f USING (file_id) JOIN postbacks p USING (postback_id)
             ORDER BY f.path"
        ),
        ["1|EARLIER|x.xml", "4|NEW1|w.xml", "2|A2|z.xml"]
    );
}

#[test]
fn bad_input_is_recorded_and_everything_else_kept() {
    let work = Workdir::new();
    work.write("in/empty.xml", "");
    work.write(
        "in/gateway.xml",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    );
    work.write("in/garbage.xml", b"\x00\x01\x02binary");
    work.write(
        "in/cut.xml",
        format!(
            "<POSTBACKS>\n{}\n<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>N2",
            postback("N201", "CUT")
        ),
    );
    work.write("in/fake.xml.gz", "this is not gzip");
    work.write("in/good.xml", SUB_N301);
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 6 files seen, 0 unchanged, 6 read, 0 other; 2 new postbacks, 0 duplicates; 5 problems"
    );
    let root = work.path().canonicalize().unwrap().join("in");
    let expected = [
        "cut.xml:3:42: truncated: the file ends inside <CODE> opened at line 3; the postback that starts at line 3 is not stored",
        "empty.xml: empty_file: the file is empty",
        "fake.xml.gz: bad_gzip: not valid gzip: invalid gzip header",
        "garbage.xml: not_xml: binary content (a NUL byte at offset 0), not XML",
        "gateway.xml:1:1: not_xml: an HTML page (<html>), not a postback",
    ]
    .map(|line| format!("{}/{line}", root.display()));
    assert_eq!(stderr(&output).lines().collect::<Vec<_>>(), expected);
    assert_eq!(
        work.rows(
            "SELECT regexp_extract(path, '[^/]+$'), coalesce(line, 0), coalesce(col, 0), kind, file_id IS NOT NULL
             FROM import_errors ORDER BY path"
        ),
        [
            "cut.xml|3|42|truncated|true",
            "empty.xml|0|0|empty_file|true",
            "fake.xml.gz|0|0|bad_gzip|true",
            "garbage.xml|0|0|not_xml|true",
            "gateway.xml|1|1|not_xml|true",
        ]
    );
    // Unchanged bad files are not reported again.
    let again = work.run(&["import", "in"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(stderr(&again), "");
}

#[test]
fn an_appended_file_is_read_again_without_duplicates() {
    let work = Workdir::new();
    let path = work.write("in/bundle.xml", postback("N201", "A"));
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
    std::fs::write(
        &path,
        format!("{}{}", postback("N201", "A"), postback("N202", "A")),
    )
    .unwrap();
    // Changed in place: its folder did not change, so a plain run does not list it.
    let plain = work.run(&["import", "in"]);
    assert_eq!(
        summary(&plain),
        "import run 2: 0 folders listed, 1 unchanged; 0 files seen, 0 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    let output = work.run(&["import", "--rescan", "in"]);
    assert_eq!(
        summary(&output),
        "import run 3: 1 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 0 other; 1 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "0");
    assert_eq!(
        work.rows("SELECT postback_id, file_position, run_id, status_code FROM postbacks ORDER BY postback_id"),
        ["1|1|1|N201", "2|2|3|N202"]
    );
    assert_eq!(
        work.value("SELECT postbacks || ' ' || run_id || ' ' || first_run_id FROM files"),
        "2 3 1"
    );
}

#[test]
fn a_touched_file_is_hashed_but_not_parsed_again() {
    let work = Workdir::new();
    let path = work.write("in/a.xml", SUB_N301);
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let output = work.run(&["import", "--rescan", "in"]);
    assert_eq!(
        summary(&output),
        "import run 2: 1 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT run_id FROM files"), "2");
    let forced = work.run(&["import", "--force", "in"]);
    assert_eq!(
        summary(&forced),
        "import run 3: 1 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "1");
}

#[test]
fn a_held_lock_makes_import_wait_then_fail_naming_the_holder() {
    let work = Workdir::new();
    work.write("in/a.xml", SUB_N301);
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
    let holder = duckdb::Connection::open(work.db()).unwrap();
    let started = std::time::Instant::now();
    let output = work.run(&["import", "--lock-timeout", "1", "in"]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let pid = std::process::id();
    assert!(message.contains(&format!("(PID {pid})")), "{message}");
    assert!(
        message.starts_with("postback-archive: waiting up to 1 s for "),
        "{message}"
    );
    assert!(
        message.ends_with("; gave up after 1 s. Retry when it has finished, or pass --lock-timeout SECONDS to wait longer\n"),
        "{message}"
    );
    drop(holder);
    assert_eq!(work.run(&["import", "in"]).status.code(), Some(0));
}

#[test]
fn running_out_of_duckdb_memory_says_which_option_raises_it() {
    let work = Workdir::new();
    // One bundle of 100,000 postbacks: one batch more than DuckDB's smallest --memory-limit holds.
    let bundle: String = (0..100_000)
        .map(|i| postback("N201", &format!("T{i}")))
        .collect();
    work.write("in/bundle.xml", format!("<BUNDLE>{bundle}</BUNDLE>"));
    let output = work.run(&["import", "--memory-limit", "16", "in"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("postback-archive: error: import into "),
        "{message}"
    );
    assert!(
        message.ends_with("\nDuckDB needed more than --memory-limit 16 (MB); run the import again with --memory-limit 256\n"),
        "{message}"
    );
    assert_eq!(work.value("SELECT status FROM import_runs"), "failed");
    let again = work.run(&["import", "in"]);
    assert_eq!(
        summary(&again),
        "import run 2: 1 folders listed, 0 unchanged; 1 files seen, 0 unchanged, 1 read, 0 other; 100000 new postbacks, 0 duplicates; 0 problems"
    );
}

#[test]
fn command_line_mistakes_exit_1_with_a_message() {
    let work = Workdir::new();
    let missing = work.run(&["import", "nowhere"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "postback-archive: error: cannot read nowhere: No such file or directory (os error 2)\n"
    );
    let unknown = work.run(&["import", "--bogus", "x"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).starts_with("error: unexpected argument '--bogus' found"));
    let help = work.run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("  2  import: some input files had problems"));
}

#[test]
fn quiet_prints_nothing_on_success_and_one_line_on_problems() {
    let work = Workdir::new();
    work.write("in/a.xml", SUB_N301);
    let ok = work.run(&["--quiet", "import", "in"]);
    assert_eq!(
        (ok.status.code(), stdout(&ok), stderr(&ok)),
        (Some(0), String::new(), String::new())
    );
    work.write("in/b.xml", "");
    let bad = work.run(&["import", "-q", "in"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(stdout(&bad), "");
    assert_eq!(
        stderr(&bad),
        "postback-archive: import run 2 found 1 problem(s) in input files; see the import_errors table\n"
    );
    work.write("in/c.xml", "");
    let allowed = work.run(&["import", "-q", "--allow-bad-input", "in"]);
    assert_eq!(allowed.status.code(), Some(0));
}

/// DuckDB names a database after its file, and only by UTF-8: an archive whose file
/// name is not is refused with what to do, before any file is made; one in a folder
/// whose name is not is opened by its exact bytes, never a look-alike.
#[test]
fn an_archive_path_that_is_not_utf8_is_opened_by_its_exact_bytes_or_refused() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let work = Workdir::new();
    work.write("in/a.xml", SUB_N301);
    let run = |db: &std::path::Path, args: &[&str]| {
        assert_cmd::Command::cargo_bin("postback-archive")
            .unwrap()
            .current_dir(work.path())
            .arg("--db")
            .arg(db)
            .args(args)
            .output()
            .unwrap()
    };
    let odd_name = work.path().join(OsStr::from_bytes(b"arch\xff.duckdb"));
    let refused = run(&odd_name, &["import", "in"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        format!(
            "postback-archive: error: --db {}/arch\u{fffd}.duckdb: the archive's file name is not UTF-8 (shown with \u{fffd}), and DuckDB names a database after its file; rename the file, or pass a symbolic link to it whose name is UTF-8\n",
            work.path().display()
        )
    );
    let odd_folder = work.path().join(OsStr::from_bytes(b"d\xfe"));
    std::fs::create_dir(&odd_folder).unwrap();
    let db = odd_folder.join("archive.duckdb");
    let output = run(&db, &["import", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let names: Vec<Vec<u8>> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().as_bytes().to_vec())
        .filter(|name| name.starts_with(b"d") || name.starts_with(b"arch"))
        .collect();
    assert_eq!(
        names,
        [b"d\xfe".to_vec()],
        "no look-alike, and nothing of the refused one"
    );
    assert!(db.exists());
}
