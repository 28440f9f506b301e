//! Parser tests: every anatomy in both editions of the reference, and each malformed shape.

use super::parser::is_container;
use super::*;
use crate::problem::ProblemKind;

macro_rules! reference {
    ($edition:literal, $name:literal) => {
        include_bytes!(concat!(
            "../../tests/fixtures/reference/",
            $edition,
            "/",
            $name,
            ".xml"
        ))
    };
}

fn fields<'a>(postback: &'a RawPostback<'_>) -> Vec<(&'a str, &'a str)> {
    postback
        .fields
        .iter()
        .map(|f| (f.name.as_ref(), f.value.as_ref()))
        .collect()
}

fn problems(parsed: &ParsedFile<'_>) -> Vec<String> {
    parsed
        .problems
        .iter()
        .map(|p| p.display_for("f.xml").to_string())
        .collect()
}

/// The first field's value (the `<ORIGIN>`) of each postback.
fn origins<'a>(parsed: &'a ParsedFile<'_>) -> Vec<&'a str> {
    parsed
        .postbacks
        .iter()
        .map(|p| p.fields[0].value.as_ref())
        .collect()
}

fn only_postback(bytes: &[u8]) -> RawPostback<'static> {
    let parsed = parse_file(bytes);
    assert_eq!(
        parsed.postbacks.len(),
        1,
        "problems: {:?}",
        problems(&parsed)
    );
    parsed.postbacks.into_iter().next().unwrap()
}

#[test]
fn older_sms_mt_n201_with_namespace_attributes() {
    let parsed = parse_file(reference!("older", "SMS_MT_N201"));
    assert!(parsed.problems.is_empty(), "{:?}", problems(&parsed));
    let postback = &parsed.postbacks[0];
    assert_eq!(postback.position, Position::new(2, 1));
    assert_eq!(postback.ordinal, 1);
    assert_eq!(
        fields(postback),
        [
            ("ORIGIN", "SMS_MT"),
            ("CODE", "N201"),
            ("STATUS", "Message Sent"),
            ("TO", "16503333058"),
            ("TRACKINGID", "U01TXzgwNjc4"),
            ("SPID", "0001470"),
            ("TIMESTAMP", "2013-11-05T05:41:08-05:00"),
        ]
    );
    let attributes: Vec<_> = postback
        .attributes
        .iter()
        .map(|f| f.name.as_ref())
        .collect();
    assert_eq!(attributes, ["xmlns:xsi", "xsi:noNamespaceSchemaLocation"]);
    assert_eq!(
        postback.attributes[1].value,
        "http://www.skycore.com/schema/postback.xsd"
    );
}

#[test]
fn older_pass_postback_joins_the_line_broken_attribute() {
    let parsed = parse_file(reference!("older", "GENERATE_PASS_N801"));
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:1: salvaged: attribute name broken across lines (\"xsi:no\" + \"NamespaceSchemaLocation\") read as \"xsi:noNamespaceSchemaLocation\""
        ]
    );
    let postback = &parsed.postbacks[0];
    assert_eq!(postback.attributes[1].name, "xsi:noNamespaceSchemaLocation");
    assert_eq!(
        fields(postback),
        [
            ("ORIGIN", "GENERATE_PASS"),
            ("STATUSCODE", "N801"),
            ("REFERENCEDBY", "Email"),
            ("REFERENCEVALUE", "vikmut@mail.com"),
            ("CUSTOMPASSID", "ID-123323"),
            ("PASSDATAID", "40556"),
            ("SERIALNUMBER", "5294CE37878AE-112613-113711"),
            ("TIMESTAMP", "2013-11-26T11:37:11-05:00"),
        ]
    );
}

#[test]
fn older_mms_mo_fields_inside_notification_with_file_list() {
    let postback = only_postback(reference!("older", "MMS_MO_N401"));
    assert_eq!(
        postback.position,
        Position::new(2, 3),
        "the <NOTIFICATION> holds the fields"
    );
    assert_eq!(
        fields(&postback),
        [
            ("ORIGIN", "MMS_MO"),
            ("CODE", "N401"),
            ("FROM", "13217949521"),
            ("TO", "74700"),
            ("KEYWORD", "all"),
            ("TRACKINGID", "MMS_MO_iLnCRrL6"),
            ("SPID", "0001470"),
            ("TIMESTAMP", "2014-02-03T11:19:49-05:00"),
            ("CONTENT/FILE", "URL of Content Here"),
            ("CONTENT/FILE", "URL of Content Here"),
            ("CONTENT/FILE", "URL of Content Here"),
        ]
    );
}

#[test]
fn older_e101_unclosed_statusdetails_is_salvaged() {
    let parsed = parse_file(reference!("older", "MMS_MT_E101"));
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:11:3: salvaged: <STATUSDETAILS> opened at line 11 was never closed; closed by </POSTBACK>"
        ]
    );
    let postback = &parsed.postbacks[0];
    assert_eq!(
        postback.fields.last().unwrap(),
        &Field::new(
            "STATUSDETAILS",
            "Error fetching object(Database Error: Could not find number/email imported in database)\n"
        )
    );
    assert_eq!(postback.fields.len(), 8);
}

#[test]
fn an_unclosed_field_followed_by_fields_keeps_them_as_siblings() {
    let xml = b"<POSTBACK>\n<ORIGIN>MMS_MT</ORIGIN><CODE>E101</CODE>\n<STATUSDETAILS>Error fetching object\n<TIMESTAMP>2014-02-03T11:19:49-05:00</TIMESTAMP>\n<SPID>0001140</SPID>\n</POSTBACK>\n</STATUSDETAILS>\n";
    let parsed = parse_file(xml);
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:3:1: salvaged: <STATUSDETAILS> opened at line 3 was never closed; closed before <TIMESTAMP>",
            "f.xml:7:1: malformed_xml: closing tag </STATUSDETAILS> has no matching start tag; ignored",
        ]
    );
    assert_eq!(
        fields(&parsed.postbacks[0]),
        [
            ("ORIGIN", "MMS_MT"),
            ("CODE", "E101"),
            ("STATUSDETAILS", "Error fetching object\n"),
            ("TIMESTAMP", "2014-02-03T11:19:49-05:00"),
            ("SPID", "0001140"),
        ]
    );
}

#[test]
fn newer_doubled_from_mask_is_read_as_empty() {
    for (name, bytes) in [
        ("SMS_MT_N201", &reference!("newer", "SMS_MT_N201")[..]),
        ("SMS_MT_E201", &reference!("newer", "SMS_MT_E201")[..]),
    ] {
        let parsed = parse_file(bytes);
        assert_eq!(
            problems(&parsed),
            [
                "f.xml:7:16: salvaged: <FROM_MASK><FROM_MASK> read as an empty <FROM_MASK></FROM_MASK>"
            ],
            "{name}"
        );
        let names: Vec<_> = parsed.postbacks[0]
            .fields
            .iter()
            .map(|f| f.name.as_ref())
            .collect();
        assert_eq!(
            names,
            [
                "ORIGIN",
                "CODE",
                "STATUS",
                "FROM",
                "FROM_MASK",
                "TO",
                "TRACKINGID",
                "SPID",
                "TIMESTAMP"
            ],
            "{name}"
        );
        assert_eq!(parsed.postbacks[0].fields[4].value, "");
    }
}

#[test]
fn every_reference_example_yields_one_postback_with_origin_and_code() {
    let examples: &[(&str, &[u8])] = &[
        (
            "older/EMAIL_SUB_N303",
            reference!("older", "EMAIL_SUB_N303"),
        ),
        (
            "older/EMAIL_SUB_N304",
            reference!("older", "EMAIL_SUB_N304"),
        ),
        ("older/MMS_MT_E002", reference!("older", "MMS_MT_E002")),
        ("older/MMS_MT_N003", reference!("older", "MMS_MT_N003")),
        ("older/MMS_MT_N101", reference!("older", "MMS_MT_N101")),
        ("older/MMS_MT_N101_2", reference!("older", "MMS_MT_N101_2")),
        ("older/MMS_MT_N101_3", reference!("older", "MMS_MT_N101_3")),
        ("older/MMS_MT_N102", reference!("older", "MMS_MT_N102")),
        ("older/MMS_MT_N202", reference!("older", "MMS_MT_N202")),
        ("older/MMS_MT_N202_2", reference!("older", "MMS_MT_N202_2")),
        ("older/SMS_MO_N211", reference!("older", "SMS_MO_N211")),
        ("older/SMS_MT_N202", reference!("older", "SMS_MT_N202")),
        ("older/SUB_N301", reference!("older", "SUB_N301")),
        ("older/SUB_N302", reference!("older", "SUB_N302")),
        (
            "newer/EMAIL_SUB_N303",
            reference!("newer", "EMAIL_SUB_N303"),
        ),
        (
            "newer/EMAIL_SUB_N304",
            reference!("newer", "EMAIL_SUB_N304"),
        ),
        (
            "newer/GENERATE_PASS_N801",
            reference!("newer", "GENERATE_PASS_N801"),
        ),
        ("newer/MMS_MO_N401", reference!("newer", "MMS_MO_N401")),
        ("newer/MMS_MT_E002", reference!("newer", "MMS_MT_E002")),
        ("newer/MMS_MT_E101", reference!("newer", "MMS_MT_E101")),
        ("newer/MMS_MT_E102", reference!("newer", "MMS_MT_E102")),
        ("newer/MMS_MT_N003", reference!("newer", "MMS_MT_N003")),
        ("newer/MMS_MT_N101", reference!("newer", "MMS_MT_N101")),
        ("newer/MMS_MT_N101_2", reference!("newer", "MMS_MT_N101_2")),
        ("newer/MMS_MT_N102", reference!("newer", "MMS_MT_N102")),
        ("newer/MMS_MT_N202", reference!("newer", "MMS_MT_N202")),
        ("newer/SMS_MO_N211", reference!("newer", "SMS_MO_N211")),
        ("newer/SMS_MT_E202", reference!("newer", "SMS_MT_E202")),
        ("newer/SMS_MT_N202", reference!("newer", "SMS_MT_N202")),
        ("newer/SUB_N301", reference!("newer", "SUB_N301")),
        ("newer/SUB_N302", reference!("newer", "SUB_N302")),
    ];
    for (name, bytes) in examples {
        let parsed = parse_file(bytes);
        assert!(
            parsed.problems.is_empty(),
            "{name}: {:?}",
            problems(&parsed)
        );
        assert_eq!(parsed.postbacks.len(), 1, "{name}");
        let postback = &parsed.postbacks[0];
        assert_eq!(postback.fields[0].name, "ORIGIN", "{name}");
        assert!(
            ["CODE", "STATUSCODE"].contains(&postback.fields[1].name.as_ref()),
            "{name}"
        );
        assert!(
            postback.fields.iter().all(|f| !f.value.contains('<')),
            "{name}"
        );
    }
}

#[test]
fn newer_mms_mo_has_subject_and_no_notification_wrapper() {
    let postback = only_postback(reference!("newer", "MMS_MO_N401"));
    assert_eq!(postback.fields[5], Field::new("SUBJECT", "Hello there"));
    let files = postback
        .fields
        .iter()
        .filter(|f| f.name == "CONTENT/FILE")
        .count();
    assert_eq!(files, 3);
}

#[test]
fn a_bundle_under_any_wrapper_yields_each_postback_in_order() {
    let xml = b"<?xml version='1.0'?>\n<NOTIFICATIONS>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE></POSTBACK>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N302</CODE></POSTBACK>\n  <POSTBACK><ORIGIN>SMS_MO</ORIGIN><CODE>N211</CODE></POSTBACK>\n</NOTIFICATIONS>\n";
    let parsed = parse_file(xml);
    assert!(parsed.problems.is_empty());
    let summary: Vec<_> = parsed
        .postbacks
        .iter()
        .map(|p| (p.ordinal, p.position, p.fields[1].value.as_ref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Position::new(3, 1), "N301"),
            (2, Position::new(4, 1), "N302"),
            (3, Position::new(5, 3), "N211")
        ]
    );
}

#[test]
fn concatenated_documents_each_yield_their_postback() {
    let xml = b"<?xml version='1.0'?><POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE></POSTBACK>\r\n<?xml version='1.0'?>\r\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N302</CODE></POSTBACK>";
    let parsed = parse_file(xml);
    assert!(parsed.problems.is_empty(), "{:?}", problems(&parsed));
    assert_eq!(parsed.postbacks.len(), 2);
    assert_eq!(parsed.postbacks[1].position, Position::new(3, 1));
}

#[test]
fn text_cdata_entities_and_crlf_are_read_exactly() {
    let xml = "<POSTBACK>\r\n<ORIGIN>SMS_MO</ORIGIN><TEXT><![CDATA[a <b> & c]]></TEXT><SUBJECT>Tom &amp; Jerry &#8211; &lt;3</SUBJECT><STATUSDETAILS>line1\r\nline2</STATUSDETAILS></POSTBACK>";
    let postback = only_postback(xml.as_bytes());
    assert_eq!(
        fields(&postback),
        [
            ("ORIGIN", "SMS_MO"),
            ("TEXT", "a <b> & c"),
            ("SUBJECT", "Tom & Jerry – <3"),
            ("STATUSDETAILS", "line1\nline2")
        ]
    );
}

#[test]
fn empty_elements_in_both_spellings_are_empty_fields() {
    let postback = only_postback(
        b"<POSTBACK><ORIGIN>SMS_MT</ORIGIN><FROM_MASK/><HANDSET></HANDSET></POSTBACK>",
    );
    assert_eq!(
        fields(&postback),
        [("ORIGIN", "SMS_MT"), ("FROM_MASK", ""), ("HANDSET", "")]
    );
}

#[test]
fn bom_and_latin1_declaration() {
    let postback = only_postback(b"\xEF\xBB\xBF<POSTBACK><ORIGIN>SMS_MO</ORIGIN></POSTBACK>");
    assert_eq!(postback.fields[0].value, "SMS_MO");
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<POSTBACK><ORIGIN>SMS_MO</ORIGIN><TEXT>Ol\xE1</TEXT></POSTBACK>";
    assert_eq!(only_postback(latin1).fields[1].value, "Olá");
}

#[test]
fn truncated_bundle_keeps_the_complete_postbacks() {
    let xml = b"<POSTBACKS>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE></POSTBACK>\n<POSTBACK>\n<ORIGIN>SUB</ORIGIN>\n<CODE>N3";
    let parsed = parse_file(xml);
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:5:9: truncated: the file ends inside <CODE> opened at line 5; the postback that starts at line 3 is not stored"
        ]
    );
}

#[test]
fn truncated_inside_a_tag_is_reported_where_the_tag_starts() {
    let parsed = parse_file(b"<POSTBACK><ORIGIN>SUB</ORIGIN><CO");
    assert!(parsed.postbacks.is_empty());
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:31: truncated: the file ends inside markup (syntax error: tag not closed: `>` not found before end of input); the postback that starts at line 1 is not stored"
        ]
    );
}

#[test]
fn a_syntax_error_loses_only_its_own_postback() {
    let xml = b"<POSTBACKS>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE></POSTBACK>\n<POSTBACK><ORIGIN>SUB</ORIGIN><!- broken -><CODE>N302</CODE></POSTBACK>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N303</CODE></POSTBACK>\n</POSTBACKS>";
    let parsed = parse_file(xml);
    let codes: Vec<_> = parsed
        .postbacks
        .iter()
        .map(|p| p.fields[1].value.as_ref())
        .collect();
    assert_eq!(codes, ["N301", "N303"]);
    assert_eq!(parsed.postbacks[1].ordinal, 2);
    assert_eq!(parsed.problems.len(), 1, "{:?}", problems(&parsed));
    assert_eq!(parsed.problems[0].kind, ProblemKind::MalformedXml);
    assert_eq!(parsed.problems[0].position, Position::new(3, 31));
    assert!(
        parsed.problems[0]
            .message
            .ends_with("; the postback that starts at line 3 is not stored")
    );
}

#[test]
fn non_postback_inputs_are_named_for_what_they_are() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "f.xml: empty_file: the file is empty"),
        (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "f.xml:1:1: not_xml: an HTML page (<html>), not a postback",
        ),
        (
            b"<!DOCTYPE html>\n<HTML><BODY>err</BODY></HTML>",
            "f.xml:1:1: not_xml: an HTML page (<html>), not a postback",
        ),
        (
            b"<?xml version='1.0'?><status>ok</status>",
            "f.xml: no_postbacks: well-formed XML, but no postback in it",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "f.xml: not_xml: binary content (a NUL byte at offset 8), not XML",
        ),
    ];
    for (bytes, expected) in cases {
        let parsed = parse_file(bytes);
        assert!(parsed.postbacks.is_empty());
        assert_eq!(problems(&parsed), [expected.to_string()]);
    }
}

#[test]
fn wrapper_fields_and_stray_end_tags_are_reported_not_dropped() {
    let xml = b"<BATCH><COUNT>1</COUNT><POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK></TRAILER></BATCH>";
    let parsed = parse_file(xml);
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:65: malformed_xml: closing tag </TRAILER> has no matching start tag; ignored",
            "f.xml:1:1: stray_content: content of <BATCH> outside any postback: COUNT=\"1\"",
        ]
    );
}

#[test]
fn bare_ampersand_and_unknown_entity_are_kept_as_text() {
    let parsed =
        parse_file(b"<POSTBACK><ORIGIN>SMS_MO</ORIGIN><TEXT>AT&T &nbsp;ok</TEXT></POSTBACK>");
    assert_eq!(parsed.postbacks[0].fields[1].value, "AT&T &nbsp;ok");
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:42: salvaged: a bare '&' in <TEXT> kept as text",
            "f.xml:1:45: salvaged: unknown entity &nbsp; in <TEXT> kept as text",
        ]
    );
}

#[test]
fn attributes_of_a_postback_wrapping_a_notification_stay_with_it() {
    let xml = b"<POSTBACK xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n<NOTIFICATION id=\"9\"><ORIGIN>MMS_MO</ORIGIN><CODE>N401</CODE></NOTIFICATION>\n</POSTBACK>\n";
    let postback = only_postback(xml);
    assert_eq!(
        postback.attributes,
        [
            Field::new("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            Field::new("id", "9"),
        ]
    );
    assert_eq!(fields(&postback), [("ORIGIN", "MMS_MO"), ("CODE", "N401")]);
}

#[test]
fn unknown_nested_groups_and_attributes_become_path_fields() {
    let xml = b"<POSTBACK id=\"7\"><ORIGIN>X</ORIGIN><META kind=\"a\"><K>v</K></META><FILE type=\"img\">u</FILE>text</POSTBACK>";
    let postback = only_postback(xml);
    assert_eq!(postback.attributes, [Field::new("id", "7")]);
    assert_eq!(
        fields(&postback),
        [
            ("ORIGIN", "X"),
            ("META/@kind", "a"),
            ("META/K", "v"),
            ("FILE/@type", "img"),
            ("FILE", "u"),
            ("#text", "text")
        ]
    );
}

#[test]
fn text_between_documents_is_reported() {
    let parsed = parse_file(b"<POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK>\nHTTP/1.1 200 OK\n");
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(
        problems(&parsed),
        ["f.xml:2:1: stray_content: text outside any element: \"HTTP/1.1 200 OK\""]
    );
}

/// Issue 8, item 3: each `<A>` opened a frame, so 63 MiB of nesting took gigabytes.
#[test]
fn regression_nesting_bomb_is_one_problem_and_the_next_postback_is_read() {
    let mut xml = String::from("<POSTBACKS>\n<POSTBACK><ORIGIN>SUB</ORIGIN>\n");
    xml.push_str(&"<A><B>".repeat(100_000));
    xml.push_str("\n<POSTBACK><ORIGIN>SMS_MO</ORIGIN></POSTBACK>\n</POSTBACKS>");
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(origins(&parsed), ["SMS_MO"]);
    let reported = problems(&parsed);
    assert_eq!(
        reported[0],
        "f.xml:3:97: malformed_xml: <A> would name a field by a path longer than 64 bytes; the postback that starts at line 2 is not stored"
    );
    assert_eq!(parsed.problems.total(), 1);
    assert!(
        parsed.steps < 4 * xml.len() as u64,
        "{} steps",
        parsed.steps
    );
}

#[test]
fn deep_content_nesting_without_a_later_postback_ends_the_file() {
    let xml = "<POSTBACK><ORIGIN>MMS_MO</ORIGIN>".to_string() + &"<CONTENT>".repeat(1000);
    let parsed = parse_file(xml.as_bytes());
    assert!(parsed.postbacks.is_empty());
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:106: malformed_xml: <CONTENT> would name a field by a path longer than 64 bytes; the postback that starts at line 1 is not stored"
        ]
    );
    // Postbacks in postbacks name no fields by paths: the depth limit ends them, and
    // reading resumes at the next `<POSTBACK`, 65 tags on.
    let nested = "<POSTBACK>".repeat(1000);
    let reported = problems(&parse_file(nested.as_bytes()));
    assert_eq!(
        reported[0],
        "f.xml:1:641: malformed_xml: <POSTBACK> is nested more than 64 elements deep; the postback that starts at line 1 is not stored"
    );
    assert_eq!(reported.len(), 1000 / 65 + 1, "{reported:?}");
}

#[test]
fn a_long_name_above_many_fields_is_refused_before_it_multiplies() {
    // Each nested field is named by its path: 10,000 fields under one 40 KB name would
    // be 400 MB of names.
    let name = "N".repeat(40_000);
    let xml = format!(
        "<POSTBACKS><POSTBACK><ORIGIN>SUB</ORIGIN><{name}>{}</{name}></POSTBACK>\n<POSTBACK><ORIGIN>SMS_MO</ORIGIN></POSTBACK></POSTBACKS>",
        "<A/>".repeat(9_000)
    );
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(
        problems(&parsed)[0],
        format!(
            "f.xml:1:42: malformed_xml: <{}…> would name a field by a path longer than 64 bytes; the postback that starts at line 1 is not stored",
            "N".repeat(60)
        )
    );
}

#[test]
fn fields_past_their_memory_budget_end_the_file_with_one_problem() {
    // Valueless attributes cost two bytes of text and a field of 48 bytes each.
    let tag = format!("<X{}/>", " a".repeat(MAX_ATTRIBUTES));
    let postback = format!(
        "<POSTBACK><ORIGIN>SUB</ORIGIN>{}</POSTBACK>\n",
        tag.repeat(30)
    );
    let xml = format!("<POSTBACKS>\n{}</POSTBACKS>", postback.repeat(200));
    let parsed = parse_file(xml.as_bytes());
    assert!(
        !parsed.postbacks.is_empty() && parsed.postbacks.len() < 200,
        "{}",
        parsed.postbacks.len()
    );
    let reported = problems(&parsed);
    assert_eq!(reported.len(), 1, "{reported:?}");
    let stored = parsed.postbacks.len() + 2;
    assert!(
        reported[0].starts_with(&format!(
            "f.xml:{stored}:"
        )) && reported[0].contains(
            ": malformed_xml: the fields read so far take more than 16 bytes of memory per byte of the file; the rest of the file, from line "
        ) && reported[0].ends_with(&format!(
            "is not read, nor the postback that starts at line {stored}. Repair or remove the damaged part and import the file again"
        )),
        "{}",
        reported[0]
    );
}

#[test]
fn doubled_empty_elements_by_the_million_cost_one_hundred_messages() {
    let xml = "<A>".repeat(2_000_000);
    let parsed = parse_file(xml.as_bytes());
    assert!(parsed.postbacks.is_empty());
    assert_eq!(parsed.problems.total(), 1_000_000);
    let stored = parsed.problems.into_vec();
    assert_eq!(stored.len(), 101);
    assert_eq!(
        stored[100].message,
        "999900 more problem(s) in this file were not stored (salvaged 999900); the first 100 are"
    );
}

#[test]
fn an_element_with_too_many_fields_is_skipped_to_the_next_postback() {
    let mut xml = String::from("<POSTBACKS><POSTBACK><ORIGIN>SUB</ORIGIN>");
    xml.push_str(&"<F>1</F>".repeat(MAX_FIELDS + 5));
    xml.push_str("</POSTBACK><POSTBACK><ORIGIN>SMS_MO</ORIGIN></POSTBACK></POSTBACKS>");
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(origins(&parsed), ["SMS_MO"]);
    assert_eq!(
        problems(&parsed)[0],
        "f.xml:1:80034: malformed_xml: <POSTBACK> opened at line 1 holds more than 10000 fields; the postback that starts at line 1 is not stored"
    );
}

#[test]
fn a_tag_with_too_many_attributes_is_skipped_to_the_next_postback() {
    let attributes: String = (0..=MAX_ATTRIBUTES)
        .map(|i| format!(" a{i}=\"v\""))
        .collect();
    let xml = format!(
        "<POSTBACKS><POSTBACK><ORIGIN>SUB</ORIGIN><X{attributes}/></POSTBACK>\n<POSTBACK><ORIGIN>SMS_MO</ORIGIN></POSTBACK></POSTBACKS>"
    );
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(
        problems(&parsed)[0],
        "f.xml:1:42: malformed_xml: <X> has more than 256 attributes; the postback that starts at line 1 is not stored"
    );
}

#[test]
fn unclosed_comments_by_the_thousand_stop_within_the_reading_budget() {
    // Each `<!--` is left open to the end, so each resume reads to the end again.
    let xml = "<POSTBACK><ORIGIN>SUB</ORIGIN><!--".repeat(20_000);
    let parsed = parse_file(xml.as_bytes());
    assert!(parsed.postbacks.is_empty());
    let limit = (SCAN_FACTOR + 2) * xml.len() + SCAN_SLACK;
    assert!(parsed.steps <= limit as u64, "{} steps", parsed.steps);
    let stored = parsed.problems.into_vec();
    let last = stored
        .iter()
        .rfind(|p| p.kind == ProblemKind::MalformedXml)
        .unwrap();
    assert!(
        last.message.starts_with("too many syntax errors that leave markup open to the end of the file; the rest of the file, from line 1 ("),
        "{}",
        last.message
    );
}

#[test]
fn a_tag_left_open_to_the_end_stops_the_reading_at_once() {
    let xml = "<POSTBACK ".repeat(100_000);
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(
        problems(&parsed),
        [
            "f.xml:1:1: truncated: the file ends inside markup (syntax error: tag not closed: `>` not found before end of input)"
        ]
    );
    assert!(
        parsed.steps <= 2 * xml.len() as u64,
        "{} steps",
        parsed.steps
    );
}

#[test]
fn a_tag_ending_in_a_long_run_of_spaces_is_read_in_one_pass() {
    let xml = format!(
        "<POSTBACK a=\"1\"{} b{}><ORIGIN>SUB</ORIGIN></POSTBACK>",
        " x".repeat(200),
        " ".repeat(1_000_000)
    );
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(parsed.postbacks.len(), 1);
    assert_eq!(parsed.postbacks[0].attributes.len(), 202);
}

/// The blank text before a container's first child was trimmed again at every child:
/// 8 MB of blanks before 9,000 children took 72 GB of scanning. Without the fix this
/// test does not finish; with it, the blanks are read once.
#[test]
fn regression_blanks_before_many_children_were_rescanned_at_each_child() {
    let xml = format!(
        "<POSTBACK><ORIGIN>SUB</ORIGIN>{}x{}</POSTBACK>",
        " ".repeat(8 << 20),
        "<A/>".repeat(9_000)
    );
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(parsed.postbacks[0].fields.len(), 1 + 9_000 + 1);
    assert_eq!(
        parsed.postbacks[0].fields.last().unwrap(),
        &Field::new("#text", "x")
    );
}

#[test]
fn utf16_without_a_byte_order_mark_is_read() {
    let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><POSTBACK><ORIGIN>SUB</ORIGIN><TEXT>\u{e9}</TEXT></POSTBACK>";
    for little in [true, false] {
        let bytes: Vec<u8> = text
            .encode_utf16()
            .flat_map(|u| {
                if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                }
            })
            .collect();
        let postback = only_postback(&bytes);
        assert_eq!(postback.fields[1], Field::new("TEXT", "\u{e9}"));
    }
}

#[test]
fn broken_utf16_is_read_with_replacement_characters_and_reported() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "<POSTBACK><ORIGIN>SUB</ORIGIN><TEXT>".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes.extend_from_slice(&0xD800u16.to_le_bytes());
    for unit in "</TEXT></POSTBACK>".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes.push(b'\n');
    let parsed = parse_file(&bytes);
    assert_eq!(
        parsed.postbacks[0].fields[1],
        Field::new("TEXT", "\u{fffd}")
    );
    assert_eq!(
        problems(&parsed),
        [
            "f.xml: encoding: not valid UTF-16 (1 lone surrogate(s), an odd last byte); read as U+FFFD",
            "f.xml:1:58: stray_content: text outside any element: \"\u{fffd}\"",
        ]
    );
    let nul: Vec<u8> = [0xFF, 0xFE, b'<', 0, 0, 0].to_vec();
    assert_eq!(
        problems(&parse_file(&nul)),
        ["f.xml: not_xml: binary content (a NUL character in UTF-16 text), not XML"]
    );
}

#[test]
fn long_names_and_values_make_short_messages() {
    let name = "N".repeat(10_000);
    let xml = format!("<POSTBACK><ORIGIN>SUB</ORIGIN></{name}></POSTBACK>");
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(
        problems(&parsed),
        [format!(
            "f.xml:1:31: malformed_xml: closing tag </{}…> has no matching start tag; ignored",
            "N".repeat(60)
        )]
    );
}

#[test]
fn a_doubled_byte_order_mark_is_read_past() {
    for bytes in [
        &b"\xEF\xBB\xBF\xEF\xBB\xBF<POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK>"[..],
        &b"\xFF\xFE\xFF\xFE<\0P\0O\0S\0T\0B\0A\0C\0K\0>\0<\0O\0R\0I\0G\0I\0N\0/\0>\0<\0/\0P\0O\0S\0T\0B\0A\0C\0K\0>\0"[..],
    ] {
        let parsed = parse_file(bytes);
        assert!(parsed.problems.is_empty(), "{:?}", problems(&parsed));
        assert_eq!(parsed.postbacks[0].position, Position::new(1, 1));
        assert_eq!(parsed.postbacks[0].fields[0].name, "ORIGIN");
    }
}

#[test]
fn many_unclosed_start_tags_read_across_fresh_readers_lose_nothing() {
    // 6,000 `<X>` left open inside a bundle: the reader is replaced five times on the way.
    let mut xml = String::from("<POSTBACKS>");
    for i in 0..3000 {
        xml.push_str(&format!(
            "<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>{i}</CODE><X><X></POSTBACK>"
        ));
    }
    xml.push_str("</POSTBACKS>");
    let parsed = parse_file(xml.as_bytes());
    assert_eq!(parsed.postbacks.len(), 3000);
    assert_eq!(
        fields(&parsed.postbacks[2999]),
        [("ORIGIN", "SUB"), ("CODE", "2999"), ("X", "")]
    );
    assert_eq!(parsed.problems.total(), 3000, "one doubled <X><X> each");
}

mod roundtrip {
    //! Property: any postbacks written out as XML parse back to exactly their fields.

    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "ORIGIN",
                "CODE",
                "TO",
                "FROM_MASK",
                "TEXT",
                "STATUSDETAILS",
                "SPID"
            ])
            .prop_map(String::from),
            "[A-Z][A-Z0-9_]{0,11}"
                .prop_filter("reserved names", |n| !is_container(n) && n != "HTML"),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        // Any text XML 1.0 can carry, minus the carriage return it normalizes away.
        "[^\u{0}-\u{8}\u{b}\u{c}\u{d}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,40}"
    }

    fn escape(value: &str, cdata: bool) -> String {
        if cdata && !value.contains("]]>") {
            return format!("<![CDATA[{value}]]>");
        }
        value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    fn write(
        postbacks: &[Vec<(String, String)>],
        bundle: bool,
        wrap: bool,
        cdata: bool,
        eol: &str,
    ) -> String {
        let mut xml = String::from("<?xml version='1.0'?>");
        xml.push_str(eol);
        if bundle {
            xml.push_str("<POSTBACKS>");
        }
        for fields in postbacks {
            xml.push_str("<POSTBACK>");
            xml.push_str(eol);
            if wrap {
                xml.push_str("<NOTIFICATION>");
            }
            for (name, value) in fields {
                if value.is_empty() && !cdata {
                    xml.push_str(&format!("  <{name}/>{eol}"));
                } else {
                    xml.push_str(&format!("  <{name}>{}</{name}>{eol}", escape(value, cdata)));
                }
            }
            if wrap {
                xml.push_str("</NOTIFICATION>");
            }
            xml.push_str("</POSTBACK>");
            xml.push_str(eol);
        }
        if bundle {
            xml.push_str("</POSTBACKS>");
        }
        xml
    }

    proptest! {
        #[test]
        fn written_postbacks_parse_back_equal(
            postbacks in prop::collection::vec(prop::collection::vec((name(), value()), 1..8), 1..4),
            bundle: bool,
            wrap: bool,
            cdata: bool,
            crlf: bool,
        ) {
            let bundle = bundle || postbacks.len() > 1;
            let xml = write(&postbacks, bundle, wrap, cdata, if crlf { "\r\n" } else { "\n" });
            let parsed = parse_file(xml.as_bytes());
            prop_assert!(parsed.problems.is_empty(), "{:?}\n{}", parsed.problems, xml);
            prop_assert_eq!(parsed.postbacks.len(), postbacks.len());
            for (written, read) in postbacks.iter().zip(&parsed.postbacks) {
                let read: Vec<(String, String)> = read.fields.iter().map(|f| (f.name.to_string(), f.value.to_string())).collect();
                prop_assert_eq!(&read, written, "{}", xml);
            }
        }
    }
}
