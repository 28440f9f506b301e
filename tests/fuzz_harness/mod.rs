//! The fuzz harness shared by `tests/fuzz.rs` (a fixed budget inside `cargo test`) and
//! `examples/fuzz.rs` (the long run): seeded mutations of real postback files, each
//! driven through parse -> normalize (and, for a few, gzip -> `discover::read_file`),
//! checked against what every input must keep:
//!
//! - no panic;
//! - bounded work: the parser's steps stay within `(SCAN_FACTOR + 2)` times the
//!   text, plus `SCAN_SLACK`;
//! - bounded memory: the peak of what parsing and normalizing allocate stays within
//!   [`MEMORY_FACTOR`] bytes per byte and [`POSTBACK_MEMORY`] per postback, plus
//!   [`MEMORY_SLACK`];
//! - the same bytes parse to the same postbacks, problems and fingerprints twice;
//! - nothing lost unsaid: when a mutation leaves the markup alone (a character added
//!   to a value, the file re-encoded) every postback comes back, changed only there;
//!   when a single edit breaks the markup, every postback after the edit comes back
//!   unless the file has a problem.
//!
//! A case is replayed from its seed and index alone (`ChaCha8` stream `index` of
//! `seed`), so a failure prints the command that reproduces it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use postback_archive::normalize::{Postback, normalize_all};
use postback_archive::parse::{ParsedFile, SCAN_FACTOR, SCAN_SLACK, parse_file_with};
use postback_archive::problem::{Problem, ProblemKind, Problems};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod mutate;

pub use mutate::{Expectation, GzipDamage};

/// Peak memory parsing and normalizing a case may take per byte of its text: the
/// parser holds its fields to `FIELD_MEMORY_FACTOR` (16) bytes a byte, and
/// normalizing copies names and values into `extra` JSON.
pub const MEMORY_FACTOR: usize = 48;
/// Peak memory per postback, beyond [`MEMORY_FACTOR`]: a normalized postback has a
/// slot for each of the 33 typed columns (about 1.1 KB), however small its text.
pub const POSTBACK_MEMORY: usize = 2048;
/// Peak memory any case may take beyond the above.
pub const MEMORY_SLACK: usize = 4 << 20;

// ---------------------------------------------------------------------------------
// Memory: a counting allocator, per thread, so concurrent tests do not mix.

/// Counts the bytes each thread has allocated and not freed, and their peak.
pub struct CountingAllocator;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(delta);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to `System` unchanged; the counters are const
// thread-locals of `Cell<isize>`, which neither allocate nor need a destructor.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `alloc` above with this `layout`.
        unsafe { System.dealloc(pointer, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

/// Runs `work` and returns its result with the peak of the memory it held at once.
pub fn measure_peak<R>(work: impl FnOnce() -> R) -> (R, usize) {
    let mark = PeakMark::now();
    let result = work();
    (result, mark.peak())
}

/// The start of a measurement of peak memory on this thread.
struct PeakMark(isize);

impl PeakMark {
    fn now() -> PeakMark {
        let start = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(start));
        PeakMark(start)
    }

    /// The most this thread held at once since the mark, beyond what it held then.
    fn peak(&self) -> usize {
        (PEAK.with(Cell::get) - self.0).max(0) as usize
    }
}

// ---------------------------------------------------------------------------------
// The corpus: real files, each with what the parser makes of it unmutated.

/// One real file to mutate.
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Its postbacks' fields, in order, as the parser reads the unmutated file.
    pub postbacks: Vec<Vec<(String, String)>>,
    /// Byte offset of each postback's start tag, when the file is plain UTF-8 without
    /// comments, CDATA or declarations of another encoding (so offsets in the bytes
    /// are offsets in the text the parser reads); `None` otherwise.
    pub starts: Option<Vec<usize>>,
    /// Byte ranges of element text fit for inserting characters (no entity, no markup).
    pub values: Vec<std::ops::Range<usize>>,
}

/// The files the fuzzer mutates.
pub struct Corpus {
    pub seeds: Vec<Seed>,
}

impl Corpus {
    /// Every `*.xml` under `tests/fixtures/` and every `*.xml` and `*.xml.gz` (gunzipped)
    /// under `data/sample/`, in a stable order.
    pub fn load() -> Corpus {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths: Vec<PathBuf> = ["tests/fixtures", "data/sample"]
            .iter()
            .flat_map(|dir| walkdir::WalkDir::new(root.join(dir)).sort_by_file_name())
            .filter_map(Result::ok)
            .map(|entry| entry.into_path())
            .filter(|path| {
                let name = path.to_string_lossy();
                name.ends_with(".xml") || name.ends_with(".xml.gz")
            })
            .collect();
        paths.sort();
        let seeds = paths
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).expect("a corpus file can be read");
                let bytes = if path.to_string_lossy().ends_with(".gz") {
                    let mut content = Vec::new();
                    let _ = MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut content);
                    content
                } else {
                    raw
                };
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(path)
                    .display()
                    .to_string();
                Seed::new(name, bytes)
            })
            .collect();
        Corpus { seeds }
    }
}

impl Seed {
    pub fn new(name: String, bytes: Vec<u8>) -> Seed {
        let (postbacks, clean) = parse_file_with(&bytes, |parsed| {
            let postbacks: Vec<_> = parsed
                .postbacks
                .iter()
                .map(|p| owned_fields(&p.fields))
                .collect();
            // Only repairs: every element's text is a field of a postback.
            let clean = parsed.problems.total() == parsed.problems.len() as u64
                && parsed
                    .problems
                    .iter()
                    .all(|p| p.kind == ProblemKind::Salvaged);
            (postbacks, clean)
        });
        let plain = std::str::from_utf8(&bytes).ok().filter(|text| {
            clean
                && !text.contains("<!")
                && !text.starts_with('\u{feff}')
                && !text.to_ascii_lowercase().contains("encoding=\"iso")
        });
        let starts = plain.map(|text| {
            parse_file_with(text.as_bytes(), |parsed| {
                parsed
                    .postbacks
                    .iter()
                    .map(|p| offset_of(text, p.position.line, p.position.column))
                    .collect()
            })
        });
        let values = plain.map(value_ranges).unwrap_or_default();
        Seed {
            name,
            bytes,
            postbacks,
            starts,
            values,
        }
    }
}

fn owned_fields(fields: &[postback_archive::parse::Field<'_>]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| (f.name.to_string(), f.value.to_string()))
        .collect()
}

/// The byte offset of a 1-based line and byte column.
fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    line_start + column.saturating_sub(1) as usize
}

/// Ranges of element text between `>` and `<` that hold something besides spaces and
/// no `&` (so an inserted character cannot break an entity).
fn value_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut at = 0;
    while let Some(open) = memchr::memchr(b'>', &bytes[at..]) {
        let start = at + open + 1;
        let Some(close) = memchr::memchr(b'<', &bytes[start..]) else {
            break;
        };
        let end = start + close;
        let value = &text[start..end];
        if !value.trim().is_empty() && !value.contains('&') && !value.contains('>') {
            ranges.push(start..end);
        }
        at = end;
    }
    ranges
}

// ---------------------------------------------------------------------------------
// Cases.

/// How a case's bytes reach the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Parsed as they are.
    Plain,
    /// Gzipped (with damaged framing when `damage` says so), written to a temporary
    /// `.xml.gz` file and read back through `discover::read_file`.
    Gzip { damage: GzipDamage },
}

/// One input to check, replayable from `seed` and `index`.
pub struct Case {
    pub seed: u64,
    pub index: u64,
    /// Which corpus file it came from and what was done to it.
    pub story: String,
    /// The command that checks this case again.
    pub replay: String,
    pub bytes: Vec<u8>,
    pub delivery: Delivery,
    pub expectation: Expectation,
}

impl Case {
    /// The case number `index` of the run seeded with `seed`: up to three mutations of
    /// a corpus file, no longer than `max_len` bytes.
    pub fn generate(corpus: &Corpus, seed: u64, index: u64, max_len: usize) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        let source = &corpus.seeds[rng.random_range(0..corpus.seeds.len())];
        let mut mutated = mutate::Mutated::of(source);
        let rounds = if rng.random_bool(0.7) {
            1
        } else {
            rng.random_range(2..=3)
        };
        for _ in 0..rounds {
            mutated = mutate::apply(&mut rng, corpus, mutated, max_len);
        }
        let delivery = if rng.random_ratio(1, 64) {
            Delivery::Gzip {
                damage: GzipDamage::pick(&mut rng),
            }
        } else {
            Delivery::Plain
        };
        let expectation = match delivery {
            Delivery::Gzip { damage } if damage != GzipDamage::None => Expectation::Anything,
            _ => mutated.expectation,
        };
        let mut story = format!("{}: {}", source.name, mutated.story.join(", "));
        if let Delivery::Gzip { damage } = delivery {
            story.push_str(&format!(", gzipped ({damage:?})"));
        }
        Case {
            seed,
            index,
            story,
            replay: format!(
                "cargo run --release --example fuzz -- --seed {seed} --max-len {max_len} --replay {index}"
            ),
            bytes: mutated.bytes,
            delivery,
            expectation,
        }
    }
}

/// What checking one case found, for the run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub bytes: usize,
    pub postbacks: usize,
    pub problems: u64,
    pub steps: u64,
    pub peak_memory: usize,
    /// CPU time of the first parse and normalize (not wall time, which other work on
    /// the machine stretches).
    pub cpu_time: Duration,
}

/// A broken invariant, with the case that broke it.
pub struct Failure {
    pub what: String,
    pub story: String,
    pub seed: u64,
    pub index: u64,
    pub replay: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} case {}: {}\n  input: {}\n  replay: {}",
            self.seed, self.index, self.what, self.story, self.replay
        )
    }
}

/// What one parse and normalize of a case's bytes produced.
struct Reading {
    postbacks: Vec<Vec<(String, String)>>,
    normalized: Vec<Postback>,
    problems: Vec<Problem>,
    problem_total: u64,
    steps: u64,
    text_len: usize,
    /// The most memory parsing and normalizing held at once (before the copies
    /// the checks keep).
    peak_memory: usize,
}

/// Parse and normalize `bytes` as an import does, keeping what the checks compare.
fn read(bytes: &[u8], first_problem: Option<Problem>) -> Reading {
    let mark = PeakMark::now();
    parse_file_with(bytes, |parsed: ParsedFile<'_>| {
        let mut problems = Problems::from_iter(first_problem);
        let steps = parsed.steps;
        problems.absorb(parsed.problems);
        let normalized = normalize_all(&parsed.postbacks, &mut problems);
        let problem_total = problems.total();
        let problems = problems.into_vec();
        let peak_memory = mark.peak();
        Reading {
            postbacks: parsed
                .postbacks
                .iter()
                .map(|p| owned_fields(&p.fields))
                .collect(),
            normalized,
            problem_total,
            problems,
            steps,
            text_len: bytes.len(),
            peak_memory,
        }
    })
}

/// Check one case against every invariant.
pub fn check(case: &Case) -> Result<Outcome, Failure> {
    let fail = |what: String| Failure {
        what,
        story: case.story.clone(),
        seed: case.seed,
        index: case.index,
        replay: case.replay.clone(),
    };
    let started = thread_cpu_time();
    let run = std::panic::catch_unwind(|| deliver(case));
    let cpu_time = thread_cpu_time().saturating_sub(started);
    let (reading, content_len) = match run {
        Ok(result) => result,
        Err(panic) => return Err(fail(format!("panic: {}", panic_message(&panic)))),
    };
    let reading = reading.map_err(fail)?;
    let peak_memory = reading.peak_memory;
    let len = content_len.max(case.bytes.len());
    // Decoding Windows-1252 or UTF-16 makes up to three bytes of text of one byte.
    let text_len = if case.bytes.is_ascii() { len } else { 3 * len };
    let step_limit = (SCAN_FACTOR + 2) * text_len + SCAN_SLACK;
    if reading.steps > step_limit as u64 {
        return Err(fail(format!(
            "{} steps for {len} bytes, over the bound of {step_limit}",
            reading.steps
        )));
    }
    let postbacks = reading.postbacks.len();
    let memory_limit = MEMORY_FACTOR * text_len + POSTBACK_MEMORY * postbacks + MEMORY_SLACK;
    if peak_memory > memory_limit {
        return Err(fail(format!(
            "{peak_memory} bytes at peak for {len} bytes of input and {postbacks} postbacks, over the bound of {memory_limit}"
        )));
    }
    let again = deliver(case).0.map_err(fail)?;
    same_reading(&reading, &again)
        .map_err(|what| fail(format!("a second parse differs: {what}")))?;
    mutate::meets(&case.expectation, &reading.postbacks, reading.problem_total).map_err(fail)?;
    Ok(Outcome {
        bytes: len,
        postbacks: reading.postbacks.len(),
        problems: reading.problem_total,
        steps: reading.steps,
        peak_memory,
        cpu_time,
    })
}

/// CPU time this thread has used so far: what a case costs, whatever else runs.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid `timespec` for the call to write, and the clock exists
    // on every system the project builds on (Linux, macOS).
    let failed = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0;
    if failed {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The case's bytes through the stages before the store; the content's length.
fn deliver(case: &Case) -> (Result<Reading, String>, usize) {
    match &case.delivery {
        Delivery::Plain => (Ok(read(&case.bytes, None)), case.bytes.len()),
        Delivery::Gzip { damage } => {
            let packed = damage.apply(&gzip(&case.bytes));
            match read_through_discover(&packed) {
                Ok((content, problem)) => {
                    let len = content.len();
                    (Ok(read(&content, problem)), len)
                }
                Err(error) => (Err(error), 0),
            }
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

thread_local! {
    /// One folder per thread for the gzipped cases, in memory where the system has it.
    static GZIP_DIR: Option<tempfile::TempDir> = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .ok();
}

/// Write `packed` to a temporary `.xml.gz` file and read it as the import does.
fn read_through_discover(packed: &[u8]) -> Result<(Vec<u8>, Option<Problem>), String> {
    let dir = GZIP_DIR.with(|dir| dir.as_ref().map(|d| d.path().to_path_buf()));
    let dir = dir.ok_or("no temporary folder")?;
    let path = dir.join("case.xml.gz");
    std::fs::write(&path, packed).map_err(|e| format!("cannot write the case: {e}"))?;
    let file = postback_archive::discover::FileToRead {
        path_key: postback_archive::discover::path_key(&path),
        path,
        parent: None,
        display: "case.xml.gz".to_string(),
        compressed: true,
        known: None,
        folder: None,
    };
    let bytes = postback_archive::discover::read_file(&file, 64 << 20)
        .map_err(|problem| format!("read_file failed: {}", problem.message))?;
    Ok((bytes.content, bytes.problem))
}

fn same_reading(first: &Reading, second: &Reading) -> Result<(), String> {
    if first.postbacks != second.postbacks {
        return Err("postbacks".to_string());
    }
    if first.problems != second.problems {
        return Err("problems".to_string());
    }
    let fingerprints = |r: &Reading| {
        r.normalized
            .iter()
            .map(|p| p.fingerprint)
            .collect::<Vec<_>>()
    };
    if fingerprints(first) != fingerprints(second) || first.normalized != second.normalized {
        return Err("fingerprints or normalized postbacks".to_string());
    }
    if first.steps != second.steps || first.text_len != second.text_len {
        return Err("steps".to_string());
    }
    Ok(())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Silence the default panic message for panics the harness catches and reports
/// itself (with the case's seed and index) on this thread.
pub fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("fuzz-"))
        {
            return;
        }
        default(info);
    }));
}

// ---------------------------------------------------------------------------------
// The sweep: every multibyte character at every offset of every value.

/// Characters the sweep inserts: two, three and four bytes, a combining accent, a
/// byte-order mark, a line separator.
pub const SWEEP_CHARS: [char; 6] = [
    '\u{e9}',
    '\u{2026}',
    '\u{1f600}',
    '\u{301}',
    '\u{feff}',
    '\u{2028}',
];

/// Every case of the sweep over `seed`: `SWEEP_CHARS` at every character boundary of
/// every value.
pub fn sweep(seed: &Seed) -> impl Iterator<Item = Case> + '_ {
    seed.values.iter().flat_map(move |range| {
        let text = std::str::from_utf8(&seed.bytes[range.clone()]).unwrap_or("");
        let offsets: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .map(|i| range.start + i)
            .collect();
        offsets.into_iter().flat_map(move |at| {
            SWEEP_CHARS
                .iter()
                .map(move |c| mutate::insert_char(seed, at, *c))
        })
    })
}
