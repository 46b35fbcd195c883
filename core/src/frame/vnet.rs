//! `struct virtio_net_hdr`: with `PACKET_VNET_HDR` every frame a packet
//! socket sends starts with one (`tpacket_snd` reads it at the frame's data
//! offset and sends what follows it).
//!
//! ```text
//! 0       1          2         4          6            8             10
//! | flags | gso_type | hdr_len | gso_size | csum_start | csum_offset |
//! ```
//! The 16-bit fields are in the byte order of the legacy virtio device,
//! which for packet sockets is the CPU's (`vio_le()` in af_packet.c).

use super::{check_len, get_u16, set_u16, FrameError};

mod field {
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: usize = 2;
    pub const GSO_SIZE: usize = 4;
    pub const CSUM_START: usize = 6;
    pub const CSUM_OFFSET: usize = 8;
}

/// `sizeof(struct virtio_net_hdr)`.
pub const HEADER_LEN: usize = 10;

/// A view over a `virtio_net_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wrap a buffer without checking its length; accessors panic if it is
    /// shorter than [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wrap a buffer of at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), HEADER_LEN)?;
        Ok(Header { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `flags` (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, ...).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// `gso_type` (`VIRTIO_NET_HDR_GSO_NONE` is 0).
    pub fn gso_type(&self) -> u8 {
        self.buffer.as_ref()[field::GSO_TYPE]
    }

    /// `hdr_len`: how much of the frame the kernel copies into the socket
    /// buffer's linear area (the rest may stay in the ring's pages).
    pub fn hdr_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HDR_LEN)
    }

    /// `gso_size`.
    pub fn gso_size(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::GSO_SIZE)
    }

    /// `csum_start`.
    pub fn csum_start(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CSUM_START)
    }

    /// `csum_offset`.
    pub fn csum_offset(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CSUM_OFFSET)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Zero every field: no checksum offload, no segmentation.
    pub fn clear(&mut self) {
        self.buffer.as_mut()[..HEADER_LEN].fill(0);
    }

    /// Set `hdr_len`.
    pub fn set_hdr_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::HDR_LEN, len);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 12];
        let mut h = Header::new_checked(&mut buf[..]).unwrap();
        h.clear();
        h.set_hdr_len(1514);
        let len = 1514u16.to_ne_bytes();
        assert_eq!(
            buf,
            [0, 0, len[0], len[1], 0, 0, 0, 0, 0, 0, 0xa5, 0xa5],
            "only the 10 header bytes change"
        );
    }

    #[test]
    fn test_parse() {
        let mut buf = [0u8; HEADER_LEN];
        buf[0] = 1;
        buf[1] = 4;
        buf[2..4].copy_from_slice(&54u16.to_ne_bytes());
        buf[4..6].copy_from_slice(&1448u16.to_ne_bytes());
        buf[6..8].copy_from_slice(&34u16.to_ne_bytes());
        buf[8..10].copy_from_slice(&16u16.to_ne_bytes());
        let h = Header::new_checked(&buf[..]).unwrap();
        assert_eq!((h.flags(), h.gso_type()), (1, 4));
        assert_eq!((h.hdr_len(), h.gso_size()), (54, 1448));
        assert_eq!((h.csum_start(), h.csum_offset()), (34, 16));
    }

    #[test]
    fn test_impossible_len() {
        assert_eq!(
            Header::new_checked(&[0u8; 9][..]),
            Err(FrameError::Truncated { needed: 10, len: 9 })
        );
    }
}
