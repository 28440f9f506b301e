//! Load generator for `postback-archive serve`: N clients, each on its own kept-alive
//! connection, POST unique postbacks back to back for a while, then the rate, the
//! latency percentiles, the CPU per request of this generator and (with
//! `--server-pid`) of the server, and the cores the rest of the machine kept busy
//! meanwhile are printed as one `key=value` line.
//!
//! ```sh
//! cargo run --release --example load -- --addr 127.0.0.1:8080 --clients 64 --seconds 10 --server-pid 4242
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Options {
    addr: String,
    path: String,
    clients: usize,
    seconds: f64,
    token: Option<String>,
    server_pid: Option<u32>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:8080".into(),
        path: "/postback".into(),
        clients: 16,
        seconds: 10.0,
        token: None,
        server_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--addr" => options.addr = value,
            "--path" => options.path = value,
            "--clients" => options.clients = number(&value)? as usize,
            "--seconds" => options.seconds = number(&value)?,
            "--token" => options.token = Some(value),
            "--server-pid" => options.server_pid = Some(number(&value)? as u32),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("load: {message}");
            std::process::exit(1);
        }
    };
    let cpu_before = options.server_pid.map(|pid| cpu_seconds(&pid.to_string()));
    let own_before = cpu_seconds("self");
    let machine_before = machine_busy_seconds();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    let results: Vec<(Vec<u32>, u64)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..options.clients)
            .map(|client| {
                let options = &options;
                scope.spawn(move || run_client(options, client as u64, deadline))
            })
            .collect();
        threads.into_iter().filter_map(|t| t.join().ok()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = options
        .server_pid
        .map(|pid| cpu_seconds(&pid.to_string()))
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let own = cpu_seconds("self") - own_before;
    let machine = machine_busy_seconds() - machine_before;
    let mut micros: Vec<u32> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let failed: u64 = results.iter().map(|(_, f)| f).sum();
    micros.sort_unstable();
    let ok = micros.len();
    let percentile = |p: f64| {
        let index = ((ok as f64 * p).ceil() as usize).clamp(1, ok.max(1)) - 1;
        micros.get(index).map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    let mut line = format!(
        "clients={} ok={ok} failed={failed} seconds={elapsed:.1} rate={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        options.clients,
        ok as f64 / elapsed,
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0),
    );
    let per_request = |seconds: f64| seconds * 1e6 / ok.max(1) as f64;
    line += &format!(" load_cpu_us_per_request={:.0}", per_request(own));
    if let Some(cpu) = cpu {
        line += &format!(
            " server_cpu_s={cpu:.2} server_cpu_us_per_request={:.0}",
            per_request(cpu)
        );
    }
    // Cores kept busy by everything else (other processes on a shared machine).
    let others = (machine - own - cpu.unwrap_or(0.0)).max(0.0) / elapsed;
    line += &format!(" other_cores_busy={others:.2}");
    println!("{line}");
}

/// One client: POST until the deadline; the latency of each 200 (µs) and the failures.
fn run_client(options: &Options, client: u64, deadline: Instant) -> (Vec<u32>, u64) {
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut connection = None;
    let mut sequence = 0u64;
    while Instant::now() < deadline {
        let stream = match connection.take() {
            Some(stream) => stream,
            None => match TcpStream::connect(&options.addr) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    BufReader::new(stream)
                }
                Err(_) => {
                    failed += 1;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            },
        };
        sequence += 1;
        let id = client * 1_000_000_000 + sequence;
        let sent = Instant::now();
        match post(stream, options, id) {
            Ok((stream, 200)) => {
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                connection = Some(stream);
            }
            Ok((stream, _)) => {
                failed += 1;
                connection = Some(stream);
            }
            Err(_) => failed += 1,
        }
    }
    (latencies, failed)
}

/// A realistic pass-generation postback, unique by `id`.
fn body(id: u64) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<POSTBACK>\n  <ORIGIN>GENERATE_PASS</ORIGIN>\n  <CODE>N801</CODE>\n  <REFERENCEDBY>Email</REFERENCEDBY>\n  <REFERENCEVALUE>user{id}@example.com</REFERENCEVALUE>\n  <CUSTOMPASSID>load-{id}</CUSTOMPASSID>\n  <PASSDATAID>{id}</PASSDATAID>\n  <SERIALNUMBER>SN{id:012}</SERIALNUMBER>\n  <TIMESTAMP>2026-11-30T12:00:00-05:00</TIMESTAMP>\n</POSTBACK>\n"
    )
}

fn post(
    mut stream: BufReader<TcpStream>,
    options: &Options,
    id: u64,
) -> std::io::Result<(BufReader<TcpStream>, u16)> {
    let body = body(id);
    let query = options
        .token
        .as_ref()
        .map_or(String::new(), |t| format!("?token={t}"));
    let request = format!(
        "POST {}{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        options.path,
        options.addr,
        body.len()
    );
    stream.get_mut().write_all(request.as_bytes())?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut response_body = vec![0; length];
    stream.read_exact(&mut response_body)?;
    Ok((stream, status))
}

/// The user + system CPU time so far of process `pid` (`self` for this one), from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(vec![], |(_, rest)| rest.split(' ').collect());
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let total = ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0);
    total / clock_ticks_per_second()
}

/// CPU time the whole machine spent busy so far (all but idle and iowait), from /proc/stat.
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: leave out idle and iowait.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .take(6)
        .map(|(_, t)| t)
        .sum();
    busy / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    per_second.max(1.0)
}
