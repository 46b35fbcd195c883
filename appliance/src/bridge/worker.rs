//! One forwarding thread: an RX ring on the ingress port, a TX ring on the
//! egress port (and one on the mirror port), one copy per frame.
//!
//! After start-up nothing here allocates and nothing waits on anything but
//! the rings: the rings are mapped, the counters are atomics set up before
//! the thread starts, and whatever takes milliseconds (interface queries,
//! opening and closing sockets) is the main thread's work ([`super::watch`]).
//!
//! The kernel takes TX frames in ring order and stops at the first it
//! cannot send. After every `send` the worker reaps the frames it took
//! (`SENDING` or `AVAILABLE` again) and counts them as forwarded; a frame
//! it refused (`WRONG_FORMAT`) is dropped at once and counted
//! `tx_refused`; a frame the device or its queueing discipline dropped
//! (`ENOBUFS`, left `SEND_REQUEST` at the kernel's head) is tried again on
//! later sends, and counted `egress_dropped` and removed once it has been
//! refused for [`RETAIN_LIMIT`], so one frame the egress never takes (too
//! long for the peer's MTU, say) cannot stop the direction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringtap_core::bpf::{self, Ancillary, Instruction};
use ringtap_core::checksum;
use ringtap_core::geometry::RingRequest;
use ringtap_core::status::RxStatus;
use ringtap_core::vlan::{self, Tag, TAG_LEN};
use ringtap_linux::netdev::Control;
use ringtap_linux::{FrameInfo, TxError};
use rustix::event::PollFlags;
use rustix::io::Errno;

use super::counters::{add, Counters, DropReason};
use super::watch::{Handoff, PortState};
use crate::ports::{RxPort, TxPort};

/// How long a full TX ring may hold up forwarding before frames are counted
/// as `tx_ring_full`.
const TX_WAIT_MS: u32 = 20;
/// How long, and how many `send`s, a frame the egress keeps dropping stays
/// at the head of its TX ring before it is counted `egress_dropped`.
pub const RETAIN_LIMIT: Duration = Duration::from_millis(20);
const RETAIN_TRIES: u32 = 3;
/// How often the kernel's counters are read and the main thread's news
/// (port states, re-opened sockets) picked up.
const TICK: Duration = Duration::from_millis(100);
/// While frames wait in a TX ring for the egress, the worker wakes at least
/// this often to try them again.
const RETRY_POLL_MS: u32 = 1;
/// V3 blocks per pump; V2 frames per pump.
const BLOCKS_PER_PUMP: usize = 4;
const FRAMES_PER_PUMP: usize = 256;

/// What a worker does when its RX ring is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// Keep checking the ring for `spin` after the last frame, then sleep in
    /// `poll(2)` until the kernel signals a frame (or a block, for V3).
    Sleep {
        /// Busy-wait this long after the last frame before sleeping.
        spin: Duration,
    },
    /// Never sleep: check the ring continuously (the lowest delay; takes a
    /// whole CPU).
    Spin,
}

/// A frame retained at the head of a TX ring: the egress dropped it.
#[derive(Debug, Clone, Copy)]
struct Retained {
    index: u32,
    since: Instant,
    tries: u32,
}

/// An egress (or mirror) port as the worker sees it.
#[derive(Debug)]
pub struct Egress {
    state: &'static PortState,
    handoff: &'static Handoff<TxPort>,
    port: Option<TxPort>,
    retained: Option<Retained>,
    /// For the one question the worker asks itself, when a `send` fails:
    /// has the link just gone down? (The main thread's view is up to a
    /// tick old.)
    control: Control,
    /// A failed `send` found the link down: hold the queued frames until a
    /// tick sees it up again.
    down: bool,
    /// A wait for room timed out in this pump: do not wait again.
    congested: bool,
    mirror: bool,
}

impl Egress {
    /// An egress port opened at start-up.
    pub fn new(
        state: &'static PortState,
        handoff: &'static Handoff<TxPort>,
        port: TxPort,
        mirror: bool,
        control: Control,
    ) -> Egress {
        Egress {
            state,
            handoff,
            port: Some(port),
            retained: None,
            control,
            down: false,
            congested: false,
            mirror,
        }
    }

    /// Up with a carrier, as far as the worker knows.
    fn carries(&self) -> bool {
        self.state.carries() && !self.down
    }

    /// Ask the kernel now whether the link can carry frames.
    fn link_is_up(&self) -> bool {
        self.control
            .link_flags(self.state.name())
            .is_ok_and(|f| f.up && f.running)
    }

    fn count_drop(&self, c: &Counters, why: DropReason, n: u64) {
        if self.mirror {
            c.mirror_drop(why, n);
        } else {
            c.drop(why, n);
        }
    }

    fn count_sent(&self, c: &Counters, frames: u64, bytes: u64) {
        if self.mirror {
            add(&c.mirror_tx_packets, frames);
        } else {
            add(&c.tx_packets, frames);
            add(&c.tx_bytes, bytes);
        }
    }

    /// Frames queued and not yet taken by the kernel.
    fn queued(&mut self) -> u32 {
        self.port
            .as_mut()
            .and_then(|p| p.ring.tx())
            .map_or(0, |r| r.queued())
    }

    /// `send(MSG_DONTWAIT)` for what is queued, then account for what the
    /// kernel took and for the frame it stopped at.
    pub fn kick(&mut self, c: &Counters) {
        if !self.carries() {
            // Queued frames wait for the link; nothing can leave now.
            return;
        }
        let Some(port) = self.port.as_mut() else {
            return;
        };
        let Some(ring) = port.ring.tx() else {
            return;
        };
        if ring.queued() == 0 {
            return;
        }
        let errno = port.sock.kick().err().map(|e| e.errno());
        let reaped = ring.reap();
        self.count_sent(c, u64::from(reaped.frames), reaped.bytes);
        let Some(head) = reaped.head else {
            self.retained = None;
            return;
        };
        let dropped = if head.refused {
            // EMSGSIZE or EINVAL: this frame can never be sent.
            self.retained = None;
            self.drop_head().then_some(DropReason::TxRefused)
        } else {
            match errno {
                Some(Errno::NOBUFS | Errno::NETDOWN | Errno::NXIO | Errno::NODEV)
                    if !self.link_is_up() =>
                {
                    // The link went down since the main thread last looked:
                    // the frames wait for it; new ones count as link_down.
                    self.down = true;
                    self.retained = None;
                    None
                }
                Some(Errno::NOBUFS) => self.retain(head.index),
                // EAGAIN (send buffer full) or a partial send: the frames
                // stay queued and are tried again.
                _ => None,
            }
        };
        if let Some(why) = dropped {
            self.count_drop(c, why, 1);
        }
    }

    /// The egress dropped the frame at the kernel's head again: give up on
    /// it once it has been refused for [`RETAIN_LIMIT`].
    fn retain(&mut self, index: u32) -> Option<DropReason> {
        let now = Instant::now();
        let r = match self.retained {
            Some(r) if r.index == index => Retained {
                tries: r.tries + 1,
                ..r
            },
            _ => Retained {
                index,
                since: now,
                tries: 1,
            },
        };
        if r.tries >= RETAIN_TRIES && now.duration_since(r.since) >= RETAIN_LIMIT {
            self.retained = None;
            self.drop_head().then_some(DropReason::EgressDropped)
        } else {
            self.retained = Some(r);
            None
        }
    }

    /// Remove the frame at the kernel's head of the TX ring.
    fn drop_head(&mut self) -> bool {
        self.port
            .as_mut()
            .and_then(|p| p.ring.tx())
            .and_then(|r| r.drop_head())
            .is_some()
    }

    /// Queue one frame: `data` as the ring holds it, with `tag` put back
    /// and the checksum completed when `csum` says it is partial. The
    /// mirror gets a copy of exactly what is queued.
    fn send(
        &mut self,
        data: &[u8],
        tag: Option<Tag>,
        csum: bool,
        mirror: Option<&mut Egress>,
        c: &Counters,
    ) -> Result<(), DropReason> {
        if !self.carries() {
            return Err(DropReason::LinkDown);
        }
        let mtu = self.state.mtu();
        let mut waited = false;
        loop {
            let Some(ring) = self.port.as_mut().and_then(|p| p.ring.tx()) else {
                return Err(DropReason::LinkDown);
            };
            match ring.slot() {
                Ok(mut slot) => {
                    let buf = slot.buf();
                    let n = vlan::copy_restoring(data, tag, buf).map_err(|e| match e {
                        vlan::VlanError::DestinationTooSmall { .. } => DropReason::Oversize,
                        _ => DropReason::Malformed,
                    })?;
                    let frame = &mut buf[..n];
                    if n > vlan::max_tx_len(mtu, frame) {
                        return Err(DropReason::Oversize);
                    }
                    if csum {
                        if checksum::complete(frame).is_err() {
                            return Err(DropReason::Checksum);
                        }
                        add(&c.checksums_completed, 1);
                    }
                    if let Some(m) = mirror {
                        if let Err(why) = m.copy(frame, c) {
                            m.count_drop(c, why, 1);
                        }
                    }
                    return slot.commit(n).map(drop).map_err(|_| DropReason::Oversize);
                }
                Err(TxError::Full | TxError::Refused { .. }) if !waited && !self.congested => {
                    waited = true;
                    self.kick(c);
                    let has_room = self
                        .port
                        .as_mut()
                        .and_then(|p| p.ring.tx())
                        .is_some_and(|r| r.has_room());
                    if !has_room {
                        let ready = self.port.as_ref().is_some_and(|p| {
                            p.sock
                                .poll(false, true, TX_WAIT_MS)
                                .is_ok_and(|ev| ev.contains(PollFlags::OUT))
                        });
                        self.kick(c);
                        if !ready {
                            self.congested = true;
                        }
                    }
                }
                Err(TxError::Full | TxError::Refused { .. }) => return Err(DropReason::TxRingFull),
                Err(TxError::TooLong { .. }) => return Err(DropReason::Oversize),
                Err(_) => return Err(DropReason::TxRefused),
            }
        }
    }

    /// A mirror copy: never waits (a slow TAP must not slow the bridge).
    fn copy(&mut self, frame: &[u8], c: &Counters) -> Result<(), DropReason> {
        if !self.carries() {
            return Err(DropReason::LinkDown);
        }
        if frame.len() > vlan::max_tx_len(self.state.mtu(), frame) {
            return Err(DropReason::Oversize);
        }
        for attempt in 0..2 {
            let Some(ring) = self.port.as_mut().and_then(|p| p.ring.tx()) else {
                return Err(DropReason::LinkDown);
            };
            match ring.slot() {
                Ok(mut slot) => {
                    let n = frame.len();
                    let Some(dst) = slot.buf().get_mut(..n) else {
                        return Err(DropReason::Oversize);
                    };
                    dst.copy_from_slice(frame);
                    return slot.commit(n).map(drop).map_err(|_| DropReason::Oversize);
                }
                Err(TxError::Full | TxError::Refused { .. }) if attempt == 0 => self.kick(c),
                Err(TxError::Full | TxError::Refused { .. }) => return Err(DropReason::TxRingFull),
                Err(TxError::TooLong { .. }) => return Err(DropReason::Oversize),
                Err(_) => return Err(DropReason::TxRefused),
            }
        }
        Err(DropReason::TxRingFull)
    }

    /// Give the port's socket up (its interface is gone or was replaced):
    /// what the kernel had not taken is lost with the ring.
    fn close(&mut self, c: &Counters) {
        if let Some(mut port) = self.port.take() {
            if let Some(ring) = port.ring.tx() {
                let reaped = ring.reap();
                self.count_sent(c, u64::from(reaped.frames), reaped.bytes);
                let lost = u64::from(ring.queued());
                self.count_drop(c, DropReason::LinkDown, lost);
            }
            self.retained = None;
            if let Err(port) = self.handoff.retire(port) {
                // The main thread is busy with the slot: keep the socket
                // (and its ring) until the next tick.
                self.port = Some(port);
                return;
            }
        }
        self.handoff.want();
    }

    /// Follow the interface: a socket bound to a deleted or replaced
    /// interface goes; a re-opened one comes from the main thread.
    fn check(&mut self, c: &Counters) {
        let now = self.state.ifindex();
        if self.port.as_ref().is_some_and(|p| Some(p.ifindex) != now) {
            if now.is_none() {
                crate::log::warn(format_args!(
                    "{} disappeared; counting link_down",
                    self.state.name()
                ));
            }
            self.close(c);
        }
        if self.port.is_none() {
            match self.handoff.take_fresh() {
                Some(p) if Some(p.ifindex) == now => {
                    crate::log::info(format_args!(
                        "{} is back (ifindex {}): TX ring re-opened",
                        self.state.name(),
                        p.ifindex
                    ));
                    add(&c.reopened, 1);
                    self.port = Some(p);
                }
                Some(stale) => {
                    let _ = self.handoff.retire(stale);
                }
                None => self.handoff.want(),
            }
        }
        if self.down && self.link_is_up() {
            self.down = false;
        }
        // Frames queued while the link was down leave now.
        self.kick(c);
    }

    /// Wait (bounded) until the kernel has taken every queued frame.
    fn flush(&mut self, c: &Counters, within: Duration) {
        let deadline = Instant::now() + within;
        self.kick(c);
        while self.queued() > 0 && Instant::now() < deadline {
            if let Some(p) = self.port.as_ref() {
                let _ = p.sock.poll(false, true, 10);
            }
            self.kick(c);
        }
    }
}

/// What a worker needs to know about its ingress port.
#[derive(Debug)]
pub struct Ingress {
    /// The main thread's view of the interface.
    pub state: &'static PortState,
    /// Where re-opened sockets arrive.
    pub handoff: &'static Handoff<RxPort>,
    /// RX ring request (for the V3 block timeout when draining).
    pub req: RingRequest,
    /// The socket, while the interface exists.
    pub port: Option<RxPort>,
}

/// One forwarding thread's state.
#[derive(Debug)]
pub struct Worker {
    /// The ingress port.
    pub input: Ingress,
    /// The egress port.
    pub output: Egress,
    /// The mirror port.
    pub mirror: Option<Egress>,
    /// This worker's counters.
    pub counters: &'static Counters,
    /// The `--filter` program.
    pub filter: Option<&'static [Instruction]>,
    /// What to do when the RX ring is empty.
    pub idle: Idle,
    /// Set by the main thread to stop.
    pub stop: &'static AtomicBool,
    /// Ticks of this worker's loop, for the main thread to see it is alive.
    pub heartbeat: &'static AtomicU64,
    /// Test hook (`RINGTAP_TEST_STALL_WORKER=SECS`): after this long the
    /// worker stops working and beating, as a wedged one would.
    pub stall_after: Option<Duration>,
}

/// Forward one received frame, or count why not.
fn forward(
    info: &FrameInfo,
    data: &[u8],
    out: &mut Egress,
    mirror: Option<&mut Egress>,
    filter: Option<&[Instruction]>,
    c: &Counters,
) {
    let tag = Tag::from_ring(info.vlan_tci, info.vlan_tpid);
    let wire = data.len() + if tag.is_some() { TAG_LEN } else { 0 };
    add(&c.rx_packets, 1);
    add(&c.rx_bytes, wire as u64);
    // A frame the ring truncated must not leave shortened.
    if info.snaplen < info.len || info.status.contains(RxStatus::COPY) {
        c.drop(DropReason::Oversize, 1);
        return;
    }
    if let Some(program) = filter {
        let anc = Ancillary {
            protocol: info.addr.protocol,
            pkttype: info.addr.pkttype,
            ifindex: info.addr.ifindex as u32,
            vlan_tci: info.vlan_tci,
            vlan_tpid: tag.map_or(0, |t| t.tpid),
            len: info.len,
            hatype: info.addr.hatype,
        };
        if bpf::run(program, data, &anc) == 0 {
            add(&c.filtered, 1);
            return;
        }
    }
    let csum = info.status.contains(RxStatus::CSUMNOTREADY);
    if let Err(why) = out.send(data, tag, csum, mirror, c) {
        c.drop(why, 1);
    }
}

impl Worker {
    /// Forward what the RX ring holds (a bounded amount), then kick the TX
    /// rings once. Returns the frames or blocks taken.
    fn pump(&mut self) -> usize {
        let Worker {
            input,
            output,
            mirror,
            counters: c,
            filter,
            ..
        } = self;
        let c: &Counters = c;
        output.congested = false;
        if let Some(m) = mirror.as_mut() {
            m.congested = false;
        }
        let mut slots = 0;
        if let Some(rx) = input.port.as_mut() {
            let budget = if rx.ring.rx_blocks().is_some() {
                BLOCKS_PER_PUMP
            } else {
                FRAMES_PER_PUMP
            };
            let walk = rx.ring.for_each_received(budget, |info, data| {
                forward(info, data, output, mirror.as_mut(), *filter, c);
                Ok::<(), core::convert::Infallible>(())
            });
            let Ok(walk) = walk;
            if walk.malformed > 0 {
                // A header promised more than the bounds checks let through:
                // count those frames, never read them.
                add(&c.rx_packets, walk.malformed as u64);
                c.drop(DropReason::Malformed, walk.malformed as u64);
            }
            slots = walk.slots;
        }
        output.kick(c);
        if let Some(m) = mirror.as_mut() {
            m.kick(c);
        }
        slots
    }

    /// Whether the RX ring has something to take now (no ownership taken).
    fn rx_ready(&mut self) -> bool {
        let Some(rx) = self.input.port.as_mut() else {
            return false;
        };
        if let Some(frames) = rx.ring.rx_frames() {
            return frames.is_ready();
        }
        rx.ring.rx_blocks().is_some_and(|b| b.is_ready())
    }

    /// Add the kernel's counters since the last read (the read resets them).
    fn read_kernel_counters(&mut self) {
        if let Some(rx) = self.input.port.as_ref() {
            if let Ok(s) = rx.sock.statistics() {
                add(&self.counters.kernel_packets, u64::from(s.packets));
                add(&self.counters.kernel_drops, u64::from(s.drops));
            }
        }
    }

    /// Take everything the ring still holds, waiting for a V3 block the
    /// kernel is still filling to be retired by its timer.
    fn drain(&mut self) {
        let tov = Duration::from_millis(u64::from(self.input.req.retire_blk_tov.max(1)));
        let quiet_for = tov * 3 + Duration::from_millis(20);
        let deadline = Instant::now() + Duration::from_millis(400);
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline {
            if self.pump() > 0 {
                quiet_since = Instant::now();
                continue;
            }
            if quiet_since.elapsed() >= quiet_for {
                break;
            }
            match self.input.port.as_ref() {
                Some(rx) => {
                    let _ = rx.sock.poll(true, false, 5);
                }
                None => break,
            }
        }
    }

    /// The ingress interface was deleted (or replaced): finish the old ring
    /// and take the new one when the main thread has opened it.
    fn check_input(&mut self) {
        let now = self.input.state.ifindex();
        let current = self.input.port.as_ref().map(|p| p.ifindex);
        if current.is_some() && current != now {
            self.drain();
            self.read_kernel_counters();
            if let Some(port) = self.input.port.take() {
                if let Err(port) = self.input.handoff.retire(port) {
                    self.input.port = Some(port);
                    return;
                }
            }
            crate::log::warn(format_args!(
                "{} disappeared; waiting for it to come back",
                self.input.state.name()
            ));
        }
        if self.input.port.is_none() {
            match self.input.handoff.take_fresh() {
                Some(p) if Some(p.ifindex) == now => {
                    crate::log::info(format_args!(
                        "{} is back (ifindex {}): RX ring re-opened",
                        self.input.state.name(),
                        p.ifindex
                    ));
                    add(&self.counters.reopened, 1);
                    self.input.port = Some(p);
                }
                Some(stale) => {
                    let _ = self.input.handoff.retire(stale);
                }
                None => self.input.handoff.want(),
            }
        }
    }

    fn tick(&mut self) {
        self.read_kernel_counters();
        self.check_input();
        self.output.check(self.counters);
        if let Some(m) = self.mirror.as_mut() {
            m.check(self.counters);
        }
    }

    /// Nothing was received: wait as `self.idle` says, at most until
    /// `until`, and sooner while TX frames wait to be tried again.
    fn wait(&mut self, last_frame: Instant, until: Instant) {
        let spin = match self.idle {
            Idle::Spin => return std::hint::spin_loop(),
            Idle::Sleep { spin } => spin,
        };
        let now = Instant::now();
        if now.duration_since(last_frame) < spin {
            return std::hint::spin_loop();
        }
        let retry =
            self.output.queued() > 0 || self.mirror.as_mut().is_some_and(|m| m.queued() > 0);
        let mut timeout = until.saturating_duration_since(now).as_millis() as u32;
        if retry {
            timeout = timeout.min(RETRY_POLL_MS);
        }
        if self.rx_ready() {
            return;
        }
        match self.input.port.as_ref() {
            Some(rx) => {
                let ev = rx
                    .sock
                    .poll(true, false, timeout.max(1))
                    .unwrap_or(PollFlags::ERR);
                if ev.contains(PollFlags::ERR) {
                    // ENETDOWN when the link went down; the kernel hooks the
                    // socket in again when it comes up.
                    let _ = rx.sock.take_error();
                    if !ev.contains(PollFlags::IN) {
                        std::thread::sleep(Duration::from_millis(u64::from(timeout.min(20))));
                    }
                }
            }
            None => std::thread::sleep(Duration::from_millis(u64::from(timeout.max(1)))),
        }
    }

    /// Forward until told to stop, then drain and give the final counts.
    pub fn run(mut self) {
        crate::alloc_count::set_data_path(true);
        let mut next_tick = Instant::now() + TICK;
        let mut last_frame = Instant::now();
        let started = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if self
                .stall_after
                .is_some_and(|after| started.elapsed() >= after)
            {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let taken = self.pump();
            let now = Instant::now();
            if taken > 0 {
                last_frame = now;
            }
            if now >= next_tick {
                self.tick();
                self.heartbeat.fetch_add(1, Ordering::Relaxed);
                next_tick = now + TICK;
            }
            if taken == 0 {
                self.wait(last_frame, next_tick);
            }
        }
        self.shutdown();
        crate::alloc_count::set_data_path(false);
    }

    fn shutdown(&mut self) {
        // A filter that accepts nothing stops new frames without leaving
        // the fanout group; the kernel counts none of them, so the ring's
        // contents and the kernel's counters stay in step.
        if let Some(rx) = self.input.port.as_ref() {
            let reject_all = [Instruction::stmt(bpf::BPF_RET | bpf::BPF_K, 0)];
            let _ = rx.sock.attach_filter(&reject_all);
        }
        self.drain();
        let c = self.counters;
        self.output.flush(c, Duration::from_millis(200));
        if let Some(m) = self.mirror.as_mut() {
            m.flush(c, Duration::from_millis(200));
        }
        // Frames the kernel never took are lost with the ring: the link
        // was down, or the egress kept dropping them.
        for egress in std::iter::once(&mut self.output).chain(self.mirror.as_mut()) {
            let why = if egress.carries() {
                DropReason::EgressDropped
            } else {
                DropReason::LinkDown
            };
            if let Some(mut port) = egress.port.take() {
                if let Some(ring) = port.ring.tx() {
                    let reaped = ring.reap();
                    egress.count_sent(c, u64::from(reaped.frames), reaped.bytes);
                    egress.count_drop(c, why, u64::from(ring.queued()));
                }
            }
        }
        self.read_kernel_counters();
    }
}
