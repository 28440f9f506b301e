//! Decides what the platform sent and when: the postbacks, the HTTP requests that carried
//! them (single, bundled, retried, broken) and the files a customer's server saved.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::Clock;
use crate::model::{
    Body, Dialect, Encoding, File, Flaw, Kind, Malformed, Postback, Request, Style, XsiLayout,
};
use crate::values::{pick, pick_weighted};

/// From this many postbacks on, every feature (bundle, retry, gzip, each malformed kind, ...)
/// appears at least once, so small corpora still exercise everything.
pub const GUARANTEE_FROM: u32 = 300;

/// Seconds between the platform's retries of a failed request.
const RETRY_INTERVAL: i64 = 300;

/// The generator's inputs that decide the corpus.
pub struct Settings {
    pub seed: u64,
    pub postbacks: u32,
    pub days: u32,
    pub start: NaiveDate,
}

/// The whole corpus before it is written: files are in arrival order.
pub struct Plan {
    pub postbacks: Vec<Postback>,
    pub requests: Vec<Request>,
    pub files: Vec<File>,
}

impl Plan {
    /// Decides everything from the settings alone, so the same settings give the same corpus.
    pub fn build(settings: &Settings) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let clock = Clock::new(settings.start, settings.days);
        let guaranteed = settings.postbacks >= GUARANTEE_FROM;
        let malformed = malformed_counts(settings.postbacks);
        let mut timeline = Timeline::new(settings.postbacks as usize);
        timeline.add_flawed(&mut rng, &clock, &malformed);
        timeline.fill(&mut rng, &clock);
        let extra_thread = timeline.next_thread;
        let postbacks = timeline.into_sorted();
        let mut requests = group_into_requests(&mut rng, &postbacks, guaranteed);
        add_broken_requests(&mut rng, &clock, &mut requests, &malformed, extra_thread);
        schedule_retries(&mut rng, &mut requests, &postbacks, guaranteed);
        let files = lay_out_files(&mut rng, &requests, &postbacks, guaranteed);
        Plan {
            postbacks,
            requests,
            files,
        }
    }
}

/// Malformed files of each kind (in [`Malformed::ALL`] order): about 0.2% of files, and at
/// least one of each from [`GUARANTEE_FROM`] postbacks on.
fn malformed_counts(postbacks: u32) -> [u32; 6] {
    let mut total = (postbacks + 250) / 500;
    if postbacks >= GUARANTEE_FROM {
        total = total.max(6);
    }
    std::array::from_fn(|kind| total / 6 + u32::from((kind as u32) < total % 6))
}

/// A feature drawn per item with a fixed chance, forced once if a corpus that must show it
/// has not by a third of the way through.
struct Feature {
    per_10k: u32,
    force_from: usize,
    hits: usize,
}

impl Feature {
    fn new(per_10k: u32, items: usize, guaranteed: bool) -> Self {
        let force_from = if guaranteed { items / 3 } else { usize::MAX };
        Feature {
            per_10k,
            force_from,
            hits: 0,
        }
    }

    /// Whether item `position` should have the feature; call [`Feature::record`] if it gets it.
    fn wants(&self, rng: &mut impl Rng, position: usize) -> bool {
        let drawn = rng.random_range(0..10_000) < self.per_10k;
        drawn || (self.hits == 0 && position >= self.force_from)
    }

    fn record(&mut self) {
        self.hits += 1;
    }

    fn draw(&mut self, rng: &mut impl Rng, position: usize) -> bool {
        let hit = self.wants(rng, position);
        if hit {
            self.record();
        }
        hit
    }
}

/// Something that happened on the platform: its first postback and an optional follow-up
/// with its delay range in seconds.
#[derive(Clone, Copy)]
struct Transaction {
    first: Kind,
    follow_up: Option<(Kind, u32, u32)>,
}

const fn alone(first: Kind) -> Transaction {
    Transaction {
        first,
        follow_up: None,
    }
}

const fn then(first: Kind, next: Kind, min_delay: u32, max_delay: u32) -> Transaction {
    Transaction {
        first,
        follow_up: Some((next, min_delay, max_delay)),
    }
}

/// Transactions by weight, tuned so postbacks split about SMS_MT 40%, MMS_MT 15%,
/// GENERATE_PASS 25%, SMS_MO 8%, MMS_MO 3%, SUB and EMAIL_SUB 9%.
const TRANSACTIONS: [(Transaction, u32); 21] = {
    use Kind::*;
    [
        (then(SmsSent, SmsDelivered, 2, 60), 1800),
        (then(SmsSent, SmsDeliveryFailed, 2, 60), 160),
        (alone(SmsSendFailed), 70),
        (then(MmsSent, MmsDelivered, 3, 90), 520),
        (then(MmsSent, MmsExpired, 3600, 14_400), 40),
        (then(MmsSent, MmsRejected, 5, 120), 30),
        (then(MmsSentAsLink, MmsLinkDelivered, 5, 60), 60),
        (then(MmsSentDegraded, MmsLinkDelivered, 5, 60), 20),
        (alone(MmsSendFailed), 60),
        (alone(MmsSaved), 70),
        (alone(MmsEncodingFailed), 25),
        (alone(PassGenerated), 2300),
        (alone(PassFailed), 150),
        (alone(PassLimitReached), 25),
        (alone(PassNoCredits), 25),
        (alone(SmsReceived), 800),
        (alone(MmsReceived), 300),
        (alone(Subscribed), 420),
        (alone(Unsubscribed), 180),
        (alone(EmailSubscribed), 200),
        (alone(EmailUnsubscribed), 100),
    ]
};

/// Postbacks as they happen, up to the requested count.
struct Timeline {
    postbacks: Vec<Postback>,
    limit: usize,
    next_thread: u32,
}

impl Timeline {
    fn new(limit: usize) -> Self {
        Timeline {
            postbacks: Vec::with_capacity(limit),
            limit,
            next_thread: 0,
        }
    }

    /// The postbacks of the salvageable malformed files, which count among the total.
    fn add_flawed(&mut self, rng: &mut impl Rng, clock: &Clock, malformed: &[u32; 6]) {
        let unclosed = malformed[Malformed::UnclosedStatusDetails as usize];
        let doubled = malformed[Malformed::DoubledFromMask as usize];
        for _ in 0..unclosed {
            let flaw = Some(Flaw::UnclosedStatusDetails);
            self.add(rng, clock, alone(Kind::MmsSendFailed), flaw);
        }
        for _ in 0..doubled {
            let sms = then(Kind::SmsSent, Kind::SmsDelivered, 2, 60);
            self.add(rng, clock, sms, Some(Flaw::DoubledFromMask));
        }
    }

    fn fill(&mut self, rng: &mut impl Rng, clock: &Clock) {
        while self.postbacks.len() < self.limit {
            let transaction = pick_weighted(rng, &TRANSACTIONS);
            self.add(rng, clock, transaction, None);
        }
    }

    fn add(&mut self, rng: &mut impl Rng, clock: &Clock, tx: Transaction, flaw: Option<Flaw>) {
        let thread = self.next_thread;
        self.next_thread += 1;
        let start = clock.sample(rng);
        self.push(Postback {
            event: start,
            thread,
            kind: tx.first,
            flaw,
        });
        if let Some((kind, min_delay, max_delay)) = tx.follow_up {
            let event = start + i64::from(rng.random_range(min_delay..=max_delay));
            self.push(Postback {
                event,
                thread,
                kind,
                flaw: None,
            });
        }
    }

    fn push(&mut self, postback: Postback) {
        if self.postbacks.len() < self.limit {
            self.postbacks.push(postback);
        }
    }

    fn into_sorted(mut self) -> Vec<Postback> {
        self.postbacks
            .sort_by_key(|p| (p.event, p.thread, p.kind as u8));
        self.postbacks
    }
}

/// Cuts the time-ordered postbacks into requests: mostly one each, about 2% bundles of
/// 2–20 pending ones. A flawed postback always travels alone.
fn group_into_requests(
    rng: &mut impl Rng,
    postbacks: &[Postback],
    guaranteed: bool,
) -> Vec<Request> {
    let mut requests = Vec::with_capacity(postbacks.len());
    let mut bundles = Feature::new(200, postbacks.len(), guaranteed);
    let mut styles = StyleDraw::new(postbacks.len(), guaranteed);
    let mut first = 0;
    while first < postbacks.len() {
        let mut count = 1;
        if postbacks[first].flaw.is_none() && bundles.wants(rng, first) {
            let wanted = rng.random_range(2..=20u32) as usize;
            count = postbacks[first..]
                .iter()
                .take(wanted)
                .take_while(|p| p.flaw.is_none())
                .count();
            if count > 1 {
                bundles.record();
            }
        }
        let members = &postbacks[first..first + count];
        let last_event = members[count - 1].event;
        requests.push(Request {
            body: Body::Postbacks {
                first: first as u32,
                count: count as u32,
            },
            arrival: last_event + rng.random_range(1..=2),
            style: styles.draw(rng, members, first),
            retries: 0,
        });
        first += count;
    }
    requests
}

/// The chances of each presentation choice.
struct StyleDraw {
    crlf: Feature,
    bom: Feature,
    latin1: Feature,
    cdata: Feature,
}

impl StyleDraw {
    fn new(items: usize, guaranteed: bool) -> Self {
        StyleDraw {
            crlf: Feature::new(1000, items, guaranteed),
            bom: Feature::new(100, items, guaranteed),
            latin1: Feature::new(1200, items, guaranteed),
            cdata: Feature::new(800, items, guaranteed),
        }
    }

    fn draw(&mut self, rng: &mut impl Rng, members: &[Postback], position: usize) -> Style {
        match members[0].flaw {
            Some(Flaw::UnclosedStatusDetails) => return Style::plain(Dialect::Older),
            Some(Flaw::DoubledFromMask) => return Style::plain(Dialect::Newer),
            None => {}
        }
        let dialect = pick(rng, &[Dialect::Older, Dialect::Newer]);
        let xsi = pick_weighted(
            rng,
            &[
                (XsiLayout::OneLine, 50),
                (XsiLayout::BrokenBeforeXsi, 35),
                (XsiLayout::BrokenAfterSpace, 15),
            ],
        );
        let crlf = self.crlf.draw(rng, position);
        let single_sms_mo = members.len() == 1 && members[0].kind == Kind::SmsReceived;
        let latin1 = single_sms_mo && self.latin1.draw(rng, position);
        let cdata_text = single_sms_mo && self.cdata.draw(rng, position);
        let encoding = if latin1 {
            Encoding::Latin1
        } else if self.bom.draw(rng, position) {
            Encoding::Utf8WithBom
        } else {
            Encoding::Utf8
        };
        Style {
            dialect,
            encoding,
            crlf,
            xsi,
            cdata_text,
        }
    }
}

/// Requests whose files cannot be read as postbacks, at random times among the others.
fn add_broken_requests(
    rng: &mut impl Rng,
    clock: &Clock,
    requests: &mut Vec<Request>,
    malformed: &[u32; 6],
    mut thread: u32,
) {
    for kind in Malformed::ALL {
        for _ in 0..malformed[kind as usize] {
            let arrival = clock.sample(rng) + 1;
            let dialect = pick(rng, &[Dialect::Older, Dialect::Newer]);
            let body = match kind {
                Malformed::Truncated => {
                    thread += 1;
                    let kinds = [Kind::SmsDelivered, Kind::MmsDelivered, Kind::PassGenerated];
                    Body::Truncated(Postback {
                        event: arrival - 1,
                        thread,
                        kind: pick(rng, &kinds),
                        flaw: None,
                    })
                }
                Malformed::HtmlErrorPage => Body::HtmlErrorPage,
                Malformed::BinaryGarbage => Body::BinaryGarbage,
                Malformed::Empty => Body::Empty,
                Malformed::UnclosedStatusDetails | Malformed::DoubledFromMask => continue,
            };
            requests.push(Request {
                body,
                arrival,
                style: Style::plain(dialect),
                retries: 0,
            });
        }
    }
}

/// About 3% of well-formed requests are sent again 1–4 times.
fn schedule_retries(
    rng: &mut impl Rng,
    requests: &mut [Request],
    postbacks: &[Postback],
    guaranteed: bool,
) {
    let mut retried = Feature::new(300, requests.len(), guaranteed);
    for (position, request) in requests.iter_mut().enumerate() {
        if request.malformed(postbacks).is_none() && retried.draw(rng, position) {
            request.retries = rng.random_range(1..=4);
        }
    }
}

/// Every copy of every request as a file, about 5% of well-formed ones gzipped, in arrival order.
fn lay_out_files(
    rng: &mut impl Rng,
    requests: &[Request],
    postbacks: &[Postback],
    guaranteed: bool,
) -> Vec<File> {
    let copies: usize = requests.iter().map(|r| 1 + r.retries as usize).sum();
    let mut files = Vec::with_capacity(copies);
    let mut gzipped = Feature::new(500, copies, guaranteed);
    for (index, request) in requests.iter().enumerate() {
        let well_formed = request.malformed(postbacks).is_none();
        for copy in 0..=request.retries {
            let mut arrival = request.arrival;
            if copy > 0 {
                arrival += RETRY_INTERVAL * i64::from(copy) + rng.random_range(0..=2);
            }
            let position = files.len();
            files.push(File {
                request: index as u32,
                copy,
                arrival,
                gzip: well_formed && gzipped.draw(rng, position),
            });
        }
    }
    files.sort_by_key(|f| (f.arrival, f.request, f.copy));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_counts_cover_every_kind_from_the_guarantee_on() {
        assert_eq!(malformed_counts(299), [1, 0, 0, 0, 0, 0]);
        assert_eq!(malformed_counts(300), [1; 6]);
        assert_eq!(malformed_counts(1_000_000).iter().sum::<u32>(), 2000);
    }
}
