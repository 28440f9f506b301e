//! Serve's connections: accept them up to `--max-connections`, give each a header
//! deadline, and shut down gracefully. When every slot is taken, the connection idle
//! longest (one that has sent nothing, or waits between requests) is closed to make
//! room, so a flood of idle connections cannot lock the platform out; only when every
//! slot is busy with a request is a new connection closed at once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::endpoint::Endpoint;
use super::log::Level;

/// Limits on connections, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// Longest wait for a request's headers, also between requests on a kept-alive
    /// connection.
    pub header_timeout: Duration,
}

/// Largest read buffer of a connection: headers over this are refused (431).
const MAX_BUFFER: usize = 64 * 1024;
/// A connection is idle enough to be closed for a newcomer once it has waited this
/// long (so that a response just handed over is on its way first).
const EVICTABLE_AFTER: Duration = Duration::from_millis(100);

/// The accepting side of the server.
pub struct Server {
    /// `None` once the server stopped accepting.
    listener: Option<TcpListener>,
    endpoint: Arc<Endpoint>,
    limits: ConnectionLimits,
    slots: Arc<Slots>,
    graceful: GracefulShutdown,
}

impl Server {
    pub fn new(listener: TcpListener, endpoint: Arc<Endpoint>, limits: ConnectionLimits) -> Server {
        let slots = Arc::new(Slots::new(limits.max_connections, endpoint.clone()));
        Server {
            listener: Some(listener),
            endpoint,
            limits,
            slots,
            graceful: GracefulShutdown::new(),
        }
    }

    /// Accept connections until `shutdown` resolves, then close the listening socket
    /// and return what `shutdown` resolved to.
    pub async fn accept_until<T>(&mut self, shutdown: impl Future<Output = T>) -> Option<T> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let listener = self.listener.as_ref()?;
            let accepted = tokio::select! {
                biased;
                reason = &mut shutdown => {
                    self.listener = None;
                    return Some(reason);
                }
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(error) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // say so, and give the system a moment before trying again.
                    let log = self.endpoint.log;
                    log.line(Level::Warn, "accept_failed")
                        .field("error", &error)
                        .emit();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn admit(&self, stream: TcpStream, peer: SocketAddr) {
        let metrics = &self.endpoint.metrics;
        metrics.connections_accepted.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slots.admit() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let _ = stream.set_nodelay(true);
        let endpoint = self.endpoint.clone();
        let started = self.slots.started;
        let serving = slot.clone();
        let service = service_fn(move |request| {
            let (endpoint, slot) = (endpoint.clone(), serving.clone());
            async move {
                slot.begin_request();
                let response = endpoint.handle(request, peer).await;
                slot.end_request(started.elapsed());
                Ok::<_, Infallible>(response)
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(MAX_BUFFER);
        let connection = self
            .graceful
            .watch(builder.serve_connection(TokioIo::new(stream), service));
        let slots = self.slots.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                () = slot.evicted.notified() => {}
            }
            slots.release(&slot);
        });
    }

    /// Stop accepting, let requests in flight finish (closing idle connections), and
    /// wait for them up to `timeout`. False when some were still open then.
    pub async fn drain(self, timeout: Duration) -> bool {
        drop(self.listener);
        tokio::time::timeout(timeout, self.graceful.shutdown())
            .await
            .is_ok()
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const CLOSED: u8 = 2;

/// One connection's place in the table.
struct Slot {
    state: AtomicU8,
    /// When it last became idle, in ms since the server started.
    idle_since_ms: AtomicU64,
    evicted: Notify,
}

impl Slot {
    fn begin_request(&self) {
        let _ = self
            .state
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Relaxed);
    }

    fn end_request(&self, now: Duration) {
        self.idle_since_ms
            .store(now.as_millis() as u64, Ordering::Relaxed);
        let _ = self
            .state
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// The connection table: slots in the order their connections were accepted.
struct Slots {
    limit: usize,
    order: Mutex<VecDeque<Arc<Slot>>>,
    open: AtomicUsize,
    started: Instant,
    endpoint: Arc<Endpoint>,
}

impl Slots {
    fn new(limit: usize, endpoint: Arc<Endpoint>) -> Slots {
        Slots {
            limit: limit.max(1),
            order: Mutex::new(VecDeque::new()),
            open: AtomicUsize::new(0),
            started: Instant::now(),
            endpoint,
        }
    }

    fn since_start(&self) -> Duration {
        self.started.elapsed()
    }

    /// A slot for a new connection, after closing the longest-idle one if the table
    /// is full; `None` when every connection is busy with a request.
    fn admit(&self) -> Option<Arc<Slot>> {
        let mut order = self.order.lock().ok()?;
        while order
            .front()
            .is_some_and(|s| s.state.load(Ordering::Acquire) == CLOSED)
        {
            order.pop_front();
        }
        if order.len() > 2 * self.limit {
            // Closed slots behind a long-lived connection: sweep them now and then.
            order.retain(|s| s.state.load(Ordering::Acquire) != CLOSED);
        }
        if self.open.load(Ordering::Acquire) >= self.limit && !self.evict_one(&mut order) {
            return None;
        }
        let slot = Arc::new(Slot {
            state: AtomicU8::new(IDLE),
            idle_since_ms: AtomicU64::new(self.since_start().as_millis() as u64),
            evicted: Notify::new(),
        });
        order.push_back(slot.clone());
        self.count(self.open.fetch_add(1, Ordering::AcqRel) + 1);
        Some(slot)
    }

    /// Close the longest-idle connection; false when none is idle.
    fn evict_one(&self, order: &mut VecDeque<Arc<Slot>>) -> bool {
        let now_ms = self.since_start().as_millis() as u64;
        let evictable_ms = EVICTABLE_AFTER.as_millis() as u64;
        for _ in 0..order.len() {
            let Some(slot) = order.pop_front() else {
                return false;
            };
            let idle_long = slot.idle_since_ms.load(Ordering::Relaxed) + evictable_ms <= now_ms;
            let closed = idle_long
                && slot
                    .state
                    .compare_exchange(IDLE, CLOSED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok();
            if closed {
                slot.evicted.notify_one();
                self.count(self.open.fetch_sub(1, Ordering::AcqRel) - 1);
                let metrics = &self.endpoint.metrics;
                metrics.connections_evicted.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            if slot.state.load(Ordering::Acquire) != CLOSED {
                order.push_back(slot);
            }
        }
        false
    }

    /// A connection ended (unless it was evicted, which already freed its slot).
    fn release(&self, slot: &Slot) {
        if slot.state.swap(CLOSED, Ordering::AcqRel) != CLOSED {
            self.count(self.open.fetch_sub(1, Ordering::AcqRel) - 1);
        }
    }

    fn count(&self, open: usize) {
        let metrics = &self.endpoint.metrics;
        metrics
            .connections_open
            .store(open as u64, Ordering::Relaxed);
    }
}
