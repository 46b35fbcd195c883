//! Frames and blocks in memory shared with the kernel: the only `unsafe`
//! code in this crate.
//!
//! A [`RingMemory`] is the part of a `PACKET_MMAP` mapping that holds one
//! ring. It hands out one [`Slot`] at a time (a frame, or a V3 RX block),
//! borrowed mutably, so two views of the same bytes never coexist. A slot's
//! status word is read with `Acquire`, so the bytes the kernel wrote before
//! it set the status are visible to us, and written with `Release`, so the
//! bytes we wrote are visible to the kernel before it sees the new status
//! (ARM reorders plain loads and stores; x86 does not, which hides the bug).
//!
//! The typestates follow [`crate::status`]: an RX slot becomes a
//! [`UserFrame`] only when its status says `TP_STATUS_USER` and goes back to
//! the kernel when the `UserFrame` is dropped; a TX slot becomes a
//! [`TxFrame`] only when it is `AVAILABLE` (or `WRONG_FORMAT`, to recover) and
//! leaves user hands through [`TxFrame::submit`] or [`TxFrame::discard`].
#![allow(unsafe_code)]

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::frame::{v1, v3};
use crate::geometry::{Layout, RingKind, TpacketVersion};
use crate::status::{Actor, Owner, RxStatus, TxState, TxStatus, UnknownTxStatus};

/// One ring's memory inside a mapping.
#[derive(Debug)]
pub struct RingMemory {
    base: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the memory belongs to a mapping, not to a thread; the type only
// gives access through `&mut self`, so moving it to another thread cannot
// create concurrent user-side access.
unsafe impl Send for RingMemory {}

/// Where the 32-bit status word lives in a frame or block of this ring.
pub const fn status_offset(layout: &Layout) -> usize {
    let req = layout.request();
    match (req.version, req.kind) {
        (TpacketVersion::V1, _) => v1::status_offset(layout.word()),
        (TpacketVersion::V2, _) => 0,
        (TpacketVersion::V3, RingKind::Rx) => v3::BLOCK_STATUS_OFFSET,
        (TpacketVersion::V3, RingKind::Tx) => v3::STATUS_OFFSET,
    }
}

impl RingMemory {
    /// A ring's memory.
    ///
    /// # Safety
    ///
    /// `base` must point to `layout.mmap_len()` bytes mapped from the packet
    /// socket whose ring was set up with `layout`, aligned to a page, and the
    /// mapping must outlive the returned value and every slot taken from it.
    /// No other user-side code may access the ring while this value exists.
    pub unsafe fn new(base: NonNull<u8>, layout: Layout) -> RingMemory {
        RingMemory { base, layout }
    }

    /// The ring's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of slots: frames, or blocks for a V3 RX ring.
    pub fn slot_count(&self) -> u32 {
        if self.is_block_ring() {
            self.layout.block_nr()
        } else {
            self.layout.frame_nr()
        }
    }

    fn is_block_ring(&self) -> bool {
        let r = self.layout.request();
        r.version == TpacketVersion::V3 && r.kind == RingKind::Rx
    }

    /// Slot `index` (frame `index`, or block `index` of a V3 RX ring).
    pub fn slot(&mut self, index: u32) -> Option<Slot<'_>> {
        let (offset, len) = if self.is_block_ring() {
            (self.layout.block_offset(index)?, self.layout.block_size())
        } else {
            (self.layout.frame_offset(index)?, self.layout.frame_size())
        };
        let offset = usize::try_from(offset).ok()?;
        // SAFETY: `offset + len <= mmap_len` (the layout keeps every frame and
        // block inside the ring), and `new`'s contract makes `base` valid for
        // `mmap_len` bytes.
        let ptr = unsafe { self.base.add(offset) };
        Some(Slot {
            ptr,
            len: len as usize,
            status_at: status_offset(&self.layout),
            _ring: PhantomData,
        })
    }

    /// Read the status word of slot `index` without taking the slot.
    pub fn peek_status(&self, index: u32) -> Option<u32> {
        let offset = if self.is_block_ring() {
            self.layout.block_offset(index)?
        } else {
            self.layout.frame_offset(index)?
        };
        let at = usize::try_from(offset).ok()? + status_offset(&self.layout);
        // SAFETY: inside the ring (see `slot`), and 4-aligned: slots start on
        // 16-byte (frames) or page (blocks) boundaries and status offsets are
        // multiples of 4.
        Some(unsafe { atomic_at(self.base.as_ptr().add(at)) }.load(Ordering::Acquire))
    }
}

impl RingMemory {
    /// Remove the frame at the kernel's head of a TX ring and keep the
    /// frames queued behind it, in order.
    ///
    /// The kernel sends only from its head. It stops there when it refuses
    /// the frame (`WRONG_FORMAT`, without `PACKET_LOSS`) and when the device
    /// dropped it (`NET_XMIT_DROP`: the frame is `SEND_REQUEST` again and is
    /// tried on every `send`). Marking that frame `AVAILABLE` would stall
    /// the ring for good, since the head would stay on a frame the kernel
    /// no longer looks for. Instead the frames queued after it (`head + 1 ..
    /// next`, all `SEND_REQUEST`) move one slot back, in order, and the last
    /// slot becomes `AVAILABLE`. Returns the new fill position (`next - 1`),
    /// or `None` when the slots do not look like that (nothing is changed
    /// then).
    ///
    /// Call it only between `send` calls on this ring's socket, so the kernel
    /// is not walking the ring meanwhile.
    pub fn remove_head(&mut self, head: u32, next: u32) -> Option<u32> {
        let n = self.slot_count();
        if self.is_block_ring() || head >= n || next >= n {
            return None;
        }
        let head_state = TxStatus(self.peek_status(head)?).state().ok()?;
        if !matches!(head_state, TxState::WrongFormat | TxState::SendRequest) {
            return None;
        }
        // A refused head is never `next` (that slot is free); a retained one
        // is `next` only when every slot is queued.
        let mut i = (head + 1) % n;
        while i != next {
            if TxStatus(self.peek_status(i)?).state() != Ok(TxState::SendRequest) {
                return None;
            }
            i = (i + 1) % n;
        }
        let size = self.layout.frame_size() as usize;
        let status_at = status_offset(&self.layout);
        let mut dst = head;
        loop {
            let src = (dst + 1) % n;
            if src == next {
                break;
            }
            let from = usize::try_from(self.layout.frame_offset(src)?).ok()?;
            let to = usize::try_from(self.layout.frame_offset(dst)?).ok()?;
            // SAFETY: both frames lie inside the ring (layout), are distinct,
            // and belong to user space for now: the kernel stopped at
            // `head` and touches no later frame until the next `send`.
            // The status word is skipped: it is written below with Release.
            unsafe {
                let base = self.base.as_ptr();
                core::ptr::copy_nonoverlapping(base.add(from), base.add(to), status_at);
                let tail = status_at + 4;
                core::ptr::copy_nonoverlapping(
                    base.add(from + tail),
                    base.add(to + tail),
                    size - tail,
                );
            }
            if dst == head && head_state == TxState::WrongFormat {
                let to_state = TxState::WrongFormat
                    .step(Actor::User, TxState::SendRequest)
                    .ok()?;
                self.slot(dst)?.hand_over(to_state.to_raw());
            }
            dst = src;
        }
        // `dst` is the last queued slot (or `head` itself when nothing was
        // queued after it); its content now lives one slot earlier.
        let freed = TxStatus(self.peek_status(dst)?).state().ok()?;
        let to_state = freed.step(Actor::User, TxState::Available).ok()?;
        self.slot(dst)?.hand_over(to_state.to_raw());
        Some(dst)
    }
}

/// # Safety
///
/// `p` must be 4-aligned and valid for 4 bytes for `'a`.
unsafe fn atomic_at<'a>(p: *mut u8) -> &'a AtomicU32 {
    // SAFETY: guaranteed by the caller; the kernel accesses the word too, but
    // only with aligned 32- or 64-bit stores, which atomics tolerate.
    unsafe { AtomicU32::from_ptr(p.cast::<u32>()) }
}

/// A frame (or V3 RX block) of a ring, borrowed from its [`RingMemory`].
#[derive(Debug)]
pub struct Slot<'a> {
    ptr: NonNull<u8>,
    len: usize,
    status_at: usize,
    _ring: PhantomData<&'a mut [u8]>,
}

impl<'a> Slot<'a> {
    fn status_word(&self) -> &AtomicU32 {
        // SAFETY: `status_at + 4 <= len` for every layout the kernel accepts
        // (frames are at least `tp_hdrlen` bytes, blocks at least a page) and
        // the word is 4-aligned (see `RingMemory::peek_status`).
        unsafe { atomic_at(self.ptr.as_ptr().add(self.status_at)) }
    }

    /// The status word, read with `Acquire`.
    pub fn status(&self) -> u32 {
        self.status_word().load(Ordering::Acquire)
    }

    /// Length of the slot in bytes (frame or block size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a slot is at least one header long.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Take an RX frame or V3 block if the kernel has handed it to us.
    pub fn take_rx(self) -> Option<UserFrame<'a>> {
        let status = RxStatus(self.status());
        match Owner::Kernel.step(Actor::Kernel, status.owner()) {
            Ok(Owner::User) => Some(UserFrame { slot: self, status }),
            _ => None,
        }
    }

    /// Take a TX frame if it is ours to fill: `AVAILABLE`, or `WRONG_FORMAT`
    /// (the kernel refused it; the caller fixes or discards it). Any other
    /// state is returned as `Err`: `Ok(state)` tells the caller the kernel
    /// still owns the frame, `Err(UnknownTxStatus)` that the word is corrupt.
    pub fn take_tx(self) -> Result<TxFrame<'a>, Result<TxState, UnknownTxStatus>> {
        let status = TxStatus(self.status());
        match status.state() {
            Ok(state @ (TxState::Available | TxState::WrongFormat)) => {
                Ok(TxFrame { slot: self, state })
            }
            other => Err(other),
        }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: valid for `len` bytes (RingMemory::slot); the caller owns the
        // slot (status USER / AVAILABLE), so the kernel does not write it
        // while the borrow lives.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `bytes`, and `&mut self` makes the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    fn hand_over(&self, status: u32) {
        self.status_word().store(status, Ordering::Release);
    }
}

/// An RX frame or V3 block that the kernel handed to us. Dropping it gives
/// it back to the kernel (`TP_STATUS_KERNEL`, `Release`).
#[derive(Debug)]
pub struct UserFrame<'a> {
    slot: Slot<'a>,
    status: RxStatus,
}

impl UserFrame<'_> {
    /// The status word as it was when the frame was taken.
    pub fn status(&self) -> RxStatus {
        self.status
    }

    /// The whole frame or block, header included.
    pub fn bytes(&self) -> &[u8] {
        self.slot.bytes()
    }

    /// Give the frame back to the kernel (same as dropping it).
    pub fn release(self) {}
}

impl Drop for UserFrame<'_> {
    fn drop(&mut self) {
        if let Ok(to) = Owner::User.step(Actor::User, Owner::Kernel) {
            debug_assert_eq!(to, Owner::Kernel);
            self.slot.hand_over(RxStatus::KERNEL.bits());
        }
    }
}

/// A TX frame we may fill. [`TxFrame::submit`] hands it to the kernel;
/// dropping it leaves the status as it was.
#[derive(Debug)]
pub struct TxFrame<'a> {
    slot: Slot<'a>,
    state: TxState,
}

impl TxFrame<'_> {
    /// `Available`, or `WrongFormat` when the kernel refused this frame.
    pub fn state(&self) -> TxState {
        self.state
    }

    /// The whole frame, header included (header status word included: write
    /// it only through `submit`/`discard`).
    pub fn bytes(&self) -> &[u8] {
        self.slot.bytes()
    }

    /// The whole frame, mutable, to write the header fields and the payload.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.slot.bytes_mut()
    }

    /// Mark the frame `TP_STATUS_SEND_REQUEST` (`Release`): the kernel sends
    /// it on the next `send()`.
    pub fn submit(self) {
        if let Ok(to) = self.state.step(Actor::User, TxState::SendRequest) {
            self.slot.hand_over(to.to_raw());
        }
    }

    /// Mark the frame `TP_STATUS_AVAILABLE` (drop a refused frame).
    pub fn discard(self) {
        if let Ok(to) = self.state.step(Actor::User, TxState::Available) {
            self.slot.hand_over(to.to_raw());
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::frame::v2;
    use crate::frame::KernelWord;
    use crate::geometry::{PageSize, RingRequest};
    use std::vec::Vec;

    /// Page-aligned memory standing in for a mapping.
    struct Pages(Vec<u64>);

    impl Pages {
        fn new(bytes: usize) -> Pages {
            // 8-byte alignment is all the atomics need.
            Pages(std::vec![0u64; bytes / 8])
        }
        fn base(&mut self) -> NonNull<u8> {
            NonNull::new(self.0.as_mut_ptr().cast::<u8>()).unwrap()
        }
    }

    fn layout(v: TpacketVersion, kind: RingKind) -> Layout {
        RingRequest::new(v, kind, 4096, 2, 2048, 4)
            .validate(PageSize::DEFAULT, KernelWord::Bits64)
            .unwrap()
    }

    #[test]
    fn test_rx_ownership() {
        let mut mem = Pages::new(8192);
        let l = layout(TpacketVersion::V2, RingKind::Rx);
        // SAFETY: `mem` holds 8192 bytes and outlives `ring`.
        let mut ring = unsafe { RingMemory::new(mem.base(), l) };
        assert_eq!(ring.slot_count(), 4);
        assert!(ring.slot(4).is_none());
        assert!(ring.slot(2).unwrap().take_rx().is_none(), "kernel-owned");
        ring.slot(2)
            .unwrap()
            .hand_over(RxStatus::USER.bits() | RxStatus::VLAN_VALID.bits());
        {
            let f = ring.slot(2).unwrap().take_rx().unwrap();
            assert!(f.status().contains(RxStatus::VLAN_VALID));
            assert_eq!(f.bytes().len(), 2048);
            assert_eq!(
                v2::Header::new_checked(f.bytes()).unwrap().tp_status(),
                0x11
            );
        }
        assert_eq!(
            ring.peek_status(2),
            Some(0),
            "dropping the frame hands it back"
        );
    }

    #[test]
    fn test_tx_ownership() {
        let mut mem = Pages::new(8192);
        let l = layout(TpacketVersion::V3, RingKind::Tx);
        // SAFETY: as above.
        let mut ring = unsafe { RingMemory::new(mem.base(), l) };
        let mut f = ring.slot(1).unwrap().take_tx().unwrap();
        f.bytes_mut()[100] = 7;
        f.submit();
        assert_eq!(ring.peek_status(1), Some(1));
        assert_eq!(
            ring.slot(1).unwrap().take_tx().unwrap_err(),
            Ok(TxState::SendRequest)
        );
        ring.slot(1)
            .unwrap()
            .hand_over(TxState::WrongFormat.to_raw());
        let f = ring.slot(1).unwrap().take_tx().unwrap();
        assert_eq!(f.state(), TxState::WrongFormat);
        f.discard();
        assert_eq!(ring.peek_status(1), Some(0));
        ring.slot(1).unwrap().hand_over(3);
        assert_eq!(
            ring.slot(1).unwrap().take_tx().unwrap_err(),
            Err(UnknownTxStatus(3))
        );
    }

    #[test]
    fn test_remove_head_compacts_in_order() {
        let mut mem = Pages::new(8192);
        let l = layout(TpacketVersion::V2, RingKind::Tx);
        // SAFETY: as above.
        let mut ring = unsafe { RingMemory::new(mem.base(), l) };
        // Frames 1, 2, 3 queued; the kernel refused frame 1.
        for i in 1..4u32 {
            let mut f = ring.slot(i).unwrap().take_tx().unwrap();
            f.bytes_mut()[100] = i as u8;
            f.submit();
        }
        ring.slot(1)
            .unwrap()
            .hand_over(TxState::WrongFormat.to_raw());
        assert_eq!(ring.remove_head(3, 2), None, "frame 0, after 3, is free");
        assert_eq!(ring.remove_head(0, 1), None, "frame 0 is not queued");
        assert_eq!(ring.remove_head(1, 0), Some(3));
        assert_eq!(ring.peek_status(1), Some(1));
        assert_eq!(ring.peek_status(2), Some(1));
        assert_eq!(ring.peek_status(3), Some(0));
        let f = ring.slot(1).unwrap();
        assert_eq!(f.bytes()[100], 2);
        let f = ring.slot(2).unwrap();
        assert_eq!(f.bytes()[100], 3);
        // A refused frame with nothing queued behind it is simply freed.
        ring.slot(0)
            .unwrap()
            .hand_over(TxState::WrongFormat.to_raw());
        assert_eq!(ring.remove_head(0, 1), Some(0));
        assert_eq!(ring.peek_status(0), Some(0));
    }

    #[test]
    fn test_remove_head_takes_back_a_retained_frame() {
        let mut mem = Pages::new(8192);
        let l = layout(TpacketVersion::V2, RingKind::Tx);
        // SAFETY: as above.
        let mut ring = unsafe { RingMemory::new(mem.base(), l) };
        // Frames 2, 3 queued; the device dropped frame 2 and the kernel
        // left it SEND_REQUEST at its head.
        for i in 2..4u32 {
            let mut f = ring.slot(i).unwrap().take_tx().unwrap();
            f.bytes_mut()[100] = i as u8;
            f.submit();
        }
        assert_eq!(ring.remove_head(2, 0), Some(3));
        assert_eq!(ring.peek_status(2), Some(1));
        assert_eq!(ring.peek_status(3), Some(0));
        assert_eq!(ring.slot(2).unwrap().bytes()[100], 3);
        // A frame being sent is the kernel's: never removed.
        ring.slot(2).unwrap().hand_over(TxState::Sending.to_raw());
        assert_eq!(ring.remove_head(2, 3), None);
        // With every slot queued, the head is also the fill position.
        for i in 0..4u32 {
            ring.slot(i)
                .unwrap()
                .hand_over(TxState::SendRequest.to_raw());
        }
        assert_eq!(ring.remove_head(1, 1), Some(0));
        assert_eq!(ring.peek_status(0), Some(0));
        assert_eq!(ring.peek_status(1), Some(1));
    }

    #[test]
    fn test_v3_block_status_offset() {
        let mut mem = Pages::new(8192);
        let l = RingRequest::new(TpacketVersion::V3, RingKind::Rx, 4096, 2, 2048, 4)
            .validate(PageSize::DEFAULT, KernelWord::Bits64)
            .unwrap();
        // SAFETY: as above.
        let mut ring = unsafe { RingMemory::new(mem.base(), l) };
        assert_eq!(ring.slot_count(), 2);
        let b = crate::frame::v3::test::block(&[60], 4096);
        let base = mem.base();
        // SAFETY: the first 4096 bytes of `mem`; no slot is borrowed.
        unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), base.as_ptr(), 4096) };
        let blk = ring.slot(0).unwrap().take_rx().unwrap();
        let d = v3::BlockDescriptor::new_checked(blk.bytes()).unwrap();
        assert_eq!(d.packets().unwrap().count(), 1);
        drop(blk);
        assert_eq!(ring.peek_status(0), Some(0));
    }
}
