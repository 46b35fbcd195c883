//! Opening a bridge port's sockets: an RX ring socket on an ingress port, a
//! TX ring socket on an egress (or mirror) port. The order follows the
//! kernel: version and options, ring, mapping, membership, bind last (so
//! nothing arrives before the ring is ready), fanout after bind.

use ringtap_core::bpf::Instruction;
use ringtap_core::fanout::FanoutArg;
use ringtap_core::geometry::{Layout, RingRequest};
use ringtap_linux::{netdev, Error, MappedRing, Membership, PacketSocket, SocketType, ETH_P_ALL};

/// An ingress port: every frame arriving on the interface, promiscuously,
/// but none the host sends out of it (`PACKET_IGNORE_OUTGOING`), so the
/// bridge never sees its own transmissions from the other direction.
#[derive(Debug)]
pub struct RxPort {
    /// The socket.
    pub sock: PacketSocket,
    /// Its RX ring.
    pub ring: MappedRing,
    /// The interface index it is bound to.
    pub ifindex: u32,
}

/// An egress port: a socket bound with protocol 0, so it receives nothing,
/// with a TX ring.
#[derive(Debug)]
pub struct TxPort {
    /// The socket.
    pub sock: PacketSocket,
    /// Its TX ring.
    pub ring: MappedRing,
    /// The interface index it is bound to.
    pub ifindex: u32,
}

/// Open an RX ring socket on `name`.
pub fn open_rx(
    name: &str,
    req: &RingRequest,
    layout: Layout,
    fanout: Option<FanoutArg>,
) -> Result<RxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    // Protocol 0 at first: with ETH_P_ALL the socket would receive from
    // every interface until bind.
    let mut sock = PacketSocket::open(SocketType::Raw, None)?;
    sock.set_version(req.version)?;
    sock.set_ignore_outgoing(true)?;
    sock.set_rx_ring(req)?;
    let ring = sock.map(Some(layout), None)?;
    sock.add_membership(ifindex, Membership::Promisc)?;
    sock.bind(ifindex, ETH_P_ALL)?;
    if let Some(arg) = fanout {
        sock.set_fanout(arg)?;
    }
    Ok(RxPort {
        sock,
        ring,
        ifindex,
    })
}

/// Open a capture socket on `name`: every frame in both directions,
/// promiscuously, through `filter` (run by the kernel) if given.
pub fn open_capture(
    name: &str,
    req: &RingRequest,
    layout: Layout,
    filter: Option<&[Instruction]>,
) -> Result<RxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    let mut sock = PacketSocket::open(SocketType::Raw, None)?;
    sock.set_version(req.version)?;
    sock.set_rx_ring(req)?;
    let ring = sock.map(Some(layout), None)?;
    sock.add_membership(ifindex, Membership::Promisc)?;
    if let Some(program) = filter {
        sock.attach_filter(program)?;
    }
    sock.bind(ifindex, ETH_P_ALL)?;
    Ok(RxPort {
        sock,
        ring,
        ifindex,
    })
}

/// Open a TX ring socket on `name`. Its send buffer is forced to the ring's
/// size: with the default buffer, `send` fails with EAGAIN once a few
/// hundred frames are in flight (the kernel charges each to the socket).
/// Frames carry a `virtio_net_hdr` (`PACKET_VNET_HDR`) so that the kernel
/// copies each into its socket buffer rather than attaching ring pages,
/// which a veth crossing network namespaces would copy again (see
/// docs/design-notes.md); with `qdisc_bypass` they skip the egress
/// queueing discipline (`PACKET_QDISC_BYPASS`).
pub fn open_tx(
    name: &str,
    req: &RingRequest,
    layout: Layout,
    qdisc_bypass: bool,
) -> Result<TxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    let mut sock = PacketSocket::open(SocketType::Raw, None)?;
    sock.set_version(req.version)?;
    let buffer = (layout.mmap_len() as usize).saturating_mul(2);
    match sock.force_buffers(buffer) {
        Ok(()) => {}
        // Without CAP_NET_ADMIN (dropped after start-up, or never given):
        // as much as net.core.wmem_max allows; a full buffer makes `send`
        // return EAGAIN, and the frames wait in the ring for the next one.
        Err(e) if e.errno() == rustix::io::Errno::PERM => sock.set_send_buffer(buffer)?,
        Err(e) => return Err(e),
    }
    sock.set_vnet_hdr(true)?;
    if qdisc_bypass {
        sock.set_qdisc_bypass(true)?;
    }
    sock.set_tx_ring(req)?;
    let ring = sock.map(None, Some(layout))?;
    sock.bind(ifindex, 0)?;
    Ok(TxPort {
        sock,
        ring,
        ifindex,
    })
}
