//! The shared mapping of a socket's rings and the ring handles on it.

use core::ptr::NonNull;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use ringtap_core::frame::{ll, v1, v2, v3, vnet, FrameError, KernelWord, Timestamp};
use ringtap_core::geometry::{Layout, Mapping, TpacketVersion};
use ringtap_core::slot::{RingMemory, TxFrame, UserFrame};
use ringtap_core::status::{RxStatus, TxState, TxStatus, UnknownTxStatus};

use crate::error::{Error, Result};
use crate::socket::SocketType;

/// One `mmap` of a packet socket's rings: RX first, then TX. Unmapped on
/// drop; the ring handles borrow from it.
#[derive(Debug)]
pub struct MappedRing {
    base: NonNull<u8>,
    len: usize,
    rx: Option<RxRing>,
    tx: Option<TxRing>,
}

// SAFETY: the mapping is process memory, not tied to a thread; all access
// goes through `&mut self`.
#[allow(unsafe_code)]
unsafe impl Send for MappedRing {}

/// The RX side of a mapping: frames (V1/V2) or blocks (V3).
#[derive(Debug)]
pub enum RxRing {
    /// `TPACKET_V1` / `TPACKET_V2`: one packet per frame.
    Frames(FrameRxRing),
    /// `TPACKET_V3`: packets packed into blocks.
    Blocks(BlockRxRing),
}

impl MappedRing {
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        mapping: Mapping,
        ty: SocketType,
        vnet_hdr: bool,
    ) -> Result<MappedRing> {
        let err = |e| Error::new("mmap", Some("PACKET_MMAP"), e);
        let len = usize::try_from(mapping.len()).map_err(|_| err(Errno::NOMEM))?;
        if len == 0 {
            return Err(err(Errno::INVAL));
        }
        // SAFETY: a fresh shared mapping chosen by the kernel (null hint);
        // nothing else refers to that address range.
        #[allow(unsafe_code)]
        let ptr = unsafe {
            rustix::mm::mmap(
                core::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                fd,
                0,
            )
        }
        .map_err(err)?;
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(err(Errno::NOMEM))?;
        let mut mapped = MappedRing {
            base,
            len,
            rx: None,
            tx: None,
        };
        if let (Some(layout), Some(off)) = (mapping.rx, mapping.rx_offset()) {
            let mem = mapped.ring_memory(off, layout);
            mapped.rx = Some(match layout.request().version {
                TpacketVersion::V3 => RxRing::Blocks(BlockRxRing(RxCursor { mem, next: 0 })),
                _ => RxRing::Frames(FrameRxRing(RxCursor { mem, next: 0 })),
            });
        }
        if let (Some(layout), Some(off)) = (mapping.tx, mapping.tx_offset()) {
            let mem = mapped.ring_memory(off, layout);
            mapped.tx = Some(TxRing::new(mem, ty, vnet_hdr));
        }
        Ok(mapped)
    }

    fn ring_memory(&self, offset: u64, layout: Layout) -> RingMemory {
        // SAFETY: `offset + layout.mmap_len() <= self.len` (Mapping puts the
        // TX ring right after the RX ring and `len` is their sum); the
        // mapping outlives the ring, which `self` owns and drops first.
        #[allow(unsafe_code)]
        unsafe {
            RingMemory::new(self.base.add(offset as usize), layout)
        }
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: an empty mapping is refused at creation.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The RX ring, V1/V2.
    pub fn rx_frames(&mut self) -> Option<&mut FrameRxRing> {
        match &mut self.rx {
            Some(RxRing::Frames(r)) => Some(r),
            _ => None,
        }
    }

    /// The RX ring, V3.
    pub fn rx_blocks(&mut self) -> Option<&mut BlockRxRing> {
        match &mut self.rx {
            Some(RxRing::Blocks(r)) => Some(r),
            _ => None,
        }
    }

    /// The TX ring.
    pub fn tx(&mut self) -> Option<&mut TxRing> {
        self.tx.as_mut()
    }

    /// Hand the frames the kernel has filled, in ring order, to `f`: every
    /// ready V1/V2 frame, or every packet of every ready V3 block, at most
    /// `max_slots` frames or blocks. Each frame or block goes back to the
    /// kernel once `f` has seen it. Packets that fail their bounds checks are
    /// not passed to `f`, only counted. An error from `f` stops the walk.
    pub fn for_each_received<E>(
        &mut self,
        max_slots: usize,
        mut f: impl FnMut(&FrameInfo, &[u8]) -> core::result::Result<(), E>,
    ) -> core::result::Result<Walk, E> {
        let mut walk = Walk::default();
        match &mut self.rx {
            Some(RxRing::Blocks(blocks)) => {
                for _ in 0..max_slots {
                    let Some(block) = blocks.next_block() else {
                        break;
                    };
                    let total = block.descriptor().num_pkts() as usize;
                    let mut seen = 0;
                    if let Ok(packets) = block.packets() {
                        for p in packets {
                            let Ok(p) = p else { break };
                            seen += 1;
                            f(&FrameInfo::from_v3(&p), p.data)?;
                        }
                    }
                    walk.frames += seen;
                    walk.malformed += total.saturating_sub(seen);
                    walk.slots += 1;
                }
            }
            Some(RxRing::Frames(frames)) => {
                for _ in 0..max_slots {
                    let Some(frame) = frames.next_frame() else {
                        break;
                    };
                    walk.slots += 1;
                    match (frame.info(), frame.data()) {
                        (Ok(info), Ok(data)) => {
                            walk.frames += 1;
                            f(&info, data)?;
                        }
                        _ => walk.malformed += 1,
                    }
                }
            }
            None => {}
        }
        Ok(walk)
    }

    /// Both rings at once (to forward from one to the other).
    pub fn split(&mut self) -> (Option<&mut RxRing>, Option<&mut TxRing>) {
        (self.rx.as_mut(), self.tx.as_mut())
    }
}

impl Drop for MappedRing {
    fn drop(&mut self) {
        self.rx = None;
        self.tx = None;
        // SAFETY: `base`/`len` are exactly what mmap returned; the ring
        // handles that pointed into it are gone (above), and no borrow of
        // them can outlive `self`.
        #[allow(unsafe_code)]
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// What [`MappedRing::for_each_received`] went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walk {
    /// Frames or blocks handed back to the kernel.
    pub slots: usize,
    /// Packets passed on.
    pub frames: usize,
    /// Packets a header claimed that failed the bounds checks (a V3 block
    /// whose walk stopped early, or a V1/V2 frame).
    pub malformed: usize,
}

/// The header fields of a received packet, whatever the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// `tp_status`.
    pub status: RxStatus,
    /// `tp_len`: length on the wire.
    pub len: u32,
    /// `tp_snaplen`: bytes in the ring.
    pub snaplen: u32,
    /// `tp_mac`.
    pub mac: u16,
    /// `tp_net`.
    pub net: u16,
    /// Receive time.
    pub timestamp: Timestamp,
    /// The stripped VLAN TCI, when `TP_STATUS_VLAN_VALID` (V2/V3).
    pub vlan_tci: Option<u16>,
    /// The stripped tag's TPID, when `TP_STATUS_VLAN_TPID_VALID` (V2/V3).
    pub vlan_tpid: Option<u16>,
    /// The `sockaddr_ll` after the header.
    pub addr: ll::Repr,
}

fn vlan(status: RxStatus, tci: u16, tpid: u16) -> (Option<u16>, Option<u16>) {
    (
        status.contains(RxStatus::VLAN_VALID).then_some(tci),
        status.contains(RxStatus::VLAN_TPID_VALID).then_some(tpid),
    )
}

impl FrameInfo {
    /// The fields of a V3 packet found by the block walk.
    pub fn from_v3(p: &v3::Packet<'_>) -> FrameInfo {
        let h = &p.header;
        let status = RxStatus(h.tp_status());
        let (vlan_tci, vlan_tpid) = vlan(status, h.tp_vlan_tci(), h.tp_vlan_tpid());
        FrameInfo {
            status,
            len: h.tp_len(),
            snaplen: h.tp_snaplen(),
            mac: h.tp_mac(),
            net: h.tp_net(),
            timestamp: h.timestamp(),
            vlan_tci,
            vlan_tpid,
            addr: ll::Repr::parse(&h.addr()),
        }
    }
}

/// The RX side's position: the next slot to take, in ring order.
#[derive(Debug)]
struct RxCursor {
    mem: RingMemory,
    next: u32,
}

impl RxCursor {
    /// Take the next slot if the kernel has handed it over.
    fn take(&mut self) -> Option<(u32, UserFrame<'_>)> {
        let index = self.next;
        let after = (index + 1) % self.mem.slot_count();
        let slot = self.mem.slot(index)?.take_rx()?;
        self.next = after;
        Some((index, slot))
    }

    fn is_ready(&self) -> bool {
        self.mem
            .peek_status(self.next)
            .is_some_and(|s| RxStatus(s).contains(RxStatus::USER))
    }
}

/// A V1/V2 RX ring: one packet per frame, taken in order.
#[derive(Debug)]
pub struct FrameRxRing(RxCursor);

impl FrameRxRing {
    /// The next frame, if the kernel has filled it. Dropping the frame hands
    /// it back.
    pub fn next_frame(&mut self) -> Option<RxFrame<'_>> {
        let version = self.0.mem.layout().request().version;
        let word = self.0.mem.layout().word();
        let (index, frame) = self.0.take()?;
        Some(RxFrame {
            frame,
            version,
            word,
            index,
        })
    }

    /// True when the next frame is ready (no ownership taken).
    pub fn is_ready(&self) -> bool {
        self.0.is_ready()
    }

    /// The ring's layout.
    pub fn layout(&self) -> &Layout {
        self.0.mem.layout()
    }
}

/// A received V1/V2 frame, ours until dropped.
#[derive(Debug)]
pub struct RxFrame<'a> {
    frame: UserFrame<'a>,
    version: TpacketVersion,
    word: KernelWord,
    index: u32,
}

impl RxFrame<'_> {
    /// Position of the frame in the ring.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The status word when the frame was taken.
    pub fn status(&self) -> RxStatus {
        self.frame.status()
    }

    /// The header fields.
    pub fn info(&self) -> core::result::Result<FrameInfo, FrameError> {
        let bytes = self.frame.bytes();
        let status = self.status();
        if self.version == TpacketVersion::V1 {
            let h = v1::Header::new_checked(bytes, self.word)?;
            Ok(FrameInfo {
                status,
                len: h.tp_len(),
                snaplen: h.tp_snaplen(),
                mac: h.tp_mac(),
                net: h.tp_net(),
                timestamp: h.timestamp(),
                vlan_tci: None,
                vlan_tpid: None,
                addr: ll::Repr::parse(&h.addr()),
            })
        } else {
            let h = v2::Header::new_checked(bytes)?;
            let (vlan_tci, vlan_tpid) = vlan(status, h.tp_vlan_tci(), h.tp_vlan_tpid());
            Ok(FrameInfo {
                status,
                len: h.tp_len(),
                snaplen: h.tp_snaplen(),
                mac: h.tp_mac(),
                net: h.tp_net(),
                timestamp: h.timestamp(),
                vlan_tci,
                vlan_tpid,
                addr: ll::Repr::parse(&h.addr()),
            })
        }
    }

    /// The packet bytes in the frame, bounds-checked.
    pub fn data(&self) -> core::result::Result<&[u8], FrameError> {
        let bytes = self.frame.bytes();
        if self.version == TpacketVersion::V1 {
            v1::Header::new_checked(bytes, self.word)?.into_packet()
        } else {
            v2::Header::new_checked(bytes)?.into_packet()
        }
    }
}

/// A V3 RX ring: blocks of packets, taken in order.
#[derive(Debug)]
pub struct BlockRxRing(RxCursor);

impl BlockRxRing {
    /// The next block, if the kernel has retired it (full or timed out).
    pub fn next_block(&mut self) -> Option<RxBlock<'_>> {
        let (index, block) = self.0.take()?;
        Some(RxBlock { block, index })
    }

    /// True when the next block is ready.
    pub fn is_ready(&self) -> bool {
        self.0.is_ready()
    }

    /// The ring's layout.
    pub fn layout(&self) -> &Layout {
        self.0.mem.layout()
    }
}

/// A retired V3 block, ours until dropped.
#[derive(Debug)]
pub struct RxBlock<'a> {
    block: UserFrame<'a>,
    index: u32,
}

impl RxBlock<'_> {
    /// Position of the block in the ring.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// `block_status` when the block was taken (`TP_STATUS_BLK_TMO` when
    /// the timer retired it).
    pub fn status(&self) -> RxStatus {
        self.block.status()
    }

    /// The block descriptor.
    pub fn descriptor(&self) -> v3::BlockDescriptor<&[u8]> {
        v3::BlockDescriptor::new_unchecked(self.block.bytes())
    }

    /// Walk the packets, each checked against the block.
    pub fn packets(&self) -> core::result::Result<v3::Packets<'_>, FrameError> {
        v3::BlockDescriptor::new_checked(self.block.bytes())?.into_packets()
    }
}

/// Why a TX frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// The next frame is still the kernel's (queued or being sent): kick and
    /// wait for `POLLOUT`.
    Full,
    /// The kernel refused frame `index` and stopped the ring there (no
    /// `PACKET_LOSS`); [`TxRing::drop_refused`] drops it and moves on.
    Refused {
        /// The refused frame.
        index: u32,
    },
    /// The payload does not fit the frame at that offset.
    TooLong {
        /// Payload bytes.
        len: usize,
        /// Bytes available.
        room: usize,
    },
    /// The offset is before the kernel's minimum (`tp_hdrlen - sizeof(sockaddr_ll)`).
    OffsetTooSmall {
        /// Requested offset.
        offset: usize,
        /// Minimum.
        min: usize,
    },
    /// The status word holds no TX state: memory is corrupt.
    Corrupt(UnknownTxStatus),
}

impl core::fmt::Display for TxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TxError::Full => f.write_str("TX ring full: every frame is queued or being sent"),
            TxError::Refused { index } => write!(
                f,
                "the kernel refused TX frame {index} (TP_STATUS_WRONG_FORMAT: too long for the \
                 MTU or bad offset) and stopped the ring at it"
            ),
            TxError::TooLong { len, room } => {
                write!(
                    f,
                    "payload of {len} bytes does not fit the {room} bytes of a TX frame"
                )
            }
            TxError::OffsetTooSmall { offset, min } => {
                write!(
                    f,
                    "TX data offset {offset} is below the kernel's minimum {min}"
                )
            }
            TxError::Corrupt(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TxError {}

/// A TX ring: frames filled in order, handed to the kernel, sent on `kick`.
///
/// The ring keeps count of the frames it handed over (`SEND_REQUEST`) and
/// has not yet seen the kernel take: they are the `queued` frames before
/// the fill position, the oldest of them at the kernel's head.
#[derive(Debug)]
pub struct TxRing {
    mem: RingMemory,
    cursor: TxCursor,
    /// The `tp_len` each frame was queued with (kept here rather than read
    /// back from memory the kernel may be writing).
    lens: Box<[u32]>,
    ty: SocketType,
    min_offset: usize,
    vnet_hdr: bool,
}

/// With `PACKET_VNET_HDR`, the kernel copies this much of a frame into the
/// socket buffer's linear area (`hdr_len`); the rest, of a jumbo frame,
/// is attached as the ring's pages.
const LINEAR_MAX: usize = 2048;

/// The fill position and the number of frames queued before it.
#[derive(Debug, Clone, Copy, Default)]
struct TxCursor {
    next: u32,
    queued: u32,
}

/// What [`TxRing::reap`] found after a `send`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Frames the kernel took since the last reap (now `SENDING` or
    /// `AVAILABLE`), oldest first.
    pub frames: u32,
    /// Their `tp_len`s, summed.
    pub bytes: u64,
    /// The kernel's head frame, when it stopped there: `WRONG_FORMAT`
    /// (refused) or `SEND_REQUEST` (not tried, or retained after the device
    /// dropped it).
    pub head: Option<HeadFrame>,
}

/// The frame at the kernel's head after a `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadFrame {
    /// Its position in the ring.
    pub index: u32,
    /// Its `tp_len`.
    pub len: u32,
    /// `true`: the kernel refused it (`WRONG_FORMAT`); `false`: it is
    /// still queued (`SEND_REQUEST`).
    pub refused: bool,
}

impl TxRing {
    fn new(mem: RingMemory, ty: SocketType, vnet_hdr: bool) -> TxRing {
        let min_offset = mem.layout().tx_data_offset() as usize;
        let lens = vec![0; mem.slot_count() as usize].into_boxed_slice();
        TxRing {
            mem,
            cursor: TxCursor::default(),
            lens,
            ty,
            min_offset,
            vnet_hdr,
        }
    }

    /// Frames handed to the kernel and not yet seen taken by a [`reap`].
    ///
    /// [`reap`]: TxRing::reap
    pub fn queued(&self) -> u32 {
        self.cursor.queued
    }

    fn head(&self) -> u32 {
        let n = self.mem.slot_count();
        (self.cursor.next + n - self.cursor.queued % n) % n
    }

    fn tp_len(&self, index: u32) -> u32 {
        self.lens.get(index as usize).copied().unwrap_or(0)
    }

    /// After a `send`: the queued frames the kernel took, walking from its
    /// head in ring order (it takes them in that order and stops at the
    /// first it cannot send), and the frame it stopped at.
    pub fn reap(&mut self) -> Reaped {
        let mut reaped = Reaped::default();
        let n = self.mem.slot_count();
        let mut index = self.head();
        while self.cursor.queued > 0 {
            let state = self.mem.peek_status(index).map(|s| TxStatus(s).state());
            match state {
                Some(Ok(TxState::Sending | TxState::Available)) => {
                    reaped.frames += 1;
                    reaped.bytes += u64::from(self.tp_len(index));
                    self.cursor.queued -= 1;
                    index = (index + 1) % n;
                }
                Some(Ok(s @ (TxState::SendRequest | TxState::WrongFormat))) => {
                    reaped.head = Some(HeadFrame {
                        index,
                        len: self.tp_len(index),
                        refused: s == TxState::WrongFormat,
                    });
                    break;
                }
                // A status word no state explains: leave it to `pending`.
                Some(Err(_)) | None => break,
            }
        }
        reaped
    }

    /// Remove the frame at the kernel's head (refused, or retained after
    /// the device dropped it), keeping the frames queued behind it in
    /// order. Call after [`reap`] reported a head frame. Returns its
    /// `tp_len`.
    ///
    /// [`reap`]: TxRing::reap
    pub fn drop_head(&mut self) -> Option<u32> {
        if self.cursor.queued == 0 {
            return None;
        }
        let head = self.head();
        let len = self.tp_len(head);
        let next = self.mem.remove_head(head, self.cursor.next)?;
        // The lengths move with their frames.
        let n = self.mem.slot_count();
        let mut dst = head;
        while dst != next {
            let src = (dst + 1) % n;
            self.lens[dst as usize] = self.lens[src as usize];
            dst = src;
        }
        self.cursor.next = next;
        self.cursor.queued -= 1;
        Some(len)
    }

    /// The ring's layout.
    pub fn layout(&self) -> &Layout {
        self.mem.layout()
    }

    /// Where frame data starts without `PACKET_TX_HAS_OFF`.
    pub fn data_offset(&self) -> usize {
        self.min_offset
    }

    /// The largest payload a frame takes at the default offset.
    pub fn capacity(&self) -> usize {
        self.mem.layout().tx_room(self.vnet_hdr) as usize
    }

    /// Queue `data` in the next frame at the default offset.
    pub fn send(&mut self, data: &[u8]) -> core::result::Result<u32, TxError> {
        self.send_with(self.min_offset, data.len(), |buf| buf.copy_from_slice(data))
    }

    /// Queue `data` at `offset` from the frame start (needs
    /// `PACKET_TX_HAS_OFF` for any offset but the default).
    pub fn send_at(&mut self, offset: usize, data: &[u8]) -> core::result::Result<u32, TxError> {
        self.send_with(offset, data.len(), |buf| buf.copy_from_slice(data))
    }

    /// Queue a `len`-byte payload at `offset`, written in place by `fill`
    /// (no intermediate copy). Returns the frame index.
    pub fn send_with(
        &mut self,
        offset: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> core::result::Result<u32, TxError> {
        let mut slot = self.slot_at(offset)?;
        let room = slot.room();
        let buf = slot
            .buf()
            .get_mut(..len)
            .ok_or(TxError::TooLong { len, room })?;
        fill(buf);
        slot.commit(len)
    }

    /// The next frame, to fill in place at the default offset. Nothing is
    /// queued until [`TxSlot::commit`]; dropping the slot leaves the frame
    /// free.
    pub fn slot(&mut self) -> core::result::Result<TxSlot<'_>, TxError> {
        self.slot_at(self.min_offset)
    }

    /// The next frame, to fill in place at `offset` from the frame start
    /// (any offset but the default needs `PACKET_TX_HAS_OFF`).
    pub fn slot_at(&mut self, offset: usize) -> core::result::Result<TxSlot<'_>, TxError> {
        if offset < self.min_offset {
            return Err(TxError::OffsetTooSmall {
                offset,
                min: self.min_offset,
            });
        }
        let frame_size = self.mem.layout().frame_size() as usize;
        if offset > usize::from(u16::MAX) || offset > frame_size {
            return Err(TxError::TooLong {
                len: 0,
                room: frame_size.saturating_sub(offset),
            });
        }
        let index = self.cursor.next;
        let slot_count = self.mem.slot_count();
        let after = (index + 1) % slot_count;
        let version = self.mem.layout().request().version;
        let word = self.mem.layout().word();
        let ty = self.ty;
        let slot = self.mem.slot(index).ok_or(TxError::Full)?;
        let frame = match slot.take_tx() {
            Ok(f) if f.state() == TxState::Available => f,
            Ok(_) => return Err(TxError::Refused { index }),
            Err(Ok(_)) => return Err(TxError::Full),
            Err(Err(e)) => return Err(TxError::Corrupt(e)),
        };
        Ok(TxSlot {
            frame,
            cursor: &mut self.cursor,
            len_of: &mut self.lens[index as usize],
            index,
            after,
            offset,
            vnet_hdr: self.vnet_hdr,
            slot_count,
            version,
            word,
            ty,
        })
    }

    /// Frames handed to the kernel that it has not taken yet
    /// (`SEND_REQUEST`), plus a frame it refused (`WRONG_FORMAT`). After a
    /// `send` that failed, the frames queued before the call minus this
    /// count are the ones the kernel took.
    pub fn pending(&self) -> u32 {
        (0..self.mem.slot_count())
            .filter(|&i| {
                self.mem.peek_status(i).is_some_and(|s| {
                    matches!(
                        TxStatus(s).state(),
                        Ok(TxState::SendRequest | TxState::WrongFormat)
                    )
                })
            })
            .count() as u32
    }

    fn state_of(&self, index: u32) -> Option<TxState> {
        self.mem
            .peek_status(index)
            .and_then(|s| TxStatus(s).state().ok())
    }

    /// True when every frame is `AVAILABLE` again (all sent or dropped).
    /// Timestamp bits the kernel adds to a sent frame's status do not count.
    pub fn is_idle(&self) -> bool {
        (0..self.mem.slot_count()).all(|i| self.state_of(i) == Some(TxState::Available))
    }

    /// True when the next frame can be filled now.
    pub fn has_room(&self) -> bool {
        self.state_of(self.cursor.next) == Some(TxState::Available)
    }

    /// The frame the kernel refused, if the ring is stopped at one.
    pub fn refused(&self) -> Option<u32> {
        let n = self.mem.slot_count();
        (0..n).find(|&i| self.state_of(i) == Some(TxState::WrongFormat))
    }

    /// Drop the frame the kernel refused and keep the frames queued after it,
    /// in order. Returns the dropped frame's index.
    pub fn drop_refused(&mut self) -> Option<u32> {
        let refused = self.refused()?;
        // The frames queued before it were taken.
        self.reap();
        if self.head() != refused {
            return None;
        }
        self.drop_head()?;
        Some(refused)
    }
}

/// A free TX frame taken for filling in place (see [`TxRing::slot`]).
#[derive(Debug)]
pub struct TxSlot<'a> {
    frame: TxFrame<'a>,
    cursor: &'a mut TxCursor,
    len_of: &'a mut u32,
    /// A `virtio_net_hdr` precedes the payload at `offset`.
    vnet_hdr: bool,
    slot_count: u32,
    index: u32,
    after: u32,
    offset: usize,
    version: TpacketVersion,
    word: KernelWord,
    ty: SocketType,
}

impl TxSlot<'_> {
    /// Where the payload starts in the frame.
    fn payload_at(&self) -> usize {
        self.offset + if self.vnet_hdr { vnet::HEADER_LEN } else { 0 }
    }

    /// The payload area: from the data offset (after the `virtio_net_hdr`
    /// with `PACKET_VNET_HDR`) to the end of the frame.
    pub fn buf(&mut self) -> &mut [u8] {
        let at = self.payload_at();
        &mut self.frame.bytes_mut()[at..]
    }

    /// Bytes the payload area holds.
    pub fn room(&self) -> usize {
        self.frame.bytes().len() - self.payload_at()
    }

    /// The frame's position in the ring.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Queue the first `len` bytes of the payload area for sending
    /// (`TP_STATUS_SEND_REQUEST`); they leave on the next `send`. With
    /// `PACKET_VNET_HDR` the `virtio_net_hdr` before them asks for no
    /// offload, with `hdr_len` up to 2048 bytes: the kernel copies that much
    /// into the socket buffer. Returns the frame index.
    pub fn commit(mut self, len: usize) -> core::result::Result<u32, TxError> {
        let room = self.room();
        if len > room {
            return Err(TxError::TooLong { len, room });
        }
        let mut wire = len;
        if self.vnet_hdr {
            let offset = self.offset;
            let mut hdr = vnet::Header::new_unchecked(&mut self.frame.bytes_mut()[offset..]);
            hdr.clear();
            hdr.set_hdr_len(len.min(LINEAR_MAX) as u16);
            wire += vnet::HEADER_LEN;
        }
        let (len32, off16) = (wire as u32, self.offset as u16);
        // With PACKET_TX_HAS_OFF the kernel takes the offset from tp_mac
        // (SOCK_RAW) or tp_net (SOCK_DGRAM); without it, it ignores both.
        let (mac, net) = match self.ty {
            SocketType::Raw => (off16, 0),
            SocketType::Dgram => (0, off16),
        };
        let bytes = self.frame.bytes_mut();
        match self.version {
            TpacketVersion::V1 => {
                let mut h = v1::Header::new_unchecked(&mut *bytes, self.word);
                h.set_tp_len(len32);
                h.set_tp_snaplen(len32);
                h.set_tp_mac(mac);
                h.set_tp_net(net);
            }
            TpacketVersion::V2 => {
                let mut h = v2::Header::new_unchecked(&mut *bytes);
                h.set_tp_len(len32);
                h.set_tp_snaplen(len32);
                h.set_tp_mac(mac);
                h.set_tp_net(net);
            }
            TpacketVersion::V3 => {
                let mut h = v3::Header::new_unchecked(&mut *bytes);
                // The kernel refuses V3 TX frames with a next offset.
                h.set_tp_next_offset(0);
                h.set_tp_len(len32);
                h.set_tp_snaplen(len32);
                h.set_tp_mac(mac);
                h.set_tp_net(net);
            }
        }
        self.frame.submit();
        *self.len_of = len as u32;
        self.cursor.next = self.after;
        // A user that never reaps still has at most every slot queued: a
        // frame filled again was taken before.
        if self.cursor.queued < self.slot_count {
            self.cursor.queued += 1;
        }
        Ok(self.index)
    }
}
