//! Store, import writer: fingerprints as keys of the map of what this run stored,
//! small and cheaply hashed.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fingerprint as a map key, in quarters: with the postback's id as a `u32` offset
/// from the run's first, an entry of the in-run map takes 20 bytes, not the 32 of a
/// 16-aligned `u128` key and an `i64`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Key([u32; 4]);

impl From<u128> for Key {
    fn from(fingerprint: u128) -> Self {
        Key([
            (fingerprint >> 96) as u32,
            (fingerprint >> 64) as u32,
            (fingerprint >> 32) as u32,
            fingerprint as u32,
        ])
    }
}

impl Hash for Key {
    /// Fingerprints are xxh3 hashes already: folding the halves is hash enough, and
    /// much cheaper than SipHash on every postback.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [a, b, c, d] = self.0.map(u64::from);
        state.write_u64((a << 32 | b) ^ (c << 32 | d));
    }
}

/// Passes [`Key`]'s folded value through.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

pub(super) type KeyHash = BuildHasherDefault<KeyHasher>;
