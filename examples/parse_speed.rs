//! Benchmark helper: the CPU cost of parsing and normalizing, without reading or storing.
//!
//! Reads every `*.xml` / `*.xml.gz` file under DIR on one thread and times only the
//! parsing and normalizing of each, right after it is read (as an import does), then
//! prints `parse_seconds=…`. bench/run.sh uses it to show how much of an import is parsing.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use postback_archive::normalize::normalize;
use postback_archive::parse::parse_file_with;
use walkdir::WalkDir;

fn main() -> Result<()> {
    let dir = std::env::args().nth(1).context("usage: parse_speed DIR")?;
    let (mut files, mut postbacks, mut parsing) = (0, 0, Duration::ZERO);
    for entry in WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !entry.file_type().is_file() || !(name.ends_with(".xml") || name.ends_with(".xml.gz")) {
            continue;
        }
        let raw = std::fs::read(entry.path())?;
        let content = if name.ends_with(".gz") {
            let mut content = Vec::new();
            let _ = MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut content);
            content
        } else {
            raw
        };
        let started = Instant::now();
        postbacks += parse_file_with(&content, |parsed| {
            parsed.postbacks.iter().map(normalize).count()
        });
        parsing += started.elapsed();
        files += 1;
    }
    println!(
        "files={files} postbacks={postbacks} parse_seconds={:.3}",
        parsing.as_secs_f64()
    );
    Ok(())
}
