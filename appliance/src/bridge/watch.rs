//! What the workers must not do themselves, because it takes milliseconds:
//! asking the kernel about interfaces, opening a port's socket and ring,
//! closing one (`packet_release` waits for `synchronize_net`). The main
//! thread does it every tick and shares the results:
//!
//! - [`PortState`]: an interface's index, link state and MTU, as atomics
//!   the workers read once per pump;
//! - [`Handoff`]: a port socket passed to a worker (opened after the
//!   interface came back) or from it (to be closed), through mutexes the
//!   worker only ever `try_lock`s.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::Mutex;

use ringtap_linux::netdev::Control;

const UP: u32 = 1;
const RUNNING: u32 = 2;

/// An interface as the main thread last saw it.
#[derive(Debug)]
pub struct PortState {
    name: String,
    /// 0 while the interface does not exist.
    ifindex: AtomicU32,
    flags: AtomicU32,
    mtu: AtomicU32,
}

impl PortState {
    /// An interface found at start-up (index, up and running, MTU).
    pub fn new(name: &str, ifindex: u32, mtu: u32) -> PortState {
        PortState {
            name: name.to_owned(),
            ifindex: AtomicU32::new(ifindex),
            flags: AtomicU32::new(UP | RUNNING),
            mtu: AtomicU32::new(mtu),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its interface index, while it exists.
    pub fn ifindex(&self) -> Option<u32> {
        Some(self.ifindex.load(Relaxed)).filter(|&i| i != 0)
    }

    /// Administratively up with a carrier: frames sent now can leave.
    pub fn carries(&self) -> bool {
        self.flags.load(Relaxed) == UP | RUNNING
    }

    /// Its MTU when last seen.
    pub fn mtu(&self) -> u32 {
        self.mtu.load(Relaxed)
    }

    /// Ask the kernel again (main thread).
    pub fn refresh(&self, control: &Control) {
        let Ok(ifindex) = control.ifindex(&self.name) else {
            self.ifindex.store(0, Relaxed);
            self.flags.store(0, Relaxed);
            return;
        };
        let flags = control.link_flags(&self.name).map_or(0, |f| {
            (if f.up { UP } else { 0 }) | (if f.running { RUNNING } else { 0 })
        });
        if let Ok(mtu) = control.mtu(&self.name) {
            self.mtu.store(mtu, Relaxed);
        }
        self.flags.store(flags, Relaxed);
        self.ifindex.store(ifindex, Relaxed);
    }
}

/// A port socket passed between the main thread and one worker.
#[derive(Debug)]
pub struct Handoff<T> {
    /// Opened by the main thread, for the worker to take.
    fresh: Mutex<Option<T>>,
    /// Given up by the worker, for the main thread to close.
    retired: Mutex<Option<T>>,
    /// The worker has no usable socket and wants one.
    wanted: AtomicBool,
}

impl<T> Default for Handoff<T> {
    fn default() -> Self {
        Handoff {
            fresh: Mutex::new(None),
            retired: Mutex::new(None),
            wanted: AtomicBool::new(false),
        }
    }
}

impl<T> Handoff<T> {
    /// Worker: a socket the main thread opened, if one is ready (never
    /// waits).
    pub fn take_fresh(&self) -> Option<T> {
        let taken = self.fresh.try_lock().ok()?.take();
        if taken.is_some() {
            self.wanted.store(false, Relaxed);
        }
        taken
    }

    /// Worker: give `port` up for closing and ask for a new one. Returns
    /// the port when the main thread holds the lock right now (try again
    /// next tick).
    pub fn retire(&self, port: T) -> Result<(), T> {
        self.wanted.store(true, Relaxed);
        match self.retired.try_lock() {
            Ok(mut slot) if slot.is_none() => {
                *slot = Some(port);
                Ok(())
            }
            _ => Err(port),
        }
    }

    /// Worker: ask for a socket (the port was missing).
    pub fn want(&self) {
        self.wanted.store(true, Relaxed);
    }

    /// Main thread: close what the worker retired.
    pub fn close_retired(&self) {
        let retired = self.retired.lock().map(|mut s| s.take());
        drop(retired);
    }

    /// Main thread: whether the worker is waiting for a socket that has
    /// not been opened yet.
    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Relaxed) && self.fresh.lock().map(|s| s.is_none()).unwrap_or(false)
    }

    /// Main thread: hand `port` to the worker.
    pub fn offer(&self, port: T) {
        if let Ok(mut slot) = self.fresh.lock() {
            *slot = Some(port);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_handoff_round_trip() {
        let h: Handoff<u32> = Handoff::default();
        assert!(!h.is_wanted());
        assert_eq!(h.take_fresh(), None);
        h.retire(7).unwrap();
        assert!(h.is_wanted());
        // Only one socket waits for closing at a time.
        assert_eq!(h.retire(8), Err(8));
        h.close_retired();
        h.offer(9);
        assert!(!h.is_wanted(), "a socket is on its way");
        assert_eq!(h.take_fresh(), Some(9));
        assert!(!h.is_wanted());
        h.want();
        assert!(h.is_wanted());
    }

    #[test]
    fn test_port_state_needs_up_and_running() {
        let p = PortState::new("x", 3, 1500);
        assert!(p.carries());
        assert_eq!(p.ifindex(), Some(3));
        p.flags.store(UP, Relaxed);
        assert!(!p.carries(), "no carrier");
        p.ifindex.store(0, Relaxed);
        assert_eq!(p.ifindex(), None);
    }
}
