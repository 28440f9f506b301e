//! `postback-archive serve`: receive postbacks over HTTP, archive each one durably as a
//! file, and keep the archive current.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::import::{MAX_MEMORY_LIMIT_MB, MIN_MEMORY_LIMIT_MB};
use super::{Global, Outcome};
use crate::serve::{ConnectionLimits, DeliveryRules, ImportSchedule, ServeConfig};
use crate::store::writer::DEFAULT_MEMORY_LIMIT_MB;

/// Paths the server answers itself, which deliveries cannot use.
const RESERVED_PATHS: [&str; 2] = ["/healthz", "/metrics"];
/// The import reads files this large even when `--max-body` is smaller: the
/// `import` command's default `--max-file-size`.
const IMPORT_MAX_FILE_MIB: u64 = 64;

const EXAMPLES: &str = "\
Examples:
  postback-archive serve --archive-dir /srv/postbacks/received
  POSTBACK_ARCHIVE_TOKEN=secret postback-archive serve --archive-dir received --import-every 1m
  postback-archive serve --listen 0.0.0.0:8080 --archive-dir received --max-body 16";

/// Receive the platform's postbacks: each POST body is written to its own file under
/// DIR/YYYY/MM/DD/ and made durable (fsync) before the 200, whatever its content.
/// With --import-every, the archive (--db) is kept current. Also answers /healthz
/// and /metrics (Prometheus). Stops on SIGTERM, SIGINT or SIGHUP after finishing requests in
/// flight and a last import.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Address and port to listen on (put TLS in a reverse proxy in front).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDRESS:PORT")]
    listen: SocketAddr,

    /// URL path the platform posts to.
    #[arg(long, default_value = "/postback", value_name = "PATH")]
    path: String,

    /// Folder the bodies are stored in (created if missing); `import` reads it.
    #[arg(long, value_name = "DIR")]
    archive_dir: PathBuf,

    /// Import the archive folder into --db this often (`30s`, `5m`, `1h`), and once
    /// on shutdown. Off by default: then serve only receives.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    import_every: Option<Duration>,

    /// Shared secret every delivery must carry, as `?token=` in the URL or an
    /// `Authorization: Bearer` header. Prefer the environment variable: an argument
    /// shows in `ps`.
    #[arg(
        long,
        env = "POSTBACK_ARCHIVE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Largest body accepted, in MiB; larger ones are refused with 413.
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_body: u64,

    /// Most connections open at once; when all are taken, the longest-idle one is
    /// closed to make room.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,

    /// Seconds a client may take to send a request's headers (also the idle time of
    /// a kept-alive connection).
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,

    /// Seconds a client may take to send a body; slower ones get 408.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,

    /// DuckDB's memory for each scheduled import, in MB (16 to 1048576), as
    /// `import --memory-limit`.
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MEMORY_LIMIT_MB,
          value_parser = clap::value_parser!(u32).range(i64::from(MIN_MEMORY_LIMIT_MB)..=MAX_MEMORY_LIMIT_MB))]
    memory_limit: u32,
}

pub fn run(global: &Global, args: ServeArgs) -> anyhow::Result<Outcome> {
    let config = configure(global, args)?;
    let archive_dir = config.archive_dir.clone();
    crate::serve::run(config)
        .with_context(|| format!("serve (archive folder {}) failed", archive_dir.display()))?;
    Ok(Outcome::Success)
}

/// Turn the arguments into the server's settings, refusing what cannot work.
fn configure(global: &Global, args: ServeArgs) -> anyhow::Result<ServeConfig> {
    if !args.path.starts_with('/') || args.path.contains(['?', '#']) {
        bail!(
            "--path {} is not a URL path; give one such as /postback",
            args.path
        );
    }
    if RESERVED_PATHS.contains(&args.path.as_str()) {
        bail!(
            "--path {} is answered by serve itself; choose another path",
            args.path
        );
    }
    if args.token.as_deref().is_some_and(str::is_empty) {
        bail!("--token (or POSTBACK_ARCHIVE_TOKEN) is empty; give a secret or leave it out");
    }
    let max_body = args.max_body * 1024 * 1024;
    let import = args.import_every.map(|every| ImportSchedule {
        every,
        db: global.db.clone(),
        lock_timeout: global.lock_timeout,
        // Half the cores: the other half keeps answering the platform meanwhile.
        threads: std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1),
        max_file_size: max_body.max(IMPORT_MAX_FILE_MIB * 1024 * 1024),
        memory_limit_mb: args.memory_limit,
    });
    Ok(ServeConfig {
        listen: args.listen,
        archive_dir: args.archive_dir,
        rules: DeliveryRules {
            path: args.path,
            token: args.token,
            max_body,
            body_timeout: Duration::from_secs(args.body_timeout),
        },
        limits: ConnectionLimits {
            max_connections: args.max_connections as usize,
            header_timeout: Duration::from_secs(args.header_timeout),
        },
        import,
        quiet: global.quiet,
    })
}

/// `90`, `90s`, `5m`, `1h`: a whole number of seconds, minutes or hours, at least 1 s.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("unknown unit `{unit}`; write e.g. 30s, 5m or 1h")),
    };
    let count: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 30s, 5m or 1h"))?;
    if count == 0 {
        return Err("the interval must be at least 1s".to_string());
    }
    Ok(Duration::from_secs(count.saturating_mul(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_or_hours() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").unwrap_err().contains("at least 1s"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(parse_duration("m").unwrap_err().contains("not a duration"));
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
    }
}
