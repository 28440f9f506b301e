//! Writes an archive folder as `serve` writes one: a file per postback, under
//! `YYYY/MM/DD/`, named `HHMMSS.ffffff-PID-TAG-SEQ.xml` by its arrival, with that
//! arrival as its modification time. For the history benchmarks (bench/history.sh):
//! millions of small files, each one distinct postback.
//!
//!   cargo run --release --example gen_serve_folder -- --out DIR --files N --days D
//!       [--start 2026-01-01] [--first-sequence K]

use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;
use rayon::prelude::*;

/// Write an archive folder of one-postback files, as `serve` writes them.
#[derive(Parser)]
struct Args {
    /// The archive folder (created; files already there stay).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How many files (one postback each).
    #[arg(long, value_name = "N")]
    files: u64,
    /// How many UTC days they arrive over, from --start.
    #[arg(long, value_name = "D", default_value_t = 10)]
    days: u64,
    /// The first day.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-01-01")]
    start: NaiveDate,
    /// The number of the first postback: runs with different numbers write different
    /// postbacks (and names).
    #[arg(long, value_name = "K", default_value_t = 0)]
    first_sequence: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let start = args
        .start
        .and_hms_opt(0, 0, 0)
        .context("a valid start day")?
        .and_utc();
    let per_day = args.files.div_ceil(args.days.max(1));
    let spacing_us = 86_400_000_000 / per_day.max(1);
    (0..args.files).into_par_iter().try_for_each(|n| {
        let sequence = args.first_sequence + n;
        let day = n / per_day;
        let offset = Duration::from_micros((n % per_day) * spacing_us + day * 86_400_000_000);
        let arrival: DateTime<Utc> = start + offset;
        write_one(&args.out, sequence, arrival)
    })?;
    Ok(())
}

/// One delivery receipt, its own TRACKINGID, written where and when serve would.
fn write_one(out: &std::path::Path, sequence: u64, arrival: DateTime<Utc>) -> Result<()> {
    let folder = out.join(arrival.format("%Y/%m/%d").to_string());
    let name = format!(
        "{}-4242-1a2b3c4d-{sequence:08}.xml",
        arrival.format("%H%M%S%.6f")
    );
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<POSTBACK>\n<ORIGIN>SMS_MT</ORIGIN>\n\
         <CODE>N201</CODE>\n<STATUS>DELIVERED</STATUS>\n<TO>1555{:07}</TO>\n\
         <TRACKINGID>trk-{sequence:012}</TRACKINGID>\n<SPID>0001001</SPID>\n\
         <TIMESTAMP>{}</TIMESTAMP>\n</POSTBACK>\n",
        sequence % 10_000_000,
        arrival.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    );
    let path = folder.join(name);
    let mut file = match File::create(&path) {
        Ok(file) => file,
        Err(_) => {
            fs::create_dir_all(&folder)?;
            File::create(&path)?
        }
    };
    file.write_all(body.as_bytes())?;
    let micros = u64::try_from(arrival.timestamp_micros()).unwrap_or(0);
    let time = UNIX_EPOCH + Duration::from_micros(micros);
    file.set_times(FileTimes::new().set_modified(time).set_accessed(time))?;
    Ok(())
}
