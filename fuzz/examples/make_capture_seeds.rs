//! Writes the seed corpus of `pcap_reader` and `pcapng_reader`:
//! `cargo run --example make_capture_seeds` (from `fuzz/`).
//!
//! Seeds come from ringtap-core's own writers, in both byte orders, plus a
//! pcapng section assembled block by block here for what the writers never
//! write (other timestamp units, `if_tsoffset`, simple and obsolete packet
//! blocks, a custom block to skip). Each is checked to read without error,
//! then stored in the form its target takes: `pcap_reader` seeds are a
//! magic-picking byte plus the file after its magic, `pcapng_reader` seeds
//! the file after its first 4 bytes. The output is deterministic.

use std::path::Path;

use ringtap_core::pcap::{ByteOrder, PcapWriter, LINKTYPE_ETHERNET};
use ringtap_core::pcapng::{CaptureReader, PcapngWriter};

const TS: u64 = 1_700_000_000_123_456_789;

/// An Ethernet frame of `len` bytes: broadcast, EtherType 0x88b5, a
/// counting payload.
fn ether(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0x5e, 0, 0, 1, 0x88, 0xb5]);
    f.extend((0..len.saturating_sub(14)).map(|i| (i as u8).wrapping_add(seed)));
    f.truncate(len);
    f
}

/// A pcap file: `(wire length, captured length)` per packet.
fn pcap(order: ByteOrder, snaplen: u32, packets: &[(u32, usize)]) -> Vec<u8> {
    let mut w =
        PcapWriter::with_byte_order(Vec::new(), snaplen, LINKTYPE_ETHERNET, order).unwrap();
    for (i, &(wire, captured)) in packets.iter().enumerate() {
        let ts = TS + i as u64 * 1_000_123;
        w.write_packet(ts, wire, &ether(captured, i as u8)).unwrap();
    }
    w.into_inner()
}

/// A pcapng section on `interfaces` (name, snaplen) with `packets`
/// (interface, wire length, captured length, dropped before) and a
/// statistics block per interface.
fn pcapng(
    order: ByteOrder,
    interfaces: &[(&str, u32)],
    packets: &[(u32, u32, usize, Option<u64>)],
) -> Vec<u8> {
    let mut w = PcapngWriter::with_byte_order(Vec::new(), "ringtap 0.1.0", order).unwrap();
    for &(name, snaplen) in interfaces {
        w.add_interface(name, 1, snaplen).unwrap();
    }
    for (i, &(iface, wire, captured, dropped)) in packets.iter().enumerate() {
        let ts = TS + i as u64 * 1_000_123;
        w.write_packet(iface, ts, wire, &ether(captured, i as u8), dropped)
            .unwrap();
    }
    for iface in 0..interfaces.len() as u32 {
        w.write_statistics(iface, TS + 5_000_000_000, 100 + u64::from(iface), 3)
            .unwrap();
    }
    w.into_inner()
}

/// A big-endian section built block by block.
fn other_blocks() -> Vec<u8> {
    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        [
            &t.to_be_bytes()[..],
            &len.to_be_bytes(),
            body,
            &len.to_be_bytes(),
        ]
        .concat()
    }
    fn option(code: u16, value: &[u8]) -> Vec<u8> {
        let pad = value.len().wrapping_neg() % 4;
        [
            &code.to_be_bytes()[..],
            &(value.len() as u16).to_be_bytes(),
            value,
            &[0; 3][..pad],
        ]
        .concat()
    }
    let shb = [&0x1a2b_3c4du32.to_be_bytes()[..], &[0, 1, 0, 0], &[0xff; 8]].concat();
    // Interface 0: snaplen 64, no options (microseconds). Interface 1: no
    // snaplen, 2^-10 s ticks, timestamps 100 s on (if_tsoffset).
    let idb0 = [&1u16.to_be_bytes()[..], &[0, 0], &64u32.to_be_bytes()].concat();
    let idb1 = [
        &1u16.to_be_bytes()[..],
        &[0, 0, 0, 0, 0, 0],
        &option(9, &[0x8a]),
        &option(14, &100i64.to_be_bytes()),
        &option(0, &[]),
    ]
    .concat();
    let frame = ether(60, 9);
    let ticks = 1024 * 1_700_000_000u64 + 512;
    let epb = [
        &1u32.to_be_bytes()[..],
        &((ticks >> 32) as u32).to_be_bytes(),
        &(ticks as u32).to_be_bytes(),
        &60u32.to_be_bytes(),
        &60u32.to_be_bytes(),
        &frame,
        &option(4, &2u64.to_be_bytes()),
        &option(0, &[]),
    ]
    .concat();
    // A simple packet block: 64 of 1514 bytes (interface 0's snaplen).
    let spb = [&1514u32.to_be_bytes()[..], &ether(64, 3)].concat();
    // An obsolete packet block on interface 1, 5 packets lost before it.
    let pb = [
        &1u16.to_be_bytes()[..],
        &5u16.to_be_bytes(),
        &((ticks >> 32) as u32).to_be_bytes(),
        &(ticks as u32).to_be_bytes(),
        &60u32.to_be_bytes(),
        &60u32.to_be_bytes(),
        &frame,
    ]
    .concat();
    // A custom block (PEN 32473, the documentation enterprise number).
    let custom = [&32473u32.to_be_bytes()[..], b"skip"].concat();
    let isb = [
        &1u32.to_be_bytes()[..],
        &[0; 8],
        &option(4, &10u64.to_be_bytes()),
        &option(5, &5u64.to_be_bytes()),
        &option(0, &[]),
    ]
    .concat();
    [
        block(0x0a0d_0d0a, &shb),
        block(1, &idb0),
        block(1, &idb1),
        block(6, &epb),
        block(3, &spb),
        block(2, &pb),
        block(0x4000_0bad, &custom),
        block(5, &isb),
    ]
    .concat()
}

/// The file must read to the end without error, with `packets` packets.
fn check(name: &str, file: &[u8], packets: usize) {
    let mut n = 0;
    for r in CaptureReader::new(file).unwrap_or_else(|e| panic!("{name}: {e}")) {
        match r {
            Ok(ringtap_core::pcapng::Record::Packet { .. }) => n += 1,
            Ok(_) => {}
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(n, packets, "{name}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write seed");
    println!("{:>6}  {}", bytes.len(), dir.join(name).display());
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let pcap_dir = corpus.join("pcap_reader");
    let pcapng_dir = corpus.join("pcapng_reader");
    std::fs::create_dir_all(&pcap_dir).expect("mkdir");
    std::fs::create_dir_all(&pcapng_dir).expect("mkdir");

    use ByteOrder::{Big, Little};
    let three = [(60, 60), (1514, 1514), (64, 64)];
    // (name, magic pick: 0 us LE, 1 us BE, 2 ns LE, 3 ns BE, file, packets)
    let seeds: [(&str, u8, Vec<u8>, usize); 6] = [
        ("ns-le-three", 2, pcap(Little, 65535, &three), 3),
        ("ns-be-three", 3, pcap(Big, 65535, &three), 3),
        ("us-le-three", 0, pcap(Little, 65535, &three), 3),
        (
            "us-be-snaplen-96",
            1,
            pcap(Big, 96, &[(1514, 96), (60, 60)]),
            2,
        ),
        ("ns-le-header-only", 2, pcap(Little, 65535, &[]), 0),
        (
            "ns-le-zero-length",
            2,
            pcap(Little, 0, &[(0, 0), (60, 0)]),
            2,
        ),
    ];
    for (name, pick, file, packets) in &seeds {
        check(name, file, *packets);
        write(&pcap_dir, name, &[&[*pick][..], &file[4..]].concat());
    }

    let one = [(0, 60, 60, None), (0, 1514, 1514, None), (0, 64, 64, None)];
    let two = [
        (0, 60, 60, None),
        (1, 1514, 128, Some(4)),
        (0, 64, 64, Some(0)),
        (1, 60, 60, None),
    ];
    let two_interfaces = [("veth-a", 65535), ("veth-b", 128)];
    let seeds: [(&str, Vec<u8>, usize); 6] = [
        ("shb-only", pcapng(Little, &[], &[]), 0),
        (
            "le-one-interface",
            pcapng(Little, &[("eth0", 65535)], &one),
            3,
        ),
        ("be-one-interface", pcapng(Big, &[("eth0", 65535)], &one), 3),
        (
            "le-two-interfaces-drops",
            pcapng(Little, &two_interfaces, &two),
            4,
        ),
        (
            "two-sections-le-be",
            [
                pcapng(Little, &[("eth0", 0)], &one[..1]),
                pcapng(Big, &two_interfaces, &two[..2]),
            ]
            .concat(),
            3,
        ),
        ("be-other-blocks", other_blocks(), 3),
    ];
    for (name, file, packets) in &seeds {
        check(name, file, *packets);
        write(&pcapng_dir, name, &file[4..]);
    }
}
