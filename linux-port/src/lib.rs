//! Linux `PACKET_MMAP` sockets and rings through rustix, without libc.
//!
//! * [`PacketSocket`]: an `AF_PACKET` socket that owns its descriptor, with
//!   one method per socket option (`set_rx_ring`, `set_fanout`, ...).
//! * [`RingSocketBuilder`]: a ring socket opened in the kernel's order from
//!   validated layouts, and mapped exactly as they say.
//! * [`MappedRing`]: the single mapping of a socket's RX and TX rings, and
//!   the ring handles built on `ringtap-core`'s slots: [`FrameRxRing`]
//!   (V1/V2), [`BlockRxRing`] (V3) and [`TxRing`].
//! * [`netdev`]: interface index, MTU, link state and ethtool offloads.
//! * [`system`]: the kernel's page size and word size (one probe each),
//!   the receive batch sysctl, the machine's memory.
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

mod builder;
pub mod bypass;
mod error;
pub mod netdev;
pub mod notify;
mod ring;
pub mod sandbox;
mod socket;
mod sys;
pub mod system;

pub use builder::{Buffers, RingSocketBuilder};
pub use error::{Error, Result};
pub use ring::{
    BlockRxRing, FrameInfo, FrameRxRing, HeadFrame, MappedRing, Reaped, RxBlock, RxFrame, TxError,
    TxRing, TxSlot,
};
pub use socket::{
    online_cpus, pin_current_thread, CpuList, Membership, PacketSocket, SocketType, Stats,
    ETH_P_ALL,
};
pub use system::{kernel_word, page_size, System};
