//! pcapng files (the IETF opsawg pcapng draft): sections of blocks, each
//! block framed by its total length at both ends, and the capture reader
//! that reads both pcapng and classic pcap ([`crate::pcap`]).
//!
//! ```text
//! block:  type (4) | total length (4) | body ... | total length (4)
//! option: code (2) | length (2) | value, padded to 4 bytes    (code 0 ends the list)
//! ```
//!
//! A section starts with a section header block (SHB), whose byte-order
//! magic sets the byte order of everything up to the next SHB. Interface
//! description blocks (IDB) number the section's interfaces from 0 in the
//! order they appear; packet and statistics blocks name one by that number,
//! which only means something within the section.
//!
//! [`PcapngWriter`] writes one section: an SHB, one IDB per interface
//! (`if_name`, `if_tsresol` = 9: nanosecond timestamps), enhanced packet
//! blocks (EPB) with the original length and, where packets were lost before
//! one, `epb_dropcount`, and interface statistics blocks (ISB) with
//! `isb_ifrecv` and `isb_ifdrop`. Blocks go out in the CPU's byte order
//! unless told otherwise.
//!
//! [`CaptureReader`] (over a byte slice, zero copy) and
//! [`CaptureStreamReader`] (over [`embedded_io::Read`], through a buffer the
//! caller provides) read SHB, IDB, EPB, simple packet blocks (SPB), the
//! obsolete packet block, ISB, several sections in either byte order, and
//! skip every other block type by its total length, as the format asks.
//! Neither allocates; the interface table is a fixed array (capacity
//! [`DEFAULT_MAX_INTERFACES`] unless chosen). A malformed input yields one
//! [`CaptureError`] that names the byte offset and the rule broken, and
//! then the reader stops.

use core::fmt;
use core::ops::Range;

use embedded_io::{Read, Write};

use crate::pcap::{self, ByteOrder};

/// Block type of a section header block; a palindrome, so it reads the
/// same in either byte order.
pub const BLOCK_SECTION_HEADER: u32 = 0x0a0d_0d0a;
/// Block type of an interface description block.
pub const BLOCK_INTERFACE_DESCRIPTION: u32 = 1;
/// Block type of the obsolete packet block (pcapng 1.0), still read.
pub const BLOCK_PACKET: u32 = 2;
/// Block type of a simple packet block.
pub const BLOCK_SIMPLE_PACKET: u32 = 3;
/// Block type of an interface statistics block.
pub const BLOCK_INTERFACE_STATISTICS: u32 = 5;
/// Block type of an enhanced packet block.
pub const BLOCK_ENHANCED_PACKET: u32 = 6;
/// The SHB's byte-order magic, as written in the section's byte order.
pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Interfaces a section may describe before a reader with the default
/// capacity gives up ([`CaptureErrorKind::TooManyInterfaces`]).
pub const DEFAULT_MAX_INTERFACES: usize = 64;
/// The most packet bytes one EPB is written with; longer data is cut so the
/// block's 32-bit total length still holds it.
pub const MAX_PACKET_DATA: usize = 0xffff_0000;

/// Option codes used here (pcapng draft, section 4 and its option tables).
pub mod option {
    /// `opt_endofopt`: ends an option list.
    pub const END: u16 = 0;
    /// `shb_userappl`: the application that wrote the section (UTF-8).
    pub const SHB_USERAPPL: u16 = 4;
    /// `if_name`: the interface's name (UTF-8).
    pub const IF_NAME: u16 = 2;
    /// `if_tsresol`: timestamp unit, 10^-n seconds, or 2^-n with the top bit
    /// set; 6 (microseconds) when absent.
    pub const IF_TSRESOL: u16 = 9;
    /// `if_tsoffset`: seconds to add to every timestamp of the interface.
    pub const IF_TSOFFSET: u16 = 14;
    /// `epb_dropcount`: packets lost between this packet and the one before.
    pub const EPB_DROPCOUNT: u16 = 4;
    /// `isb_ifrecv`: packets the interface received since the capture began.
    pub const ISB_IFRECV: u16 = 4;
    /// `isb_ifdrop`: packets dropped for lack of resources since then.
    pub const ISB_IFDROP: u16 = 5;
}

/// The longest option value (its length field is 16 bits).
const MAX_OPTION_VALUE: usize = u16::MAX as usize;
/// `if_tsresol` as written: 10^-9 seconds.
const TSRESOL_NANOSECONDS: u8 = 9;
/// `if_tsresol` when the option is absent: 10^-6 seconds.
const TSRESOL_DEFAULT: u8 = 6;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Bytes of a block's header (type, total length) and of its trailer.
const BLOCK_HEADER_LEN: usize = 8;
const BLOCK_TRAILER_LEN: usize = 4;
/// Every block's minimum: header and trailer.
const BLOCK_MIN_LEN: u32 = 12;
/// What a reader needs to learn a block's length: for an SHB, the byte
/// order magic after the length decides how to read the length.
const BLOCK_HEAD_LEN: usize = 12;

mod field {
    // Offsets from the start of the block.
    pub const TYPE: usize = 0;
    pub const TOTAL_LEN: usize = 4;
    pub const BODY: usize = 8;

    pub const SHB_BYTE_ORDER_MAGIC: usize = 8;
    pub const SHB_MAJOR: usize = 12;
    pub const SHB_MINOR: usize = 14;
    pub const SHB_OPTIONS: usize = 24;

    pub const IDB_LINKTYPE: usize = 8;
    pub const IDB_SNAPLEN: usize = 12;
    pub const IDB_OPTIONS: usize = 16;

    pub const EPB_INTERFACE: usize = 8;
    pub const EPB_TS_HIGH: usize = 12;
    pub const EPB_CAPTURED_LEN: usize = 20;
    pub const EPB_ORIGINAL_LEN: usize = 24;
    pub const EPB_DATA: usize = 28;

    pub const PB_INTERFACE: usize = 8;
    pub const PB_DROPS: usize = 10;

    pub const SPB_ORIGINAL_LEN: usize = 8;
    pub const SPB_DATA: usize = 12;

    pub const ISB_INTERFACE: usize = 8;
    pub const ISB_OPTIONS: usize = 20;
}

/// Smallest total length of each block type this module reads.
fn min_block_len(block_type: u32) -> u32 {
    match block_type {
        BLOCK_SECTION_HEADER => field::SHB_OPTIONS as u32 + 4,
        BLOCK_INTERFACE_DESCRIPTION => field::IDB_OPTIONS as u32 + 4,
        BLOCK_PACKET | BLOCK_ENHANCED_PACKET => field::EPB_DATA as u32 + 4,
        BLOCK_SIMPLE_PACKET => field::SPB_DATA as u32 + 4,
        BLOCK_INTERFACE_STATISTICS => field::ISB_OPTIONS as u32 + 4,
        _ => BLOCK_MIN_LEN,
    }
}

fn block_name(block_type: u32) -> &'static str {
    match block_type {
        BLOCK_SECTION_HEADER => "section header block",
        BLOCK_INTERFACE_DESCRIPTION => "interface description block",
        BLOCK_PACKET => "packet block",
        BLOCK_SIMPLE_PACKET => "simple packet block",
        BLOCK_INTERFACE_STATISTICS => "interface statistics block",
        BLOCK_ENHANCED_PACKET => "enhanced packet block",
        _ => "block",
    }
}

/// Padding that brings `n` bytes to a multiple of 4.
const fn pad_len(n: usize) -> usize {
    n.wrapping_neg() % 4
}

/// Bytes of an `epb_dropcount` option with the `opt_endofopt` after it.
const DROPCOUNT_OPTIONS_LEN: usize = 4 + 8 + 4;
/// Bytes of an enhanced packet block around its data.
const EPB_OVERHEAD: usize = field::EPB_DATA + BLOCK_TRAILER_LEN;

/// Length of the enhanced packet block [`PcapngWriter::write_packet`]
/// writes for `data_len` captured bytes, with an `epb_dropcount` option
/// when `dropcount` (so a writer can tell beforehand whether a packet still
/// fits a size limit).
pub const fn enhanced_packet_len(data_len: usize, dropcount: bool) -> u64 {
    let data = if data_len > MAX_PACKET_DATA {
        MAX_PACKET_DATA
    } else {
        data_len
    };
    let options = if dropcount { DROPCOUNT_OPTIONS_LEN } else { 0 };
    (EPB_OVERHEAD + data + pad_len(data) + options) as u64
}

/// The most captured bytes an enhanced packet block of at most `room`
/// bytes holds (0 when not even an empty one fits): the inverse of
/// [`enhanced_packet_len`], rounded down to the 4-byte padding.
pub const fn max_packet_data(room: u64, dropcount: bool) -> usize {
    let options = if dropcount { DROPCOUNT_OPTIONS_LEN } else { 0 };
    let overhead = (EPB_OVERHEAD + options) as u64;
    if room < overhead {
        return 0;
    }
    let data = (room - overhead) & !3;
    if data > MAX_PACKET_DATA as u64 {
        MAX_PACKET_DATA
    } else {
        data as usize
    }
}

/// Length of the interface statistics block
/// [`PcapngWriter::write_statistics`] writes: its fixed fields,
/// `isb_ifrecv` and `isb_ifdrop` (8 bytes each), `opt_endofopt`.
pub const INTERFACE_STATISTICS_LEN: u64 =
    (field::ISB_OPTIONS + 2 * (4 + 8) + 4 + BLOCK_TRAILER_LEN) as u64;

/// `s` cut to at most `max` bytes at a character boundary.
fn cut_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ---------------------------------------------------------------- writing

/// Collects small pieces of a block on the stack so that a block costs few
/// `write_all` calls: the header, the packet data, the rest.
struct Staging<'w, W: Write> {
    w: &'w mut W,
    buf: [u8; 64],
    len: usize,
}

impl<'w, W: Write> Staging<'w, W> {
    fn new(w: &'w mut W) -> Self {
        Staging {
            w,
            buf: [0; 64],
            len: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), W::Error> {
        if bytes.len() > self.buf.len() - self.len {
            self.flush()?;
            if bytes.len() > self.buf.len() {
                return self.w.write_all(bytes);
            }
        }
        self.buf[self.len..][..bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), W::Error> {
        let staged = self.len;
        self.len = 0;
        self.w.write_all(&self.buf[..staged])
    }
}

/// Writes one pcapng section.
///
/// No allocation: a block is assembled from stack pieces and the caller's
/// data. The writer counts interfaces but keeps nothing else about them, so
/// the caller's part of the contract is: `iface` is an id that
/// [`Self::add_interface`] returned, and packet data is no longer than that
/// interface's snaplen (when not 0). A file that breaks it is rejected by
/// readers (this module's among them) at the offending block. After a
/// write error the output ends somewhere inside the failed block.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PcapngWriter<W: Write> {
    w: W,
    order: ByteOrder,
    interfaces: u32,
    bytes: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header block, in the CPU's byte order, with
    /// `shb_userappl` = `shb_app` (e.g. `"ringtap 0.1.0"`; omitted when
    /// empty, cut to 65535 bytes) and an unknown section length.
    pub fn new(w: W, shb_app: &str) -> Result<Self, W::Error> {
        Self::with_byte_order(w, shb_app, ByteOrder::NATIVE)
    }

    /// As [`Self::new`], in the given byte order.
    pub fn with_byte_order(w: W, shb_app: &str, order: ByteOrder) -> Result<Self, W::Error> {
        let mut writer = PcapngWriter {
            w,
            order,
            interfaces: 0,
            bytes: 0,
        };
        let mut fixed = [0u8; field::SHB_OPTIONS - field::BODY];
        fixed[..4].copy_from_slice(&order.u32_bytes(BYTE_ORDER_MAGIC));
        fixed[4..6].copy_from_slice(&order.u16_bytes(1));
        fixed[6..8].copy_from_slice(&order.u16_bytes(0));
        // Section length -1: not given (the writer streams).
        fixed[8..16].copy_from_slice(&[0xff; 8]);
        let app = cut_str(shb_app, MAX_OPTION_VALUE);
        let options: &[(u16, &[u8])] = if app.is_empty() {
            &[]
        } else {
            &[(option::SHB_USERAPPL, app.as_bytes())]
        };
        writer.write_block(BLOCK_SECTION_HEADER, &fixed, &[], options)?;
        Ok(writer)
    }

    /// Writes an interface description block and returns the interface's id
    /// (0, 1, ... in the order of the calls). Options: `if_name` = `name`
    /// (omitted when empty, cut to 65535 bytes) and `if_tsresol` = 9, so
    /// timestamps are in nanoseconds. `snaplen` 0 means no limit;
    /// `linktype` is e.g. 1 for Ethernet.
    pub fn add_interface(
        &mut self,
        name: &str,
        linktype: u16,
        snaplen: u32,
    ) -> Result<u32, W::Error> {
        let o = self.order;
        let mut fixed = [0u8; field::IDB_OPTIONS - field::BODY];
        fixed[..2].copy_from_slice(&o.u16_bytes(linktype));
        fixed[4..8].copy_from_slice(&o.u32_bytes(snaplen));
        let name = cut_str(name, MAX_OPTION_VALUE);
        let tsresol = [TSRESOL_NANOSECONDS];
        let with_name = [
            (option::IF_NAME, name.as_bytes()),
            (option::IF_TSRESOL, &tsresol[..]),
        ];
        let options = if name.is_empty() {
            &with_name[1..]
        } else {
            &with_name[..]
        };
        self.write_block(BLOCK_INTERFACE_DESCRIPTION, &fixed, &[], options)?;
        let id = self.interfaces;
        self.interfaces = self.interfaces.saturating_add(1);
        Ok(id)
    }

    /// Writes an enhanced packet block; returns its length in bytes.
    ///
    /// `ts_ns` is nanoseconds since 1970, `orig_len` the frame's length on
    /// the wire, `data` the captured bytes (cut only beyond
    /// [`MAX_PACKET_DATA`]), `dropped_before` the packets lost between the
    /// previous packet of this interface and this one, written as
    /// `epb_dropcount` when `Some` (see [`crate::loss`]).
    pub fn write_packet(
        &mut self,
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        dropped_before: Option<u64>,
    ) -> Result<usize, W::Error> {
        // The hot path of a capture: the header and the tail are built in
        // place, and the block costs three writes (header, data, tail).
        let data = &data[..data.len().min(MAX_PACKET_DATA)];
        let o = self.order;
        let pad = pad_len(data.len());
        // Padding, the epb_dropcount option and opt_endofopt, the trailer.
        let mut tail = [0u8; 3 + 4 + 8 + 4 + BLOCK_TRAILER_LEN];
        let mut tail_len = pad;
        if let Some(n) = dropped_before {
            tail[tail_len..][..2].copy_from_slice(&o.u16_bytes(option::EPB_DROPCOUNT));
            tail[tail_len + 2..][..2].copy_from_slice(&o.u16_bytes(8));
            tail[tail_len + 4..][..8].copy_from_slice(&o.u64_bytes(n));
            // opt_endofopt: four zero bytes.
            tail_len += 4 + 8 + 4;
        }
        let total = field::EPB_DATA + data.len() + tail_len + BLOCK_TRAILER_LEN;
        let total_bytes = o.u32_bytes(total as u32);
        tail[tail_len..][..BLOCK_TRAILER_LEN].copy_from_slice(&total_bytes);
        tail_len += BLOCK_TRAILER_LEN;
        let mut header = [0u8; field::EPB_DATA];
        header[..4].copy_from_slice(&o.u32_bytes(BLOCK_ENHANCED_PACKET));
        header[4..8].copy_from_slice(&total_bytes);
        header[8..12].copy_from_slice(&o.u32_bytes(iface));
        header[12..16].copy_from_slice(&o.u32_bytes((ts_ns >> 32) as u32));
        header[16..20].copy_from_slice(&o.u32_bytes(ts_ns as u32));
        header[20..24].copy_from_slice(&o.u32_bytes(data.len() as u32));
        header[24..28].copy_from_slice(&o.u32_bytes(orig_len));
        self.w.write_all(&header)?;
        self.w.write_all(data)?;
        self.w.write_all(&tail[..tail_len])?;
        self.bytes += total as u64;
        Ok(total)
    }

    /// Writes an interface statistics block for `iface` at `ts_ns`:
    /// `isb_ifrecv` = `received`, `isb_ifdrop` = `dropped`, both counted
    /// from the start of the capture. Returns its length in bytes.
    pub fn write_statistics(
        &mut self,
        iface: u32,
        ts_ns: u64,
        received: u64,
        dropped: u64,
    ) -> Result<usize, W::Error> {
        let o = self.order;
        let mut fixed = [0u8; field::ISB_OPTIONS - field::BODY];
        fixed[..4].copy_from_slice(&o.u32_bytes(iface));
        fixed[4..8].copy_from_slice(&o.u32_bytes((ts_ns >> 32) as u32));
        fixed[8..12].copy_from_slice(&o.u32_bytes(ts_ns as u32));
        let (received, dropped) = (o.u64_bytes(received), o.u64_bytes(dropped));
        let options = [
            (option::ISB_IFRECV, &received[..]),
            (option::ISB_IFDROP, &dropped[..]),
        ];
        self.write_block(BLOCK_INTERFACE_STATISTICS, &fixed, &[], &options)
    }

    /// Bytes written so far (for rotation by size).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Interfaces described so far.
    pub fn interface_count(&self) -> u32 {
        self.interfaces
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

    /// One block: header, the type's fixed fields, `data` padded to 4,
    /// `options` each padded to 4 plus `opt_endofopt` (no list at all when
    /// empty), trailer. Callers keep option values within 65535 bytes and
    /// data within [`MAX_PACKET_DATA`], so the length fits 32 bits.
    fn write_block(
        &mut self,
        block_type: u32,
        fixed: &[u8],
        data: &[u8],
        options: &[(u16, &[u8])],
    ) -> Result<usize, W::Error> {
        const ZEROS: [u8; 4] = [0; 4];
        let options_len = if options.is_empty() {
            0
        } else {
            options
                .iter()
                .map(|(_, v)| 4 + v.len() + pad_len(v.len()))
                .sum::<usize>()
                + 4
        };
        let total = BLOCK_HEADER_LEN
            + fixed.len()
            + data.len()
            + pad_len(data.len())
            + options_len
            + BLOCK_TRAILER_LEN;
        let o = self.order;
        let total_bytes = o.u32_bytes(total as u32);
        let mut s = Staging::new(&mut self.w);
        s.put(&o.u32_bytes(block_type))?;
        s.put(&total_bytes)?;
        s.put(fixed)?;
        s.put(data)?;
        s.put(&ZEROS[..pad_len(data.len())])?;
        for &(code, value) in options {
            s.put(&o.u16_bytes(code))?;
            s.put(&o.u16_bytes(value.len() as u16))?;
            s.put(value)?;
            s.put(&ZEROS[..pad_len(value.len())])?;
        }
        if !options.is_empty() {
            s.put(&ZEROS)?;
        }
        s.put(&total_bytes)?;
        s.flush()?;
        self.bytes += total as u64;
        Ok(total)
    }
}

// ---------------------------------------------------------------- reading

/// One thing a capture file says, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Record<'a> {
    /// A captured packet.
    Packet {
        /// The interface, by its id within the current section (0 in pcap).
        iface: u32,
        /// Nanoseconds since 1970, converted from the interface's unit
        /// (rounded down) with its `if_tsoffset` added. 0 for a simple
        /// packet block, which has no timestamp.
        ts_ns: u64,
        /// The packet's length on the wire.
        orig_len: u32,
        /// The captured bytes.
        data: &'a [u8],
        /// `epb_dropcount` (or the obsolete packet block's drop count):
        /// packets lost between the previous packet and this one.
        dropped_before: Option<u64>,
    },
    /// An interface description (in pcap, the file header).
    Interface {
        /// Its id: 0, 1, ... in the order of the section's descriptions.
        id: u32,
        /// Link type, e.g. 1 for Ethernet.
        linktype: u16,
        /// Longest captured length allowed; 0 for no limit.
        snaplen: u32,
    },
    /// Interface statistics (pcapng ISB), counted from the capture's start.
    Statistics {
        /// The interface.
        iface: u32,
        /// `isb_ifrecv`, when present.
        received: Option<u64>,
        /// `isb_ifdrop`, when present.
        dropped: Option<u64>,
    },
    /// A new section begins (the pcapng SHB; the pcap file header): the
    /// interface ids that follow count from 0 again.
    Section,
}

/// A malformed input: where and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CaptureError {
    /// Byte offset in the input of the structure or field at fault.
    pub offset: u64,
    /// What is wrong there.
    pub kind: CaptureErrorKind,
}

/// The rule a malformed input breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CaptureErrorKind {
    /// The first 4 bytes are neither a pcap magic nor a pcapng SHB type.
    UnknownMagic {
        /// The bytes, read big-endian.
        found: u32,
    },
    /// The input ends inside a structure.
    Truncated {
        /// The structure, e.g. `"pcapng block"`.
        what: &'static str,
        /// Bytes it needs from its start.
        needed: u64,
        /// Bytes the input has from there.
        available: u64,
    },
    /// A format version this reader does not know (pcap major 2, pcapng 1).
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
        /// The major version the format defines.
        supported: u16,
    },
    /// An SHB whose byte-order magic is not 0x1a2b3c4d in either order.
    ByteOrderMagic {
        /// The magic, read big-endian.
        found: u32,
    },
    /// A block total length below the block type's minimum.
    BlockTooShort {
        /// The block type.
        block_type: u32,
        /// Its total length field.
        total_len: u32,
        /// The type's minimum.
        min: u32,
    },
    /// A block total length that is not a multiple of 4.
    BlockLengthNotMultipleOf4 {
        /// Its total length field.
        total_len: u32,
    },
    /// The total length at a block's end differs from the one at its start.
    TrailerMismatch {
        /// The length at the start.
        total_len: u32,
        /// The length at the end.
        trailer: u32,
    },
    /// A packet's captured bytes (padded to 4) run past its block.
    CapturedExceedsBlock {
        /// The captured length.
        captured: u32,
        /// Bytes the block has for data (and options).
        room: u32,
    },
    /// A captured length above the snaplen of the interface or pcap file.
    CapturedExceedsSnaplen {
        /// The captured length.
        captured: u32,
        /// The snaplen.
        snaplen: u32,
    },
    /// A block that names an interface before the section described any.
    NoInterface {
        /// The block type.
        block_type: u32,
    },
    /// An interface id the section has not described.
    InterfaceOutOfRange {
        /// The id.
        iface: u32,
        /// Interfaces described so far in the section.
        count: u32,
    },
    /// A section describes more interfaces than the reader has room for.
    TooManyInterfaces {
        /// The reader's capacity.
        capacity: usize,
    },
    /// An option whose value runs past the end of its block's option list.
    OptionOverrun {
        /// Option code.
        code: u16,
        /// Its length field.
        len: u16,
        /// Bytes left after the option header.
        room: u32,
    },
    /// A known option with the wrong length.
    OptionLength {
        /// The option, e.g. `"epb_dropcount"`.
        option: &'static str,
        /// Its length field.
        len: u16,
        /// The length it must have.
        expected: u16,
    },
    /// An `if_tsresol` whose unit is finer than 10^-19 or 2^-63 seconds
    /// (so a second has more ticks than 64 bits count).
    UnsupportedTsresol {
        /// The option's value.
        tsresol: u8,
    },
    /// A timestamp (with `if_tsoffset`) outside 64-bit nanoseconds since 1970.
    TimestampOverflow,
    /// A record or block longer than a [`CaptureStreamReader`]'s buffer.
    RecordExceedsBuffer {
        /// Its length.
        len: u64,
        /// The buffer's length.
        capacity: usize,
    },
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CaptureErrorKind as K;
        match *self {
            K::UnknownMagic { found } => write!(
                f,
                "magic 0x{found:08x} is neither pcap (a1b2c3d4 or a1b23c4d, in either byte order) \
                 nor a pcapng section header block (0a0d0d0a)"
            ),
            K::Truncated {
                what,
                needed,
                available,
            } => write!(f, "the input ends inside a {what}: it needs {needed} bytes, {available} are left"),
            K::UnsupportedVersion {
                major,
                minor,
                supported,
            } => write!(f, "format version {major}.{minor}: only major version {supported} is defined"),
            K::ByteOrderMagic { found } => write!(
                f,
                "section header block has byte-order magic 0x{found:08x}, \
                 not 1a2b3c4d in either byte order"
            ),
            K::BlockTooShort {
                block_type,
                total_len,
                min,
            } => write!(
                f,
                "{} (type 0x{block_type:08x}) has block total length {total_len}, below its minimum {min}",
                block_name(block_type)
            ),
            K::BlockLengthNotMultipleOf4 { total_len } => {
                write!(f, "block total length {total_len} is not a multiple of 4")
            }
            K::TrailerMismatch { total_len, trailer } => write!(
                f,
                "block total length {total_len} at the block's start disagrees with {trailer} at its end"
            ),
            K::CapturedExceedsBlock { captured, room } => write!(
                f,
                "captured length {captured} (padded to 4) does not fit the {room} bytes the block has for it"
            ),
            K::CapturedExceedsSnaplen { captured, snaplen } => {
                write!(f, "captured length {captured} exceeds the snaplen {snaplen}")
            }
            K::NoInterface { block_type } => write!(
                f,
                "{} before any interface description block in its section",
                block_name(block_type)
            ),
            K::InterfaceOutOfRange { iface, count } => write!(
                f,
                "interface id {iface} is out of range: the section has described {count} interfaces"
            ),
            K::TooManyInterfaces { capacity } => write!(
                f,
                "the section describes more than {capacity} interfaces, this reader's capacity"
            ),
            K::OptionOverrun { code, len, room } => write!(
                f,
                "option {code} of length {len} runs past its block's options ({room} bytes left)"
            ),
            K::OptionLength {
                option,
                len,
                expected,
            } => write!(f, "option {option} has length {len}; it must be {expected}"),
            K::UnsupportedTsresol { tsresol } => write!(
                f,
                "if_tsresol 0x{tsresol:02x} is a unit finer than 10^-19 or 2^-63 seconds"
            ),
            K::TimestampOverflow => {
                write!(f, "timestamp is outside 64-bit nanoseconds since 1970")
            }
            K::RecordExceedsBuffer { len, capacity } => write!(
                f,
                "a record of {len} bytes does not fit the reader's {capacity}-byte buffer"
            ),
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.kind)
    }
}

impl core::error::Error for CaptureError {}

/// What a decoded unit (file header, record or block) yields, with packet
/// data as a range of the unit so that no borrow of the input escapes the
/// decoder (the stream reader reuses its buffer).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item {
    Packet {
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        data_start: usize,
        data_len: usize,
        dropped_before: Option<u64>,
    },
    Other(Record<'static>),
}

impl Item {
    /// The record, with packet data from `unit`, the bytes decoded.
    fn attach(self, unit: &[u8]) -> Record<'_> {
        match self {
            Item::Packet {
                iface,
                ts_ns,
                orig_len,
                data_start,
                data_len,
                dropped_before,
            } => Record::Packet {
                iface,
                ts_ns,
                orig_len,
                // The decoder checked the range against the unit; an empty
                // slice instead of a panic should that ever be wrong.
                data: unit
                    .get(data_start..data_start + data_len)
                    .unwrap_or_default(),
                dropped_before,
            },
            Item::Other(record) => record,
        }
    }
}

/// A timestamp unit, from `if_tsresol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsUnit {
    /// 10^-n seconds, n <= 19.
    Decimal(u8),
    /// 2^-n seconds, n <= 63.
    Binary(u8),
}

impl TsUnit {
    fn from_tsresol(tsresol: u8) -> Option<TsUnit> {
        let n = tsresol & 0x7f;
        match (tsresol & 0x80 != 0, n) {
            (false, 0..=19) => Some(TsUnit::Decimal(n)),
            (true, 0..=63) => Some(TsUnit::Binary(n)),
            _ => None,
        }
    }

    /// `ticks` of this unit in nanoseconds, rounded down.
    fn to_ns(self, ticks: u64) -> Option<u64> {
        match self {
            TsUnit::Decimal(n) if n <= 9 => ticks.checked_mul(10u64.pow(u32::from(9 - n))),
            TsUnit::Decimal(n) => Some(ticks / 10u64.pow(u32::from(n - 9))),
            TsUnit::Binary(n) => {
                u64::try_from((u128::from(ticks) * u128::from(NANOS_PER_SEC)) >> n).ok()
            }
        }
    }
}

/// What packet blocks need to know about their interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    snaplen: u32,
    unit: TsUnit,
    offset_s: i64,
}

impl Interface {
    const NONE: Interface = Interface {
        snaplen: 0,
        unit: TsUnit::Decimal(TSRESOL_DEFAULT),
        offset_s: 0,
    };

    fn ts_ns(&self, ticks: u64) -> Option<u64> {
        let ns = self.unit.to_ns(ticks)?;
        ns.checked_add_signed(self.offset_s.checked_mul(NANOS_PER_SEC as i64)?)
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// A pcap file whose 24-byte header comes next.
    PcapHeader,
    Pcap(pcap::Header),
    /// pcapng, in the current section's byte order (the first block is an
    /// SHB, which sets it).
    Pcapng(ByteOrder),
}

/// The format logic both readers share: how long the next unit is, and
/// what it says. The readers fetch the bytes.
#[derive(Debug, Clone)]
struct Decoder<const N: usize> {
    state: State,
    interfaces: [Interface; N],
    count: usize,
    /// A record to hand out before the next unit (pcap's interface).
    pending: Option<Record<'static>>,
}

fn err(offset: u64, kind: CaptureErrorKind) -> CaptureError {
    CaptureError { offset, kind }
}

impl<const N: usize> Decoder<N> {
    /// The decoder for an input starting with `first4`.
    fn detect(first4: &[u8], available: usize) -> Result<Self, CaptureError> {
        if first4.len() < 4 {
            return Err(err(
                0,
                CaptureErrorKind::Truncated {
                    what: "magic number",
                    needed: 4,
                    available: available as u64,
                },
            ));
        }
        let state = if pcap::magic(first4).is_some() {
            State::PcapHeader
        } else if ByteOrder::Little.u32_at(first4, 0) == BLOCK_SECTION_HEADER {
            State::Pcapng(ByteOrder::Little)
        } else {
            return Err(err(
                0,
                CaptureErrorKind::UnknownMagic {
                    found: ByteOrder::Big.u32_at(first4, 0),
                },
            ));
        };
        Ok(Decoder {
            state,
            interfaces: [Interface::NONE; N],
            count: 0,
            pending: None,
        })
    }

    /// Bytes of the next unit a reader must have to call [`Self::unit_len`],
    /// and the unit's name for a truncation error.
    fn head(&self) -> (usize, &'static str) {
        match self.state {
            State::PcapHeader => (pcap::FILE_HEADER_LEN, "pcap file header"),
            State::Pcap(_) => (pcap::RECORD_HEADER_LEN, "pcap record header"),
            State::Pcapng(_) => (BLOCK_HEAD_LEN, "pcapng block header"),
        }
    }

    /// Length of the unit that starts with `head` (at input `offset`), and
    /// its name for a truncation error.
    fn unit_len(&self, head: &[u8], offset: u64) -> Result<(u64, &'static str), CaptureError> {
        let order = match self.state {
            State::PcapHeader => return Ok((pcap::FILE_HEADER_LEN as u64, "pcap file header")),
            State::Pcap(header) => return Ok((header.record_len(head, offset)?, "pcap record")),
            State::Pcapng(order) => order,
        };
        let block_type = order.u32_at(head, field::TYPE);
        let order = if block_type == BLOCK_SECTION_HEADER {
            section_byte_order(head, offset)?
        } else {
            order
        };
        let total_len = order.u32_at(head, field::TOTAL_LEN);
        let min = min_block_len(block_type);
        if total_len < min {
            return Err(err(
                offset + field::TOTAL_LEN as u64,
                CaptureErrorKind::BlockTooShort {
                    block_type,
                    total_len,
                    min,
                },
            ));
        }
        if total_len % 4 != 0 {
            return Err(err(
                offset + field::TOTAL_LEN as u64,
                CaptureErrorKind::BlockLengthNotMultipleOf4 { total_len },
            ));
        }
        Ok((u64::from(total_len), "pcapng block"))
    }

    /// Decodes a whole unit (as long as [`Self::unit_len`] said) at input
    /// `offset`; `None` for a block skipped as unknown.
    fn decode(&mut self, unit: &[u8], offset: u64) -> Result<Option<Item>, CaptureError> {
        match self.state {
            State::PcapHeader => {
                let (header, interface) = pcap::decode_header(unit, offset)?;
                self.state = State::Pcap(header);
                self.pending = Some(interface);
                Ok(Some(Item::Other(Record::Section)))
            }
            State::Pcap(header) => Ok(Some(header.decode_record(unit))),
            State::Pcapng(order) => self.decode_block(order, unit, offset),
        }
    }

    fn decode_block(
        &mut self,
        order: ByteOrder,
        b: &[u8],
        offset: u64,
    ) -> Result<Option<Item>, CaptureError> {
        let block_type = order.u32_at(b, field::TYPE);
        let order = if block_type == BLOCK_SECTION_HEADER {
            section_byte_order(b, offset)?
        } else {
            order
        };
        let total_len = order.u32_at(b, field::TOTAL_LEN);
        let trailer_at = b.len().saturating_sub(BLOCK_TRAILER_LEN);
        let trailer = order.u32_at(b, trailer_at);
        if trailer != total_len {
            return Err(err(
                offset + trailer_at as u64,
                CaptureErrorKind::TrailerMismatch { total_len, trailer },
            ));
        }
        let at = |field: usize| offset + field as u64;
        let body_end = trailer_at;
        match block_type {
            BLOCK_SECTION_HEADER => {
                let (major, minor) = (
                    order.u16_at(b, field::SHB_MAJOR),
                    order.u16_at(b, field::SHB_MINOR),
                );
                if major != 1 {
                    return Err(err(
                        at(field::SHB_MAJOR),
                        CaptureErrorKind::UnsupportedVersion {
                            major,
                            minor,
                            supported: 1,
                        },
                    ));
                }
                let mut options = Options::new(order, b, field::SHB_OPTIONS, body_end, offset);
                while options.next_option()?.is_some() {}
                self.state = State::Pcapng(order);
                self.count = 0;
                Ok(Some(Item::Other(Record::Section)))
            }
            BLOCK_INTERFACE_DESCRIPTION => {
                if self.count == N {
                    return Err(err(
                        offset,
                        CaptureErrorKind::TooManyInterfaces { capacity: N },
                    ));
                }
                let mut interface = Interface {
                    snaplen: order.u32_at(b, field::IDB_SNAPLEN),
                    ..Interface::NONE
                };
                let mut options = Options::new(order, b, field::IDB_OPTIONS, body_end, offset);
                while let Some(opt) = options.next_option()? {
                    match opt.code {
                        option::IF_TSRESOL => {
                            let tsresol = opt.fixed::<1>("if_tsresol")?[0];
                            interface.unit = TsUnit::from_tsresol(tsresol).ok_or(err(
                                opt.offset,
                                CaptureErrorKind::UnsupportedTsresol { tsresol },
                            ))?;
                        }
                        option::IF_TSOFFSET => interface.offset_s = opt.u64("if_tsoffset")? as i64,
                        _ => {}
                    }
                }
                let id = self.count as u32;
                self.interfaces[self.count] = interface;
                self.count += 1;
                Ok(Some(Item::Other(Record::Interface {
                    id,
                    linktype: order.u16_at(b, field::IDB_LINKTYPE),
                    snaplen: interface.snaplen,
                })))
            }
            BLOCK_ENHANCED_PACKET | BLOCK_PACKET => {
                let (iface, drops) = if block_type == BLOCK_ENHANCED_PACKET {
                    (order.u32_at(b, field::EPB_INTERFACE), None)
                } else {
                    let drops = order.u16_at(b, field::PB_DROPS);
                    // 0xffff: the writer did not know.
                    let drops = (drops != u16::MAX).then_some(u64::from(drops));
                    (u32::from(order.u16_at(b, field::PB_INTERFACE)), drops)
                };
                let interface = self.interface(block_type, iface, at(field::EPB_INTERFACE))?;
                let ticks = timestamp(order, b, field::EPB_TS_HIGH);
                let captured = order.u32_at(b, field::EPB_CAPTURED_LEN);
                let data_len = captured as usize;
                let room = body_end - field::EPB_DATA;
                check_captured(
                    captured,
                    room,
                    interface.snaplen,
                    at(field::EPB_CAPTURED_LEN),
                )?;
                let mut dropped_before = drops;
                let options_at = field::EPB_DATA + data_len + pad_len(data_len);
                let mut options = Options::new(order, b, options_at, body_end, offset);
                while let Some(opt) = options.next_option()? {
                    if block_type == BLOCK_ENHANCED_PACKET && opt.code == option::EPB_DROPCOUNT {
                        dropped_before = Some(opt.u64("epb_dropcount")?);
                    }
                }
                let ts_ns = interface.ts_ns(ticks).ok_or(err(
                    at(field::EPB_TS_HIGH),
                    CaptureErrorKind::TimestampOverflow,
                ))?;
                Ok(Some(Item::Packet {
                    iface,
                    ts_ns,
                    orig_len: order.u32_at(b, field::EPB_ORIGINAL_LEN),
                    data_start: field::EPB_DATA,
                    data_len,
                    dropped_before,
                }))
            }
            BLOCK_SIMPLE_PACKET => {
                let interface = self.interface(block_type, 0, offset)?;
                let orig_len = order.u32_at(b, field::SPB_ORIGINAL_LEN);
                // The data is as long as the packet, or the snaplen of
                // interface 0 when that is shorter.
                let captured = match interface.snaplen {
                    0 => orig_len,
                    snaplen => orig_len.min(snaplen),
                };
                let room = body_end - field::SPB_DATA;
                check_captured(captured, room, 0, at(field::SPB_ORIGINAL_LEN))?;
                Ok(Some(Item::Packet {
                    iface: 0,
                    ts_ns: 0,
                    orig_len,
                    data_start: field::SPB_DATA,
                    data_len: captured as usize,
                    dropped_before: None,
                }))
            }
            BLOCK_INTERFACE_STATISTICS => {
                let iface = order.u32_at(b, field::ISB_INTERFACE);
                self.interface(block_type, iface, at(field::ISB_INTERFACE))?;
                let (mut received, mut dropped) = (None, None);
                let mut options = Options::new(order, b, field::ISB_OPTIONS, body_end, offset);
                while let Some(opt) = options.next_option()? {
                    match opt.code {
                        option::ISB_IFRECV => received = Some(opt.u64("isb_ifrecv")?),
                        option::ISB_IFDROP => dropped = Some(opt.u64("isb_ifdrop")?),
                        _ => {}
                    }
                }
                Ok(Some(Item::Other(Record::Statistics {
                    iface,
                    received,
                    dropped,
                })))
            }
            _ => Ok(None),
        }
    }

    /// The described interface `iface`, for a block of `block_type`.
    fn interface(
        &self,
        block_type: u32,
        iface: u32,
        offset: u64,
    ) -> Result<Interface, CaptureError> {
        if self.count == 0 {
            return Err(err(offset, CaptureErrorKind::NoInterface { block_type }));
        }
        match self.interfaces[..self.count].get(iface as usize) {
            Some(interface) => Ok(*interface),
            None => Err(err(
                offset,
                CaptureErrorKind::InterfaceOutOfRange {
                    iface,
                    count: self.count as u32,
                },
            )),
        }
    }
}

/// The byte order an SHB's magic (in `head`, its first 12 bytes) declares.
fn section_byte_order(head: &[u8], offset: u64) -> Result<ByteOrder, CaptureError> {
    let le = ByteOrder::Little.u32_at(head, field::SHB_BYTE_ORDER_MAGIC);
    if le == BYTE_ORDER_MAGIC {
        Ok(ByteOrder::Little)
    } else if le.swap_bytes() == BYTE_ORDER_MAGIC {
        Ok(ByteOrder::Big)
    } else {
        Err(err(
            offset + field::SHB_BYTE_ORDER_MAGIC as u64,
            CaptureErrorKind::ByteOrderMagic {
                found: le.swap_bytes(),
            },
        ))
    }
}

/// A 64-bit timestamp stored as two 32-bit words, the high one first, each
/// in the section's byte order.
fn timestamp(order: ByteOrder, b: &[u8], at: usize) -> u64 {
    (u64::from(order.u32_at(b, at)) << 32) | u64::from(order.u32_at(b, at + 4))
}

/// `captured` bytes, padded to 4, must fit the `room` a block has for them,
/// and must not exceed a non-zero `snaplen`.
fn check_captured(
    captured: u32,
    room: usize,
    snaplen: u32,
    offset: u64,
) -> Result<(), CaptureError> {
    let padded = u64::from(captured) + pad_len(captured as usize) as u64;
    if padded > room as u64 {
        return Err(err(
            offset,
            CaptureErrorKind::CapturedExceedsBlock {
                captured,
                room: room as u32,
            },
        ));
    }
    if snaplen != 0 && captured > snaplen {
        return Err(err(
            offset,
            CaptureErrorKind::CapturedExceedsSnaplen { captured, snaplen },
        ));
    }
    Ok(())
}

/// The options of one block, from `start` to `end` (the trailer). The list
/// is a multiple of 4 bytes long (as block lengths are, and so is whatever
/// precedes the options), so an option header always fits.
struct Options<'b> {
    order: ByteOrder,
    block: &'b [u8],
    pos: usize,
    end: usize,
    block_offset: u64,
}

/// One option: code, value, offset in the input.
struct Opt<'b> {
    code: u16,
    value: &'b [u8],
    offset: u64,
    order: ByteOrder,
}

impl<'b> Options<'b> {
    fn new(order: ByteOrder, block: &'b [u8], start: usize, end: usize, block_offset: u64) -> Self {
        Options {
            order,
            block,
            pos: start,
            end,
            block_offset,
        }
    }

    /// The next option; `None` at `opt_endofopt` or the end of the list.
    fn next_option(&mut self) -> Result<Option<Opt<'b>>, CaptureError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let offset = self.block_offset + self.pos as u64;
        let room = self.end - self.pos;
        let code = self.order.u16_at(self.block, self.pos);
        let len = self.order.u16_at(self.block, self.pos + 2);
        if code == option::END {
            self.pos = self.end;
            return Ok(None);
        }
        let value_at = self.pos + 4;
        let value_end = value_at + usize::from(len);
        if value_end > self.end {
            return Err(err(
                offset,
                CaptureErrorKind::OptionOverrun {
                    code,
                    len,
                    room: room.saturating_sub(4) as u32,
                },
            ));
        }
        self.pos = (value_end + pad_len(value_end)).min(self.end);
        Ok(Some(Opt {
            code,
            value: self.block.get(value_at..value_end).unwrap_or_default(),
            offset,
            order: self.order,
        }))
    }
}

impl Opt<'_> {
    /// The value, which must be exactly `L` bytes long.
    fn fixed<const L: usize>(&self, name: &'static str) -> Result<[u8; L], CaptureError> {
        self.value.try_into().map_err(|_| {
            err(
                self.offset,
                CaptureErrorKind::OptionLength {
                    option: name,
                    len: self.value.len() as u16,
                    expected: L as u16,
                },
            )
        })
    }

    fn u64(&self, name: &'static str) -> Result<u64, CaptureError> {
        let bytes = self.fixed::<8>(name)?;
        Ok(self.order.u64_at(&bytes, 0))
    }
}

/// Reads a pcap or pcapng file held in memory (e.g. mapped), handing out
/// packet data as slices of it.
///
/// `N` is the most interfaces one pcapng section may describe
/// ([`DEFAULT_MAX_INTERFACES`] for [`Self::new`]); the table takes 16
/// bytes per interface. Also an [`Iterator`] over the same records.
#[derive(Debug, Clone)]
pub struct CaptureReader<'a, const N: usize = DEFAULT_MAX_INTERFACES> {
    bytes: &'a [u8],
    pos: usize,
    decoder: Decoder<N>,
    failed: bool,
}

impl<'a> CaptureReader<'a> {
    /// A reader for `bytes`, whose first 4 bytes say pcap or pcapng; room
    /// for [`DEFAULT_MAX_INTERFACES`] interfaces per section.
    pub fn new(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        Self::with_interface_capacity(bytes)
    }
}

impl<'a, const N: usize> CaptureReader<'a, N> {
    /// As [`CaptureReader::new`], with room for `N` interfaces per section
    /// (`CaptureReader::<256>::with_interface_capacity(bytes)`).
    pub fn with_interface_capacity(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        let decoder = Decoder::detect(bytes.get(..4).unwrap_or(bytes), bytes.len())?;
        Ok(CaptureReader {
            bytes,
            pos: 0,
            decoder,
            failed: false,
        })
    }

    /// Byte offset of the next unread record or block.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// The next record, `None` at the end of the input, or an error after
    /// which the reader returns `None`.
    pub fn next_record(&mut self) -> Option<Result<Record<'a>, CaptureError>> {
        if self.failed {
            return None;
        }
        let result = self.advance().transpose()?;
        self.failed = result.is_err();
        Some(result)
    }

    fn advance(&mut self) -> Result<Option<Record<'a>>, CaptureError> {
        if let Some(record) = self.decoder.pending.take() {
            return Ok(Some(record));
        }
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(None);
            }
            let offset = self.pos as u64;
            let (head_len, what) = self.decoder.head();
            let truncated = |what, needed| {
                err(
                    offset,
                    CaptureErrorKind::Truncated {
                        what,
                        needed,
                        available: rest.len() as u64,
                    },
                )
            };
            let head = rest
                .get(..head_len)
                .ok_or(truncated(what, head_len as u64))?;
            let (len, what) = self.decoder.unit_len(head, offset)?;
            let unit = usize::try_from(len)
                .ok()
                .and_then(|len| rest.get(..len))
                .ok_or(truncated(what, len))?;
            let item = self.decoder.decode(unit, offset)?;
            self.pos += unit.len();
            if let Some(item) = item {
                return Ok(Some(item.attach(unit)));
            }
        }
    }
}

impl<'a, const N: usize> Iterator for CaptureReader<'a, N> {
    type Item = Result<Record<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

/// Why a [`CaptureStreamReader`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamError<E> {
    /// The underlying reader failed.
    Read(E),
    /// The input is malformed.
    Capture(CaptureError),
}

impl<E: fmt::Debug> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read(e) => write!(f, "reading the capture failed: {e:?}"),
            StreamError::Capture(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for StreamError<E> {}

impl<E> From<CaptureError> for StreamError<E> {
    fn from(e: CaptureError) -> Self {
        StreamError::Capture(e)
    }
}

/// Reads a pcap or pcapng file from an [`embedded_io::Read`] through a
/// buffer the caller provides, which must hold the longest record or block
/// (a longer one is [`CaptureErrorKind::RecordExceedsBuffer`]). Packet data
/// borrows the buffer until the next call. `N` as for [`CaptureReader`].
#[derive(Debug)]
pub struct CaptureStreamReader<'b, R: Read, const N: usize = DEFAULT_MAX_INTERFACES> {
    input: Buffered<'b, R>,
    /// Input offset of `input.buf[input.start]`.
    offset: u64,
    decoder: Decoder<N>,
    failed: bool,
}

impl<'b, R: Read> CaptureStreamReader<'b, R> {
    /// Reads the magic from `reader` and prepares to read the rest through
    /// `buf`, with room for [`DEFAULT_MAX_INTERFACES`] interfaces per
    /// section.
    pub fn new(reader: R, buf: &'b mut [u8]) -> Result<Self, StreamError<R::Error>> {
        Self::with_interface_capacity(reader, buf)
    }
}

impl<'b, R: Read, const N: usize> CaptureStreamReader<'b, R, N> {
    /// As [`CaptureStreamReader::new`], with room for `N` interfaces per
    /// section.
    pub fn with_interface_capacity(
        reader: R,
        buf: &'b mut [u8],
    ) -> Result<Self, StreamError<R::Error>> {
        const MAGIC_LEN: usize = 4;
        if buf.len() < MAGIC_LEN {
            let kind = CaptureErrorKind::RecordExceedsBuffer {
                len: MAGIC_LEN as u64,
                capacity: buf.len(),
            };
            return Err(err(0, kind).into());
        }
        let mut input = Buffered {
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
        };
        input.fill(MAGIC_LEN).map_err(StreamError::Read)?;
        let decoder = Decoder::detect(
            input.pending().get(..MAGIC_LEN).unwrap_or_default(),
            input.end,
        )?;
        Ok(CaptureStreamReader {
            input,
            offset: 0,
            decoder,
            failed: false,
        })
    }

    /// Byte offset of the next unread record or block.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Gives the reader back.
    pub fn into_inner(self) -> R {
        self.input.reader
    }

    /// The next record, `None` at the end of the input, or an error after
    /// which the reader returns `None`.
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, StreamError<R::Error>>> {
        if self.failed {
            return None;
        }
        if let Some(record) = self.decoder.pending.take() {
            return Some(Ok(record));
        }
        match self.advance() {
            Ok(Some(Decoded { item, unit })) => {
                Some(Ok(item.attach(self.input.buf.get(unit).unwrap_or_default())))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    /// Decodes units until one yields a record: the item and where its
    /// unit lies in the buffer. (Positions rather than a slice, so the
    /// buffer is free to refill while unknown blocks are skipped.)
    fn advance(&mut self) -> Result<Option<Decoded>, StreamError<R::Error>> {
        loop {
            let (head_len, what) = self.decoder.head();
            if !self.input.fill(head_len).map_err(StreamError::Read)? {
                if self.input.pending().is_empty() {
                    return Ok(None);
                }
                return Err(self.truncated(what, head_len as u64).into());
            }
            let head = self.input.pending().get(..head_len).unwrap_or_default();
            let (len, what) = self.decoder.unit_len(head, self.offset)?;
            let capacity = self.input.buf.len();
            let unit_len = match usize::try_from(len) {
                Ok(n) if n <= capacity => n,
                _ => {
                    // Too long for the buffer, unless the input ends first:
                    // then it is truncated, as the slice reader would say.
                    if !self.input.fill(capacity).map_err(StreamError::Read)? {
                        return Err(self.truncated(what, len).into());
                    }
                    let kind = CaptureErrorKind::RecordExceedsBuffer { len, capacity };
                    return Err(err(self.offset, kind).into());
                }
            };
            if !self.input.fill(unit_len).map_err(StreamError::Read)? {
                return Err(self.truncated(what, len).into());
            }
            let unit = self.input.start..self.input.start + unit_len;
            let item = self.decoder.decode(
                self.input.buf.get(unit.clone()).unwrap_or_default(),
                self.offset,
            )?;
            self.input.start = unit.end;
            self.offset += unit_len as u64;
            if let Some(item) = item {
                return Ok(Some(Decoded { item, unit }));
            }
        }
    }

    fn truncated(&self, what: &'static str, needed: u64) -> CaptureError {
        let available = self.input.pending().len() as u64;
        err(
            self.offset,
            CaptureErrorKind::Truncated {
                what,
                needed,
                available,
            },
        )
    }
}

/// A decoded unit that yields a record, and where it lies in the buffer.
struct Decoded {
    item: Item,
    unit: Range<usize>,
}

/// A reader and the caller's buffer: `buf[start..end]` is read but not yet
/// decoded.
#[derive(Debug)]
struct Buffered<'b, R> {
    reader: R,
    buf: &'b mut [u8],
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Buffered<'_, R> {
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Reads until at least `need` (at most `buf.len()`) bytes are pending
    /// or the input ends; whether they are.
    fn fill(&mut self, need: usize) -> Result<bool, R::Error> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.buf.len() - self.start < need {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < need && !self.eof {
            match self
                .reader
                .read(self.buf.get_mut(self.end..).unwrap_or_default())?
            {
                0 => self.eof = true,
                n => self.end += n,
            }
        }
        Ok(self.end - self.start >= need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    // Built independently of this module (by a short script following the
    // pcapng draft), little-endian. Timestamp 1700000000.123456789 s in
    // nanoseconds: high word 0x17979cfe, low word 0x3d85cd15.

    /// SHB, `shb_userappl` "ringtap".
    #[rustfmt::skip]
    static SHB_LE: [u8; 44] = [
        0x0a, 0x0d, 0x0d, 0x0a, 0x2c, 0x00, 0x00, 0x00, 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0x00, 0x00, 0x00,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04, 0x00, 0x07, 0x00, 0x72, 0x69, 0x6e, 0x67,
        0x74, 0x61, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00,
    ];

    /// IDB: Ethernet, snaplen 65535, `if_name` "eth0", `if_tsresol` 9.
    #[rustfmt::skip]
    static IDB_LE: [u8; 40] = [
        0x01, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
        0x02, 0x00, 0x04, 0x00, 0x65, 0x74, 0x68, 0x30, 0x09, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
    ];

    /// EPB: interface 0, 5 of 60 bytes, `epb_dropcount` 7.
    #[rustfmt::skip]
    static EPB_LE: [u8; 56] = [
        0x06, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x9c, 0x97, 0x17,
        0x15, 0xcd, 0x85, 0x3d, 0x05, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00,
    ];

    /// ISB: interface 0, `isb_ifrecv` 100, `isb_ifdrop` 7.
    #[rustfmt::skip]
    static ISB_LE: [u8; 52] = [
        0x05, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x9c, 0x97, 0x17,
        0x15, 0xcd, 0x85, 0x3d, 0x04, 0x00, 0x08, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x34, 0x00, 0x00, 0x00,
    ];

    /// A big-endian section: SHB without options; IDB 0 (snaplen 0, no
    /// options: microseconds); IDB 1 (snaplen 64, `if_tsresol` 2^-10,
    /// `if_tsoffset` 100 s); EPB on 0; EPB on 1 with `epb_dropcount` 2; an
    /// unknown block (0xbad); an SPB; an obsolete packet block on 1 with
    /// drop count 5; an ISB for 1 with `isb_ifdrop` 9 only.
    #[rustfmt::skip]
    static BIG_ENDIAN_SECTION: [u8; 296] = [
        0x0a, 0x0d, 0x0d, 0x0a, 0x00, 0x00, 0x00, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x01, 0x00, 0x00,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
        0x00, 0x09, 0x00, 0x01, 0x8a, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x06,
        0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x24, 0x18, 0x20, 0x22, 0x40,
        0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x00, 0x00, 0x24,
        0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x95,
        0x4f, 0xc4, 0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x03, 0xe8, 0x01, 0x02, 0x03, 0x04,
        0x00, 0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x0b, 0xad, 0x00, 0x00, 0x00, 0x14, 0x01, 0x02, 0x03, 0x04,
        0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x14,
        0x00, 0x00, 0x00, 0x02, 0x11, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x02,
        0x00, 0x00, 0x00, 0x24, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x01, 0x95, 0x4f, 0xc4, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x09, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24,
        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28,
    ];

    const TS: u64 = 1_700_000_000_123_456_789;

    fn writer_output(order: ByteOrder) -> Vec<u8> {
        let mut buf = [0u8; 256];
        let mut out = &mut buf[..];
        let mut w = PcapngWriter::with_byte_order(&mut out, "ringtap", order).unwrap();
        let mut lens = [0; 4];
        lens[0] = w.bytes_written() as usize;
        assert_eq!(w.add_interface("eth0", 1, 65535).unwrap(), 0);
        lens[1] = w.bytes_written() as usize - lens[0];
        lens[2] = w
            .write_packet(0, TS, 60, &[1, 2, 3, 4, 5], Some(7))
            .unwrap();
        lens[3] = w.write_statistics(0, TS, 100, 7).unwrap();
        let total = w.bytes_written() as usize;
        assert_eq!(lens, [44, 40, 56, 52]);
        assert_eq!(total, 192);
        buf[..total].to_vec()
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn test_emit() {
        let out = writer_output(ByteOrder::Little);
        assert_eq!(out[..44], SHB_LE);
        assert_eq!(out[44..84], IDB_LE);
        assert_eq!(out[84..140], EPB_LE);
        assert_eq!(out[140..], ISB_LE);
    }

    #[test]
    fn test_block_lengths_known_beforehand() {
        // The lengths the writer reported above.
        assert_eq!(enhanced_packet_len(5, true), 56);
        assert_eq!(INTERFACE_STATISTICS_LEN, 52);
        assert_eq!(enhanced_packet_len(61, false), 32 + 64);
        assert_eq!(enhanced_packet_len(usize::MAX, false), 32 + 0xffff_0000);
        for dropcount in [false, true] {
            for len in 0..64usize {
                let mut buf = [0u8; 256];
                let mut out = &mut buf[..];
                let mut w = PcapngWriter::new(&mut out, "").unwrap();
                let written = w
                    .write_packet(0, TS, 60, &[0xab; 64][..len], dropcount.then_some(3))
                    .unwrap();
                assert_eq!(written as u64, enhanced_packet_len(len, dropcount));
            }
            for room in 0..200u64 {
                let most = max_packet_data(room, dropcount);
                if room >= enhanced_packet_len(0, dropcount) {
                    assert!(enhanced_packet_len(most, dropcount) <= room, "{room}");
                    assert!(enhanced_packet_len(most + 1, dropcount) > room, "{room}");
                } else {
                    assert_eq!(most, 0);
                }
            }
        }
    }

    #[test]
    fn test_emit_without_options() {
        let mut buf = [0u8; 256];
        let mut out = &mut buf[..];
        let mut w = PcapngWriter::with_byte_order(&mut out, "", ByteOrder::Little).unwrap();
        // SHB of 28 bytes: no option list at all.
        assert_eq!(w.bytes_written(), 28);
        // IDB: if_tsresol only.
        w.add_interface("", 1, 0).unwrap();
        assert_eq!(w.bytes_written(), 28 + 32);
        // EPB without a drop count: no option list; data padded 61 -> 64.
        assert_eq!(
            w.write_packet(0, 0, 61, &[0xee; 61], None).unwrap(),
            32 + 64
        );
        assert_eq!(w.interface_count(), 1);
        assert_eq!(buf[28 + 16..28 + 28], [9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(buf[60 + 28 + 61..60 + 28 + 64], [0; 3]);
    }

    #[test]
    fn test_emit_cuts_long_strings_at_a_character() {
        let long = "é".repeat(40_000); // 80000 bytes
        let mut buf = std::vec![0u8; 70_000];
        let mut out = &mut buf[..];
        let w = PcapngWriter::with_byte_order(&mut out, &long, ByteOrder::Little).unwrap();
        // 65535 is inside a 2-byte character: cut to 65534.
        assert_eq!(w.bytes_written(), 28 + 4 + 65_536 + 4);
        assert_eq!(buf[26..28], [0xfe, 0xff]);
    }

    fn records(bytes: &[u8]) -> Vec<Result<Record<'_>, CaptureError>> {
        CaptureReader::new(bytes).unwrap().collect()
    }

    fn little_endian_records() -> [Record<'static>; 4] {
        [
            Record::Section,
            Record::Interface {
                id: 0,
                linktype: 1,
                snaplen: 65535,
            },
            Record::Packet {
                iface: 0,
                ts_ns: TS,
                orig_len: 60,
                data: &[1, 2, 3, 4, 5],
                dropped_before: Some(7),
            },
            Record::Statistics {
                iface: 0,
                received: Some(100),
                dropped: Some(7),
            },
        ]
    }

    #[test]
    fn test_parse() {
        let file = concat(&[&SHB_LE, &IDB_LE, &EPB_LE, &ISB_LE]);
        let expected: Vec<_> = little_endian_records().into_iter().map(Ok).collect();
        assert_eq!(records(&file), expected);
        assert_eq!(records(&writer_output(ByteOrder::Big)), expected);
    }

    fn big_endian_records() -> [Record<'static>; 9] {
        [
            Record::Section,
            Record::Interface {
                id: 0,
                linktype: 1,
                snaplen: 0,
            },
            Record::Interface {
                id: 1,
                linktype: 1,
                snaplen: 64,
            },
            // No if_tsresol: microseconds.
            Record::Packet {
                iface: 0,
                ts_ns: 1_700_000_000_123_456_000,
                orig_len: 3,
                data: &[0xaa, 0xbb, 0xcc],
                dropped_before: None,
            },
            // 2^-10 s ticks plus if_tsoffset 100 s.
            Record::Packet {
                iface: 1,
                ts_ns: 1_700_000_100_500_000_000,
                orig_len: 1000,
                data: &[1, 2, 3, 4],
                dropped_before: Some(2),
            },
            // (Block type 0xbad skipped.) A simple packet block.
            Record::Packet {
                iface: 0,
                ts_ns: 0,
                orig_len: 2,
                data: &[0x11, 0x22],
                dropped_before: None,
            },
            // An obsolete packet block with a drop count of 5.
            Record::Packet {
                iface: 1,
                ts_ns: 1_700_000_100_500_000_000,
                orig_len: 2,
                data: &[9, 8],
                dropped_before: Some(5),
            },
            Record::Statistics {
                iface: 1,
                received: None,
                dropped: Some(9),
            },
            // Then the little-endian section.
            Record::Section,
        ]
    }

    #[test]
    fn test_parse_big_endian_and_sections() {
        let file = concat(&[&BIG_ENDIAN_SECTION, &SHB_LE, &IDB_LE, &EPB_LE, &ISB_LE]);
        let expected: Vec<_> = big_endian_records()
            .into_iter()
            .chain(little_endian_records().into_iter().skip(1))
            .map(Ok)
            .collect();
        assert_eq!(records(&file), expected);

        // The stream reader, with a buffer just long enough for the longest
        // block (56 bytes), gives the same.
        let mut buf = [0u8; 56];
        let mut r = CaptureStreamReader::new(&file[..], &mut buf).unwrap();
        let mut got = Vec::new();
        while let Some(record) = r.next_record() {
            got.push(std::format!("{:?}", record.unwrap()));
        }
        let expected: Vec<_> = expected
            .iter()
            .map(|r| std::format!("{:?}", r.unwrap()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(r.offset(), file.len() as u64);
    }

    #[test]
    fn stream_reader_buffer_too_small() {
        let file = concat(&[&SHB_LE, &IDB_LE, &EPB_LE]);
        let mut buf = [0u8; 48];
        let mut r = CaptureStreamReader::new(&file[..], &mut buf).unwrap();
        assert!(matches!(r.next_record(), Some(Ok(Record::Section))));
        assert!(matches!(
            r.next_record(),
            Some(Ok(Record::Interface { .. }))
        ));
        let e = r.next_record().unwrap().unwrap_err();
        assert_eq!(
            e,
            StreamError::Capture(CaptureError {
                offset: 84,
                kind: CaptureErrorKind::RecordExceedsBuffer {
                    len: 56,
                    capacity: 48
                }
            })
        );
        assert!(r.next_record().is_none());
        let mut tiny = [0u8; 3];
        assert!(CaptureStreamReader::new(&file[..], &mut tiny).is_err());
    }

    /// The error the reader stops with, `prefix` records in.
    fn error_of(file: &[u8]) -> CaptureError {
        let mut last = None;
        for r in CaptureReader::<2>::with_interface_capacity(file).unwrap() {
            last = Some(r);
        }
        last.unwrap().unwrap_err()
    }

    fn le(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }

    #[test]
    fn test_impossible_len() {
        use CaptureErrorKind as K;
        let shb = &SHB_LE[..];
        // An unknown block of total length 8 (< 12), at byte 44.
        let file = concat(&[shb, &le(0xbad), &le(8), &le(8)]);
        let kind = K::BlockTooShort {
            block_type: 0xbad,
            total_len: 8,
            min: 12,
        };
        assert_eq!(error_of(&file), CaptureError { offset: 48, kind });
        // An EPB of 28 bytes (< 32).
        let mut epb = EPB_LE;
        epb[4..8].copy_from_slice(&le(28));
        let kind = K::BlockTooShort {
            block_type: 6,
            total_len: 28,
            min: 32,
        };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &epb])),
            CaptureError { offset: 88, kind }
        );
        // 58: not a multiple of 4.
        epb[4..8].copy_from_slice(&le(58));
        let kind = K::BlockLengthNotMultipleOf4 { total_len: 58 };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &epb])),
            CaptureError { offset: 88, kind }
        );
        // Trailer 60 where the header says 56.
        let mut epb = EPB_LE;
        epb[52..56].copy_from_slice(&le(60));
        let kind = K::TrailerMismatch {
            total_len: 56,
            trailer: 60,
        };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &epb])),
            CaptureError { offset: 136, kind }
        );
        // Captured length 25: padded to 28, past the 24 bytes of data and
        // options (21 would fit, leaving no options).
        let mut epb = EPB_LE;
        epb[20..24].copy_from_slice(&le(25));
        let kind = K::CapturedExceedsBlock {
            captured: 25,
            room: 24,
        };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &epb])),
            CaptureError { offset: 104, kind }
        );
        // Snaplen 4, captured 5.
        let mut idb = IDB_LE;
        idb[12..16].copy_from_slice(&le(4));
        let kind = K::CapturedExceedsSnaplen {
            captured: 5,
            snaplen: 4,
        };
        assert_eq!(
            error_of(&concat(&[shb, &idb, &EPB_LE])),
            CaptureError { offset: 104, kind }
        );
        // A packet before any IDB, and an ISB for interface 1 of 1.
        let kind = K::NoInterface { block_type: 6 };
        assert_eq!(
            error_of(&concat(&[shb, &EPB_LE])),
            CaptureError { offset: 52, kind }
        );
        let mut isb = ISB_LE;
        isb[8] = 1;
        let kind = K::InterfaceOutOfRange { iface: 1, count: 1 };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &isb])),
            CaptureError { offset: 92, kind }
        );
        // A third interface for a reader with room for two.
        let kind = K::TooManyInterfaces { capacity: 2 };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &IDB_LE, &IDB_LE])),
            CaptureError { offset: 124, kind }
        );
        // A new section empties the table.
        let file = concat(&[shb, &IDB_LE, &IDB_LE, shb, &IDB_LE, &IDB_LE, &EPB_LE]);
        assert!(CaptureReader::<2>::with_interface_capacity(&file)
            .unwrap()
            .all(|r| r.is_ok()));
        let kind = K::NoInterface { block_type: 6 };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, shb, &EPB_LE])),
            CaptureError { offset: 136, kind }
        );
    }

    #[test]
    fn test_bad_options() {
        use CaptureErrorKind as K;
        let shb = &SHB_LE[..];
        // if_name claims 200 bytes; 16 are left after its header.
        let mut idb = IDB_LE;
        idb[18] = 200;
        let kind = K::OptionOverrun {
            code: 2,
            len: 200,
            room: 16,
        };
        assert_eq!(
            error_of(&concat(&[shb, &idb])),
            CaptureError { offset: 60, kind }
        );
        // if_tsresol of 2 bytes.
        let mut idb = IDB_LE;
        idb[26] = 2;
        let kind = K::OptionLength {
            option: "if_tsresol",
            len: 2,
            expected: 1,
        };
        assert_eq!(
            error_of(&concat(&[shb, &idb])),
            CaptureError { offset: 68, kind }
        );
        // epb_dropcount of 4 bytes (the rest then reads as end of options).
        let mut epb = EPB_LE;
        epb[38] = 4;
        let kind = K::OptionLength {
            option: "epb_dropcount",
            len: 4,
            expected: 8,
        };
        assert_eq!(
            error_of(&concat(&[shb, &IDB_LE, &epb])),
            CaptureError { offset: 120, kind }
        );
        // Units finer than 10^-19 or 2^-63 s.
        for tsresol in [20, 0x80 | 64] {
            let mut idb = IDB_LE;
            idb[28] = tsresol;
            let kind = K::UnsupportedTsresol { tsresol };
            assert_eq!(
                error_of(&concat(&[shb, &idb])),
                CaptureError { offset: 68, kind }
            );
        }
        // Seconds (tsresol 0): 2^64 - 1 of them are no nanoseconds.
        let mut idb = IDB_LE;
        idb[28] = 0;
        let mut epb = EPB_LE;
        epb[12..20].fill(0xff);
        let kind = K::TimestampOverflow;
        assert_eq!(
            error_of(&concat(&[shb, &idb, &epb])),
            CaptureError { offset: 96, kind }
        );
    }

    #[test]
    fn test_bad_headers() {
        use CaptureErrorKind as K;
        // Wrong magic, empty input.
        assert_eq!(
            CaptureReader::new(b"GIF89a").unwrap_err(),
            CaptureError {
                offset: 0,
                kind: K::UnknownMagic { found: 0x4749_4638 }
            }
        );
        let kind = K::Truncated {
            what: "magic number",
            needed: 4,
            available: 0,
        };
        assert_eq!(
            CaptureReader::new(&[]).unwrap_err(),
            CaptureError { offset: 0, kind }
        );
        // Byte-order magic 0x1a2b3c4e.
        let mut shb = SHB_LE;
        shb[8] = 0x4e;
        let kind = K::ByteOrderMagic { found: 0x4e3c_2b1a };
        assert_eq!(error_of(&shb), CaptureError { offset: 8, kind });
        // Major version 2.
        let mut shb = SHB_LE;
        shb[12] = 2;
        let kind = K::UnsupportedVersion {
            major: 2,
            minor: 0,
            supported: 1,
        };
        assert_eq!(error_of(&shb), CaptureError { offset: 12, kind });
        // Truncated inside a block header and inside a block.
        let file = concat(&[&SHB_LE, &IDB_LE[..5]]);
        let kind = K::Truncated {
            what: "pcapng block header",
            needed: 12,
            available: 5,
        };
        assert_eq!(error_of(&file), CaptureError { offset: 44, kind });
        let file = concat(&[&SHB_LE, &IDB_LE[..39]]);
        let kind = K::Truncated {
            what: "pcapng block",
            needed: 40,
            available: 39,
        };
        assert_eq!(error_of(&file), CaptureError { offset: 44, kind });
        // A file that ends between blocks is complete.
        assert!(records(&concat(&[&SHB_LE, &IDB_LE]))
            .iter()
            .all(|r| r.is_ok()));
    }

    #[test]
    fn error_messages() {
        let e = CaptureError {
            offset: 1234,
            kind: CaptureErrorKind::BlockTooShort {
                block_type: 6,
                total_len: 12,
                min: 32,
            },
        };
        assert_eq!(
            std::format!("{e}"),
            "at byte 1234: enhanced packet block (type 0x00000006) has block total length 12, below its minimum 32"
        );
        let e = CaptureError {
            offset: 8,
            kind: CaptureErrorKind::OptionLength {
                option: "epb_dropcount",
                len: 4,
                expected: 8,
            },
        };
        assert_eq!(
            std::format!("{e}"),
            "at byte 8: option epb_dropcount has length 4; it must be 8"
        );
    }

    #[test]
    fn timestamp_units() {
        let unit = |r| TsUnit::from_tsresol(r).unwrap();
        assert_eq!(unit(6).to_ns(1_500_000), Some(1_500_000_000));
        assert_eq!(unit(9).to_ns(u64::MAX), Some(u64::MAX));
        assert_eq!(
            unit(0).to_ns(18_446_744_073),
            Some(18_446_744_073_000_000_000)
        );
        assert_eq!(unit(0).to_ns(18_446_744_074), None);
        // Finer than nanoseconds: rounded down.
        assert_eq!(unit(12).to_ns(1_999), Some(1));
        assert_eq!(unit(19).to_ns(u64::MAX), Some(1_844_674_407));
        // 2^-0 .. 2^-63 s.
        assert_eq!(unit(0x80).to_ns(3), Some(3_000_000_000));
        assert_eq!(unit(0x80 | 20).to_ns(3 << 20), Some(3_000_000_000));
        assert_eq!(unit(0x80 | 63).to_ns(1 << 62), Some(500_000_000));
        assert_eq!(TsUnit::from_tsresol(20), None);
        assert_eq!(TsUnit::from_tsresol(0x80 | 64), None);
        // if_tsoffset, negative too.
        let i = Interface {
            offset_s: -2,
            ..Interface::NONE
        };
        assert_eq!(i.ts_ns(3_000_000), Some(1_000_000_000));
        assert_eq!(i.ts_ns(1_000_000), None);
    }
}
