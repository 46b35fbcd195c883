//! `PacketSocket`: an `AF_PACKET` socket with one method per option.
//!
//! Order matters to the kernel: set the version, reserve, loss and similar
//! options, then the rings (`PACKET_RX_RING` / `PACKET_TX_RING`), then map
//! them, attach a filter, and bind last, so no packet arrives before the
//! socket is ready for it. [`crate::RingSocketBuilder`] is the one place
//! that does it, and the only way to map a ring.

use core::mem::size_of;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};
use rustix::net::{AddressFamily, RecvFlags, SendFlags};

use linux_raw_sys::if_packet as k;
use ringtap_core::bpf::Instruction;
use ringtap_core::fanout::FanoutArg;
use ringtap_core::frame::ll;
use ringtap_core::geometry::{Layout, Mapping, RingKind, RingRequest, TpacketVersion};

use crate::error::{Error, Result};
use crate::ring::MappedRing;
use crate::sys;

const SOL_PACKET: u32 = linux_raw_sys::net::SOL_PACKET;
const SOL_SOCKET: u32 = linux_raw_sys::net::SOL_SOCKET;

/// `ETH_P_ALL`: every protocol.
pub const ETH_P_ALL: u16 = 0x0003;

/// `SOCK_RAW` (frames with their link-layer header) or `SOCK_DGRAM`
/// (the kernel adds and removes the link-layer header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketType {
    /// `SOCK_RAW`.
    Raw,
    /// `SOCK_DGRAM`.
    Dgram,
}

/// `PACKET_ADD_MEMBERSHIP` kinds (`struct packet_mreq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// `PACKET_MR_PROMISC`: receive every frame on the link.
    Promisc,
    /// `PACKET_MR_ALLMULTI`: receive every multicast frame.
    AllMulti,
    /// `PACKET_MR_MULTICAST`: receive one multicast address.
    Multicast([u8; 6]),
}

/// `PACKET_STATISTICS`: counters since the last read (reading resets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// `tp_packets`: packets the socket saw, drops included.
    pub packets: u32,
    /// `tp_drops`: packets dropped because the ring or queue was full.
    pub drops: u32,
    /// `tp_freeze_q_cnt` (V3 only): times the queue froze on a full ring.
    pub freeze_q_cnt: Option<u32>,
}

/// A `sockaddr_ll` to bind to.
struct LinkAddr([u8; ll::LEN]);

// SAFETY: `with_sockaddr` passes a pointer to a complete, initialized
// `sockaddr_ll` (family AF_PACKET) and its exact length, valid for the call.
#[allow(unsafe_code)]
unsafe impl SocketAddrArg for LinkAddr {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R,
    ) -> R {
        f(self.0.as_ptr().cast(), ll::LEN as SocketAddrLen)
    }
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const Instruction,
}

/// An `AF_PACKET` socket. Closing it (drop) releases its rings, its
/// memberships and its fanout group.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    version: TpacketVersion,
    ty: SocketType,
    vnet_hdr: bool,
}

impl PacketSocket {
    /// `socket(AF_PACKET, SOCK_RAW|SOCK_DGRAM, htons(protocol))`. Pass
    /// `None` for a TX-only socket (protocol 0: it receives nothing).
    pub fn open(ty: SocketType, protocol: Option<u16>) -> Result<PacketSocket> {
        let st = match ty {
            SocketType::Raw => rustix::net::SocketType::RAW,
            SocketType::Dgram => rustix::net::SocketType::DGRAM,
        };
        // The kernel takes the EtherType in network order; 0 means no RX.
        let proto = match protocol {
            None | Some(0) => None,
            Some(p) => core::num::NonZeroU32::new(u32::from(p.to_be()))
                .map(rustix::net::Protocol::from_raw),
        };
        let fd = rustix::net::socket_with(
            AddressFamily::PACKET,
            st,
            rustix::net::SocketFlags::CLOEXEC,
            proto,
        )
        .map_err(|e| Error::new("socket", Some("AF_PACKET"), e))?;
        Ok(PacketSocket {
            fd,
            version: TpacketVersion::V1,
            ty,
            vnet_hdr: false,
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.ty
    }

    /// The `PACKET_VERSION` last set (V1 until then, as in the kernel).
    pub fn version(&self) -> TpacketVersion {
        self.version
    }

    fn set_int(&self, name: u32, option: &'static str, value: u32) -> Result<()> {
        sys::set(self.fd.as_fd(), SOL_PACKET, name, &value)
            .map_err(|e| Error::new("setsockopt", Some(option), e))
    }

    /// `PACKET_VERSION`: the frame header format of the rings.
    #[doc(alias = "PACKET_VERSION")]
    pub fn set_version(&mut self, version: TpacketVersion) -> Result<()> {
        self.set_int(k::PACKET_VERSION, "PACKET_VERSION", version.to_raw())?;
        self.version = version;
        Ok(())
    }

    /// `PACKET_RESERVE`: headroom before each received packet (e.g. room to
    /// put a VLAN tag back).
    #[doc(alias = "PACKET_RESERVE")]
    pub fn set_reserve(&self, bytes: u32) -> Result<()> {
        self.set_int(k::PACKET_RESERVE, "PACKET_RESERVE", bytes)
    }

    /// `PACKET_LOSS`: skip TX frames the kernel refuses instead of stopping
    /// the ring at them.
    #[doc(alias = "PACKET_LOSS")]
    pub fn set_loss(&self, on: bool) -> Result<()> {
        self.set_int(k::PACKET_LOSS, "PACKET_LOSS", u32::from(on))
    }

    /// `PACKET_TX_HAS_OFF`: TX frames give their data offset in `tp_mac`
    /// (SOCK_RAW) or `tp_net` (SOCK_DGRAM).
    #[doc(alias = "PACKET_TX_HAS_OFF")]
    pub fn set_tx_has_off(&self, on: bool) -> Result<()> {
        self.set_int(k::PACKET_TX_HAS_OFF, "PACKET_TX_HAS_OFF", u32::from(on))
    }

    /// `PACKET_VNET_HDR`: every frame sent starts with a `struct
    /// virtio_net_hdr` (set before the ring; `SOCK_RAW` only). A TX ring
    /// mapped afterwards writes that header itself (see [`TxSlot::commit`]):
    /// its `hdr_len` makes the kernel copy the frame into the socket
    /// buffer's linear area instead of attaching the ring's pages.
    ///
    /// [`TxSlot::commit`]: crate::TxSlot::commit
    #[doc(alias = "PACKET_VNET_HDR")]
    pub fn set_vnet_hdr(&mut self, on: bool) -> Result<()> {
        self.set_int(k::PACKET_VNET_HDR, "PACKET_VNET_HDR", u32::from(on))?;
        self.vnet_hdr = on;
        Ok(())
    }

    /// `PACKET_QDISC_BYPASS`: transmit straight to the driver queue.
    #[doc(alias = "PACKET_QDISC_BYPASS")]
    pub fn set_qdisc_bypass(&self, on: bool) -> Result<()> {
        self.set_int(k::PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS", u32::from(on))
    }

    /// `PACKET_TIMESTAMP`: which `SOF_TIMESTAMPING_*` source stamps ring
    /// frames (0: software).
    #[doc(alias = "PACKET_TIMESTAMP")]
    pub fn set_timestamp(&self, sof_flags: u32) -> Result<()> {
        self.set_int(k::PACKET_TIMESTAMP, "PACKET_TIMESTAMP", sof_flags)
    }

    /// `PACKET_COPY_THRESH`: when non-zero, a packet larger than an RX frame
    /// is also queued whole for `recvfrom` (while the receive buffer has
    /// room) and its truncated frame is marked `TP_STATUS_COPY`.
    #[doc(alias = "PACKET_COPY_THRESH")]
    pub fn set_copy_thresh(&self, bytes: u32) -> Result<()> {
        self.set_int(k::PACKET_COPY_THRESH, "PACKET_COPY_THRESH", bytes)
    }

    /// `PACKET_AUXDATA`: `recvmsg` returns a `tpacket_auxdata` control message.
    #[doc(alias = "PACKET_AUXDATA")]
    pub fn set_auxdata(&self, on: bool) -> Result<()> {
        self.set_int(k::PACKET_AUXDATA, "PACKET_AUXDATA", u32::from(on))
    }

    /// `PACKET_IGNORE_OUTGOING`: do not see frames this host transmits.
    #[doc(alias = "PACKET_IGNORE_OUTGOING")]
    pub fn set_ignore_outgoing(&self, on: bool) -> Result<()> {
        self.set_int(
            k::PACKET_IGNORE_OUTGOING,
            "PACKET_IGNORE_OUTGOING",
            u32::from(on),
        )
    }

    fn membership(
        &self,
        name: u32,
        option: &'static str,
        ifindex: u32,
        m: Membership,
    ) -> Result<()> {
        let (kind, alen, addr) = match m {
            Membership::Promisc => (k::PACKET_MR_PROMISC, 0, [0u8; 8]),
            Membership::AllMulti => (k::PACKET_MR_ALLMULTI, 0, [0u8; 8]),
            Membership::Multicast(a) => {
                let mut addr = [0u8; 8];
                addr[..6].copy_from_slice(&a);
                (k::PACKET_MR_MULTICAST, 6, addr)
            }
        };
        let mreq = k::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: kind as u16,
            mr_alen: alen,
            mr_address: addr,
        };
        sys::set(self.fd.as_fd(), SOL_PACKET, name, &mreq)
            .map_err(|e| Error::new("setsockopt", Some(option), e))
    }

    /// `PACKET_ADD_MEMBERSHIP`: promiscuous, all-multicast or one multicast
    /// address on `ifindex`; released when the socket closes.
    #[doc(alias = "PACKET_ADD_MEMBERSHIP")]
    pub fn add_membership(&self, ifindex: u32, m: Membership) -> Result<()> {
        self.membership(
            k::PACKET_ADD_MEMBERSHIP,
            "PACKET_ADD_MEMBERSHIP",
            ifindex,
            m,
        )
    }

    /// `PACKET_DROP_MEMBERSHIP`.
    #[doc(alias = "PACKET_DROP_MEMBERSHIP")]
    pub fn drop_membership(&self, ifindex: u32, m: Membership) -> Result<()> {
        self.membership(
            k::PACKET_DROP_MEMBERSHIP,
            "PACKET_DROP_MEMBERSHIP",
            ifindex,
            m,
        )
    }

    /// `PACKET_FANOUT`: join (or create) a fanout group. The socket must be
    /// bound first.
    #[doc(alias = "PACKET_FANOUT")]
    pub fn set_fanout(&self, arg: FanoutArg) -> Result<()> {
        self.set_int(k::PACKET_FANOUT, "PACKET_FANOUT", arg.encode())
    }

    /// `getsockopt(PACKET_FANOUT)`: the group this socket is in (0: none).
    pub fn fanout(&self) -> Result<u32> {
        sys::get::<u32>(self.fd.as_fd(), SOL_PACKET, k::PACKET_FANOUT)
            .map(|(v, _)| v)
            .map_err(|e| Error::new("getsockopt", Some("PACKET_FANOUT"), e))
    }

    /// `PACKET_STATISTICS`: counters since the last call (the read resets
    /// them). V3 sockets also report `tp_freeze_q_cnt`.
    #[doc(alias = "PACKET_STATISTICS")]
    pub fn statistics(&self) -> Result<Stats> {
        let err = |e| Error::new("getsockopt", Some("PACKET_STATISTICS"), e);
        if self.version == TpacketVersion::V3 {
            let (s, _) = sys::get::<StatsV3>(self.fd.as_fd(), SOL_PACKET, k::PACKET_STATISTICS)
                .map_err(err)?;
            Ok(Stats {
                packets: s.packets,
                drops: s.drops,
                freeze_q_cnt: Some(s.freeze_q_cnt),
            })
        } else {
            let (s, _) = sys::get::<StatsV1>(self.fd.as_fd(), SOL_PACKET, k::PACKET_STATISTICS)
                .map_err(err)?;
            Ok(Stats {
                packets: s.packets,
                drops: s.drops,
                freeze_q_cnt: None,
            })
        }
    }

    fn set_ring(&self, req: &RingRequest) -> Result<()> {
        let (name, option) = match req.kind {
            RingKind::Rx => (k::PACKET_RX_RING, "PACKET_RX_RING"),
            RingKind::Tx => (k::PACKET_TX_RING, "PACKET_TX_RING"),
        };
        let err = |e| Error::new("setsockopt", Some(option), e);
        if req.version != self.version {
            // The kernel reads the request with the socket's version; a
            // mismatch would be judged by the wrong rules.
            return Err(err(Errno::INVAL));
        }
        if self.version == TpacketVersion::V3 {
            let r = k::tpacket_req3 {
                tp_block_size: req.block_size,
                tp_block_nr: req.block_nr,
                tp_frame_size: req.frame_size,
                tp_frame_nr: req.frame_nr,
                tp_retire_blk_tov: req.retire_blk_tov,
                tp_sizeof_priv: req.sizeof_priv,
                tp_feature_req_word: req.feature_req_word,
            };
            sys::set(self.fd.as_fd(), SOL_PACKET, name, &r).map_err(err)
        } else {
            let r = k::tpacket_req {
                tp_block_size: req.block_size,
                tp_block_nr: req.block_nr,
                tp_frame_size: req.frame_size,
                tp_frame_nr: req.frame_nr,
            };
            sys::set(self.fd.as_fd(), SOL_PACKET, name, &r).map_err(err)
        }
    }

    /// `PACKET_RX_RING` with `req` (its `version` must be the socket's, its
    /// `reserve` is not sent: set it with [`PacketSocket::set_reserve`]).
    /// This only asks the kernel; a ring to use comes from
    /// [`crate::RingSocketBuilder`], which also maps it.
    #[doc(alias = "PACKET_RX_RING")]
    pub fn set_rx_ring(&self, req: &RingRequest) -> Result<()> {
        self.set_ring(&RingRequest {
            kind: RingKind::Rx,
            ..*req
        })
    }

    /// `PACKET_TX_RING` with `req`.
    #[doc(alias = "PACKET_TX_RING")]
    pub fn set_tx_ring(&self, req: &RingRequest) -> Result<()> {
        self.set_ring(&RingRequest {
            kind: RingKind::Tx,
            ..*req
        })
    }

    /// Map the rings set up with the given layouts (RX first, as the kernel
    /// lays them out) into one shared mapping. Only the builder calls it,
    /// with the layouts it set the rings from.
    pub(crate) fn map(&self, rx: Option<Layout>, tx: Option<Layout>) -> Result<MappedRing> {
        MappedRing::new(self.fd.as_fd(), Mapping { rx, tx }, self.ty, self.vnet_hdr)
    }

    /// `SO_ATTACH_FILTER`: a classic BPF program, checked first with
    /// `ringtap_core::bpf::validate`.
    #[doc(alias = "SO_ATTACH_FILTER")]
    pub fn attach_filter(&self, program: &[Instruction]) -> Result<()> {
        let err = |e| Error::new("setsockopt", Some("SO_ATTACH_FILTER"), e);
        if ringtap_core::bpf::validate(program).is_err() {
            return Err(err(Errno::INVAL));
        }
        let prog = SockFprog {
            len: program.len() as u16,
            filter: program.as_ptr(),
        };
        // `program` outlives the call; the kernel copies the instructions.
        sys::set_raw(
            self.fd.as_fd(),
            SOL_SOCKET,
            linux_raw_sys::net::SO_ATTACH_FILTER,
            (&prog as *const SockFprog).cast(),
            size_of::<SockFprog>(),
        )
        .map_err(err)
    }

    /// `SO_DETACH_FILTER`.
    #[doc(alias = "SO_DETACH_FILTER")]
    pub fn detach_filter(&self) -> Result<()> {
        sys::set(
            self.fd.as_fd(),
            SOL_SOCKET,
            linux_raw_sys::net::SO_DETACH_FILTER,
            &0u32,
        )
        .map_err(|e| Error::new("setsockopt", Some("SO_DETACH_FILTER"), e))
    }

    /// `SO_SNDBUFFORCE` / `SO_RCVBUFFORCE`: socket buffers beyond the
    /// sysctl limits (needs CAP_NET_ADMIN). TX rings in namespaces need a
    /// large send buffer or `send` fails with EAGAIN.
    pub fn force_buffers(&self, bytes: usize) -> Result<()> {
        rustix::net::sockopt::set_socket_send_buffer_size_force(&self.fd, bytes)
            .map_err(|e| Error::new("setsockopt", Some("SO_SNDBUFFORCE"), e))?;
        rustix::net::sockopt::set_socket_recv_buffer_size_force(&self.fd, bytes)
            .map_err(|e| Error::new("setsockopt", Some("SO_RCVBUFFORCE"), e))
    }

    /// `SO_SNDBUF`: a send buffer within `net.core.wmem_max` (the kernel
    /// doubles the value for its bookkeeping).
    pub fn set_send_buffer(&self, bytes: usize) -> Result<()> {
        rustix::net::sockopt::set_socket_send_buffer_size(&self.fd, bytes)
            .map_err(|e| Error::new("setsockopt", Some("SO_SNDBUF"), e))
    }

    /// `bind` to `ifindex` (0: all interfaces) for `protocol` (an EtherType;
    /// 0 to receive nothing). Bind after the rings and the filter are set.
    pub fn bind(&self, ifindex: u32, protocol: u16) -> Result<()> {
        let mut addr = [0u8; ll::LEN];
        ll::Repr {
            protocol,
            ifindex: ifindex as i32,
            ..ll::Repr::default()
        }
        .emit(&mut addr);
        rustix::net::bind(&self.fd, &LinkAddr(addr))
            .map_err(|e| Error::new("bind", Some("sockaddr_ll"), e))
    }

    /// `send(fd, NULL, 0, MSG_DONTWAIT)`: ask the kernel to transmit every
    /// TX frame marked `SEND_REQUEST`. Returns the bytes queued.
    pub fn kick(&self) -> Result<usize> {
        rustix::net::send(&self.fd, &[], SendFlags::DONTWAIT)
            .map_err(|e| Error::new("send", Some("MSG_DONTWAIT"), e))
    }

    /// `send(fd, NULL, 0, 0)`: transmit and wait until the kernel has
    /// handled every pending frame.
    pub fn kick_blocking(&self) -> Result<usize> {
        rustix::net::send(&self.fd, &[], SendFlags::empty())
            .map_err(|e| Error::new("send", None, e))
    }

    /// `recvfrom` into `buf`: the whole packet behind a `TP_STATUS_COPY`
    /// frame. Returns the packet length (which may exceed `buf`, then the
    /// data is truncated) and the sender address.
    pub fn recv_from(&self, buf: &mut [u8], nonblocking: bool) -> Result<usize> {
        let flags = if nonblocking {
            RecvFlags::DONTWAIT | RecvFlags::TRUNC
        } else {
            RecvFlags::TRUNC
        };
        rustix::net::recvfrom(&self.fd, buf, flags)
            .map(|(_, len, _)| len)
            .map_err(|e| Error::new("recvfrom", None, e))
    }

    /// `SO_ERROR`: the pending socket error, cleared by the read. The
    /// kernel sets `ENETDOWN` when the bound interface goes down or away;
    /// until it is read, `poll` keeps reporting `POLLERR`.
    #[doc(alias = "SO_ERROR")]
    pub fn take_error(&self) -> Result<Option<Errno>> {
        match rustix::net::sockopt::socket_error(&self.fd) {
            Ok(Ok(())) => Ok(None),
            Ok(Err(e)) => Ok(Some(e)),
            Err(e) => Err(Error::new("getsockopt", Some("SO_ERROR"), e)),
        }
    }

    /// `poll` for `POLLIN` (an RX frame is ready) and/or `POLLOUT` (a TX
    /// frame is free), at most `timeout_ms` milliseconds. Returns the events
    /// that are ready (empty on timeout).
    pub fn poll(&self, readable: bool, writable: bool, timeout_ms: u32) -> Result<PollFlags> {
        let mut want = PollFlags::empty();
        if readable {
            want |= PollFlags::IN;
        }
        if writable {
            want |= PollFlags::OUT;
        }
        let mut fds = [PollFd::new(&self.fd, want)];
        let ts = Timespec {
            tv_sec: i64::from(timeout_ms / 1000),
            tv_nsec: i64::from(timeout_ms % 1000) * 1_000_000,
        };
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => Ok(fds[0].revents()),
            Err(e) => Err(Error::new("poll", None, e)),
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct StatsV1 {
    packets: u32,
    drops: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct StatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

/// `sched_setaffinity(0, {cpu})`: keep the calling thread on one CPU.
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)
        .map_err(|e| Error::new("sched_setaffinity", None, e))
}

/// The CPUs this process may run on (`sched_getaffinity`), in order.
pub fn online_cpus() -> Result<CpuList> {
    let set = rustix::thread::sched_getaffinity(None)
        .map_err(|e| Error::new("sched_getaffinity", None, e))?;
    let mut list = CpuList::default();
    for cpu in (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| set.is_set(c)) {
        if list.push(cpu as u16).is_err() {
            break;
        }
    }
    Ok(list)
}

const MAX_CPUS: usize = 256;

/// A list of CPU numbers, without allocation.
#[derive(Debug, Clone, Copy)]
pub struct CpuList {
    cpus: [u16; MAX_CPUS],
    len: usize,
}

impl Default for CpuList {
    fn default() -> Self {
        CpuList {
            cpus: [0; MAX_CPUS],
            len: 0,
        }
    }
}

impl CpuList {
    /// The CPUs, in the order they were listed (`sched_getaffinity`:
    /// ascending).
    pub fn as_slice(&self) -> &[u16] {
        &self.cpus[..self.len]
    }

    /// Add `cpu` at the end; `Err` when the list is full.
    pub fn push(&mut self, cpu: u16) -> core::result::Result<(), u16> {
        if self.len == MAX_CPUS {
            return Err(cpu);
        }
        self.cpus[self.len] = cpu;
        self.len += 1;
        Ok(())
    }
}
