//! `PACKET_FANOUT` arguments: several sockets sharing the frames of one interface.
//!
//! `setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, 4)` takes a `u32` whose
//! low 16 bits are the group id and whose high 16 bits are `type_flags`: the
//! mode in their low byte, the `PACKET_FANOUT_FLAG_*` bits in their high byte
//! (`include/uapi/linux/if_packet.h`). `packet_setsockopt` copies those four
//! bytes over the start of `struct fanout_args`, whose `id` and `type_flags`
//! fields swap places on big-endian machines, so the same native-endian `u32`
//! means the same thing everywhere. `getsockopt(PACKET_FANOUT)` answers in this
//! layout too, which [`FanoutArg::decode`] reads.
//!
//! [`FanoutArg::validate`] applies the checks `fanout_add`
//! (`net/packet/af_packet.c`) makes on the argument alone;
//! [`FanoutArg::compatible_with`] documents and applies the ones it makes
//! against an existing group.

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

use linux_raw_sys::if_packet as sys;

/// How the kernel picks the member socket that receives a frame
/// (`PACKET_FANOUT_*`, the low byte of `type_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FanoutMode {
    /// `PACKET_FANOUT_HASH`: by flow hash, so one flow stays on one socket.
    Hash,
    /// `PACKET_FANOUT_LB`: round robin.
    LoadBalance,
    /// `PACKET_FANOUT_CPU`: by the CPU that received the frame.
    Cpu,
    /// `PACKET_FANOUT_ROLLOVER`: to one socket until it is full, then the next.
    Rollover,
    /// `PACKET_FANOUT_RND`: at random.
    Random,
    /// `PACKET_FANOUT_QM`: by the receive queue the NIC recorded.
    QueueMapping,
    /// `PACKET_FANOUT_CBPF`: by a classic BPF program set with
    /// `PACKET_FANOUT_DATA`.
    ClassicBpf,
    /// `PACKET_FANOUT_EBPF`: by an eBPF program (a file descriptor) set with
    /// `PACKET_FANOUT_DATA`.
    ExtendedBpf,
}

impl FanoutMode {
    /// Every mode, in the order of their kernel numbers.
    pub const ALL: [FanoutMode; 8] = [
        FanoutMode::Hash,
        FanoutMode::LoadBalance,
        FanoutMode::Cpu,
        FanoutMode::Rollover,
        FanoutMode::Random,
        FanoutMode::QueueMapping,
        FanoutMode::ClassicBpf,
        FanoutMode::ExtendedBpf,
    ];

    /// The kernel's number for the mode (`PACKET_FANOUT_*`).
    pub const fn to_raw(self) -> u8 {
        let raw = match self {
            FanoutMode::Hash => sys::PACKET_FANOUT_HASH,
            FanoutMode::LoadBalance => sys::PACKET_FANOUT_LB,
            FanoutMode::Cpu => sys::PACKET_FANOUT_CPU,
            FanoutMode::Rollover => sys::PACKET_FANOUT_ROLLOVER,
            FanoutMode::Random => sys::PACKET_FANOUT_RND,
            FanoutMode::QueueMapping => sys::PACKET_FANOUT_QM,
            FanoutMode::ClassicBpf => sys::PACKET_FANOUT_CBPF,
            FanoutMode::ExtendedBpf => sys::PACKET_FANOUT_EBPF,
        };
        raw as u8
    }

    /// The mode with kernel number `raw`, or `None` for a number `fanout_add`
    /// rejects.
    pub fn from_raw(raw: u8) -> Option<FanoutMode> {
        FanoutMode::ALL
            .into_iter()
            .find(|mode| mode.to_raw() == raw)
    }
}

/// `PACKET_FANOUT_FLAG_*` bits, as they sit in `type_flags` (bits 12 to 15).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FanoutFlags(u16);

impl FanoutFlags {
    /// No flag.
    pub const EMPTY: FanoutFlags = FanoutFlags(0);
    /// `PACKET_FANOUT_FLAG_ROLLOVER`: when the chosen socket is full, try the
    /// next one instead of dropping.
    pub const ROLLOVER: FanoutFlags = FanoutFlags(sys::PACKET_FANOUT_FLAG_ROLLOVER as u16);
    /// `PACKET_FANOUT_FLAG_UNIQUEID`: the kernel picks an unused group id
    /// (the id passed must be 0); read it back with `getsockopt`.
    pub const UNIQUE_ID: FanoutFlags = FanoutFlags(sys::PACKET_FANOUT_FLAG_UNIQUEID as u16);
    /// `PACKET_FANOUT_FLAG_IGNORE_OUTGOING`: the group does not see frames the
    /// host sends.
    pub const IGNORE_OUTGOING: FanoutFlags =
        FanoutFlags(sys::PACKET_FANOUT_FLAG_IGNORE_OUTGOING as u16);
    /// `PACKET_FANOUT_FLAG_DEFRAG`: IPv4 fragments are reassembled before the
    /// mode picks a socket, so all fragments of a datagram go to one member.
    pub const DEFRAG: FanoutFlags = FanoutFlags(sys::PACKET_FANOUT_FLAG_DEFRAG as u16);
    /// Every flag this crate knows.
    pub const ALL: FanoutFlags = FanoutFlags::ROLLOVER
        .union(FanoutFlags::UNIQUE_ID)
        .union(FanoutFlags::IGNORE_OUTGOING)
        .union(FanoutFlags::DEFRAG);

    const NAMES: [(FanoutFlags, &'static str); 4] = [
        (FanoutFlags::ROLLOVER, "ROLLOVER"),
        (FanoutFlags::UNIQUE_ID, "UNIQUE_ID"),
        (FanoutFlags::IGNORE_OUTGOING, "IGNORE_OUTGOING"),
        (FanoutFlags::DEFRAG, "DEFRAG"),
    ];

    /// The flags as bits of `type_flags`.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The flags in `bits`, or `None` if `bits` holds anything but
    /// `PACKET_FANOUT_FLAG_*` bits.
    pub const fn from_bits(bits: u16) -> Option<FanoutFlags> {
        if bits & !FanoutFlags::ALL.0 == 0 {
            Some(FanoutFlags(bits))
        } else {
            None
        }
    }

    /// Both sets of flags.
    pub const fn union(self, other: FanoutFlags) -> FanoutFlags {
        FanoutFlags(self.0 | other.0)
    }

    /// Whether every flag in `other` is set in `self`.
    pub const fn contains(self, other: FanoutFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for FanoutFlags {
    type Output = FanoutFlags;

    fn bitor(self, other: FanoutFlags) -> FanoutFlags {
        self.union(other)
    }
}

impl BitOrAssign for FanoutFlags {
    fn bitor_assign(&mut self, other: FanoutFlags) {
        *self = self.union(other);
    }
}

impl fmt::Debug for FanoutFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FanoutFlags(")?;
        let mut first = true;
        for (flag, name) in FanoutFlags::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        f.write_str(")")
    }
}

/// Members a group created with the 4-byte argument holds: `fanout_add`
/// falls back to the old fixed `PACKET_FANOUT_MAX` when `max_num_members` is
/// 0, which it always is when only [`FanoutArg::encode`]'s `u32` is passed.
pub const LEGACY_MAX_MEMBERS: u32 = 256;

/// The kernel's `PACKET_FANOUT_MAX` (`net/packet/internal.h`): the most
/// members the 8-byte `struct fanout_args` may ask for in `max_num_members`.
pub const PACKET_FANOUT_MAX: u32 = 1 << 16;

/// One `PACKET_FANOUT` request: which group to join (or create) and how it
/// spreads frames.
///
/// A socket joins the group with the same id in its network namespace, or
/// creates it if there is none. Besides the argument checks of
/// [`validate`](FanoutArg::validate), `fanout_add` then requires:
///
/// * the socket is in no group yet (`EALREADY`);
/// * when joining, the flags equal the group's, where the group's flags never
///   hold `PACKET_FANOUT_FLAG_UNIQUEID` (`EINVAL`; see
///   [`compatible_with`](FanoutArg::compatible_with));
/// * the socket is running, i.e. it has a non-zero protocol (from `socket()`
///   or `bind()`) and, if bound to an interface, that interface is up; and its
///   mode, protocol and bound interface equal those of the group's creator
///   (`EINVAL`, and a group just created for it is removed again);
/// * the group has room (`ENOSPC`): [`LEGACY_MAX_MEMBERS`] when created with
///   this 4-byte argument, up to [`PACKET_FANOUT_MAX`] when created with the
///   8-byte `struct fanout_args`, whose `max_num_members` a joiner must then
///   repeat or leave 0.
///
/// The ring version (`TPACKET_V1/V2/V3`), and whether the socket has a ring
/// at all, play no part.
///
/// `IGNORE_OUTGOING` is applied to the group when it is created. Kernels that
/// predate that flag accept the bit anyway, because `fanout_add` never checks
/// for unknown flag bits, and then outgoing frames still reach the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FanoutArg {
    /// The group id, unique per network namespace; 0 with
    /// [`FanoutFlags::UNIQUE_ID`].
    pub id: u16,
    /// How frames are spread over the members.
    pub mode: FanoutMode,
    /// `PACKET_FANOUT_FLAG_*` bits.
    pub flags: FanoutFlags,
}

impl FanoutArg {
    /// The `type_flags` half: mode in the low byte, flags in the high byte.
    pub const fn type_flags(&self) -> u16 {
        self.mode.to_raw() as u16 | self.flags.bits()
    }

    /// The `u32` for `setsockopt(PACKET_FANOUT)`: `id | type_flags << 16`.
    ///
    /// It does not check the argument: call [`validate`](FanoutArg::validate)
    /// first.
    pub const fn encode(&self) -> u32 {
        self.id as u32 | ((self.type_flags() as u32) << 16)
    }

    /// Reads a `PACKET_FANOUT` value (an argument, or the answer of
    /// `getsockopt`) and applies [`validate`](FanoutArg::validate).
    pub fn decode(raw: u32) -> Result<FanoutArg, FanoutError> {
        let id = raw as u16;
        let type_flags = (raw >> 16) as u16;
        let raw_mode = type_flags as u8;
        let mode =
            FanoutMode::from_raw(raw_mode).ok_or(FanoutError::UnknownMode { mode: raw_mode })?;
        let flag_bits = type_flags & 0xff00;
        let flags = FanoutFlags::from_bits(flag_bits).ok_or(FanoutError::UnknownFlags {
            bits: flag_bits & !FanoutFlags::ALL.bits(),
        })?;
        let arg = FanoutArg { id, mode, flags };
        arg.validate()?;
        Ok(arg)
    }

    /// The checks `fanout_add` makes on the argument before it looks at any
    /// group: `PACKET_FANOUT_FLAG_ROLLOVER` is refused on a
    /// `PACKET_FANOUT_ROLLOVER` group, and `PACKET_FANOUT_FLAG_UNIQUEID` needs
    /// id 0. (Its third check, an unknown mode, cannot be expressed with
    /// [`FanoutMode`] and is made by [`decode`](FanoutArg::decode).)
    pub fn validate(&self) -> Result<(), FanoutError> {
        if self.mode == FanoutMode::Rollover && self.flags.contains(FanoutFlags::ROLLOVER) {
            return Err(FanoutError::RolloverFlagOnRolloverMode);
        }
        if self.flags.contains(FanoutFlags::UNIQUE_ID) && self.id != 0 {
            return Err(FanoutError::UniqueIdWithId { id: self.id });
        }
        Ok(())
    }

    /// Whether a socket asking for `self` would join the group that `group`
    /// describes, as far as the arguments decide it (the socket-state rules
    /// are listed on [`FanoutArg`]).
    ///
    /// `group` is best the group as the kernel keeps it, read back with
    /// `getsockopt(PACKET_FANOUT)`: a group created with
    /// [`FanoutFlags::UNIQUE_ID`] has an id the kernel chose, so such a
    /// creation argument never matches here. A request with `UNIQUE_ID` never
    /// joins either: it always creates a new group.
    pub fn compatible_with(&self, group: &FanoutArg) -> bool {
        self.validate().is_ok()
            && group.validate().is_ok()
            && !self.flags.contains(FanoutFlags::UNIQUE_ID)
            && !group.flags.contains(FanoutFlags::UNIQUE_ID)
            && self.id == group.id
            && self.mode == group.mode
            && self.flags == group.flags
    }
}

/// Why a `PACKET_FANOUT` argument is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FanoutError {
    /// The mode byte is none of the `PACKET_FANOUT_*` modes.
    UnknownMode {
        /// The low byte of `type_flags`.
        mode: u8,
    },
    /// Flag bits outside `PACKET_FANOUT_FLAG_*`. The kernel accepts them
    /// (and keeps them as part of the group's identity); this crate refuses
    /// them as a mistake.
    UnknownFlags {
        /// The unknown bits, in `type_flags` position.
        bits: u16,
    },
    /// `PACKET_FANOUT_FLAG_ROLLOVER` on a `PACKET_FANOUT_ROLLOVER` group.
    RolloverFlagOnRolloverMode,
    /// `PACKET_FANOUT_FLAG_UNIQUEID` with a group id other than 0.
    UniqueIdWithId {
        /// The id that was passed.
        id: u16,
    },
}

impl fmt::Display for FanoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FanoutError::UnknownMode { mode } => write!(
                f,
                "fanout mode {mode} is not one of the PACKET_FANOUT_* modes 0..=7; \
                 fanout_add rejects it with EINVAL"
            ),
            FanoutError::UnknownFlags { bits } => write!(
                f,
                "fanout flag bits {bits:#06x} are not PACKET_FANOUT_FLAG_* bits; \
                 fanout_add would keep them as part of the group's identity, \
                 so they are refused here"
            ),
            FanoutError::RolloverFlagOnRolloverMode => f.write_str(
                "PACKET_FANOUT_FLAG_ROLLOVER on a PACKET_FANOUT_ROLLOVER group: \
                 fanout_add rejects the pair with EINVAL (the mode already rolls over)",
            ),
            FanoutError::UniqueIdWithId { id } => write!(
                f,
                "PACKET_FANOUT_FLAG_UNIQUEID with group id {id}: fanout_add requires \
                 id 0 (the kernel picks the id) and rejects others with EINVAL"
            ),
        }
    }
}

impl core::error::Error for FanoutError {}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use std::format;

    fn arg(id: u16, mode: FanoutMode, flags: FanoutFlags) -> FanoutArg {
        FanoutArg { id, mode, flags }
    }

    #[test]
    fn test_mode_numbers() {
        let raw: std::vec::Vec<u8> = FanoutMode::ALL.iter().map(|m| m.to_raw()).collect();
        assert_eq!(raw, [0, 1, 2, 3, 4, 5, 6, 7]);
        for mode in FanoutMode::ALL {
            assert_eq!(FanoutMode::from_raw(mode.to_raw()), Some(mode));
        }
        assert_eq!(FanoutMode::from_raw(8), None);
        assert_eq!(FanoutMode::from_raw(0xff), None);
    }

    #[test]
    fn test_flag_bits() {
        assert_eq!(FanoutFlags::ROLLOVER.bits(), 0x1000);
        assert_eq!(FanoutFlags::UNIQUE_ID.bits(), 0x2000);
        assert_eq!(FanoutFlags::IGNORE_OUTGOING.bits(), 0x4000);
        assert_eq!(FanoutFlags::DEFRAG.bits(), 0x8000);
        assert_eq!(FanoutFlags::ALL.bits(), 0xf000);
        assert_eq!(FanoutFlags::EMPTY.bits(), 0);
        assert!(FanoutFlags::EMPTY.is_empty());
    }

    #[test]
    fn test_flag_set_operations() {
        let mut flags = FanoutFlags::ROLLOVER | FanoutFlags::DEFRAG;
        assert!(flags.contains(FanoutFlags::ROLLOVER));
        assert!(flags.contains(FanoutFlags::ROLLOVER | FanoutFlags::DEFRAG));
        assert!(!flags.contains(FanoutFlags::UNIQUE_ID));
        assert!(flags.contains(FanoutFlags::EMPTY));
        flags |= FanoutFlags::IGNORE_OUTGOING;
        assert_eq!(flags.bits(), 0xd000);
        assert_eq!(FanoutFlags::from_bits(0xd000), Some(flags));
        assert_eq!(FanoutFlags::from_bits(0x0100), None);
        assert_eq!(FanoutFlags::from_bits(0x1001), None);
    }

    #[test]
    fn test_flags_debug() {
        assert_eq!(
            format!("{:?}", FanoutFlags::ROLLOVER | FanoutFlags::DEFRAG),
            "FanoutFlags(ROLLOVER | DEFRAG)"
        );
        assert_eq!(format!("{:?}", FanoutFlags::EMPTY), "FanoutFlags(EMPTY)");
    }

    #[test]
    fn test_encode() {
        let cases = [
            (
                arg(0x1234, FanoutMode::Hash, FanoutFlags::DEFRAG),
                0x8000_1234,
            ),
            (
                arg(0x1234, FanoutMode::LoadBalance, FanoutFlags::ROLLOVER),
                0x1001_1234,
            ),
            (
                arg(7, FanoutMode::Rollover, FanoutFlags::EMPTY),
                0x0003_0007,
            ),
            (arg(0, FanoutMode::Cpu, FanoutFlags::UNIQUE_ID), 0x2002_0000),
            (
                arg(
                    0xffff,
                    FanoutMode::ExtendedBpf,
                    FanoutFlags::IGNORE_OUTGOING,
                ),
                0x4007_ffff,
            ),
            (
                arg(
                    9,
                    FanoutMode::LoadBalance,
                    FanoutFlags::ROLLOVER | FanoutFlags::IGNORE_OUTGOING | FanoutFlags::DEFRAG,
                ),
                0xd001_0009,
            ),
        ];
        for (arg, raw) in cases {
            assert_eq!(arg.encode(), raw, "{arg:?}");
            assert_eq!(FanoutArg::decode(raw), Ok(arg), "{raw:#010x}");
        }
    }

    #[test]
    fn test_type_flags() {
        let a = arg(0x1234, FanoutMode::QueueMapping, FanoutFlags::DEFRAG);
        assert_eq!(a.type_flags(), 0x8005);
    }

    // Rejections checked against fanout_add: type_flags & 0xff outside the
    // switch, ROLLOVER type with FLAG_ROLLOVER, UNIQUEID with id != 0.
    #[test]
    fn test_decode_rejects() {
        let cases = [
            (0x0008_0007, FanoutError::UnknownMode { mode: 8 }),
            (0x00ff_0007, FanoutError::UnknownMode { mode: 0xff }),
            (0x0100_0007, FanoutError::UnknownFlags { bits: 0x0100 }),
            (0x8f00_0007, FanoutError::UnknownFlags { bits: 0x0f00 }),
            (0x1003_0007, FanoutError::RolloverFlagOnRolloverMode),
            (0x2000_0007, FanoutError::UniqueIdWithId { id: 7 }),
        ];
        for (raw, error) in cases {
            assert_eq!(FanoutArg::decode(raw), Err(error), "{raw:#010x}");
        }
    }

    #[test]
    fn test_validate() {
        assert_eq!(
            arg(0, FanoutMode::Rollover, FanoutFlags::DEFRAG).validate(),
            Ok(())
        );
        assert_eq!(
            arg(0, FanoutMode::Hash, FanoutFlags::ROLLOVER).validate(),
            Ok(())
        );
        assert_eq!(
            arg(0, FanoutMode::Hash, FanoutFlags::UNIQUE_ID).validate(),
            Ok(())
        );
        assert_eq!(
            arg(0, FanoutMode::Rollover, FanoutFlags::ROLLOVER).validate(),
            Err(FanoutError::RolloverFlagOnRolloverMode)
        );
        assert_eq!(
            arg(1, FanoutMode::Hash, FanoutFlags::UNIQUE_ID).validate(),
            Err(FanoutError::UniqueIdWithId { id: 1 })
        );
    }

    #[test]
    fn test_compatible_with() {
        let group = arg(0x42, FanoutMode::Hash, FanoutFlags::DEFRAG);
        assert!(group.compatible_with(&group));
        assert!(!arg(0x43, FanoutMode::Hash, FanoutFlags::DEFRAG).compatible_with(&group));
        assert!(!arg(0x42, FanoutMode::LoadBalance, FanoutFlags::DEFRAG).compatible_with(&group));
        assert!(!arg(0x42, FanoutMode::Hash, FanoutFlags::EMPTY).compatible_with(&group));
        assert!(!arg(
            0x42,
            FanoutMode::Hash,
            FanoutFlags::DEFRAG | FanoutFlags::ROLLOVER
        )
        .compatible_with(&group));

        // The kernel drops UNIQUEID from the group it creates and reports the
        // id it chose: members join with that id and without the flag.
        let created = arg(
            0,
            FanoutMode::Hash,
            FanoutFlags::UNIQUE_ID | FanoutFlags::DEFRAG,
        );
        let read_back = FanoutArg::decode(0x8000_0001).unwrap();
        let member = arg(1, FanoutMode::Hash, FanoutFlags::DEFRAG);
        assert!(!arg(0, FanoutMode::Hash, FanoutFlags::DEFRAG).compatible_with(&created));
        assert!(!created.compatible_with(&created));
        assert!(member.compatible_with(&read_back));

        let invalid = arg(3, FanoutMode::Rollover, FanoutFlags::ROLLOVER);
        assert!(!invalid.compatible_with(&invalid));
    }

    #[test]
    fn test_display() {
        assert_eq!(
            format!("{}", FanoutError::UnknownMode { mode: 8 }),
            "fanout mode 8 is not one of the PACKET_FANOUT_* modes 0..=7; \
             fanout_add rejects it with EINVAL"
        );
        assert_eq!(
            format!("{}", FanoutError::UnknownFlags { bits: 0x0100 }),
            "fanout flag bits 0x0100 are not PACKET_FANOUT_FLAG_* bits; \
             fanout_add would keep them as part of the group's identity, \
             so they are refused here"
        );
        assert_eq!(
            format!("{}", FanoutError::UniqueIdWithId { id: 7 }),
            "PACKET_FANOUT_FLAG_UNIQUEID with group id 7: fanout_add requires \
             id 0 (the kernel picks the id) and rejects others with EINVAL"
        );
    }

    fn any_arg() -> impl Strategy<Value = FanoutArg> {
        (any::<u16>(), 0..FanoutMode::ALL.len(), 0u16..16).prop_map(|(id, mode, flags)| FanoutArg {
            id,
            mode: FanoutMode::ALL[mode],
            flags: FanoutFlags::from_bits(flags << 12).unwrap(),
        })
    }

    proptest! {
        #[test]
        fn prop_encode_decode_roundtrip(arg in any_arg()) {
            match arg.validate() {
                Ok(()) => prop_assert_eq!(FanoutArg::decode(arg.encode()), Ok(arg)),
                Err(error) => prop_assert_eq!(FanoutArg::decode(arg.encode()), Err(error)),
            }
        }

        #[test]
        fn prop_decode_encode_roundtrip(raw in any::<u32>()) {
            if let Ok(arg) = FanoutArg::decode(raw) {
                prop_assert_eq!(arg.encode(), raw);
            }
        }
    }
}
