//! What the `serve` tests share: the real server, started on a free loopback port
//! with a watchdog that kills it (and fails the test) if a test hangs, and a tiny
//! HTTP/1.1 client over plain sockets, so a test can also misbehave on purpose.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a server may run in one test before the watchdog kills it.
pub const WATCHDOG: Duration = Duration::from_secs(240);
/// Longest any socket read or write of a test may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `postback-archive serve`.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    cancel_watchdog: mpsc::Sender<()>,
    killed_by_watchdog: Arc<AtomicBool>,
}

impl Server {
    /// Start `serve` with `--db DB --archive-dir ARCHIVE_DIR` and `args` (and
    /// `--listen 127.0.0.1:0` unless they have `--listen`), and wait for its start line.
    pub fn start(db: &Path, archive_dir: &Path, args: &[&str]) -> Server {
        Server::start_with(db, archive_dir, args, |_| {})
    }

    /// [`Server::start`], with a chance to adjust the command first.
    pub fn start_with(
        db: &Path,
        archive_dir: &Path,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("postback-archive"));
        command
            .env_remove("POSTBACK_ARCHIVE_DB")
            .env_remove("POSTBACK_ARCHIVE_TOKEN")
            .arg("--db")
            .arg(db)
            .args(["serve", "--archive-dir"])
            .arg(archive_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        adjust(&mut command);
        let mut child = command.spawn().expect("the server starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = mpsc::channel();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = field(&line, "listen").filter(|_| line.contains("event=start"))
                {
                    let _ = started_tx.send(addr.to_string());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let (cancel_watchdog, killed_by_watchdog) = watchdog(child.id());
        let addr = match started_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not start: {:?}", lines.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            addr,
            lines,
            cancel_watchdog,
            killed_by_watchdog,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The server's stderr lines as they come, still readable once it has stopped.
    pub fn log_handle(&self) -> Arc<Mutex<Vec<String>>> {
        self.lines.clone()
    }

    /// Every line the server wrote to stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait (up to a minute) for a log line containing every one of `parts`.
    pub fn wait_for_line(&self, parts: &[&str]) -> String {
        let mut lines = self.wait_for_lines(1, parts);
        lines.remove(0)
    }

    /// Wait (up to a minute) for `count` log lines containing every one of `parts`.
    pub fn wait_for_lines(&self, count: usize, parts: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found: Vec<String> = self
                .log()
                .into_iter()
                .filter(|line| parts.iter().all(|part| line.contains(part)))
                .collect();
            if found.len() >= count {
                return found;
            }
            let log = self.log();
            assert!(
                Instant::now() < deadline,
                "not {count} lines with {parts:?} in {log:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send a signal to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child, which has not been reaped.
        unsafe {
            libc::kill(self.pid() as i32, signal);
        }
    }

    /// SIGTERM, then wait for the exit (the watchdog guards the wait).
    pub fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait()
    }

    /// SIGKILL, as a crash or a power cut would end it (for the process).
    pub fn kill(mut self) {
        self.signal(libc::SIGKILL);
        self.wait();
    }

    /// Wait for the server to exit by itself (after a signal the test sent).
    pub fn wait_for_exit(mut self) -> ExitStatus {
        self.wait()
    }

    fn wait(&mut self) -> ExitStatus {
        let status = self.child.take().expect("running").wait().unwrap();
        let _ = self.cancel_watchdog.send(());
        assert!(
            !self.killed_by_watchdog.load(Ordering::SeqCst),
            "the server was killed by the watchdog after {WATCHDOG:?}: the test hung"
        );
        status
    }

    /// The server's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The value of one metric line of `/metrics` (`name{labels}` as written there).
    /// While a flood of new connections is still being accepted, the server may evict
    /// this request's connection before reading it (a new connection is idle too):
    /// such a reset is retried, up to 50 times.
    pub fn metric(&self, name: &str) -> f64 {
        let request = "GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
        let text = (0..50)
            .find_map(|_| {
                let reply = exchange(self.addr, request.as_bytes()).ok();
                if reply.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                reply
            })
            .expect("a response from /metrics")
            .body;
        let line = text
            .lines()
            .find(|line| line.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("no metric {name} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = self.cancel_watchdog.send(());
        }
    }
}

/// Kill `pid` with SIGKILL if it still runs after [`WATCHDOG`], unless cancelled.
fn watchdog(pid: u32) -> (mpsc::Sender<()>, Arc<AtomicBool>) {
    let (cancel, cancelled) = mpsc::channel::<()>();
    let killed = Arc::new(AtomicBool::new(false));
    let flag = killed.clone();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(WATCHDOG) {
            flag.store(true, Ordering::SeqCst);
            // SAFETY: kill only sends a signal; the child is reaped by the test after this.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    });
    (cancel, killed)
}

/// The value of `key=` in a logfmt line (unquoted values only).
pub fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    line.split(' ')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// An HTTP response, read to the end of the connection.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }
}

/// A connection with the test's time limits on every read and write.
pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr).expect("connect")
}

fn try_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Send `request` as is on a new connection and read the response to its end.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Reply> {
    let mut stream = try_connect(addr)?;
    stream.write_all(request)?;
    read_reply(&mut stream)
}

/// Read one response whose connection the server closes after it (`Connection: close`).
pub fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response in {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// POST `body` to `target` (a path with its query), with extra header lines.
pub fn post(addr: SocketAddr, target: &str, body: &[u8], headers: &str) -> Reply {
    try_post(addr, target, body, headers).expect("a response")
}

pub fn try_post(
    addr: SocketAddr,
    target: &str,
    body: &[u8],
    headers: &str,
) -> std::io::Result<Reply> {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    exchange(addr, &request)
}

pub fn get(addr: SocketAddr, target: &str) -> Reply {
    let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    exchange(addr, request.as_bytes()).expect("a response")
}

/// A pass-generation postback identified by `id` (its PASSDATAID).
pub fn postback(id: u64) -> String {
    format!(
        "<POSTBACK><ORIGIN>GENERATE_PASS</ORIGIN><STATUSCODE>N801</STATUSCODE><REFERENCEDBY>Email</REFERENCEDBY><REFERENCEVALUE>user{id}@mail.com</REFERENCEVALUE><PASSDATAID>{id}</PASSDATAID><TIMESTAMP>2026-11-05T11:37:11-05:00</TIMESTAMP></POSTBACK>"
    )
}

/// Every archived file under `root` (not the temporary ones), relative, sorted.
pub fn archived_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".incoming") {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The files waiting in `.incoming` (none once every request has been answered).
pub fn incoming_files(root: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(root.join(".incoming")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Raise this process's soft limit on open files to its hard limit.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
