//! The long fuzz run: the harness of `tests/fuzz.rs` for as many cases as asked, on
//! every core.
//!
//! ```sh
//! cargo run --release --example fuzz -- --cases 10000000 --seed 1
//! cargo run --release --example fuzz -- --seed 1 --replay 4711   # one case again (same --max-len), with its input
//! cargo run --release --example fuzz -- --sweep                  # every multibyte character at every offset of every value
//! ```
//!
//! Case `i` of seed `s` is the same on every machine, so a failure prints the command
//! that replays it; its input is written to `--out` (default `fuzz-failures/`), ready
//! to become a fixture in `tests/fixtures/fuzz/`. Exits 1 when a case failed.

#[path = "../tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fuzz_harness::{Case, Corpus, Failure, Outcome, check};

#[global_allocator]
static ALLOCATOR: fuzz_harness::CountingAllocator = fuzz_harness::CountingAllocator;

/// A case that takes more CPU time than this is a hang, whatever its size (the
/// largest, 1 MiB and more, take about a tenth of it).
const HANG: Duration = Duration::from_secs(2);

struct Options {
    cases: u64,
    seed: u64,
    threads: usize,
    max_len: usize,
    replay: Option<u64>,
    sweep: bool,
    out: PathBuf,
}

fn options() -> Result<Options> {
    let mut options = Options {
        cases: 100_000,
        seed: 1,
        threads: std::thread::available_parallelism().map_or(2, usize::from),
        max_len: 1 << 20,
        replay: None,
        sweep: false,
        out: PathBuf::from("fuzz-failures"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--cases" => options.cases = value()?.parse()?,
            "--seed" => options.seed = value()?.parse()?,
            "--threads" => options.threads = value()?.parse::<usize>()?.clamp(1, 64),
            "--max-len" => options.max_len = value()?.parse()?,
            "--replay" => options.replay = Some(value()?.parse()?),
            "--out" => options.out = PathBuf::from(value()?),
            "--sweep" => options.sweep = true,
            other => bail!(
                "unknown argument {other}; usage: fuzz [--cases N] [--seed N] [--threads N] [--max-len BYTES] [--replay INDEX] [--sweep] [--out DIR]"
            ),
        }
    }
    Ok(options)
}

/// The run's figures, merged over threads.
#[derive(Default)]
struct Figures {
    cases: u64,
    bytes: u64,
    postbacks: u64,
    problems: u64,
    /// The largest steps and peak memory per byte (inputs of 64 KiB and more) and CPU
    /// time per case, each with its case index.
    steps_per_byte: (f64, u64),
    memory_per_byte: (f64, u64),
    slowest: (Duration, u64, usize),
}

impl Figures {
    fn add(&mut self, index: u64, outcome: &Outcome) {
        self.cases += 1;
        self.bytes += outcome.bytes as u64;
        self.postbacks += outcome.postbacks as u64;
        self.problems += outcome.problems;
        let len = outcome.bytes.max(1) as f64;
        // Per byte, on inputs large enough for the fixed allowances not to count.
        if outcome.bytes >= 64 * 1024 {
            let steps = outcome.steps as f64 / len;
            if steps > self.steps_per_byte.0 {
                self.steps_per_byte = (steps, index);
            }
            let memory = outcome.peak_memory as f64 / len;
            if memory > self.memory_per_byte.0 {
                self.memory_per_byte = (memory, index);
            }
        }
        if outcome.cpu_time > self.slowest.0 {
            self.slowest = (outcome.cpu_time, index, outcome.bytes);
        }
    }

    fn merge(&mut self, other: Figures) {
        self.cases += other.cases;
        self.bytes += other.bytes;
        self.postbacks += other.postbacks;
        self.problems += other.problems;
        if other.steps_per_byte.0 > self.steps_per_byte.0 {
            self.steps_per_byte = other.steps_per_byte;
        }
        if other.memory_per_byte.0 > self.memory_per_byte.0 {
            self.memory_per_byte = other.memory_per_byte;
        }
        if other.slowest.0 > self.slowest.0 {
            self.slowest = other.slowest;
        }
    }
}

fn main() -> Result<()> {
    let options = options()?;
    fuzz_harness::quiet_panics();
    let corpus = Corpus::load();
    eprintln!("fuzz: {} corpus files", corpus.seeds.len());
    if let Some(index) = options.replay {
        return replay(&corpus, &options, index);
    }
    if options.sweep {
        return sweep(&corpus, &options);
    }
    run(&corpus, &options)
}

fn replay(corpus: &Corpus, options: &Options, index: u64) -> Result<()> {
    let case = Case::generate(corpus, options.seed, index, options.max_len);
    println!("case {index} of seed {}: {}", options.seed, case.story);
    println!("delivery: {:?}", case.delivery);
    let path = save(&options.out, &case)?;
    println!("input ({} bytes): {}", case.bytes.len(), path.display());
    match check(&case) {
        Ok(outcome) => {
            println!("passes: {outcome:?}");
            Ok(())
        }
        Err(failure) => bail!("{failure}"),
    }
}

fn sweep(corpus: &Corpus, options: &Options) -> Result<()> {
    let started = Instant::now();
    let mut failures = 0;
    let mut cases = 0u64;
    for seed in &corpus.seeds {
        for case in fuzz_harness::sweep(seed) {
            cases += 1;
            if let Err(failure) = check(&case) {
                failures += 1;
                let path = save(&options.out, &case)?;
                eprintln!("{failure}\n  input: {}", path.display());
            }
        }
    }
    println!(
        "sweep: {cases} cases, {failures} failed, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if failures > 0 {
        bail!("{failures} sweep case(s) failed");
    }
    Ok(())
}

fn run(corpus: &Corpus, options: &Options) -> Result<()> {
    let started = Instant::now();
    let done = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let figures = Mutex::new(Figures::default());
    std::thread::scope(|scope| {
        for thread in 0..options.threads {
            let (done, failures, figures) = (&done, &failures, &figures);
            std::thread::Builder::new()
                .name(format!("fuzz-{thread}"))
                .spawn_scoped(scope, move || {
                    let mine = run_share(corpus, options, thread, done, failures);
                    figures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .merge(mine);
                })
                .expect("a fuzz thread starts");
        }
        report_progress(options, &done, started);
    });
    let figures = figures.into_inner().unwrap_or_else(|e| e.into_inner());
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    summarize(options, &figures, failures.len(), started.elapsed());
    if !failures.is_empty() {
        bail!("{} case(s) failed", failures.len());
    }
    Ok(())
}

/// Cases `thread`, `thread + threads`, … of the run.
fn run_share(
    corpus: &Corpus,
    options: &Options,
    thread: usize,
    done: &AtomicU64,
    failures: &Mutex<Vec<String>>,
) -> Figures {
    let mut figures = Figures::default();
    let mut index = thread as u64;
    while index < options.cases {
        let case = Case::generate(corpus, options.seed, index, options.max_len);
        let result = check(&case).and_then(|outcome| not_hung(&case, outcome));
        match result {
            Ok(outcome) => figures.add(index, &outcome),
            Err(failure) => {
                let saved = save(&options.out, &case)
                    .map_or_else(|e| format!("not saved: {e}"), |p| p.display().to_string());
                eprintln!("FAILED {failure}\n  input saved: {saved}");
                failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(failure.to_string());
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
        index += options.threads as u64;
    }
    figures
}

fn not_hung(case: &Case, outcome: Outcome) -> Result<Outcome, Failure> {
    if outcome.cpu_time <= HANG {
        return Ok(outcome);
    }
    Err(Failure {
        what: format!(
            "took {:?} of CPU for {} bytes",
            outcome.cpu_time, outcome.bytes
        ),
        story: case.story.clone(),
        seed: case.seed,
        index: case.index,
        replay: case.replay.clone(),
    })
}

fn report_progress(options: &Options, done: &AtomicU64, started: Instant) {
    let mut last = Instant::now();
    loop {
        let count = done.load(Ordering::Relaxed);
        if count >= options.cases {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "fuzz: {count} of {} cases, {seconds:.0} s, {:.0} cases/s",
                options.cases,
                count as f64 / seconds
            );
        }
    }
}

fn summarize(options: &Options, figures: &Figures, failed: usize, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!(
        "fuzz seed {}: {} cases on {} threads in {seconds:.1} s ({:.0} cases/s), {failed} failed",
        options.seed,
        figures.cases + failed as u64,
        options.threads,
        (figures.cases + failed as u64) as f64 / seconds
    );
    println!(
        "  {:.1} MiB parsed, {} postbacks, {} problems",
        figures.bytes as f64 / 1048576.0,
        figures.postbacks,
        figures.problems
    );
    println!(
        "  inputs of 64 KiB and more: most steps per byte {:.2} (case {}), most memory per byte {:.1} (case {})",
        figures.steps_per_byte.0,
        figures.steps_per_byte.1,
        figures.memory_per_byte.0,
        figures.memory_per_byte.1
    );
    let (time, index, bytes) = figures.slowest;
    println!("  slowest case: {time:?} of CPU for {bytes} bytes (case {index})");
}

/// Write a case's input where it can be inspected or kept as a fixture.
fn save(dir: &std::path::Path, case: &Case) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("seed-{}-case-{}.xml", case.seed, case.index));
    std::fs::write(&path, &case.bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
