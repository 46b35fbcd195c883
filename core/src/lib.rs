//! The Linux `PACKET_MMAP` ring protocol, byte for byte, without an OS.
//!
//! Read it with the kernel's `Documentation/networking/packet_mmap.rst`,
//! `packet(7)` and `include/uapi/linux/if_packet.h` at hand; where they and
//! `net/packet/af_packet.c` disagree, this crate follows the kernel.
//!
//! * [`geometry`]: ring requests checked by the rules of `packet_set_ring`,
//!   the resulting layout, and the buffer size calculator.
//! * [`room`]: where the kernel puts a packet in a slot and how much of it
//!   fits (`tpacket_rcv`, `tpacket_snd`), and rings sized for a link's MTU.
//! * [`frame`]: checked views over `tpacket_hdr`, `tpacket2_hdr`,
//!   `tpacket3_hdr`, the V3 block descriptor, `sockaddr_ll` and
//!   `virtio_net_hdr`.
//! * [`status`]: the status words and the ownership state machines.
//! * [`slot`]: the only `unsafe` code: a frame in shared memory, with the
//!   status word read with Acquire and handed back with Release.
//! * [`fanout`], [`bpf`]: `PACKET_FANOUT` arguments and classic BPF programs
//!   (checked by the kernel's rules, and run in user space by its semantics).
//! * [`filter`]: pcap-filter expressions (`tcp port 80`) compiled to classic
//!   BPF for the ring's view of a frame, as libpcap does for a live socket.
//! * [`vlan`], [`checksum`]: the bridge's per-frame work: putting back the
//!   VLAN tag the kernel stripped, completing a partial TCP/UDP checksum.
//! * [`pcap`], [`pcapng`], [`loss`]: capture files written through
//!   [`embedded_io::Write`] and read from a byte slice or an
//!   [`embedded_io::Read`], without allocating; where packets were lost.
//!
//! [`embedded_io`] is re-exported so that users of the writers and readers
//! name the same traits.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod bpf;
pub mod checksum;
pub mod fanout;
pub mod filter;
pub mod frame;
pub mod geometry;
pub mod loss;
pub mod pcap;
pub mod pcapng;
pub mod room;
pub mod seccomp;
pub mod slot;
pub mod status;
pub mod vlan;

pub use embedded_io;
