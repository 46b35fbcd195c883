//! Capture files against the tools people open them with: files written by
//! `ringtap_core::pcap` and `pcapng` must read in tcpdump (libpcap) and, when
//! installed, tshark (Wireshark) without a warning, with the same bytes,
//! lengths, timestamps, interfaces and drop counts; files those tools write
//! must read back with `CaptureReader`.
//!
//! Runs on the host, no namespace. tcpdump missing skips with a printed
//! reason, or fails under `RINGTAP_REQUIRE_NETNS=1` (`cargo xtask test`);
//! tshark/editcap missing always skips their part.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ringtap_core::pcap::{ByteOrder, PcapWriter, LINKTYPE_ETHERNET};
use ringtap_core::pcapng::{CaptureReader, PcapngWriter, Record};
use ringtap_tests::{frame, netns_required, TEST_ETHERTYPE};

/// One packet as written and as the tools must show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Packet {
    iface: u32,
    ts_ns: u64,
    orig_len: u32,
    data: Vec<u8>,
    dropped_before: Option<u64>,
}

const BASE_NS: u64 = 1_700_000_000_123_456_789;
const SNAPLEN_0: u32 = 65535;
const SNAPLEN_1: u32 = 128;

/// Frames of 60 to 1514 bytes on two interfaces (the second one cut to
/// 128 bytes), some after losses, timestamps with every nanosecond digit.
fn packets() -> Vec<Packet> {
    let lens = [60usize, 61, 62, 63, 64, 100, 1514, 999, 60, 1514];
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            let iface = (i % 3 == 2) as u32;
            let mut data = frame(i as u32, len, TEST_ETHERTYPE);
            if iface == 1 {
                data.truncate(SNAPLEN_1 as usize);
            }
            Packet {
                iface,
                ts_ns: BASE_NS + i as u64 * 1_000_001_001,
                orig_len: len as u32,
                data,
                dropped_before: [None, Some(3), Some(0)][i % 3],
            }
        })
        .collect()
}

/// Interface statistics written at the end: (iface, received, dropped).
const STATS: [(u32, u64, u64); 2] = [(0, 1000, 3), (1, 50, 7)];

/// The packets and statistics in a pcapng file. `second_snaplen` is the
/// snaplen the second interface declares: libpcap (1.10) refuses a file
/// whose interfaces differ in snaplen ("an interface has a snapshot length
/// 128 different from the snapshot length of the first interface"), so the
/// files for tcpdump declare the first one's; its packets are cut to 128
/// bytes either way.
fn pcapng_file(order: ByteOrder, second_snaplen: u32) -> Vec<u8> {
    let mut w = PcapngWriter::with_byte_order(Vec::new(), "ringtap tests", order).unwrap();
    assert_eq!(w.add_interface("veth-a", 1, SNAPLEN_0).unwrap(), 0);
    assert_eq!(w.add_interface("veth-b", 1, second_snaplen).unwrap(), 1);
    for p in packets() {
        w.write_packet(p.iface, p.ts_ns, p.orig_len, &p.data, p.dropped_before)
            .unwrap();
    }
    let end = BASE_NS + 20_000_000_000;
    for (iface, received, dropped) in STATS {
        w.write_statistics(iface, end, received, dropped).unwrap();
    }
    w.into_inner()
}

/// The interface-0 packets in a pcap file (one interface only).
fn pcap_file(order: ByteOrder) -> Vec<u8> {
    let mut w =
        PcapWriter::with_byte_order(Vec::new(), SNAPLEN_0, LINKTYPE_ETHERNET, order).unwrap();
    for p in packets().into_iter().filter(|p| p.iface == 0) {
        w.write_packet(p.ts_ns, p.orig_len, &p.data).unwrap();
    }
    w.into_inner()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringtap-capture-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a tool; `None` (with the reason printed) when it is not installed
/// and `required` is false.
fn run(tool: &str, args: &[&str], required: bool) -> Option<Output> {
    match Command::new(tool).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{tool} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(out)
        }
        Err(e) => {
            assert!(!required, "{tool} is needed (apt-get install {tool}): {e}");
            println!("SKIPPED: {tool} not found ({e})");
            None
        }
    }
}

fn tcpdump(args: &[&str]) -> Option<Output> {
    run("tcpdump", args, netns_required())
}

/// Lines of stderr other than the ones a clean read prints.
fn warnings(stderr: &[u8], expected_prefixes: &[&str]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.trim().is_empty() && !expected_prefixes.iter().any(|p| l.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

/// What `tcpdump -tt --time-stamp-precision=nano -nn -xx` printed: per
/// packet, its timestamp and its bytes.
fn parse_tcpdump(stdout: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut packets: Vec<(String, Vec<u8>)> = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        if let Some(hex) = line.strip_prefix('\t') {
            let (_, hex) = hex.split_once(":  ").expect("tcpdump hex line");
            let bytes = packets.last_mut().expect("hex before a packet line");
            for group in hex.split_whitespace() {
                for i in (0..group.len()).step_by(2) {
                    bytes
                        .1
                        .push(u8::from_str_radix(&group[i..i + 2], 16).unwrap());
                }
            }
        } else {
            let ts = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            packets.push((ts, Vec::new()));
        }
    }
    packets
}

fn ts_text(ts_ns: u64) -> String {
    format!("{}.{:09}", ts_ns / 1_000_000_000, ts_ns % 1_000_000_000)
}

/// tcpdump reads `path` cleanly and shows `want`'s timestamps and bytes.
fn check_in_tcpdump(path: &Path, want: &[Packet]) -> bool {
    let path = path.to_str().unwrap();
    let Some(out) = tcpdump(&[
        "-r",
        path,
        "-tt",
        "--time-stamp-precision=nano",
        "-nn",
        "-xx",
    ]) else {
        return false;
    };
    assert_eq!(
        warnings(&out.stderr, &["reading from file "]),
        Vec::<String>::new(),
        "{path}"
    );
    let shown = parse_tcpdump(&out.stdout);
    let expected: Vec<(String, Vec<u8>)> = want
        .iter()
        .map(|p| (ts_text(p.ts_ns), p.data.clone()))
        .collect();
    assert_eq!(shown, expected, "{path}");
    true
}

/// Packets, statistics and interfaces `CaptureReader` finds in `bytes`.
fn read(bytes: &[u8]) -> (Vec<Packet>, Vec<Record<'_>>) {
    let mut packets = Vec::new();
    let mut others = Vec::new();
    for r in CaptureReader::new(bytes).unwrap() {
        match r.unwrap() {
            Record::Packet {
                iface,
                ts_ns,
                orig_len,
                data,
                dropped_before,
            } => packets.push(Packet {
                iface,
                ts_ns,
                orig_len,
                data: data.to_vec(),
                dropped_before,
            }),
            other => others.push(other),
        }
    }
    (packets, others)
}

#[test]
fn pcapng_reads_in_tcpdump() {
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let path = write_file(
            &format!("ours-{order:?}.pcapng"),
            &pcapng_file(order, SNAPLEN_0),
        );
        if !check_in_tcpdump(&path, &packets()) {
            return;
        }
    }
}

#[test]
fn pcap_reads_in_tcpdump() {
    let want: Vec<Packet> = packets().into_iter().filter(|p| p.iface == 0).collect();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let path = write_file(&format!("ours-{order:?}.pcap"), &pcap_file(order));
        if !check_in_tcpdump(&path, &want) {
            return;
        }
    }
}

/// `tcpdump -r ours -w theirs` rewrites our capture as libpcap writes a
/// pcap: microsecond timestamps unless asked for nanoseconds, one
/// interface.
#[test]
fn tcpdump_written_pcap_reads_back() {
    let ours = write_file(
        "for-tcpdump.pcapng",
        &pcapng_file(ByteOrder::NATIVE, SNAPLEN_0),
    );
    for (precision, unit) in [("micro", 1000), ("nano", 1)] {
        let theirs = scratch_dir().join(format!("tcpdump-{precision}.pcap"));
        let Some(_) = tcpdump(&[
            "-r",
            ours.to_str().unwrap(),
            &format!("--time-stamp-precision={precision}"),
            "-w",
            theirs.to_str().unwrap(),
        ]) else {
            return;
        };
        let bytes = std::fs::read(&theirs).unwrap();
        let (got, others) = read(&bytes);
        assert_eq!(
            others,
            [
                Record::Section,
                Record::Interface {
                    id: 0,
                    linktype: 1,
                    snaplen: SNAPLEN_0
                }
            ]
        );
        let want: Vec<Packet> = packets()
            .into_iter()
            .map(|p| Packet {
                iface: 0,
                ts_ns: p.ts_ns / unit * unit,
                dropped_before: None,
                ..p
            })
            .collect();
        assert_eq!(got, want, "{precision}");
    }
}

/// tshark shows each packet's interface, time, lengths and drop count as
/// written, and, dissecting the file's blocks, the statistics.
#[test]
fn pcapng_reads_in_tshark() {
    const ROOT_NOTE: &str = "Running as user \"root\"";
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let path = write_file(
            &format!("for-tshark-{order:?}.pcapng"),
            &pcapng_file(order, SNAPLEN_1),
        );
        let path = path.to_str().unwrap();
        let fields = [
            "frame.interface_id",
            "frame.time_epoch",
            "frame.len",
            "frame.cap_len",
            "frame.drop_count",
        ];
        let mut args = vec!["-r", path, "-T", "fields"];
        for f in &fields {
            args.extend(["-e", f]);
        }
        let Some(out) = run("tshark", &args, false) else {
            return;
        };
        assert_eq!(
            warnings(&out.stderr, &[ROOT_NOTE]),
            Vec::<String>::new(),
            "{path}"
        );
        let shown: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let want: Vec<String> = packets()
            .iter()
            .map(|p| {
                let drops = p.dropped_before.map(|n| n.to_string()).unwrap_or_default();
                let ts = ts_text(p.ts_ns);
                format!(
                    "{}\t{ts}\t{}\t{}\t{drops}",
                    p.iface,
                    p.orig_len,
                    p.data.len()
                )
            })
            .collect();
        assert_eq!(shown, want, "{path}");

        // Wireshark's file format dissector (the whole file as one frame)
        // finds nothing malformed and shows the drop counts and statistics.
        let mime = ["-X", "read_format:MIME Files Format", "-r", path];
        let Some(out) = run("tshark", &[&mime[..], &["-V"]].concat(), false) else {
            return;
        };
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains("Malformed") && !text.contains("Expert Info"),
            "{text}"
        );
        let options = [
            "pcapng.options.option.data.packet.drop_count",
            "pcapng.options.option.data.interface.received",
            "pcapng.options.option.data.interface.dropped",
        ];
        let mut args = [&mime[..], &["-T", "fields"]].concat();
        for f in &options {
            args.extend(["-e", f]);
        }
        let Some(out) = run("tshark", &args, false) else {
            return;
        };
        assert_eq!(
            warnings(&out.stderr, &[ROOT_NOTE]),
            Vec::<String>::new(),
            "{path}"
        );
        let join = |v: Vec<String>| v.join(",");
        let want = format!(
            "{}\t{}\t{}\n",
            join(
                packets()
                    .iter()
                    .filter_map(|p| p.dropped_before)
                    .map(|n| n.to_string())
                    .collect()
            ),
            join(STATS.iter().map(|s| s.1.to_string()).collect()),
            join(STATS.iter().map(|s| s.2.to_string()).collect()),
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{path}");
    }
}

/// `editcap` rewrites our file as Wireshark writes pcapng (its own SHB and
/// IDB options); `CaptureReader` reads that back to the same packets.
#[test]
fn editcap_written_pcapng_reads_back() {
    let ours = write_file(
        "for-editcap.pcapng",
        &pcapng_file(ByteOrder::Big, SNAPLEN_1),
    );
    let theirs = scratch_dir().join("editcap.pcapng");
    let Some(_) = run(
        "editcap",
        &[
            "-F",
            "pcapng",
            ours.to_str().unwrap(),
            theirs.to_str().unwrap(),
        ],
        false,
    ) else {
        return;
    };
    let bytes = std::fs::read(&theirs).unwrap();
    let (got, others) = read(&bytes);
    assert_eq!(got, packets());
    let interfaces: Vec<_> = others
        .iter()
        .filter(|r| matches!(r, Record::Interface { .. }))
        .collect();
    assert_eq!(
        interfaces,
        [
            &Record::Interface {
                id: 0,
                linktype: 1,
                snaplen: SNAPLEN_0
            },
            &Record::Interface {
                id: 1,
                linktype: 1,
                snaplen: SNAPLEN_1
            }
        ]
    );
}
