//! Per-worker counters: written by one forwarding thread with relaxed
//! atomic adds, read by the main thread for the stats file.
//!
//! Every frame a worker takes from its RX ring ends in exactly one of
//! `tx_packets`, `filtered` or one [`DropReason`], so per direction
//! `kernel_packets = tx_packets + filtered + dropped + kernel_drops` once
//! the rings are drained.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a received frame was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Truncated by the RX ring (larger than a frame or block holds), or
    /// longer than the egress MTU allows.
    Oversize,
    /// The egress TX ring stayed full for the whole wait.
    TxRingFull,
    /// The egress interface was down or missing.
    LinkDown,
    /// The ring header or block descriptor failed a bounds check.
    Malformed,
    /// The frame needed its checksum completed and it could not be parsed.
    Checksum,
    /// The kernel refused the TX frame (`TP_STATUS_WRONG_FORMAT`).
    TxRefused,
    /// The egress device or its queueing discipline dropped the frame
    /// (`NET_XMIT_DROP`, seen as `ENOBUFS`) on every try for 20 ms: e.g.
    /// longer than a veth peer's MTU, or a full qdisc.
    EgressDropped,
}

impl DropReason {
    /// Every reason, in the order of the counters.
    pub const ALL: [DropReason; 7] = [
        DropReason::Oversize,
        DropReason::TxRingFull,
        DropReason::LinkDown,
        DropReason::Malformed,
        DropReason::Checksum,
        DropReason::TxRefused,
        DropReason::EgressDropped,
    ];

    /// The name in the stats file.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Oversize => "oversize",
            DropReason::TxRingFull => "tx_ring_full",
            DropReason::LinkDown => "link_down",
            DropReason::Malformed => "malformed",
            DropReason::Checksum => "checksum",
            DropReason::TxRefused => "tx_refused",
            DropReason::EgressDropped => "egress_dropped",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Why a mirror copy was not sent: too long for the mirror's MTU, or
/// what stops any egress.
pub const MIRROR_DROPS: [DropReason; 5] = [
    DropReason::Oversize,
    DropReason::TxRingFull,
    DropReason::LinkDown,
    DropReason::TxRefused,
    DropReason::EgressDropped,
];

/// One worker's counters.
#[derive(Debug)]
pub struct Counters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub kernel_packets: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub filtered: AtomicU64,
    pub checksums_completed: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    pub mirror_tx_packets: AtomicU64,
    mirror_dropped: [AtomicU64; DropReason::ALL.len()],
    pub reopened: AtomicU64,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Counters {
        Counters {
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            kernel_packets: AtomicU64::new(0),
            kernel_drops: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            checksums_completed: AtomicU64::new(0),
            dropped: [const { AtomicU64::new(0) }; DropReason::ALL.len()],
            mirror_tx_packets: AtomicU64::new(0),
            mirror_dropped: [const { AtomicU64::new(0) }; DropReason::ALL.len()],
            reopened: AtomicU64::new(0),
        }
    }

    /// Count `n` frames dropped for `why`.
    pub fn drop(&self, why: DropReason, n: u64) {
        add(&self.dropped[why.index()], n);
    }

    /// Count `n` mirror copies not sent for `why`.
    pub fn mirror_drop(&self, why: DropReason, n: u64) {
        add(&self.mirror_dropped[why.index()], n);
    }

    /// The drop counters by name.
    pub fn dropped(&self) -> BTreeMap<String, u64> {
        DropReason::ALL
            .iter()
            .map(|d| (d.name().to_owned(), self.dropped[d.index()].load(Relaxed)))
            .collect()
    }

    /// The mirror's drop counters by name.
    pub fn mirror_dropped(&self) -> BTreeMap<String, u64> {
        MIRROR_DROPS
            .iter()
            .map(|d| {
                (
                    d.name().to_owned(),
                    self.mirror_dropped[d.index()].load(Relaxed),
                )
            })
            .collect()
    }
}

/// Add with one writer: a relaxed load and store is enough (each counter has
/// a single writing thread) and cheaper than a locked read-modify-write.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_names_are_unique_and_complete() {
        let c = Counters::new();
        for (i, d) in DropReason::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
            c.drop(*d, i as u64 + 1);
        }
        let m = c.dropped();
        assert_eq!(m.len(), DropReason::ALL.len());
        assert_eq!(m["oversize"], 1);
        assert_eq!(m["tx_refused"], 6);
        assert_eq!(m["egress_dropped"], 7);
        c.mirror_drop(DropReason::TxRingFull, 4);
        assert_eq!(c.mirror_dropped()["tx_ring_full"], 4);
        assert_eq!(c.mirror_dropped().len(), MIRROR_DROPS.len());
    }
}
