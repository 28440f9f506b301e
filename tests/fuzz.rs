//! The fuzzer's fixed budget inside `cargo test`: seeded mutations of the real files in
//! `tests/fixtures/` and `data/sample/` through parse -> normalize, every multibyte
//! character at every offset of every value of the reference examples, and every
//! crash the long run (`cargo run --release --example fuzz`) ever found, replayed
//! from `tests/fixtures/fuzz/`. See `tests/fuzz_harness/mod.rs` for the invariants.

mod fuzz_harness;

use std::path::Path;

use fuzz_harness::{Case, Corpus, Delivery, Expectation, check};

#[global_allocator]
static ALLOCATOR: fuzz_harness::CountingAllocator = fuzz_harness::CountingAllocator;

/// Cases per `cargo test` run: a few seconds on one core.
const BUDGET_CASES: u64 = 20_000;
/// Largest mutated input inside the test budget (the long run goes to 1 MiB).
const BUDGET_MAX_LEN: usize = 64 * 1024;

/// The run's seed: fixed, so that `cargo test` is repeatable; another can be tried
/// with `POSTBACK_ARCHIVE_FUZZ_SEED=N cargo test --release --test fuzz`.
fn seed() -> u64 {
    std::env::var("POSTBACK_ARCHIVE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_101)
}

fn assert_no_failures(failures: &[String], cases: u64) {
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn seeded_mutations_keep_every_invariant() {
    let corpus = Corpus::load();
    assert!(
        corpus.seeds.len() > 300,
        "{} corpus files",
        corpus.seeds.len()
    );
    let seed = seed();
    let mut failures = Vec::new();
    let (mut postbacks, mut gzipped) = (0, 0);
    for index in 0..BUDGET_CASES {
        let case = Case::generate(&corpus, seed, index, BUDGET_MAX_LEN);
        gzipped += u64::from(case.delivery != Delivery::Plain);
        match check(&case) {
            Ok(outcome) => postbacks += outcome.postbacks,
            Err(failure) => failures.push(failure.to_string()),
        }
    }
    assert_no_failures(&failures, BUDGET_CASES);
    assert!(
        postbacks > 10_000,
        "the mutated files still hold postbacks: {postbacks}"
    );
    assert!(
        gzipped > 100,
        "{gzipped} cases went through gzip and discover::read_file"
    );
}

#[test]
fn a_multibyte_character_at_every_offset_of_every_reference_value() {
    let corpus = Corpus::load();
    let mut failures = Vec::new();
    let mut cases = 0;
    for seed in corpus
        .seeds
        .iter()
        .filter(|s| s.name.contains("fixtures/reference"))
    {
        for case in fuzz_harness::sweep(seed) {
            cases += 1;
            if let Err(failure) = check(&case) {
                failures.push(failure.to_string());
            }
        }
    }
    assert_no_failures(&failures, cases);
    assert!(cases > 10_000, "{cases} cases");
}

/// Every input the fuzzer ever broke the parser with, kept as a fixture.
#[test]
fn every_crash_fixture_keeps_every_invariant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let case = Case {
            seed: 0,
            index: 0,
            story: path.display().to_string(),
            replay: "cargo test --release --test fuzz every_crash_fixture".to_string(),
            bytes: std::fs::read(&path).unwrap(),
            delivery: Delivery::Plain,
            expectation: Expectation::Anything,
        };
        cases += 1;
        if let Err(failure) = check(&case) {
            failures.push(failure.to_string());
        }
    }
    assert_no_failures(&failures, cases);
    assert!(cases > 0, "no fixture in {}", dir.display());
}

/// quick-xml keeps every start tag not yet ended; `<A>` repeated (read as empty
/// elements) grew its buffer with the file: 8 bytes and the name per tag.
#[test]
fn regression_an_element_bomb_held_memory_in_proportion_to_the_file() {
    let bomb = "<A>".repeat(2_000_000);
    let (total, peak) = fuzz_harness::measure_peak(|| {
        postback_archive::parse::parse_file_with(bomb.as_bytes(), |parsed| parsed.problems.total())
    });
    assert_eq!(total, 1_000_000);
    assert!(
        peak < 1 << 20,
        "{peak} bytes at peak for {} bytes",
        bomb.len()
    );
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(name);
    std::fs::read(path).unwrap()
}

/// Found by the fuzzer on its first run (seed 7): a byte-order mark inside the seconds
/// of a sample's timestamp panicked in `normalize/timestamp.rs`.
#[test]
fn regression_fuzz_timestamp_bom_inside_seconds_panicked() {
    let bytes = fixture("timestamp-bom-inside-seconds.xml");
    let problems = postback_archive::parse::parse_file_with(&bytes, |parsed| {
        assert_eq!(parsed.postbacks.len(), 1);
        let (postback, problems) = postback_archive::normalize::normalize(&parsed.postbacks[0]);
        assert_eq!(postback.occurred_at, None);
        assert_eq!(
            postback.extra(),
            Some("{\"TIMESTAMP\":\"2026-11-01T19:53:\u{feff}37-05:00\"}")
        );
        problems
    });
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].message,
        "<TIMESTAMP> \"2026-11-01T19:53:\\u{feff}37-05:00\" is not a timestamp; kept in extra"
    );
}

/// Found by the fuzzer (seed 7): `<A>` repeated around a tag whose 40 KB name is
/// `&#0;` ten thousand times; every field below it was named by that path, and the
/// 106 KB file took 455 MB.
#[test]
fn regression_fuzz_long_name_above_many_fields_took_455_mb() {
    let bytes = fixture("long-name-above-many-fields.xml");
    let (last, peak) = fuzz_harness::measure_peak(|| {
        postback_archive::parse::parse_file_with(&bytes, |parsed| {
            assert!(parsed.postbacks.is_empty());
            parsed.problems.into_vec().pop().unwrap().message
        })
    });
    assert!(peak < 2 << 20, "{peak} bytes at peak");
    // The first 100 problems are the doubled `<A><A>` before the long name; the
    // refusal of the long name is counted after them.
    assert_eq!(
        last,
        "5151 more problem(s) in this file were not stored (malformed_xml 1, salvaged 5150); the first 100 are"
    );
}
