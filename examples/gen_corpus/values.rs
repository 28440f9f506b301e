//! Realistic field values: carriers from `data/carriers.csv`, phone numbers, shortcodes,
//! campaigns, texts, and identifiers that are unique per transaction.

use rand::Rng;

/// The bundled SPID table, so carriers come from the same facts the importer uses.
const CARRIERS_CSV: &str = include_str!("../../data/carriers.csv");

/// Weights (per ten thousand) of the carriers most US traffic goes through.
const MAJOR_CARRIERS: [(&str, u32); 9] = [
    ("0001470", 3000), // AT&T
    ("0001570", 2200), // T-Mobile
    ("0001650", 1000), // Sprint
    ("0001000", 800),  // United States, all carriers
    ("0001890", 600),  // Verizon Wireless
    ("0001770", 300),  // Metro PCS
    ("0001670", 200),  // Cricket
    ("0001840", 200),  // US Cellular
    ("0001510", 100),  // Boost Mobile iDEN
];
const OTHER_US_WEIGHT: u32 = 20;
const CANADIAN_WEIGHT: u32 = 60;
const REST_OF_WORLD_WEIGHT: u32 = 1;

const US_AREA_CODES: [u16; 24] = [
    201, 212, 213, 305, 312, 321, 404, 415, 469, 503, 512, 602, 617, 646, 650, 702, 713, 718, 774,
    786, 818, 917, 949, 972,
];
const CANADIAN_AREA_CODES: [u16; 6] = [403, 416, 514, 604, 613, 905];

/// A carrier drawn for one subscriber.
#[derive(Clone, Copy)]
pub struct Carrier {
    pub spid: &'static str,
    pub canadian: bool,
}

/// SPIDs with cumulative weights: mostly the big US carriers, some Canadian, a few elsewhere.
pub struct Carriers {
    carriers: Vec<Carrier>,
    cumulative: Vec<u32>,
}

impl Carriers {
    /// Reads the bundled `data/carriers.csv` (`spid,country,carrier,edition`).
    pub fn bundled() -> Self {
        let mut carriers = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for line in CARRIERS_CSV.lines().skip(1).filter(|l| !l.is_empty()) {
            let (spid, rest) = line.split_once(',').expect("carriers.csv rows have a SPID");
            let country = rest.split(',').next().unwrap_or_default();
            total += carrier_weight(spid, country);
            carriers.push(Carrier {
                spid,
                canadian: country == "Canada",
            });
            cumulative.push(total);
        }
        Carriers {
            carriers,
            cumulative,
        }
    }

    /// Draws a carrier by weight.
    pub fn pick(&self, rng: &mut impl Rng) -> Carrier {
        let total = *self.cumulative.last().expect("carriers.csv is not empty");
        let ticket = rng.random_range(0..total);
        self.carriers[self.cumulative.partition_point(|&c| c <= ticket)]
    }
}

fn carrier_weight(spid: &str, country: &str) -> u32 {
    if let Some(&(_, weight)) = MAJOR_CARRIERS.iter().find(|(s, _)| *s == spid) {
        weight
    } else if country == "United States" {
        OTHER_US_WEIGHT
    } else if country == "Canada" {
        CANADIAN_WEIGHT
    } else {
        REST_OF_WORLD_WEIGHT
    }
}

/// A campaign of the account: id, title, brand and the shortcode it runs on.
#[derive(Clone, Copy)]
pub struct Campaign {
    pub id: u32,
    pub title: &'static str,
    pub brand: &'static str,
    pub shortcode: &'static str,
}

/// The account's campaigns; some names carry `&`, `<` and `>` so they need entities in XML.
pub const CAMPAIGNS: [Campaign; 10] = [
    campaign(1478, "Weekly Specials", "Bean & Leaf Coffee", "60856"),
    campaign(1522, "VIP Club", "Harbor & Main Realty", "86717"),
    campaign(2093, "<VIP> Early Access", "Northwind Outfitters", "74700"),
    campaign(89, "Newsletter", "Skyline Dental", "33733"),
    campaign(3310, "Text-to-Win", "Gold Coast Pizza", "41411"),
    campaign(3311, "Holiday Deals", "Gold Coast Pizza", "41411"),
    campaign(4057, "Appointment Reminders", "Skyline Dental", "33733"),
    campaign(5120, "Flash Sale 50% Off", "Maple Street Books", "88588"),
    campaign(5121, "Store Alerts", "Maple Street Books", "88588"),
    campaign(
        6002,
        "Game Day Offers",
        "Tom & Jerry's Sports Bar",
        "123456",
    ),
];

const fn campaign(
    id: u32,
    title: &'static str,
    brand: &'static str,
    shortcode: &'static str,
) -> Campaign {
    Campaign {
        id,
        title,
        brand,
        shortcode,
    }
}

/// Replies subscribers text in; several need `&amp;` or `&lt;` in XML.
pub const SMS_TEXTS: [&str; 22] = [
    "STOP",
    "STOP",
    "HELP",
    "YES",
    "Y",
    "JOIN",
    "START",
    "INFO",
    "stop please",
    "UNSUBSCRIBE",
    "WIN",
    "Thanks!",
    "What time do you close tonight?",
    "Is the sale still on?",
    "Where is my order?",
    "Can I get a table for 4 at 7pm?",
    "Tom & Jerry's order #4412",
    "I <3 this deal",
    "2 for 1 & free shipping?",
    "is 5 > 3? lol",
    "Ok",
    "C",
];

/// Replies with letters outside ASCII but inside Latin-1, so they can be sent either way.
pub const ACCENTED_SMS_TEXTS: [&str; 8] = [
    "Olá",
    "Olá, tudo bem?",
    "¿Tienen envío gratis?",
    "Sí",
    "Gracias, señor",
    "Café au lait à emporter",
    "Ça marche, merci!",
    "Danke schön",
];

pub const HANDSETS: [&str; 8] = [
    "motol7c",
    "iphone",
    "iphone15",
    "samsung_sm-s918u",
    "lg_k51",
    "pixel_8",
    "moto_g_stylus",
    "unknown",
];

pub const MMS_SEND_ERRORS: [&str; 4] = [
    "Error fetching dynamic content",
    "Error fetching object(Database Error: Could not find number/email imported in database)",
    "Invalid receiver number",
    "MMS content exceeds carrier size limit",
];

/// The E101 detail of the older documentation's example, whose element is never closed.
pub const UNCLOSED_DETAIL: &str =
    "Error fetching object(Database Error: Could not find number/email imported in database)";

pub const EXPIRY_DETAILS: [&str; 2] = ["Message expired before delivery", "Handset unreachable"];
pub const REJECTION_DETAILS: [&str; 2] = [
    "Recipient blocked by mobile operator",
    "Subscriber has blocked short code",
];

pub const MMS_KEYWORDS: [&str; 6] = ["all", "photo", "contest", "pic", "win", "selfie"];
pub const MMS_SUBJECTS: [&str; 5] = [
    "Hello there",
    "My entry",
    "Contest photo",
    "Check this out",
    "",
];
pub const MEDIA_TYPES: [&str; 5] = ["jpg", "jpg", "png", "gif", "mp4"];
pub const AUDIO_NAMES: [&str; 3] = ["sample.mp3", "jingle.mp3", "promo_audio.wav"];

pub const SUBSCRIBE_SOURCES: [(&str, u32); 4] =
    [("MANAGER", 20), ("API", 35), ("MO", 35), ("WEB", 10)];
pub const UNSUBSCRIBE_SOURCES: [(&str, u32); 4] = [
    ("MANAGER", 10),
    ("API", 25),
    ("MO", 60),
    ("IMPORTED AS UNSUBSCRIBED", 5),
];

const FIRST_NAMES: [&str; 20] = [
    "maria", "james", "sarah", "li", "ahmed", "emily", "jose", "olivia", "noah", "chloe", "david",
    "priya", "kevin", "sofia", "lucas", "grace", "omar", "hannah", "carlos", "zoe",
];
const LAST_NAMES: [&str; 20] = [
    "lopez", "smith", "nguyen", "khan", "johnson", "garcia", "chen", "brown", "patel", "miller",
    "davis", "kim", "wilson", "martin", "lee", "clark", "lewis", "young", "walker", "hall",
];
const EMAIL_DOMAINS: [&str; 8] = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "aol.com",
    "icloud.com",
    "mail.com",
    "hotmail.com",
    "comcast.net",
];

/// Draws one item uniformly.
pub fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len() as u32) as usize]
}

/// Draws one item by integer weight.
pub fn pick_weighted<T: Copy>(rng: &mut impl Rng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.random_range(0..total);
    for &(item, weight) in table {
        if ticket < weight {
            return item;
        }
        ticket -= weight;
    }
    unreachable!("ticket is below the total weight")
}

/// Unique identifiers derived from a transaction number, so distinct postbacks never coincide.
///
/// Each family of identifiers maps transaction numbers one-to-one onto its own range through
/// a keyed permutation, so they look random yet never repeat while transactions stay below
/// the range.
pub struct Ids {
    seed: u64,
}

/// The smallest identifier range below; transaction numbers must stay under it.
pub const MAX_TRANSACTIONS: u64 = 8_000_000;

impl Ids {
    pub fn new(seed: u64) -> Self {
        Ids { seed }
    }

    /// A permutation of `0..modulus` picked by the seed and `family`: a four-round Feistel
    /// network over the next even power of two, walking the cycle back into range.
    fn permute(&self, thread: u32, modulus: u64, family: u64) -> u64 {
        debug_assert!(u64::from(thread) < modulus);
        let bits = 64 - (modulus - 1).leading_zeros();
        let half = bits.div_ceil(2).max(1);
        let mask = (1u64 << half) - 1;
        let key = mix(self.seed, family);
        let mut x = u64::from(thread);
        loop {
            let (mut left, mut right) = (x >> half, x & mask);
            for round in 0..4 {
                let f = mix(key ^ round, right) & mask;
                (left, right) = (right, left ^ f);
            }
            x = (left << half) | right;
            if x < modulus {
                return x;
            }
        }
    }

    /// `16503333058`: 1, an area code, and a subscriber number unique to the transaction.
    pub fn phone(&self, rng: &mut impl Rng, thread: u32, canadian: bool) -> String {
        let area = if canadian {
            pick(rng, &CANADIAN_AREA_CODES)
        } else {
            pick(rng, &US_AREA_CODES)
        };
        let local = 2_000_000 + self.permute(thread, MAX_TRANSACTIONS, 1);
        format!("1{area}{local}")
    }

    /// `maria.lopez417@gmail.com`, unique to the transaction.
    pub fn email(&self, rng: &mut impl Rng, thread: u32) -> String {
        let combos = (FIRST_NAMES.len() * LAST_NAMES.len() * EMAIL_DOMAINS.len()) as u64;
        let x = self.permute(thread, combos * 10_000, 2);
        let (number, rest) = (x / combos, (x % combos) as usize);
        let first = FIRST_NAMES[rest % FIRST_NAMES.len()];
        let last = LAST_NAMES[rest / FIRST_NAMES.len() % LAST_NAMES.len()];
        let domain = EMAIL_DOMAINS[rest / (FIRST_NAMES.len() * LAST_NAMES.len())];
        let separator = pick(rng, &[".", "_", ""]);
        format!("{first}{separator}{last}{number}@{domain}")
    }

    /// `U01TXzgwNjc4` / `TU1TXzU5Nzg3OQ==`: base64 of `SMS_<n>` or `MMS_<n>`, as the API returns.
    pub fn tracking_id(&self, prefix: &str, thread: u32) -> String {
        let number = 100_000 + self.permute(thread, 99_900_000, 3);
        base64(format!("{prefix}_{number}").as_bytes())
    }

    /// `MMS_MO_iLnCRrL6`: eight base-62 characters unique to the transaction.
    pub fn mms_mo_tracking_id(&self, thread: u32) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut x = self.permute(thread, 62u64.pow(8), 4);
        let mut id = String::from("MMS_MO_");
        for _ in 0..8 {
            id.push(DIGITS[(x % 62) as usize] as char);
            x /= 62;
        }
        id
    }

    /// A number in `[base, base + span)` unique to the transaction within `family`
    /// (subscription, pass and saved MMS ids).
    pub fn number(&self, thread: u32, family: u64, base: u64, span: u64) -> u64 {
        base + self.permute(thread, span, family)
    }
}

/// `11529-64807-97508-73852-97658`: an aggregator's transaction id.
pub fn aggregator_id(rng: &mut impl Rng) -> String {
    let groups: Vec<String> = (0..5)
        .map(|_| format!("{:05}", rng.random_range(0..100_000u32)))
        .collect();
    groups.join("-")
}

/// `511XG-02294-192SA-482H8`: an SMS MO transaction id.
pub fn transaction_id(rng: &mut impl Rng) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut id = String::with_capacity(23);
    for i in 0..20 {
        if i > 0 && i % 5 == 0 {
            id.push('-');
        }
        id.push(CHARS[rng.random_range(0..CHARS.len() as u32) as usize] as char);
    }
    id
}

/// `5294CE37878AE`: the head of a pass serial number, PHP `uniqid()` of the generation time
/// (eight hex digits of Unix seconds, five of microseconds), as the documented example is.
pub fn serial_head(rng: &mut impl Rng, instant: i64) -> String {
    format!("{instant:08X}{:05X}", rng.random_range(0..1_000_000u32))
}

/// Combines two numbers into a well-spread seed (SplitMix64 finalizer).
pub fn mix(a: u64, b: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    splitmix(a ^ splitmix(b))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_documented_tracking_ids() {
        assert_eq!(base64(b"SMS_80678"), "U01TXzgwNjc4");
        assert_eq!(base64(b"MMS_597879"), "TU1TXzU5Nzg3OQ==");
    }

    #[test]
    fn permuted_ids_never_repeat() {
        let ids = Ids::new(42);
        let mut seen: Vec<u64> = (0..20_000).map(|t| ids.permute(t, 20_011, 9)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 20_000);
        assert!(seen.iter().all(|&x| x < 20_011));
    }
}
