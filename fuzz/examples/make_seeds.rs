//! Writes the seed corpus: `cargo run --example make_seeds` (from `fuzz/`).
//!
//! Every seed is built with ringtap-core's own setters, laid out the way
//! the kernel's `af_packet.c` writes rings on a 64-bit little-endian host:
//! V3 packets at `tp_mac` 82 with `tp_next_offset = ALIGN(82 + snaplen, 8)`,
//! V1/V2 packets at `tp_mac` 66, TX frames with data at `tp_hdrlen -
//! sizeof(sockaddr_ll)`. The output is deterministic; rerunning it rewrites
//! the same files.

use std::path::Path;

use ringtap_core::frame::{ll, v1, v2, v3, KernelWord, Timestamp};

const TP_STATUS_USER: u32 = 1;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_BLK_TMO: u32 = 1 << 5;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const TP_STATUS_TS_SOFTWARE: u32 = 1 << 29;

/// `tp_mac` for SOCK_RAW RX: `TPACKET_ALIGN(hdrlen + 16) - 14`.
const V3_MAC: u16 = 82;
const V12_MAC: u16 = 66;

const TS: Timestamp = Timestamp {
    sec: 1_700_000_000,
    nsec: 123_456_789,
};

/// An Ethernet frame of `len` bytes: broadcast, EtherType 0x88b5, a
/// counting payload.
fn ether(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0x5e, 0, 0, 1, 0x88, 0xb5]);
    f.extend((0..len.saturating_sub(14)).map(|i| (i as u8).wrapping_add(seed)));
    f.truncate(len);
    f
}

fn sockaddr(pkttype: u8) -> [u8; ll::LEN] {
    let mut a = [0u8; ll::LEN];
    ll::Repr {
        protocol: 0x88b5,
        ifindex: 2,
        hatype: 1,
        pkttype,
        halen: 6,
        addr: [0x02, 0, 0x5e, 0, 0, 1, 0, 0],
    }
    .emit(&mut a);
    a
}

/// One packet of a V3 block.
struct Pkt {
    data: Vec<u8>,
    /// `tp_len` when the capture was cut short (`tp_snaplen` < `tp_len`).
    wire_len: Option<u32>,
    vlan: Option<u16>,
}

fn pkt(len: usize) -> Pkt {
    Pkt {
        data: ether(len, len as u8),
        wire_len: None,
        vlan: None,
    }
}

/// A V3 block of `size` bytes (`None`: cut right after the last packet),
/// with a private area of `priv_len` bytes, as `prb_open_block` and
/// `prb_fill_curr_block` leave it.
fn block(pkts: &[Pkt], priv_len: u32, status: u32, size: Option<usize>) -> Vec<u8> {
    let first = v3::BLOCK_HEADER_LEN + priv_len as usize;
    let used: usize = first
        + pkts
            .iter()
            .map(|p| (usize::from(V3_MAC) + p.data.len() + 7) & !7)
            .sum::<usize>();
    let mut b = vec![0u8; size.unwrap_or(used).max(used)];
    let mut off = first;
    for (i, p) in pkts.iter().enumerate() {
        let total = (usize::from(V3_MAC) + p.data.len() + 7) & !7;
        let mut h = v3::Header::new_checked(&mut b[off..]).expect("room for the header");
        let last = i + 1 == pkts.len();
        // The kernel leaves the last packet's next offset at zero.
        h.set_tp_next_offset(if last { 0 } else { total as u32 });
        h.set_timestamp(Timestamp {
            nsec: TS.nsec + i as u32 * 1000,
            ..TS
        });
        h.set_tp_snaplen(p.data.len() as u32);
        h.set_tp_len(p.wire_len.unwrap_or(p.data.len() as u32));
        let mut st = TP_STATUS_USER | TP_STATUS_TS_SOFTWARE;
        if let Some(tci) = p.vlan {
            st |= TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID;
            h.set_tp_vlan_tci(tci);
            h.set_tp_vlan_tpid(0x8100);
        }
        h.set_tp_status(st);
        h.set_tp_mac(V3_MAC);
        h.set_tp_net(V3_MAC + 14);
        b[off + v3::ADDR_OFFSET..off + v3::ADDR_OFFSET + ll::LEN].copy_from_slice(&sockaddr(1));
        let data = off + usize::from(V3_MAC);
        b[data..data + p.data.len()].copy_from_slice(&p.data);
        off += total;
    }
    let mut d = v3::BlockDescriptor::new_checked(&mut b[..]).expect("room for the descriptor");
    d.set_version(1);
    d.set_offset_to_priv(v3::BLOCK_HEADER_LEN as u32);
    d.set_block_status(status);
    d.set_num_pkts(pkts.len() as u32);
    d.set_offset_to_first_pkt(first as u32);
    d.set_blk_len(off as u32);
    // seq_num (u64 at 24) and the first/last packet times (32..48).
    b[24..32].copy_from_slice(&7u64.to_ne_bytes());
    if !pkts.is_empty() {
        b[32..36].copy_from_slice(&TS.sec.to_ne_bytes());
        b[36..40].copy_from_slice(&TS.nsec.to_ne_bytes());
        b[40..44].copy_from_slice(&TS.sec.to_ne_bytes());
        b[44..48].copy_from_slice(&(TS.nsec + 1000 * (pkts.len() as u32 - 1)).to_ne_bytes());
    }
    b
}

/// A V1/V2 RX frame: header, address, `data` at `tp_mac` 66, cut after
/// the data (`frame_size`: pad to a whole frame instead).
fn rx_frame(selector: u8, data: &[u8], vlan: Option<u16>, frame_size: Option<usize>) -> Vec<u8> {
    let mac = usize::from(V12_MAC);
    let mut f = vec![0u8; frame_size.unwrap_or(0).max(mac + data.len())];
    f[mac..mac + data.len()].copy_from_slice(data);
    let status = TP_STATUS_USER | TP_STATUS_TS_SOFTWARE;
    let len = data.len() as u32;
    match selector {
        0 | 1 => {
            let word = if selector == 0 {
                KernelWord::Bits32
            } else {
                KernelWord::Bits64
            };
            let mut h = v1::Header::new_checked(&mut f[..], word).expect("room");
            h.set_tp_status(status);
            h.set_tp_len(len);
            h.set_tp_snaplen(len);
            h.set_tp_mac(V12_MAC);
            h.set_tp_net(V12_MAC + 14);
            h.set_timestamp(TS);
            let at = v1::addr_offset(word);
            f[at..at + ll::LEN].copy_from_slice(&sockaddr(1));
        }
        _ => {
            let mut h = v2::Header::new_checked(&mut f[..]).expect("room");
            let mut st = status;
            if let Some(tci) = vlan {
                st |= TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID;
                h.set_tp_vlan_tci(tci);
                h.set_tp_vlan_tpid(0x8100);
            }
            h.set_tp_status(st);
            h.set_tp_len(len);
            h.set_tp_snaplen(len);
            h.set_tp_mac(V12_MAC);
            h.set_tp_net(V12_MAC + 14);
            h.set_timestamp(TS);
            f[v2::ADDR_OFFSET..v2::ADDR_OFFSET + ll::LEN].copy_from_slice(&sockaddr(1));
        }
    }
    with_selector(selector, f)
}

/// A TX frame as user space fills it without `PACKET_TX_HAS_OFF`: status
/// `SEND_REQUEST`, `tp_len`, data right after the aligned header.
fn tx_frame(selector: u8, data: &[u8]) -> Vec<u8> {
    let at = match selector {
        2 => v2::HEADER_LEN,
        _ => v3::HEADER_LEN,
    };
    let mut f = vec![0u8; at + data.len()];
    f[at..].copy_from_slice(data);
    if selector == 2 {
        let mut h = v2::Header::new_unchecked(&mut f[..]);
        h.set_tp_status(TP_STATUS_SEND_REQUEST);
        h.set_tp_len(data.len() as u32);
    } else {
        let mut h = v3::Header::new_unchecked(&mut f[..]);
        h.set_tp_status(TP_STATUS_SEND_REQUEST);
        h.set_tp_len(data.len() as u32);
    }
    with_selector(selector, f)
}

/// A V3 packet slot on its own: the first packet of a one-packet block.
fn v3_slot(len: usize) -> Vec<u8> {
    let b = block(&[pkt(len)], 0, TP_STATUS_USER, None);
    with_selector(3, b[v3::BLOCK_HEADER_LEN..].to_vec())
}

fn with_selector(selector: u8, frame: Vec<u8>) -> Vec<u8> {
    let mut input = vec![selector];
    input.extend(frame);
    input
}

/// Every packet of a block seed is reachable by the walk (a seed the
/// parser refuses would only exercise the first check).
fn check_block(name: &str, bytes: &[u8]) {
    let d = v3::BlockDescriptor::new_checked(bytes).expect(name);
    let walked: Vec<_> = d
        .packets()
        .expect(name)
        .collect::<Result<_, _>>()
        .expect(name);
    assert_eq!(walked.len(), d.num_pkts() as usize, "{name}");
}

/// RX seeds hold a packet; TX seeds (`tp_mac` 0, data at the default
/// offset) are refused by `packet()`, as a TX frame should be.
fn check_frame(name: &str, input: &[u8]) {
    let (sel, f) = (input[0], &input[1..]);
    let packet = match sel {
        0 => v1::Header::new_checked(f, KernelWord::Bits32).and_then(|h| h.into_packet()),
        1 => v1::Header::new_checked(f, KernelWord::Bits64).and_then(|h| h.into_packet()),
        2 => v2::Header::new_checked(f).and_then(|h| h.into_packet()),
        _ => v3::Header::new_checked(f).and_then(|h| h.into_packet()),
    };
    assert_eq!(packet.is_ok(), !name.contains("-tx-"), "{name}: {packet:?}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write seed");
    println!("{:>6}  {}", bytes.len(), dir.join(name).display());
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let blocks = corpus.join("v3_block");
    let frames = corpus.join("frame_headers");
    std::fs::create_dir_all(&blocks).expect("mkdir");
    std::fs::create_dir_all(&frames).expect("mkdir");

    let timed_out = TP_STATUS_USER | TP_STATUS_BLK_TMO;
    let seeds: [(&str, Vec<u8>); 11] = [
        ("empty-timed-out-4096", block(&[], 0, timed_out, Some(4096))),
        ("empty-descriptor-only", block(&[], 0, timed_out, None)),
        ("one-60", block(&[pkt(60)], 0, timed_out, None)),
        ("one-1514", block(&[pkt(1514)], 0, TP_STATUS_USER, None)),
        (
            "three-60-1514-64-4096",
            block(
                &[pkt(60), pkt(1514), pkt(64)],
                0,
                TP_STATUS_USER,
                Some(4096),
            ),
        ),
        (
            "three-zero-length",
            block(&[pkt(0), pkt(0), pkt(0)], 0, TP_STATUS_USER, None),
        ),
        (
            "twenty-60",
            block(
                &(0..20).map(|_| pkt(60)).collect::<Vec<_>>(),
                0,
                TP_STATUS_USER,
                None,
            ),
        ),
        (
            "priv-16-two-100",
            block(&[pkt(100), pkt(100)], 16, TP_STATUS_USER, None),
        ),
        (
            "vlan-42-stripped",
            block(
                &[Pkt {
                    vlan: Some(42),
                    ..pkt(114)
                }],
                0,
                timed_out,
                None,
            ),
        ),
        (
            "snaplen-cut-96-of-1514",
            block(
                &[Pkt {
                    data: ether(96, 3),
                    wire_len: Some(1514),
                    vlan: None,
                }],
                0,
                TP_STATUS_USER,
                None,
            ),
        ),
        (
            "full-4096",
            block(
                &[pkt(1514), pkt(1514), pkt(700)],
                0,
                TP_STATUS_USER,
                Some(4096),
            ),
        ),
    ];
    for (name, bytes) in &seeds {
        check_block(name, bytes);
        write(&blocks, name, bytes);
    }

    let f60 = ether(60, 0);
    let f1514 = ether(1514, 1);
    let seeds: [(&str, Vec<u8>); 11] = [
        ("v1-32-rx-60", rx_frame(0, &f60, None, None)),
        ("v1-64-rx-60", rx_frame(1, &f60, None, None)),
        ("v1-64-rx-1514", rx_frame(1, &f1514, None, None)),
        ("v2-rx-60", rx_frame(2, &f60, None, None)),
        ("v2-rx-60-frame-2048", rx_frame(2, &f60, None, Some(2048))),
        ("v2-rx-1514", rx_frame(2, &f1514, None, None)),
        ("v2-rx-vlan-42", rx_frame(2, &ether(114, 5), Some(42), None)),
        ("v2-tx-60", tx_frame(2, &f60)),
        ("v3-packet-60", v3_slot(60)),
        ("v3-packet-1514", v3_slot(1514)),
        ("v3-tx-60", tx_frame(3, &f60)),
    ];
    for (name, bytes) in &seeds {
        check_frame(name, bytes);
        write(&frames, name, bytes);
    }
}
