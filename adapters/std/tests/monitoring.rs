//! `tempora run --metrics` as a monitoring stack sees it: `promtool` lints the
//! exposition and the alert rules, a real Prometheus (Debian's `prometheus` package,
//! which `.ci/run` and `tests/run-all.sh` install) scrapes the daemon on loopback, and
//! every metric the dashboard and the alerts name is one the daemon exports.
//!
//! Every process is ended by its PID and every wait is bounded.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/monitoring")
}

/// The path of `tool`, or a failure that says how to install it.
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found: install Debian's prometheus package \
                 (apt-get install --no-install-recommends prometheus; tests/run-all.sh does)"
            )
        })
}

/// A child process ended by its PID when dropped: SIGTERM, then SIGKILL after 10 s.
struct Process {
    name: &'static str,
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tempora run --metrics 127.0.0.1:0` and the address it serves on (from stderr).
fn start_tempora() -> (Process, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tempora"))
        .args([
            "run",
            "--metrics",
            "127.0.0.1:0",
            "--interval",
            "100ms",
            "--no-time-service",
        ])
        .args(["--duration", "180s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tempora");
    let stderr = child.stderr.take().unwrap();
    let tempora = Process {
        name: "tempora",
        child,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("tempora: metrics on http://") {
                let _ = tx.send(rest.trim_end_matches("/metrics").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("tempora printed its metrics address within 20 s");
    (tempora, addr.parse().unwrap())
}

/// One HTTP/1.0 GET: status code and body.
fn get(addr: SocketAddr, target: &str, accept: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(s, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n{accept}\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let code = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

/// Percent-encodes a query parameter.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `tool args` with `stdin`, bounded to 60 s: exit code and output.
fn run(tool_path: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(tool_path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{tool_path:?} {args:?} ran for more than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The metric names an exposition in the text format has samples for.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// The `tempora_*` metric names a PromQL expression mentions.
fn named_metrics(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !ident(bytes[i - 1])) {
            let end = (i..bytes.len())
                .find(|&j| !ident(bytes[j]))
                .unwrap_or(bytes.len());
            let word = &expr[i..end];
            if word.starts_with("tempora_") {
                names.insert(word.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// Every PromQL expression of the dashboard's panels (with Grafana's variables), and
/// its template variables' queries.
fn dashboard_queries() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(docs().join("grafana-dashboard.json")).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut panels = Vec::new();
    let mut stack: Vec<&serde_json::Value> = d["panels"].as_array().unwrap().iter().collect();
    while let Some(p) = stack.pop() {
        stack.extend(p["panels"].as_array().into_iter().flatten());
        for t in p["targets"].as_array().into_iter().flatten() {
            panels.push(
                t["expr"]
                    .as_str()
                    .expect("every target has an expr")
                    .to_string(),
            );
        }
    }
    let variables = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["definition"].as_str().unwrap().to_string())
        .collect();
    (panels, variables)
}

/// Every alerting rule's name and expression.
fn alert_rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(docs().join("alerts.yml")).unwrap();
    let rules: serde_norway::Value = serde_norway::from_str(&text).expect("the alerts are YAML");
    rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().iter())
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn promtool_passes_the_exposition_and_the_rules() {
    let promtool = tool("promtool");
    let (_tempora, addr) = start_tempora();
    let (code, exposition) = get(addr, "/metrics", None);
    assert_eq!(code, 200);
    let (rc, out) = run(&promtool, &["check", "metrics"], &exposition);
    assert_eq!(rc, 0, "promtool check metrics: {out}\n{exposition}");
    assert!(out.trim().is_empty(), "promtool found problems: {out}");

    let alerts = docs().join("alerts.yml");
    let (rc, out) = run(&promtool, &["check", "rules", alerts.to_str().unwrap()], "");
    assert_eq!(rc, 0, "promtool check rules: {out}");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", alert_rules().len())),
        "{out}"
    );

    let tests = docs().join("alerts_test.yml");
    let (rc, out) = run(&promtool, &["test", "rules", tests.to_str().unwrap()], "");
    assert_eq!(rc, 0, "promtool test rules: {out}");
}

#[test]
fn the_dashboard_and_the_alerts_name_only_exported_metrics() {
    let (_tempora, addr) = start_tempora();
    let (_, exposition) = get(addr, "/metrics", None);
    let exported = exported_names(&exposition);
    let (panels, variables) = dashboard_queries();
    let rules = alert_rules();
    assert!(panels.len() >= 15, "{panels:?}");
    let mut missing = Vec::new();
    let exprs = panels
        .iter()
        .chain(&variables)
        .chain(rules.iter().map(|(_, e)| e));
    for expr in exprs {
        let names = named_metrics(expr);
        let only_up = expr.trim() == "up{job=\"tempora\"} == 0";
        assert!(
            !names.is_empty() || only_up,
            "{expr} names no tempora metric"
        );
        missing.extend(names.into_iter().filter(|n| !exported.contains(n)));
    }
    assert!(missing.is_empty(), "not exported: {missing:?}");
    // The dashboard has the panels the docs promise.
    let all = panels.join("\n");
    for needle in [
        "rate(tempora_hlc_generations_total",
        "histogram_quantile(0.99, sum by (instance, le) (rate(tempora_hlc_latency_seconds_bucket",
        "tempora_queue_depth",
        "tempora_clock_error_bound_seconds{instance=~\"$instance\"} * 1e6",
        "tempora_clock_synchronization_failures_total",
        "tempora_source_active",
    ] {
        assert!(all.contains(needle), "no panel queries {needle}");
    }
}

/// A port free now on loopback (taken by nobody between this and its use, with luck
/// that a retry covers).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus scraping `target` every second and evaluating the alert rules, its
/// data in a temp dir; its address.
fn start_prometheus(target: SocketAddr, dir: &Path) -> (Process, SocketAddr) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: tempora\n    static_configs:\n      - targets: ['{target}']\n",
            docs().join("alerts.yml").display()
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    (
        Process {
            name: "prometheus",
            child,
        },
        addr,
    )
}

/// Asks Prometheus's HTTP API; `None` while it is not answering.
fn api(prometheus: SocketAddr, path: &str) -> Option<serde_json::Value> {
    let mut s = TcpStream::connect_timeout(&prometheus, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {prometheus}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    serde_json::from_str(raw.split_once("\r\n\r\n")?.1).ok()
}

/// An instant query's result vector (empty when nothing matched).
fn query(prometheus: SocketAddr, promql: &str) -> Option<Vec<serde_json::Value>> {
    let v = api(
        prometheus,
        &format!("/api/v1/query?query={}", encode(promql)),
    )?;
    assert_eq!(v["status"], "success", "{promql}: {v}");
    Some(v["data"]["result"].as_array()?.clone())
}

/// Polls `check` every 200 ms until it gives a value, for at most `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scalar(sample: &serde_json::Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn prometheus_scrapes_the_daemon_and_evaluates_the_dashboard_and_the_alerts() {
    let (_tempora, target) = start_tempora();
    let dir = std::env::temp_dir().join(format!("tempora-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (prometheus, addr) = start_prometheus(target, &dir);
    let limit = Duration::from_secs(60);

    let up = wait_for(limit, "tempora's first scrape", || {
        query(addr, "up{job=\"tempora\"}").filter(|r| !r.is_empty())
    });
    assert_eq!(scalar(&up[0]), 1.0, "the scrape failed: {up:?}");
    // The counter grows between scrapes: the series is live, not a one-off.
    let first = wait_for(limit, "HLC generations", || {
        query(addr, "tempora_hlc_generations_total")
            .and_then(|r| r.first().map(scalar))
            .filter(|&n| n > 0.0)
    });
    wait_for(limit, "HLC generations to grow", || {
        query(addr, "tempora_hlc_generations_total")
            .and_then(|r| r.first().map(scalar))
            .filter(|&n| n > first)
    });
    let active = query(addr, "tempora_source_active == 1").unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0]["metric"]["source"], "system");
    let latency = query(addr, "tempora_hlc_latency_seconds_count").unwrap();
    assert!(scalar(&latency[0]) >= 1.0, "{latency:?}");
    // Prometheus asked for OpenMetrics and got it (the info metric keeps its type).
    let meta = api(addr, "/api/v1/metadata?metric=tempora_build").unwrap();
    assert_eq!(meta["data"]["tempora_build"][0]["type"], "info", "{meta}");

    // Every dashboard query runs against the scraped data.
    let (panels, _) = dashboard_queries();
    for expr in &panels {
        let runnable = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        query(addr, &runnable).unwrap_or_else(|| panic!("Prometheus did not answer {runnable}"));
    }

    // Every alert rule was loaded and evaluates without error.
    let names: BTreeSet<String> = alert_rules().into_iter().map(|(n, _)| n).collect();
    let rules = wait_for(limit, "every rule evaluated", || {
        let v = api(addr, "/api/v1/rules")?;
        let rules: Vec<serde_json::Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = rules
            .iter()
            .all(|r| r["lastEvaluation"] != "0001-01-01T00:00:00Z");
        (rules.len() == names.len() && evaluated).then_some(rules)
    });
    for r in &rules {
        assert_eq!(r["health"], "ok", "{r}");
        assert!(names.contains(r["name"].as_str().unwrap()));
    }

    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_metrics_port_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tempora"))
        .args([
            "run",
            "--duration",
            "10s",
            "--no-time-service",
            "--metrics",
            &addr.to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("tempora: cannot serve metrics on {addr}:"))
            && err.contains("pick another port"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it ran anyway: {out:?}");
}
