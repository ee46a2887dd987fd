//! Shared by the `serve_*` integration tests: start the real `leadscore serve` binary on
//! 127.0.0.1 (port 0, read back from its log), talk plain HTTP/1.1 to it, run a webhook receiver,
//! and start a throwaway PostgreSQL cluster with `scripts/postgres.sh`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("leadscore-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `leadscore serve`.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server with `args` (after `serve --listen 127.0.0.1:0`) from the repository root,
    /// waiting until it listens.
    pub fn start(args: &[&str]) -> Server {
        Server::start_command(Command::new(env!("CARGO_BIN_EXE_leadscore")), args)
    }

    /// Like [`Server::start`], with the open-file limit (`ulimit -n`) of the server set to `nofile`.
    pub fn start_with_nofile(nofile: u32, args: &[&str]) -> Server {
        let mut command = Command::new("bash");
        command.args([
            "-c",
            &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_leadscore"),
        ]);
        Server::start_command(command, args)
    }

    fn start_command(mut command: Command, args: &[&str]) -> Server {
        let mut child = command
            .current_dir(REPO)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--log-level",
                "debug",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start leadscore serve");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = listening_addr(&logs.lock().unwrap());
            if let Some(addr) = found {
                return Server { child, addr, logs };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "leadscore serve exited with {status}:\n{}",
                    logs.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "leadscore serve did not start:\n{}",
                logs.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.addr, method, path, headers, body)
    }

    /// Posts a tier result as `fetch` does.
    pub fn post(&self, body: &Value) -> Response {
        self.request(
            "POST",
            "/v1/tier",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    pub fn summary(&self) -> Value {
        let response = self.request("GET", "/v1/summary", &[], b"");
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit code.
    pub fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash or a power cut would stop it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(logs: &str) -> Option<SocketAddr> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|entry| {
            if entry["message"] != "listening" {
                return None;
            }
            let url = entry["url"].as_str()?;
            url.trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .ok()
        })
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    read_response(&mut stream)
}

pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A valid tier result for the example SaaS model, dated when this test binary made its first
/// result: the same arguments give the same result, so posting it again is a true retry (the
/// collector answers a changed result under the same event_id with 409).
pub fn result(event_id: &str, visitor_id: &str, previous_tier: &str, tier: &str) -> Value {
    static START: OnceLock<Duration> = OnceLock::new();
    let now = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    });
    json!({
        "schema": 1,
        "tier": tier,
        "previous_tier": previous_tier,
        "model_id": "acme-saas",
        "model_version": "2026-11-01",
        "visitor_id": visitor_id,
        "event_id": event_id,
        "at": rfc3339(now.as_secs()),
    })
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` for seconds since 1970 (civil-from-days, no date crate needed).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A webhook receiver on 127.0.0.1 that answers `fail_first` requests with 503, then 200, and
/// records every request it got.
pub struct Webhook {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<WebhookCall>>>,
    healthy: Arc<Mutex<bool>>,
}

#[derive(Debug, Clone)]
pub struct WebhookCall {
    pub status: u16,
    pub idempotency_key: Option<String>,
    pub body: Value,
}

impl Webhook {
    /// Answers each request with the status `answer` gives for its body (`0` = the default:
    /// 503 until [`Webhook::recover`], then 200).
    pub fn start_answering(answer: fn(&Value) -> u16) -> Webhook {
        Webhook::start(answer)
    }

    /// Starts failing (503) until [`Webhook::recover`] is called.
    pub fn start_failing() -> Webhook {
        Webhook::start(|_| 0)
    }

    fn start(answer: fn(&Value) -> u16) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let healthy = Arc::new(Mutex::new(false));
        let (log, state) = (Arc::clone(&received), Arc::clone(&healthy));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Some((headers, body)) = read_request(&mut stream) else {
                    continue;
                };
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let ok = *state.lock().unwrap();
                let status = match answer(&body) {
                    0 if ok => 200,
                    0 => 503,
                    status => status,
                };
                log.lock().unwrap().push(WebhookCall {
                    status,
                    idempotency_key: headers.get("idempotency-key").cloned(),
                    body,
                });
                let reason = "Answer";
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                );
            }
        });
        Webhook {
            addr,
            received,
            healthy,
        }
    }

    pub fn recover(&self) {
        *self.healthy.lock().unwrap() = true;
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn calls(&self) -> Vec<WebhookCall> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// Polls `check` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// The URL of a throwaway PostgreSQL cluster started once per test binary by
/// `scripts/postgres.sh` (stopped by that script when this process exits).
pub fn postgres_cluster() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let output = Command::new("bash")
            .arg(Path::new(REPO).join("scripts/postgres.sh"))
            .arg("start")
            .env("PG_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            output.status.success(),
            "scripts/postgres.sh start failed (is Debian's postgresql package installed?):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    })
}

/// A new, empty database in the test cluster; returns its URL.
pub fn postgres_database(name: &str) -> String {
    let cluster = postgres_cluster();
    let output = Command::new("psql")
        .args([
            cluster,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "CREATE DATABASE {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}/{name}", cluster.trim_end_matches("/postgres"))
}

/// Runs one SQL query with `psql` and returns the unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
pub mod scenarios;
