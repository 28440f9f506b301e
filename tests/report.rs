//! `postback-archive report`, driven as users drive it: the real binary on the
//! hand-written archive of `tests/fixtures/reports` (see its README), whose every
//! figure below was worked out by hand from the XML files.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Workdir, stderr, stdout};
use duckdb::Connection;

const NEW_YORK: &str = "America/New_York";

/// A workdir whose archive holds the fixture: run 1 imported `archive/` (36
/// postbacks, 4 copies), run 2 imported `broken/` (2 problems). The runs' times are
/// set to 2026-11-02 02:15 and 02:20 New York time, since the import stamps the
/// real clock and the import-health report shows them. Each file of `archive/DAY/`
/// was last modified at 23:59 New York time that day: the email subscription, which
/// has no timestamp, arrived at 2026-11-01 23:59.
fn fixture() -> Workdir {
    let work = Workdir::new();
    work.copy_fixture("reports", "fixture");
    for (day, utc) in [
        ("2026-10-31", 1_793_505_540), // 2026-10-31 23:59 -04:00
        ("2026-11-01", 1_793_595_540), // 2026-11-01 23:59 -05:00
        ("2026-11-02", 1_793_681_940), // 2026-11-02 23:59 -05:00
    ] {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(utc);
        for entry in std::fs::read_dir(work.path().join("fixture/archive").join(day)).unwrap() {
            let path = entry.unwrap().path();
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(modified).unwrap();
        }
    }
    let output = work.run(&["import", "fixture/archive"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = work.run(&["import", "--allow-bad-input", "fixture/broken"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let conn = Connection::open(work.db()).unwrap();
    conn.execute_batch(
        "UPDATE import_runs SET started_at = TIMESTAMP '2026-11-02 07:15:00',
                                finished_at = TIMESTAMP '2026-11-02 07:15:02' WHERE run_id = 1;
         UPDATE import_runs SET started_at = TIMESTAMP '2026-11-02 07:20:00',
                                finished_at = TIMESTAMP '2026-11-02 07:20:01' WHERE run_id = 2;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(work.value("SELECT count(*) FROM postbacks"), "36");
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "4");
    work
}

/// Run `report ARGS` that must succeed with nothing on stderr; returns stdout.
fn report(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(&[&["report"], args].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    stdout(&output)
}

/// Run `report ARGS` that must fail with exit status 1; returns stderr.
fn report_error(work: &Workdir, args: &[&str]) -> String {
    let output = work.run(&[&["report"], args].concat());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(stdout(&output), "");
    stderr(&output)
}

/// `report run NAME` in CSV for FROM..TO in New York.
fn csv(work: &Workdir, name: &str, from: &str, to: &str) -> String {
    report(
        work,
        &[
            "run", name, "--from", from, "--to", to, "--tz", NEW_YORK, "--format", "csv",
        ],
    )
}

#[test]
fn key_figures_of_the_dst_day() {
    let work = fixture();
    // 28 postbacks: 7 passes, 15 outbound (8 sends, 6 receipts, 1 not sent), 1
    // inbound, 5 subscriptions, one of them (the email subscribe) dated by its arrival
    // at 23:59. The 8 sends followed to their receipts: delivered 1001, 1002, 1006 and
    // 1009 (whose receipt came the next day), not delivered 1003, 1005 and 1007, no
    // receipt for 1004: the delivery rate is 4 of the 7 whose receipt came. Every
    // receipt of the day has its send. Latencies 5, 10, 25, 30, 120, 120, 300 s: median 30.
    assert_eq!(
        csv(&work, "key-figures", "2026-11-01", "2026-11-01"),
        "\
figure,value
postbacks,28
postbacks dated by arrival,1
outcome unknown,0
passes generated,4
passes failed,3
pass failure rate,42.9% (3 of 7; 95% CI 15.8-75.0%)
messages sent,8
send failures,1
send failure rate,11.1% (1 of 9; 95% CI 2.0-43.5%)
messages delivered,4
delivery failures,3
delivery rate,57.1% (4 of 7; 95% CI 25.0-84.2%)
sends without receipt,1
receipts without a send,0
receipts without a send: delivered,0
receipts without a send: delivery failures,0
median delivery latency,30.0 s
messages received,1
subscribes,3
unsubscribes,2
retried copies,3
"
    );
}

#[test]
fn pass_volume_per_local_day_and_reference_type() {
    let work = fixture();
    // Pass 1007 (23:50 local, 04:50 UTC the next day) counts on 2026-11-01.
    assert_eq!(
        csv(&work, "pass-volume", "2026-11-01", "2026-11-02"),
        "\
day,reference_type,generated,failed,unknown,failure_pct,failure_pct_low,failure_pct_high
2026-11-01,Email,3,2,0,40.0,11.8,76.9
2026-11-01,Phone,1,1,0,50.0,9.5,90.5
2026-11-02,Email,0,1,0,100.0,20.7,100.0
2026-11-02,Phone,1,0,0,0.0,0.0,79.3
"
    );
}

#[test]
fn the_dst_day_in_new_york_has_25_hourly_rows() {
    let work = fixture();
    let mut expected = String::from(
        "\
day,hour,generated,failed,unknown,failure_pct,failure_pct_low,failure_pct_high
2026-11-01,00:00-04:00,1,0,0,0.0,0.0,79.3
2026-11-01,01:00-04:00,1,0,0,0.0,0.0,79.3
2026-11-01,01:00-05:00,0,1,0,100.0,20.7,100.0
",
    );
    for hour in 2..=22 {
        let counts = if hour == 9 {
            "2,1,0,33.3,6.1,79.2"
        } else {
            "0,0,0,,,"
        };
        expected.push_str(&format!("2026-11-01,{hour:02}:00-05:00,{counts}\n"));
    }
    expected.push_str("2026-11-01,23:00-05:00,0,1,0,100.0,20.7,100.0\n");
    let hourly = csv(&work, "pass-volume-hourly", "2026-11-01", "2026-11-01");
    assert_eq!(hourly, expected);
    assert_eq!(hourly.lines().count(), 1 + 25);

    let utc = report(
        &work,
        &[
            "run",
            "pass-volume-hourly",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-01",
            "--format",
            "csv",
        ],
    );
    assert_eq!(utc.lines().count(), 1 + 24);
    assert_eq!(utc.lines().nth(1), Some("2026-11-01,00:00+00:00,0,0,0,,,"));
    assert_eq!(
        utc.lines().nth(5),
        Some("2026-11-01,04:00+00:00,1,0,0,0.0,0.0,79.3")
    );
}

#[test]
fn a_day_is_the_local_day_of_the_time_zone() {
    let work = fixture();
    // In UTC, 2026-11-01 gains pass 9002 (03:30 UTC) and the day's files' arrival
    // (2026-10-31 23:59 New York, 03:59 UTC: no postback without a timestamp), and
    // loses pass 1007, SMS 1009 and the email subscribe (04:50, 04:59 and 04:59 UTC on
    // 2026-11-02): 28 + 1 - 3 = 26 postbacks.
    let utc = report(
        &work,
        &[
            "run",
            "retries",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-01",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        utc,
        "day,postbacks,retried_postbacks,duplicate_copies,retried_pct\n2026-11-01,26,2,3,7.7\n"
    );
}

#[test]
fn failure_codes_with_their_change_against_the_day_before() {
    let work = fixture();
    // 7 failures: 3 of passes, 1 send, 3 deliveries, each family's shares its own; the
    // day before (2026-10-31) had N802 (9002) and N803 (9001). 1005's E202 says Message
    // Sent/Expired, which the documentation does not define for E202: a failure, as
    // the code says, with that meaning.
    assert_eq!(
        csv(&work, "failure-codes", "2026-11-01", "2026-11-01"),
        "\
family,code,status,failures,share_pct,first_seen,last_seen,previous,change,meaning
pass,N802,,2,66.7,2026-11-01 01:20:00-05:00,2026-11-01 09:40:00-05:00,1,1,Some error occurred. Pass generation failed (STATUS is not part of pass postbacks).
pass,N811,,1,33.3,2026-11-01 23:50:00-05:00,2026-11-01 23:50:00-05:00,0,1,User Account do not have enough credits to generate the pass (STATUS is not part of pass postbacks).
pass,N803,,0,0.0,,,1,-1,Maximum limit for pass generation reached (STATUS is not part of pass postbacks).
message_send,E201,Message Failed,1,100.0,2026-11-01 12:00:00-05:00,2026-11-01 12:00:00-05:00,0,1,Impossible to send SMS: submission to the carrier failed.
message_receipt,E102,Message Sent/Rejected,1,33.3,2026-11-01 11:30:25-05:00,2026-11-01 11:30:25-05:00,0,1,MMS delivery was not successful: the operator or handset rejected it.
message_receipt,E202,Message Sent/Expired,1,33.3,2026-11-01 10:05:00-05:00,2026-11-01 10:05:00-05:00,0,1,\"A STATUS the documentation does not define for E202 (Message Sent/Failed): not delivered, as the code says, in a state it does not say.\"
message_receipt,E202,Message Sent/Failed,1,33.3,2026-11-01 08:20:10-05:00,2026-11-01 08:20:10-05:00,0,1,SMS delivery was not successful.
"
    );
}

#[test]
fn failure_trend_has_every_day() {
    let work = fixture();
    // 2026-11-01: 9 messages sent, 8 of them with an outcome (1004 has no receipt), of
    // which 1008 was not sent and 1003, 1005 and 1007 not delivered; 2026-11-02: 2001,
    // delivered.
    let expected = "\
day,pass_attempts,pass_failures,pass_failure_pct,pass_failure_pct_low,pass_failure_pct_high,message_sends,message_outcomes,message_failures,message_failure_pct,message_failure_pct_low,message_failure_pct_high
2026-10-31,2,2,100.0,34.2,100.0,0,0,0,,,
2026-11-01,7,3,42.9,15.8,75.0,9,8,4,50.0,21.5,78.5
2026-11-02,2,1,50.0,9.5,90.5,1,1,0,0.0,0.0,79.3
";
    assert_eq!(
        csv(&work, "failure-trend", "2026-10-31", "2026-11-02"),
        expected
    );
    // Without --from: the 14 days that end with --to, quiet days included.
    let fourteen = report(
        &work,
        &[
            "run",
            "failure-trend",
            "--to",
            "2026-11-02",
            "--tz",
            NEW_YORK,
            "--format",
            "csv",
        ],
    );
    let lines: Vec<&str> = fourteen.lines().collect();
    assert_eq!(lines.len(), 1 + 14);
    assert_eq!(lines[1], "2026-10-20,0,0,,,,0,0,0,,,");
    assert_eq!(
        lines[12..].join("\n") + "\n",
        expected.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n"
    );
}

#[test]
fn carrier_delivery_names_carriers_from_their_spid() {
    let work = fixture();
    // Each of the day's sends, followed to its receipt: AT&T's 1009 was delivered the
    // next day; T-Mobile's 1004 has no receipt, so its share is of the 1 whose receipt
    // came; 1008 was not sent and has none. Every receipt of the day has its send.
    assert_eq!(
        csv(&work, "carrier-delivery", "2026-11-01", "2026-11-01"),
        "\
spid,country,carrier,sends,not_sent,delivered,not_delivered,unknown,no_receipt,delivered_pct,delivered_pct_low,delivered_pct_high,no_send,no_send_delivered,no_send_not_delivered
0001470,United States,AT&T,4,0,3,1,0,0,75.0,30.1,95.4,0,0,0
0001570,United States,T-Mobile,2,0,0,1,0,1,0.0,0.0,79.3,0,0,0
0001890,United States,Verizon Wireless,2,0,1,1,0,0,50.0,9.5,90.5,0,0,0
0009999,,SPID in neither Appendix E,1,1,0,0,0,0,,,,0,0,0
"
    );
}

#[test]
fn delivery_latency_joins_sends_and_receipts_on_the_tracking_id() {
    let work = fixture();
    // SMS: 10, 30, 120, 120 (the receipt of 1009 came the next day), 300 s, and 1004
    // never got one: median 120, p95 at 0.95 * 4 = 3.8, 120 + 0.8 * 180 = 264.
    // MMS: 5 and 25 s: median 15, p95 5 + 0.95 * 20 = 24.
    assert_eq!(
        csv(&work, "delivery-latency", "2026-11-01", "2026-11-01"),
        "\
channel,sends,receipts,no_receipt,median_seconds,p95_seconds
MMS,2,2,0,15.0,24.0
SMS,6,5,1,120.0,264.0
"
    );
}

#[test]
fn subscriptions_per_campaign_and_day() {
    let work = fixture();
    // The unsubscribe from 1478 has no title; the email subscribe has no timestamp
    // and is dated by its arrival, 2026-11-01 23:59.
    assert_eq!(
        csv(&work, "subscriptions", "2026-11-01", "2026-11-02"),
        "\
day,campaign_id,campaign_title,subscribes,subscribers,unsubscribes,net
2026-11-01,1478,Weekly Specials,3,3,1,2
2026-11-01,2093,VIP Club,0,0,1,-1
2026-11-02,1478,Weekly Specials,1,1,0,1
"
    );
}

#[test]
fn retries_count_the_copies_of_each_days_postbacks() {
    let work = fixture();
    assert_eq!(
        csv(&work, "retries", "2026-11-01", "2026-11-02"),
        "\
day,postbacks,retried_postbacks,duplicate_copies,retried_pct
2026-11-01,28,2,3,7.1
2026-11-02,6,1,1,16.7
"
    );
}

#[test]
fn import_health_lists_the_runs_that_started_in_the_period() {
    let work = fixture();
    assert_eq!(
        csv(&work, "import-health", "2026-11-02", "2026-11-02"),
        "\
run_id,started,status,files_seen,files_skipped,files_read,postbacks_new,postbacks_duplicate,errors,errors_by_kind
1,2026-11-02 02:15:00-05:00,ok,23,0,23,36,4,0,
2,2026-11-02 02:20:00-05:00,errors,2,0,2,0,0,2,\"empty_file 1, not_xml 1\"
"
    );
    assert_eq!(
        csv(&work, "import-health", "2026-11-01", "2026-11-01"),
        "run_id,started,status,files_seen,files_skipped,files_read,postbacks_new,postbacks_duplicate,errors,errors_by_kind\n"
    );
}

#[test]
fn run_prints_every_format_and_writes_out_files() {
    let work = fixture();
    let args = [
        "run",
        "delivery-latency",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--tz",
        NEW_YORK,
    ];
    assert_eq!(
        report(&work, &args),
        "\
┌─────────┬───────┬──────────┬────────────┬────────────────┬─────────────┐
│ channel │ sends │ receipts │ no_receipt │ median_seconds │ p95_seconds │
├─────────┼───────┼──────────┼────────────┼────────────────┼─────────────┤
│ MMS     │     2 │        2 │          0 │           15.0 │        24.0 │
│ SMS     │     6 │        5 │          1 │          120.0 │       264.0 │
└─────────┴───────┴──────────┴────────────┴────────────────┴─────────────┘
"
    );
    assert_eq!(
        report(&work, &[&args[..], &["--format", "jsonl"]].concat()),
        "\
{\"channel\":\"MMS\",\"sends\":2,\"receipts\":2,\"no_receipt\":0,\"median_seconds\":15.0,\"p95_seconds\":24.0}
{\"channel\":\"SMS\",\"sends\":6,\"receipts\":5,\"no_receipt\":1,\"median_seconds\":120.0,\"p95_seconds\":264.0}
"
    );
    assert_eq!(
        report(
            &work,
            &[&args[..], &["--format", "csv", "--out", "latency.csv"]].concat()
        ),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("latency.csv")).unwrap(),
        csv(&work, "delivery-latency", "2026-11-01", "2026-11-01")
    );
}

#[test]
fn bad_arguments_are_explained() {
    let work = fixture();
    assert_eq!(
        report_error(&work, &["run", "nope"]),
        "postback-archive: error: unknown report `nope`; `postback-archive report list` shows the reports\n"
    );
    assert_eq!(
        report_error(
            &work,
            &[
                "run",
                "retries",
                "--from",
                "2026-11-05",
                "--to",
                "2026-11-01"
            ]
        ),
        "postback-archive: error: the period starts (--from 2026-11-05) after it ends (--to 2026-11-01)\n"
    );
    assert_eq!(
        report_error(&work, &["run", "retries", "--tz", "Mars/Olympus"]),
        "error: invalid value 'Mars/Olympus' for '--tz <ZONE>': unknown time zone 'Mars/Olympus'; \
         use an IANA name such as America/New_York, Europe/Paris or UTC\n\nFor more information, try '--help'.\n"
    );
    assert_eq!(
        report_error(&work, &["run", "retries", "--to", "2026-11-31"]),
        "error: invalid value '2026-11-31' for '--to <DATE>': invalid date '2026-11-31'; \
         write it as YYYY-MM-DD, e.g. 2026-11-01\n\nFor more information, try '--help'.\n"
    );
    assert_eq!(
        report_error(
            &work,
            &["daily", "--out-dir", "out", "--formats", "csv,pdf"]
        ),
        "error: invalid value 'pdf' for '--formats <FORMATS>': unknown format 'pdf'; \
         use csv, tsv, json, jsonl, md or html\n\nFor more information, try '--help'.\n"
    );
}

const CANNED_LIST: &str = "\
name,period,parameters,source,title,dated_by
key-figures,1 day,\"from, to\",canned,Key figures,the send's time; receipts without a send: the receipt's; the rest: their own
pass-volume,1 day,\"from, to\",canned,Pass generation by day and reference type,each pass's own time
pass-volume-hourly,1 day,\"from, to\",canned,Pass generation by hour,each pass's own time
failure-codes,1 day,\"from, to, previous_from\",canned,Failure codes,each failure's own time (a delivery failure: the receipt's)
failure-reasons,1 day,\"from, to\",canned,Failure reasons,each failure's own time (a delivery failure: the receipt's)
failure-trend,14 days,\"from, to\",canned,Failure rate trend,passes: their own time; messages: the send's time
carrier-delivery,1 day,\"from, to\",canned,Outbound delivery by carrier,the send's time; receipts without a send (no_send): the receipt's
delivery-latency,1 day,\"from, to\",canned,Delivery latency,the send's time
subscriptions,1 day,\"from, to\",canned,Subscriptions by campaign,each subscription's own time
retries,1 day,\"from, to\",canned,Retried postbacks,each postback's own time
import-health,1 day,\"from, to\",canned,Import health,the run's start
";

/// Which clock dates each canned report's rows, in the order of `report list`.
const DATED_BY: [&str; 11] = [
    "the send's time; receipts without a send: the receipt's; the rest: their own",
    "each pass's own time",
    "each pass's own time",
    "each failure's own time (a delivery failure: the receipt's)",
    "each failure's own time (a delivery failure: the receipt's)",
    "passes: their own time; messages: the send's time",
    "the send's time; receipts without a send (no_send): the receipt's",
    "the send's time",
    "each subscription's own time",
    "each postback's own time",
    "the run's start",
];

#[test]
fn list_prints_the_canned_reports_then_the_users() {
    let work = fixture();
    assert_eq!(report(&work, &["list", "--format", "csv"]), CANNED_LIST);
    let user = "fixture/user/outbound-by-channel.sql";
    assert_eq!(
        report(
            &work,
            &["list", "--format", "csv", "--reports-dir", "fixture/user"]
        ),
        format!(
            "{CANNED_LIST}outbound-by-channel,2 days,\"from, to, days, tz\",{user},Outbound postbacks by channel,\n"
        )
    );
}

#[test]
fn user_reports_run_like_canned_ones_from_the_option_or_the_environment() {
    let work = fixture();
    let expected =
        "channel,postbacks,days,zone\nMMS,4,1,America/New_York\nSMS,11,1,America/New_York\n";
    let args = [
        "run",
        "outbound-by-channel",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--tz",
        NEW_YORK,
        "--format",
        "csv",
    ];
    assert_eq!(
        report(
            &work,
            &[&args[..], &["--reports-dir", "fixture/user"]].concat()
        ),
        expected
    );
    let output = work
        .command(&[&["report"], &args[..]].concat())
        .env("POSTBACK_ARCHIVE_REPORTS", "fixture/user")
        .output()
        .unwrap();
    assert_eq!(stdout(&output), expected, "{}", stderr(&output));
    // Its header says 2 days: without --from, the 2 days that end with --to.
    let two_days = report(
        &work,
        &[
            "run",
            "outbound-by-channel",
            "--to",
            "2026-11-02",
            "--tz",
            NEW_YORK,
            "--format",
            "csv",
            "--reports-dir",
            "fixture/user",
        ],
    );
    assert_eq!(
        two_days,
        "channel,postbacks,days,zone\nMMS,4,2,America/New_York\nSMS,14,2,America/New_York\n"
    );
}

/// The error `report list` gives for a reports folder holding one file.
fn header_error(file: &str, sql: &str) -> String {
    let work = Workdir::new();
    work.write(&format!("mine/{file}"), sql);
    report_error(&work, &["list", "--reports-dir", "mine"])
}

const GOOD_HEADER: &str = "\
-- name: mine
-- title: Mine
-- description: Mine.
-- param: from  start
-- param: to    end
SELECT 1 AS one
";

#[test]
fn a_broken_header_is_an_error_naming_the_file_and_line() {
    let broken = GOOD_HEADER.replace(
        "-- description: Mine.",
        "-- description: Mine.\n-- owner: me",
    );
    assert_eq!(
        header_error("mine.sql", &broken),
        "postback-archive: error: mine/mine.sql:4: unknown header key `owner`; the keys are name, title, \
         description, dated-by, param, period, chart, chart-x, chart-series, chart-label\n"
    );
    assert_eq!(
        header_error(
            "mine.sql",
            &GOOD_HEADER.replace("-- param: to    end\n", "")
        ),
        "postback-archive: error: mine/mine.sql:1: the header declares no period; add `-- param: from` \
         and `-- param: to` (missing: to)\n"
    );
    assert_eq!(
        header_error(
            "mine.sql",
            &GOOD_HEADER.replace("to    end", "carrier  the carrier")
        ),
        "postback-archive: error: mine/mine.sql:5: unknown parameter `carrier`; a report can use from, \
         to, days, previous_from, tz\n"
    );
    assert_eq!(
        header_error("mine.sql", "SELECT 1\n"),
        "postback-archive: error: mine/mine.sql:1: a report starts with a header of `-- key: value` \
         lines, beginning with `-- name: NAME`\n"
    );
    assert_eq!(
        header_error("other.sql", GOOD_HEADER),
        "postback-archive: error: mine/other.sql:1: the report is named `mine` but its file is \
         other.sql; give them the same name\n"
    );
    assert_eq!(
        header_error(
            "retries.sql",
            &GOOD_HEADER.replace("name: mine", "name: retries")
        ),
        "postback-archive: error: mine/retries.sql:1: `retries` is the name of a canned report; choose another\n"
    );
    assert_eq!(
        header_error(
            "summary.sql",
            &GOOD_HEADER.replace("name: mine", "name: summary")
        ),
        "postback-archive: error: mine/summary.sql:1: the name `summary` is reserved for report daily's \
         own files (summary, manifest, index); choose another\n"
    );
}

#[test]
fn a_missing_reports_folder_is_named() {
    let work = Workdir::new();
    assert_eq!(
        report_error(&work, &["list", "--reports-dir", "nowhere"]),
        "postback-archive: error: cannot read the reports folder nowhere: No such file or directory (os error 2)\n"
    );
}

#[test]
fn report_sql_errors_name_the_report_and_undeclared_parameters() {
    let work = fixture();
    work.write(
        "mine/undeclared.sql",
        GOOD_HEADER
            .replace("name: mine", "name: undeclared")
            .replace("SELECT 1 AS one", "SELECT $days AS days"),
    );
    work.write(
        "mine/broken.sql",
        GOOD_HEADER
            .replace("name: mine", "name: broken")
            .replace("SELECT 1 AS one", "SELECT * FROM nope"),
    );
    assert_eq!(
        report_error(
            &work,
            &[
                "run",
                "undeclared",
                "--to",
                "2026-11-01",
                "--reports-dir",
                "mine"
            ]
        ),
        "postback-archive: error: report undeclared failed: the SQL uses $days, which is not one of its \
         parameters ($from, $to); declare it in the header with `-- param: NAME`, where NAME is one of \
         from, to, days, previous_from, tz\n"
    );
    assert_eq!(
        report_error(
            &work,
            &[
                "run",
                "broken",
                "--to",
                "2026-11-01",
                "--reports-dir",
                "mine"
            ]
        ),
        "postback-archive: error: report broken failed: Catalog Error: Table with name nope does not exist!\n\
         Did you mean \"inbound_messages\"?\n\nLINE 6: SELECT * FROM nope\n                      ^^^^\n"
    );
}

/// The names in `dir`, hidden ones included, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

const DAILY: [&str; 8] = [
    "daily",
    "--date",
    "2026-11-01",
    "--tz",
    NEW_YORK,
    "--out-dir",
    "reports",
    "--formats",
];

/// The manifest with the one value that changes from run to run taken out.
fn manifest(folder: &Path) -> serde_json::Value {
    let mut manifest: serde_json::Value =
        serde_json::from_str(&read(&folder.join("manifest.json"))).unwrap();
    let generated_at = manifest["generated_at"].take();
    let generated_at = generated_at.as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(generated_at).is_ok(),
        "{generated_at}"
    );
    manifest
}

#[test]
fn daily_writes_every_report_in_every_format_with_a_summary_and_a_manifest() {
    let work = fixture();
    let output = work.run(&[&["report"], &DAILY[..], &["csv,tsv,json,jsonl,md"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let folder = work.path().join("reports/2026-11-01");
    assert_eq!(
        stdout(&output),
        format!(
            "wrote 58 files for 2026-11-01 (America/New_York) to {}\n",
            Path::new("reports").join("2026-11-01").display()
        )
    );
    assert_eq!(names(&work.path().join("reports")), ["2026-11-01"]);

    let reports = [
        "key-figures",
        "pass-volume",
        "pass-volume-hourly",
        "failure-codes",
        "failure-reasons",
        "failure-trend",
        "carrier-delivery",
        "delivery-latency",
        "subscriptions",
        "retries",
        "import-health",
    ];
    let mut expected_names: Vec<String> = reports
        .iter()
        .flat_map(|name| ["csv", "tsv", "json", "jsonl", "md"].map(|ext| format!("{name}.{ext}")))
        .chain(["summary.md", "summary.json", "manifest.json"].map(String::from))
        .collect();
    expected_names.sort();
    assert_eq!(names(&folder), expected_names);

    // Each file holds what `report run` prints for the report's period.
    for name in reports {
        let from = if name == "failure-trend" {
            "2026-10-19"
        } else {
            "2026-11-01"
        };
        for format in ["csv", "tsv", "json", "jsonl", "markdown"] {
            let ext = if format == "markdown" { "md" } else { format };
            let printed = report(
                &work,
                &[
                    "run",
                    name,
                    "--from",
                    from,
                    "--to",
                    "2026-11-01",
                    "--tz",
                    NEW_YORK,
                    "--format",
                    format,
                ],
            );
            assert_eq!(
                read(&folder.join(format!("{name}.{ext}"))),
                printed,
                "{name}.{ext}"
            );
        }
    }
    assert_eq!(
        read(&folder.join("pass-volume.csv")),
        "day,reference_type,generated,failed,unknown,failure_pct,failure_pct_low,failure_pct_high\n\
         2026-11-01,Email,3,2,0,40.0,11.8,76.9\n2026-11-01,Phone,1,1,0,50.0,9.5,90.5\n"
    );

    let rows = [21, 2, 25, 7, 6, 14, 4, 2, 2, 1, 0];
    let expected_reports: Vec<serde_json::Value> = reports
        .iter()
        .zip(rows)
        .map(|(name, rows)| {
            let title = match *name {
                "key-figures" => "Key figures",
                "pass-volume" => "Pass generation by day and reference type",
                "pass-volume-hourly" => "Pass generation by hour",
                "failure-codes" => "Failure codes",
                "failure-reasons" => "Failure reasons",
                "failure-trend" => "Failure rate trend",
                "carrier-delivery" => "Outbound delivery by carrier",
                "delivery-latency" => "Delivery latency",
                "subscriptions" => "Subscriptions by campaign",
                "retries" => "Retried postbacks",
                _ => "Import health",
            };
            let dated_by = DATED_BY[reports.iter().position(|r| r == name).unwrap()];
            let files = ["csv", "tsv", "json", "jsonl", "md"].map(|ext| format!("{name}.{ext}"));
            let from = if *name == "failure-trend" {
                "2026-10-19"
            } else {
                "2026-11-01"
            };
            serde_json::json!({
                "name": name, "title": title, "dated_by": dated_by, "source": "canned",
                "from": from, "to": "2026-11-01", "rows": rows, "files": files,
            })
        })
        .collect();
    let mut files: Vec<String> = reports
        .iter()
        .flat_map(|name| ["csv", "tsv", "json", "jsonl", "md"].map(|ext| format!("{name}.{ext}")))
        .collect();
    files.extend(["summary.md", "summary.json"].map(String::from));
    let arrival = "1 of the day's 28 postbacks carry no timestamp of their own (EMAIL_SUB, \
                   older-edition SUB, saved-MMS results, MMS send failures): the reports date \
                   them by when they arrived (received_at; for imported files, the file's \
                   modification time).";
    let notice = "The last import, run 2, has status errors; see the import-health report and the import_errors table.";
    assert_eq!(
        manifest(&folder),
        serde_json::json!({
            "format": "postback-archive daily reports 1",
            "date": "2026-11-01",
            "time_zone": "America/New_York",
            "from": "2026-11-01T00:00:00-04:00",
            "to": "2026-11-02T00:00:00-05:00",
            "hours": 25,
            "generated_at": null,
            "tool_version": env!("CARGO_PKG_VERSION"),
            "archive": {
                "path": work.db().display().to_string(),
                "postbacks": 36,
                "last_import_run": {
                    "run_id": 2, "status": "errors",
                    "started_at": "2026-11-02T07:20:00Z", "finished_at": "2026-11-02T07:20:01Z",
                    "files_read": 2, "postbacks_new": 0, "postbacks_duplicate": 0, "errors": 2,
                },
            },
            "postbacks_in_period": 28,
            "postbacks_dated_by_arrival": 1,
            "notices": [arrival, notice],
            "reports": expected_reports,
            "files": files,
        })
    );

    let summary: serde_json::Value =
        serde_json::from_str(&read(&folder.join("summary.json"))).unwrap();
    assert_eq!(summary["postbacks"], 28);
    assert_eq!(summary["postbacks_dated_by_arrival"], 1);
    assert_eq!(summary["notices"], serde_json::json!([arrival, notice]));
    assert_eq!(
        summary["key_figures"][5],
        serde_json::json!({"figure": "pass failure rate", "value": "42.9% (3 of 7; 95% CI 15.8-75.0%)"})
    );
    assert_eq!(
        summary["key_figures"][11],
        serde_json::json!({"figure": "delivery rate", "value": "57.1% (4 of 7; 95% CI 25.0-84.2%)"})
    );
    assert_eq!(summary["key_figures"].as_array().unwrap().len(), 21);
}

#[test]
fn daily_summary_reads_as_a_page() {
    let work = fixture();
    report(&work, &[&DAILY[..], &["csv"]].concat());
    let link = |name: &str| format!("[{name}.csv]({name}.csv)");
    assert_eq!(
        read(&work.path().join("reports/2026-11-01/summary.md")),
        format!(
            "\
# Postback reports for 2026-11-01 (America/New_York)

2026-11-01T00:00:00-04:00 to 2026-11-02T00:00:00-05:00: 25 hours, 28 postbacks (1 dated by arrival).

## Notices

- 1 of the day's 28 postbacks carry no timestamp of their own (EMAIL_SUB, older-edition SUB, saved-MMS results, MMS send failures): the reports date them by when they arrived (received_at; for imported files, the file's modification time).
- The last import, run 2, has status errors; see the import-health report and the import_errors table.

## Key figures

| figure | value |
|---|---|
| postbacks | 28 |
| postbacks dated by arrival | 1 |
| outcome unknown | 0 |
| passes generated | 4 |
| passes failed | 3 |
| pass failure rate | 42.9% (3 of 7; 95% CI 15.8-75.0%) |
| messages sent | 8 |
| send failures | 1 |
| send failure rate | 11.1% (1 of 9; 95% CI 2.0-43.5%) |
| messages delivered | 4 |
| delivery failures | 3 |
| delivery rate | 57.1% (4 of 7; 95% CI 25.0-84.2%) |
| sends without receipt | 1 |
| receipts without a send | 0 |
| receipts without a send: delivered | 0 |
| receipts without a send: delivery failures | 0 |
| median delivery latency | 30.0 s |
| messages received | 1 |
| subscribes | 3 |
| unsubscribes | 2 |
| retried copies | 3 |

## Reports

| report | title | dated by | period | rows | files |
|---|---|---|---|--:|---|
| key-figures | Key figures | the send's time; receipts without a send: the receipt's; the rest: their own | 2026-11-01 | 21 | {} |
| pass-volume | Pass generation by day and reference type | each pass's own time | 2026-11-01 | 2 | {} |
| pass-volume-hourly | Pass generation by hour | each pass's own time | 2026-11-01 | 25 | {} |
| failure-codes | Failure codes | each failure's own time (a delivery failure: the receipt's) | 2026-11-01 | 7 | {} |
| failure-reasons | Failure reasons | each failure's own time (a delivery failure: the receipt's) | 2026-11-01 | 6 | {} |
| failure-trend | Failure rate trend | passes: their own time; messages: the send's time | 2026-10-19 to 2026-11-01 | 14 | {} |
| carrier-delivery | Outbound delivery by carrier | the send's time; receipts without a send (no_send): the receipt's | 2026-11-01 | 4 | {} |
| delivery-latency | Delivery latency | the send's time | 2026-11-01 | 2 | {} |
| subscriptions | Subscriptions by campaign | each subscription's own time | 2026-11-01 | 2 | {} |
| retries | Retried postbacks | each postback's own time | 2026-11-01 | 1 | {} |
| import-health | Import health | the run's start | 2026-11-01 | 0 | {} |
",
            link("key-figures"),
            link("pass-volume"),
            link("pass-volume-hourly"),
            link("failure-codes"),
            link("failure-reasons"),
            link("failure-trend"),
            link("carrier-delivery"),
            link("delivery-latency"),
            link("subscriptions"),
            link("retries"),
            link("import-health"),
        )
    );
}

#[test]
fn daily_again_replaces_the_days_folder() {
    let work = fixture();
    report(&work, &[&DAILY[..], &["csv"]].concat());
    let folder = work.path().join("reports/2026-11-01");
    std::fs::write(folder.join("stale.txt"), "from an earlier run").unwrap();
    report(&work, &[&DAILY[..], &["json"]].concat());
    assert!(names(&folder).contains(&"retries.json".to_string()));
    assert!(!names(&folder).contains(&"retries.csv".to_string()));
    assert!(!names(&folder).contains(&"stale.txt".to_string()));
    assert_eq!(names(&work.path().join("reports")), ["2026-11-01"]);
}

#[test]
fn a_failing_report_leaves_no_partial_folder_and_keeps_the_earlier_one() {
    let work = fixture();
    report(&work, &[&DAILY[..], &["csv,md"]].concat());
    let folder = work.path().join("reports/2026-11-01");
    let before: Vec<(String, String)> = names(&folder)
        .into_iter()
        .map(|name| (read(&folder.join(&name)), name))
        .collect();
    // User reports run after the canned ones: it fails once their files are written.
    work.write(
        "mine/zz-broken.sql",
        GOOD_HEADER
            .replace("name: mine", "name: zz-broken")
            .replace("SELECT 1 AS one", "SELECT * FROM nope"),
    );
    let error = report_error(
        &work,
        &[&DAILY[..], &["csv,md", "--reports-dir", "mine"]].concat(),
    );
    assert_eq!(
        error,
        format!(
            "postback-archive: error: no reports written; {} is as it was: report zz-broken failed: \
             Catalog Error: Table with name nope does not exist!\nDid you mean \"inbound_messages\"?\n\n\
             LINE 6: SELECT * FROM nope\n                      ^^^^\n",
            Path::new("reports").join("2026-11-01").display()
        )
    );
    assert_eq!(names(&work.path().join("reports")), ["2026-11-01"]);
    let after: Vec<(String, String)> = names(&folder)
        .into_iter()
        .map(|name| (read(&folder.join(&name)), name))
        .collect();
    assert!(after == before, "the earlier folder changed");

    // A day that had no folder gets none.
    let error = report_error(
        &work,
        &[
            "daily",
            "--date",
            "2026-11-02",
            "--out-dir",
            "reports",
            "--reports-dir",
            "mine",
        ],
    );
    assert!(
        error.starts_with(&format!(
            "postback-archive: error: no reports written to {}: report zz-broken failed:",
            Path::new("reports").join("2026-11-02").display()
        )),
        "{error}"
    );
    assert_eq!(names(&work.path().join("reports")), ["2026-11-01"]);
}

#[test]
fn a_day_without_postbacks_gets_its_reports_a_notice_and_a_warning() {
    let work = fixture();
    let output = work.run(&[
        "report",
        "daily",
        "--date",
        "2026-11-10",
        "--tz",
        NEW_YORK,
        "--out-dir",
        "reports",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let folder = Path::new("reports").join("2026-11-10");
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: warning: no postbacks occurred on 2026-11-10 (America/New_York); \
             the reports in {} say so. Check that the import ran\n",
            folder.display()
        )
    );
    let folder = work.path().join(folder);
    let notice = "No postbacks in the archive occurred on 2026-11-10 (America/New_York): the reports \
                  of this day have no rows, or only zeros. Check that the import ran.";
    let summary = read(&folder.join("summary.md"));
    assert!(
        summary.starts_with(&format!(
            "# Postback reports for 2026-11-10 (America/New_York)\n\n\
             2026-11-10T00:00:00-05:00 to 2026-11-11T00:00:00-05:00: 24 hours, 0 postbacks.\n\n\
             ## Notices\n\n- {notice}\n- The last import, run 2"
        )),
        "{summary}"
    );
    assert_eq!(manifest(&folder)["notices"][0], notice);
    assert_eq!(manifest(&folder)["postbacks_in_period"], 0);
    assert_eq!(
        read(&folder.join("retries.csv")),
        "day,postbacks,retried_postbacks,duplicate_copies,retried_pct\n2026-11-10,0,0,0,\n"
    );
    assert_eq!(read(&folder.join("pass-volume.json")), "[]\n");
    assert!(read(&folder.join("key-figures.md")).contains("| pass failure rate | n/a (none) |"));

    // --quiet keeps the warning, drops the summary line.
    let output = work.run(&[
        "--quiet",
        "report",
        "daily",
        "--date",
        "2026-11-10",
        "--out-dir",
        "reports",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output)
            .starts_with("postback-archive: warning: no postbacks occurred on 2026-11-10 (UTC);")
    );
}

#[test]
fn daily_is_quiet_with_quiet_and_defaults_to_yesterday() {
    let work = fixture();
    let yesterday = || {
        (chrono::Utc::now()
            .with_timezone(&chrono_tz::Tz::America__New_York)
            .date_naive()
            - chrono::Duration::days(1))
        .to_string()
    };
    let before = yesterday();
    let output = work.run(&[
        "--quiet",
        "report",
        "daily",
        "--tz",
        NEW_YORK,
        "--out-dir",
        "reports",
    ]);
    let after = yesterday();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    let written = names(&work.path().join("reports"));
    assert!(
        written == [before.clone()] || written == [after.clone()],
        "{written:?}"
    );
}

#[test]
fn daily_writes_one_html_page_with_every_report_and_its_chart_by_default() {
    let work = fixture();
    report(
        &work,
        &[
            "daily",
            "--date",
            "2026-11-01",
            "--tz",
            NEW_YORK,
            "--out-dir",
            "reports",
        ],
    );
    let folder = work.path().join("reports/2026-11-01");
    let files = manifest(&folder)["files"].clone();
    let files: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files[..3],
        ["key-figures.csv", "key-figures.json", "key-figures.md"]
    );
    assert_eq!(files[33..], ["summary.md", "summary.json", "index.html"]);

    let page = read(&folder.join("index.html"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<h1>Postback reports for 2026-11-01 (America/New_York)</h1>"));
    let sections: Vec<&str> = page
        .split("<section id=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        sections,
        [
            "pass-volume",
            "pass-volume-hourly",
            "failure-codes",
            "failure-reasons",
            "failure-trend",
            "carrier-delivery",
            "delivery-latency",
            "subscriptions",
            "retries",
            "import-health",
        ]
    );
    // The key figures are the cards at the top.
    assert!(page.contains(
        "<dt>pass failure rate</dt><dd><span class=\"figure\">42.9%</span> \
         <span class=\"detail\">3 of 7; 95% CI 15.8-75.0%</span></dd>"
    ));
    // The six reports whose header asks for a chart get one drawn: their chart-x and
    // chart-series columns are in their results.
    assert_eq!(page.matches("<figure class=\"chart\"").count(), 6);
    assert_eq!(page.matches("<svg").count(), 6);
    assert!(
        !page.contains("<p class=\"chart-empty\">"),
        "a chart was not drawn"
    );
}

/// The canned reports, in the order a folder holds them.
const REPORTS: [&str; 11] = [
    "key-figures",
    "pass-volume",
    "pass-volume-hourly",
    "failure-codes",
    "failure-reasons",
    "failure-trend",
    "carrier-delivery",
    "delivery-latency",
    "subscriptions",
    "retries",
    "import-health",
];

/// Issue 22: `report period` writes for a week what `report daily` writes for a day,
/// and the folder's key figures are those of `report run key-figures` over the week.
#[test]
fn period_writes_a_weeks_folder_whose_key_figures_are_the_weeks() {
    let work = fixture();
    let output = work.run(&[
        "report",
        "period",
        "--from",
        "2026-10-27",
        "--to",
        "2026-11-02",
        "--tz",
        NEW_YORK,
        "--out-dir",
        "reports",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let relative = Path::new("reports").join("2026-10-27_2026-11-02");
    assert_eq!(
        stdout(&output),
        format!(
            "wrote 37 files for 2026-10-27 to 2026-11-02 (America/New_York) to {}\n",
            relative.display()
        )
    );
    let folder = work.path().join(&relative);
    assert_eq!(
        names(&work.path().join("reports")),
        ["2026-10-27_2026-11-02"]
    );

    // The folder's key figures are the week's, in its files, summary and page.
    let week = csv(&work, "key-figures", "2026-10-27", "2026-11-02");
    assert_eq!(read(&folder.join("key-figures.csv")), week);
    let figures: Vec<serde_json::Value> = week
        .lines()
        .skip(1)
        .map(|line| {
            let (figure, value) = line.split_once(',').unwrap();
            serde_json::json!({"figure": figure, "value": value.trim_matches('"')})
        })
        .collect();
    assert_eq!(figures.len(), 21);
    assert_eq!(
        figures[0],
        serde_json::json!({"figure": "postbacks", "value": "36"})
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&folder.join("summary.json"))).unwrap();
    assert_eq!(summary["key_figures"], serde_json::Value::Array(figures));
    assert_eq!(
        (
            &summary["first_day"],
            &summary["last_day"],
            &summary["days"],
            &summary["postbacks"]
        ),
        (
            &serde_json::json!("2026-10-27"),
            &serde_json::json!("2026-11-02"),
            &serde_json::json!(7),
            &serde_json::json!(36)
        )
    );
    assert!(summary.get("date").is_none());

    // Every report covers the week, or failure-trend its 14 days ending with it, and
    // each file holds what `report run` prints for that period.
    let manifest = manifest(&folder);
    assert_eq!(manifest["format"], "postback-archive period reports 1");
    assert_eq!(manifest["first_day"], "2026-10-27");
    assert_eq!(manifest["hours"], 7 * 24 + 1);
    for (index, name) in REPORTS.iter().enumerate() {
        let from = if *name == "failure-trend" {
            "2026-10-20"
        } else {
            "2026-10-27"
        };
        let entry = &manifest["reports"][index];
        assert_eq!(
            (&entry["name"], &entry["from"]),
            (&serde_json::json!(name), &serde_json::json!(from))
        );
        for (format, ext) in [("csv", "csv"), ("json", "json"), ("markdown", "md")] {
            let printed = report(
                &work,
                &[
                    "run",
                    name,
                    "--from",
                    from,
                    "--to",
                    "2026-11-02",
                    "--tz",
                    NEW_YORK,
                    "--format",
                    format,
                ],
            );
            assert_eq!(
                read(&folder.join(format!("{name}.{ext}"))),
                printed,
                "{name}.{ext}"
            );
        }
    }

    // The page charts the week per day: one bar group a day and reference type.
    let page = read(&folder.join("index.html"));
    assert!(
        page.contains("<h1>Postback reports for 2026-10-27 to 2026-11-02 (America/New_York)</h1>")
    );
    assert!(page.contains("<figcaption>Pass generation by day and reference type</figcaption>"));
    let summary_md = read(&folder.join("summary.md"));
    assert!(
        summary_md.starts_with(
            "# Postback reports for 2026-10-27 to 2026-11-02 (America/New_York)\n\n\
             2026-10-27T00:00:00-04:00 to 2026-11-03T00:00:00-05:00: 169 hours, 36 postbacks \
             (1 dated by arrival).\n\n## Notices\n\n- 1 of the period's 36 postbacks"
        ),
        "{summary_md}"
    );
}

#[test]
fn period_refuses_a_span_that_ends_before_it_starts_and_warns_of_one_without_postbacks() {
    let work = fixture();
    let error = report_error(
        &work,
        &[
            "period",
            "--from",
            "2026-11-02",
            "--to",
            "2026-10-27",
            "--out-dir",
            "reports",
        ],
    );
    assert_eq!(
        error,
        "postback-archive: error: the period starts (--from 2026-11-02) after it ends (--to 2026-10-27)\n"
    );
    assert!(!work.path().join("reports").exists());

    let output = work.run(&[
        "report",
        "period",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-07",
        "--out-dir",
        "reports",
        "--formats",
        "csv",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let folder = Path::new("reports").join("2026-12-01_2026-12-07");
    assert_eq!(
        stderr(&output),
        format!(
            "postback-archive: warning: no postbacks occurred from 2026-12-01 to 2026-12-07 (UTC); \
             the reports in {} say so. Check that the import ran\n",
            folder.display()
        )
    );
    assert_eq!(
        manifest(&work.path().join(&folder))["notices"][0],
        "No postbacks in the archive occurred from 2026-12-01 to 2026-12-07 (UTC): the reports \
         of this period have no rows, or only zeros. Check that the import ran."
    );
}
