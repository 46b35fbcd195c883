//! The first input byte picks a header (0: V1 on a 32-bit kernel, 1: V1 on
//! a 64-bit kernel, 2: V2, 3: a V3 packet slot or TX frame; taken modulo
//! 4); the rest is the frame. Every getter, `addr()`, `packet()` and
//! `payload_mut()` is called; any slice they return must lie inside the
//! frame.
#![no_main]

use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use ringtap_core::frame::{ll, v1, v2, v3, KernelWord};

fn inside(inner: &[u8], outer: &Range<*const u8>) -> bool {
    let r = inner.as_ptr_range();
    outer.start <= r.start && r.end <= outer.end
}

/// `packet()` is Ok exactly when `[tp_mac, tp_mac + tp_snaplen)` lies after
/// the header and its address, inside the frame.
fn check_packet(frame: &[u8], min: usize, mac: u16, snaplen: u32, got: Option<&[u8]>) {
    let end = u64::from(mac) + u64::from(snaplen);
    let fits = usize::from(mac) >= min && end <= frame.len() as u64;
    assert_eq!(
        got.is_some(),
        fits,
        "mac {mac} snaplen {snaplen} in {}",
        frame.len()
    );
    if let Some(data) = got {
        assert!(inside(data, &frame.as_ptr_range()));
        assert_eq!(
            data.as_ptr() as usize - frame.as_ptr() as usize,
            usize::from(mac)
        );
        assert_eq!(data.len() as u64, u64::from(snaplen));
    }
}

fn check_addr<T: AsRef<[u8]>>(a: ll::Addr<T>, frame: &[u8]) {
    let addr = a.sll_addr();
    assert!(inside(addr, &frame.as_ptr_range()));
    assert_eq!(addr.len(), usize::from(a.sll_halen()).min(8));
    let _ = (
        a.sll_family(),
        a.sll_protocol(),
        a.sll_ifindex(),
        a.sll_hatype(),
        a.sll_pkttype(),
    );
    let _ = ll::Repr::parse(&a);
}

/// `payload_mut(offset, len)` (a TX payload of `tp_len` bytes at `tp_mac`,
/// as a sender would place it) is Ok exactly when it fits, and inside.
fn check_payload(frame: Range<*const u8>, offset: usize, len: usize, got: Option<&mut [u8]>) {
    let frame_len = frame.end as usize - frame.start as usize;
    let fits = offset.checked_add(len).is_some_and(|e| e <= frame_len);
    assert_eq!(
        got.is_some(),
        fits,
        "payload {len} at {offset} in {frame_len}"
    );
    if let Some(p) = got {
        assert!(inside(p, &frame));
        assert_eq!(p.as_ptr() as usize - frame.start as usize, offset);
    }
}

fn v1(frame: &[u8], word: KernelWord) {
    let min = v1::addr_offset(word) + ll::LEN;
    let Ok(h) = v1::Header::new_checked(frame, word) else {
        assert!(frame.len() < min);
        return;
    };
    let _ = (
        h.tp_status(),
        h.tp_len(),
        h.tp_net(),
        h.tp_sec(),
        h.tp_usec(),
    );
    let _ = h.timestamp();
    check_addr(h.addr(), frame);
    check_packet(frame, min, h.tp_mac(), h.tp_snaplen(), h.packet().ok());
    let mut copy = frame.to_vec();
    let range = copy.as_ptr_range();
    let mut hm = v1::Header::new_unchecked(&mut copy[..], word);
    let (mac, len) = (usize::from(h.tp_mac()), h.tp_len() as usize);
    check_payload(range, mac, len, hm.payload_mut(mac, len).ok());
}

fn v2(frame: &[u8]) {
    let min = v2::ADDR_OFFSET + ll::LEN;
    let Ok(h) = v2::Header::new_checked(frame) else {
        assert!(frame.len() < min);
        return;
    };
    let _ = (
        h.tp_status(),
        h.tp_len(),
        h.tp_net(),
        h.tp_sec(),
        h.tp_nsec(),
    );
    let _ = (h.tp_vlan_tci(), h.tp_vlan_tpid(), h.timestamp());
    check_addr(h.addr(), frame);
    check_packet(frame, min, h.tp_mac(), h.tp_snaplen(), h.packet().ok());
    let mut copy = frame.to_vec();
    let range = copy.as_ptr_range();
    let mut hm = v2::Header::new_unchecked(&mut copy[..]);
    let (mac, len) = (usize::from(h.tp_mac()), h.tp_len() as usize);
    check_payload(range, mac, len, hm.payload_mut(mac, len).ok());
}

fn v3(frame: &[u8]) {
    let min = v3::ADDR_OFFSET + ll::LEN;
    let Ok(h) = v3::Header::new_checked(frame) else {
        assert!(frame.len() < min);
        return;
    };
    let _ = (h.tp_next_offset(), h.tp_status(), h.tp_len(), h.tp_net());
    let _ = (
        h.tp_sec(),
        h.tp_nsec(),
        h.tp_rxhash(),
        h.tp_vlan_tci(),
        h.tp_vlan_tpid(),
    );
    let _ = h.timestamp();
    check_addr(h.addr(), frame);
    check_packet(frame, min, h.tp_mac(), h.tp_snaplen(), h.packet().ok());
    let mut copy = frame.to_vec();
    let range = copy.as_ptr_range();
    let mut hm = v3::Header::new_unchecked(&mut copy[..]);
    let (mac, len) = (usize::from(h.tp_mac()), h.tp_len() as usize);
    check_payload(range, mac, len, hm.payload_mut(mac, len).ok());
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, frame)) = input.split_first() else {
        return;
    };
    match selector % 4 {
        0 => v1(frame, KernelWord::Bits32),
        1 => v1(frame, KernelWord::Bits64),
        2 => v2(frame),
        _ => v3(frame),
    }
});
