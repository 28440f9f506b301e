//! Hostile input to the parse and normalize stages, through the real binary and a
//! real archive: what used to panic or balloon now costs one file its problems, and
//! every other file is imported (issue 8, items 1 and 3).

mod common;

use common::{Workdir, stderr, summary};

fn postback(element: &str, tracking: &str, time: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<POSTBACK>\n  <ORIGIN>SMS_MO</ORIGIN>\n  <CODE>N211</CODE>\n  <TRACKINGID>{tracking}</TRACKINGID>\n  <{element}>{time}</{element}>\n</POSTBACK>\n"
    )
}

/// The timestamps that panicked (`normalize/timestamp.rs` sliced bytes off a
/// character boundary), by file name, element and text.
const BAD_TIMESTAMPS: [(&str, &str, &str); 5] = [
    ("accent.xml", "TIMESTAMP", "2014-07-02T14:32:2\u{e9}"),
    ("accent-z.xml", "TIMESTAMP", "2014-07-02T14:32:2\u{e9}Z"),
    ("combining.xml", "TIMESTAMP", "2014-07-02T14:32:2e\u{301}"),
    ("emoji.xml", "TIMESTAMP", "2014-07-02T14:32:2\u{1f600}"),
    ("received.xml", "RECEIVED", "2014-07-02T14:32:2\u{e9}"),
];

#[test]
fn regression_a_multibyte_timestamp_panicked_and_lost_the_run() {
    let work = Workdir::new();
    for i in 0..1000 {
        let time = "2014-07-02T14:32:23-04:00";
        work.write(
            &format!("in/good/{i:04}.xml"),
            postback("TIMESTAMP", &format!("G{i}"), time),
        );
    }
    for (name, element, time) in BAD_TIMESTAMPS {
        work.write(&format!("in/bad/{name}"), postback(element, name, time));
    }
    // ISO-8859-1: the byte 0xE9 decodes to é.
    let mut latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<POSTBACK>\n  <ORIGIN>SMS_MO</ORIGIN>\n  <CODE>N211</CODE>\n  <TRACKINGID>latin1.xml</TRACKINGID>\n  <TIMESTAMP>2014-07-02T14:32:2".to_vec();
    latin1.extend_from_slice(b"\xE9</TIMESTAMP>\n</POSTBACK>\n");
    work.write("in/bad/latin1.xml", latin1);

    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 1: 3 folders listed, 0 unchanged; 1006 files seen, 0 unchanged, 1006 read, 0 other; 1006 new postbacks, 0 duplicates; 6 problems"
    );
    assert_eq!(
        work.value(
            "SELECT count(*) FROM postbacks WHERE occurred_at = TIMESTAMP '2014-07-02 18:32:23'"
        ),
        "1000"
    );
    assert_eq!(work.value("SELECT status FROM import_runs"), "errors");
    let mut expected: Vec<String> = BAD_TIMESTAMPS
        .iter()
        .map(|(name, element, time)| {
            let extra = serde_json::json!({ *element: time }).to_string();
            let message = format!("<{element}> {time:?} is not a timestamp; kept in extra");
            format!("{name}|NULL|{extra}|2|1|bad_value|{message}")
        })
        .collect();
    expected.push(
        "latin1.xml|NULL|{\"TIMESTAMP\":\"2014-07-02T14:32:2\u{e9}\"}|2|1|bad_value|<TIMESTAMP> \"2014-07-02T14:32:2\u{e9}\" is not a timestamp; kept in extra".to_string(),
    );
    expected.sort();
    assert_eq!(
        work.rows(
            "SELECT p.tracking_id, p.occurred_at, p.extra, e.line, e.col, e.kind, e.message
             FROM postbacks p JOIN import_errors e USING (file_id) ORDER BY 1"
        ),
        expected
    );
}

/// Two 64 KB `.xml.gz` files that inflate to 63 MiB of `<A>` took 3.3 GB and 40 s and
/// wrote 22 million `import_errors` rows.
#[test]
fn regression_an_element_bomb_in_gzip_is_capped_at_one_hundred_problems_a_file() {
    let work = Workdir::new();
    let bomb = "<A>".repeat(63 * 1024 * 1024 / 3);
    work.write_gz("in/bomb-1.xml.gz", &bomb);
    let nested = "<A><B>".repeat(63 * 1024 * 1024 / 6);
    work.write_gz("in/bomb-2.xml.gz", &nested);
    work.write(
        "in/good.xml",
        postback("TIMESTAMP", "G", "2014-07-02T14:32:23-04:00"),
    );

    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        summary(&output),
        "import run 1: 1 folders listed, 0 unchanged; 3 files seen, 0 unchanged, 3 read, 0 other; 1 new postbacks, 0 duplicates; 102 problems"
    );
    assert_eq!(
        work.rows(
            "SELECT regexp_extract(path, '[^/]+$'), kind, count(*) FROM import_errors GROUP BY ALL ORDER BY ALL"
        ),
        [
            "bomb-1.xml.gz|more_problems|1",
            "bomb-1.xml.gz|salvaged|100",
            "bomb-2.xml.gz|malformed_xml|1",
        ]
    );
    assert_eq!(
        work.rows(
            "SELECT regexp_extract(path, '[^/]+$'), line, col, message FROM import_errors
             WHERE kind <> 'salvaged' ORDER BY 1"
        ),
        [
            "bomb-1.xml.gz|1|604|11009948 more problem(s) in this file were not stored (salvaged 11009948); the first 100 are",
            "bomb-2.xml.gz|1|97|<A> would name a field by a path longer than 64 bytes",
        ]
    );
}
