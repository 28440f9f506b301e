//! The vocabulary of a corpus: postbacks, how a request presents them, the requests the
//! platform sent and the files a customer's server saved.

use std::ops::Range;

/// What a postback reports; each kind has one origin and one status code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    SmsSent,
    SmsSendFailed,
    SmsDelivered,
    SmsDeliveryFailed,
    MmsSent,
    MmsSentAsLink,
    MmsSentDegraded,
    MmsDelivered,
    MmsExpired,
    MmsRejected,
    MmsLinkDelivered,
    MmsSendFailed,
    MmsSaved,
    MmsEncodingFailed,
    PassGenerated,
    PassFailed,
    PassLimitReached,
    PassNoCredits,
    SmsReceived,
    MmsReceived,
    Subscribed,
    Unsubscribed,
    EmailSubscribed,
    EmailUnsubscribed,
}

impl Kind {
    /// The `ORIGIN` element.
    pub fn origin(self) -> &'static str {
        use Kind::*;
        match self {
            SmsSent | SmsSendFailed | SmsDelivered | SmsDeliveryFailed => "SMS_MT",
            MmsSent | MmsSentAsLink | MmsSentDegraded | MmsDelivered | MmsExpired | MmsRejected
            | MmsLinkDelivered | MmsSendFailed | MmsSaved | MmsEncodingFailed => "MMS_MT",
            PassGenerated | PassFailed | PassLimitReached | PassNoCredits => "GENERATE_PASS",
            SmsReceived => "SMS_MO",
            MmsReceived => "MMS_MO",
            Subscribed | Unsubscribed => "SUB",
            EmailSubscribed | EmailUnsubscribed => "EMAIL_SUB",
        }
    }

    /// The `CODE` element (`STATUSCODE` for passes).
    pub fn status_code(self) -> &'static str {
        use Kind::*;
        match self {
            SmsSent => "N201",
            SmsSendFailed => "E201",
            SmsDelivered | MmsLinkDelivered => "N202",
            SmsDeliveryFailed => "E202",
            MmsSent | MmsSentAsLink | MmsSentDegraded => "N101",
            MmsDelivered => "N102",
            MmsExpired | MmsRejected => "E102",
            MmsSendFailed => "E101",
            MmsSaved => "N003",
            MmsEncodingFailed => "E002",
            PassGenerated => "N801",
            PassFailed => "N802",
            PassLimitReached => "N803",
            PassNoCredits => "N811",
            SmsReceived => "N211",
            MmsReceived => "N401",
            Subscribed => "N301",
            Unsubscribed => "N302",
            EmailSubscribed => "N303",
            EmailUnsubscribed => "N304",
        }
    }
}

/// A documentation mistake a postback is written with; its file is malformed but salvageable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flaw {
    /// `<STATUSDETAILS>` never closed, as in the older E101 example.
    UnclosedStatusDetails,
    /// `<FROM_MASK><FROM_MASK>`, as in the newer N201 example.
    DoubledFromMask,
}

/// One notification the platform generated.
#[derive(Clone, Copy, Debug)]
pub struct Postback {
    /// When it happened, Unix seconds.
    pub event: i64,
    /// The transaction (message, pass, subscription) it belongs to; seeds its values.
    pub thread: u32,
    pub kind: Kind,
    pub flaw: Option<Flaw>,
}

/// The two editions of the documentation, whose postbacks differ in shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    Older,
    Newer,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Older => "older",
            Dialect::Newer => "newer",
        }
    }
}

/// How the text of a file is encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    Utf8,
    Utf8WithBom,
    /// Declared `ISO-8859-1`, with a non-ASCII letter written as one byte.
    Latin1,
}

/// Where the older dialect breaks the `<POSTBACK xmlns:xsi=... xsi:...>` tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum XsiLayout {
    OneLine,
    BrokenBeforeXsi,
    BrokenAfterSpace,
}

/// Presentation choices of one request, shared by all its copies.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub dialect: Dialect,
    pub encoding: Encoding,
    pub crlf: bool,
    pub xsi: XsiLayout,
    /// SMS MO `TEXT` in a CDATA section instead of escaped.
    pub cdata_text: bool,
}

impl Style {
    /// No quirks: UTF-8, LF, the schema tag broken as in most examples.
    pub fn plain(dialect: Dialect) -> Self {
        Style {
            dialect,
            encoding: Encoding::Utf8,
            crlf: false,
            xsi: XsiLayout::BrokenBeforeXsi,
            cdata_text: false,
        }
    }
}

/// The kinds of malformed file a real archive holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Malformed {
    Truncated,
    UnclosedStatusDetails,
    DoubledFromMask,
    HtmlErrorPage,
    BinaryGarbage,
    Empty,
}

impl Malformed {
    pub const ALL: [Malformed; 6] = [
        Malformed::Truncated,
        Malformed::UnclosedStatusDetails,
        Malformed::DoubledFromMask,
        Malformed::HtmlErrorPage,
        Malformed::BinaryGarbage,
        Malformed::Empty,
    ];

    /// The manifest's name for the kind.
    pub fn name(self) -> &'static str {
        match self {
            Malformed::Truncated => "truncated",
            Malformed::UnclosedStatusDetails => "unclosed_statusdetails",
            Malformed::DoubledFromMask => "doubled_from_mask",
            Malformed::HtmlErrorPage => "html_error_page",
            Malformed::BinaryGarbage => "binary_garbage",
            Malformed::Empty => "empty",
        }
    }
}

/// What an HTTP request body holds.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    /// `count` consecutive postbacks of the plan from `first`; more than one is a bundle.
    Postbacks {
        first: u32,
        count: u32,
    },
    /// A postback that is not among the counted ones, cut in the middle.
    Truncated(Postback),
    HtmlErrorPage,
    BinaryGarbage,
    Empty,
}

/// One HTTP request from the platform.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub body: Body,
    /// When the first copy arrived, Unix seconds.
    pub arrival: i64,
    pub style: Style,
    /// Byte-identical copies sent again, 5 minutes apart.
    pub retries: u8,
}

impl Request {
    /// Indexes of the plan's postbacks it carries.
    pub fn postback_range(&self) -> Range<usize> {
        match self.body {
            Body::Postbacks { first, count } => first as usize..(first + count) as usize,
            _ => 0..0,
        }
    }

    pub fn is_bundle(&self) -> bool {
        matches!(self.body, Body::Postbacks { count, .. } if count > 1)
    }

    /// Which way the request's file is malformed, if it is.
    pub fn malformed(&self, postbacks: &[Postback]) -> Option<Malformed> {
        match self.body {
            Body::Postbacks { first, .. } => match postbacks[first as usize].flaw {
                Some(Flaw::UnclosedStatusDetails) => Some(Malformed::UnclosedStatusDetails),
                Some(Flaw::DoubledFromMask) => Some(Malformed::DoubledFromMask),
                None => None,
            },
            Body::Truncated(_) => Some(Malformed::Truncated),
            Body::HtmlErrorPage => Some(Malformed::HtmlErrorPage),
            Body::BinaryGarbage => Some(Malformed::BinaryGarbage),
            Body::Empty => Some(Malformed::Empty),
        }
    }
}

/// One file the customer's server saved: a copy of a request.
#[derive(Clone, Copy, Debug)]
pub struct File {
    pub request: u32,
    /// 0 for the original, 1..=4 for retries.
    pub copy: u8,
    pub arrival: i64,
    pub gzip: bool,
}
