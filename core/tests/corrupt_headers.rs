//! Acceptance: corrupt headers (fuzzed `tp_next_offset`, `num_pkts`,
//! `tp_snaplen`, `tp_mac`, ...) never cause a read outside the block or
//! frame.
//!
//! Valid V3 blocks and V1/V2/V3 frames are built the way the kernel writes
//! them, then proptest overwrites header fields with arbitrary values and
//! flips arbitrary bytes. Whatever the walk or `packet()` returns, every
//! slice it hands out must lie inside the buffer (compared as pointer
//! ranges), lengths and offsets must agree with the header, and the V3 walk
//! must end after at most `num_pkts` items.
//!
//! Pure computation over byte buffers: it also runs under qemu-user
//! (`PROPTEST_CASES=64` keeps that quick; the case count comes from the
//! environment, so no `with_cases` here).

use std::ops::Range;

use proptest::prelude::*;
use proptest::sample::Index;
use ringtap_core::frame::{ll, v1, v2, v3, FrameError, KernelWord, Timestamp};

/// `tp_mac` of the kernel's V3 packets: `TPACKET_ALIGN(TPACKET3_HDRLEN)` plus
/// the 14-byte Ethernet header aligned so the network header is 16-aligned
/// (`macoff = netoff - maclen`, with `netoff = TPACKET_ALIGN(68 + 16)`).
const V3_MAC: u16 = 82;

/// Bytes a packet slot needs before its data: header plus `sockaddr_ll`.
const V3_SLOT_MIN: usize = v3::ADDR_OFFSET + ll::LEN;

/// Bytes before the data in a V1/V2 frame: header plus `sockaddr_ll`.
fn frame_min(hdr_addr_offset: usize) -> usize {
    hdr_addr_offset + ll::LEN
}

fn align8(x: usize) -> usize {
    (x + 7) & !7
}

/// The address range a slice covers.
fn range_of(s: &[u8]) -> Range<usize> {
    let r = s.as_ptr_range();
    r.start as usize..r.end as usize
}

/// `inner` lies entirely within `outer` (an empty slice at the end counts).
fn inside(inner: &[u8], outer: &[u8]) -> bool {
    let (i, o) = (range_of(inner), range_of(outer));
    o.start <= i.start && i.end <= o.end
}

/// A V3 block as `prb_fill_curr_block` and `prb_close_block` leave it:
/// descriptor, then packets at `tp_mac` 82, each `ALIGN(mac + snaplen, 8)`
/// long, the last one with `tp_next_offset` 0. Returns the block
/// and the offset of every packet plus the offset just after the last one.
fn build_block(sizes: &[u32], block_size: usize) -> (Vec<u8>, Vec<usize>) {
    let mut b = vec![0u8; block_size];
    let mut offsets = Vec::with_capacity(sizes.len() + 1);
    let mut off = v3::BLOCK_HEADER_LEN;
    for (i, &snap) in sizes.iter().enumerate() {
        let total = align8(usize::from(V3_MAC) + snap as usize);
        let mut h = v3::Header::new_checked(&mut b[off..]).expect("block has room");
        // `prb_close_block` zeroes the last packet's next offset.
        let last = i + 1 == sizes.len();
        h.set_tp_next_offset(if last { 0 } else { total as u32 });
        h.set_timestamp(Timestamp {
            sec: 1_700_000_000 + i as u32,
            nsec: 1000 * i as u32,
        });
        h.set_tp_snaplen(snap);
        h.set_tp_len(snap);
        h.set_tp_status(1);
        h.set_tp_mac(V3_MAC);
        h.set_tp_net(V3_MAC + 14);
        let mut addr = [0u8; ll::LEN];
        ll::Repr {
            protocol: 0x88b5,
            ifindex: 2,
            hatype: 1,
            pkttype: 1,
            halen: 6,
            addr: [2, 0, 0x5e, 0, 0, i as u8, 0, 0],
        }
        .emit(&mut addr);
        b[off + v3::ADDR_OFFSET..off + V3_SLOT_MIN].copy_from_slice(&addr);
        let data = off + usize::from(V3_MAC);
        for (k, byte) in b[data..data + snap as usize].iter_mut().enumerate() {
            *byte = (i * 31 + k) as u8;
        }
        offsets.push(off);
        off += total;
    }
    offsets.push(off);
    let mut d = v3::BlockDescriptor::new_checked(&mut b[..]).expect("block has room");
    d.set_version(1);
    d.set_offset_to_priv(v3::BLOCK_HEADER_LEN as u32);
    d.set_block_status(1);
    d.set_num_pkts(sizes.len() as u32);
    d.set_offset_to_first_pkt(v3::BLOCK_HEADER_LEN as u32);
    d.set_blk_len(off as u32);
    (b, offsets)
}

/// Packet sizes that fit in a block, and a block size (whole pages, with
/// up to one page of slack after the last packet).
fn block_shape() -> impl Strategy<Value = (Vec<u32>, usize)> {
    (prop::collection::vec(0u32..=1514, 0..=6), 0usize..=1).prop_map(|(sizes, slack)| {
        let used = v3::BLOCK_HEADER_LEN
            + sizes
                .iter()
                .map(|&s| align8(usize::from(V3_MAC) + s as usize))
                .sum::<usize>();
        let pages = used.div_ceil(4096) + slack;
        (sizes, pages.max(1) * 4096)
    })
}

/// A value that is either anything at all or close to a plausible one, so
/// that both wild and subtle corruption get exercised.
fn wild_or_near_u32(near: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        0..=near.saturating_mul(2).max(16),
        Just(0),
        Just(u32::MAX),
    ]
}

fn wild_or_near_u16(near: u16) -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        0..=near.saturating_mul(2).max(16),
        Just(0),
        Just(u16::MAX),
    ]
}

/// One corruption of a V3 block. Packet fields pick a packet slot by
/// `Index` (including the slot just after the last packet).
#[derive(Debug, Clone)]
enum Corruption {
    NextOffset(Index, u32),
    SnapLen(Index, u32),
    Mac(Index, u16),
    NumPkts(u32),
    FirstPacketOffset(u32),
    BlkLen(u32),
    /// Move `blk_len` by a little: subtle truncation or overhang.
    BlkLenBy(i16),
    XorByte(Index, u8),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    // Weighted so that most cases get past the descriptor checks and reach
    // the packet walk, where the interesting corruption is.
    prop_oneof![
        3 => (any::<Index>(), wild_or_near_u32(1600))
            .prop_map(|(i, v)| Corruption::NextOffset(i, v)),
        3 => (any::<Index>(), wild_or_near_u32(1600))
            .prop_map(|(i, v)| Corruption::SnapLen(i, v)),
        3 => (any::<Index>(), wild_or_near_u16(V3_MAC)).prop_map(|(i, v)| Corruption::Mac(i, v)),
        2 => wild_or_near_u32(8).prop_map(Corruption::NumPkts),
        1 => wild_or_near_u32(64).prop_map(Corruption::FirstPacketOffset),
        1 => wild_or_near_u32(8192).prop_map(Corruption::BlkLen),
        1 => (-256i16..=256).prop_map(Corruption::BlkLenBy),
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Corruption::XorByte(i, x)),
    ]
}

fn apply(block: &mut [u8], offsets: &[usize], c: &Corruption) {
    // A packet field is written only where the whole header fits.
    let header_at = |i: &Index| {
        let off = offsets[i.index(offsets.len())];
        (off + v3::HEADER_LEN <= block.len()).then_some(off)
    };
    match c {
        Corruption::NextOffset(i, v) => {
            if let Some(off) = header_at(i) {
                v3::Header::new_unchecked(&mut block[off..]).set_tp_next_offset(*v);
            }
        }
        Corruption::SnapLen(i, v) => {
            if let Some(off) = header_at(i) {
                v3::Header::new_unchecked(&mut block[off..]).set_tp_snaplen(*v);
            }
        }
        Corruption::Mac(i, v) => {
            if let Some(off) = header_at(i) {
                v3::Header::new_unchecked(&mut block[off..]).set_tp_mac(*v);
            }
        }
        Corruption::NumPkts(v) => v3::BlockDescriptor::new_unchecked(block).set_num_pkts(*v),
        Corruption::FirstPacketOffset(v) => {
            v3::BlockDescriptor::new_unchecked(block).set_offset_to_first_pkt(*v)
        }
        Corruption::BlkLen(v) => v3::BlockDescriptor::new_unchecked(block).set_blk_len(*v),
        Corruption::BlkLenBy(by) => {
            let mut d = v3::BlockDescriptor::new_unchecked(block);
            let moved = d.blk_len().wrapping_add_signed(i32::from(*by));
            d.set_blk_len(moved);
        }
        Corruption::XorByte(i, x) => block[i.index(block.len())] ^= x,
    }
}

/// Walk `block` and check every item against the buffer. Returns the
/// number of packets handed out and whether the walk ended in an error.
fn walk_checked(block: &[u8]) -> Result<(usize, Option<FrameError>), TestCaseError> {
    let d = v3::BlockDescriptor::new_checked(block)
        .map_err(|e| TestCaseError::fail(format!("a whole block was refused: {e}")))?;
    let (num_pkts, blk_len) = (d.num_pkts(), d.blk_len() as usize);
    // Touch every getter: none may read outside the descriptor.
    let _ = (
        d.version(),
        d.offset_to_priv(),
        d.block_status(),
        d.seq_num(),
    );
    let _ = (d.offset_to_first_pkt(), d.ts_first_pkt(), d.ts_last_pkt());
    let packets = match d.packets() {
        Ok(p) => p,
        Err(e) => return Ok((0, Some(e))),
    };
    prop_assert!(
        blk_len <= block.len(),
        "walk started with blk_len {blk_len}"
    );
    let used = &block[..blk_len];
    // Packets sit at strictly increasing offsets at least one header plus
    // address apart, so no honest walk is longer than this.
    let bound = (num_pkts as usize).min(blk_len / V3_SLOT_MIN + 1);
    let mut seen = 0usize;
    let mut last_end: Option<usize> = None;
    let mut error = None;
    for item in packets {
        if error.is_some() {
            return Err(TestCaseError::fail("the walk went on after an error"));
        }
        let p = match item {
            Ok(p) => p,
            Err(e) => {
                error = Some(e);
                continue;
            }
        };
        seen += 1;
        prop_assert!(seen <= bound, "walk yielded {seen} packets, bound {bound}");
        let h = &p.header;
        let off = usize::try_from(p.offset).expect("offset inside a block");
        prop_assert!(
            off + V3_SLOT_MIN <= blk_len,
            "packet header at {off} runs past blk_len {blk_len}"
        );
        // Each packet starts after the previous one's data: no overlap.
        prop_assert!(
            last_end.is_none_or(|end| end <= off),
            "packet at {} overlaps the previous packet ending at {:?}",
            off,
            last_end
        );
        prop_assert!(inside(p.data, block), "data outside the block");
        prop_assert!(inside(p.data, used), "data outside blk_len");
        prop_assert!(inside(h.into_inner(), used), "header outside blk_len");
        prop_assert_eq!(range_of(h.into_inner()).start, range_of(used).start + off);
        prop_assert_eq!(p.data.len(), h.tp_snaplen() as usize);
        let mac = off + usize::from(h.tp_mac());
        prop_assert_eq!(range_of(p.data).start, range_of(block).start + mac);
        prop_assert!(
            usize::from(h.tp_mac()) >= V3_SLOT_MIN,
            "data overlaps the header"
        );
        last_end = Some(mac + p.data.len());
        // Every getter of the packet, and its address, stay in bounds.
        let _ = (h.tp_next_offset(), h.tp_len(), h.tp_status(), h.tp_net());
        let _ = (
            h.tp_rxhash(),
            h.tp_vlan_tci(),
            h.tp_vlan_tpid(),
            h.timestamp(),
        );
        let addr = h.addr();
        prop_assert!(inside(addr.sll_addr(), used));
        let _ = ll::Repr::parse(&addr);
        prop_assert_eq!(h.packet().ok(), Some(p.data));
    }
    prop_assert!(seen <= num_pkts as usize);
    Ok((seen, error))
}

/// What a frame's `packet()` must answer: the span `[tp_mac, tp_mac +
/// tp_snaplen)` if it lies after the header and inside the frame.
fn expected_span(frame_len: usize, min: usize, mac: u16, snaplen: u32) -> Option<Range<usize>> {
    let start = usize::from(mac);
    let end = u64::from(mac) + u64::from(snaplen);
    (start >= min && end <= frame_len as u64).then_some(start..end as usize)
}

/// Check a `packet()` answer against the model, by address.
fn check_packet(
    frame: &[u8],
    got: Result<&[u8], FrameError>,
    want: Option<Range<usize>>,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(data), Some(span)) => {
            prop_assert!(inside(data, frame), "packet outside the frame");
            let base = range_of(frame).start;
            prop_assert_eq!(range_of(data), base + span.start..base + span.end);
        }
        (Err(e), None) => prop_assert!(
            matches!(e, FrameError::MacOffset { .. } | FrameError::SnapLen { .. }),
            "unexpected error {:?}",
            e
        ),
        (got, want) => {
            return Err(TestCaseError::fail(format!(
                "packet() = {got:?}, model says {want:?}"
            )))
        }
    }
    Ok(())
}

/// A frame of arbitrary length (some too short for the header) with
/// arbitrary bytes in its first 64.
fn frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![0usize..=80, 52usize..=2048],
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(len, head)| {
            let mut f = vec![0u8; len];
            let n = len.min(head.len());
            f[..n].copy_from_slice(&head[..n]);
            f
        })
}

fn word() -> impl Strategy<Value = KernelWord> {
    prop_oneof![Just(KernelWord::Bits32), Just(KernelWord::Bits64)]
}

proptest! {
    /// An untouched block walks to exactly the packets that were written.
    #[test]
    fn valid_block_walks_exactly((sizes, block_size) in block_shape()) {
        let (block, offsets) = build_block(&sizes, block_size);
        let d = v3::BlockDescriptor::new_checked(&block[..]).unwrap();
        let ps: Vec<_> = d.packets().unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(ps.len(), sizes.len());
        for (i, p) in ps.iter().enumerate() {
            prop_assert_eq!(p.offset as usize, offsets[i]);
            prop_assert_eq!(p.data.len(), sizes[i] as usize);
            let data = offsets[i] + usize::from(V3_MAC);
            prop_assert_eq!(p.data, &block[data..data + sizes[i] as usize]);
            let addr = p.header.addr();
            prop_assert_eq!(addr.sll_addr(), &[2, 0, 0x5e, 0, 0, i as u8][..]);
        }
        prop_assert_eq!(walk_checked(&block)?, (sizes.len(), None));
    }

    /// Corrupt descriptor and packet fields, flip bytes: the walk stays in
    /// the block, agrees with the headers, and ends within `num_pkts`.
    #[test]
    fn corrupt_block_never_reads_outside(
        (sizes, block_size) in block_shape(),
        corruptions in prop::collection::vec(corruption(), 1..=4),
    ) {
        let (mut block, offsets) = build_block(&sizes, block_size);
        for c in &corruptions {
            apply(&mut block, &offsets, c);
        }
        walk_checked(&block)?;
    }

    /// The same, over a block the walk sees only partly (the caller passed
    /// a buffer shorter than `tp_block_size`): still nothing outside it.
    #[test]
    fn truncated_block_never_reads_outside(
        (sizes, block_size) in block_shape(),
        corruptions in prop::collection::vec(corruption(), 0..=4),
        cut in any::<Index>(),
    ) {
        let (mut block, offsets) = build_block(&sizes, block_size);
        for c in &corruptions {
            apply(&mut block, &offsets, c);
        }
        let len = cut.index(block.len() + 1);
        let short = &block[..len];
        if len < v3::BLOCK_HEADER_LEN {
            prop_assert!(v3::BlockDescriptor::new_checked(short).is_err());
        } else {
            walk_checked(short)?;
        }
    }

    /// Any bytes at all as a block.
    #[test]
    fn random_block_never_reads_outside(
        mut block in prop::collection::vec(any::<u8>(), 48..=4096),
        num_pkts in wild_or_near_u32(8),
    ) {
        // Keep blk_len and the first offset plausible half of the time so
        // the walk gets past the descriptor checks.
        if num_pkts % 2 == 0 {
            let len = block.len() as u32;
            let mut d = v3::BlockDescriptor::new_unchecked(&mut block[..]);
            d.set_blk_len(len);
            d.set_offset_to_first_pkt(v3::BLOCK_HEADER_LEN as u32);
            d.set_num_pkts(num_pkts);
        }
        walk_checked(&block)?;
    }

    /// V1, both kernel word sizes: any `tp_mac` / `tp_snaplen`.
    #[test]
    fn v1_packet_stays_in_frame(
        mut frame in frame_bytes(),
        word in word(),
        mac in wild_or_near_u16(80),
        snaplen in wild_or_near_u32(2048),
        set_fields in any::<bool>(),
    ) {
        let min = frame_min(v1::addr_offset(word));
        if frame.len() < min {
            prop_assert!(v1::Header::new_checked(&frame[..], word).is_err());
            return Ok(());
        }
        if set_fields {
            let mut h = v1::Header::new_checked(&mut frame[..], word).unwrap();
            h.set_tp_mac(mac);
            h.set_tp_snaplen(snaplen);
        }
        let h = v1::Header::new_checked(&frame[..], word).unwrap();
        let _ = (h.tp_status(), h.tp_len(), h.tp_net(), h.tp_sec(), h.tp_usec());
        let _ = h.timestamp();
        prop_assert!(inside(h.addr().into_inner(), &frame));
        prop_assert!(inside(h.addr().sll_addr(), &frame));
        let want = expected_span(frame.len(), min, h.tp_mac(), h.tp_snaplen());
        check_packet(&frame, h.packet(), want.clone())?;
        check_packet(&frame, h.into_packet(), want)?;
    }

    /// V2: any `tp_mac` / `tp_snaplen`.
    #[test]
    fn v2_packet_stays_in_frame(
        mut frame in frame_bytes(),
        mac in wild_or_near_u16(80),
        snaplen in wild_or_near_u32(2048),
        set_fields in any::<bool>(),
    ) {
        let min = frame_min(v2::ADDR_OFFSET);
        if frame.len() < min {
            prop_assert!(v2::Header::new_checked(&frame[..]).is_err());
            return Ok(());
        }
        if set_fields {
            let mut h = v2::Header::new_checked(&mut frame[..]).unwrap();
            h.set_tp_mac(mac);
            h.set_tp_snaplen(snaplen);
        }
        let h = v2::Header::new_checked(&frame[..]).unwrap();
        let _ = (h.tp_status(), h.tp_len(), h.tp_net(), h.timestamp());
        let _ = (h.tp_vlan_tci(), h.tp_vlan_tpid());
        prop_assert!(inside(h.addr().into_inner(), &frame));
        prop_assert!(inside(h.addr().sll_addr(), &frame));
        let want = expected_span(frame.len(), min, h.tp_mac(), h.tp_snaplen());
        check_packet(&frame, h.packet(), want.clone())?;
        check_packet(&frame, h.into_packet(), want)?;
    }

    /// A lone V3 header (a TX frame, or a packet slot): same rule.
    #[test]
    fn v3_header_packet_stays_in_frame(
        mut frame in frame_bytes(),
        mac in wild_or_near_u16(82),
        snaplen in wild_or_near_u32(2048),
        set_fields in any::<bool>(),
    ) {
        if frame.len() < V3_SLOT_MIN {
            prop_assert!(v3::Header::new_checked(&frame[..]).is_err());
            return Ok(());
        }
        if set_fields {
            let mut h = v3::Header::new_checked(&mut frame[..]).unwrap();
            h.set_tp_mac(mac);
            h.set_tp_snaplen(snaplen);
        }
        let h = v3::Header::new_checked(&frame[..]).unwrap();
        let want = expected_span(frame.len(), V3_SLOT_MIN, h.tp_mac(), h.tp_snaplen());
        check_packet(&frame, h.packet(), want.clone())?;
        check_packet(&frame, h.into_packet(), want)?;
    }

    /// `sll_halen` is whatever the bytes say; `sll_addr` never leaves the
    /// 8-byte `sll_addr` field, even when the view has bytes after it.
    #[test]
    fn ll_addr_halen_stays_in_field(
        mut bytes in prop::collection::vec(any::<u8>(), 0..=40),
        halen in any::<u8>(),
    ) {
        if bytes.len() > 11 {
            bytes[11] = halen;
        }
        let Ok(a) = ll::Addr::new_checked(&bytes[..]) else {
            prop_assert!(bytes.len() < ll::LEN);
            return Ok(());
        };
        let addr = a.sll_addr();
        prop_assert_eq!(addr.len(), usize::from(a.sll_halen()).min(8));
        prop_assert!(inside(addr, &bytes[12..20]), "sll_addr left its field");
        let r = ll::Repr::parse(&a);
        prop_assert_eq!(&r.addr[..addr.len()], addr);
        let _ = (a.sll_family(), a.sll_protocol(), a.sll_ifindex(), a.sll_hatype(), a.sll_pkttype());
    }
}
