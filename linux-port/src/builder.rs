//! [`RingSocketBuilder`]: a packet socket with its rings, opened in the
//! order the kernel needs, mapped exactly as the validated layouts say.
//!
//! The order: `socket` with protocol 0 (so nothing arrives before the
//! bind), `PACKET_VERSION`, the options that must come before a ring
//! (`PACKET_RESERVE`, `PACKET_LOSS`, `PACKET_VNET_HDR`, `PACKET_TX_HAS_OFF`
//! are refused or ignored once one exists), `PACKET_RX_RING` /
//! `PACKET_TX_RING`, one `mmap` of both, membership, filter, `bind` (the
//! first packet may arrive now), and `PACKET_FANOUT` (which needs a bound
//! socket).
//!
//! The rings come from [`Layout`]s that `ringtap_core` validated, so the
//! request the kernel gets and the mapping the rings are read through are
//! the same numbers; the socket's version and reserve are taken from them.

use rustix::io::Errno;

use ringtap_core::bpf::Instruction;
use ringtap_core::fanout::FanoutArg;
use ringtap_core::geometry::{Layout, RingKind, TpacketVersion};

use crate::error::{Error, Result};
use crate::ring::MappedRing;
use crate::socket::{Membership, PacketSocket, SocketType};
use crate::system::v1_word;

/// The socket buffers of a ring socket: a TX ring needs a send buffer that
/// holds what is in flight, or `send` fails with `EAGAIN` after a few
/// hundred frames (the kernel charges each frame to the socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffers {
    /// `SO_SNDBUFFORCE` and `SO_RCVBUFFORCE`: beyond the sysctl limits
    /// (needs CAP_NET_ADMIN).
    Forced(usize),
    /// As [`Buffers::Forced`] where allowed; without CAP_NET_ADMIN
    /// (`EPERM`), `SO_SNDBUF`, within `net.core.wmem_max`.
    ForcedOrLimited(usize),
}

/// How to open a ring socket: its rings, its options, what it joins.
#[derive(Debug, Clone, Copy)]
#[must_use = "nothing is opened until `open`"]
pub struct RingSocketBuilder<'a> {
    ty: SocketType,
    rx: Option<Layout>,
    tx: Option<Layout>,
    buffers: Option<Buffers>,
    ignore_outgoing: bool,
    loss: bool,
    tx_has_off: bool,
    vnet_hdr: bool,
    qdisc_bypass: bool,
    timestamp: Option<u32>,
    copy_thresh: Option<u32>,
    membership: Option<Membership>,
    filter: Option<&'a [Instruction]>,
    fanout: Option<FanoutArg>,
}

impl<'a> RingSocketBuilder<'a> {
    fn with(rx: Option<Layout>, tx: Option<Layout>) -> Self {
        RingSocketBuilder {
            ty: SocketType::Raw,
            rx,
            tx,
            buffers: None,
            ignore_outgoing: false,
            loss: false,
            tx_has_off: false,
            vnet_hdr: false,
            qdisc_bypass: false,
            timestamp: None,
            copy_thresh: None,
            membership: None,
            filter: None,
            fanout: None,
        }
    }

    /// A `SOCK_RAW` socket with this RX ring.
    pub fn rx(layout: Layout) -> Self {
        Self::with(Some(layout), None)
    }

    /// A `SOCK_RAW` socket with this TX ring.
    pub fn tx(layout: Layout) -> Self {
        Self::with(None, Some(layout))
    }

    /// Also a TX ring, mapped right after the RX ring.
    pub fn with_tx(self, layout: Layout) -> Self {
        RingSocketBuilder {
            tx: Some(layout),
            ..self
        }
    }

    /// `SOCK_RAW` (the default) or `SOCK_DGRAM`.
    pub fn socket_type(self, ty: SocketType) -> Self {
        RingSocketBuilder { ty, ..self }
    }

    /// The socket buffers (see [`Buffers`]).
    pub fn buffers(self, buffers: Buffers) -> Self {
        RingSocketBuilder {
            buffers: Some(buffers),
            ..self
        }
    }

    /// `PACKET_IGNORE_OUTGOING`: do not see frames this host transmits.
    #[doc(alias = "PACKET_IGNORE_OUTGOING")]
    pub fn ignore_outgoing(self, on: bool) -> Self {
        RingSocketBuilder {
            ignore_outgoing: on,
            ..self
        }
    }

    /// `PACKET_LOSS`: skip TX frames the kernel refuses.
    #[doc(alias = "PACKET_LOSS")]
    pub fn loss(self, on: bool) -> Self {
        RingSocketBuilder { loss: on, ..self }
    }

    /// `PACKET_TX_HAS_OFF`: TX frames carry their data offset.
    #[doc(alias = "PACKET_TX_HAS_OFF")]
    pub fn tx_has_off(self, on: bool) -> Self {
        RingSocketBuilder {
            tx_has_off: on,
            ..self
        }
    }

    /// `PACKET_VNET_HDR`: a `virtio_net_hdr` before every frame sent (the
    /// TX ring writes it; see [`crate::TxSlot::commit`]).
    #[doc(alias = "PACKET_VNET_HDR")]
    pub fn vnet_hdr(self, on: bool) -> Self {
        RingSocketBuilder {
            vnet_hdr: on,
            ..self
        }
    }

    /// `PACKET_QDISC_BYPASS`: transmit straight to the driver queue.
    #[doc(alias = "PACKET_QDISC_BYPASS")]
    pub fn qdisc_bypass(self, on: bool) -> Self {
        RingSocketBuilder {
            qdisc_bypass: on,
            ..self
        }
    }

    /// `PACKET_TIMESTAMP`: the `SOF_TIMESTAMPING_*` source of ring frames.
    #[doc(alias = "PACKET_TIMESTAMP")]
    pub fn timestamp(self, sof_flags: u32) -> Self {
        RingSocketBuilder {
            timestamp: Some(sof_flags),
            ..self
        }
    }

    /// `PACKET_COPY_THRESH`: also queue a packet too long for its V1/V2
    /// RX frame for `recvfrom`.
    #[doc(alias = "PACKET_COPY_THRESH")]
    pub fn copy_thresh(self, bytes: u32) -> Self {
        RingSocketBuilder {
            copy_thresh: Some(bytes),
            ..self
        }
    }

    /// `PACKET_ADD_MEMBERSHIP` on the interface the socket is bound to.
    #[doc(alias = "PACKET_ADD_MEMBERSHIP")]
    pub fn membership(self, m: Membership) -> Self {
        RingSocketBuilder {
            membership: Some(m),
            ..self
        }
    }

    /// `SO_ATTACH_FILTER`: a classic BPF program the kernel runs on every
    /// packet before the ring.
    #[doc(alias = "SO_ATTACH_FILTER")]
    pub fn filter(self, program: &'a [Instruction]) -> Self {
        RingSocketBuilder {
            filter: Some(program),
            ..self
        }
    }

    /// `PACKET_FANOUT`: join this group once bound.
    #[doc(alias = "PACKET_FANOUT")]
    pub fn fanout(self, arg: FanoutArg) -> Self {
        RingSocketBuilder {
            fanout: Some(arg),
            ..self
        }
    }

    /// The version and reserve the layouts share; an RX layout that is a
    /// TX ring (or the reverse) or two layouts that disagree cannot make
    /// one socket.
    fn socket_settings(&self) -> Result<(TpacketVersion, u32)> {
        let mismatch = |option| Error::new("setsockopt", Some(option), Errno::INVAL);
        if self.rx.is_some_and(|l| l.request().kind != RingKind::Rx) {
            return Err(mismatch("PACKET_RX_RING"));
        }
        if self.tx.is_some_and(|l| l.request().kind != RingKind::Tx) {
            return Err(mismatch("PACKET_TX_RING"));
        }
        let (first, other) = match (self.rx, self.tx) {
            (Some(rx), tx) => (rx, tx),
            (None, Some(tx)) => (tx, None),
            (None, None) => return Err(Error::new("mmap", Some("PACKET_MMAP"), Errno::INVAL)),
        };
        let (version, reserve) = (first.request().version, first.request().reserve);
        if let Some(other) = other {
            if other.request().version != version {
                return Err(mismatch("PACKET_VERSION"));
            }
            if other.request().reserve != reserve {
                return Err(mismatch("PACKET_RESERVE"));
            }
        }
        Ok((version, reserve))
    }

    /// Open the socket, set it up in the kernel's order, map its rings and
    /// bind it to `ifindex` for `protocol` (an EtherType; 0 receives
    /// nothing, for a TX-only socket).
    pub fn open(self, ifindex: u32, protocol: u16) -> Result<(PacketSocket, MappedRing)> {
        let (version, reserve) = self.socket_settings()?;
        let mut sock = PacketSocket::open(self.ty, None)?;
        sock.set_version(version)?;
        if version == TpacketVersion::V1 {
            // Only V1 headers depend on the kernel's word size: a layout
            // judged for another one would be read at the wrong offsets.
            let word = v1_word(&sock)?;
            if self.rx.into_iter().chain(self.tx).any(|l| l.word() != word) {
                return Err(Error::new(
                    "getsockopt",
                    Some("PACKET_HDRLEN"),
                    Errno::INVAL,
                ));
            }
        }
        match self.buffers {
            None => {}
            Some(Buffers::Forced(bytes)) => sock.force_buffers(bytes)?,
            Some(Buffers::ForcedOrLimited(bytes)) => match sock.force_buffers(bytes) {
                Err(e) if e.errno() == Errno::PERM => sock.set_send_buffer(bytes)?,
                other => other?,
            },
        }
        if reserve != 0 {
            sock.set_reserve(reserve)?;
        }
        if self.ignore_outgoing {
            sock.set_ignore_outgoing(true)?;
        }
        if self.loss {
            sock.set_loss(true)?;
        }
        if self.tx_has_off {
            sock.set_tx_has_off(true)?;
        }
        if self.vnet_hdr {
            sock.set_vnet_hdr(true)?;
        }
        if self.qdisc_bypass {
            sock.set_qdisc_bypass(true)?;
        }
        if let Some(flags) = self.timestamp {
            sock.set_timestamp(flags)?;
        }
        if let Some(bytes) = self.copy_thresh {
            sock.set_copy_thresh(bytes)?;
        }
        if let Some(rx) = &self.rx {
            sock.set_rx_ring(rx.request())?;
        }
        if let Some(tx) = &self.tx {
            sock.set_tx_ring(tx.request())?;
        }
        let ring = sock.map(self.rx, self.tx)?;
        if let Some(m) = self.membership {
            sock.add_membership(ifindex, m)?;
        }
        if let Some(program) = self.filter {
            sock.attach_filter(program)?;
        }
        sock.bind(ifindex, protocol)?;
        if let Some(arg) = self.fanout {
            sock.set_fanout(arg)?;
        }
        Ok((sock, ring))
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use ringtap_core::frame::KernelWord;
    use ringtap_core::geometry::{PageSize, RingRequest};

    fn layout(version: TpacketVersion, kind: RingKind, reserve: u32) -> Layout {
        let mut r = RingRequest::tiled(version, kind, 4096, 1, 2048);
        r.reserve = reserve;
        r.validate(PageSize::DEFAULT, KernelWord::Bits64).unwrap()
    }

    #[test]
    fn layouts_that_cannot_share_a_socket_are_refused_before_any_call() {
        use RingKind::{Rx, Tx};
        use TpacketVersion::{V2, V3};
        let option = |b: RingSocketBuilder<'_>| {
            let e = b.socket_settings().unwrap_err();
            assert_eq!(e.errno(), Errno::INVAL);
            e.option().unwrap()
        };
        assert_eq!(
            option(RingSocketBuilder::rx(layout(V2, Tx, 0))),
            "PACKET_RX_RING"
        );
        assert_eq!(
            option(RingSocketBuilder::tx(layout(V2, Rx, 0))),
            "PACKET_TX_RING"
        );
        let rx = RingSocketBuilder::rx(layout(V3, Rx, 0));
        assert_eq!(option(rx.with_tx(layout(V2, Tx, 0))), "PACKET_VERSION");
        assert_eq!(option(rx.with_tx(layout(V3, Tx, 16))), "PACKET_RESERVE");
        let both = RingSocketBuilder::rx(layout(V2, Rx, 16)).with_tx(layout(V2, Tx, 16));
        assert_eq!(both.socket_settings(), Ok((V2, 16)));
    }
}
