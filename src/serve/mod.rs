//! Serve: the receiver upstream of the whole flow (**serve** -> archive folder ->
//! discover -> parse -> normalize -> store). It accepts the platform's HTTP POSTs,
//! makes each body a durable file of the archive folder before answering 200, and,
//! on a schedule and at shutdown, imports that folder through [`crate::import`].
//!
//! Pieces: [`http`] accepts connections, [`endpoint`] answers requests, [`durable`]
//! writes bodies with group commit, [`importer`] runs the imports, [`metrics`] and
//! [`log`] tell how it goes.

mod auth;
mod durable;
mod endpoint;
mod http;
mod importer;
mod log;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use durable::{ArchiveDir, Writer};
pub use endpoint::DeliveryRules;
use endpoint::Endpoint;
pub use http::ConnectionLimits;
pub use importer::ImportSchedule;
use importer::{HandOver, Importer};
use log::{Level, Log};
use metrics::Metrics;

/// Writer lanes: batches being made durable at once.
const WRITER_LANES: usize = 4;
/// File descriptors kept for the archive, the imports and the log, beyond one per
/// connection.
const SPARE_FILES: u64 = 256;

/// Everything `serve` was asked to do, resolved from the command line.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub archive_dir: PathBuf,
    pub rules: DeliveryRules,
    pub limits: ConnectionLimits,
    /// `None`: only receive; the archive is imported by someone else.
    pub import: Option<ImportSchedule>,
    pub quiet: bool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {addr}: {source}; stop what holds that port or pass --listen ADDRESS:PORT"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use the archive folder: {0}")]
    ArchiveDir(#[from] durable::WriteError),
    #[error("cannot start the server: {0}")]
    Start(std::io::Error),
}

/// Run the server until SIGTERM, SIGINT or SIGHUP, then finish requests in flight, run
/// the last import, and return. A second signal ends the process at once, with status
/// 128 + its number.
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    let log = Log {
        quiet: config.quiet,
    };
    let metrics = Arc::new(Metrics::default());
    let dir = Arc::new(ArchiveDir::open(&config.archive_dir)?);
    let mut limits = config.limits;
    limits.max_connections = fit_open_files(limits.max_connections, log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .map_err(ServeError::Start)?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let mut signals = Signals::install().map_err(ServeError::Start)?;
        let handover = config
            .import
            .as_ref()
            .map(|_| Arc::new(HandOver::new(metrics.clone())));
        let writer = Writer::start(dir.clone(), WRITER_LANES, metrics.clone(), handover.clone());
        let importer = match (config.import.clone(), handover) {
            (Some(schedule), Some(handover)) => {
                let root = dir.root().to_path_buf();
                let importer = Importer::start(schedule, root, handover, metrics.clone(), log);
                Some(importer.map_err(ServeError::Start)?)
            }
            _ => None,
        };
        let endpoint = Arc::new(Endpoint {
            rules: config.rules.clone(),
            writer,
            metrics,
            log,
        });
        log_start(&config, &listener, &dir, limits, log);
        let mut server = http::Server::new(listener, endpoint.clone(), limits);
        let signal = server.accept_until(signals.next()).await;
        log.line(Level::Info, "shutdown")
            .field(
                "signal",
                signal.map_or_else(|| "none".to_string(), |s| s.name()),
            )
            .emit();
        tokio::spawn(async move {
            let again = signals.next().await;
            log.line(Level::Warn, "stopped")
                .field("signal", again.name())
                .field("note", "second signal: exiting without finishing")
                .emit();
            // As `import` does: 128 + the signal's number, at once (`_exit`: no
            // destructors run under a DuckDB import still working in another thread,
            // which `exit` would crash). Every body answered 200 is already durable; a
            // running import is left for the next one to finish, as after a kill.
            signal_hook::low_level::exit(i32::from(again.exit_status()));
        });
        let drain = config.rules.body_timeout + Duration::from_secs(5);
        if !server.drain(drain).await {
            log.line(Level::Warn, "drain_timeout")
                .field("seconds", drain.as_secs())
                .emit();
        }
        let finish = move || {
            endpoint.writer.close();
            if let Some(importer) = importer {
                importer.finish();
            }
        };
        let _ = tokio::task::spawn_blocking(finish).await;
        log.line(Level::Info, "stopped").emit();
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

fn log_start(
    config: &ServeConfig,
    listener: &tokio::net::TcpListener,
    dir: &ArchiveDir,
    limits: ConnectionLimits,
    log: Log,
) {
    let listen = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    let mut line = log
        .line(Level::Info, "start")
        .field("listen", listen)
        .field("path", &config.rules.path)
        .field("archive_dir", dir.root().display())
        .field("max_connections", limits.max_connections)
        .field("token", config.rules.token.is_some());
    line = match &config.import {
        Some(schedule) => line
            .field("db", schedule.db.display())
            .field("import_every_s", schedule.every.as_secs()),
        None => line.field("import", "off"),
    };
    line.emit();
}

/// SIGTERM, SIGINT and SIGHUP (the signals that stop `import`, [`crate::signals::STOPPING`]),
/// as a stream. Serve owns them while it runs: its imports install no handlers, so a
/// signal never stops an import halfway while the server shuts down around it.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> crate::signals::Signal {
        let number = tokio::select! {
            _ = self.terminate.recv() => signal_hook::consts::SIGTERM,
            _ = self.interrupt.recv() => signal_hook::consts::SIGINT,
            _ = self.hangup.recv() => signal_hook::consts::SIGHUP,
        };
        crate::signals::Signal(number)
    }
}

/// Raise the soft limit on open files to what `max_connections` needs (up to the
/// hard limit), and lower `max_connections` to what the limit allows.
fn fit_open_files(max_connections: usize, log: Log) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let wanted = max_connections as u64 + SPARE_FILES;
    let limit = getrlimit(Resource::Nofile);
    // `None` is no limit.
    let (current, maximum) = (limit.current.unwrap_or(u64::MAX), limit.maximum);
    let mut allowed = current;
    if current < wanted {
        let raised = wanted.min(maximum.unwrap_or(u64::MAX));
        let new_limit = Rlimit {
            current: Some(raised),
            maximum,
        };
        if setrlimit(Resource::Nofile, new_limit).is_ok() {
            allowed = raised;
        }
    }
    if allowed >= wanted {
        return max_connections;
    }
    let fitted = allowed.saturating_sub(SPARE_FILES).max(1) as usize;
    log.line(Level::Warn, "max_connections_lowered")
        .field("max_connections", fitted)
        .field("open_files_limit", allowed)
        .field(
            "hint",
            "raise the open-files limit (LimitNOFILE= in systemd, ulimit -n)",
        )
        .emit();
    fitted
}
