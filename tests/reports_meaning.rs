//! What the reports count each postback as, against the platform's documentation:
//! `tests/fixtures/meaning` holds a postback for every (code, STATUS) pair either
//! edition documents, and for a missing and an undocumented STATUS of each code, with
//! the family, outcome and state each must get written by hand in its `expected.csv`
//! (see its README). Every report below is checked row by row on it; the figures were
//! worked out by hand from the XML files.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Workdir, stderr, stdout};

const NEW_YORK: &str = "America/New_York";

/// When the fixture's files were written: 2026-11-03 20:00 in New York. The postbacks
/// that carry no timestamp are dated by it.
const ARRIVAL: u64 = 1_793_754_000;

/// A workdir whose archive holds the fixture (101 postbacks, 1 copy).
fn fixture() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("meaning", "meaning");
    let arrival = SystemTime::UNIX_EPOCH + Duration::from_secs(ARRIVAL);
    for entry in std::fs::read_dir(work.path().join("meaning")).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(arrival).unwrap();
    }
    let output = work.run(&["import", "meaning"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "101");
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "1");
    work
}

/// `report run NAME` for 2026-11-03 in New York, as CSV lines without the header.
fn rows(work: &Workdir, name: &str) -> Vec<String> {
    let args = [
        "report",
        "run",
        name,
        "--from",
        "2026-11-03",
        "--to",
        "2026-11-03",
        "--tz",
        NEW_YORK,
        "--format",
        "csv",
    ];
    let output = work.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output).lines().skip(1).map(String::from).collect()
}

#[test]
fn every_documented_code_and_status_gets_its_family_outcome_and_state() {
    let work = fixture();
    let expected: Vec<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meaning/expected.csv"),
    )
    .unwrap()
    .lines()
    .skip(1)
    .map(|line| line.replace(',', "|"))
    .collect();
    // The send notifications followed to their receipt: what carrier-delivery counts.
    let actual = work.rows(
        "SELECT regexp_extract(f.path, '[^/]+$'), o.file_position, o.status_code,
                coalesce(o.status, ''), o.family, o.outcome, o.state,
                coalesce(s.delivery_outcome, '')
         FROM postback_outcomes o
         JOIN files f USING (file_id)
         LEFT JOIN message_sends(TIMESTAMP '2026-11-03', TIMESTAMP '2026-11-05') s
                USING (postback_id)
         ORDER BY f.path, o.file_position",
    );
    let mut expected_sorted = expected.clone();
    expected_sorted.sort_by_key(|row| {
        let mut fields = row.split('|');
        let file = fields.next().unwrap().to_string();
        let position: u32 = fields.next().unwrap().parse().unwrap();
        (file, position)
    });
    assert_eq!(actual, expected_sorted);
}

#[test]
fn every_rule_of_code_statuses_meets_a_postback_of_the_fixture() {
    let work = fixture();
    // Each (code, rule, STATUS) of the reference table is what decided some postback.
    assert_eq!(
        work.rows(
            "SELECT code, status_rule, status FROM code_statuses
             EXCEPT
             SELECT o.status_code, o.status_rule,
                    CASE o.status_rule WHEN 'is' THEN c.status ELSE '' END
             FROM postback_outcomes o
             JOIN code_statuses c ON c.code = o.status_code AND c.status_rule = o.status_rule
              AND (o.status_rule <> 'is' OR lower(c.status) = lower(trim(o.status)))"
        ),
        Vec::<String>::new()
    );
    assert_eq!(work.value("SELECT count(*) FROM code_statuses"), "65");
    // Two codes neither edition documents, and none of their postbacks is guessed at.
    assert_eq!(
        work.rows(
            "SELECT status_code, family, outcome, state FROM postback_outcomes
             WHERE status_rule IS NULL ORDER BY 1"
        ),
        [
            "N299|unknown|unknown|unknown",
            "N899|unknown|unknown|unknown"
        ]
    );
}

#[test]
fn a_failed_pass_is_never_counted_as_generated() {
    let work = fixture();
    // CODE N801 with STATUSCODE N802 failed; N801 with a STATUS is still generated; the
    // undocumented N899 is neither.
    assert_eq!(
        work.rows(
            "SELECT coalesce(code, ''), status_code, generated, failed FROM pass_generations
             ORDER BY occurred_at"
        ),
        [
            "|N801|true|false",
            "|N802|false|true",
            "|N803|false|true",
            "|N811|false|true",
            "N801|N802|false|true",
            "|N801|true|false",
            "|N899|false|false",
        ]
    );
    assert_eq!(
        rows(&work, "pass-volume"),
        [
            "2026-11-03,Email,1,2,1,66.7,20.8,93.9",
            "2026-11-03,Phone,1,2,0,66.7,20.8,93.9",
        ]
    );
}

#[test]
fn key_figures_count_send_and_delivery_failures_apart_and_the_undated() {
    let work = fixture();
    // 14 postbacks carry no time: 9 saved-MMS results, 2 E101, 1 older-edition SUB, 2
    // EMAIL_SUB. Of 29 messages sent: 5 delivered, 17 not, 2 without a receipt, 5 of
    // unknown outcome; 13 send notifications say not sent. The delivery rate is of the
    // 22 delivered or not. The receipt of T16, delivered, has no send. The 27
    // latencies' median is the 14th: 40 s.
    assert_eq!(
        rows(&work, "key-figures"),
        [
            "postbacks,101",
            "postbacks dated by arrival,14",
            "outcome unknown,12",
            "passes generated,2",
            "passes failed,4",
            "pass failure rate,66.7% (4 of 6; 95% CI 30.0-90.3%)",
            "messages sent,29",
            "send failures,13",
            "send failure rate,31.0% (13 of 42; 95% CI 19.1-46.0%)",
            "messages delivered,5",
            "delivery failures,17",
            "delivery rate,22.7% (5 of 22; 95% CI 10.1-43.4%)",
            "sends without receipt,2",
            "receipts without a send,1",
            "receipts without a send: delivered,1",
            "receipts without a send: delivery failures,0",
            "median delivery latency,40.0 s",
            "messages received,2",
            "subscribes,4",
            "unsubscribes,2",
            "retried copies,1",
        ]
    );
}

#[test]
fn failure_codes_list_every_failure_by_code_and_status_within_its_family() {
    let work = fixture();
    let rows = rows(&work, "failure-codes");
    let without_meaning: Vec<String> = rows
        .iter()
        .map(|row| row.splitn(10, ',').take(9).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        without_meaning,
        [
            "pass,N802,,2,50.0,2026-11-03 08:10:00-05:00,2026-11-03 08:40:00-05:00,0,2",
            "pass,N803,,1,25.0,2026-11-03 08:20:00-05:00,2026-11-03 08:20:00-05:00,0,1",
            "pass,N811,,1,25.0,2026-11-03 08:30:00-05:00,2026-11-03 08:30:00-05:00,0,1",
            "message_send,E101,,1,7.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "message_send,E101,Message Failed,1,7.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "message_send,E101,Message Sent,1,7.7,2026-11-03 10:11:00-05:00,2026-11-03 10:11:00-05:00,0,1",
            "message_send,E201,,1,7.7,2026-11-03 09:07:00-05:00,2026-11-03 09:07:00-05:00,0,1",
            "message_send,E201,Message Failed,1,7.7,2026-11-03 09:06:00-05:00,2026-11-03 09:06:00-05:00,0,1",
            "message_send,E201,Message Sent,1,7.7,2026-11-03 09:08:00-05:00,2026-11-03 09:08:00-05:00,0,1",
            "message_send,E501,,1,7.7,2026-11-03 11:05:00-05:00,2026-11-03 11:05:00-05:00,0,1",
            "message_send,E501,Message Failed,1,7.7,2026-11-03 11:04:00-05:00,2026-11-03 11:04:00-05:00,0,1",
            "message_send,E501,Message Queued,1,7.7,2026-11-03 11:06:00-05:00,2026-11-03 11:06:00-05:00,0,1",
            "message_send,E999,,1,7.7,2026-11-03 12:00:00-05:00,2026-11-03 12:00:00-05:00,0,1",
            "message_send,E999,Message Failed,1,7.7,2026-11-03 12:01:00-05:00,2026-11-03 12:01:00-05:00,0,1",
            "message_send,N101,Message Failed,1,7.7,2026-11-03 10:05:00-05:00,2026-11-03 10:05:00-05:00,0,1",
            "message_send,N201,Message Failed,1,7.7,2026-11-03 09:03:00-05:00,2026-11-03 09:03:00-05:00,0,1",
            "message_receipt,N202,Message Sent/Failed,2,11.1,2026-11-03 09:02:00-05:00,2026-11-03 09:30:00-05:00,0,2",
            "message_receipt,E102,,1,5.6,2026-11-03 10:16:35-05:00,2026-11-03 10:16:35-05:00,0,1",
            "message_receipt,E102,Message Sent/Delivered,1,5.6,2026-11-03 10:17:45-05:00,2026-11-03 10:17:45-05:00,0,1",
            "message_receipt,E102,Message Sent/Expired,1,5.6,2026-11-03 11:13:00-05:00,2026-11-03 11:13:00-05:00,0,1",
            "message_receipt,E102,Message Sent/Failed,1,5.6,2026-11-03 10:12:50-05:00,2026-11-03 10:12:50-05:00,0,1",
            "message_receipt,E102,Message Sent/NotSupported,1,5.6,2026-11-03 10:15:25-05:00,2026-11-03 10:15:25-05:00,0,1",
            "message_receipt,E102,Message Sent/Rejected,1,5.6,2026-11-03 10:14:15-05:00,2026-11-03 10:14:15-05:00,0,1",
            "message_receipt,E202,,1,5.6,2026-11-03 09:12:00-05:00,2026-11-03 09:12:00-05:00,0,1",
            "message_receipt,E202,Message Sent/Delivered,1,5.6,2026-11-03 09:11:10-05:00,2026-11-03 09:11:10-05:00,0,1",
            "message_receipt,E202,Message Sent/Failed,1,5.6,2026-11-03 09:10:00-05:00,2026-11-03 09:10:00-05:00,0,1",
            "message_receipt,E502,,1,5.6,2026-11-03 11:11:00-05:00,2026-11-03 11:11:00-05:00,0,1",
            "message_receipt,E502,Message Sent/Expired,1,5.6,2026-11-03 12:08:00-05:00,2026-11-03 12:08:00-05:00,0,1",
            "message_receipt,E502,Message Sent/Failed,1,5.6,2026-11-03 11:07:40-05:00,2026-11-03 11:07:40-05:00,0,1",
            "message_receipt,E502,Message Sent/NotSupported,1,5.6,2026-11-03 11:09:50-05:00,2026-11-03 11:09:50-05:00,0,1",
            "message_receipt,E502,Message Sent/Rejected,1,5.6,2026-11-03 11:12:10-05:00,2026-11-03 11:12:10-05:00,0,1",
            "message_receipt,N102,Message Sent/Expired,1,5.6,2026-11-03 14:01:00-05:00,2026-11-03 14:01:00-05:00,0,1",
            "message_receipt,N102,Message Sent/Rejected,1,5.6,2026-11-03 10:02:10-05:00,2026-11-03 10:02:10-05:00,0,1",
            "mms_content,E001,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "mms_content,E002,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "mms_content,E003,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "mms_content,E011,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "mms_content,E012,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
            "mms_content,E013,,1,16.7,2026-11-03 20:00:00-05:00,2026-11-03 20:00:00-05:00,0,1",
        ]
    );
    // Each row ends with the documented meaning of its code and STATUS.
    let expired = rows
        .iter()
        .find(|row| row.starts_with("message_receipt,N102,Message Sent/Expired,"))
        .unwrap();
    assert!(
        expired.ends_with(",Delivery report: the MMS expired before it could be delivered."),
        "{expired}"
    );
}

#[test]
fn failure_reasons_give_the_status_details_per_code_and_status() {
    let work = fixture();
    let rows = rows(&work, "failure-reasons");
    assert_eq!(rows.len(), 40);
    let with_reasons: Vec<&String> = rows
        .iter()
        .filter(|row| !row.contains(",(none given),"))
        .collect();
    assert_eq!(
        with_reasons,
        [
            "message_send,E101,Message Failed,Error fetching object,1,100.0",
            "message_send,E201,Message Failed,Invalid number,1,100.0",
            "message_send,N101,Message Failed,Error fetching dynamic content,1,100.0",
            "message_send,N201,Message Failed,Invalid number,1,100.0",
            "message_receipt,E102,Message Sent/Rejected,Recipient blocked by mobile operator,1,100.0",
            "message_receipt,E202,Message Sent/Failed,Carrier rejected,1,100.0",
            "message_receipt,N102,Message Sent/Expired,Expired after 4 hours,1,100.0",
            "message_receipt,N102,Message Sent/Rejected,Recipient blocked by mobile operator,1,100.0",
            "message_receipt,N202,Message Sent/Failed,Handset unreachable,1,50.0",
        ]
    );
    assert!(rows.contains(&"message_receipt,N202,Message Sent/Failed,(none given),1,50.0".into()));
}

#[test]
fn carrier_delivery_follows_each_send_per_spid_and_never_delivers_more_than_sent() {
    let work = fixture();
    // A generic SPID names its country, and 0001000 the older edition's other one; an
    // SPID in neither Appendix E, and a send without SPID, get rows of their own. Every
    // send is in exactly one column; the delivered share is of those delivered or not
    // (none of 0001000's). The receipt of T16 (AT&T, delivered) has no send: no_send.
    assert_eq!(
        rows(&work, "carrier-delivery"),
        [
            "0001570,United States,T-Mobile,18,4,2,8,4,0,20.0,5.7,51.0,0,0,0",
            "0044000,United Kingdom,All Carriers in United Kingdom,15,5,2,6,2,0,25.0,7.1,59.1,0,0,0",
            "0001470,United States,AT&T,9,3,1,3,0,2,25.0,4.6,69.9,1,1,0",
            "0001000,United States,All Carriers in United States (older edition: All Carriers \
             in Canada),3,1,0,0,2,0,,,,0,0,0",
            "0009999,,SPID in neither Appendix E,1,0,0,0,1,0,,,,0,0,0",
            ",,no SPID,1,0,0,0,1,0,,,,0,0,0",
        ]
    );
    // T01 has two receipts (delivered, then failed) and counts once, as delivered: its
    // second receipt follows a send, so it is no receipt without a send either.
    assert_eq!(
        work.value(
            "SELECT count(*) FROM message_sends(TIMESTAMP '2026-11-03', TIMESTAMP '2026-11-04')
             WHERE tracking_id = 'T01' AND delivery_outcome = 'delivered'"
        ),
        "1"
    );
    assert_eq!(
        work.rows(
            "SELECT tracking_id, delivery_outcome
             FROM receipts_without_send(TIMESTAMP '2026-11-03', TIMESTAMP '2026-11-05')"
        ),
        ["T16|delivered"]
    );
}

#[test]
fn failure_trend_delivery_latency_subscriptions_and_retries_on_the_fixture() {
    let work = fixture();
    // 47 send notifications, 35 of them with an outcome (13 not sent, 5 delivered, 17
    // not delivered), 30 of those failed.
    assert_eq!(
        rows(&work, "failure-trend"),
        ["2026-11-03,6,4,66.7,30.0,90.3,47,35,30,85.7,70.6,93.7"]
    );
    // SMS: 10, 20, 30, 40, 60, 60, 120 s; p95 at 0.95 * 6 = 5.7: 60 + 0.7 * 60 = 102.
    // MMS and DDM: 20 latencies, median (35 + 40) / 2; p95 at 18.05: 3600 + 0.05 * 10800.
    assert_eq!(
        rows(&work, "delivery-latency"),
        ["MMS,20,20,0,37.5,4140.0", "SMS,9,7,2,40.0,102.0"]
    );
    // 1478: three subscribes by two people (one opted in twice), one unsubscribe; the
    // older-edition SUB and both EMAIL_SUB are dated by their arrival at 20:00.
    assert_eq!(
        rows(&work, "subscriptions"),
        [
            "2026-11-03,89,,1,1,1,0",
            "2026-11-03,1478,Weekly Specials,3,2,1,2"
        ]
    );
    // The email opt-in sent again is a copy: a repeat and a retry look the same.
    assert_eq!(rows(&work, "retries"), ["2026-11-03,101,1,1,1.0"]);
}

#[test]
fn the_daily_summary_says_what_was_dated_by_arrival_and_what_is_unknown() {
    let work = fixture();
    let output = work.run(&[
        "report",
        "daily",
        "--date",
        "2026-11-03",
        "--tz",
        NEW_YORK,
        "--out-dir",
        "out",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let folder = work.path().join("out/2026-11-03");
    let summary = std::fs::read_to_string(folder.join("summary.md")).unwrap();
    assert!(
        summary.starts_with(
            "# Postback reports for 2026-11-03 (America/New_York)\n\n\
             2026-11-03T00:00:00-05:00 to 2026-11-04T00:00:00-05:00: 24 hours, 101 postbacks \
             (14 dated by arrival).\n\n## Notices\n\n\
             - 14 of the day's 101 postbacks carry no timestamp of their own (EMAIL_SUB, \
             older-edition SUB, saved-MMS results, MMS send failures): the reports date them by \
             when they arrived (received_at; for imported files, the file's modification time).\n\
             - 12 of the day's postbacks have a code, or a STATUS for their code, that neither \
             edition of the platform's documentation defines: their outcome is unknown, and the \
             reports count them as neither success nor failure (SELECT * FROM postback_outcomes \
             WHERE outcome = 'unknown' lists them).\n"
        ),
        "{summary}"
    );
    assert!(summary.contains("| postbacks dated by arrival | 14 |"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["postbacks_in_period"], 101);
    assert_eq!(manifest["postbacks_dated_by_arrival"], 14);
    // The failure-trend chart draws each rate's interval across its bar.
    let page = std::fs::read_to_string(folder.join("index.html")).unwrap();
    let trend = &page[page.find("<section id=\"failure-trend\">").unwrap()..];
    let trend = &trend[..trend.find("</section>").unwrap()];
    let whisker = "<polyline fill=\"none\" opacity=\"1\" stroke=\"#52606D\" stroke-width=\"2\"";
    // One day, two rates (passes, messages): three lines each.
    assert_eq!(trend.matches(whisker).count(), 6);
    assert!(trend.contains("95% Wilson interval"));
}

/// docs/reference.md's table of every code and STATUS, as the reference CSVs give it.
fn readme_code_table() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut families = std::collections::HashMap::new();
    let codes = std::fs::read_to_string(root.join("data/status_codes.csv")).unwrap();
    for record in csv::Reader::from_reader(codes.as_bytes()).records() {
        let record = record.unwrap();
        families.insert(record[0].to_string(), record[2].to_string());
    }
    let statuses = std::fs::read_to_string(root.join("data/code_statuses.csv")).unwrap();
    let records: Vec<csv::StringRecord> = csv::Reader::from_reader(statuses.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let mut lines = vec![
        "| code | STATUS | family | outcome | state | meaning | edition |".to_string(),
        "|---|---|---|---|---|---|---|".to_string(),
    ];
    for record in &records {
        let (code, rule, status) = (&record[0], &record[1], &record[2]);
        let alone = records.iter().filter(|r| &r[0] == code).count() == 1;
        let status = match rule {
            "is" => status.to_string(),
            "missing" => "(none)".to_string(),
            _ if alone => "(any)".to_string(),
            _ => "(any other)".to_string(),
        };
        lines.push(format!(
            "| {code} | {status} | {} | {} | {} | {} | {} |",
            families[code], &record[3], &record[4], &record[5], &record[6]
        ));
    }
    lines
}

#[test]
fn the_references_code_table_matches_the_reference_tables() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md"))
            .unwrap();
    let start = readme
        .find("<!-- code table: generated from data/*.csv")
        .expect("docs/reference.md has the code table");
    let table: Vec<String> = readme[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(String::from)
        .collect();
    assert_eq!(table, readme_code_table());
}
