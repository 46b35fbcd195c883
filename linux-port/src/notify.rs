//! The service manager's notification protocol (`sd_notify(3)`) without
//! libsystemd: newline-separated `KEY=value` lines in one datagram to the
//! `AF_UNIX` socket named by `NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace), and the watchdog interval from `WATCHDOG_USEC`
//! (for this process when `WATCHDOG_PID` is unset or names it).

use std::time::Duration;

use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

use crate::error::{Error, Result};

/// A connection to the service manager.
#[derive(Debug)]
pub struct Notifier {
    fd: OwnedFd,
    addr: SocketAddrUnix,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for, if any; `Err` when it is set
    /// but unusable.
    pub fn from_env() -> Result<Option<Notifier>> {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        let bytes = socket.as_encoded_bytes();
        let err = |e| Error::new("socket", Some("NOTIFY_SOCKET"), e);
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddrUnix::new_abstract_name(name),
            None => SocketAddrUnix::new(bytes),
        }
        .map_err(err)?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(err)?;
        Ok(Some(Notifier {
            fd,
            addr,
            watchdog: watchdog_from_env(),
        }))
    }

    /// `WATCHDOG_USEC` for this process: send `WATCHDOG=1` more often
    /// than this.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Send `state` (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`).
    pub fn notify(&self, state: &str) -> Result<()> {
        rustix::net::sendto(&self.fd, state.as_bytes(), SendFlags::NOSIGNAL, &self.addr)
            .map(drop)
            .map_err(|e| Error::new("sendto", Some("NOTIFY_SOCKET"), e))
    }
}

fn watchdog_from_env() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}
