//! The generated frames: Ethernet, IPv4 10.0.0.1 -> 10.0.0.2, UDP from 256
//! source ports to port 9, as a trafgen configuration (floods) and as a
//! pcap file for `ringtap replay --pps` (fixed rates), the same bytes in
//! both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{DESTINATION_MAC, FCS_LEN, GENERATOR_MAC};

pub(super) fn trafgen_config_path(out_dir: &Path, frame_bytes: u16) -> PathBuf {
    out_dir.join(format!("trafgen-{frame_bytes}B.cfg"))
}

/// The headers every benchmark frame of `frame_bytes` (FCS counted) shares:
/// the IPv4 header with its checksum, the UDP length and the zero payload's
/// length.
struct FrameParts {
    ipv4: [u8; 20],
    udp_len: u16,
    payload: u16,
    on_wire: u16,
}

fn frame_parts(frame_bytes: u16) -> Result<FrameParts, String> {
    const ETH_LEN: u16 = 14;
    const IPV4_LEN: u16 = 20;
    const UDP_LEN: u16 = 8;
    if !(64..=1518).contains(&frame_bytes) {
        return Err(format!(
            "frame size {frame_bytes}: must be 64 to 1518 bytes (an untagged Ethernet frame with FCS)"
        ));
    }
    let on_wire = frame_bytes - FCS_LEN;
    let ip_len = on_wire - ETH_LEN;
    let udp_len = ip_len - IPV4_LEN;
    let payload = udp_len - UDP_LEN;
    let [ip_len_hi, ip_len_lo] = ip_len.to_be_bytes();
    let mut ipv4 = [
        0x45, 0x00, ip_len_hi, ip_len_lo, // version 4, 20-byte header; total length
        0x00, 0x00, 0x00, 0x00, // identification; no fragmentation
        64, 17, 0x00, 0x00, // TTL, protocol UDP, checksum (below)
        10, 0, 0, 1, // source
        10, 0, 0, 2, // destination
    ];
    let checksum = ringtap_core::checksum::internet(&ipv4).to_be_bytes();
    ipv4[10..12].copy_from_slice(&checksum);
    Ok(FrameParts {
        ipv4,
        udp_len,
        payload,
        on_wire,
    })
}

/// The frame trafgen sends for flow `flow` (its source port's low byte).
pub(super) fn bench_frame(frame_bytes: u16, flow: u8) -> Result<Vec<u8>, String> {
    let parts = frame_parts(frame_bytes)?;
    let mut frame = Vec::with_capacity(usize::from(parts.on_wire));
    frame.extend_from_slice(&DESTINATION_MAC);
    frame.extend_from_slice(&GENERATOR_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&parts.ipv4);
    frame.extend_from_slice(&[0x04, flow, 0x00, 0x09]);
    frame.extend_from_slice(&parts.udp_len.to_be_bytes());
    frame.extend_from_slice(&[0x00, 0x00]);
    frame.resize(usize::from(parts.on_wire), 0);
    Ok(frame)
}

/// A pcap file of the 256 flows' frames, for `ringtap replay --pps`.
pub(super) fn replay_pcap(frame_bytes: u16) -> Result<Vec<u8>, String> {
    use ringtap_core::pcap::{PcapWriter, LINKTYPE_ETHERNET};
    // Writing into a Vec cannot fail (the error type is Infallible).
    let Ok(mut w) = PcapWriter::new(Vec::new(), 65535, LINKTYPE_ETHERNET);
    for flow in 0..=255u8 {
        let frame = bench_frame(frame_bytes, flow)?;
        let Ok(_) = w.write_packet(0, frame.len() as u32, &frame);
    }
    Ok(w.into_inner())
}

pub(super) fn replay_pcap_path(out_dir: &Path, frame_bytes: u16) -> PathBuf {
    out_dir.join(format!("replay-{frame_bytes}B.pcap"))
}

/// A trafgen configuration for one Ethernet/IPv4/UDP frame of `frame_bytes`
/// (counting the FCS, which trafgen does not write): 10.0.0.1 -> 10.0.0.2,
/// UDP 1024..1279 -> 9 (discard), no UDP checksum. The low byte of the source
/// port counts up from frame to frame, so 256 flows take turns. The
/// destination MAC belongs to no interface, so the kernel bridge floods it
/// to dut1 and sink0 drops it without further work.
pub(super) fn trafgen_config(frame_bytes: u16) -> Result<String, String> {
    let FrameParts {
        ipv4,
        udp_len,
        payload,
        on_wire,
    } = frame_parts(frame_bytes)?;
    let [udp_len_hi, udp_len_lo] = udp_len.to_be_bytes();

    let mut text = String::new();
    let _ = writeln!(
        text,
        "/* cargo xtask bench: {frame_bytes}-byte frames ({on_wire} bytes + FCS).\n   \
         Ethernet, IPv4 10.0.0.1 -> 10.0.0.2, UDP 1024..1279 -> 9; the source\n   \
         port's low byte counts up per frame, so 256 flows take turns. */\n{{"
    );
    let _ = writeln!(text, "  /* Ethernet: destination, source, type IPv4 */");
    let _ = writeln!(text, "  {},", hex_list(&DESTINATION_MAC));
    let _ = writeln!(text, "  {},", hex_list(&GENERATOR_MAC));
    let _ = writeln!(text, "  {},", hex_list(&[0x08, 0x00]));
    let _ = writeln!(text, "  /* IPv4 header, checksum included */");
    let _ = writeln!(text, "  {},", hex_list(&ipv4[..10]));
    let _ = writeln!(text, "  {},", hex_list(&ipv4[10..]));
    let _ = writeln!(
        text,
        "  /* UDP: source port 0x04xx, destination 9, length, no checksum */"
    );
    let _ = writeln!(
        text,
        "  0x04, dinc(0, 255, 1), 0x00, 0x09, {}, 0x00, 0x00,",
        hex_list(&[udp_len_hi, udp_len_lo])
    );
    let _ = writeln!(text, "  fill(0x00, {payload})");
    let _ = writeln!(text, "}}");
    Ok(text)
}

fn hex_list(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("0x{b:02x}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes a trafgen configuration of ours describes, with the
    /// counter shown as 0x00.
    fn config_bytes(config: &str) -> Vec<u8> {
        let mut body =
            config[config.find('{').unwrap() + 1..config.rfind('}').unwrap()].to_string();
        while let Some(start) = body.find("/*") {
            let end = body[start..].find("*/").unwrap() + start + 2;
            body.replace_range(start..end, "");
        }
        let body = body.replace("dinc(0, 255, 1)", "0x00");
        let (bytes, fill) = body.split_once("fill(0x00, ").unwrap();
        let mut out: Vec<u8> = bytes
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| u8::from_str_radix(t.strip_prefix("0x").unwrap(), 16).unwrap())
            .collect();
        let fill: usize = fill.trim().trim_end_matches(')').parse().unwrap();
        out.resize(out.len() + fill, 0);
        out
    }

    #[test]
    fn replay_sends_the_frames_trafgen_sends() {
        use ringtap_core::pcapng::{CaptureReader, Record};
        for frame_bytes in [64u16, 1500] {
            let flow0 = bench_frame(frame_bytes, 0).unwrap();
            assert_eq!(flow0, config_bytes(&trafgen_config(frame_bytes).unwrap()));
            let pcap = replay_pcap(frame_bytes).unwrap();
            let packets: Vec<Vec<u8>> = CaptureReader::<'_>::new(&pcap)
                .unwrap()
                .filter_map(|r| match r.unwrap() {
                    Record::Packet { data, .. } => Some(data.to_vec()),
                    _ => None,
                })
                .collect();
            assert_eq!(packets.len(), 256);
            for (flow, p) in packets.iter().enumerate() {
                assert_eq!(p, &bench_frame(frame_bytes, flow as u8).unwrap());
                assert_eq!(p[35], flow as u8, "source port low byte");
            }
        }
    }

    #[test]
    fn trafgen_frames_have_the_size_and_headers_asked_for() {
        for (frame_bytes, ip_len) in [(64u16, 46u16), (1500, 1482), (1518, 1500)] {
            let bytes = config_bytes(&trafgen_config(frame_bytes).unwrap());
            assert_eq!(
                bytes.len(),
                usize::from(frame_bytes - FCS_LEN),
                "{frame_bytes}"
            );
            assert_eq!(bytes[12..14], [0x08, 0x00], "IPv4");
            assert_eq!(bytes[16..18], ip_len.to_be_bytes(), "IPv4 total length");
            assert_eq!(
                ringtap_core::checksum::internet(&bytes[14..34]),
                0,
                "IPv4 checksum"
            );
            assert_eq!(bytes[34], 0x04, "source port 0x04xx");
            assert_eq!(bytes[36..38], [0x00, 0x09], "destination port 9");
            assert_eq!(bytes[38..40], (ip_len - 20).to_be_bytes(), "UDP length");
            assert_eq!(bytes[40..42], [0, 0], "no UDP checksum");
        }
        assert!(trafgen_config(63).is_err());
        assert!(trafgen_config(1519).is_err());
    }
}
