//! Capture files: what the writers write, the readers read back, and the
//! readers survive anything else.
//!
//! * Round trips: any sequence of interfaces, packets and statistics, in
//!   one or several pcapng sections of either byte order (or a pcap file of
//!   either byte order), read back as the same records, by the slice reader
//!   and by the stream reader.
//! * Microsecond pcap files, built here byte by byte, read with their
//!   timestamps in nanoseconds.
//! * Hostile input: arbitrary bytes, every cut and random bit flips of valid
//!   files. The reader never panics, hands out data only from inside the
//!   input, stops at the first error, and that error names an offset inside
//!   the input; a cut file reads as a prefix of the whole one; the stream
//!   reader agrees with the slice reader.
//!
//! Pure computation over byte buffers, so it also runs under qemu-user
//! (`PROPTEST_CASES=64` keeps that quick; the case count comes from the
//! environment, so no `with_cases` here).

use std::convert::Infallible;

use proptest::prelude::*;
use proptest::sample::Index;
use ringtap_core::embedded_io::ErrorType;
use ringtap_core::pcap::{ByteOrder, PcapWriter, MAGIC_USEC};
use ringtap_core::pcapng::{
    CaptureError, CaptureReader, CaptureStreamReader, PcapngWriter, Record, StreamError,
};

/// A record with its data owned, to compare across buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Packet {
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        data: Vec<u8>,
        dropped_before: Option<u64>,
    },
    Interface {
        id: u32,
        linktype: u16,
        snaplen: u32,
    },
    Statistics {
        iface: u32,
        received: Option<u64>,
        dropped: Option<u64>,
    },
    Section,
}

impl From<Record<'_>> for Owned {
    fn from(r: Record<'_>) -> Self {
        match r {
            Record::Packet {
                iface,
                ts_ns,
                orig_len,
                data,
                dropped_before,
            } => Owned::Packet {
                iface,
                ts_ns,
                orig_len,
                data: data.to_vec(),
                dropped_before,
            },
            Record::Interface {
                id,
                linktype,
                snaplen,
            } => Owned::Interface {
                id,
                linktype,
                snaplen,
            },
            Record::Statistics {
                iface,
                received,
                dropped,
            } => Owned::Statistics {
                iface,
                received,
                dropped,
            },
            Record::Section => Owned::Section,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Interface {
        name: String,
        linktype: u16,
        snaplen: u32,
    },
    /// On the interface `iface` picks among those described so far.
    Packet {
        iface: Index,
        ts_ns: u64,
        orig_len: u32,
        data: Vec<u8>,
        dropped_before: Option<u64>,
    },
    Statistics {
        iface: Index,
        ts_ns: u64,
        received: u64,
        dropped: u64,
    },
}

fn order() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::Little), Just(ByteOrder::Big)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => ("[a-z0-9é]{0,12}", any::<u16>(), prop_oneof![Just(0u32), 1u32..200, Just(65535)])
            .prop_map(|(name, linktype, snaplen)| Op::Interface { name, linktype, snaplen }),
        4 => (any::<Index>(), any::<u64>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..130),
              proptest::option::of(any::<u64>()))
            .prop_map(|(iface, ts_ns, orig_len, data, dropped_before)| Op::Packet {
                iface, ts_ns, orig_len, data, dropped_before,
            }),
        1 => (any::<Index>(), any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(iface, ts_ns, received, dropped)| Op::Statistics { iface, ts_ns, received, dropped }),
    ]
}

/// A section: its byte order, `shb_userappl`, and what it holds.
fn section() -> impl Strategy<Value = (ByteOrder, String, Vec<Op>)> {
    (
        order(),
        "[ -~]{0,20}",
        proptest::collection::vec(op(), 0..24),
    )
}

/// Writes the sections one after the other; returns the file and the
/// records it must read as. Packets on a section without interfaces are
/// left out; data longer than the interface's snaplen is cut (as a capture
/// does) before it reaches the writer.
fn write_pcapng(sections: &[(ByteOrder, String, Vec<Op>)]) -> (Vec<u8>, Vec<Owned>) {
    let mut file = Vec::new();
    let mut expected = Vec::new();
    for (order, app, ops) in sections {
        let mut w = PcapngWriter::with_byte_order(Vec::new(), app, *order).unwrap();
        expected.push(Owned::Section);
        let mut snaplens = Vec::new();
        let mut written = w.bytes_written();
        for op in ops {
            match op {
                Op::Interface {
                    name,
                    linktype,
                    snaplen,
                } => {
                    let id = w.add_interface(name, *linktype, *snaplen).unwrap();
                    assert_eq!(id as usize, snaplens.len());
                    snaplens.push(*snaplen);
                    expected.push(Owned::Interface {
                        id,
                        linktype: *linktype,
                        snaplen: *snaplen,
                    });
                }
                Op::Packet { .. } | Op::Statistics { .. } if snaplens.is_empty() => continue,
                Op::Packet {
                    iface,
                    ts_ns,
                    orig_len,
                    data,
                    dropped_before,
                } => {
                    let iface = iface.index(snaplens.len());
                    let data = match snaplens[iface] {
                        0 => &data[..],
                        snaplen => &data[..data.len().min(snaplen as usize)],
                    };
                    let n = w
                        .write_packet(iface as u32, *ts_ns, *orig_len, data, *dropped_before)
                        .unwrap();
                    assert_eq!(n as u64, w.bytes_written() - written);
                    expected.push(Owned::Packet {
                        iface: iface as u32,
                        ts_ns: *ts_ns,
                        orig_len: *orig_len,
                        data: data.to_vec(),
                        dropped_before: *dropped_before,
                    });
                }
                Op::Statistics {
                    iface,
                    ts_ns,
                    received,
                    dropped,
                } => {
                    let iface = iface.index(snaplens.len()) as u32;
                    let n = w
                        .write_statistics(iface, *ts_ns, *received, *dropped)
                        .unwrap();
                    assert_eq!(n as u64, w.bytes_written() - written);
                    expected.push(Owned::Statistics {
                        iface,
                        received: Some(*received),
                        dropped: Some(*dropped),
                    });
                }
            }
            written = w.bytes_written();
        }
        let out = w.into_inner();
        assert_eq!(out.len() as u64, written);
        file.extend_from_slice(&out);
    }
    (file, expected)
}

type Packet = (u64, u32, Vec<u8>);

fn packets() -> impl Strategy<Value = Vec<Packet>> {
    proptest::collection::vec(
        (
            any::<u64>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..100),
        ),
        0..24,
    )
}

/// The records of a pcap file's header: a section with one interface.
fn pcap_head(linktype: u16, snaplen: u32) -> [Owned; 2] {
    [
        Owned::Section,
        Owned::Interface {
            id: 0,
            linktype,
            snaplen,
        },
    ]
}

fn write_pcap(
    order: ByteOrder,
    snaplen: u32,
    linktype: u16,
    packets: &[Packet],
) -> (Vec<u8>, Vec<Owned>) {
    let mut w =
        PcapWriter::with_byte_order(Vec::new(), snaplen, u32::from(linktype), order).unwrap();
    let mut expected = pcap_head(linktype, snaplen).to_vec();
    for (ts_ns, orig_len, data) in packets {
        let data = match snaplen {
            0 => &data[..],
            n => &data[..data.len().min(n as usize)],
        };
        assert_eq!(
            w.write_packet(*ts_ns, *orig_len, data).unwrap(),
            16 + data.len()
        );
        // Seconds are 32 bits in pcap.
        let ts_ns = ts_ns % 1_000_000_000 + (ts_ns / 1_000_000_000 % (1u64 << 32)) * 1_000_000_000;
        expected.push(Owned::Packet {
            iface: 0,
            ts_ns,
            orig_len: *orig_len,
            data: data.to_vec(),
            dropped_before: None,
        });
    }
    let bytes_written = w.bytes_written();
    let file = w.into_inner();
    assert_eq!(file.len() as u64, bytes_written);
    (file, expected)
}

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Clean,
    Error(String),
}

/// Everything the slice reader says about `bytes`, checking as it goes
/// that data lies inside the input and that it stops after an error.
fn read_all(bytes: &[u8]) -> (Vec<Owned>, End) {
    let mut reader = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => {
            check_offset(&e, bytes);
            return (Vec::new(), End::Error(e.to_string()));
        }
    };
    let input = bytes.as_ptr_range();
    let mut records = Vec::new();
    while let Some(r) = reader.next_record() {
        match r {
            Ok(record) => {
                if let Record::Packet { data, .. } = record {
                    let d = data.as_ptr_range();
                    assert!(
                        input.start <= d.start && d.end <= input.end,
                        "data outside the input"
                    );
                }
                records.push(Owned::from(record));
            }
            Err(e) => {
                check_offset(&e, bytes);
                assert!(
                    reader.next_record().is_none(),
                    "the reader goes on after an error"
                );
                return (records, End::Error(e.to_string()));
            }
        }
    }
    assert_eq!(reader.offset(), bytes.len() as u64);
    (records, End::Clean)
}

fn check_offset(e: &CaptureError, bytes: &[u8]) {
    assert!(
        e.offset < bytes.len().max(1) as u64,
        "error offset {} outside {} bytes: {e}",
        e.offset,
        bytes.len()
    );
}

/// The same through the stream reader with a `buf_len`-byte buffer, read
/// `chunk` bytes at a time (a reader that returns short reads).
fn stream_all(bytes: &[u8], buf_len: usize, chunk: usize) -> (Vec<Owned>, End) {
    struct Chunked<'a> {
        rest: &'a [u8],
        chunk: usize,
    }
    impl ErrorType for Chunked<'_> {
        type Error = Infallible;
    }
    impl ringtap_core::embedded_io::Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            let n = buf.len().min(self.chunk).min(self.rest.len());
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }
    let mut buf = vec![0u8; buf_len];
    let input = Chunked { rest: bytes, chunk };
    let message = |e: StreamError<Infallible>| match e {
        StreamError::Capture(e) => End::Error(e.to_string()),
        StreamError::Read(never) => match never {},
    };
    let mut reader = match CaptureStreamReader::new(input, &mut buf) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), message(e)),
    };
    let mut records = Vec::new();
    while let Some(r) = reader.next_record() {
        match r {
            Ok(record) => records.push(Owned::from(record)),
            Err(e) => return (records, message(e)),
        }
    }
    (records, End::Clean)
}

/// A pcap file with microsecond timestamps, in `order`, built byte by byte.
fn usec_pcap(order: ByteOrder, snaplen: u32, packets: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let big = order == ByteOrder::Big;
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&u32b(MAGIC_USEC));
    f.extend_from_slice(&u16b(2));
    f.extend_from_slice(&u16b(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&u32b(snaplen));
    f.extend_from_slice(&u32b(1));
    for (sec, usec, data) in packets {
        f.extend_from_slice(&u32b(*sec));
        f.extend_from_slice(&u32b(*usec));
        f.extend_from_slice(&u32b(data.len() as u32));
        f.extend_from_slice(&u32b(data.len() as u32 + 4));
        f.extend_from_slice(data);
    }
    f
}

/// A valid pcapng or pcap file, with the records it reads as.
fn valid_file() -> impl Strategy<Value = (Vec<u8>, Vec<Owned>)> {
    prop_oneof![
        proptest::collection::vec(section(), 1..3).prop_map(|s| write_pcapng(&s)),
        (
            order(),
            prop_oneof![Just(0u32), 1u32..120],
            any::<u16>(),
            packets()
        )
            .prop_map(|(o, snaplen, linktype, p)| write_pcap(o, snaplen, linktype, &p)),
    ]
}

proptest! {
    #[test]
    fn pcapng_round_trip(sections in proptest::collection::vec(section(), 1..4)) {
        let (file, expected) = write_pcapng(&sections);
        let (records, end) = read_all(&file);
        prop_assert_eq!(end, End::Clean);
        prop_assert_eq!(&records, &expected);
    }

    #[test]
    fn pcap_round_trip(
        order in order(),
        snaplen in prop_oneof![Just(0u32), 1u32..120, Just(65535)],
        linktype in any::<u16>(),
        packets in packets(),
    ) {
        let (file, expected) = write_pcap(order, snaplen, linktype, &packets);
        let (records, end) = read_all(&file);
        prop_assert_eq!(end, End::Clean);
        prop_assert_eq!(records, expected);
    }

    #[test]
    fn pcap_microseconds_read_as_nanoseconds(
        order in order(),
        packets in proptest::collection::vec(
            (any::<u32>(), 0u32..1_000_000, proptest::collection::vec(any::<u8>(), 0..64)), 0..8),
    ) {
        let file = usec_pcap(order, 64, &packets);
        let (records, end) = read_all(&file);
        prop_assert_eq!(end, End::Clean);
        let mut expected = pcap_head(1, 64).to_vec();
        expected.extend(packets.iter().map(|(sec, usec, data)| Owned::Packet {
            iface: 0,
            ts_ns: u64::from(*sec) * 1_000_000_000 + u64::from(*usec) * 1000,
            orig_len: data.len() as u32 + 4,
            data: data.clone(),
            dropped_before: None,
        }));
        prop_assert_eq!(records, expected);
    }

    #[test]
    fn stream_reader_reads_the_same(
        (file, expected) in valid_file(),
        extra in 0usize..64,
        chunk in 1usize..300,
    ) {
        // The buffer holds the longest unit: at most the whole file.
        let buf_len = file.len().max(4) + extra;
        let (records, end) = stream_all(&file, buf_len, chunk);
        prop_assert_eq!(end, End::Clean);
        prop_assert_eq!(records, expected);
    }

    // A stream reader whose buffer is longer than the input says what the
    // slice reader says (with a shorter one, a block that claims more bytes
    // than are left could also be too long for the buffer).

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let from_slice = read_all(&bytes);
        prop_assert_eq!(stream_all(&bytes, 600, 7), from_slice);
    }

    /// Arbitrary bytes after a valid start, so that they reach block and
    /// record parsing rather than failing the magic.
    #[test]
    fn arbitrary_bytes_after_a_header(
        (head, _) in valid_file(),
        keep in any::<Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = head[..keep.index(head.len() + 1)].to_vec();
        bytes.extend_from_slice(&tail);
        let from_slice = read_all(&bytes);
        prop_assert_eq!(stream_all(&bytes, bytes.len() + 4, 13), from_slice);
    }

    #[test]
    fn every_cut_reads_as_a_prefix((file, expected) in valid_file(), cut in any::<Index>()) {
        let cut = cut.index(file.len() + 1);
        let (records, end) = read_all(&file[..cut]);
        prop_assert!(records.len() <= expected.len());
        prop_assert_eq!(&records[..], &expected[..records.len()]);
        if cut == file.len() {
            prop_assert_eq!(end, End::Clean);
        }
    }

    #[test]
    fn bit_flips(
        (file, _) in valid_file(),
        flips in proptest::collection::vec((any::<Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = file;
        for (at, bit) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
        }
        let from_slice = read_all(&bytes);
        prop_assert_eq!(stream_all(&bytes, bytes.len() + 1, 64), from_slice);
    }
}

/// A stream reader whose buffer is smaller than a block reads what comes
/// before it, then names the block and its length.
#[test]
fn stream_buffer_smaller_than_a_block() {
    let mut w = PcapngWriter::new(Vec::new(), "t").unwrap();
    w.add_interface("a", 1, 0).unwrap();
    w.write_packet(0, 1, 60, &[1; 60], None).unwrap();
    // SHB 40 + IDB 40 + EPB 92: the next block starts at byte 172.
    assert_eq!(w.bytes_written(), 172);
    w.write_packet(0, 2, 200, &[0xab; 200], None).unwrap();
    let file = w.into_inner();
    let (records, end) = stream_all(&file, 128, 5);
    assert_eq!(records.len(), 3);
    assert_eq!(
        end,
        End::Error(
            "at byte 172: a record of 232 bytes does not fit the reader's 128-byte buffer".into()
        )
    );
}
