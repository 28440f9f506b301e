//! Serve's request handling: what one HTTP request gets. A delivery (`POST` on
//! `--path`) is archived whatever its content, and answered 200 only once it is
//! durable; what is not a delivery is refused with the status that says why;
//! `/healthz` and `/metrics` tell how the server is doing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::auth::authorized;
use super::durable::{Body, Delivery, Name, TempFile, WriteError, Writer};
use super::log::{Level, Log};
use super::metrics::Metrics;

/// Bodies up to this size wait in memory for their writer lane; larger ones are
/// written to their temporary file as they arrive, so memory stays small whatever
/// `--max-body` allows.
const SPILL_AT: usize = 64 * 1024;

/// What a delivery must be, from the command line.
#[derive(Debug, Clone)]
pub struct DeliveryRules {
    /// The path deliveries are posted to (`/postback`).
    pub path: String,
    /// The shared secret, when one is required.
    pub token: Option<String>,
    /// Largest body accepted, in bytes.
    pub max_body: u64,
    /// Longest a client may take to send a body.
    pub body_timeout: Duration,
}

/// Everything a request needs; one instance is shared by all connections.
pub struct Endpoint {
    pub rules: DeliveryRules,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    pub log: Log,
}

/// How a request was answered, and what the log line says about it.
struct Answer {
    status: StatusCode,
    text: String,
    content_type: &'static str,
    allow: Option<&'static str>,
    file: Option<Name>,
    bytes: u64,
    reason: Option<String>,
}

impl Answer {
    fn new(status: StatusCode, text: impl Into<String>) -> Answer {
        Answer {
            status,
            text: text.into(),
            content_type: "text/plain; charset=utf-8",
            allow: None,
            file: None,
            bytes: 0,
            reason: None,
        }
    }

    /// A refusal: `reason` is both the response text and the log's reason.
    fn refuse(status: StatusCode, reason: impl Into<String>) -> Answer {
        let reason = reason.into();
        let mut answer = Answer::new(status, format!("{reason}\n"));
        answer.reason = Some(reason);
        answer
    }

    fn only(mut self, methods: &'static str) -> Answer {
        self.allow = Some(methods);
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.text)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(methods) = self.allow {
            headers.insert(ALLOW, HeaderValue::from_static(methods));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl Endpoint {
    /// Answer one request, count it and log it.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let arrived = SystemTime::now();
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let answer = self.route(request, arrived).await;
        let took = started.elapsed();
        self.metrics.count_request(answer.status.as_u16());
        if answer.file.is_some() {
            self.metrics.delivery_seconds.observe(took);
        }
        let level = match answer.status.as_u16() {
            ..400 => Level::Info,
            500.. => Level::Error,
            _ => Level::Warn,
        };
        let mut line = self
            .log
            .line(level, "request")
            .field("method", &method)
            .field("path", &path)
            .field("status", answer.status.as_u16())
            .field("bytes", answer.bytes)
            .field("ms", format!("{:.1}", took.as_secs_f64() * 1000.0))
            .field("client", peer);
        if let Some(file) = &answer.file {
            line = line.field("file", file.relative());
        }
        if let Some(reason) = &answer.reason {
            line = line.field("reason", reason);
        }
        line.emit();
        answer.into_response()
    }

    async fn route(&self, request: Request<Incoming>, arrived: SystemTime) -> Answer {
        let path = request.uri().path();
        let readable = matches!(*request.method(), Method::GET | Method::HEAD);
        if path == self.rules.path {
            if request.method() != Method::POST {
                let reason = format!(
                    "{} is not a delivery; postbacks are POSTed",
                    request.method()
                );
                return Answer::refuse(StatusCode::METHOD_NOT_ALLOWED, reason).only("POST");
            }
            return self.deliver(request, arrived).await;
        }
        match path {
            "/healthz" | "/metrics" if !readable => {
                let reason = format!("{} is not allowed on {path}", request.method());
                Answer::refuse(StatusCode::METHOD_NOT_ALLOWED, reason).only("GET, HEAD")
            }
            "/healthz" => self.health(),
            "/metrics" => {
                let mut answer = Answer::new(StatusCode::OK, self.metrics.render());
                answer.content_type = "text/plain; version=0.0.4; charset=utf-8";
                answer
            }
            _ => Answer::refuse(StatusCode::NOT_FOUND, "no such path"),
        }
    }

    fn health(&self) -> Answer {
        if self.writer.failing() {
            let reason =
                "failing: the last bodies could not be written to the archive folder (see the log)";
            return Answer::refuse(StatusCode::SERVICE_UNAVAILABLE, reason);
        }
        Answer::new(StatusCode::OK, "ok\n")
    }

    /// Archive a delivery: check the token and the size, receive the body within the
    /// time limit, and answer 200 once the writer says it is durable.
    async fn deliver(&self, request: Request<Incoming>, arrived: SystemTime) -> Answer {
        if let Some(token) = &self.rules.token
            && !authorized(&request, token)
        {
            return Answer::refuse(StatusCode::UNAUTHORIZED, "missing or wrong token");
        }
        let max = self.rules.max_body;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max) {
            return too_large(max);
        }
        let gzip = request
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let name = self.writer.dir().name_for(arrived, gzip);
        let deadline = tokio::time::Instant::now() + self.rules.body_timeout;
        let temp_path = self.writer.dir().temp_path(&name);
        let (body, bytes) = match receive(request.into_body(), max, deadline, temp_path).await {
            Ok(received) => received,
            Err(refusal) => return refusal.answer(max, self.rules.body_timeout),
        };
        match self
            .writer
            .archive(Delivery {
                name,
                arrived,
                body,
            })
            .await
        {
            Ok(name) => {
                self.metrics
                    .received_bytes
                    .fetch_add(bytes, Ordering::Relaxed);
                let mut answer = Answer::new(StatusCode::OK, "OK\n");
                answer.file = Some(name);
                answer.bytes = bytes;
                answer
            }
            Err(error) => not_archived(&error),
        }
    }
}

fn too_large(max: u64) -> Answer {
    let reason = format!("the body is over the limit of {max} bytes (--max-body)");
    Answer::refuse(StatusCode::PAYLOAD_TOO_LARGE, reason)
}

fn not_archived(error: &WriteError) -> Answer {
    let reason = format!("the postback could not be archived ({error}); send it again later");
    Answer::refuse(StatusCode::SERVICE_UNAVAILABLE, reason)
}

/// Why a body was not received whole.
enum Unreceived {
    TooLarge,
    TimedOut,
    /// The client broke off (the connection closed before the body ended).
    Broken(hyper::Error),
    Write(WriteError),
}

impl Unreceived {
    fn answer(self, max: u64, timeout: Duration) -> Answer {
        match self {
            Unreceived::TooLarge => too_large(max),
            Unreceived::TimedOut => {
                let reason = format!(
                    "the body took over {} s (--body-timeout)",
                    timeout.as_secs()
                );
                Answer::refuse(StatusCode::REQUEST_TIMEOUT, reason)
            }
            Unreceived::Broken(error) => Answer::refuse(
                StatusCode::BAD_REQUEST,
                format!("the body was cut off: {error}"),
            ),
            Unreceived::Write(error) => not_archived(&error),
        }
    }
}

/// Receive a body of at most `max` bytes by `deadline`: in memory while it is small,
/// then into its temporary file at `temp_path`.
async fn receive(
    mut incoming: Incoming,
    max: u64,
    deadline: tokio::time::Instant,
    temp_path: std::path::PathBuf,
) -> Result<(Body, u64), Unreceived> {
    let mut memory = Vec::new();
    let mut spilled: Option<TempFile> = None;
    let mut total = 0u64;
    loop {
        let frame = match tokio::time::timeout_at(deadline, incoming.frame()).await {
            Err(_) => return Err(Unreceived::TimedOut),
            Ok(None) => break,
            Ok(Some(Err(error))) => return Err(Unreceived::Broken(error)),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total += data.len() as u64;
        if total > max {
            return Err(Unreceived::TooLarge);
        }
        if spilled.is_none() && memory.len() + data.len() <= SPILL_AT {
            memory.extend_from_slice(&data);
            continue;
        }
        memory.extend_from_slice(&data);
        let chunk = std::mem::take(&mut memory);
        spilled = Some(spill(spilled.take(), temp_path.clone(), chunk).await?);
    }
    let body = match spilled {
        Some(temp) => Body::Spilled(temp),
        None => Body::Memory(memory),
    };
    Ok((body, total))
}

/// Append `chunk` to the temporary file (created on first use), off the async threads.
async fn spill(
    temp: Option<TempFile>,
    path: std::path::PathBuf,
    chunk: Vec<u8>,
) -> Result<TempFile, Unreceived> {
    let write = move || {
        let mut temp = match temp {
            Some(temp) => temp,
            None => TempFile::create(path)?,
        };
        temp.append(&chunk)?;
        Ok(temp)
    };
    tokio::task::spawn_blocking(write)
        .await
        .unwrap_or(Err(WriteError::Stopped))
        .map_err(Unreceived::Write)
}
