//! The bytes of one HTTP request body as Skycore sends it, in either documentation dialect.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock;
use crate::model::{Body, Dialect, Encoding, Flaw, Kind, Postback, Request, Style, XsiLayout};
use crate::values::{self, Carrier, Carriers, Ids, mix, pick, pick_weighted};

const POSTBACK_XSD: &str = "http://www.skycore.com/schema/postback.xsd";
const PASS_XSD: &str = "http://www.skycore.com/schema/pass-postback.xsd";
const SUBSCRIPTION_XSD: &str = "https://www.skycore.com/platform/platform/schema/pass-postback.xsd";
const HTML_ERROR_PAGE: &[u8] = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Turns planned requests into bytes; every value is derived from the seed and the
/// transaction, so each copy of a request is byte-identical.
pub struct Renderer<'a> {
    seed: u64,
    carriers: &'a Carriers,
    ids: Ids,
    postbacks: &'a [Postback],
}

/// How a postback's document starts in one dialect, as its documentation example shows.
struct Layout {
    declaration: bool,
    schema: Option<&'static str>,
    indent: &'static str,
}

/// Whether a postback of this kind carries a timestamp (`TIMESTAMP` or `RECEIVED`) in a dialect.
pub fn has_timestamp(kind: Kind, dialect: Dialect) -> bool {
    use Kind::*;
    match kind {
        MmsSendFailed | MmsSaved | MmsEncodingFailed | EmailSubscribed | EmailUnsubscribed => false,
        Subscribed | Unsubscribed => dialect == Dialect::Newer,
        _ => true,
    }
}

fn layout(kind: Kind, dialect: Dialect) -> Layout {
    use Kind::*;
    let older = dialect == Dialect::Older;
    let indent = if older { "  " } else { "    " };
    let (declaration, schema, indent) = match kind {
        MmsSaved | MmsEncodingFailed => (true, None, indent),
        PassGenerated | PassFailed | PassLimitReached | PassNoCredits => {
            (false, older.then_some(PASS_XSD), "    ")
        }
        SmsReceived | MmsReceived => (false, None, indent),
        Subscribed | Unsubscribed | EmailSubscribed | EmailUnsubscribed => {
            (true, older.then_some(SUBSCRIPTION_XSD), indent)
        }
        _ => (true, older.then_some(POSTBACK_XSD), indent),
    };
    Layout {
        declaration,
        schema,
        indent,
    }
}

/// A postback document written line by line.
struct Doc {
    text: String,
    indent: &'static str,
}

impl Doc {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// `<NAME>value</NAME>` with `&`, `<` and `>` escaped.
    fn field(&mut self, name: &str, value: &str) {
        self.open(name);
        for c in value.chars() {
            match c {
                '&' => self.text.push_str("&amp;"),
                '<' => self.text.push_str("&lt;"),
                '>' => self.text.push_str("&gt;"),
                c => self.text.push(c),
            }
        }
        self.close(name);
    }

    /// `<NAME><![CDATA[value]]></NAME>`.
    fn cdata_field(&mut self, name: &str, value: &str) {
        self.open(name);
        self.text.push_str("<![CDATA[");
        self.text.push_str(value);
        self.text.push_str("]]>");
        self.close(name);
    }

    fn open(&mut self, name: &str) {
        self.text.push_str(self.indent);
        self.text.push('<');
        self.text.push_str(name);
        self.text.push('>');
    }

    fn close(&mut self, name: &str) {
        self.text.push_str("</");
        self.text.push_str(name);
        self.text.push_str(">\n");
    }
}

/// A phone message's recipient side, shared by every postback of one transaction.
struct Message {
    carrier: Carrier,
    to: String,
    from: &'static str,
    mms_template: u32,
}

impl<'a> Renderer<'a> {
    pub fn new(seed: u64, carriers: &'a Carriers, postbacks: &'a [Postback]) -> Self {
        Renderer {
            seed,
            carriers,
            ids: Ids::new(seed),
            postbacks,
        }
    }

    /// The body of request number `index`, as each of its copies is saved (before gzip).
    pub fn request(&self, index: u32, request: &Request) -> Vec<u8> {
        let style = &request.style;
        match request.body {
            Body::Postbacks { .. } => {
                let members = &self.postbacks[request.postback_range()];
                encode(&self.document(members, style), style)
            }
            Body::Truncated(postback) => {
                let whole = encode(&self.postback(&postback, style, true), style);
                truncate(&whole, &mut self.request_rng(index))
            }
            Body::HtmlErrorPage => HTML_ERROR_PAGE.to_vec(),
            Body::BinaryGarbage => garbage(&mut self.request_rng(index)),
            Body::Empty => Vec::new(),
        }
    }

    fn document(&self, members: &[Postback], style: &Style) -> String {
        if let [single] = members {
            return self.postback(single, style, true);
        }
        let mut text = String::from("<?xml version='1.0'?>\n<POSTBACKS>\n");
        for postback in members {
            text.push_str(&self.postback(postback, style, false));
        }
        text.push_str("</POSTBACKS>\n");
        text
    }

    /// One `<POSTBACK>` element; `standalone` adds the XML declaration its dialect uses.
    fn postback(&self, p: &Postback, style: &Style, standalone: bool) -> String {
        use Kind::*;
        let layout = layout(p.kind, style.dialect);
        let mut doc = Doc {
            text: String::with_capacity(512),
            indent: layout.indent,
        };
        if style.encoding == Encoding::Latin1 {
            doc.line("<?xml version='1.0' encoding=\"ISO-8859-1\"?>");
        } else if standalone && layout.declaration {
            doc.line("<?xml version='1.0'?>");
        }
        doc.line(&open_tag(layout.schema, style.xsi));
        match p.kind {
            SmsSent | SmsSendFailed | SmsDelivered | SmsDeliveryFailed => {
                self.sms_mt(&mut doc, p, style.dialect)
            }
            MmsSaved | MmsEncodingFailed => self.mms_saved(&mut doc, p),
            PassGenerated | PassFailed | PassLimitReached | PassNoCredits => self.pass(&mut doc, p),
            SmsReceived => self.sms_mo(&mut doc, p, style),
            MmsReceived => self.mms_mo(&mut doc, p, style.dialect),
            Subscribed | Unsubscribed | EmailSubscribed | EmailUnsubscribed => {
                self.subscription(&mut doc, p, style.dialect)
            }
            _ => self.mms_mt(&mut doc, p, style.dialect),
        }
        doc.line("</POSTBACK>");
        doc.text
    }

    fn sms_mt(&self, doc: &mut Doc, p: &Postback, dialect: Dialect) {
        let message = self.message(p.thread);
        let mut own = self.own_rng(p);
        let status = match p.kind {
            Kind::SmsSent => "Message Sent",
            Kind::SmsSendFailed => "Message Failed",
            Kind::SmsDelivered => "Message Sent/Delivered",
            _ => "Message Sent/Failed",
        };
        doc.field("ORIGIN", "SMS_MT");
        doc.field("CODE", p.kind.status_code());
        doc.field("STATUS", status);
        if dialect == Dialect::Newer {
            doc.field("FROM", message.from);
            if p.flaw == Some(Flaw::DoubledFromMask) {
                doc.line(&format!("{}<FROM_MASK><FROM_MASK>", doc.indent));
            } else {
                doc.field("FROM_MASK", "");
            }
        }
        doc.field("TO", &message.to);
        doc.field("TRACKINGID", &self.ids.tracking_id("SMS", p.thread));
        doc.field("SPID", message.carrier.spid);
        doc.field("TIMESTAMP", &timestamp(&mut own, p.event));
        if matches!(p.kind, Kind::SmsDelivered | Kind::SmsDeliveryFailed) {
            doc.field("AGGREGATORID", &values::aggregator_id(&mut own));
        }
    }

    fn mms_mt(&self, doc: &mut Doc, p: &Postback, dialect: Dialect) {
        use Kind::*;
        let message = self.message(p.thread);
        let mut own = self.own_rng(p);
        let (sent_as, status) = match p.kind {
            MmsSent => (Some("MMS"), "Message Sent"),
            MmsSentAsLink | MmsSentDegraded => (Some("SMS"), "Message Sent"),
            MmsDelivered => (Some("MMS"), "Message Sent/Delivered"),
            MmsLinkDelivered => (Some("SMS"), "Message Sent/Delivered"),
            MmsExpired => (None, "Message Sent/Expired"),
            MmsRejected => (None, "Message Sent/Rejected"),
            _ => (None, "Message Failed"),
        };
        doc.field("ORIGIN", "MMS_MT");
        doc.field("CODE", p.kind.status_code());
        if let Some(sent_as) = sent_as {
            doc.field("SENTAS", sent_as);
        }
        doc.field("STATUS", status);
        if p.kind != MmsLinkDelivered {
            doc.field("MMSID", &message.mms_template.to_string());
        }
        if dialect == Dialect::Newer {
            doc.field("FROM", message.from);
        }
        doc.field("TO", &message.to);
        doc.field("TRACKINGID", &self.ids.tracking_id("MMS", p.thread));
        doc.field("SPID", message.carrier.spid);
        if p.kind != MmsSendFailed {
            doc.field("TIMESTAMP", &timestamp(&mut own, p.event));
        }
        if p.kind == MmsDelivered {
            doc.field("HANDSET", pick(&mut own, &values::HANDSETS));
        }
        if matches!(
            p.kind,
            MmsDelivered | MmsLinkDelivered | MmsExpired | MmsRejected
        ) {
            doc.field("AGGREGATORID", &values::aggregator_id(&mut own));
        }
        self.mms_details(doc, p, dialect, &mut own);
    }

    fn mms_details(&self, doc: &mut Doc, p: &Postback, dialect: Dialect, own: &mut ChaCha8Rng) {
        let detail = match p.kind {
            Kind::MmsSentDegraded if dialect == Dialect::Older => {
                "Handset setting: mms with pass via xHTML;"
            }
            Kind::MmsSentDegraded => "Handset setting: mms with pass via xHTML",
            Kind::MmsExpired => pick(own, &values::EXPIRY_DETAILS),
            Kind::MmsRejected => pick(own, &values::REJECTION_DETAILS),
            Kind::MmsSendFailed if p.flaw == Some(Flaw::UnclosedStatusDetails) => {
                let detail = values::UNCLOSED_DETAIL;
                doc.line(&format!("{}<STATUSDETAILS>{detail}", doc.indent));
                return;
            }
            Kind::MmsSendFailed => pick(own, &values::MMS_SEND_ERRORS),
            _ => return,
        };
        doc.field("STATUSDETAILS", detail);
    }

    fn mms_saved(&self, doc: &mut Doc, p: &Postback) {
        let mut own = self.own_rng(p);
        doc.field("ORIGIN", "MMS_MT");
        doc.field("CODE", p.kind.status_code());
        let mms_id = self.ids.number(p.thread, 10, 30_000, 9_000_000);
        doc.field("MMSID", &mms_id.to_string());
        if p.kind == Kind::MmsEncodingFailed {
            doc.field("AUDIONAME", pick(&mut own, &values::AUDIO_NAMES));
        }
    }

    fn pass(&self, doc: &mut Doc, p: &Postback) {
        let mut own = self.own_rng(p);
        let by_email = own.random_range(0..10u32) < 7;
        let reference = if by_email {
            self.ids.email(&mut own, p.thread)
        } else {
            let carrier = self.carriers.pick(&mut own);
            self.ids.phone(&mut own, p.thread, carrier.canadian)
        };
        let generated = p.kind == Kind::PassGenerated;
        let pass_data_id = self.ids.number(p.thread, 11, 40_000, 9_000_000);
        let serial = format!(
            "{}-{}",
            values::serial_head(&mut own, p.event),
            clock::serial_stamp(p.event)
        );
        doc.field("ORIGIN", "GENERATE_PASS");
        doc.field("STATUSCODE", p.kind.status_code());
        doc.field("REFERENCEDBY", if by_email { "Email" } else { "Phone" });
        doc.field("REFERENCEVALUE", &reference);
        let custom_id = self.ids.number(p.thread, 12, 100_000, 9_000_000);
        doc.field("CUSTOMPASSID", &format!("ID-{custom_id}"));
        let (pass_data_id, serial) = if generated {
            (pass_data_id.to_string(), serial)
        } else {
            (String::new(), String::new())
        };
        doc.field("PASSDATAID", &pass_data_id);
        doc.field("SERIALNUMBER", &serial);
        doc.field("TIMESTAMP", &timestamp(&mut own, p.event));
    }

    fn sms_mo(&self, doc: &mut Doc, p: &Postback, style: &Style) {
        let mut own = self.own_rng(p);
        let carrier = self.carriers.pick(&mut own);
        let from = self.ids.phone(&mut own, p.thread, carrier.canadian);
        let to = pick(&mut own, &values::CAMPAIGNS).shortcode;
        let accented = own.random_range(0..10u32) == 0 || style.encoding == Encoding::Latin1;
        let text = if accented {
            pick(&mut own, &values::ACCENTED_SMS_TEXTS)
        } else {
            pick(&mut own, &values::SMS_TEXTS)
        };
        doc.field("ORIGIN", "SMS_MO");
        doc.field("CODE", "N211");
        doc.field("FROM", &from);
        doc.field("TO", to);
        if style.cdata_text {
            doc.cdata_field("TEXT", text);
        } else {
            doc.field("TEXT", text);
        }
        doc.field("RECEIVED", &timestamp(&mut own, p.event));
        if style.dialect == Dialect::Newer {
            doc.field("TRANSACTIONID", &values::transaction_id(&mut own));
        }
    }

    fn mms_mo(&self, doc: &mut Doc, p: &Postback, dialect: Dialect) {
        let mut own = self.own_rng(p);
        let older = dialect == Dialect::Older;
        if older {
            doc.line("  <NOTIFICATION>");
            doc.indent = "    ";
        }
        let carrier = self.carriers.pick(&mut own);
        let tracking = self.ids.mms_mo_tracking_id(p.thread);
        doc.field("ORIGIN", "MMS_MO");
        doc.field("CODE", "N401");
        doc.field(
            "FROM",
            &self.ids.phone(&mut own, p.thread, carrier.canadian),
        );
        doc.field("TO", pick(&mut own, &values::CAMPAIGNS).shortcode);
        doc.field("KEYWORD", pick(&mut own, &values::MMS_KEYWORDS));
        if !older {
            doc.field("SUBJECT", pick(&mut own, &values::MMS_SUBJECTS));
        }
        doc.field("TRACKINGID", &tracking);
        doc.field("SPID", carrier.spid);
        doc.field("TIMESTAMP", &timestamp(&mut own, p.event));
        let outer = doc.indent;
        doc.line(&format!("{outer}<CONTENT>"));
        doc.indent = if older { "      " } else { "        " };
        for part in 1..=own.random_range(1..=3u32) {
            let media = pick(&mut own, &values::MEDIA_TYPES);
            let url = format!(
                "https://content.skycore.com/mmsmo/file.php?id={tracking}&part={part}&type={media}"
            );
            doc.field("FILE", &url);
        }
        doc.line(&format!("{outer}</CONTENT>"));
        if older {
            doc.line("  </NOTIFICATION>");
        }
    }

    fn subscription(&self, doc: &mut Doc, p: &Postback, dialect: Dialect) {
        use Kind::*;
        let mut own = self.own_rng(p);
        let campaign = pick(&mut own, &values::CAMPAIGNS);
        doc.field("ORIGIN", p.kind.origin());
        doc.field("CODE", p.kind.status_code());
        if matches!(p.kind, Subscribed | Unsubscribed) {
            let carrier = self.carriers.pick(&mut own);
            doc.field(
                "MOBILE",
                &self.ids.phone(&mut own, p.thread, carrier.canadian),
            );
        } else {
            doc.field("EMAIL", &self.ids.email(&mut own, p.thread));
        }
        doc.field("CAMPAIGNID", &campaign.id.to_string());
        if dialect == Dialect::Older {
            let subscription_id = self.ids.number(p.thread, 13, 100_000, 9_000_000);
            doc.field("SUBID", &subscription_id.to_string());
        } else if matches!(p.kind, Subscribed | Unsubscribed) {
            let sources = if p.kind == Subscribed {
                &values::SUBSCRIBE_SOURCES
            } else {
                &values::UNSUBSCRIBE_SOURCES
            };
            doc.field("TIMESTAMP", &clock::local_short(p.event));
            doc.field("SHORTCODE", campaign.shortcode);
            doc.field("CAMPAIGNTITLE", campaign.title);
            doc.field("BRANDNAME", campaign.brand);
            doc.field("SOURCE", pick_weighted(&mut own, sources));
        }
    }

    /// The recipient side of an SMS or MMS, the same for every postback of the transaction.
    fn message(&self, thread: u32) -> Message {
        let mut shared = rng(mix(self.seed, u64::from(thread)));
        let carrier = self.carriers.pick(&mut shared);
        Message {
            carrier,
            to: self.ids.phone(&mut shared, thread, carrier.canadian),
            from: pick(&mut shared, &values::CAMPAIGNS).shortcode,
            mms_template: shared.random_range(30_000..50_000),
        }
    }

    /// Values that belong to one postback only (aggregator id, handset, time format...).
    fn own_rng(&self, p: &Postback) -> ChaCha8Rng {
        let thread = mix(self.seed, u64::from(p.thread));
        rng(mix(thread, 1 + p.kind as u64))
    }

    fn request_rng(&self, index: u32) -> ChaCha8Rng {
        rng(mix(self.seed ^ 0x6272_6f6b_656e, u64::from(index)))
    }
}

/// `<POSTBACK>`, or with the older dialect's schema attributes, laid out as the request says.
fn open_tag(schema: Option<&str>, xsi: XsiLayout) -> String {
    let Some(schema) = schema else {
        return "<POSTBACK>".to_owned();
    };
    let separator = match xsi {
        XsiLayout::OneLine => " ",
        XsiLayout::BrokenBeforeXsi => "\n",
        XsiLayout::BrokenAfterSpace => " \n",
    };
    format!(
        "<POSTBACK xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"{separator}\
         xsi:noNamespaceSchemaLocation =\"{schema}\">"
    )
}

/// Mostly New York local time with its offset, sometimes UTC with `Z`.
fn timestamp(own: &mut ChaCha8Rng, instant: i64) -> String {
    if own.random_range(0..10u32) == 0 {
        clock::zulu(instant)
    } else {
        clock::local_iso(instant)
    }
}

/// The document's bytes: line endings, byte order mark and character encoding applied.
fn encode(text: &str, style: &Style) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + text.len() / 16 + 3);
    if style.encoding == Encoding::Utf8WithBom {
        bytes.extend_from_slice(UTF8_BOM);
    }
    if !style.crlf && style.encoding != Encoding::Latin1 {
        bytes.extend_from_slice(text.as_bytes());
        return bytes;
    }
    let mut utf8 = [0; 4];
    for c in text.chars() {
        match c {
            '\n' if style.crlf => bytes.extend_from_slice(b"\r\n"),
            c if style.encoding == Encoding::Latin1 => {
                bytes.push(u8::try_from(u32::from(c)).unwrap_or(b'?'))
            }
            c => bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
        }
    }
    bytes
}

/// The document cut somewhere between the end of `<POSTBACK ...>` and `</POSTBACK>`.
fn truncate(whole: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let find = |needle: &[u8]| whole.windows(needle.len()).position(|w| w == needle);
    let open = find(b"<POSTBACK").expect("a postback document opens <POSTBACK");
    let body_start = open + whole[open..].iter().position(|&b| b == b'>').unwrap_or(0) + 1;
    let close = find(b"</POSTBACK>").expect("a postback document closes </POSTBACK>");
    let cut = rng.random_range(body_start as u32 + 1..close as u32) as usize;
    whole[..cut].to_vec()
}

/// Random bytes with NULs, as when something other than a postback was saved.
fn garbage(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let len = rng.random_range(64..=1024u32) as usize;
    let mut bytes = vec![0; len];
    rng.fill(&mut bytes[..]);
    for _ in 0..=len / 64 {
        let at = rng.random_range(0..len as u32) as usize;
        bytes[at] = 0;
    }
    bytes
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
