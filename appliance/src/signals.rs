//! Signals as flags the modes poll: SIGINT/SIGTERM ask to stop, SIGUSR1 to
//! print the counters, SIGHUP (capture) to start a new file.
//!
//! [`Signals`] also wakes a waiting mode at once: each handler writes a
//! byte to a socket pair ([`signal_hook::low_level::pipe`]) whose other end
//! every wait polls, so a wait of any length ends within a system call of
//! the signal, with no busy loop and no lost wake-up.

use std::io::Read as _;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fd::BorrowedFd;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

use crate::Failure;

/// A flag raised by any of `signals`.
pub fn flag(signals: &[i32]) -> Result<Arc<AtomicBool>, Failure> {
    let flag = Arc::new(AtomicBool::new(false));
    for &signal in signals {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .map_err(|e| Failure::Runtime(format!("cannot handle signal {signal}: {e}")))?;
    }
    Ok(flag)
}

/// Raised by SIGINT or SIGTERM.
pub fn stop() -> Result<Arc<AtomicBool>, Failure> {
    flag(&[SIGINT, SIGTERM])
}

/// Raised by SIGUSR1.
pub fn usr1() -> Result<Arc<AtomicBool>, Failure> {
    flag(&[SIGUSR1])
}

/// The longest single `poll` of [`Signals::wait`]: longer waits are made
/// of several (a `Timespec` holds any, but a clock step is noticed sooner).
const LONGEST_POLL: Duration = Duration::from_secs(3600);

/// Stop (SIGINT, SIGTERM), SIGUSR1 and, when asked for, SIGHUP, as flags,
/// with a way to wait that any of them ends at once.
#[derive(Debug)]
pub struct Signals {
    stop: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
    hup: Option<Arc<AtomicBool>>,
    wake: UnixStream,
}

impl Signals {
    /// Handle SIGINT, SIGTERM, SIGUSR1 and, with `hup`, SIGHUP (without
    /// it SIGHUP keeps its default action: the process ends).
    pub fn install(hup: bool) -> Result<Signals, Failure> {
        let failed = |e: std::io::Error| Failure::Runtime(format!("cannot handle signals: {e}"));
        // The flags first: a handler runs its actions in the order they
        // were registered, so a woken wait finds its flag raised.
        let stop = stop()?;
        let usr1 = usr1()?;
        let hup = hup.then(|| flag(&[SIGHUP])).transpose()?;
        let (wake, poke) = UnixStream::pair().map_err(failed)?;
        wake.set_nonblocking(true).map_err(failed)?;
        let mut wanted = vec![SIGINT, SIGTERM, SIGUSR1];
        if hup.is_some() {
            wanted.push(SIGHUP);
        }
        for &signal in &wanted {
            let end = poke.try_clone().map_err(failed)?;
            signal_hook::low_level::pipe::register(signal, end).map_err(failed)?;
        }
        Ok(Signals {
            stop,
            usr1,
            hup,
            wake,
        })
    }

    /// SIGINT or SIGTERM came.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// SIGUSR1 came since the last call.
    pub fn take_usr1(&self) -> bool {
        self.usr1.swap(false, Ordering::Relaxed)
    }

    /// SIGHUP came since the last call.
    pub fn take_hup(&self) -> bool {
        self.hup
            .as_ref()
            .is_some_and(|h| h.swap(false, Ordering::Relaxed))
    }

    /// Wait until a signal comes, `fd` is ready for `events`, or `timeout`
    /// passes; returns `fd`'s events (empty after a signal or the time-out).
    pub fn wait(
        &self,
        fd: Option<(BorrowedFd<'_>, PollFlags)>,
        timeout: Duration,
    ) -> Result<PollFlags, Failure> {
        let timeout = timeout.min(LONGEST_POLL);
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut set = [
            PollFd::new(&self.wake, PollFlags::IN),
            PollFd::new(&self.wake, PollFlags::empty()),
        ];
        let n = match fd {
            Some((fd, events)) => {
                set[1] = PollFd::from_borrowed_fd(fd, events);
                2
            }
            None => 1,
        };
        let set = &mut set[..n];
        match rustix::event::poll(set, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Failure::Runtime(format!("poll failed: {e}"))),
        }
        let woken = set[0].revents().contains(PollFlags::IN);
        let ready = set.get(1).map_or(PollFlags::empty(), PollFd::revents);
        if woken {
            // Empty the pair: one byte per signal; the flags say which.
            let mut sink = [0u8; 64];
            while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        }
        Ok(ready)
    }
}
