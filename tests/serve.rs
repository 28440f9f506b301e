//! `serve`, driven over HTTP on loopback: durable archiving before the 200, refusals,
//! write errors, scheduled imports, graceful shutdown, crashes, and bad clients.

mod common;
mod serve_support;

use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use common::Workdir;
use serve_support::{
    Server, archived_files, exchange, field, get, incoming_files, post, postback, read_reply,
};

fn archive_dir(work: &Workdir) -> std::path::PathBuf {
    work.path().join("in")
}

fn start(work: &Workdir, args: &[&str]) -> Server {
    Server::start(&work.db(), &archive_dir(work), args)
}

#[test]
fn a_delivery_is_archived_as_its_own_file_named_and_dated_by_its_arrival() {
    let work = Workdir::new();
    let server = start(&work, &[]);
    let xml = postback(1);
    let bodies: [&[u8]; 3] = [xml.as_bytes(), b"", &[0, 159, 255, 10, 13]];
    let mut windows = Vec::new();
    for body in bodies {
        let before = SystemTime::now();
        let reply = post(server.addr, "/postback", body, "Content-Type: text/xml\r\n");
        windows.push((before, SystemTime::now()));
        assert_eq!((reply.status, reply.body.as_str()), (200, "OK\n"));
    }
    let files = archived_files(&archive_dir(&work));
    assert_eq!(files.len(), 3, "{files:?}");
    for ((file, body), (before, after)) in files.iter().zip(bodies).zip(windows) {
        let path = archive_dir(&work).join(file);
        assert_eq!(std::fs::read(&path).unwrap(), body, "{file:?}");
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(
            before <= modified && modified <= after,
            "{file:?}: mtime outside the request"
        );
        let arrived: DateTime<Utc> = modified.into();
        let name = file.to_str().unwrap();
        let expected = format!(
            "{}-{}-",
            arrived.format("%Y/%m/%d/%H%M%S%.6f"),
            server.pid()
        );
        assert!(
            name.starts_with(&expected),
            "{name} does not start with {expected}"
        );
        assert!(name.ends_with(".xml"), "{name}");
    }
    assert_eq!(
        incoming_files(&archive_dir(&work)),
        Vec::<std::path::PathBuf>::new()
    );
    let requests = server.wait_for_lines(3, &["event=request"]);
    assert_eq!(requests.len(), 3, "{requests:#?}");
    for (line, file) in requests.iter().zip(&files) {
        assert_eq!(field(line, "status"), Some("200"), "{line}");
        assert_eq!(field(line, "file"), file.to_str(), "{line}");
    }
    assert_eq!(server.stop().code(), Some(0));

    // The importer records each file's arrival, to the microsecond, as its modification time.
    let import = work.run(&["import", "--allow-bad-input", "in"]);
    assert_eq!(import.status.code(), Some(0), "{}", common::stderr(&import));
    let recorded =
        work.rows("SELECT strftime(modified_at, '%Y/%m/%d/%H%M%S.%f') FROM files ORDER BY path");
    for (file, arrival) in files.iter().zip(&recorded) {
        assert!(
            file.to_str().unwrap().starts_with(arrival.as_str()),
            "{file:?} vs {arrival}"
        );
    }
    // The postback's received_at is its arrival, to the microsecond (as named).
    let received = work.rows("SELECT strftime(received_at, '%Y/%m/%d/%H%M%S.%f') FROM postbacks");
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        files[0]
            .to_str()
            .unwrap()
            .starts_with(&format!("{}-", received[0])),
        "{:?} vs {received:?}",
        files[0]
    );
    let problems = work.rows("SELECT kind FROM import_errors ORDER BY kind");
    assert_eq!(problems, ["empty_file", "not_xml"]);
}

#[test]
fn what_is_not_a_delivery_is_refused_and_nothing_of_it_is_archived() {
    let work = Workdir::new();
    let server = Server::start_with(
        &work.db(),
        &archive_dir(&work),
        &["--max-body", "1"],
        |command| {
            command.env("POSTBACK_ARCHIVE_TOKEN", "s3cret");
        },
    );
    let addr = server.addr;
    let body = postback(7);
    let body = body.as_bytes();
    assert_eq!(post(addr, "/postback?token=s3cret", body, "").status, 200);
    assert_eq!(
        post(addr, "/postback", body, "Authorization: Bearer s3cret\r\n").status,
        200
    );
    let unauthorized = post(addr, "/postback", body, "");
    assert_eq!(
        (unauthorized.status, unauthorized.body.as_str()),
        (401, "missing or wrong token\n")
    );
    assert_eq!(post(addr, "/postback?token=s3cre", body, "").status, 401);
    assert_eq!(post(addr, "/elsewhere?token=s3cret", body, "").status, 404);
    let wrong_method = get(addr, "/postback?token=s3cret");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_eq!(post(addr, "/healthz", b"", "").status, 405);

    // Declared too large: refused before a byte of the body is read.
    let declared =
        b"POST /postback?token=s3cret HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n";
    let refused = exchange(addr, declared).unwrap();
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (
            413,
            "the body is over the limit of 1048576 bytes (--max-body)\n"
        )
    );
    // Chunked, no length: refused once the limit is passed.
    let mut stream = serve_support::connect(addr);
    let head =
        b"POST /postback?token=s3cret HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head).unwrap();
    let chunk = [b"10000\r\n".as_slice(), &[b'x'; 0x10000], b"\r\n"].concat();
    for _ in 0..17 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    let chunked = read_reply(&mut stream).map(|reply| reply.status);
    assert!(matches!(chunked, Ok(413) | Err(_)), "{chunked:?}");

    assert_eq!(archived_files(&archive_dir(&work)).len(), 2);
    for (status, count) in [
        (200, 2.0),
        (401, 2.0),
        (404, 1.0),
        (405, 2.0),
        (413, 2.0),
        (503, 0.0),
    ] {
        let metric = format!("postback_archive_requests_total{{status=\"{status}\"}}");
        assert_eq!(server.metric(&metric), count, "{metric}");
    }
    assert_eq!(incoming_files(&archive_dir(&work)).len(), 0);
    let log = server.log().join("\n");
    assert!(
        !log.contains("s3cret"),
        "the token must not be logged:\n{log}"
    );
}

#[test]
fn a_write_error_is_answered_503_never_200_and_the_server_recovers() {
    let work = Workdir::new();
    // Files over 64 bytes cannot be written: what a full disk does to a write.
    let server = Server::start_with(&work.db(), &archive_dir(&work), &[], |command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit and signal are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 64,
                    rlim_max: 64,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let addr = server.addr;
    assert_eq!(post(addr, "/postback", b"<small/>", "").status, 200);
    let failed = post(addr, "/postback", postback(1).as_bytes(), "");
    assert_eq!(failed.status, 503, "{failed:?}");
    assert!(
        failed
            .body
            .starts_with("the postback could not be archived (cannot write ")
            && failed
                .body
                .ends_with("File too large (os error 27)); send it again later\n"),
        "{}",
        failed.body
    );
    assert_eq!(get(addr, "/healthz").status, 503);
    assert_eq!(archived_files(&archive_dir(&work)).len(), 1);
    assert_eq!(incoming_files(&archive_dir(&work)).len(), 0);
    let line = server.wait_for_line(&["event=request", "status=503"]);
    assert!(line.contains("level=error"), "{line}");

    assert_eq!(post(addr, "/postback", b"<again/>", "").status, 200);
    let health = get(addr, "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(server.metric("postback_archive_write_errors_total"), 1.0);
    assert_eq!(server.metric("postback_archive_archived_files_total"), 2.0);
    assert_eq!(archived_files(&archive_dir(&work)).len(), 2);
}

/// The number of postbacks in the archive, read with the real `query` command (which
/// waits while an import holds the archive).
fn stored_postbacks(work: &Workdir) -> Option<u64> {
    count_rows(work, "postbacks")
}

/// The number of rows of `table`, read as [`stored_postbacks`] does.
fn count_rows(work: &Workdir, table: &str) -> Option<u64> {
    let sql = format!("SELECT count(*) FROM {table}");
    let output = work.run(&["--lock-timeout", "60", "query", "--format", "csv", &sql]);
    let text = common::stdout(&output);
    text.lines().nth(1)?.parse().ok()
}

/// Poll until the archive holds `count` postbacks (a minute at most).
fn wait_for_postbacks(work: &Workdir, count: u64) {
    wait_for_rows(work, "postbacks", count);
}

/// Poll until `table` holds `count` rows (a minute at most).
fn wait_for_rows(work: &Workdir, table: &str, count: u64) {
    for _ in 0..600 {
        if count_rows(work, table) == Some(count) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the archive never held {count} rows in {table} (it has {:?})",
        count_rows(work, table)
    );
}

#[test]
fn scheduled_imports_keep_the_archive_current_and_shutdown_imports_the_rest() {
    let work = Workdir::new();
    let server = start(&work, &["--import-every", "1s"]);
    for id in 1..=5 {
        assert_eq!(
            post(server.addr, "/postback", postback(id).as_bytes(), "").status,
            200
        );
    }
    // A retried copy: stored once, recorded as a duplicate.
    assert_eq!(
        post(server.addr, "/postback", postback(5).as_bytes(), "").status,
        200
    );
    // All six files imported: by the walk at start, and by the files the writer handed
    // over since, which list no folder.
    wait_for_rows(&work, "files", 6);
    assert_eq!(stored_postbacks(&work), Some(5));
    let import = server.wait_for_line(&["event=import ", "postbacks_new="]);
    assert_eq!(field(&import, "why"), Some("start"), "{import}");
    wait_for_backlog(&server, 0);
    let handed_over =
        work.rows("SELECT folders_listed FROM import_runs WHERE run_id > 1 ORDER BY run_id");
    assert!(
        handed_over.iter().all(|listed| listed == "0"),
        "{handed_over:?}"
    );

    // While nothing arrives, no import runs (and no empty run is recorded).
    let runs = work.value("SELECT count(*) FROM import_runs");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(work.value("SELECT count(*) FROM import_runs"), runs);

    for id in 6..=7 {
        assert_eq!(
            post(server.addr, "/postback", postback(id).as_bytes(), "").status,
            200
        );
    }
    server_log_after_stop(server);
    assert_eq!(stored_postbacks(&work), Some(7));
    assert_eq!(work.value("SELECT count(*) FROM duplicates"), "1");
    assert_eq!(work.value("SELECT count(*) FROM files"), "8");
    assert_eq!(
        work.value("SELECT count(*) FROM import_runs WHERE status <> 'ok'"),
        "0"
    );
}

/// Poll `/metrics` until the server holds `connections` open besides the one asking (a
/// minute at most): a connection the kernel queued is then one the server accepted.
fn wait_for_open_connections(server: &Server, connections: u64) {
    for _ in 0..600 {
        // The connection that asks for /metrics is open while it is answered.
        if server.metric("postback_archive_connections_open") > connections as f64 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server never held {connections} connection(s) open");
}

/// Poll `/metrics` until no archived file waits for an import (a minute at most).
fn wait_for_backlog(server: &Server, files: u64) {
    for _ in 0..600 {
        if server.metric("postback_archive_import_backlog_files") == files as f64 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the import backlog never came to {files}");
}

/// Stop the server with SIGTERM, check it exits 0, and return its log.
fn server_log_after_stop(server: Server) -> Vec<String> {
    let lines = server.log_handle();
    let status = server.stop();
    let log = lines.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{log:#?}");
    assert!(
        log.last().is_some_and(|l| l.contains("event=stopped")),
        "{log:#?}"
    );
    log
}

#[test]
fn a_failed_import_is_logged_and_retried_while_deliveries_go_on() {
    let work = Workdir::new();
    // A folder where the archive should be: every import fails until it goes.
    std::fs::create_dir_all(work.db()).unwrap();
    let server = start(&work, &["--import-every", "1s"]);
    assert_eq!(
        post(server.addr, "/postback", postback(1).as_bytes(), "").status,
        200
    );
    let failed = server.wait_for_line(&["event=import_failed"]);
    assert!(
        failed.contains("level=error") && failed.contains("retry=\"in 1 s\""),
        "{failed}"
    );
    assert_eq!(
        post(server.addr, "/postback", postback(2).as_bytes(), "").status,
        200
    );
    assert!(server.metric("postback_archive_imports_total{outcome=\"failed\"}") >= 1.0);

    std::fs::remove_dir(work.db()).unwrap();
    wait_for_postbacks(&work, 2);
    assert!(server.metric("postback_archive_imports_total{outcome=\"ok\"}") >= 1.0);
    assert!(server.metric("postback_archive_last_import_success_timestamp_seconds") > 0.0);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn sigterm_stops_accepting_finishes_requests_in_flight_and_exits_0() {
    let work = Workdir::new();
    let server = start(&work, &["--import-every", "1h"]);
    let body = postback(42);
    let (first, rest) = body.as_bytes().split_at(40);
    let mut in_flight = serve_support::connect(server.addr);
    let head = format!(
        "POST /postback HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).unwrap();
    in_flight.write_all(first).unwrap();
    server.wait_for_line(&["event=start"]);
    wait_for_open_connections(&server, 1);
    server.signal(libc::SIGTERM);
    server.wait_for_line(&["event=shutdown", "signal=SIGTERM"]);
    let refused = std::net::TcpStream::connect(server.addr);
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    in_flight.write_all(rest).unwrap();
    let reply = read_reply(&mut in_flight).unwrap();
    assert_eq!(reply.status, 200);
    let lines = server.log_handle();
    assert_eq!(server.wait_for_exit().code(), Some(0));
    let log = lines.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l.contains("event=import ") && l.contains("why=shutdown")),
        "{log:#?}"
    );
    assert_eq!(stored_postbacks(&work), Some(1));
}

#[test]
fn sighup_stops_like_sigterm_and_a_second_signal_exits_at_once_with_128_plus_it() {
    let work = Workdir::new();
    let server = start(&work, &["--import-every", "1h"]);
    assert_eq!(
        post(server.addr, "/postback", postback(1).as_bytes(), "").status,
        200
    );
    // A request whose body never ends keeps the drain waiting (up to --body-timeout).
    let mut in_flight = serve_support::connect(server.addr);
    in_flight
        .write_all(b"POST /postback HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    server.wait_for_line(&["event=request", "status=200"]);
    wait_for_open_connections(&server, 1);
    server.signal(libc::SIGHUP);
    server.wait_for_line(&["event=shutdown", "signal=SIGHUP"]);
    server.signal(libc::SIGINT);
    let lines = server.log_handle();
    let status = server.wait_for_exit();
    let log = lines.lock().unwrap().clone();
    assert_eq!(status.code(), Some(130), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("event=stopped") && l.contains("signal=SIGINT")),
        "{log:#?}"
    );
    // Cut short: no last import ran, and the half-sent body got no 200.
    assert!(!log.iter().any(|l| l.contains("why=shutdown")), "{log:#?}");
    assert!(read_reply(&mut in_flight).map_or(true, |reply| reply.status != 200));
    assert_eq!(archived_files(&archive_dir(&work)).len(), 1);
}

#[test]
fn two_servers_on_one_folder_never_collide() {
    let work = Workdir::new();
    let servers = [start(&work, &[]), start(&work, &[])];
    std::thread::scope(|scope| {
        for client in 0..4u64 {
            let addr = servers[(client % 2) as usize].addr;
            scope.spawn(move || {
                for n in 0..100 {
                    let id = client * 1000 + n;
                    assert_eq!(
                        post(addr, "/postback", postback(id).as_bytes(), "").status,
                        200
                    );
                }
            });
        }
    });
    let files = archived_files(&archive_dir(&work));
    assert_eq!(files.len(), 400);
    let mut bodies: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(archive_dir(&work).join(f)).unwrap())
        .collect();
    bodies.sort();
    let mut expected: Vec<Vec<u8>> = (0..4u64)
        .flat_map(|c| (0..100).map(move |n| postback(c * 1000 + n).into_bytes()))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    for server in servers {
        assert_eq!(server.stop().code(), Some(0));
    }
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_at_random_moments() {
    use rand::{Rng, SeedableRng};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let work = Workdir::new();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Its own loopback address: no other test's server can take the port between a
    // kill and the restart, and receive this test's postbacks.
    let first = start(&work, &["--listen", "127.0.0.2:0"]);
    let listen = first.addr.to_string();
    let args = ["--import-every", "1s", "--listen", listen.as_str()];
    let mut server = Some(first);
    let acknowledged = Mutex::new(Vec::new());
    let resent = Mutex::new(0u64);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Stop the clients also when this thread panics, or the scope would wait forever.
        let _stop_clients = StopOnDrop(&stop);
        for client in 0..8u64 {
            let (acknowledged, resent, stop) = (&acknowledged, &resent, &stop);
            let addr = server.as_ref().unwrap().addr;
            scope.spawn(move || {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ client);
                let mut id = client * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    match serve_support::try_post(addr, "/postback", postback(id).as_bytes(), "") {
                        Ok(reply) if reply.status == 200 => {
                            acknowledged.lock().unwrap().push(id);
                            // Now and then the platform sends an acknowledged postback again.
                            if rng.random_bool(0.05) {
                                *resent.lock().unwrap() += 1;
                            } else {
                                id += 1;
                            }
                        }
                        // Not acknowledged: the platform tries again later.
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(rng.random_range(300..1500)));
            server.take().unwrap().kill();
            server = Some(start(&work, &args));
        }
        std::thread::sleep(Duration::from_millis(500));
    });
    let server = server.unwrap();
    assert_eq!(server.stop().code(), Some(0), "seed {seed}");
    let import = work.run(&["import", "in"]);
    assert_eq!(
        import.status.code(),
        Some(0),
        "seed {seed}: {}",
        common::stderr(&import)
    );

    let mut acknowledged = acknowledged.into_inner().unwrap();
    acknowledged.sort_unstable();
    acknowledged.dedup();
    assert!(
        acknowledged.len() > 100,
        "seed {seed}: only {} acknowledged",
        acknowledged.len()
    );
    let stored: Vec<u64> = work
        .rows("SELECT pass_data_id FROM postbacks ORDER BY 1")
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    let mut distinct = stored.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        stored.len(),
        "seed {seed}: a postback stored twice"
    );
    let missing: Vec<&u64> = acknowledged
        .iter()
        .filter(|id| stored.binary_search(id).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: acknowledged but lost: {missing:?}"
    );
    // Every archived file holds one whole postback: stored, or recorded as a copy.
    let on_disk = archived_files(&archive_dir(&work)).len().to_string();
    assert_eq!(
        work.value("SELECT count(*) FROM files"),
        on_disk,
        "seed {seed}"
    );
    assert_eq!(
        work.value("SELECT (SELECT count(*) FROM postbacks) + (SELECT count(*) FROM duplicates)"),
        on_disk,
        "seed {seed}"
    );
    assert_eq!(
        work.value("SELECT count(*) FROM import_errors"),
        "0",
        "seed {seed}"
    );
    let copies: u64 = work
        .value("SELECT count(*) FROM duplicates")
        .parse()
        .unwrap();
    assert!(copies >= resent.into_inner().unwrap(), "seed {seed}");
}

#[test]
fn a_body_cut_off_mid_stream_is_not_archived() {
    let work = Workdir::new();
    let server = start(&work, &[]);
    // Small enough to wait in memory, and large enough to be written as it arrives.
    for (declared, sent) in [(1000, 500), (200_000, 100_000)] {
        let mut stream = serve_support::connect(server.addr);
        let head =
            format!("POST /postback HTTP/1.1\r\nHost: t\r\nContent-Length: {declared}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![b'<'; sent]).unwrap();
        drop(stream);
    }
    for cut in server.wait_for_lines(2, &["status=400"]) {
        assert!(cut.contains("reason=\"the body was cut off: "), "{cut}");
    }
    assert_eq!(
        post(server.addr, "/postback", postback(1).as_bytes(), "").status,
        200
    );
    assert_eq!(archived_files(&archive_dir(&work)).len(), 1);
    assert_eq!(
        incoming_files(&archive_dir(&work)),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(server.stop().code(), Some(0));
}

/// Send `bytes` one a second on `stream` until they are all sent or the server closes
/// the connection; returns how many were sent.
fn trickle(mut stream: std::net::TcpStream, bytes: &[u8]) -> usize {
    let mut peer = stream.try_clone().unwrap();
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = peer.read_to_end(&mut buffer);
        let _ = closed_tx.send(String::from_utf8_lossy(&buffer).into_owned());
    });
    for (sent, byte) in bytes.iter().enumerate() {
        if closed_rx.recv_timeout(Duration::from_secs(1)).is_ok()
            || stream.write_all(&[*byte]).is_err()
        {
            return sent;
        }
    }
    bytes.len()
}

#[test]
fn clients_sending_a_byte_a_second_are_cut_off_while_others_are_served() {
    let work = Workdir::new();
    let server = start(&work, &["--header-timeout", "2", "--body-timeout", "2"]);
    let addr = server.addr;
    let slow_head = b"POST /postback HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345";
    let slow_body_head = b"POST /postback HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n";
    std::thread::scope(|scope| {
        let headers = scope.spawn(|| trickle(serve_support::connect(addr), slow_head));
        let body = scope.spawn(|| {
            let mut stream = serve_support::connect(addr);
            stream.write_all(slow_body_head).unwrap();
            trickle(stream, &[b'x'; 40])
        });
        for id in 0..3 {
            assert_eq!(
                post(addr, "/postback", postback(id).as_bytes(), "").status,
                200
            );
        }
        let headers_sent = headers.join().unwrap();
        assert!(
            headers_sent < slow_head.len(),
            "the slow headers were all read"
        );
        assert!(body.join().unwrap() < 40, "the slow body was all read");
    });
    let timed_out = server.wait_for_line(&["status=408"]);
    assert!(
        timed_out.contains("reason=\"the body took over 2 s (--body-timeout)\""),
        "{timed_out}"
    );
    assert_eq!(archived_files(&archive_dir(&work)).len(), 3);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn ten_thousand_idle_connections_do_not_lock_out_a_delivery() {
    let open_files = serve_support::raise_open_files_limit();
    assert!(
        open_files >= 10_300,
        "this test needs 10,300 open files; the hard limit is {open_files}"
    );
    let work = Workdir::new();
    let server = start(&work, &["--max-connections", "1000"]);
    let idle: Vec<std::net::TcpStream> = (0..10_000)
        .filter_map(|_| std::net::TcpStream::connect(server.addr).ok())
        .collect();
    assert_eq!(idle.len(), 10_000);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.metric("postback_archive_connections_accepted_total") < 10_000.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never accepted the 10,000 connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let reply = post(server.addr, "/postback", postback(1).as_bytes(), "");
    assert_eq!(reply.status, 200);
    let open = server.metric("postback_archive_connections_open");
    let evicted = server.metric("postback_archive_connections_evicted_total");
    let refused = server.metric("postback_archive_connections_refused_total");
    println!("{open} connections open, {evicted} evicted, {refused} refused");
    assert!(open <= 1000.0, "{open} connections open");
    assert!(
        evicted + refused >= 9000.0,
        "{evicted} evicted, {refused} refused"
    );
    let peak_mib = server.peak_rss_kib() / 1024;
    println!("peak RSS with 10,000 idle connections: {peak_mib} MiB");
    assert!(peak_mib < 200, "peak RSS {peak_mib} MiB");
    drop(idle);
    assert_eq!(archived_files(&archive_dir(&work)).len(), 1);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn a_1_gb_body_is_refused_without_being_read_or_held_in_memory() {
    let work = Workdir::new();
    let server = start(&work, &["--max-body", "8"]);
    let gigabyte: u64 = 1 << 30;
    let heads = [
        format!("POST /postback HTTP/1.1\r\nHost: t\r\nContent-Length: {gigabyte}\r\n\r\n"),
        "POST /postback HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
    ];
    for (head, chunked) in heads.iter().zip([false, true]) {
        let mut stream = serve_support::connect(server.addr);
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = stream.try_clone().unwrap();
        let response = std::thread::spawn(move || read_reply(&mut reader).map(|r| r.status));
        let zeros = vec![0u8; 1 << 20];
        let chunk = if chunked {
            [b"100000\r\n".as_slice(), &zeros, b"\r\n"].concat()
        } else {
            zeros
        };
        let mut sent: u64 = 0;
        while sent < gigabyte && stream.write_all(&chunk).is_ok() {
            sent += 1 << 20;
        }
        assert!(
            sent < 100 << 20,
            "the server read {} MiB of the body",
            sent >> 20
        );
        let status = response.join().unwrap();
        assert!(matches!(status, Ok(413) | Err(_)), "{status:?}");
    }
    assert_eq!(
        server.metric("postback_archive_requests_total{status=\"413\"}"),
        2.0
    );
    assert_eq!(archived_files(&archive_dir(&work)).len(), 0);
    assert_eq!(
        incoming_files(&archive_dir(&work)),
        Vec::<std::path::PathBuf>::new()
    );
    let peak_mib = server.peak_rss_kib() / 1024;
    println!("peak RSS after a refused 1 GB body: {peak_mib} MiB");
    assert!(peak_mib < 64, "peak RSS {peak_mib} MiB");
    assert_eq!(server.stop().code(), Some(0));
}
