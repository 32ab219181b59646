//! The daemon's metrics endpoint: `/metrics` (OpenMetrics, or the Prometheus text
//! format for clients that do not ask for it), `/healthz` (the process answers) and
//! `/readyz` (a source is usable), over a small blocking HTTP server on its own thread.
//!
//! [`DaemonMetrics`] is what the daemon's loops feed: the [`PrometheusHooks`] its HLC and
//! PTP port report to, and every [`StatusLine`] it prints, which also decides readiness.

use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::ClockStatus;

use super::status::StatusLine;
use crate::prometheus::{PrometheusHooks, DEFAULT_SAMPLE_EVERY};

/// The `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// When the daemon counts as ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyPolicy {
    /// A source whose bound exceeds this is not usable.
    pub max_bound: Duration,
    /// A status line older than this no longer says anything (the loop is stuck).
    pub stale_after: Duration,
}

/// What the last status line said, for readiness.
#[derive(Clone, Debug)]
struct Observed {
    source: String,
    status: ClockStatus,
    bound: Option<Duration>,
    at: MonoInstant,
}

/// The daemon's metrics and readiness; clones share them.
#[derive(Clone, Debug)]
pub struct DaemonMetrics {
    hooks: PrometheusHooks,
    policy: ReadyPolicy,
    last: Arc<Mutex<Option<Observed>>>,
}

impl DaemonMetrics {
    /// Metrics for a daemon reading `source` (`system`, `ptp:eth0`), ready by `policy`.
    pub fn new(source: &str, policy: ReadyPolicy) -> Self {
        Self {
            hooks: PrometheusHooks::new(&[source], DEFAULT_SAMPLE_EVERY),
            policy,
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The hooks to give the HLC and the PTP port.
    pub fn hooks(&self) -> &PrometheusHooks {
        &self.hooks
    }

    /// Takes in a status line: bound, status, offset, drift, port state, active source.
    pub fn observe(&self, line: &StatusLine) {
        let h = &self.hooks;
        let source = line.source.to_string();
        h.set_active_source(&source);
        h.observe_bound(line.bound);
        h.observe_status(line.status);
        h.observe_offset(line.offset_ns().map(|ns| ns * 1e-9));
        if let Some(ptp) = &line.ptp {
            h.observe_drift_ppb(ptp.frequency_ppb);
            h.observe_port_state(ptp.state.as_str());
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Observed {
            source,
            status: line.status,
            bound: line.bound,
            at: MonoInstant::now(),
        });
    }

    /// `Ok(why)` when the last status line, fresh, shows a source synchronized or in
    /// holdover with its bound within the policy's; `Err(why not)` otherwise.
    pub fn ready(&self) -> Result<String, String> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(o) = last else {
            return Err("no status yet".into());
        };
        let age = o.at.elapsed();
        if age > self.policy.stale_after {
            return Err(format!(
                "the last status is {:.1}s old (stale after {:?})",
                age.as_secs_f64(),
                self.policy.stale_after
            ));
        }
        if !matches!(o.status, ClockStatus::Synchronized | ClockStatus::Holdover) {
            return Err(format!("{} is {}", o.source, o.status));
        }
        match o.bound {
            Some(b) if b <= self.policy.max_bound => Ok(format!(
                "{} is {} within {:.9}s",
                o.source,
                o.status,
                b.as_secs_f64()
            )),
            Some(b) => Err(format!(
                "{} is {} but its bound {:.9}s exceeds {:.9}s",
                o.source,
                o.status,
                b.as_secs_f64(),
                self.policy.max_bound.as_secs_f64()
            )),
            None => Err(format!("{} is {} but unbounded", o.source, o.status)),
        }
    }

    /// The answer to `method path` with this `Accept` header: status code, content type
    /// and body.
    pub fn respond(&self, method: &str, path: &str, accept: &str) -> (u16, &'static str, String) {
        let mut body = String::new();
        let (code, content_type) = self.respond_into(method, path, accept, &mut body);
        (code, content_type, body)
    }

    /// [`respond`](Self::respond) with the body appended to `body`: the endpoint clears
    /// and reuses one buffer, so a scrape allocates no body once the buffer has grown
    /// to the largest one.
    pub fn respond_into(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: &mut String,
    ) -> (u16, &'static str) {
        const PLAIN: &str = "text/plain; charset=utf-8";
        let path = path.split('?').next().unwrap_or(path);
        if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
            body.push_str("not found: try /metrics, /healthz or /readyz\n");
            return (404, PLAIN);
        }
        if method != "GET" && method != "HEAD" {
            body.push_str("only GET\n");
            return (405, PLAIN);
        }
        match path {
            "/metrics" if accept.contains("application/openmetrics-text") => {
                self.hooks.encode_openmetrics_into(body);
                (200, OPENMETRICS)
            }
            "/metrics" => {
                self.hooks.encode_prometheus_text_into(body);
                (200, PROMETHEUS_TEXT)
            }
            "/healthz" => {
                body.push_str("ok\n");
                (200, PLAIN)
            }
            _ => match self.ready() {
                Ok(why) => {
                    let _ = writeln!(body, "ready: {why}");
                    (200, PLAIN)
                }
                Err(why) => {
                    let _ = writeln!(body, "not ready: {why}");
                    (503, PLAIN)
                }
            },
        }
    }
}

/// The endpoint could not listen.
#[derive(Debug)]
pub struct EndpointError {
    /// Where it tried.
    pub addr: SocketAddr,
    /// Why.
    pub source: io::Error,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot serve metrics on {}: {}", self.addr, self.source)?;
        if self.source.kind() == io::ErrorKind::AddrInUse {
            write!(
                f,
                " (another process listens there: stop it, or pick another port with --metrics)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The HTTP endpoint, serving until dropped: one thread, asleep until a client
/// connects (see [`http`](super::http)).
pub struct MetricsEndpoint {
    addr: SocketAddr,
    /// Dropped to stop the thread: its other end becomes readable.
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Listens on `addr` (port 0: any free port; [`addr`](Self::addr) says which) and
    /// serves `metrics` on a thread of its own.
    pub fn start(addr: SocketAddr, metrics: DaemonMetrics) -> Result<Self, EndpointError> {
        let err = |source| EndpointError { addr, source };
        let listener = TcpListener::bind(addr).map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        let (stop, stopped) = UnixStream::pair().map_err(err)?;
        let thread = std::thread::Builder::new()
            .name("tempora-metrics".into())
            .spawn(move || {
                let answer = |method: &str, path: &str, accept: &str, body: &mut String| {
                    metrics.respond_into(method, path, accept, body)
                };
                super::http::serve(&listener, &stopped, &answer);
            })
            .map_err(err)?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use tempora_core::clock::ClockReading;
    use tempora_core::time::{Instant, Utc};
    use tempora_core::timestamp::{NodeId, Timestamp};

    use super::super::status::Source;
    use super::*;

    const POLICY: ReadyPolicy = ReadyPolicy {
        max_bound: Duration::from_millis(1),
        stale_after: Duration::from_secs(5),
    };

    fn line(status: ClockStatus, bound: Duration) -> StatusLine {
        let reading = ClockReading::<Utc> {
            time: Instant::from_nanos(1_700_000_000_000_000_000),
            bound,
            status,
        };
        let hlc = Timestamp::<Utc>::new(reading.time, 0, NodeId(1));
        StatusLine::new(Source::System, &reading, hlc)
    }

    #[test]
    fn ready_only_when_synchronized_or_in_holdover_within_the_bound() {
        let m = DaemonMetrics::new("system", POLICY);
        assert_eq!(m.ready(), Err("no status yet".into()));
        m.observe(&line(ClockStatus::Synchronized, Duration::from_micros(20)));
        assert!(m.ready().is_ok());
        m.observe(&line(ClockStatus::Holdover, Duration::from_micros(900)));
        assert!(m.ready().is_ok());
        m.observe(&line(ClockStatus::Holdover, Duration::from_millis(2)));
        assert!(m.ready().unwrap_err().contains("exceeds"));
        m.observe(&line(ClockStatus::FreeRunning, Duration::from_micros(1)));
        assert_eq!(m.ready(), Err("system is free-running".into()));
        m.observe(&line(ClockStatus::Synchronized, Duration::MAX));
        assert!(m.ready().unwrap_err().contains("unbounded"));
    }

    #[test]
    fn a_stale_status_is_not_ready() {
        let m = DaemonMetrics::new(
            "system",
            ReadyPolicy {
                stale_after: Duration::from_millis(30),
                ..POLICY
            },
        );
        m.observe(&line(ClockStatus::Synchronized, Duration::from_micros(20)));
        assert!(m.ready().is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(m.ready().unwrap_err().contains("old"));
    }

    #[test]
    fn metrics_in_the_format_asked_for_and_unknown_paths_refused() {
        let m = DaemonMetrics::new("system", POLICY);
        let (code, ct, body) = m.respond(
            "GET",
            "/metrics",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        );
        assert_eq!((code, ct), (200, OPENMETRICS));
        assert!(body.ends_with("# EOF\n"));
        let (code, ct, body) = m.respond("GET", "/metrics", "");
        assert_eq!((code, ct), (200, PROMETHEUS_TEXT));
        assert!(body.contains("tempora_hlc_generations_total 0"));
        assert_eq!(m.respond("GET", "/healthz", "").0, 200);
        assert_eq!(m.respond("GET", "/readyz", "").0, 503);
        assert_eq!(m.respond("GET", "/", "").0, 404);
        assert_eq!(m.respond("POST", "/metrics", "").0, 405);
    }

    /// One HTTP/1.0 GET: status code and body.
    fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let code = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
        (code, body)
    }

    #[test]
    fn the_endpoint_serves_on_loopback_and_a_taken_port_is_a_clear_error() {
        let m = DaemonMetrics::new("system", POLICY);
        let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap(), m.clone()).unwrap();
        let addr = endpoint.addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(get(addr, "/healthz"), (200, "ok\n".into()));
        let (code, body) = get(addr, "/readyz");
        assert_eq!((code, body.as_str()), (503, "not ready: no status yet\n"));
        m.observe(&line(ClockStatus::Synchronized, Duration::from_micros(20)));
        let (code, body) = get(addr, "/readyz");
        assert_eq!(code, 200, "{body}");
        let (code, body) = get(addr, "/metrics");
        assert_eq!(code, 200);
        assert!(body.contains("tempora_clock_status{status=\"synchronized\"} 1"));

        let taken = MetricsEndpoint::start(addr, m).unwrap_err();
        assert_eq!(taken.source.kind(), io::ErrorKind::AddrInUse);
        let message = taken.to_string();
        assert!(message.starts_with(&format!("cannot serve metrics on {addr}")));
        assert!(message.contains("pick another port"), "{message}");

        // The drop joins the thread, which owned the listener: the port is free.
        drop(endpoint);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }
}
