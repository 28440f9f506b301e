//! Sends and receipts (docs/guide.md, *Sends and receipts*), through the real binary: the
//! delivery rate over the sends whose receipt came, the receipts whose send is not in
//! the archive, key-figures reconciled with failure-codes, and the warning of a day
//! dominated by postbacks dated by their arrival. Every postback is one of the
//! documentation's own examples (newer edition, `POSTBACK_DELIVERY_REPORTS.md`) with
//! its TRACKINGID, SPID and TIMESTAMP (or MMSID) changed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Workdir, stderr, stdout};

/// The SMS MT Delivery Status examples. The N201 and E201 examples write
/// `<FROM_MASK><FROM_MASK>`; here it is the empty element the others have.
const N201: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>SMS_MT</ORIGIN>
    <CODE>N201</CODE>
    <STATUS>Message Sent</STATUS>
    <FROM>60856</FROM>
    <FROM_MASK></FROM_MASK>
    <TO>16503333058</TO>
    <TRACKINGID>U01TXzgwNjc4</TRACKINGID>
    <SPID>0001470</SPID>
    <TIMESTAMP>2013-11-05T05:41:08-05:00</TIMESTAMP>
</POSTBACK>
";

const N202: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>SMS_MT</ORIGIN>
    <CODE>N202</CODE>
    <STATUS>Message Sent/Delivered</STATUS>
    <FROM>60856</FROM>
    <FROM_MASK></FROM_MASK>
    <TO>16503333058</TO>
    <TRACKINGID>U01TXzgwNjc4</TRACKINGID>
    <SPID>0001470</SPID>
    <TIMESTAMP>2013-11-05T05:41:15-05:00</TIMESTAMP>
    <AGGREGATORID>11529-64807-97508-73852-97658</AGGREGATORID>
</POSTBACK>
";

const E201: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>SMS_MT</ORIGIN>
    <CODE>E201</CODE>
    <STATUS>Message Failed</STATUS>
    <FROM>60856</FROM>
    <FROM_MASK></FROM_MASK>
    <TO>16503333058</TO>
    <TRACKINGID>U01TXzgwNjc4</TRACKINGID>
    <SPID>0001470</SPID>
    <TIMESTAMP>2013-11-05T05:41:08-05:00</TIMESTAMP>
</POSTBACK>
";

const E202: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>SMS_MT</ORIGIN>
    <CODE>E202</CODE>
    <STATUS>Message Sent/Failed</STATUS>
    <FROM>60856</FROM>
    <FROM_MASK></FROM_MASK>
    <TO>16503333058</TO>
    <TRACKINGID>U01TXzgwNjc4</TRACKINGID>
    <SPID>0001470</SPID>
    <TIMESTAMP>2013-11-05T05:41:15-05:00</TIMESTAMP>
    <AGGREGATORID>11529-64807-97508-73852-97658</AGGREGATORID>
</POSTBACK>
";

/// The MMS MT Delivery Status examples: N101 and N102 (binary), E102, and E101, which
/// carries no TIMESTAMP.
const N101: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>MMS_MT</ORIGIN>
    <CODE>N101</CODE>
    <SENTAS>MMS</SENTAS>
    <STATUS>Message Sent</STATUS>
    <MMSID>39597</MMSID>
    <FROM>60856</FROM>
    <TO>16501112222</TO>
    <TRACKINGID>TU1TXzU5Nzg3OQ==</TRACKINGID>
    <SPID>0001570</SPID>
    <TIMESTAMP>2012-06-07T07:27:29-05:00</TIMESTAMP>
</POSTBACK>
";

const N102: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>MMS_MT</ORIGIN>
    <CODE>N102</CODE>
    <SENTAS>MMS</SENTAS>
    <STATUS>Message Sent/Delivered</STATUS>
    <MMSID>39597</MMSID>
    <FROM>60856</FROM>
    <TO>16501112222</TO>
    <TRACKINGID>TU1TXzU5Nzg3OQ==</TRACKINGID>
    <SPID>0001570</SPID>
    <TIMESTAMP>2012-06-07T07:27:34-05:00</TIMESTAMP>
    <HANDSET>motol7c</HANDSET>
    <AGGREGATORID>11529-64807-97508-73852-97658</AGGREGATORID>
</POSTBACK>
";

const E102: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>MMS_MT</ORIGIN>
    <CODE>E102</CODE>
    <STATUS>Message Sent/Rejected</STATUS>
    <MMSID>39755</MMSID>
    <FROM>60856</FROM>
    <TO>16502424956</TO>
    <TRACKINGID>TU1TXzU5Nzg3Nw==</TRACKINGID>
    <SPID>0001140</SPID>
    <TIMESTAMP>2012-06-07T07:28:09-05:00</TIMESTAMP>
    <AGGREGATORID>11529-64807-97508-73852-97658</AGGREGATORID>
    <STATUSDETAILS>Recipient blocked by mobile operator</STATUSDETAILS>
</POSTBACK>
";

const E101: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>MMS_MT</ORIGIN>
    <CODE>E101</CODE>
    <STATUS>Message Failed</STATUS>
    <MMSID>39755</MMSID>
    <FROM>60856</FROM>
    <TO>16502424956</TO>
    <TRACKINGID>TU1TXzU5Nzg3Nw==</TRACKINGID>
    <SPID>0001140</SPID>
    <STATUSDETAILS>Error fetching dynamic content</STATUSDETAILS>
</POSTBACK>
";

/// The SaveMMS Encoding Status example N003, which carries no TIMESTAMP.
const N003: &str = "<?xml version='1.0'?>
<POSTBACK>
    <ORIGIN>MMS_MT</ORIGIN>
    <CODE>N003</CODE>
    <MMSID>35674</MMSID>
</POSTBACK>
";

/// `xml` with the text of its element `name` replaced by `value`.
fn with(xml: &str, name: &str, value: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let start = xml.find(&open).unwrap() + open.len();
    let end = start + xml[start..].find(&close).unwrap();
    format!("{}{value}{}", &xml[..start], &xml[end..])
}

/// One of the examples as a send or receipt of the message `tracking_id`, on the
/// carrier `spid`, at the UTC instant `at` (`2026-11-02T10:00:00Z`).
fn message(example: &str, tracking_id: &str, spid: &str, at: &str) -> String {
    let xml = with(example, "TRACKINGID", tracking_id);
    with(&with(&xml, "SPID", spid), "TIMESTAMP", at)
}

/// Write each postback to a file of its own under `in/`, and import them.
fn import(work: &Workdir, postbacks: &[String]) {
    for (index, xml) in postbacks.iter().enumerate() {
        work.write(&format!("in/{index:03}.xml"), xml);
    }
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        work.value("SELECT count(*) FROM postbacks"),
        postbacks.len().to_string()
    );
}

/// `report run NAME` for one UTC day, as CSV lines without the header.
fn report(work: &Workdir, name: &str, day: &str) -> Vec<String> {
    let args = [
        "report", "run", name, "--from", day, "--to", day, "--format", "csv",
    ];
    let output = work.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output).lines().skip(1).map(String::from).collect()
}

/// The key figures of one UTC day, by name.
fn key_figures(work: &Workdir, day: &str) -> BTreeMap<String, String> {
    report(work, "key-figures", day)
        .iter()
        .map(|row| {
            let (figure, value) = row.split_once(',').unwrap();
            (figure.to_string(), value.trim_matches('"').to_string())
        })
        .collect()
}

/// The issue's own example: one UTC day, three SMS sends (one delivered, one failed
/// with E202, one without a receipt yet) and one delivered receipt whose send is not in
/// the archive.
fn three_sends_and_a_receipt_without_its_send() -> Workdir {
    let work = Workdir::new();
    import(
        &work,
        &[
            message(N201, "S1", "0001470", "2026-11-02T10:00:00Z"),
            message(N202, "S1", "0001470", "2026-11-02T10:00:05Z"),
            message(N201, "S2", "0001470", "2026-11-02T11:00:00Z"),
            message(E202, "S2", "0001470", "2026-11-02T11:00:09Z"),
            message(N201, "S3", "0001470", "2026-11-02T12:00:00Z"),
            // Its N201 came before the archive began, with SPID 0001000, which the two
            // editions of Appendix E place in different countries.
            message(N202, "S0", "0001000", "2026-11-02T09:00:00Z"),
        ],
    );
    work
}

#[test]
fn the_delivery_rate_is_over_the_sends_whose_receipt_came() {
    let work = three_sends_and_a_receipt_without_its_send();
    // Latencies 5 and 9 s: median 7.
    assert_eq!(
        report(&work, "key-figures", "2026-11-02"),
        [
            "postbacks,6",
            "postbacks dated by arrival,0",
            "outcome unknown,0",
            "passes generated,0",
            "passes failed,0",
            "pass failure rate,n/a (none)",
            "messages sent,3",
            "send failures,0",
            "send failure rate,0.0% (0 of 3; 95% CI 0.0-56.1%)",
            "messages delivered,1",
            "delivery failures,1",
            "delivery rate,50.0% (1 of 2; 95% CI 9.5-90.5%)",
            "sends without receipt,1",
            "receipts without a send,1",
            "receipts without a send: delivered,1",
            "receipts without a send: delivery failures,0",
            "median delivery latency,7.0 s",
            "messages received,0",
            "subscribes,0",
            "unsubscribes,0",
            "retried copies,0",
        ]
    );
    // The same per SPID; the receipt without its send gets its SPID's row, dated by
    // the receipt, and the carrier's name from both editions.
    assert_eq!(
        report(&work, "carrier-delivery", "2026-11-02"),
        [
            "0001470,United States,AT&T,3,0,1,1,0,1,50.0,9.5,90.5,0,0,0",
            "0001000,United States,All Carriers in United States (older edition: All Carriers \
             in Canada),0,0,0,0,0,0,,,,1,1,0",
        ]
    );
    // The receipt's failure-codes: the E202 of S2, on its own day.
    let failures: Vec<String> = report(&work, "failure-codes", "2026-11-02")
        .iter()
        .map(|row| row.splitn(5, ',').take(4).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(failures, ["message_receipt,E202,Message Sent/Failed,1"]);
}

#[test]
fn the_guides_example_is_what_key_figures_says() {
    let work = three_sends_and_a_receipt_without_its_send();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md"))
            .unwrap();
    let start = readme
        .find("<!-- key-figures of the example, from messages sent on")
        .expect("docs/guide.md has the example");
    let example: Vec<&str> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|line| !line.starts_with("```"))
        .collect();
    let figures: Vec<(String, String)> = report(&work, "key-figures", "2026-11-02")
        .iter()
        .skip_while(|row| !row.starts_with("messages sent,"))
        .take(example.len())
        .map(|row| {
            let (figure, value) = row.split_once(',').unwrap();
            (figure.to_string(), value.trim_matches('"').to_string())
        })
        .collect();
    let width = figures
        .iter()
        .map(|(figure, _)| figure.len())
        .max()
        .unwrap();
    let expected: Vec<String> = figures
        .iter()
        .map(|(figure, value)| format!("{figure:<width$} {value}"))
        .collect();
    assert_eq!(example.len(), 10);
    assert_eq!(example, expected);
}

#[test]
fn the_daily_summary_and_the_page_show_the_same_figures_and_say_which_clock_dates_each_report() {
    let work = three_sends_and_a_receipt_without_its_send();
    let output = work.run(&[
        "report",
        "daily",
        "--date",
        "2026-11-02",
        "--out-dir",
        "out",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let folder = work.path().join("out/2026-11-02");
    let read = |name: &str| std::fs::read_to_string(folder.join(name)).unwrap();

    let summary = read("summary.md");
    for line in [
        "| delivery rate | 50.0% (1 of 2; 95% CI 9.5-90.5%) |",
        "| sends without receipt | 1 |",
        "| receipts without a send | 1 |",
        "| receipts without a send: delivered | 1 |",
        "| receipts without a send: delivery failures | 0 |",
        "| report | title | dated by | period | rows | files |",
        "| delivery-latency | Delivery latency | the send's time | 2026-11-02 | 1 | [delivery-latency.csv](delivery-latency.csv) \
         [delivery-latency.json](delivery-latency.json) \
         [delivery-latency.md](delivery-latency.md) |",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
    let figures: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    assert_eq!(
        figures["key_figures"][11],
        serde_json::json!({"figure": "delivery rate", "value": "50.0% (1 of 2; 95% CI 9.5-90.5%)"})
    );
    let manifest: serde_json::Value = serde_json::from_str(&read("manifest.json")).unwrap();
    assert_eq!(
        manifest["reports"][0]["dated_by"],
        "the send's time; receipts without a send: the receipt's; the rest: their own"
    );

    let page = read("index.html");
    for card in [
        "<dt>delivery rate</dt><dd><span class=\"figure\">50.0%</span> \
         <span class=\"detail\">1 of 2; 95% CI 9.5-90.5%</span></dd>",
        "<dt>sends without receipt</dt><dd>1</dd>",
        "<dt>receipts without a send</dt><dd>1</dd>",
    ] {
        assert!(page.contains(card), "{card}");
    }
    assert!(page.contains(
        " Period: 2026-11-02 (UTC). Rows dated by the send&#39;s time; receipts without a \
         send (no_send): the receipt&#39;s.</p>"
    ));
}

/// Three UTC days in which every receipt, linked to its send or not, is counted
/// exactly once: 9 receipts, one of them (B's) the day after its send.
fn three_days() -> Workdir {
    let work = Workdir::new();
    import(
        &work,
        &[
            // 2026-11-02: A delivered, B failed after midnight, C (MMS) rejected; the
            // sends of X1 and X2 came before the archive; F1 was not sent.
            message(N201, "A", "0001470", "2026-11-02T10:00:00Z"),
            message(N202, "A", "0001470", "2026-11-02T10:00:07Z"),
            message(N201, "B", "0001470", "2026-11-02T23:59:00Z"),
            message(E202, "B", "0001470", "2026-11-03T00:00:30Z"),
            message(N101, "C", "0001570", "2026-11-02T12:00:00Z"),
            message(E102, "C", "0001570", "2026-11-02T12:00:05Z"),
            message(N202, "X1", "0001470", "2026-11-02T08:00:00Z"),
            message(E202, "X2", "0001470", "2026-11-02T09:00:00Z"),
            message(E201, "F1", "0001470", "2026-11-02T11:00:00Z"),
            // 2026-11-03: D (MMS) delivered, E without a receipt, X3 rejected.
            message(N101, "D", "0001570", "2026-11-03T07:27:29Z"),
            message(N102, "D", "0001570", "2026-11-03T07:27:34Z"),
            message(N201, "E", "0001470", "2026-11-03T15:00:00Z"),
            message(E102, "X3", "0001570", "2026-11-03T13:00:00Z"),
            // 2026-11-04: X4 (MMS) delivered, F delivered.
            message(N102, "X4", "0001570", "2026-11-04T06:00:00Z"),
            message(N201, "F", "0001470", "2026-11-04T09:00:00Z"),
            message(N202, "F", "0001470", "2026-11-04T09:01:00Z"),
        ],
    );
    work
}

#[test]
fn key_figures_and_failure_codes_count_every_receipt_once_and_agree() {
    let work = three_days();
    let days = ["2026-11-02", "2026-11-03", "2026-11-04"];
    let figure_names = [
        "messages sent",
        "send failures",
        "messages delivered",
        "delivery failures",
        "delivery rate",
        "sends without receipt",
        "receipts without a send",
        "receipts without a send: delivered",
        "receipts without a send: delivery failures",
    ];
    let figures: Vec<Vec<String>> = days
        .iter()
        .map(|day| {
            let all = key_figures(&work, day);
            figure_names.iter().map(|name| all[*name].clone()).collect()
        })
        .collect();
    // Sends and what followed them by the send's day; receipts without a send by theirs.
    assert_eq!(
        figures,
        [
            [
                "3",
                "1",
                "1",
                "2",
                "33.3% (1 of 3; 95% CI 6.1-79.2%)",
                "0",
                "2",
                "1",
                "1"
            ],
            [
                "2",
                "0",
                "1",
                "0",
                "100.0% (1 of 1; 95% CI 20.7-100.0%)",
                "1",
                "1",
                "0",
                "1"
            ],
            [
                "1",
                "0",
                "1",
                "0",
                "100.0% (1 of 1; 95% CI 20.7-100.0%)",
                "0",
                "1",
                "1",
                "0"
            ],
        ]
    );
    // failure-codes dates every failure by its own time: B's E202 on 2026-11-03.
    let failures_of = |day: &str, family: &str| -> Vec<String> {
        report(&work, "failure-codes", day)
            .iter()
            .filter(|row| row.starts_with(&format!("{family},")))
            .map(|row| row.splitn(5, ',').take(4).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(
        days.map(|day| failures_of(day, "message_receipt")),
        [
            vec![
                "message_receipt,E102,Message Sent/Rejected,1",
                "message_receipt,E202,Message Sent/Failed,1",
            ],
            vec![
                "message_receipt,E102,Message Sent/Rejected,1",
                "message_receipt,E202,Message Sent/Failed,1",
            ],
            vec![
                "message_receipt,E102,Message Sent/Rejected,0",
                "message_receipt,E202,Message Sent/Failed,0",
            ],
        ]
    );
    let count = |text: &str| text.parse::<i64>().unwrap();
    let sum_figures = |columns: &[usize]| -> i64 {
        figures
            .iter()
            .map(|day| columns.iter().map(|c| count(&day[*c])).sum::<i64>())
            .sum()
    };
    let sum_failures = |family: &str| -> i64 {
        days.iter()
            .flat_map(|day| failures_of(day, family))
            .map(|row| count(row.rsplit(',').next().unwrap()))
            .sum()
    };
    // Every receipt once: delivered + delivery failures through a send, plus the
    // receipts without one.
    let receipts =
        work.value("SELECT count(*) FROM outbound_messages WHERE family = 'message_receipt'");
    assert_eq!(receipts, "9");
    assert_eq!(sum_figures(&[2, 3, 6]), 9);
    // The failed receipts agree over the days, and the send failures day by day.
    assert_eq!(sum_figures(&[3, 8]), 4);
    assert_eq!(sum_failures("message_receipt"), 4);
    assert_eq!(sum_figures(&[1]), 1);
    assert_eq!(sum_failures("message_send"), 1);
    // The same days as one period: both count B's failure once.
    let period = |name: &str| {
        let args = [
            "report", "run", name, "--from", days[0], "--to", days[2], "--format", "csv",
        ];
        let output = work.run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout(&output)
    };
    assert!(period("key-figures").contains("\ndelivery failures,2\n"));
    assert!(period("key-figures").contains("\nreceipts without a send: delivery failures,2\n"));
    assert!(period("failure-codes").contains("\nmessage_receipt,E102,Message Sent/Rejected,2,"));
    assert!(period("failure-codes").contains("\nmessage_receipt,E202,Message Sent/Failed,2,"));
}

#[test]
fn a_receipt_weeks_after_its_send_has_one_and_a_receipt_before_its_only_send_has_none() {
    let work = Workdir::new();
    import(
        &work,
        &[
            // L's receipt comes 13 days after its send, beyond the week before the
            // period in which sends are looked for first.
            message(N201, "L", "0001470", "2026-10-20T10:00:00Z"),
            message(N202, "L", "0001470", "2026-11-02T10:00:00Z"),
            // Z's receipt is dated before the only send with its TRACKINGID.
            message(E202, "Z", "0001470", "2026-11-02T08:00:00Z"),
            message(N201, "Z", "0001470", "2026-11-02T09:00:00Z"),
        ],
    );
    let figures = |day: &str| {
        let all = key_figures(&work, day);
        [
            "messages sent",
            "messages delivered",
            "delivery failures",
            "sends without receipt",
            "receipts without a send",
            "receipts without a send: delivery failures",
            "median delivery latency",
        ]
        .map(|name| all[name].clone())
    };
    assert_eq!(
        figures("2026-10-20"),
        ["1", "1", "0", "0", "0", "0", "1123200.0 s"]
    );
    assert_eq!(figures("2026-11-02"), ["1", "0", "0", "1", "1", "1", "n/a"]);
}

/// `count` copies of a postback without a timestamp, each with its own MMSID (or the
/// platform's retry of one would be stored once), in files last modified at `arrival`.
fn without_timestamp(work: &Workdir, example: &str, count: u32, first_mmsid: u32, arrival: u64) {
    for n in 0..count {
        let mmsid = first_mmsid + n;
        let path = work.write(
            &format!("in/{mmsid}.xml"),
            with(example, "MMSID", &mmsid.to_string()),
        );
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(arrival))
            .unwrap();
    }
}

#[test]
fn a_day_dominated_by_postbacks_dated_by_arrival_is_warned_of_with_their_codes() {
    let work = Workdir::new();
    // 2026-11-05: 8 of 10 postbacks arrived at 12:00 UTC without a timestamp (as when
    // files are copied without their times). 2026-11-06: 1 of 5, exactly a fifth.
    without_timestamp(&work, E101, 5, 100, 1_793_880_000);
    without_timestamp(&work, N003, 3, 200, 1_793_880_000);
    without_timestamp(&work, N003, 1, 300, 1_793_966_400);
    for (n, at) in [
        "2026-11-05T09:00:00Z",
        "2026-11-05T10:00:00Z",
        "2026-11-06T09:00:00Z",
        "2026-11-06T10:00:00Z",
        "2026-11-06T11:00:00Z",
        "2026-11-06T12:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        work.write(
            &format!("in/sent-{n}.xml"),
            message(N201, &format!("T{n}"), "0001470", at),
        );
    }
    let output = work.run(&["import", "in"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let daily = |date: &str| {
        let output = work.run(&["report", "daily", "--date", date, "--out-dir", "out"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let folder = work.path().join("out").join(date);
        let read = |name: &str| std::fs::read_to_string(folder.join(name)).unwrap();
        (read("summary.md"), read("index.html"))
    };

    let warning = "Warning: 8 of the day's 10 postbacks (80.0%) carry no timestamp of their \
         own and are dated by when they arrived, by code: E101 5, N003 3. More than 20% of a \
         day is unusual: files copied without their modification times (cp without -p, rsync \
         without -t) put every such postback of an archive on the day of the copy. If that \
         happened, this day's send failures (E101), subscriptions and saved-MMS results are \
         not this day's; \"Keeping file times\" in docs/guide.md says how to copy an archive.";
    let (summary, page) = daily("2026-11-05");
    assert!(
        summary.starts_with(&format!(
            "# Postback reports for 2026-11-05 (UTC)\n\n\
             2026-11-05T00:00:00+00:00 to 2026-11-06T00:00:00+00:00: 24 hours, 10 postbacks \
             (8 dated by arrival: 80.0%, see the warning).\n\n## Notices\n\n- {warning}\n\n"
        )),
        "{summary}"
    );
    assert!(page.contains(&format!(
        "<div class=\"notices\" role=\"status\">\n<p class=\"notice\">{}</p>\n</div>",
        warning.replace('\'', "&#39;").replace('"', "&quot;")
    )));
    assert!(page.contains("10 postbacks (8 dated by arrival: 80.0%, see the warning); written "));

    let (summary, page) = daily("2026-11-06");
    let notice = "1 of the day's 5 postbacks carry no timestamp of their own (EMAIL_SUB, \
         older-edition SUB, saved-MMS results, MMS send failures): the reports date them by \
         when they arrived (received_at; for imported files, the file's modification time).";
    assert!(
        summary.contains(&format!(
            "5 postbacks (1 dated by arrival).\n\n## Notices\n\n- {notice}\n\n"
        )),
        "{summary}"
    );
    assert!(!page.contains("Warning:"));
}
