//! The I/O floor for benchmarks: walk a directory and read every regular file, nothing else.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use rayon::prelude::*;
use walkdir::WalkDir;

/// Read every regular file under DIR in parallel and report how long it took.
#[derive(Parser)]
#[command(name = "floor")]
struct Args {
    /// Directory to read (symlinks are not followed)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Reading threads [default: all cores]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// Files and bytes read.
struct Tally {
    files: u64,
    bytes: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.dir.is_dir() {
        bail!(
            "{} is not a directory; pass the corpus folder",
            args.dir.display()
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("could not start the thread pool")?;
    let started = Instant::now();
    let tally = pool.install(|| read_all(&args.dir))?;
    println!(
        "files={} bytes={} elapsed_ms={}",
        tally.files,
        tally.bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Lists the regular files under `dir`, then reads them on the pool, each into a per-thread
/// buffer. (Listing first is faster than feeding the walk to the pool through `par_bridge`.)
fn read_all(dir: &Path) -> Result<Tally> {
    let mut paths = Vec::new();
    for entry in WalkDir::new(dir).follow_links(false) {
        let entry = entry.with_context(|| format!("could not walk {}", dir.display()))?;
        if entry.file_type().is_file() {
            paths.push(entry.into_path());
        }
    }
    let bytes = paths
        .par_iter()
        .map_init(Vec::new, |buffer, path| {
            read_into(path, buffer).with_context(|| format!("could not read {}", path.display()))
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(Tally {
        files: paths.len() as u64,
        bytes,
    })
}

fn read_into(path: &Path, buffer: &mut Vec<u8>) -> std::io::Result<u64> {
    buffer.clear();
    File::open(path)?.read_to_end(buffer)?;
    Ok(buffer.len() as u64)
}
