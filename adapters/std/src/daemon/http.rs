//! The metrics endpoint's HTTP: HTTP/1.1 `GET` and `HEAD`, one request per connection
//! (`Connection: close`), answered on the thread that accepts it.
//!
//! A scrape every few seconds on loopback needs no pool of threads: the endpoint is one
//! thread that sleeps in `ppoll` until a client connects or it is told to stop, and
//! never wakes otherwise. Requests are parsed by `httparse` (no allocation); a client
//! that sends nothing is dropped after [`CLIENT_TIMEOUT`], so it holds the endpoint up
//! at most that long.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::poll::PollFlags;

use crate::nic::poll_fds;

/// How long a client may take to send its request, or to take the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest request head read (request line and headers).
const HEAD_LIMIT: usize = 8192;

/// What answers a request: `(method, path, Accept header, body to append to)` to
/// `(status code, content type)`.
pub(crate) type Answer<'a> =
    &'a (dyn Fn(&str, &str, &str, &mut String) -> (u16, &'static str) + Sync);

/// The buffers one connection after another reuses: once they have grown to the largest
/// answer, a scrape allocates none (a body that grows by a digit now and then would
/// otherwise ask the allocator for a new size every so often).
#[derive(Default)]
struct Buffers {
    body: String,
    response: Vec<u8>,
}

/// Serves `listener` until `stop` is readable (a byte written, or its other end
/// dropped).
pub(crate) fn serve(listener: &TcpListener, stop: &UnixStream, answer: Answer<'_>) {
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::warn!(error = %e, "the metrics endpoint cannot serve");
        return;
    }
    let mut buffers = Buffers::default();
    loop {
        let ready = match poll_fds(
            &[listener.as_fd()],
            Some(stop.as_fd()),
            PollFlags::POLLIN,
            Duration::from_secs(3600),
        ) {
            Ok(mask) => mask,
            Err(e) => {
                tracing::warn!(error = %e, "the metrics endpoint stops");
                return;
            }
        };
        if ready & 0b10 != 0 {
            return;
        }
        if ready & 0b01 == 0 {
            continue;
        }
        // Every connection queued, then back to sleep.
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = answer_one(stream, answer, &mut buffers) {
                        tracing::debug!(error = %e, "a metrics client went away");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // Out of descriptors, say: the next connection may fare better.
                    tracing::debug!(error = %e, "cannot accept a metrics client");
                    break;
                }
            }
        }
    }
}

/// Reads one request from `stream` and answers it.
fn answer_one(mut stream: TcpStream, answer: Answer<'_>, buffers: &mut Buffers) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut head = [0u8; HEAD_LIMIT];
    let mut len = 0;
    let body = &mut buffers.body;
    body.clear();
    let (code, content_type, head_only) = loop {
        let n = stream.read(&mut head[len..])?;
        if n == 0 {
            // Closed before a whole request: nobody to answer.
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.unwrap_or("");
                let path = request.path.unwrap_or("");
                let accept = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("accept"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .unwrap_or("");
                let (code, content_type) = answer(method, path, accept, body);
                break (code, content_type, method == "HEAD");
            }
            Ok(httparse::Status::Partial) if len < head.len() => {}
            Ok(httparse::Status::Partial) => {
                body.push_str("request header too large\n");
                break (431, PLAIN, false);
            }
            Err(e) => {
                let _ = writeln!(body, "bad request: {e}");
                break (400, PLAIN, false);
            }
        }
    };
    let response = &mut buffers.response;
    response.clear();
    write!(
        response,
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(code),
        body.len()
    )?;
    if !head_only {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(response)?;
    stream.flush()?;
    // Closing with input unread would reset the connection, and the client could lose
    // the answer (a request over the head's limit, say): say we are done, then discard
    // what still comes, until the client closes or a short while has passed.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(DRAIN_TIMEOUT))?;
    let mut left = DRAIN_LIMIT;
    while left > 0 {
        match stream.read(&mut head) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

/// How long a client may take to close after the answer, and how much of what it
/// still sends is read and discarded.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(200);
const DRAIN_LIMIT: usize = 64 * 1024;

const PLAIN: &str = "text/plain; charset=utf-8";

/// The reason phrase of the codes the endpoint sends.
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use super::*;

    fn answer(method: &str, path: &str, accept: &str, body: &mut String) -> (u16, &'static str) {
        match path {
            "/echo" => {
                let _ = writeln!(body, "{method} {accept}");
                (200, PLAIN)
            }
            _ => {
                body.push_str("no\n");
                (404, PLAIN)
            }
        }
    }

    /// An endpoint on a free loopback port, stopped when the returned guard drops.
    fn endpoint() -> (SocketAddr, UnixStream, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = UnixStream::pair().unwrap();
        let thread = std::thread::spawn(move || serve(&listener, &stop_rx, &answer));
        (addr, stop, thread)
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn answers_get_and_head_and_refuses_what_is_not_http() {
        let (addr, stop, thread) = endpoint();
        let got = exchange(
            addr,
            b"GET /echo HTTP/1.1\r\nHost: x\r\nACCEPT: text/plain\r\n\r\n",
        );
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 15\r\nConnection: close\r\n\r\nGET text/plain\n"
        );
        let head = exchange(addr, b"HEAD /echo HTTP/1.0\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Length: 6\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
        assert!(exchange(addr, b"GET /x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found"));
        assert!(exchange(addr, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
        let huge = [b"GET /echo HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 9000]].concat();
        assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431 "));
        // A request in pieces is read to its end.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /echo HT").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"TP/1.1\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        drop(stop);
        thread.join().unwrap();
    }

    #[test]
    fn a_silent_client_holds_the_endpoint_at_most_the_client_timeout() {
        let (addr, stop, thread) = endpoint();
        let _silent = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        let got = exchange(addr, b"GET /echo HTTP/1.1\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(
            start.elapsed() < CLIENT_TIMEOUT + Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        drop(stop);
        thread.join().unwrap();
    }

    #[test]
    fn the_endpoint_stops_when_told_and_lets_go_of_its_port() {
        let (addr, stop, thread) = endpoint();
        drop(stop);
        thread.join().unwrap();
        // The listener was the thread's; it is closed with it.
        assert!(TcpStream::connect(addr).is_err());
    }
}
