//! Status words and the ownership state machines.
//!
//! Every frame (V1/V2, V3 TX) and every V3 RX block has a status word that
//! says who owns it. Ownership moves in fixed steps:
//!
//! ```text
//! RX frame / V3 block:  Kernel --(kernel fills)--> User --(user hands back)--> Kernel
//! TX frame:             Available --user--> SendRequest --kernel--> Sending --kernel--> Available
//!                                              \--kernel (bad frame, no PACKET_LOSS)--> WrongFormat
//!                                              \--kernel (bad frame, PACKET_LOSS)-----> Available
//!                       Sending --kernel (device dropped it)--> Available --kernel--> SendRequest
//!                       WrongFormat --user (drop it)--> Available
//!                       WrongFormat --user (fixed, resend)--> SendRequest
//!                       SendRequest --user (retract the kernel's head)--> Available
//! ```
//! When the device or its queueing discipline drops a frame
//! (`NET_XMIT_DROP`), `tpacket_snd` puts the frame back to `SendRequest`
//! within the same `send` call, stops there and returns `ENOBUFS`: the next
//! `send` tries it again.
//!
//! A refused or retained frame cannot simply be made `Available`: the
//! kernel sends only from its head, which stays on that frame. Dropping it
//! means moving the frames queued behind it one slot back
//! ([`crate::slot::RingMemory::remove_head`]); that is also the only
//! legal way for user space to take a `SendRequest` frame back, between two
//! `send` calls (the kernel reads the ring only inside `send`).
//! [`Owner::step`] and [`TxState::step`] accept exactly these moves and
//! return [`TransitionError`] for anything else; [`crate::slot`] only makes
//! moves that these functions allow.

use core::fmt;
use linux_raw_sys::if_packet as k;

macro_rules! flag_consts {
    ($ty:ident { $($(#[$doc:meta])* $name:ident = $val:expr;)* }) => {
        impl $ty {
            $($(#[$doc])* pub const $name: $ty = $ty($val);)*
        }
    };
}

/// An RX frame's `tp_status` (or a V3 block's `block_status`), as flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RxStatus(pub u32);

flag_consts!(RxStatus {
    /// `TP_STATUS_KERNEL` (no bit): the kernel owns the frame.
    KERNEL = k::TP_STATUS_KERNEL;
    /// `TP_STATUS_USER`: the frame holds a packet for user space.
    USER = k::TP_STATUS_USER;
    /// `TP_STATUS_COPY`: the packet was larger than the frame; the frame
    /// holds a truncated copy and the whole packet waits in the socket queue
    /// (`PACKET_COPY_THRESH`).
    COPY = k::TP_STATUS_COPY;
    /// `TP_STATUS_LOSING`: packets were dropped since the last
    /// `PACKET_STATISTICS` read.
    LOSING = k::TP_STATUS_LOSING;
    /// `TP_STATUS_CSUMNOTREADY`: the transport checksum is partial (the
    /// packet came from this host with checksum offload).
    CSUMNOTREADY = k::TP_STATUS_CSUMNOTREADY;
    /// `TP_STATUS_VLAN_VALID`: `tp_vlan_tci` holds the stripped tag.
    VLAN_VALID = k::TP_STATUS_VLAN_VALID;
    /// `TP_STATUS_BLK_TMO`: V3 block retired by its timer, not by filling up.
    BLK_TMO = k::TP_STATUS_BLK_TMO;
    /// `TP_STATUS_VLAN_TPID_VALID`: `tp_vlan_tpid` holds the tag's TPID.
    VLAN_TPID_VALID = k::TP_STATUS_VLAN_TPID_VALID;
    /// `TP_STATUS_CSUM_VALID`: the checksum was verified (by hardware).
    CSUM_VALID = k::TP_STATUS_CSUM_VALID;
    /// `TP_STATUS_GSO_TCP`: a TCP GSO packet.
    GSO_TCP = k::TP_STATUS_GSO_TCP;
    /// `TP_STATUS_TS_SOFTWARE`: software timestamp.
    TS_SOFTWARE = k::TP_STATUS_TS_SOFTWARE;
    /// `TP_STATUS_TS_SYS_HARDWARE`: hardware timestamp converted to system time.
    TS_SYS_HARDWARE = k::TP_STATUS_TS_SYS_HARDWARE;
    /// `TP_STATUS_TS_RAW_HARDWARE`: raw hardware timestamp.
    TS_RAW_HARDWARE = k::TP_STATUS_TS_RAW_HARDWARE;
});

impl RxStatus {
    /// The raw word.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: RxStatus) -> bool {
        self.0 & other.0 == other.0
    }

    /// Who owns the frame or block.
    pub const fn owner(self) -> Owner {
        if self.0 & k::TP_STATUS_USER != 0 {
            Owner::User
        } else {
            Owner::Kernel
        }
    }

    /// Which clock stamped the packet, if the kernel says.
    pub const fn timestamp_source(self) -> Option<TimestampSource> {
        timestamp_source(self.0)
    }
}

impl core::ops::BitOr for RxStatus {
    type Output = RxStatus;
    fn bitor(self, rhs: RxStatus) -> RxStatus {
        RxStatus(self.0 | rhs.0)
    }
}

/// Which clock stamped a packet (`TP_STATUS_TS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimestampSource {
    /// `TP_STATUS_TS_SOFTWARE`.
    Software,
    /// `TP_STATUS_TS_SYS_HARDWARE` (deprecated by the kernel, still decoded).
    SysHardware,
    /// `TP_STATUS_TS_RAW_HARDWARE`.
    RawHardware,
}

const fn timestamp_source(bits: u32) -> Option<TimestampSource> {
    if bits & k::TP_STATUS_TS_RAW_HARDWARE != 0 {
        Some(TimestampSource::RawHardware)
    } else if bits & k::TP_STATUS_TS_SYS_HARDWARE != 0 {
        Some(TimestampSource::SysHardware)
    } else if bits & k::TP_STATUS_TS_SOFTWARE != 0 {
        Some(TimestampSource::Software)
    } else {
        None
    }
}

/// Who owns an RX frame or a V3 RX block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Owner {
    /// The kernel may write it.
    Kernel,
    /// User space reads it, then hands it back.
    User,
}

/// The side making a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Actor {
    /// The kernel.
    Kernel,
    /// This program.
    User,
}

/// A move the protocol does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransitionError {
    /// An RX frame or block cannot go from `from` to `to` by `actor`.
    Rx {
        /// Who tried.
        actor: Actor,
        /// Current owner.
        from: Owner,
        /// Requested owner.
        to: Owner,
    },
    /// A TX frame cannot go from `from` to `to` by `actor`.
    Tx {
        /// Who tried.
        actor: Actor,
        /// Current state.
        from: TxState,
        /// Requested state.
        to: TxState,
    },
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::Rx { actor, from, to } => write!(
                f,
                "illegal RX ownership move by {actor:?}: {from:?} -> {to:?} (only the kernel \
                 hands a frame to the user, only the user hands it back)"
            ),
            TransitionError::Tx { actor, from, to } => {
                write!(f, "illegal TX status move by {actor:?}: {from:?} -> {to:?}")
            }
        }
    }
}

impl Owner {
    /// The owner after `actor` hands the frame over, if that move is legal.
    pub const fn step(self, actor: Actor, to: Owner) -> Result<Owner, TransitionError> {
        match (self, actor, to) {
            (Owner::Kernel, Actor::Kernel, Owner::User)
            | (Owner::User, Actor::User, Owner::Kernel) => Ok(to),
            _ => Err(TransitionError::Rx {
                actor,
                from: self,
                to,
            }),
        }
    }
}

/// The state of a TX frame (low bits of `tp_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TxState {
    /// `TP_STATUS_AVAILABLE`: the user may fill the frame.
    Available,
    /// `TP_STATUS_SEND_REQUEST`: filled, waiting for `send()`.
    SendRequest,
    /// `TP_STATUS_SENDING`: the kernel is transmitting it.
    Sending,
    /// `TP_STATUS_WRONG_FORMAT`: the kernel refused it (e.g. longer than the
    /// MTU) and, without `PACKET_LOSS`, stopped the ring at it.
    WrongFormat,
}

impl TxState {
    /// The status value for this state.
    pub const fn to_raw(self) -> u32 {
        match self {
            TxState::Available => k::TP_STATUS_AVAILABLE,
            TxState::SendRequest => k::TP_STATUS_SEND_REQUEST,
            TxState::Sending => k::TP_STATUS_SENDING,
            TxState::WrongFormat => k::TP_STATUS_WRONG_FORMAT,
        }
    }

    /// The state after `actor` moves the frame to `to`, if legal.
    pub const fn step(self, actor: Actor, to: TxState) -> Result<TxState, TransitionError> {
        use TxState::*;
        let legal = matches!(
            (self, actor, to),
            (Available, Actor::User, SendRequest)
                | (SendRequest, Actor::Kernel, Sending)
                | (SendRequest, Actor::Kernel, Available)
                | (SendRequest, Actor::Kernel, WrongFormat)
                | (Sending, Actor::Kernel, Available)
                | (Available, Actor::Kernel, SendRequest)
                | (WrongFormat, Actor::User, Available)
                | (WrongFormat, Actor::User, SendRequest)
                | (SendRequest, Actor::User, Available)
        );
        if legal {
            Ok(to)
        } else {
            Err(TransitionError::Tx {
                actor,
                from: self,
                to,
            })
        }
    }
}

/// A TX frame's `tp_status`: the state plus, after transmission with
/// `SO_TIMESTAMPING` on, the timestamp source bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TxStatus(pub u32);

/// A TX status word whose state bits are not one of the four states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownTxStatus(pub u32);

impl fmt::Display for UnknownTxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TX tp_status {:#x} is none of AVAILABLE, SEND_REQUEST, SENDING, WRONG_FORMAT",
            self.0
        )
    }
}

const TS_BITS: u32 =
    k::TP_STATUS_TS_SOFTWARE | k::TP_STATUS_TS_SYS_HARDWARE | k::TP_STATUS_TS_RAW_HARDWARE;

impl TxStatus {
    /// The frame's state, ignoring the timestamp bits.
    pub const fn state(self) -> Result<TxState, UnknownTxStatus> {
        match self.0 & !TS_BITS {
            k::TP_STATUS_AVAILABLE => Ok(TxState::Available),
            k::TP_STATUS_SEND_REQUEST => Ok(TxState::SendRequest),
            k::TP_STATUS_SENDING => Ok(TxState::Sending),
            k::TP_STATUS_WRONG_FORMAT => Ok(TxState::WrongFormat),
            _ => Err(UnknownTxStatus(self.0)),
        }
    }

    /// The timestamp source of the transmission, if the kernel stamped it.
    pub const fn timestamp_source(self) -> Option<TimestampSource> {
        timestamp_source(self.0)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_rx_flags_are_the_uapi_values() {
        assert_eq!(RxStatus::USER.bits(), 1);
        assert_eq!(RxStatus::COPY.bits(), 2);
        assert_eq!(RxStatus::LOSING.bits(), 4);
        assert_eq!(RxStatus::CSUMNOTREADY.bits(), 8);
        assert_eq!(RxStatus::VLAN_VALID.bits(), 0x10);
        assert_eq!(RxStatus::BLK_TMO.bits(), 0x20);
        assert_eq!(RxStatus::VLAN_TPID_VALID.bits(), 0x40);
        assert_eq!(RxStatus::CSUM_VALID.bits(), 0x80);
        assert_eq!(RxStatus::GSO_TCP.bits(), 0x100);
        assert_eq!(RxStatus::TS_SOFTWARE.bits(), 1 << 29);
        assert_eq!(RxStatus::TS_SYS_HARDWARE.bits(), 1 << 30);
        assert_eq!(RxStatus::TS_RAW_HARDWARE.bits(), 1 << 31);
        let s = RxStatus::USER | RxStatus::VLAN_VALID | RxStatus::TS_SOFTWARE;
        assert!(s.contains(RxStatus::VLAN_VALID));
        assert!(!s.contains(RxStatus::COPY));
        assert_eq!(s.owner(), Owner::User);
        assert_eq!(s.timestamp_source(), Some(TimestampSource::Software));
        assert_eq!(RxStatus::KERNEL.owner(), Owner::Kernel);
    }

    #[test]
    fn test_tx_status_decode() {
        assert_eq!(TxStatus(0).state(), Ok(TxState::Available));
        assert_eq!(TxStatus(1).state(), Ok(TxState::SendRequest));
        assert_eq!(TxStatus(2).state(), Ok(TxState::Sending));
        assert_eq!(TxStatus(4).state(), Ok(TxState::WrongFormat));
        assert_eq!(TxStatus(3).state(), Err(UnknownTxStatus(3)));
        let stamped = TxStatus(k::TP_STATUS_AVAILABLE | k::TP_STATUS_TS_RAW_HARDWARE);
        assert_eq!(stamped.state(), Ok(TxState::Available));
        assert_eq!(
            stamped.timestamp_source(),
            Some(TimestampSource::RawHardware)
        );
    }

    #[test]
    fn test_rx_moves() {
        use Actor::*;
        use Owner as O;
        for from in [O::Kernel, O::User] {
            for to in [O::Kernel, O::User] {
                for actor in [Kernel, User] {
                    let ok = from.step(actor, to).is_ok();
                    let expect = matches!(
                        (from, actor, to),
                        (O::Kernel, Kernel, O::User) | (O::User, User, O::Kernel)
                    );
                    assert_eq!(ok, expect, "{from:?} -{actor:?}-> {to:?}");
                }
            }
        }
    }

    #[test]
    fn test_tx_moves() {
        use TxState::*;
        let all = [Available, SendRequest, Sending, WrongFormat];
        let mut legal = 0;
        for from in all {
            for to in all {
                for actor in [Actor::Kernel, Actor::User] {
                    if from.step(actor, to).is_ok() {
                        legal += 1;
                    }
                }
            }
        }
        assert_eq!(legal, 9);
        // The user never takes a frame back that the kernel is sending.
        assert!(Sending.step(Actor::User, Available).is_err());
        assert!(Sending.step(Actor::User, SendRequest).is_err());
        // A queued frame is retracted only to Available (with compaction).
        assert!(SendRequest.step(Actor::User, Available).is_ok());
        assert!(SendRequest.step(Actor::User, WrongFormat).is_err());
        // The kernel re-queues a frame the device dropped, and fills none.
        assert!(Available.step(Actor::Kernel, SendRequest).is_ok());
        assert!(Available.step(Actor::Kernel, Sending).is_err());
        for s in all {
            assert_eq!(TxStatus(s.to_raw()).state(), Ok(s));
        }
    }
}
