//! Normalizer tests: typed values, timestamps, `extra`, and the fingerprint.

use super::*;
use crate::parse::parse_file;

fn one(xml: &[u8]) -> (Postback, Vec<String>) {
    let parsed = parse_file(xml);
    assert_eq!(parsed.postbacks.len(), 1);
    let (postback, problems) = normalize(&parsed.postbacks[0]);
    (
        postback,
        problems
            .iter()
            .map(|p| p.display_for("f").to_string())
            .collect(),
    )
}

fn text(value: &str) -> Option<Value<'_>> {
    Some(Value::Text(value))
}

#[test]
fn pass_postback_gets_every_documented_field() {
    let (postback, problems) = one(include_bytes!(
        "../../tests/fixtures/reference/newer/GENERATE_PASS_N801.xml"
    ));
    assert!(problems.is_empty());
    assert_eq!(postback.get("origin"), text("GENERATE_PASS"));
    assert_eq!(postback.get("status_code"), text("N801"));
    assert_eq!(postback.get("reference_type"), text("Email"));
    assert_eq!(postback.get("reference_value"), text("sarah@mail.com"));
    assert_eq!(postback.get("custom_pass_id"), text("ID-123323"));
    assert_eq!(postback.get("pass_data_id"), Some(Value::Integer(40556)));
    assert_eq!(
        postback.get("serial_number"),
        text("5294CE37878AE-112613-113711")
    );
    // 2013-11-26T11:37:11-05:00 is 16:37:11 UTC.
    assert_eq!(postback.occurred_at, Some(1_385_483_831_000_000));
    assert_eq!(postback.utc_offset_minutes, Some(-300));
    assert_eq!(postback.extra(), None);
    assert_eq!(
        (0..COLUMNS.len()).filter_map(|i| postback.value(i)).count(),
        7
    );
}

#[test]
fn attributes_and_unknown_elements_go_to_extra() {
    let (postback, _) = one(include_bytes!(
        "../../tests/fixtures/reference/older/SMS_MT_N201.xml"
    ));
    assert_eq!(
        postback.extra(),
        Some(
            r#"{"@xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","@xsi:noNamespaceSchemaLocation":"http://www.skycore.com/schema/postback.xsd"}"#
        )
    );
    let (postback, _) = one(b"<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE><NEWFIELD>a</NEWFIELD><NEWFIELD>b</NEWFIELD><STATUSCODE>N301</STATUSCODE><CODE>N302</CODE></POSTBACK>");
    assert_eq!(
        postback.extra(),
        Some(r#"{"CODE":"N302","NEWFIELD":["a","b"]}"#)
    );
}

/// Issue 13: `<CODE>N801</CODE><STATUSCODE>N802</STATUSCODE>` was stored as status_code
/// N801 (the first of the two), and so counted as a generated pass.
#[test]
fn a_pass_with_code_n801_and_statuscode_n802_is_decided_by_its_statuscode() {
    let code_first = b"<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><CODE>N801</CODE>\
        <STATUSCODE>N802</STATUSCODE></POSTBACK>";
    let statuscode_first = b"<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN>\
        <STATUSCODE>N802</STATUSCODE><CODE>N801</CODE></POSTBACK>";
    for xml in [&code_first[..], &statuscode_first[..]] {
        let (postback, _) = one(xml);
        assert_eq!(postback.get("code"), text("N801"));
        assert_eq!(postback.get("status_code"), text("N802"));
        assert_eq!(postback.extra(), None);
    }
    // Without STATUSCODE, CODE decides; without CODE, code stays empty.
    let (message, _) = one(b"<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>N201</CODE></POSTBACK>");
    assert_eq!(message.get("code"), text("N201"));
    assert_eq!(message.get("status_code"), text("N201"));
    let (pass, _) =
        one(b"<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><statuscode>N811</statuscode></POSTBACK>");
    assert_eq!(pass.get("code"), None);
    assert_eq!(pass.get("status_code"), text("N811"));
}

#[test]
fn sms_mo_received_is_the_event_time_and_text_is_kept_verbatim() {
    let (postback, _) = one(b"<POSTBACK><ORIGIN>SMS_MO</ORIGIN><CODE>N211</CODE><TEXT> Stop  </TEXT><RECEIVED>2011-09-28T17:31:02-04:00</RECEIVED></POSTBACK>");
    assert_eq!(postback.get("message_text"), text(" Stop  "));
    assert_eq!(postback.occurred_at, Some(1_317_245_462_000_000));
    assert_eq!(postback.utc_offset_minutes, Some(-240));
}

#[test]
fn subscriber_status_short_offset() {
    let (postback, _) = one(include_bytes!(
        "../../tests/fixtures/reference/newer/SUB_N301.xml"
    ));
    assert_eq!(postback.get("campaign_id"), Some(Value::Integer(1478)));
    assert_eq!(postback.get("campaign_title"), text("My Campaign Name"));
    assert_eq!(postback.get("brand_name"), text("My Brand Name"));
    assert_eq!(postback.get("shortcode"), text("123456"));
    assert_eq!(postback.get("source"), text("API"));
    assert_eq!(postback.utc_offset_minutes, Some(-240));
}

#[test]
fn mms_mo_content_files_become_a_json_list() {
    let (postback, _) = one(include_bytes!(
        "../../tests/fixtures/reference/older/MMS_MO_N401.xml"
    ));
    assert_eq!(
        postback.get("content_urls"),
        text(r#"["URL of Content Here","URL of Content Here","URL of Content Here"]"#)
    );
    assert_eq!(postback.get("spid"), text("0001470"));
}

#[test]
fn values_that_fit_no_column_are_kept_and_reported() {
    let (postback, problems) = one(b"<POSTBACK><ORIGIN>SUB</ORIGIN><CAMPAIGNID>12a</CAMPAIGNID><TIMESTAMP>soon</TIMESTAMP></POSTBACK>");
    assert_eq!(postback.get("campaign_id"), None);
    assert_eq!(postback.occurred_at, None);
    assert_eq!(
        postback.extra(),
        Some(r#"{"CAMPAIGNID":"12a","TIMESTAMP":"soon"}"#)
    );
    assert_eq!(
        problems,
        [
            "f:1:1: bad_value: <CAMPAIGNID> \"12a\" is not a whole number; kept in extra",
            "f:1:1: bad_value: <TIMESTAMP> \"soon\" is not a timestamp; kept in extra",
        ]
    );
}

#[test]
fn a_postback_without_origin_is_stored_and_reported() {
    let (postback, problems) = one(b"<POSTBACK><CODE>N301</CODE></POSTBACK>");
    assert_eq!(postback.get("status_code"), text("N301"));
    assert_eq!(
        problems,
        ["f:1:1: bad_value: postback has no <ORIGIN>; stored with origin NULL"]
    );
}

#[test]
fn fingerprint_ignores_wrapping_and_attributes_but_not_content() {
    let alone = one(include_bytes!(
        "../../tests/fixtures/reference/older/SMS_MT_N202.xml"
    ))
    .0;
    let bundled = parse_file(
        b"<POSTBACKS>\n<POSTBACK>\n  <ORIGIN>SMS_MT</ORIGIN>\n  <CODE>N202</CODE>\n  <STATUS>Message Sent/Delivered</STATUS>\n  <TO>16503333058</TO>\n  <TRACKINGID>U01TXzgwNjc4</TRACKINGID>\n  <SPID>0001470</SPID>\n  <TIMESTAMP>2013-11-05T05:41:15-05:00</TIMESTAMP>\n  <AGGREGATORID>11529-64807-97508-73852-97658</AGGREGATORID>\n</POSTBACK></POSTBACKS>",
    );
    let bundled = normalize(&bundled.postbacks[0]).0;
    assert_eq!(alone.fingerprint, bundled.fingerprint);
    let other = parse_file(b"<POSTBACK><ORIGIN>SMS_MT</ORIGIN><CODE>N202</CODE></POSTBACK>");
    assert_ne!(
        alone.fingerprint,
        normalize(&other.postbacks[0]).0.fingerprint
    );
    let split = |a: &str, b: &str| fingerprint(&[Field::new(a, b)]);
    assert_ne!(split("AB", "C"), split("A", "BC"));
}

#[test]
fn an_empty_number_element_is_null_without_a_problem() {
    let (postback, problems) = one(b"<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N802</STATUSCODE><PASSDATAID></PASSDATAID></POSTBACK>");
    assert_eq!(postback.get("pass_data_id"), None);
    assert_eq!(postback.extra(), None);
    assert!(problems.is_empty());
}

/// Issue 8, item 1: each of these panicked in `normalize/timestamp.rs` and cost the
/// whole run. Each is now a `bad_value`, its text kept in `extra`, the postback stored.
#[test]
fn regression_multibyte_timestamp_is_a_bad_value_not_a_panic() {
    let cases: [(&str, &str); 6] = [
        ("TIMESTAMP", "2014-07-02T14:32:2\u{e9}"),
        ("TIMESTAMP", "2014-07-02T14:32:2\u{1f600}"),
        ("TIMESTAMP", "2014-07-02T14:32:2e\u{301}"),
        ("TIMESTAMP", "2014-07-02T14:32:2\u{e9}Z"),
        ("RECEIVED", "2014-07-02T14:32:2\u{e9}"),
        ("RECEIVED", "2011-09-28T17:31:0\u{1f600}-04:00"),
    ];
    for (element, value) in cases {
        let xml =
            format!("<POSTBACK><ORIGIN>SMS_MO</ORIGIN><{element}>{value}</{element}></POSTBACK>");
        let (postback, problems) = one(xml.as_bytes());
        assert_eq!(postback.occurred_at, None, "{value:?}");
        assert_eq!(postback.get("origin"), text("SMS_MO"));
        let extra = serde_json::json!({ element: value }).to_string();
        assert_eq!(postback.extra(), Some(extra.as_str()), "{value:?}");
        assert_eq!(
            problems,
            [format!(
                "f:1:1: bad_value: <{element}> {value:?} is not a timestamp; kept in extra"
            )]
        );
    }
}

#[test]
fn regression_latin1_timestamp_byte_is_a_bad_value_not_a_panic() {
    let xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<POSTBACK><ORIGIN>SUB</ORIGIN><TIMESTAMP>2014-07-02T14:32:2\xE9</TIMESTAMP></POSTBACK>";
    let (postback, problems) = one(xml);
    assert_eq!(postback.occurred_at, None);
    assert_eq!(
        postback.extra(),
        Some("{\"TIMESTAMP\":\"2014-07-02T14:32:2\u{e9}\"}")
    );
    assert_eq!(
        problems,
        [
            "f:2:1: bad_value: <TIMESTAMP> \"2014-07-02T14:32:2\u{e9}\" is not a timestamp; kept in extra"
        ]
    );
}

#[test]
fn a_huge_bad_value_makes_a_short_message_and_is_kept_whole() {
    let value = "9".repeat(100_000) + "x";
    let xml = format!("<POSTBACK><ORIGIN>SUB</ORIGIN><CAMPAIGNID>{value}</CAMPAIGNID></POSTBACK>");
    let (postback, problems) = one(xml.as_bytes());
    assert_eq!(
        problems,
        [format!(
            "f:1:1: bad_value: <CAMPAIGNID> \"{}\"… (100001 bytes) is not a whole number; kept in extra",
            "9".repeat(100)
        )]
    );
    let extra = serde_json::json!({ "CAMPAIGNID": value }).to_string();
    assert_eq!(postback.extra(), Some(extra.as_str()));
}

#[test]
fn normalize_all_adds_each_postbacks_problems_to_the_files() {
    let parsed = parse_file(b"<POSTBACKS><POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK><POSTBACK><CODE>N301</CODE></POSTBACK></POSTBACKS>");
    let mut problems = crate::problem::Problems::default();
    let postbacks = normalize_all(&parsed.postbacks, &mut problems);
    assert_eq!(postbacks.len(), 2);
    assert_eq!(postbacks[1].ordinal, 2);
    let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        ["postback has no <ORIGIN>; stored with origin NULL"]
    );
}

#[test]
fn get_of_a_name_that_is_no_column_is_none() {
    let (postback, _) = one(b"<POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK>");
    assert_eq!(postback.get("origin"), text("SUB"));
    assert_eq!(postback.get("no_such_column"), None);
}
