//! One forwarding thread: an RX ring on the ingress port, a TX ring on the
//! egress port (and one on the mirror port), one copy per frame.
//!
//! After start-up nothing here allocates: the rings are mapped, the queue of
//! in-flight frame lengths is a fixed `heapless::Deque`, the counters are
//! atomics set up before the thread starts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use heapless::Deque;
use ringtap_core::bpf::{self, Ancillary, Instruction};
use ringtap_core::checksum;
use ringtap_core::fanout::FanoutArg;
use ringtap_core::geometry::{Layout, RingRequest};
use ringtap_core::status::RxStatus;
use ringtap_core::vlan::{self, Tag, TAG_LEN};
use ringtap_linux::{netdev, FrameInfo, TxError};
use rustix::event::PollFlags;
use rustix::io::Errno;

use super::counters::{add, Counters, DropReason};
use super::port::{self, RxPort, TxPort};
use crate::log;

/// TX frames in flight per egress ring, at most (`config::tx_request`
/// never asks for more).
pub const MAX_TX_FRAMES: usize = 1024;
/// How long a full TX ring may hold up forwarding before frames are counted
/// as `tx_ring_full`.
const TX_WAIT_MS: u32 = 20;
/// How often the kernel's counters and the ports' state are read.
const TICK: Duration = Duration::from_millis(100);
/// V3 blocks per pump; V2 frames per pump.
const BLOCKS_PER_PUMP: usize = 4;
const FRAMES_PER_PUMP: usize = 512;

/// An egress (or mirror) port as the worker sees it.
#[derive(Debug)]
pub struct Egress {
    name: &'static str,
    req: RingRequest,
    layout: Layout,
    mtu: u32,
    port: Option<TxPort>,
    /// Link up and carrier present, as last seen.
    up: bool,
    /// Lengths of the frames handed to the kernel and not yet taken by a
    /// `send`, oldest first (the kernel takes them in ring order).
    queued: Deque<u16, MAX_TX_FRAMES>,
    /// A wait for room timed out in this pump: do not wait again.
    congested: bool,
    mirror: bool,
}

impl Egress {
    /// An egress port opened at start-up.
    pub fn new(
        name: &'static str,
        req: RingRequest,
        layout: Layout,
        mtu: u32,
        port: TxPort,
        mirror: bool,
    ) -> Egress {
        Egress {
            name,
            req,
            layout,
            mtu,
            port: Some(port),
            up: true,
            queued: Deque::new(),
            congested: false,
            mirror,
        }
    }

    fn count_drop(&self, c: &Counters, why: DropReason, n: u64) {
        if self.mirror {
            c.mirror_drop(why, n);
        } else {
            c.drop(why, n);
        }
    }

    /// Move the `n` oldest queued frames to the sent counters.
    fn taken(&mut self, n: usize, c: &Counters) {
        let mut bytes = 0u64;
        let mut frames = 0u64;
        for _ in 0..n {
            if let Some(len) = self.queued.pop_front() {
                bytes += u64::from(len);
                frames += 1;
            }
        }
        if self.mirror {
            add(&c.mirror_tx_packets, frames);
        } else {
            add(&c.tx_packets, frames);
            add(&c.tx_bytes, bytes);
        }
    }

    /// After a failed `send`: the frames the kernel took are sent; a frame
    /// it refused (`WRONG_FORMAT`) is dropped so the ring moves on.
    fn reconcile(&mut self, c: &Counters) {
        let Some(ring) = self.port.as_mut().and_then(|p| p.ring.tx()) else {
            return;
        };
        let pending = ring.pending() as usize;
        let refused = ring.refused().is_some() && ring.drop_refused().is_some();
        let taken = self.queued.len().saturating_sub(pending);
        self.taken(taken, c);
        if refused && self.queued.pop_front().is_some() {
            self.count_drop(c, DropReason::TxRefused, 1);
        }
    }

    /// `send(MSG_DONTWAIT)` for everything queued.
    pub fn kick(&mut self, c: &Counters) {
        if self.queued.is_empty() {
            return;
        }
        let Some(port) = self.port.as_ref() else {
            return;
        };
        match port.sock.kick() {
            // Without errors the kernel walks every SEND_REQUEST frame.
            Ok(_) => self.taken(self.queued.len(), c),
            Err(e) => {
                let errno = e.errno();
                self.reconcile(c);
                if errno == Errno::NETDOWN || errno == Errno::NXIO || errno == Errno::NODEV {
                    self.up = false;
                }
            }
        }
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
        if !self.up || self.port.is_none() {
            return Err(DropReason::LinkDown);
        }
        let mut waited = false;
        loop {
            let Some(port) = self.port.as_mut() else {
                return Err(DropReason::LinkDown);
            };
            let Some(ring) = port.ring.tx() else {
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
                    if n > vlan::max_tx_len(self.mtu, frame) {
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
                    return match slot.commit(n) {
                        Ok(_) => {
                            // The deque holds as many entries as the ring
                            // has frames, and only queued frames are in it.
                            let _ = self.queued.push_back(n as u16);
                            Ok(())
                        }
                        Err(_) => Err(DropReason::Oversize),
                    };
                }
                Err(TxError::Full) if !waited && !self.congested => {
                    waited = true;
                    self.kick(c);
                    let ready = match self.port.as_ref() {
                        Some(p) => p
                            .sock
                            .poll(false, true, TX_WAIT_MS)
                            .is_ok_and(|ev| ev.contains(PollFlags::OUT)),
                        None => false,
                    };
                    if !ready {
                        self.congested = true;
                    }
                }
                Err(TxError::Full) => return Err(DropReason::TxRingFull),
                Err(TxError::Refused { .. }) if !waited => {
                    waited = true;
                    self.reconcile(c);
                }
                Err(TxError::TooLong { .. }) => return Err(DropReason::Oversize),
                Err(_) => return Err(DropReason::TxRefused),
            }
        }
    }

    /// A mirror copy: never waits (a slow TAP must not slow the bridge).
    fn copy(&mut self, frame: &[u8], c: &Counters) -> Result<(), DropReason> {
        if !self.up || self.port.is_none() {
            return Err(DropReason::LinkDown);
        }
        if frame.len() > vlan::max_tx_len(self.mtu, frame) {
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
                    slot.commit(n).map_err(|_| DropReason::Oversize)?;
                    let _ = self.queued.push_back(n as u16);
                    return Ok(());
                }
                Err(TxError::Full) | Err(TxError::Refused { .. }) if attempt == 0 => {
                    self.kick(c);
                    self.reconcile(c);
                }
                Err(TxError::Full) => return Err(DropReason::TxRingFull),
                Err(_) => return Err(DropReason::TxRefused),
            }
        }
        Err(DropReason::TxRingFull)
    }

    /// Give up the port (its interface is gone): what the kernel had not
    /// taken is lost with the ring.
    fn close(&mut self, c: &Counters) {
        if self.port.is_some() {
            self.reconcile(c);
            let lost = self.queued.len() as u64;
            self.queued.clear();
            self.count_drop(c, DropReason::LinkDown, lost);
            self.port = None;
        }
        self.up = false;
    }

    /// Look at the interface again: follow it when it was deleted and
    /// created again (new ifindex), note whether it can carry frames.
    fn check(&mut self, c: &Counters) {
        let ifindex = match netdev::ifindex(self.name) {
            Ok(i) => i,
            Err(_) => {
                if self.port.is_some() {
                    log::warn(format_args!(
                        "{} disappeared; counting link_down",
                        self.name
                    ));
                }
                self.close(c);
                return;
            }
        };
        if self.port.as_ref().is_some_and(|p| p.ifindex != ifindex) {
            self.close(c);
        }
        if self.port.is_none() {
            match port::open_tx(self.name, &self.req, self.layout) {
                Ok(p) => {
                    log::info(format_args!(
                        "{} is back (ifindex {ifindex}): TX ring re-opened",
                        self.name
                    ));
                    add(&c.reopened, 1);
                    self.port = Some(p);
                }
                Err(_) => return,
            }
        }
        self.up = netdev::link_flags(self.name).is_ok_and(|f| f.up && f.running);
        if self.up {
            // Frames queued while the link was down leave now.
            self.kick(c);
        }
    }

    /// Wait (bounded) until the kernel has taken every queued frame.
    fn flush(&mut self, c: &Counters, within: Duration) {
        let deadline = Instant::now() + within;
        self.kick(c);
        while !self.queued.is_empty() && Instant::now() < deadline {
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
    /// Interface name.
    pub name: &'static str,
    /// RX ring request and layout.
    pub req: RingRequest,
    /// Its layout.
    pub layout: Layout,
    /// Fanout group to (re-)join.
    pub fanout: Option<FanoutArg>,
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
    /// Set by the main thread to stop.
    pub stop: &'static AtomicBool,
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
    /// rings once. Returns the frames taken.
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
        let Some(rx) = input.port.as_mut() else {
            return 0;
        };
        output.congested = false;
        if let Some(m) = mirror.as_mut() {
            m.congested = false;
        }
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
        output.kick(c);
        if let Some(m) = mirror.as_mut() {
            m.kick(c);
        }
        walk.slots
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
    /// and open the new one when it exists.
    fn check_input(&mut self) {
        let now = netdev::ifindex(self.input.name).ok();
        let current = self.input.port.as_ref().map(|p| p.ifindex);
        if now == current {
            return;
        }
        if current.is_some() {
            self.drain();
            self.read_kernel_counters();
            self.input.port = None;
            log::warn(format_args!(
                "{} disappeared; waiting for it to come back",
                self.input.name
            ));
        }
        if now.is_some() {
            let i = &self.input;
            if let Ok(p) = port::open_rx(i.name, &i.req, i.layout, i.fanout) {
                log::info(format_args!(
                    "{} is back (ifindex {}): RX ring re-opened",
                    i.name, p.ifindex
                ));
                add(&self.counters.reopened, 1);
                self.input.port = Some(p);
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

    /// Forward until told to stop, then drain and give the final counts.
    pub fn run(mut self) {
        crate::alloc_count::set_data_path(true);
        let mut next_tick = Instant::now() + TICK;
        while !self.stop.load(Ordering::Relaxed) {
            let frames = self.pump();
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + TICK;
            }
            if frames > 0 {
                continue;
            }
            match self.input.port.as_ref() {
                Some(rx) => {
                    let ev = rx.sock.poll(true, false, 50).unwrap_or(PollFlags::ERR);
                    if ev.contains(PollFlags::ERR) {
                        // ENETDOWN when the link went down; the kernel
                        // hooks the socket in again when it comes up.
                        let _ = rx.sock.take_error();
                        if !ev.contains(PollFlags::IN) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                None => std::thread::sleep(Duration::from_millis(50)),
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
        // Frames the kernel never took (link down) are lost with the ring.
        self.output.close(c);
        if let Some(m) = self.mirror.as_mut() {
            m.close(c);
        }
        self.read_kernel_counters();
    }
}
