//! systemd's readiness protocol (`sd_notify`), so a unit with `Type=notify` knows when
//! the daemon serves time and when it is stopping: one datagram to the socket named by
//! `NOTIFY_SOCKET`, nothing at all when that is unset (not started by systemd).

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to systemd, if it is listening. An abstract socket
/// (`@name`) is supported, as systemd may use one.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let path = path.to_string_lossy().into_owned();
    match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        }
        None => {
            socket.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(true)
}

/// Tells systemd the daemon is ready, logging (not failing) if it cannot.
pub fn ready(status: &str) {
    if let Err(e) = notify(&format!("READY=1\nSTATUS={status}")) {
        tracing::warn!(error = %e, "cannot notify systemd that tempora is ready");
    }
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    if let Err(e) = notify("STOPPING=1") {
        tracing::warn!(error = %e, "cannot notify systemd that tempora is stopping");
    }
}
