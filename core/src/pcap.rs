//! Classic pcap files (libpcap's savefile format): a 24-byte file header,
//! then one 16-byte record header plus the captured bytes per packet.
//!
//! ```text
//! file header:   magic (4) | version 2.4 (2+2) | thiszone (4) | sigfigs (4) | snaplen (4) | linktype (4)
//! record header: ts_sec (4) | ts_usec or ts_nsec (4) | incl_len (4) | orig_len (4) | data (incl_len)
//! ```
//!
//! The magic says both the byte order of every later field (a reader sees it
//! byte-swapped when the writer's order differs from its own) and the unit of
//! the second timestamp word: microseconds for [`MAGIC_USEC`], nanoseconds
//! for [`MAGIC_NSEC`]. [`PcapWriter`] writes nanoseconds; reading goes
//! through [`crate::pcapng::CaptureReader`], which takes either format.

use embedded_io::Write;

use crate::pcapng::{CaptureError, CaptureErrorKind, Item, Record};

/// Magic of a pcap file whose timestamps have a microsecond fraction.
pub const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// Magic of a pcap file whose timestamps have a nanosecond fraction.
pub const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_ETHERNET`: frames start with the Ethernet header.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The file format version written (and the only major version read).
pub const VERSION_MAJOR: u16 = 2;
/// Minor version written.
pub const VERSION_MINOR: u16 = 4;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Bytes of a record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// The most captured bytes one record can declare (`incl_len` is 32 bits);
/// longer data is cut to this.
pub const MAX_RECORD_DATA: usize = u32::MAX as usize;

const NANOS_PER_SEC: u64 = 1_000_000_000;

mod field {
    pub const MAGIC: usize = 0;
    pub const VERSION_MAJOR: usize = 4;
    pub const VERSION_MINOR: usize = 6;
    pub const SNAPLEN: usize = 16;
    pub const LINKTYPE: usize = 20;

    pub const TS_SEC: usize = 0;
    pub const TS_FRAC: usize = 4;
    pub const INCL_LEN: usize = 8;
    pub const ORIG_LEN: usize = 12;
}

/// The byte order of a file's (or a pcapng section's) numeric fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ByteOrder {
    /// Least significant byte first (x86, ARM as Linux runs it).
    Little,
    /// Most significant byte first.
    Big,
}

impl ByteOrder {
    /// The order of the CPU this code runs on: what writers use by default,
    /// as libpcap does.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };

    /// The 2 bytes at `at`; callers check the length first, and a read past
    /// the end gives 0 rather than a panic.
    pub(crate) fn u16_at(self, b: &[u8], at: usize) -> u16 {
        match b.get(at..at.saturating_add(2)) {
            Some(&[x, y]) => match self {
                ByteOrder::Little => u16::from_le_bytes([x, y]),
                ByteOrder::Big => u16::from_be_bytes([x, y]),
            },
            _ => 0,
        }
    }

    /// The 4 bytes at `at`, as [`Self::u16_at`].
    pub(crate) fn u32_at(self, b: &[u8], at: usize) -> u32 {
        match b.get(at..at.saturating_add(4)) {
            Some(&[a, b, c, d]) => match self {
                ByteOrder::Little => u32::from_le_bytes([a, b, c, d]),
                ByteOrder::Big => u32::from_be_bytes([a, b, c, d]),
            },
            _ => 0,
        }
    }

    /// The 8 bytes at `at`, as [`Self::u16_at`].
    pub(crate) fn u64_at(self, b: &[u8], at: usize) -> u64 {
        let hi_lo = (self.u32_at(b, at), self.u32_at(b, at.saturating_add(4)));
        let (high, low) = match self {
            ByteOrder::Little => (hi_lo.1, hi_lo.0),
            ByteOrder::Big => (hi_lo.0, hi_lo.1),
        };
        (u64::from(high) << 32) | u64::from(low)
    }

    pub(crate) fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    pub(crate) fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    pub(crate) fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

/// Length of the record [`PcapWriter::write_packet`] writes for `data_len`
/// captured bytes.
pub const fn record_len(data_len: usize) -> u64 {
    let data = if data_len > MAX_RECORD_DATA {
        MAX_RECORD_DATA
    } else {
        data_len
    };
    // In u64: on a 32-bit target the largest record does not fit a usize.
    RECORD_HEADER_LEN as u64 + data as u64
}

/// The most captured bytes a record of at most `room` bytes holds (0 when
/// not even an empty record fits).
pub const fn max_record_data(room: u64) -> usize {
    let header = RECORD_HEADER_LEN as u64;
    if room < header {
        0
    } else if room - header > MAX_RECORD_DATA as u64 {
        MAX_RECORD_DATA
    } else {
        (room - header) as usize
    }
}

/// Writes a pcap file with nanosecond timestamps.
///
/// No allocation: each record is its 16-byte header from the stack and the
/// caller's data, written with two `write_all` calls (give it a buffered
/// writer to turn them into few system calls). After a write error the
/// output ends somewhere inside the failed record.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PcapWriter<W: Write> {
    w: W,
    order: ByteOrder,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header: [`MAGIC_NSEC`] in the CPU's byte order,
    /// version 2.4, `snaplen` (0: no limit) and `linktype` (e.g.
    /// [`LINKTYPE_ETHERNET`]).
    pub fn new(w: W, snaplen: u32, linktype: u32) -> Result<Self, W::Error> {
        Self::with_byte_order(w, snaplen, linktype, ByteOrder::NATIVE)
    }

    /// As [`Self::new`], in the given byte order (e.g. to make a big-endian
    /// file on a little-endian host).
    pub fn with_byte_order(
        mut w: W,
        snaplen: u32,
        linktype: u32,
        order: ByteOrder,
    ) -> Result<Self, W::Error> {
        let mut h = [0u8; FILE_HEADER_LEN];
        h[field::MAGIC..][..4].copy_from_slice(&order.u32_bytes(MAGIC_NSEC));
        h[field::VERSION_MAJOR..][..2].copy_from_slice(&order.u16_bytes(VERSION_MAJOR));
        h[field::VERSION_MINOR..][..2].copy_from_slice(&order.u16_bytes(VERSION_MINOR));
        // thiszone and sigfigs stay 0: timestamps are UTC, as libpcap writes.
        h[field::SNAPLEN..][..4].copy_from_slice(&order.u32_bytes(snaplen));
        h[field::LINKTYPE..][..4].copy_from_slice(&order.u32_bytes(linktype));
        w.write_all(&h)?;
        Ok(PcapWriter {
            w,
            order,
            bytes: FILE_HEADER_LEN as u64,
        })
    }

    /// Appends one record; returns the bytes written (16 + captured length).
    ///
    /// `ts_ns` is nanoseconds since 1970 (seconds are stored in 32 bits, so
    /// they wrap in 2106), `orig_len` the frame's length on the wire, `data`
    /// the captured bytes. The writer does not cut `data` to the snaplen
    /// (the capture did that): data longer than the file's snaplen makes a
    /// file that readers, [`crate::pcapng::CaptureReader`] among them,
    /// reject at that record. Only data beyond [`MAX_RECORD_DATA`] is cut.
    pub fn write_packet(
        &mut self,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
    ) -> Result<usize, W::Error> {
        let data = &data[..data.len().min(MAX_RECORD_DATA)];
        let o = self.order;
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[field::TS_SEC..][..4].copy_from_slice(&o.u32_bytes((ts_ns / NANOS_PER_SEC) as u32));
        h[field::TS_FRAC..][..4].copy_from_slice(&o.u32_bytes((ts_ns % NANOS_PER_SEC) as u32));
        h[field::INCL_LEN..][..4].copy_from_slice(&o.u32_bytes(data.len() as u32));
        h[field::ORIG_LEN..][..4].copy_from_slice(&o.u32_bytes(orig_len));
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        let n = RECORD_HEADER_LEN + data.len();
        self.bytes += n as u64;
        Ok(n)
    }

    /// Bytes written so far, file header included (for rotation by size).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// The writer, to look at.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The writer, e.g. to flush it.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// What the file header says about the records after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    order: ByteOrder,
    nanosecond: bool,
    snaplen: u32,
}

/// The byte order and timestamp unit a pcap magic stands for, if it is one.
pub(crate) fn magic(first4: &[u8]) -> Option<(ByteOrder, bool)> {
    [ByteOrder::Little, ByteOrder::Big]
        .into_iter()
        .find_map(|order| match order.u32_at(first4, 0) {
            MAGIC_USEC => Some((order, false)),
            MAGIC_NSEC => Some((order, true)),
            _ => None,
        })
}

/// Decodes the file header (`unit` is its 24 bytes, at byte `offset` of the
/// input). The `Interface` record it implies comes second, after `Section`.
pub(crate) fn decode_header(
    unit: &[u8],
    offset: u64,
) -> Result<(Header, Record<'static>), CaptureError> {
    let Some((order, nanosecond)) = magic(unit) else {
        return Err(CaptureError {
            offset,
            kind: CaptureErrorKind::UnknownMagic {
                found: u32::from_be_bytes(first4(unit)),
            },
        });
    };
    let major = order.u16_at(unit, field::VERSION_MAJOR);
    if major != VERSION_MAJOR {
        return Err(CaptureError {
            offset: offset + field::VERSION_MAJOR as u64,
            kind: CaptureErrorKind::UnsupportedVersion {
                major,
                minor: order.u16_at(unit, field::VERSION_MINOR),
                supported: VERSION_MAJOR,
            },
        });
    }
    let snaplen = order.u32_at(unit, field::SNAPLEN);
    // The top bits of the link type field carry FCS information; the type
    // itself is the low 16 bits.
    let linktype = order.u32_at(unit, field::LINKTYPE) as u16;
    let header = Header {
        order,
        nanosecond,
        snaplen,
    };
    Ok((
        header,
        Record::Interface {
            id: 0,
            linktype,
            snaplen,
        },
    ))
}

fn first4(b: &[u8]) -> [u8; 4] {
    match b.get(..4) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => [0; 4],
    }
}

impl Header {
    /// Length of the record whose 16-byte header is `head`, header included,
    /// after checking its captured length against the snaplen (0: none).
    pub(crate) fn record_len(&self, head: &[u8], offset: u64) -> Result<u64, CaptureError> {
        let captured = self.order.u32_at(head, field::INCL_LEN);
        if self.snaplen != 0 && captured > self.snaplen {
            return Err(CaptureError {
                offset: offset + field::INCL_LEN as u64,
                kind: CaptureErrorKind::CapturedExceedsSnaplen {
                    captured,
                    snaplen: self.snaplen,
                },
            });
        }
        Ok(RECORD_HEADER_LEN as u64 + u64::from(captured))
    }

    /// The packet of a whole record (`unit`, as long as
    /// [`Self::record_len`] said).
    pub(crate) fn decode_record(&self, unit: &[u8]) -> Item {
        let o = self.order;
        let sec = u64::from(o.u32_at(unit, field::TS_SEC));
        let frac = u64::from(o.u32_at(unit, field::TS_FRAC));
        // u32::MAX seconds plus a fraction of up to u32::MAX units stays
        // far below u64::MAX nanoseconds, so no overflow.
        let ts_ns = sec * NANOS_PER_SEC + if self.nanosecond { frac } else { frac * 1000 };
        Item::Packet {
            iface: 0,
            ts_ns,
            orig_len: o.u32_at(unit, field::ORIG_LEN),
            data_start: RECORD_HEADER_LEN,
            data_len: unit.len().saturating_sub(RECORD_HEADER_LEN),
            dropped_before: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcapng::CaptureReader;

    /// A file header and one 60-byte record, little-endian, nanoseconds,
    /// snaplen 65535, Ethernet, timestamp 1700000000.123456789.
    #[rustfmt::skip]
    static LE_NSEC: [u8; 24 + 16 + 4] = [
        0x4d, 0x3c, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        // 1700000000 = 0x6553f100, 123456789 = 0x075bcd15
        0x00, 0xf1, 0x53, 0x65, 0x15, 0xcd, 0x5b, 0x07,
        0x04, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00,
        0xde, 0xad, 0xbe, 0xef,
    ];

    /// The same in big-endian with microseconds (123456 us).
    #[rustfmt::skip]
    static BE_USEC: [u8; 24 + 16 + 4] = [
        0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
        0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40,
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x3c,
        0xde, 0xad, 0xbe, 0xef,
    ];

    #[test]
    fn test_emit() {
        let mut buf = [0u8; 64];
        let mut out = &mut buf[..];
        let mut w =
            PcapWriter::with_byte_order(&mut out, 65535, LINKTYPE_ETHERNET, ByteOrder::Little)
                .unwrap();
        let n = w
            .write_packet(1_700_000_000_123_456_789, 60, &[0xde, 0xad, 0xbe, 0xef])
            .unwrap();
        assert_eq!((n, w.bytes_written()), (20, 44));
        assert_eq!(buf[..44], LE_NSEC);
    }

    #[test]
    fn test_record_lengths_known_beforehand() {
        assert_eq!(record_len(4), 20);
        assert_eq!(record_len(usize::MAX), 16 + u64::from(u32::MAX));
        assert_eq!(max_record_data(20), 4);
        assert_eq!(max_record_data(15), 0);
        for room in 16..100u64 {
            assert_eq!(record_len(max_record_data(room)), room);
        }
    }

    #[test]
    fn test_emit_big_endian() {
        let mut buf = [0u8; 64];
        let mut out = &mut buf[..];
        let mut w = PcapWriter::with_byte_order(&mut out, 65535, LINKTYPE_ETHERNET, ByteOrder::Big)
            .unwrap();
        w.write_packet(1_700_000_000_123_456_000, 60, &[0xde, 0xad, 0xbe, 0xef])
            .unwrap();
        // Same as BE_USEC except the nanosecond magic and fraction.
        assert_eq!(buf[..4], [0xa1, 0xb2, 0x3c, 0x4d]);
        assert_eq!(buf[4..28], BE_USEC[4..28]);
        assert_eq!(buf[28..32], 123_456_000u32.to_be_bytes());
        assert_eq!(buf[32..44], BE_USEC[32..44]);
    }

    #[test]
    fn test_parse() {
        for (file, ts_ns) in [
            (&LE_NSEC, 1_700_000_000_123_456_789),
            (&BE_USEC, 1_700_000_000_123_456_000),
        ] {
            let mut r = CaptureReader::new(file).unwrap();
            assert_eq!(r.next_record(), Some(Ok(Record::Section)));
            assert_eq!(
                r.next_record(),
                Some(Ok(Record::Interface {
                    id: 0,
                    linktype: 1,
                    snaplen: 65535
                }))
            );
            assert_eq!(
                r.next_record(),
                Some(Ok(Record::Packet {
                    iface: 0,
                    ts_ns,
                    orig_len: 60,
                    data: &[0xde, 0xad, 0xbe, 0xef],
                    dropped_before: None
                }))
            );
            assert_eq!(r.next_record(), None);
        }
    }

    #[test]
    fn test_impossible_len() {
        // incl_len 0x10000 > snaplen 0xffff.
        let mut file = LE_NSEC;
        file[32..36].copy_from_slice(&0x1_0000u32.to_le_bytes());
        let mut r = CaptureReader::new(&file).unwrap();
        r.next_record();
        r.next_record();
        let e = r.next_record().unwrap().unwrap_err();
        assert_eq!(
            e,
            CaptureError {
                offset: 32,
                kind: CaptureErrorKind::CapturedExceedsSnaplen {
                    captured: 0x1_0000,
                    snaplen: 0xffff
                }
            }
        );
        assert_eq!(r.next_record(), None, "a reader stops after an error");

        // incl_len 5 with 4 bytes left.
        let mut file = LE_NSEC;
        file[32] = 5;
        let mut r = CaptureReader::new(&file).unwrap();
        r.next_record();
        r.next_record();
        let e = r.next_record().unwrap().unwrap_err();
        assert_eq!(e.offset, 24);
        assert!(matches!(
            e.kind,
            CaptureErrorKind::Truncated {
                needed: 21,
                available: 20,
                ..
            }
        ));

        // Version 1.
        let mut file = LE_NSEC;
        file[4] = 1;
        let mut r = CaptureReader::new(&file).unwrap();
        assert_eq!(
            r.next_record(),
            Some(Err(CaptureError {
                offset: 4,
                kind: CaptureErrorKind::UnsupportedVersion {
                    major: 1,
                    minor: 4,
                    supported: 2
                }
            }))
        );
    }

    #[test]
    fn test_snaplen_zero_is_no_limit() {
        let mut file = LE_NSEC;
        file[16..20].fill(0);
        let r = CaptureReader::new(&file).unwrap();
        assert_eq!(
            r.filter(|r| matches!(r, Ok(Record::Packet { .. }))).count(),
            1
        );
    }

    #[test]
    fn byte_order_reads_and_writes() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(ByteOrder::Little.u64_at(&b, 0), 0x0807_0605_0403_0201);
        assert_eq!(ByteOrder::Big.u64_at(&b, 0), 0x0102_0304_0506_0708);
        assert_eq!(ByteOrder::Big.u16_at(&b, 7), 0, "past the end reads 0");
        assert_eq!(ByteOrder::Little.u64_bytes(0x0807_0605_0403_0201), b);
        assert_eq!(ByteOrder::Big.u32_bytes(0x0102_0304), [1, 2, 3, 4]);
    }
}
