//! The interfaces a mode works on, and their ring sockets: an RX ring socket
//! on an ingress (or captured) port, a TX ring socket on an egress (or
//! mirror, or replay) port. What each socket asks of the kernel is decided
//! here; `ringtap_linux::RingSocketBuilder` opens it in the kernel's order.

use ringtap_core::bpf::Instruction;
use ringtap_core::fanout::FanoutArg;
use ringtap_core::geometry::Layout;
use ringtap_linux::{
    netdev, Buffers, Error, MappedRing, Membership, PacketSocket, RingSocketBuilder, ETH_P_ALL,
};

use crate::Failure;

/// An interface as found at start-up.
#[derive(Debug, Clone)]
pub struct Port {
    /// Its name (how it is found again after it is re-created).
    pub name: String,
    /// Its interface index at start-up.
    pub ifindex: u32,
    /// Its MTU.
    pub mtu: u32,
}

/// Find the interface `name` given as `option` and check it can carry
/// traffic now.
pub fn port(option: &str, name: &str) -> Result<Port, Failure> {
    let missing = |e: Error| {
        Failure::Usage(format!(
            "{option} {name}: no such interface ({e}); `ip link` lists them"
        ))
    };
    let ifindex = netdev::ifindex(name).map_err(missing)?;
    let flags = netdev::link_flags(name).map_err(missing)?;
    if !flags.up {
        return Err(Failure::Usage(format!(
            "{option} {name}: the interface is down; bring it up first (`ip link set {name} up`)"
        )));
    }
    let mtu = netdev::mtu(name).map_err(missing)?;
    Ok(Port {
        name: name.to_owned(),
        ifindex,
        mtu,
    })
}

/// Why a receive batch above 1 (`net.core.gro_normal_batch`) matters to a
/// bridge or a capture.
pub fn reorder_warning(batch: u32) -> String {
    format!(
        "net.core.gro_normal_batch is {batch}: a NIC driver that receives in batches hands \
         VLAN-tagged frames to packet sockets ahead of untagged frames received before them in \
         the same batch (net/core/dev.c), so ringtap would see them reordered; \
         `sysctl -w net.core.gro_normal_batch=1` (or `ringtap bridge --fix-offloads`) keeps the \
         wire order"
    )
}

/// An ingress or captured port: a socket with an RX ring.
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

/// A bridge's ingress port: every frame arriving on the interface,
/// promiscuously, but none the host sends out of it
/// (`PACKET_IGNORE_OUTGOING`), so the bridge never sees its own
/// transmissions from the other direction; a fanout group member when
/// there are several workers.
pub fn open_rx(name: &str, layout: Layout, fanout: Option<FanoutArg>) -> Result<RxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    let mut builder = RingSocketBuilder::rx(layout)
        .ignore_outgoing(true)
        .membership(Membership::Promisc);
    if let Some(arg) = fanout {
        builder = builder.fanout(arg);
    }
    let (sock, ring) = builder.open(ifindex, ETH_P_ALL)?;
    Ok(RxPort {
        sock,
        ring,
        ifindex,
    })
}

/// A captured port: every frame in both directions, promiscuously, through
/// `filter` (run by the kernel) if given.
pub fn open_capture(
    name: &str,
    layout: Layout,
    filter: Option<&[Instruction]>,
) -> Result<RxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    let mut builder = RingSocketBuilder::rx(layout).membership(Membership::Promisc);
    if let Some(program) = filter {
        builder = builder.filter(program);
    }
    let (sock, ring) = builder.open(ifindex, ETH_P_ALL)?;
    Ok(RxPort {
        sock,
        ring,
        ifindex,
    })
}

/// An egress port. Its send buffer is the ring's size twice over, forced
/// past `net.core.wmem_max` while CAP_NET_ADMIN allows (dropped after
/// start-up, or never given: then as much as the limit allows, and a full
/// buffer makes `send` return EAGAIN with the frames waiting in the ring).
/// Frames carry a `virtio_net_hdr` (`PACKET_VNET_HDR`) so that the kernel
/// copies each into its socket buffer rather than attaching ring pages,
/// which a veth crossing network namespaces would copy again (see
/// docs/design-notes.md); with `qdisc_bypass` they skip the egress
/// queueing discipline (`PACKET_QDISC_BYPASS`).
pub fn open_tx(name: &str, layout: Layout, qdisc_bypass: bool) -> Result<TxPort, Error> {
    let ifindex = netdev::ifindex(name)?;
    let buffer = (layout.mmap_len() as usize).saturating_mul(2);
    let (sock, ring) = RingSocketBuilder::tx(layout)
        .buffers(Buffers::ForcedOrLimited(buffer))
        .vnet_hdr(true)
        .qdisc_bypass(qdisc_bypass)
        .open(ifindex, 0)?;
    Ok(TxPort {
        sock,
        ring,
        ifindex,
    })
}
