//! Generates a deterministic, realistic archive of Skycore postback files with a manifest of
//! its exact figures, for the importer's tests and benchmarks.
//!
//! The flow: [`plan`] decides what the platform sent and when (in the terms of [`model`]),
//! [`render`] turns each request into bytes with values from [`values`] and times from
//! [`clock`], [`write`] puts the files on disk in parallel, and [`manifest`] records what a
//! correct importer must find.

mod clock;
mod manifest;
mod model;
mod plan;
mod render;
mod values;
mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Parser;

use crate::manifest::Manifest;
use crate::plan::{Plan, Settings};
use crate::render::Renderer;
use crate::values::{Carriers, MAX_TRANSACTIONS};

/// Generate a deterministic archive of Skycore postback files (YYYY/MM/DD/HHMMSS-<seq>.xml).
#[derive(Parser)]
#[command(name = "gen_corpus")]
struct Args {
    /// Directory to write the archive into (created; must be empty unless --force)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of distinct postbacks to generate
    #[arg(long, value_name = "N")]
    postbacks: u32,
    /// Seed; the same arguments always produce byte-identical files
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Number of UTC days the events are spread over
    #[arg(long, value_name = "D", default_value_t = 7)]
    days: u32,
    /// First UTC day of the events
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-11-01")]
    start: NaiveDate,
    /// Where to write the JSON manifest [default: <DIR>/../<dirname>.manifest.json]
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// Delete an earlier corpus in DIR first
    #[arg(long)]
    force: bool,
}

/// The arguments checked and resolved once.
struct Config {
    out: PathBuf,
    manifest: PathBuf,
    force: bool,
    settings: Settings,
}

impl Config {
    fn from_args(args: Args) -> Result<Config> {
        if args.postbacks == 0 {
            bail!("--postbacks must be at least 1");
        }
        if u64::from(args.postbacks) > MAX_TRANSACTIONS {
            bail!(
                "--postbacks above {MAX_TRANSACTIONS} would repeat identifiers; \
                 generate several corpora with different --seed values instead"
            );
        }
        if args.days == 0 {
            bail!("--days must be at least 1");
        }
        let manifest = match args.manifest {
            Some(path) => path,
            None => default_manifest_path(&args.out)?,
        };
        Ok(Config {
            out: args.out,
            manifest,
            force: args.force,
            settings: Settings {
                seed: args.seed,
                postbacks: args.postbacks,
                days: args.days,
                start: args.start,
            },
        })
    }
}

/// `<DIR>/../<dirname>.manifest.json`: beside the archive, so it is not one of its files.
fn default_manifest_path(out: &Path) -> Result<PathBuf> {
    let Some(name) = out.file_name() else {
        bail!(
            "cannot name a manifest beside {}; pass --manifest PATH",
            out.display()
        );
    };
    let mut file_name = name.to_owned();
    file_name.push(".manifest.json");
    Ok(out.parent().unwrap_or(Path::new("")).join(file_name))
}

fn main() -> Result<()> {
    let config = Config::from_args(Args::parse())?;
    let started = Instant::now();
    let carriers = Carriers::bundled();
    let plan = Plan::build(&config.settings);
    let renderer = Renderer::new(config.settings.seed, &carriers, &plan.postbacks);
    write::prepare_out_dir(&config.out, config.force)?;
    let bytes = write::write_files(&config.out, &plan, &renderer)?;
    Manifest::from_plan(&plan, &config.settings, bytes).save(&config.manifest)?;
    println!(
        "files={} bytes={} elapsed_ms={} out={} manifest={}",
        plan.files.len(),
        bytes,
        started.elapsed().as_millis(),
        config.out.display(),
        config.manifest.display()
    );
    Ok(())
}
