//! Where packets were lost: the kernel's drop counters turned into
//! per-packet drop counts (`epb_dropcount`) and final totals (the
//! interface statistics block).
//!
//! `getsockopt(PACKET_STATISTICS)` returns `tp_packets` and `tp_drops` since
//! the previous call and zeroes them (`packet_getsockopt` in
//! `net/packet/af_packet.c`); `tp_packets` already includes the drops
//! (`tp_packets += tp_drops`). The kernel also marks the first frame (V1,
//! V2) or block (V3) it fills after dropping with `TP_STATUS_LOSING`, which
//! is the moment to read the counters: the drops they report happened
//! before that frame. [`LossLedger`] keeps the running totals and hands the
//! drops not yet attributed to the next packet written:
//!
//! ```text
//! sum of dropped_before over the packets + ledger.unattributed() == ledger.dropped()
//! ledger.dropped()  -> isb_ifdrop  (the kernel's total tp_drops)
//! ledger.received() -> isb_ifrecv  (the kernel's total tp_packets, drops included)
//! ```
//!
//! `unattributed` is what was lost after the last packet that took a count
//! (for instance while the capture was stopping): it appears only in the
//! final statistics block.

/// Running totals of the kernel's packet-socket counters, and the drops not
/// yet attributed to a packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LossLedger {
    received: u64,
    dropped: u64,
    attributed: u64,
}

impl LossLedger {
    /// Nothing received or lost yet.
    pub const fn new() -> Self {
        LossLedger {
            received: 0,
            dropped: 0,
            attributed: 0,
        }
    }

    /// Adds one `PACKET_STATISTICS` reading: `packets` (`tp_packets`, drops
    /// included) and `drops` (`tp_drops`), both counted since the previous
    /// reading, as the kernel reports them. Totals saturate rather than wrap.
    pub fn add_kernel_statistics(&mut self, packets: u32, drops: u32) {
        self.received = self.received.saturating_add(u64::from(packets));
        self.dropped = self.dropped.saturating_add(u64::from(drops));
    }

    /// The drops not yet attributed, for the packet about to be written
    /// (its `dropped_before`), now counted as attributed; `None` when there
    /// are none, so packets without loss carry no option.
    pub fn take_dropped_before(&mut self) -> Option<u64> {
        let n = self.unattributed();
        self.attributed = self.dropped;
        (n != 0).then_some(n)
    }

    /// Packets the kernel saw since the start, drops included (`isb_ifrecv`).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets the kernel dropped since the start (`isb_ifdrop`).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Drops already handed to packets.
    pub fn attributed(&self) -> u64 {
        self.attributed
    }

    /// Drops not handed to any packet yet.
    pub fn unattributed(&self) -> u64 {
        self.dropped - self.attributed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_go_to_the_next_packet_once() {
        let mut l = LossLedger::new();
        assert_eq!(l.take_dropped_before(), None);
        // A reading of 10 packets, 3 of them dropped.
        l.add_kernel_statistics(10, 3);
        assert_eq!((l.received(), l.dropped(), l.unattributed()), (10, 3, 3));
        assert_eq!(l.take_dropped_before(), Some(3));
        assert_eq!(l.take_dropped_before(), None);
        l.add_kernel_statistics(5, 0);
        assert_eq!(l.take_dropped_before(), None);
        l.add_kernel_statistics(7, 2);
        l.add_kernel_statistics(1, 1);
        assert_eq!(l.take_dropped_before(), Some(3));
        // Lost after the last packet: only in the totals.
        l.add_kernel_statistics(4, 4);
        assert_eq!(
            (l.received(), l.dropped(), l.attributed(), l.unattributed()),
            (27, 10, 6, 4)
        );
    }

    #[test]
    fn totals_saturate() {
        let mut l = LossLedger::new();
        for _ in 0..3 {
            l.received = u64::MAX - 1;
            l.add_kernel_statistics(u32::MAX, 0);
        }
        assert_eq!(l.received(), u64::MAX);
    }
}
