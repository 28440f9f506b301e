//! Signals: SIGTERM, SIGINT and SIGHUP ask a running import to stop; a second one ends the process at once.
//!
//! The handlers only set flags (all a signal handler may safely do); the import polls
//! [`Stop`] and winds down: it stops walking and reading, rolls back the open batch and
//! marks its run `interrupted`. The exit status is then 128 plus the signal's number,
//! as a shell reports a process killed by it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signals that stop an import.
pub const STOPPING: [i32; 3] = [SIGTERM, SIGINT, SIGHUP];

/// Whether, and by which signal, the import was asked to stop. Cheap to clone and to poll.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    signal: Arc<AtomicUsize>,
}

impl Stop {
    /// A request that no signal sets (for callers that handle signals themselves, and tests).
    pub fn never() -> Self {
        Stop::default()
    }

    /// Set the flags on SIGTERM, SIGINT and SIGHUP for the rest of the process's life; a
    /// second such signal ends the process at once with status 128 + its number.
    pub fn on_signals() -> std::io::Result<Self> {
        let stop = Stop::default();
        let stopping = Arc::new(AtomicBool::new(false));
        for signal in STOPPING {
            let status = 128 + signal;
            // Runs first: only when an earlier signal already set `stopping`.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                status,
                Arc::clone(&stopping),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&stopping))?;
            let number = usize::try_from(signal).unwrap_or_default();
            signal_hook::flag::register_usize(signal, Arc::clone(&stop.signal), number)?;
        }
        Ok(stop)
    }

    /// Ask to stop as `signal` would.
    pub fn request(&self, signal: i32) {
        let number = usize::try_from(signal).unwrap_or_default();
        self.signal.store(number, Ordering::SeqCst);
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<Signal> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            number => Some(Signal(i32::try_from(number).unwrap_or(SIGTERM))),
        }
    }
}

/// A signal that stopped an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

impl Signal {
    /// Its name, such as `SIGTERM`.
    pub fn name(self) -> String {
        signal_hook::low_level::signal_name(self.0)
            .map_or_else(|| format!("signal {}", self.0), str::to_string)
    }

    /// The exit status of a process it stopped: 128 + its number (143 for SIGTERM).
    pub fn exit_status(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(u8::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_signal_and_exit_status() {
        let stop = Stop::never();
        assert_eq!(stop.requested(), None);
        stop.clone().request(SIGINT);
        let signal = stop.requested().unwrap();
        assert_eq!(
            (signal.name(), signal.exit_status()),
            ("SIGINT".to_string(), 130)
        );
        assert_eq!(Signal(SIGTERM).exit_status(), 143);
        assert_eq!(Signal(SIGHUP).name(), "SIGHUP");
    }
}
