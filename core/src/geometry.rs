//! Ring geometry: a `PACKET_RX_RING` / `PACKET_TX_RING` request, judged by the
//! rules of the kernel's `packet_set_ring`, and the layout it produces.
//!
//! The kernel checks, in this order (net/packet/af_packet.c, `packet_set_ring`):
//!
//! 1. `(int)tp_block_size > 0`
//! 2. `tp_block_size` is a multiple of the page size
//! 3. V3 only: `tp_block_size >= BLK_PLUS_PRIV(tp_sizeof_priv) + hdrlen + reserve`
//! 4. `tp_frame_size >= hdrlen + reserve`
//! 5. `tp_frame_size` is a multiple of `TPACKET_ALIGNMENT`
//! 6. `frames_per_block = tp_block_size / tp_frame_size` is not zero
//! 7. `frames_per_block <= UINT_MAX / tp_block_nr`
//! 8. `frames_per_block * tp_block_nr == tp_frame_nr`
//! 9. V3 TX only (after the memory is allocated): `tp_retire_blk_tov`,
//!    `tp_sizeof_priv` and `tp_feature_req_word` are all zero
//!
//! and, when `tp_block_nr == 0` (a request that frees the ring),
//! `tp_frame_nr == 0`. Before any of them, `packet_setsockopt` refuses a
//! `PACKET_RESERVE` above `INT_MAX` ([`MAX_RESERVE`]), so no ring request
//! can carry one. Every rule has its own [`GeometryError`] variant.

use core::fmt;

use crate::frame::{ll, v1, v2, v3, KernelWord};

/// `TPACKET_ALIGNMENT`: frames and headers are aligned to this many bytes.
pub const TPACKET_ALIGNMENT: u32 = linux_raw_sys::if_packet::TPACKET_ALIGNMENT;

/// Alignment of packets inside a V3 block and of the block's private area
/// (`V3_ALIGNMENT` in af_packet.c).
pub const V3_ALIGNMENT: u32 = 8;

/// `TPACKET_ALIGN(x)`: round `x` up to [`TPACKET_ALIGNMENT`].
pub const fn tpacket_align(x: u32) -> u32 {
    (x + TPACKET_ALIGNMENT - 1) & !(TPACKET_ALIGNMENT - 1)
}

/// The largest `PACKET_RESERVE` the kernel takes: `packet_setsockopt`
/// answers a larger value with `EINVAL`.
pub const MAX_RESERVE: u32 = i32::MAX as u32;

/// `BLK_HDR_LEN`: the V3 block descriptor rounded up to [`V3_ALIGNMENT`].
pub const BLK_HDR_LEN: u64 = align_u64(v3::BLOCK_HEADER_LEN as u64, 8);

/// `BLK_PLUS_PRIV(sz)`: offset of the first packet in a V3 block whose private
/// area is `sizeof_priv` bytes. Computed in 64 bits, as the kernel does, so a
/// huge `tp_sizeof_priv` cannot wrap.
pub const fn blk_plus_priv(sizeof_priv: u32) -> u64 {
    BLK_HDR_LEN + align_u64(sizeof_priv as u64, V3_ALIGNMENT as u64)
}

const fn align_u64(x: u64, to: u64) -> u64 {
    (x + to - 1) & !(to - 1)
}

/// `PACKET_VERSION`: which header the ring's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TpacketVersion {
    /// `TPACKET_V1`: `struct tpacket_hdr`, word-size dependent.
    V1,
    /// `TPACKET_V2`: `struct tpacket2_hdr`, fixed layout, nanoseconds, VLAN.
    V2,
    /// `TPACKET_V3`: variable-length packets packed into blocks.
    V3,
}

impl TpacketVersion {
    /// The value passed to `PACKET_VERSION` (`tpacket_versions` enum).
    pub const fn to_raw(self) -> u32 {
        match self {
            TpacketVersion::V1 => 0,
            TpacketVersion::V2 => 1,
            TpacketVersion::V3 => 2,
        }
    }

    /// The version for a `PACKET_VERSION` value, if it is one.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(TpacketVersion::V1),
            1 => Some(TpacketVersion::V2),
            2 => Some(TpacketVersion::V3),
            _ => None,
        }
    }

    /// `po->tp_hdrlen`: `TPACKET_HDRLEN`, `TPACKET2_HDRLEN` or
    /// `TPACKET3_HDRLEN`, i.e. the aligned frame header plus `sockaddr_ll`.
    pub const fn hdrlen(self, word: KernelWord) -> u32 {
        let header = match self {
            TpacketVersion::V1 => v1::header_len(word),
            TpacketVersion::V2 => v2::HEADER_LEN,
            TpacketVersion::V3 => v3::HEADER_LEN,
        };
        tpacket_align(header as u32) + ll::LEN as u32
    }

    /// Where a TX frame's data starts when `PACKET_TX_HAS_OFF` is off:
    /// `tp_hdrlen - sizeof(struct sockaddr_ll)`.
    pub const fn tx_data_offset(self, word: KernelWord) -> u32 {
        self.hdrlen(word) - ll::LEN as u32
    }
}

impl fmt::Display for TpacketVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TpacketVersion::V1 => f.write_str("TPACKET_V1"),
            TpacketVersion::V2 => f.write_str("TPACKET_V2"),
            TpacketVersion::V3 => f.write_str("TPACKET_V3"),
        }
    }
}

/// Which ring of a socket a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RingKind {
    /// `PACKET_RX_RING`.
    Rx,
    /// `PACKET_TX_RING`.
    Tx,
}

impl fmt::Display for RingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingKind::Rx => f.write_str("PACKET_RX_RING"),
            RingKind::Tx => f.write_str("PACKET_TX_RING"),
        }
    }
}

/// The kernel's page size: a power of two of at least 4 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PageSize(u32);

impl PageSize {
    /// 4 KiB, the page size of x86_64 and of most ARM kernels.
    pub const DEFAULT: PageSize = PageSize(4096);

    /// A page size, if `bytes` is a power of two and at least 4096.
    pub const fn new(bytes: u32) -> Option<PageSize> {
        if bytes >= 4096 && bytes.is_power_of_two() {
            Some(PageSize(bytes))
        } else {
            None
        }
    }

    /// The size in bytes.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A ring request: every field of `struct tpacket_req3` (V1 and V2 use the
/// first four), plus the two pieces of socket state the kernel's checks
/// depend on: the version and `PACKET_RESERVE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RingRequest {
    /// The socket's `PACKET_VERSION`.
    pub version: TpacketVersion,
    /// RX or TX ring.
    pub kind: RingKind,
    /// `tp_block_size`: bytes per block (contiguous kernel memory).
    pub block_size: u32,
    /// `tp_block_nr`: number of blocks.
    pub block_nr: u32,
    /// `tp_frame_size`: bytes per frame (V1/V2; V3 uses it only in the checks).
    pub frame_size: u32,
    /// `tp_frame_nr`: total frames; must equal frames per block times blocks.
    pub frame_nr: u32,
    /// `tp_retire_blk_tov`: V3 block retire timeout in ms (0: kernel picks).
    pub retire_blk_tov: u32,
    /// `tp_sizeof_priv`: V3 per-block private area in bytes.
    pub sizeof_priv: u32,
    /// `tp_feature_req_word`: V3 feature bits (`TP_FT_REQ_FILL_RXHASH`).
    pub feature_req_word: u32,
    /// `PACKET_RESERVE`: headroom the kernel leaves before each packet.
    pub reserve: u32,
}

impl RingRequest {
    /// A request with the V3-only fields and the reserve set to zero.
    pub const fn new(
        version: TpacketVersion,
        kind: RingKind,
        block_size: u32,
        block_nr: u32,
        frame_size: u32,
        frame_nr: u32,
    ) -> RingRequest {
        RingRequest {
            version,
            kind,
            block_size,
            block_nr,
            frame_size,
            frame_nr,
            retire_blk_tov: 0,
            sizeof_priv: 0,
            feature_req_word: 0,
            reserve: 0,
        }
    }

    /// A request whose frames tile every block: `tp_frame_nr` is
    /// [`frame_nr`] of the sizes, the count rule 8 asks for.
    pub const fn tiled(
        version: TpacketVersion,
        kind: RingKind,
        block_size: u32,
        block_nr: u32,
        frame_size: u32,
    ) -> RingRequest {
        RingRequest::new(
            version,
            kind,
            block_size,
            block_nr,
            frame_size,
            frame_nr(block_size, block_nr, frame_size),
        )
    }

    /// Judge the request as `packet_set_ring` would on a kernel with this page
    /// size and word size, and return the layout the kernel would build.
    pub fn validate(&self, page: PageSize, word: KernelWord) -> Result<Layout, GeometryError> {
        let r = self;
        if r.reserve > MAX_RESERVE {
            return Err(GeometryError::ReserveTooLarge { reserve: r.reserve });
        }
        if r.block_nr == 0 {
            if r.frame_nr != 0 {
                return Err(GeometryError::FramesWithoutBlocks {
                    frame_nr: r.frame_nr,
                });
            }
            return Ok(Layout {
                request: *r,
                word,
                frames_per_block: 0,
            });
        }
        if r.block_size == 0 || r.block_size > i32::MAX as u32 {
            return Err(GeometryError::BlockSizeNotPositive {
                block_size: r.block_size,
            });
        }
        if !r.block_size.is_multiple_of(page.get()) {
            return Err(GeometryError::BlockSizeNotPageAligned {
                block_size: r.block_size,
                page_size: page.get(),
            });
        }
        let min_frame_size = r.version.hdrlen(word) + r.reserve;
        if r.version == TpacketVersion::V3 {
            let needed = blk_plus_priv(r.sizeof_priv) + u64::from(min_frame_size);
            if u64::from(r.block_size) < needed {
                return Err(GeometryError::BlockTooSmallForV3 {
                    block_size: r.block_size,
                    needed,
                });
            }
        }
        if r.frame_size < min_frame_size {
            return Err(GeometryError::FrameSizeTooSmall {
                frame_size: r.frame_size,
                min: min_frame_size,
                reserve: r.reserve,
            });
        }
        if !r.frame_size.is_multiple_of(TPACKET_ALIGNMENT) {
            return Err(GeometryError::FrameSizeNotAligned {
                frame_size: r.frame_size,
            });
        }
        let frames_per_block = r.block_size / r.frame_size;
        if frames_per_block == 0 {
            return Err(GeometryError::NoFramePerBlock {
                block_size: r.block_size,
                frame_size: r.frame_size,
            });
        }
        if frames_per_block > u32::MAX / r.block_nr {
            return Err(GeometryError::FrameCountOverflow {
                frames_per_block,
                block_nr: r.block_nr,
            });
        }
        let expected = frames_per_block * r.block_nr;
        if expected != r.frame_nr {
            return Err(GeometryError::FrameCountMismatch {
                frame_nr: r.frame_nr,
                frames_per_block,
                block_nr: r.block_nr,
            });
        }
        if r.version == TpacketVersion::V3 && r.kind == RingKind::Tx {
            if r.retire_blk_tov != 0 {
                return Err(GeometryError::TxRetireTimeout {
                    retire_blk_tov: r.retire_blk_tov,
                });
            }
            if r.sizeof_priv != 0 {
                return Err(GeometryError::TxPrivateArea {
                    sizeof_priv: r.sizeof_priv,
                });
            }
            if r.feature_req_word != 0 {
                return Err(GeometryError::TxFeatureWord {
                    feature_req_word: r.feature_req_word,
                });
            }
        }
        Ok(Layout {
            request: *r,
            word,
            frames_per_block,
        })
    }
}

/// The `tp_frame_nr` rule 8 expects: `tp_block_size / tp_frame_size *
/// tp_block_nr`. Sizes the kernel would refuse give a number its rules still
/// judge rather than a panic: 0 for a zero frame size, `u32::MAX` when the
/// product overflows (rule 7 names that).
pub const fn frame_nr(block_size: u32, block_nr: u32, frame_size: u32) -> u32 {
    match block_size.checked_div(frame_size) {
        Some(per_block) => per_block.saturating_mul(block_nr),
        None => 0,
    }
}

/// A rule of `packet_set_ring` that a request breaks. The kernel answers
/// every one of them with `EINVAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GeometryError {
    /// `PACKET_RESERVE` above `INT_MAX`: `packet_setsockopt` refuses it
    /// before any ring is asked for.
    ReserveTooLarge {
        /// `tp_reserve`.
        reserve: u32,
    },
    /// `(int)tp_block_size <= 0`: zero, or too large for a signed int.
    BlockSizeNotPositive {
        /// `tp_block_size`.
        block_size: u32,
    },
    /// `!PAGE_ALIGNED(tp_block_size)`.
    BlockSizeNotPageAligned {
        /// `tp_block_size`.
        block_size: u32,
        /// The kernel's page size.
        page_size: u32,
    },
    /// V3: the block cannot hold the block descriptor, the private area and
    /// one minimal frame.
    BlockTooSmallForV3 {
        /// `tp_block_size`.
        block_size: u32,
        /// `BLK_PLUS_PRIV(tp_sizeof_priv) + tp_hdrlen + tp_reserve`.
        needed: u64,
    },
    /// `tp_frame_size < tp_hdrlen + tp_reserve`.
    FrameSizeTooSmall {
        /// `tp_frame_size`.
        frame_size: u32,
        /// `tp_hdrlen + tp_reserve`.
        min: u32,
        /// `tp_reserve` (part of `min`).
        reserve: u32,
    },
    /// `tp_frame_size` is not a multiple of `TPACKET_ALIGNMENT` (16).
    FrameSizeNotAligned {
        /// `tp_frame_size`.
        frame_size: u32,
    },
    /// `tp_block_size / tp_frame_size == 0`: the frame is larger than a block.
    NoFramePerBlock {
        /// `tp_block_size`.
        block_size: u32,
        /// `tp_frame_size`.
        frame_size: u32,
    },
    /// `frames_per_block * tp_block_nr` does not fit in 32 bits.
    FrameCountOverflow {
        /// `tp_block_size / tp_frame_size`.
        frames_per_block: u32,
        /// `tp_block_nr`.
        block_nr: u32,
    },
    /// `frames_per_block * tp_block_nr != tp_frame_nr`.
    FrameCountMismatch {
        /// `tp_frame_nr`.
        frame_nr: u32,
        /// `tp_block_size / tp_frame_size`.
        frames_per_block: u32,
        /// `tp_block_nr`.
        block_nr: u32,
    },
    /// `tp_block_nr == 0` (free the ring) with a non-zero `tp_frame_nr`.
    FramesWithoutBlocks {
        /// `tp_frame_nr`.
        frame_nr: u32,
    },
    /// V3 TX rings have no block timer: `tp_retire_blk_tov` must be 0.
    TxRetireTimeout {
        /// `tp_retire_blk_tov`.
        retire_blk_tov: u32,
    },
    /// V3 TX rings have no block private area: `tp_sizeof_priv` must be 0.
    TxPrivateArea {
        /// `tp_sizeof_priv`.
        sizeof_priv: u32,
    },
    /// V3 TX rings take no feature request: `tp_feature_req_word` must be 0.
    TxFeatureWord {
        /// `tp_feature_req_word`.
        feature_req_word: u32,
    },
}

impl GeometryError {
    /// A short stable name for the rule, for logs and tests.
    pub const fn rule(&self) -> &'static str {
        match self {
            GeometryError::ReserveTooLarge { .. } => "reserve-max",
            GeometryError::BlockSizeNotPositive { .. } => "block-size-positive",
            GeometryError::BlockSizeNotPageAligned { .. } => "block-size-page-aligned",
            GeometryError::BlockTooSmallForV3 { .. } => "v3-block-holds-header-priv-frame",
            GeometryError::FrameSizeTooSmall { .. } => "frame-size-min",
            GeometryError::FrameSizeNotAligned { .. } => "frame-size-aligned",
            GeometryError::NoFramePerBlock { .. } => "frames-per-block-nonzero",
            GeometryError::FrameCountOverflow { .. } => "frame-count-overflow",
            GeometryError::FrameCountMismatch { .. } => "frame-nr-matches",
            GeometryError::FramesWithoutBlocks { .. } => "no-frames-without-blocks",
            GeometryError::TxRetireTimeout { .. } => "v3-tx-no-retire-timeout",
            GeometryError::TxPrivateArea { .. } => "v3-tx-no-private-area",
            GeometryError::TxFeatureWord { .. } => "v3-tx-no-feature-word",
        }
    }
}

impl fmt::Display for GeometryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GeometryError::ReserveTooLarge { reserve } => write!(
                f,
                "the reserve (PACKET_RESERVE) must be at most INT_MAX ({MAX_RESERVE}), got \
                 {reserve}"
            ),
            GeometryError::BlockSizeNotPositive { block_size } => write!(
                f,
                "block size must be positive as a signed int (1..={}), got {block_size}",
                i32::MAX
            ),
            GeometryError::BlockSizeNotPageAligned {
                block_size,
                page_size,
            } => write!(
                f,
                "block size must be a multiple of the page size {page_size}, got {block_size}"
            ),
            GeometryError::BlockTooSmallForV3 { block_size, needed } => write!(
                f,
                "TPACKET_V3 block must hold the block header, the private area and one frame \
                 ({needed} bytes), got block size {block_size}"
            ),
            GeometryError::FrameSizeTooSmall {
                frame_size,
                min,
                reserve,
            } => write!(
                f,
                "frame size must be at least the header length plus the reserve \
                 ({} + {reserve} = {min}), got {frame_size}",
                min - reserve
            ),
            GeometryError::FrameSizeNotAligned { frame_size } => write!(
                f,
                "frame size must be a multiple of TPACKET_ALIGNMENT ({TPACKET_ALIGNMENT}), \
                 got {frame_size}"
            ),
            GeometryError::NoFramePerBlock {
                block_size,
                frame_size,
            } => write!(
                f,
                "a block must hold at least one frame: frame size {frame_size} is larger than \
                 block size {block_size}"
            ),
            GeometryError::FrameCountOverflow {
                frames_per_block,
                block_nr,
            } => write!(
                f,
                "frames per block ({frames_per_block}) times block count ({block_nr}) \
                 overflows 32 bits"
            ),
            GeometryError::FrameCountMismatch {
                frame_nr,
                frames_per_block,
                block_nr,
            } => write!(
                f,
                "frame count must equal frames per block times block count \
                 ({frames_per_block} * {block_nr} = {}), got {frame_nr}",
                u64::from(frames_per_block) * u64::from(block_nr)
            ),
            GeometryError::FramesWithoutBlocks { frame_nr } => write!(
                f,
                "frame count must be 0 when block count is 0 (freeing the ring), got {frame_nr}"
            ),
            GeometryError::TxRetireTimeout { retire_blk_tov } => write!(
                f,
                "TPACKET_V3 TX rings take no retire timeout (must be 0), got {retire_blk_tov}"
            ),
            GeometryError::TxPrivateArea { sizeof_priv } => write!(
                f,
                "TPACKET_V3 TX rings take no block private area (must be 0), got {sizeof_priv}"
            ),
            GeometryError::TxFeatureWord { feature_req_word } => write!(
                f,
                "TPACKET_V3 TX rings take no feature request word (must be 0), \
                 got {feature_req_word:#x}"
            ),
        }
    }
}

/// Where things are in a ring the kernel accepted.
///
/// Frames never cross a block: each block holds `frames_per_block` frames
/// from its start and leaves [`Layout::block_tail`] bytes unused at its end.
/// Where the kernel puts a packet in a slot, and how much fits, is in
/// [`crate::room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Layout {
    request: RingRequest,
    word: KernelWord,
    frames_per_block: u32,
}

impl Layout {
    /// The request this layout was built from.
    pub const fn request(&self) -> &RingRequest {
        &self.request
    }

    /// The kernel word size the layout was judged for.
    pub const fn word(&self) -> KernelWord {
        self.word
    }

    /// True for a request that frees the ring (no blocks).
    pub const fn is_empty(&self) -> bool {
        self.request.block_nr == 0
    }

    /// `tp_block_size / tp_frame_size`.
    pub const fn frames_per_block(&self) -> u32 {
        self.frames_per_block
    }

    /// `tp_block_size`.
    pub const fn block_size(&self) -> u32 {
        self.request.block_size
    }

    /// `tp_block_nr`.
    pub const fn block_nr(&self) -> u32 {
        self.request.block_nr
    }

    /// `tp_frame_size`.
    pub const fn frame_size(&self) -> u32 {
        self.request.frame_size
    }

    /// `tp_frame_nr`.
    pub const fn frame_nr(&self) -> u32 {
        self.request.frame_nr
    }

    /// `po->tp_hdrlen` for this ring's version and the kernel's word size.
    pub const fn hdrlen(&self) -> u32 {
        self.request.version.hdrlen(self.word)
    }

    /// Bytes at the end of each block that no frame uses.
    pub const fn block_tail(&self) -> u32 {
        if self.frames_per_block == 0 {
            return 0;
        }
        self.request.block_size - self.frames_per_block * self.request.frame_size
    }

    /// Bytes of this ring in the mapping (`tp_block_size * tp_block_nr`).
    pub const fn mmap_len(&self) -> u64 {
        self.request.block_size as u64 * self.request.block_nr as u64
    }

    /// Offset of block `index` from the start of this ring.
    pub const fn block_offset(&self, index: u32) -> Option<u64> {
        if index < self.request.block_nr {
            Some(index as u64 * self.request.block_size as u64)
        } else {
            None
        }
    }

    /// Offset of frame `index` from the start of this ring (V1/V2 frames and
    /// V3 TX frames, which the kernel addresses the same way).
    pub const fn frame_offset(&self, index: u32) -> Option<u64> {
        if index >= self.request.frame_nr || self.frames_per_block == 0 {
            return None;
        }
        let block = index / self.frames_per_block;
        let within = index % self.frames_per_block;
        Some(
            block as u64 * self.request.block_size as u64
                + within as u64 * self.request.frame_size as u64,
        )
    }
}

/// The single mapping of a socket with an RX ring, a TX ring or both: the
/// kernel maps the RX ring first and the TX ring right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mapping {
    /// The RX ring, if the socket has one.
    pub rx: Option<Layout>,
    /// The TX ring, if the socket has one.
    pub tx: Option<Layout>,
}

impl Mapping {
    /// Offset of the RX ring in the mapping (always 0 when present).
    pub const fn rx_offset(&self) -> Option<u64> {
        match self.rx {
            Some(_) => Some(0),
            None => None,
        }
    }

    /// Offset of the TX ring in the mapping: right after the RX ring.
    pub const fn tx_offset(&self) -> Option<u64> {
        match (self.rx, self.tx) {
            (_, None) => None,
            (None, Some(_)) => Some(0),
            (Some(rx), Some(_)) => Some(rx.mmap_len()),
        }
    }

    /// The length `mmap` must be called with (the kernel refuses any other).
    pub const fn len(&self) -> u64 {
        let rx = match self.rx {
            Some(l) => l.mmap_len(),
            None => 0,
        };
        let tx = match self.tx {
            Some(l) => l.mmap_len(),
            None => 0,
        };
        rx + tx
    }

    /// True when neither ring has any memory (the kernel refuses to map it).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The buffer size calculator of `Documentation/networking/packet_mmap.rst`:
/// the largest ring a kernel can give, from its slab and page limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Calculator {
    /// The largest kmalloc allocation (`size-max`), which holds the block
    /// pointer vector.
    pub size_max: u64,
    /// Size of a kernel pointer (4 or 8).
    pub pointer_size: u64,
    /// The kernel's page size.
    pub page_size: u64,
    /// `MAX_ORDER`: the largest block is `page_size << max_order`.
    pub max_order: u32,
    /// The frame size the ring would use.
    pub frame_size: u64,
}

/// What [`Calculator::compute`] works out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CalculatorResult {
    /// `<block number> = <size-max> / <pointer size>`.
    pub block_nr: u64,
    /// `<block size> = <page size> << <max-order>`.
    pub block_size: u64,
    /// `<max buffer> = <block number> * <block size>` in bytes.
    pub max_buffer: u128,
    /// `<max frames> = <max buffer> / <frame size>`.
    pub max_frames: u128,
}

/// A calculator input that makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CalculatorError {
    /// Pointer size must be 4 or 8.
    PointerSize(u64),
    /// Page size must be a power of two, at least 4096.
    PageSize(u64),
    /// `page_size << max_order` must fit in 64 bits.
    MaxOrder(u32),
    /// Frame size must be non-zero.
    FrameSize(u64),
}

impl fmt::Display for CalculatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CalculatorError::PointerSize(v) => write!(f, "pointer size must be 4 or 8, got {v}"),
            CalculatorError::PageSize(v) => write!(
                f,
                "page size must be a power of two of at least 4096, got {v}"
            ),
            CalculatorError::MaxOrder(v) => write!(
                f,
                "max order must keep page size << max order within 64 bits, got {v}"
            ),
            CalculatorError::FrameSize(v) => write!(f, "frame size must be non-zero, got {v}"),
        }
    }
}

impl Calculator {
    /// Work out the figures, or say which input is wrong.
    pub fn compute(&self) -> Result<CalculatorResult, CalculatorError> {
        if self.pointer_size != 4 && self.pointer_size != 8 {
            return Err(CalculatorError::PointerSize(self.pointer_size));
        }
        if self.page_size < 4096 || !self.page_size.is_power_of_two() {
            return Err(CalculatorError::PageSize(self.page_size));
        }
        if self.frame_size == 0 {
            return Err(CalculatorError::FrameSize(self.frame_size));
        }
        let block_size = self
            .page_size
            .checked_shl(self.max_order)
            .filter(|b| b >> self.max_order == self.page_size)
            .ok_or(CalculatorError::MaxOrder(self.max_order))?;
        let block_nr = self.size_max / self.pointer_size;
        let max_buffer = u128::from(block_nr) * u128::from(block_size);
        Ok(CalculatorResult {
            block_nr,
            block_size,
            max_buffer,
            max_frames: max_buffer / u128::from(self.frame_size),
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    const W64: KernelWord = KernelWord::Bits64;
    const PAGE: PageSize = PageSize::DEFAULT;

    fn req(v: TpacketVersion, k: RingKind, bs: u32, bn: u32, fs: u32, fnr: u32) -> RingRequest {
        RingRequest::new(v, k, bs, bn, fs, fnr)
    }

    #[test]
    fn test_hdrlen() {
        // TPACKET_HDRLEN, TPACKET2_HDRLEN, TPACKET3_HDRLEN from if_packet.h.
        assert_eq!(TpacketVersion::V1.hdrlen(KernelWord::Bits64), 52);
        assert_eq!(TpacketVersion::V1.hdrlen(KernelWord::Bits32), 52);
        assert_eq!(TpacketVersion::V2.hdrlen(W64), 52);
        assert_eq!(TpacketVersion::V3.hdrlen(W64), 68);
        assert_eq!(TpacketVersion::V1.tx_data_offset(W64), 32);
        assert_eq!(TpacketVersion::V3.tx_data_offset(W64), 48);
        assert_eq!(BLK_HDR_LEN, 48);
        assert_eq!(blk_plus_priv(0), 48);
        assert_eq!(blk_plus_priv(1), 56);
        assert_eq!(blk_plus_priv(u32::MAX), 48 + (1 << 32));
    }

    #[test]
    fn test_documented_example() {
        // packet_mmap.rst: 4096-byte blocks of 2048-byte frames.
        let l = req(TpacketVersion::V2, RingKind::Rx, 4096, 4, 2048, 8)
            .validate(PAGE, W64)
            .unwrap();
        assert_eq!(l.frames_per_block(), 2);
        assert_eq!(l.block_tail(), 0);
        assert_eq!(l.mmap_len(), 16384);
        assert_eq!(l.frame_offset(3), Some(6144));
        assert_eq!(l.frame_offset(8), None);
    }

    #[test]
    fn test_frame_nr() {
        assert_eq!(frame_nr(4096, 4, 2048), 8);
        assert_eq!(frame_nr(8192, 2, 1536), 10);
        // Left for the rules to name, never a panic.
        assert_eq!(frame_nr(4096, 3, 0), 0);
        assert_eq!(frame_nr(1 << 20, u32::MAX, 16), u32::MAX);
        let r = RingRequest::tiled(TpacketVersion::V2, RingKind::Rx, 8192, 2, 1536);
        assert_eq!(r, req(TpacketVersion::V2, RingKind::Rx, 8192, 2, 1536, 10));
        assert!(r.validate(PAGE, W64).is_ok());
        let overflow = RingRequest::tiled(TpacketVersion::V2, RingKind::Rx, 4096, 1 << 29, 64);
        assert_eq!(
            overflow.validate(PAGE, W64).unwrap_err().rule(),
            "frame-count-overflow"
        );
    }

    #[test]
    fn test_block_tail() {
        let l = req(TpacketVersion::V2, RingKind::Rx, 8192, 2, 1536, 10)
            .validate(PAGE, W64)
            .unwrap();
        assert_eq!(l.frames_per_block(), 5);
        assert_eq!(l.block_tail(), 8192 - 5 * 1536);
        // Frame 5 starts the second block, not right after frame 4.
        assert_eq!(l.frame_offset(4), Some(4 * 1536));
        assert_eq!(l.frame_offset(5), Some(8192));
    }

    #[test]
    fn test_each_rule() {
        use GeometryError as E;
        use RingKind::*;
        use TpacketVersion::*;
        let cases: &[(RingRequest, &str)] = &[
            (req(V2, Rx, 0, 1, 2048, 2), "block-size-positive"),
            (req(V2, Rx, 0x8000_0000, 1, 2048, 2), "block-size-positive"),
            (req(V2, Rx, 4095, 1, 2048, 1), "block-size-page-aligned"),
            (req(V2, Rx, 4096, 1, 48, 85), "frame-size-min"),
            (req(V2, Rx, 4096, 1, 72, 56), "frame-size-aligned"),
            (req(V2, Rx, 4096, 1, 8192, 0), "frames-per-block-nonzero"),
            (
                req(V2, Rx, 4096, 0x2000_0000, 64, 0),
                "frame-count-overflow",
            ),
            (req(V2, Rx, 4096, 2, 2048, 3), "frame-nr-matches"),
            (req(V2, Rx, 4096, 0, 2048, 3), "no-frames-without-blocks"),
        ];
        for (r, rule) in cases {
            let e = r.validate(PAGE, W64).unwrap_err();
            assert_eq!(e.rule(), *rule, "{r:?}: {e}");
        }
        let mut v3 = req(V3, Rx, 4096, 1, 2048, 2);
        v3.sizeof_priv = 4096 - 48 - 68 + 1;
        assert!(matches!(
            v3.validate(PAGE, W64),
            Err(E::BlockTooSmallForV3 { needed: 4100, .. })
        ));
        let mut tx = req(V3, Tx, 4096, 1, 2048, 2);
        tx.retire_blk_tov = 10;
        assert_eq!(
            tx.validate(PAGE, W64).unwrap_err().rule(),
            "v3-tx-no-retire-timeout"
        );
        tx.retire_blk_tov = 0;
        tx.sizeof_priv = 16;
        assert_eq!(
            tx.validate(PAGE, W64).unwrap_err().rule(),
            "v3-tx-no-private-area"
        );
        tx.sizeof_priv = 0;
        tx.feature_req_word = 1;
        assert_eq!(
            tx.validate(PAGE, W64).unwrap_err().rule(),
            "v3-tx-no-feature-word"
        );
        // The same fields are fine on an RX ring.
        let mut rx = req(V3, Rx, 4096, 1, 2048, 2);
        rx.retire_blk_tov = 10;
        rx.sizeof_priv = 16;
        rx.feature_req_word = 1;
        assert!(rx.validate(PAGE, W64).is_ok());
    }

    #[test]
    fn test_reserve_counts_in_min_frame() {
        let mut r = req(TpacketVersion::V2, RingKind::Rx, 4096, 1, 64, 64);
        assert!(r.validate(PAGE, W64).is_ok());
        r.reserve = 13;
        let e = r.validate(PAGE, W64).unwrap_err();
        assert_eq!(
            e,
            GeometryError::FrameSizeTooSmall {
                frame_size: 64,
                min: 65,
                reserve: 13
            }
        );
        let mut text = std::string::String::new();
        core::fmt::write(&mut text, format_args!("{e}")).unwrap();
        assert!(text.contains("52 + 13 = 65"), "{text}");
    }

    #[test]
    fn test_reserve_above_int_max() {
        // Rule 0, before any ring rule and even for a request that frees
        // the ring; INT_MAX itself is allowed (and then breaks the frame
        // size rule, with no wrap-around in the sum).
        for (block_nr, frame_nr) in [(1, 2), (0, 0)] {
            let mut r = req(
                TpacketVersion::V2,
                RingKind::Rx,
                4096,
                block_nr,
                2048,
                frame_nr,
            );
            for reserve in [MAX_RESERVE + 1, 0x8000_0000 | 52, u32::MAX] {
                r.reserve = reserve;
                assert_eq!(
                    r.validate(PAGE, W64),
                    Err(GeometryError::ReserveTooLarge { reserve })
                );
                assert_eq!(
                    GeometryError::ReserveTooLarge { reserve }.rule(),
                    "reserve-max"
                );
            }
        }
        let mut r = req(TpacketVersion::V3, RingKind::Rx, 4096, 1, 2048, 2);
        r.reserve = MAX_RESERVE;
        assert_eq!(
            r.validate(PAGE, W64).unwrap_err().rule(),
            "v3-block-holds-header-priv-frame"
        );
    }

    #[test]
    fn test_free_request() {
        let l = req(TpacketVersion::V3, RingKind::Rx, 0, 0, 0, 0)
            .validate(PAGE, W64)
            .unwrap();
        assert!(l.is_empty());
        assert_eq!(l.mmap_len(), 0);
        assert_eq!(l.frame_offset(0), None);
    }

    #[test]
    fn test_mapping() {
        let rx = req(TpacketVersion::V2, RingKind::Rx, 8192, 3, 2048, 12)
            .validate(PAGE, W64)
            .unwrap();
        let tx = req(TpacketVersion::V2, RingKind::Tx, 4096, 2, 2048, 4)
            .validate(PAGE, W64)
            .unwrap();
        let m = Mapping {
            rx: Some(rx),
            tx: Some(tx),
        };
        assert_eq!(m.tx_offset(), Some(24576));
        assert_eq!(m.len(), 24576 + 8192);
        let tx_only = Mapping {
            rx: None,
            tx: Some(tx),
        };
        assert_eq!(tx_only.tx_offset(), Some(0));
        assert_eq!(tx_only.rx_offset(), None);
    }

    #[test]
    fn test_calculator_documented_example() {
        let r = Calculator {
            size_max: 131072,
            pointer_size: 4,
            page_size: 4096,
            max_order: 11,
            frame_size: 2048,
        }
        .compute()
        .unwrap();
        assert_eq!(r.block_nr, 32768);
        assert_eq!(r.block_size, 8 << 20);
        assert_eq!(r.max_buffer, 262144 << 20);
        assert_eq!(r.max_frames, 134217728);
    }

    #[test]
    fn test_calculator_rejects() {
        let ok = Calculator {
            size_max: 131072,
            pointer_size: 8,
            page_size: 4096,
            max_order: 10,
            frame_size: 2048,
        };
        assert!(ok.compute().is_ok());
        assert_eq!(
            Calculator {
                pointer_size: 2,
                ..ok
            }
            .compute(),
            Err(CalculatorError::PointerSize(2))
        );
        assert_eq!(
            Calculator {
                page_size: 5000,
                ..ok
            }
            .compute(),
            Err(CalculatorError::PageSize(5000))
        );
        assert_eq!(
            Calculator {
                max_order: 60,
                ..ok
            }
            .compute(),
            Err(CalculatorError::MaxOrder(60))
        );
        assert_eq!(
            Calculator {
                frame_size: 0,
                ..ok
            }
            .compute(),
            Err(CalculatorError::FrameSize(0))
        );
    }

    fn version() -> impl Strategy<Value = TpacketVersion> {
        prop_oneof![
            Just(TpacketVersion::V1),
            Just(TpacketVersion::V2),
            Just(TpacketVersion::V3)
        ]
    }

    proptest! {
        /// Every frame of an accepted ring lies inside its block, inside the
        /// mapping, and frames do not overlap.
        #[test]
        fn prop_frames_inside_blocks(
            v in version(),
            pages in 1u32..64,
            frame_units in 4u32..512,
            block_nr in 1u32..64,
        ) {
            let block_size = pages * 4096;
            let frame_size = frame_units * 16;
            let fpb = block_size / frame_size;
            let r = req(v, RingKind::Rx, block_size, block_nr, frame_size, fpb * block_nr);
            match r.validate(PAGE, W64) {
                Ok(l) => {
                    prop_assert!(fpb > 0);
                    let mut prev_end = 0u64;
                    for i in 0..l.frame_nr() {
                        let off = l.frame_offset(i).unwrap();
                        let block = off / u64::from(block_size);
                        let end = off + u64::from(frame_size);
                        prop_assert!(off >= prev_end);
                        prop_assert!(end <= (block + 1) * u64::from(block_size));
                        prop_assert!(end <= l.mmap_len());
                        prev_end = end;
                    }
                    prop_assert_eq!(
                        u64::from(l.frames_per_block()) * u64::from(frame_size)
                            + u64::from(l.block_tail()),
                        u64::from(block_size)
                    );
                }
                Err(e) => prop_assert!(
                    fpb == 0 || frame_size < v.hdrlen(W64)
                        || (v == TpacketVersion::V3 && block_size < 48 + 68),
                    "unexpected {:?}", e
                ),
            }
        }

        /// Validation never panics, whatever the numbers.
        #[test]
        fn prop_validate_total(
            v in version(),
            tx in any::<bool>(),
            bs in any::<u32>(), bn in any::<u32>(), fs in any::<u32>(), fnr in any::<u32>(),
            tov in any::<u32>(), sp in any::<u32>(), fw in any::<u32>(), rs in 0u32..=i32::MAX as u32,
            word in prop_oneof![Just(KernelWord::Bits32), Just(KernelWord::Bits64)],
        ) {
            let kind = if tx { RingKind::Tx } else { RingKind::Rx };
            let r = RingRequest {
                version: v, kind, block_size: bs, block_nr: bn, frame_size: fs, frame_nr: fnr,
                retire_blk_tov: tov, sizeof_priv: sp, feature_req_word: fw, reserve: rs,
            };
            if let Ok(l) = r.validate(PAGE, word) {
                prop_assert_eq!(l.mmap_len(), u64::from(bs) * u64::from(bn));
                if bn > 0 {
                    prop_assert_eq!(l.frame_offset(fnr - 1).map(|o| o < l.mmap_len()), Some(true));
                }
            }
        }
    }
}
