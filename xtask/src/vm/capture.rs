//! The capture check: the pcapng file `ringtap capture` wrote in the guest,
//! read back on the host by tcpdump, a reader that shares no code with
//! ringtap. tcpdump must read it without a complaint, and the frames it
//! shows (`-xx`: every byte from the Ethernet header on) must be the frames
//! the host sent, in order, VLAN tags where they were on the wire.

use std::path::Path;

use super::traffic::{describe, first_difference};
use crate::{Cmd, Result};

/// What tcpdump says first about a file it can read: `reading from file
/// PATH, link-type EN10MB (Ethernet), snapshot length N`.
const READING: &str = "reading from file ";
const ETHERNET: &str = ", link-type EN10MB (Ethernet), ";

/// Problems with the capture at `path` of the frames `sent` (empty: it
/// passed). An error only when tcpdump cannot be run.
pub fn check(path: &Path, sent: &[Vec<u8>]) -> Result<Vec<String>> {
    let (status, stdout, stderr) = Cmd::new("tcpdump")
        .args(["-nn", "-xx", "-r"])
        .arg(path)
        .output_and_stderr()?;
    let mut problems = Vec::new();
    if !status.success() {
        problems.push(format!("tcpdump -r exited with {status}"));
    }
    problems.extend(stderr_problems(&stderr));
    match frames(&stdout) {
        Ok(read) => problems.extend(compare(sent, &read)),
        Err(e) => problems.push(format!("tcpdump -xx output: {e}")),
    }
    Ok(problems)
}

/// Every stderr line but tcpdump's opening line is a warning.
fn stderr_problems(stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut opened = false;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        if !opened && line.starts_with(READING) && line.contains(ETHERNET) {
            opened = true;
        } else {
            problems.push(format!("tcpdump said: {line}"));
        }
    }
    if !opened {
        problems.push(format!(
            "tcpdump did not say it read an Ethernet capture (\"{READING}..{ETHERNET}..\")"
        ));
    }
    problems
}

/// The frames in `tcpdump -xx` output: a line that does not start with
/// white space begins a frame, `\t0xOFFSET:  hhhh hhhh ..` lines hold its
/// bytes.
fn frames(output: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for (number, line) in output.lines().enumerate() {
        let number = number + 1;
        if !line.starts_with(char::is_whitespace) {
            frames.push(Vec::new());
            continue;
        }
        let Some((offset, hex)) = line.trim_start().split_once(':') else {
            continue;
        };
        let Some(offset) = offset.strip_prefix("0x") else {
            continue;
        };
        let frame = frames
            .last_mut()
            .ok_or(format!("line {number}: bytes before the first frame"))?;
        let offset = usize::from_str_radix(offset, 16)
            .map_err(|_| format!("line {number}: offset `{offset}` is not hexadecimal"))?;
        if offset != frame.len() {
            return Err(format!(
                "line {number}: bytes at offset {offset:#x}, expected {:#x}",
                frame.len()
            ));
        }
        for group in hex.split_whitespace() {
            if group.len() % 2 != 0 || group.len() > 4 {
                return Err(format!("line {number}: `{group}` is not a group of bytes"));
            }
            for at in (0..group.len()).step_by(2) {
                let byte = u8::from_str_radix(&group[at..at + 2], 16)
                    .map_err(|_| format!("line {number}: `{group}` is not hexadecimal"))?;
                frame.push(byte);
            }
        }
    }
    Ok(frames)
}

/// The frames read against the frames sent: the same number, each the
/// same bytes, in order.
fn compare(sent: &[Vec<u8>], read: &[Vec<u8>]) -> Vec<String> {
    let mut problems = Vec::new();
    if read.len() != sent.len() {
        problems.push(format!(
            "the capture holds {} frames, the host sent {}",
            read.len(),
            sent.len()
        ));
    }
    let differ: Vec<String> = sent
        .iter()
        .zip(read)
        .enumerate()
        .filter(|(_, (s, r))| s != r)
        .map(|(i, (s, r))| {
            format!(
                "frame {i}: sent {}, captured {}{}",
                describe(s),
                describe(r),
                first_difference(s, r)
                    .map(|at| format!(", first difference at byte {at}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if let Some(first) = differ.first() {
        problems.push(format!(
            "{} captured frames differ from the frames sent in that place, first: {first}",
            differ.len()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    // `tcpdump -nn -xx -r` of a 60-byte frame and a 65-byte 802.1Q frame.
    const OUTPUT: &str = "\
00:00:01.000000 02:72:74:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype Unknown (0x88b5), length 60: 
\t0x0000:  ffff ffff ffff 0272 7400 0001 88b5 5254
\t0x0010:  564d 0200 0000 00a1 b2c3 d4e5 f601 0203
\t0x0020:  0405 0607 0809 0a0b 0c0d 0e0f 1011 1213
\t0x0030:  1415 1617 1819 1a1b 1c1d 1e1f
00:00:01.000500 02:72:74:00:00:01 > 01:00:5e:72:74:01, ethertype 802.1Q (0x8100), length 65: vlan 8, p 0, ethertype Unknown (0x88b5), 
\t0x0000:  0100 5e72 7401 0272 7400 0001 8100 0008
\t0x0010:  88b5 5254 564d 0200 0000 0100 0102 0304
\t0x0020:  0506 0708 090a 0b0c 0d0e 0f10 1112 1314
\t0x0030:  1516 1718 191a 1b1c 1d1e 1f20 2122 2324
\t0x0040:  25
";

    #[test]
    fn frames_are_read_from_the_hex_lines() {
        let read = frames(OUTPUT).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].len(), 60);
        assert_eq!(read[1].len(), 65);
        assert_eq!(
            &read[0][..8],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x72]
        );
        assert_eq!(&read[1][12..16], &[0x81, 0x00, 0x00, 0x08]);
        assert_eq!(read[1][64], 0x25);
        assert_eq!(frames("").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn malformed_output_is_an_error() {
        let skipped = OUTPUT.replace("\t0x0010:  564d", "\t0x0020:  564d");
        assert!(frames(&skipped).unwrap_err().contains("expected 0x10"));
        let odd = OUTPUT.replace("1415 1617", "141 1617");
        assert!(frames(&odd).unwrap_err().contains("`141`"));
        assert!(frames("\t0x0000:  ffff\n").is_err());
    }

    #[test]
    fn only_the_opening_line_may_be_on_stderr() {
        let opening = "reading from file /t/capture.pcapng, link-type EN10MB (Ethernet), \
                       snapshot length 262144\n";
        assert!(stderr_problems(opening).is_empty());
        let warned = format!("{opening}tcpdump: pcap_loop: truncated dump file\n");
        assert_eq!(
            stderr_problems(&warned),
            ["tcpdump said: tcpdump: pcap_loop: truncated dump file"]
        );
        assert_eq!(stderr_problems("").len(), 1);
        let other_link = opening.replace("EN10MB (Ethernet)", "LINUX_SLL2 (Linux cooked v2)");
        assert_eq!(stderr_problems(&other_link).len(), 2);
    }

    #[test]
    fn count_bytes_and_order_must_match() {
        let read = frames(OUTPUT).unwrap();
        assert!(compare(&read, &read).is_empty());
        let swapped = [read[1].clone(), read[0].clone()];
        let problems = compare(&read, &swapped);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("2 captured frames differ"),
            "{problems:?}"
        );
        let problems = compare(&read, &read[..1]);
        assert_eq!(problems, ["the capture holds 1 frames, the host sent 2"]);
        let mut changed = read.clone();
        changed[1][40] ^= 1;
        let problems = compare(&read, &changed);
        assert!(
            problems[0].ends_with("first difference at byte 40"),
            "{problems:?}"
        );
    }
}
