//! `struct tpacket_hdr` (`TPACKET_V1`), whose layout follows the kernel's
//! `unsigned long`:
//!
//! ```text
//! 64-bit kernel: | status (8) | len 8 | snaplen 12 | mac 16 | net 18 | sec 20 | usec 24 | pad | = 32
//! 32-bit kernel: | status (4) | len 4 | snaplen 8  | mac 12 | net 14 | sec 16 | usec 20 |       = 24
//! ```
//! Both are followed by the `sockaddr_ll` at `TPACKET_ALIGN(sizeof)` = 32.
//! A 32-bit program on a 64-bit kernel must use the 64-bit layout, which is
//! why the word size is a value here and not a `cfg`.

use super::{check_len, get_u16, get_u32, ll, packet_span, set_u16, set_u32, tx_span};
use super::{FrameError, KernelWord, Timestamp};
use crate::geometry::tpacket_align;

/// Field offsets for one word size.
#[derive(Debug, Clone, Copy)]
struct Fields {
    status: usize,
    len: usize,
    snaplen: usize,
    mac: usize,
    net: usize,
    sec: usize,
    usec: usize,
}

const fn fields(word: KernelWord) -> Fields {
    let w = word.bytes();
    // Only the low 32 bits of the status word carry flags; on a big-endian
    // 64-bit kernel they are the second half of the word.
    let status = if cfg!(target_endian = "big") {
        w - 4
    } else {
        0
    };
    Fields {
        status,
        len: w,
        snaplen: w + 4,
        mac: w + 8,
        net: w + 10,
        sec: w + 12,
        usec: w + 16,
    }
}

/// `sizeof(struct tpacket_hdr)` on a kernel with this word size.
pub const fn header_len(word: KernelWord) -> usize {
    match word {
        KernelWord::Bits32 => 24,
        KernelWord::Bits64 => 32,
    }
}

/// Offset of the 32-bit status flags inside the frame.
pub const fn status_offset(word: KernelWord) -> usize {
    fields(word).status
}

/// Offset of the `sockaddr_ll` after the header.
pub const fn addr_offset(word: KernelWord) -> usize {
    tpacket_align(header_len(word) as u32) as usize
}

/// A view over a V1 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
    word: KernelWord,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wrap a frame without checking its length.
    pub const fn new_unchecked(buffer: T, word: KernelWord) -> Self {
        Header { buffer, word }
    }

    /// Wrap a frame that can hold the header and the `sockaddr_ll`.
    pub fn new_checked(buffer: T, word: KernelWord) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), addr_offset(word) + ll::LEN)?;
        Ok(Header { buffer, word })
    }

    /// The wrapped frame.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn f(&self) -> Fields {
        fields(self.word)
    }

    /// The low 32 bits of `tp_status`, where all flags live.
    pub fn tp_status(&self) -> u32 {
        get_u32(self.buffer.as_ref(), self.f().status)
    }

    /// `tp_len`.
    pub fn tp_len(&self) -> u32 {
        get_u32(self.buffer.as_ref(), self.f().len)
    }

    /// `tp_snaplen`.
    pub fn tp_snaplen(&self) -> u32 {
        get_u32(self.buffer.as_ref(), self.f().snaplen)
    }

    /// `tp_mac`.
    pub fn tp_mac(&self) -> u16 {
        get_u16(self.buffer.as_ref(), self.f().mac)
    }

    /// `tp_net`.
    pub fn tp_net(&self) -> u16 {
        get_u16(self.buffer.as_ref(), self.f().net)
    }

    /// `tp_sec`.
    pub fn tp_sec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), self.f().sec)
    }

    /// `tp_usec`.
    pub fn tp_usec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), self.f().usec)
    }

    /// The receive timestamp (microsecond resolution).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp {
            sec: self.tp_sec(),
            nsec: self.tp_usec().saturating_mul(1000),
        }
    }

    /// The `sockaddr_ll` after the header.
    pub fn addr(&self) -> ll::Addr<&[u8]> {
        let at = addr_offset(self.word);
        ll::Addr::new_unchecked(&self.buffer.as_ref()[at..at + ll::LEN])
    }

    /// The packet bytes, checked against the frame.
    pub fn packet(&self) -> Result<&[u8], FrameError> {
        Header::new_unchecked(self.buffer.as_ref(), self.word).into_packet()
    }
}

impl<'a> Header<&'a [u8]> {
    /// [`Header::packet`], borrowing from the underlying buffer rather than
    /// from the view.
    pub fn into_packet(self) -> Result<&'a [u8], FrameError> {
        let span = packet_span(
            self.buffer.len(),
            addr_offset(self.word) + ll::LEN,
            u32::from(self.tp_mac()),
            self.tp_snaplen(),
        )?;
        Ok(&self.buffer[span])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Set the low 32 bits of `tp_status` (private copies and tests).
    pub fn set_tp_status(&mut self, v: u32) {
        let at = self.f().status;
        set_u32(self.buffer.as_mut(), at, v)
    }

    /// Set `tp_len`.
    pub fn set_tp_len(&mut self, v: u32) {
        let at = self.f().len;
        set_u32(self.buffer.as_mut(), at, v)
    }

    /// Set `tp_snaplen`.
    pub fn set_tp_snaplen(&mut self, v: u32) {
        let at = self.f().snaplen;
        set_u32(self.buffer.as_mut(), at, v)
    }

    /// Set `tp_mac`.
    pub fn set_tp_mac(&mut self, v: u16) {
        let at = self.f().mac;
        set_u16(self.buffer.as_mut(), at, v)
    }

    /// Set `tp_net`.
    pub fn set_tp_net(&mut self, v: u16) {
        let at = self.f().net;
        set_u16(self.buffer.as_mut(), at, v)
    }

    /// Set `tp_sec` and `tp_usec` (nanoseconds are truncated to micro).
    pub fn set_timestamp(&mut self, ts: Timestamp) {
        let f = self.f();
        set_u32(self.buffer.as_mut(), f.sec, ts.sec);
        set_u32(self.buffer.as_mut(), f.usec, ts.nsec / 1000);
    }

    /// The `len` bytes at `offset` where a TX payload goes, if they fit.
    pub fn payload_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8], FrameError> {
        let buf = self.buffer.as_mut();
        let span = tx_span(buf.len(), offset, len)?;
        Ok(&mut buf[span])
    }
}

#[cfg(all(test, target_endian = "little"))]
mod test {
    use super::*;

    // The same packet as a 64-bit and as a 32-bit kernel writes it.
    static HDR64: [u8; 32] = [
        0x05, 0, 0, 0, 0, 0, 0, 0, // status USER|LOSING (unsigned long)
        0x2a, 0, 0, 0, // len 42
        0x2a, 0, 0, 0, // snaplen 42
        0x42, 0, // mac 66
        0x50, 0, // net 80
        0x01, 0, 0, 0, // sec 1
        0x02, 0, 0, 0, // usec 2
        0, 0, 0, 0,
    ];
    static HDR32: [u8; 24] = [
        0x05, 0, 0, 0, // status
        0x2a, 0, 0, 0, 0x2a, 0, 0, 0, 0x42, 0, 0x50, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0,
    ];

    fn frame(hdr: &[u8]) -> [u8; 128] {
        let mut f = [0u8; 128];
        f[..hdr.len()].copy_from_slice(hdr);
        f
    }

    #[test]
    fn test_parse() {
        for (word, hdr) in [
            (KernelWord::Bits64, &HDR64[..]),
            (KernelWord::Bits32, &HDR32[..]),
        ] {
            let f = frame(hdr);
            let h = Header::new_checked(&f[..], word).unwrap();
            assert_eq!(h.tp_status(), 5, "{word:?}");
            assert_eq!(h.tp_len(), 42);
            assert_eq!(h.tp_snaplen(), 42);
            assert_eq!(h.tp_mac(), 66);
            assert_eq!(h.tp_net(), 80);
            assert_eq!(h.timestamp(), Timestamp { sec: 1, nsec: 2000 });
            assert_eq!(h.packet().unwrap().len(), 42);
        }
        assert_eq!(header_len(KernelWord::Bits32), 24);
        assert_eq!(header_len(KernelWord::Bits64), 32);
        assert_eq!(addr_offset(KernelWord::Bits32), 32);
        assert_eq!(addr_offset(KernelWord::Bits64), 32);
    }

    #[test]
    fn test_emit() {
        for (word, hdr) in [
            (KernelWord::Bits64, &HDR64[..]),
            (KernelWord::Bits32, &HDR32[..]),
        ] {
            let mut f = [0u8; 128];
            let mut h = Header::new_checked(&mut f[..], word).unwrap();
            h.set_tp_status(5);
            h.set_tp_len(42);
            h.set_tp_snaplen(42);
            h.set_tp_mac(66);
            h.set_tp_net(80);
            h.set_timestamp(Timestamp { sec: 1, nsec: 2999 });
            assert_eq!(f, frame(hdr), "{word:?}");
        }
    }

    #[test]
    fn test_impossible_len() {
        let f = frame(&HDR64);
        assert!(Header::new_checked(&f[..51], KernelWord::Bits64).is_err());
        // Read with the wrong word size, the 64-bit header's len field is
        // taken as the snap length at a bogus mac offset: caught, not read.
        let h = Header::new_checked(&f[..], KernelWord::Bits32).unwrap();
        assert_eq!(h.tp_len(), 0);
        assert!(h.packet().is_err());
    }
}
