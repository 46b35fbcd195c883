//! Linux `PACKET_MMAP` sockets and rings through rustix, without libc.
//!
//! * [`PacketSocket`]: an `AF_PACKET` socket that owns its descriptor, with
//!   one method per socket option (`set_rx_ring`, `set_fanout`, ...).
//! * [`MappedRing`]: the single mapping of a socket's RX and TX rings, and
//!   the ring handles built on `ringtap-core`'s slots: [`FrameRxRing`]
//!   (V1/V2), [`BlockRxRing`] (V3) and [`TxRing`].
//! * [`netdev`]: interface index, MTU, link state and ethtool offloads.
//! * [`bypass`]: the kernel forwards between two ports while ringtap does
//!   not (a traffic-control redirect).
//! * [`notify`]: the service manager's readiness and watchdog messages.
//! * [`sandbox`]: capabilities, another user, `no_new_privs` and the
//!   seccomp allow-list, for after set-up.
//!
//! Every failed kernel call is an [`Error`] that names the call, the option
//! and the errno, and says what usually fixes it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bypass;
mod error;
pub mod netdev;
pub mod notify;
mod ring;
pub mod sandbox;
mod socket;
mod sys;

pub use error::{Error, Result};
pub use ring::{
    BlockRxRing, FrameInfo, FrameRxRing, HeadFrame, MappedRing, Reaped, RxBlock, RxFrame, TxError,
    TxRing, TxSlot,
};
pub use socket::{
    kernel_word, online_cpus, page_size, pin_current_thread, CpuList, Membership, PacketSocket,
    SocketType, Stats, ETH_P_ALL,
};
