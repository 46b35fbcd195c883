//! Acceptance of `ringtap capture` against the real kernel, each test in a
//! private namespace: frames enter the captured interface from its veth
//! peer (and leave it, for the other direction), ringtap runs as its own
//! process, and its files are judged by tcpdump and tshark, never by
//! ringtap's own reader.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use ringtap_tests::corpus::{corpus, MARKED_SRC};
use ringtap_tests::tools::{
    assert_clean_stderr, assert_same_frames, parse_tcpdump, tcpdump_read, tool, tools_present,
    tshark_fields, wait_bounded, Capture, Dumped, Scratch, TcpdumpCapture, TCPDUMP_DUMP_ARGS,
};
use ringtap_tests::{frame, in_netns, veth_pair, wait_until, Sender, TEST_ETHERTYPE};
use rustix::process::Signal;

const DEFAULT_SNAPLEN: u32 = 262_144;

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn bytes_of(dumped: &[Dumped]) -> Vec<Vec<u8>> {
    dumped.iter().map(|d| d.bytes.clone()).collect()
}

/// The sequence number `ringtap_tests::frame` put in bytes 14..18.
fn test_seq(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[14..18].try_into().expect("frame of 18 bytes or more"))
}

/// A pcapng block: type and body (between the length fields).
struct Block {
    kind: u32,
    body: Vec<u8>,
}

/// Walk a pcapng file block by block, in the byte order its section
/// header declares, checking that every block's two length fields agree.
fn pcapng_blocks(file: &[u8]) -> (bool, Vec<Block>) {
    assert!(file.len() >= 28, "{} bytes: not a pcapng file", file.len());
    assert_eq!(
        file[..4],
        [0x0a, 0x0d, 0x0d, 0x0a],
        "no section header first"
    );
    let big = match &file[8..12] {
        [0x1a, 0x2b, 0x3c, 0x4d] => true,
        [0x4d, 0x3c, 0x2b, 0x1a] => false,
        other => panic!("byte-order magic {other:02x?}"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = file[at..at + 4].try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < file.len() {
        assert!(at + 12 <= file.len(), "block at byte {at} cut short");
        let kind = u32_at(at);
        let len = u32_at(at + 4) as usize;
        assert!(
            len >= 12 && len.is_multiple_of(4) && at + len <= file.len(),
            "block at byte {at}: length {len}"
        );
        assert_eq!(
            u32_at(at + len - 4) as usize,
            len,
            "block at byte {at}: trailing length"
        );
        blocks.push(Block {
            kind,
            body: file[at + 8..at + len - 4].to_vec(),
        });
        at += len;
    }
    (big, blocks)
}

/// The options of a block body that starts with `fixed` bytes of fields.
fn options(big: bool, body: &[u8], fixed: usize) -> Vec<(u16, Vec<u8>)> {
    let u16_at = |at: usize| {
        let b: [u8; 2] = body[at..at + 2].try_into().unwrap();
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let mut out = Vec::new();
    let mut at = fixed;
    while at + 4 <= body.len() {
        let (code, len) = (u16_at(at), u16_at(at + 2) as usize);
        if code == 0 {
            break;
        }
        out.push((code, body[at + 4..at + 4 + len].to_vec()));
        at += 4 + len.next_multiple_of(4);
    }
    out
}

fn option_u64(big: bool, opts: &[(u16, Vec<u8>)], code: u16) -> Option<u64> {
    let (_, v) = opts.iter().find(|(c, _)| *c == code)?;
    let b: [u8; 8] = v.as_slice().try_into().ok()?;
    Some(if big {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    })
}

/// What the interface statistics block at the end says.
#[derive(Debug)]
struct EndStats {
    ifrecv: Option<u64>,
    ifdrop: u64,
}

/// Check the pcapng layout the contract fixes: one section, one Ethernet
/// interface named `iface` with `if_tsresol` 9 and `snaplen`, before any
/// packet; `epbs` enhanced packet blocks; an interface statistics block
/// last.
fn check_pcapng(file: &[u8], iface: &str, snaplen: u32, epbs: usize) -> EndStats {
    let (big, blocks) = pcapng_blocks(file);
    let u16_of = |b: &[u8]| {
        let b: [u8; 2] = b.try_into().unwrap();
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let u32_of = |b: &[u8]| {
        let b: [u8; 4] = b.try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let idbs: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].kind == 1).collect();
    assert_eq!(idbs.len(), 1, "interface description blocks");
    let first_epb = blocks.iter().position(|b| b.kind == 6);
    assert!(
        first_epb.is_none_or(|e| e > idbs[0]),
        "a packet before the IDB"
    );
    let idb = &blocks[idbs[0]].body;
    assert_eq!(u16_of(&idb[0..2]), 1, "IDB link type (Ethernet)");
    assert_eq!(u32_of(&idb[4..8]), snaplen, "IDB snaplen");
    let opts = options(big, idb, 8);
    let name = opts.iter().find(|(c, _)| *c == 2).map(|(_, v)| v.clone());
    assert_eq!(
        name.as_deref(),
        Some(iface.as_bytes()),
        "IDB if_name (option 2)"
    );
    let tsresol = opts.iter().find(|(c, _)| *c == 9).map(|(_, v)| v.clone());
    assert_eq!(
        tsresol.as_deref(),
        Some(&[9u8][..]),
        "IDB if_tsresol (option 9)"
    );
    assert_eq!(
        blocks.iter().filter(|b| b.kind == 6).count(),
        epbs,
        "enhanced packet blocks"
    );
    let last = blocks.last().expect("blocks");
    assert_eq!(
        last.kind, 5,
        "the file does not end with an interface statistics block"
    );
    let opts = options(big, &last.body, 12);
    EndStats {
        ifrecv: option_u64(big, &opts, 4),
        ifdrop: option_u64(big, &opts, 5).expect("isb_ifdrop (option 5) in the ISB"),
    }
}

/// Check a pcap global header: nanosecond magic (in either byte order),
/// Ethernet, `snaplen`.
fn check_pcap(file: &[u8], snaplen: u32) {
    assert!(file.len() >= 24, "{} bytes: not a pcap file", file.len());
    let big = match &file[..4] {
        [0xa1, 0xb2, 0x3c, 0x4d] => true,
        [0x4d, 0x3c, 0xb2, 0xa1] => false,
        other => panic!("pcap magic {other:02x?}, not the nanosecond one"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = file[at..at + 4].try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    assert_eq!(u32_at(16), snaplen, "pcap snaplen");
    assert_eq!(u32_at(20), 1, "pcap link type (Ethernet)");
}

fn epoch_ns(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos()
}

/// `frame.time_epoch` as tshark prints it (`1700000000.123456789`), in ns.
fn parse_epoch(s: &str) -> u128 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(frac.len() <= 9, "time {s}");
    let frac = format!("{frac:0<9}");
    secs.parse::<u128>().expect("seconds") * 1_000_000_000 + frac.parse::<u128>().expect("fraction")
}

/// Lengths and timestamps as tshark reads them: every frame whole
/// (`frame.cap_len` = `frame.len` = the expected length) and stamped in
/// nanoseconds within `[from, to]`.
fn check_with_tshark(file: &Path, expected: &[Vec<u8>], from: SystemTime, to: SystemTime) {
    let rows = tshark_fields(file, &["frame.len", "frame.cap_len", "frame.time_epoch"]);
    assert_eq!(rows.len(), expected.len(), "frames tshark reads");
    let (from, to) = (epoch_ns(from), epoch_ns(to));
    let mut sub_microsecond = false;
    for (i, (row, e)) in rows.iter().zip(expected).enumerate() {
        let len = e.len().to_string();
        assert_eq!((&row[0], &row[1]), (&len, &len), "frame #{} lengths", i + 1);
        let ts = parse_epoch(&row[2]);
        assert!(
            (from..=to).contains(&ts),
            "frame #{} stamped {} outside the capture's run",
            i + 1,
            row[2]
        );
        sub_microsecond |= !ts.is_multiple_of(1000);
    }
    assert!(
        sub_microsecond,
        "no timestamp has digits below the microsecond: not nanoseconds"
    );
}

/// Both directions of an interface, in pcapng and in pcap: the files hold
/// exactly what a tcpdump running alongside saw (same bytes, order, original
/// lengths, decoded the same, VLAN tags restored), tcpdump and tshark read
/// them without a warning, and the headers are the ones the contract fixes.
#[test]
fn files_hold_what_tcpdump_sees_with_vlan_tags_restored() {
    if !tools_present("capture fidelity", &["tcpdump", "tshark"]) {
        return;
    }
    in_netns("capture fidelity", || {
        veth_pair("gen0", "cap0", 9000);
        let incoming = corpus(400, 9000);
        let outgoing: Vec<Vec<u8>> = (0..20u32)
            .map(|i| frame(10_000 + i, 60 + i as usize * 450, TEST_ETHERTYPE))
            .collect();
        let expected = [incoming.clone(), outgoing.clone()].concat();
        let total: u64 = expected.iter().map(|f| f.len() as u64).sum();
        for format in ["pcapng", "pcap"] {
            let scratch = Scratch::new("capture-fidelity");
            let file = scratch.path(&format!("ringtap.{format}"));
            let reference = TcpdumpCapture::start(&scratch, "cap0", "reference.pcap");
            let from = SystemTime::now();
            let cap = Capture::start(
                &scratch,
                "cap0",
                &["--format", format, "--write", path_str(&file)],
                Stdio::null(),
            );
            Sender::open("gen0").send_paced(&incoming, 16, Duration::from_millis(2));
            // The outgoing frames follow only once every incoming one is
            // in, so the order in the file is fixed.
            assert!(
                cap.wait_captured(incoming.len() as u64),
                "{format}: the incoming frames were not all captured: {:?}",
                cap.stats()
            );
            Sender::open("cap0").send_paced(&outgoing, 4, Duration::from_millis(1));
            assert!(
                cap.wait_captured(expected.len() as u64),
                "{format}: the outgoing frames were not all captured: {:?}",
                cap.stats()
            );
            let reference = reference.stop_after(expected.len());
            let end = cap.stop(Signal::TERM);
            let to = SystemTime::now();
            assert!(
                end.status.success(),
                "{format}: {}: {}",
                end.status,
                end.stderr
            );

            let ours = tcpdump_read(&file);
            let theirs = tcpdump_read(&reference);
            assert_same_frames(
                &format!("tcpdump's reference capture ({format} run)"),
                &expected,
                &bytes_of(&theirs),
            );
            assert_same_frames(&format!("ringtap {format}"), &expected, &bytes_of(&ours));
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(
                    o.summary,
                    t.summary,
                    "{format}: frame #{} as tcpdump prints it",
                    i + 1
                );
            }
            assert!(
                ours.iter().any(|d| d.summary.contains("vlan 100, p 5")),
                "{format}: tcpdump shows no `vlan 100`: tags not restored"
            );
            check_with_tshark(&file, &expected, from, to);

            let bytes = std::fs::read(&file).unwrap();
            let s = &end.stats;
            assert_eq!(s["final"], true, "{s}");
            assert_eq!(s["interface"], "cap0", "{s}");
            assert_eq!(n(s, "captured"), expected.len() as u64, "{s}");
            assert_eq!(n(s, "bytes"), total, "{s}");
            assert_eq!(n(s, "kernel_drops"), 0, "{s}");
            assert_eq!(n(s, "drops_attached"), 0, "{s}");
            assert_eq!(s["loss"].as_array().map(Vec::len), Some(0), "{s}");
            assert_eq!(s["files"][0].as_str(), Some(path_str(&file)), "{s}");
            if format == "pcapng" {
                let isb = check_pcapng(&bytes, "cap0", DEFAULT_SNAPLEN, expected.len());
                assert_eq!(isb.ifdrop, 0, "isb_ifdrop");
                assert!(
                    isb.ifrecv.is_some_and(|r| r >= expected.len() as u64),
                    "isb_ifrecv {:?}",
                    isb.ifrecv
                );
                let names = tshark_fields(&file, &["frame.interface_name"]);
                assert!(names.iter().all(|r| r[0] == "cap0"), "interface names");
            } else {
                check_pcap(&bytes, DEFAULT_SNAPLEN);
            }
        }
    });
}

/// With a one-block ring and a writer stalled on a full pipe, the kernel
/// drops frames; the drops ringtap attaches to frames (epb_dropcount, as
/// tshark's `frame.drop_count` shows it) are exactly the stats file's
/// `loss` list, and with the drops after the last frame they add up to the
/// kernel's count, which the final ISB repeats.
#[test]
fn drop_counts_sit_on_the_frames_the_stats_file_names() {
    if !tools_present("capture loss", &["tcpdump", "tshark"]) {
        return;
    }
    in_netns("capture loss", || {
        veth_pair("gen0", "cap0", 1500);
        let scratch = Scratch::new("capture-loss");
        let mut cap = Capture::start(
            &scratch,
            "cap0",
            &[
                "--write",
                "-",
                "--tpacket",
                "v3",
                "--block-size",
                "4096",
                "--block-nr",
                "1",
                "--snaplen",
                "2048",
            ],
            Stdio::piped(),
        );
        // The reader drains ringtap's stdout only when told to: until then
        // the pipe fills, ringtap blocks writing and its ring overflows.
        let mut stdout = cap.take_stdout();
        let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let _ = wait_for_go.recv();
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut all).map(|_| all)
        });
        let frames: Vec<Vec<u8>> = (0..50_300u32)
            .map(|i| frame(i, 64, TEST_ETHERTYPE))
            .collect();
        let (before, rest) = frames.split_at(100);
        let (flood, after) = rest.split_at(50_000);
        let mut gen = Sender::open("gen0");
        gen.send_paced(before, 1, Duration::from_millis(1));
        gen.send_paced(flood, 256, Duration::ZERO);
        go.send(()).unwrap();
        let seen = |cap: &Capture| {
            cap.stats()
                .map(|s| {
                    s["captured"].as_u64().unwrap_or(0) + s["kernel_drops"].as_u64().unwrap_or(0)
                })
                .unwrap_or(0)
        };
        // Best effort: let ringtap catch up before and after the last
        // frames, so they arrive after the losses and are all taken.
        wait_until(Duration::from_secs(10), || {
            seen(&cap) >= (before.len() + flood.len()) as u64
        });
        gen.send_paced(after, 1, Duration::from_millis(1));
        wait_until(Duration::from_secs(10), || {
            seen(&cap) >= frames.len() as u64
        });
        let end = cap.stop(Signal::TERM);
        let bytes = reader.join().unwrap().expect("read ringtap's stdout");
        assert!(end.status.success(), "{}: {}", end.status, end.stderr);
        let file = scratch.path("loss.pcapng");
        std::fs::write(&file, &bytes).unwrap();

        let s = &end.stats;
        assert_eq!(s["final"], true, "{s}");
        let kernel_drops = n(s, "kernel_drops");
        assert!(kernel_drops > 0, "the one-block ring never overflowed: {s}");
        assert_eq!(n(s, "kernel_packets"), frames.len() as u64, "{s}");
        assert_eq!(
            n(s, "captured") + kernel_drops,
            frames.len() as u64,
            "every frame is captured or counted as dropped: {s}"
        );
        assert_eq!(
            n(s, "drops_attached") + n(s, "drops_after_last_frame"),
            kernel_drops,
            "{s}"
        );
        let loss: Vec<(u64, u64)> = s["loss"]
            .as_array()
            .expect("loss")
            .iter()
            .map(|e| (n(e, "before_frame"), n(e, "lost")))
            .collect();
        assert!(loss.len() <= 4096, "{} loss entries", loss.len());

        let rows = tshark_fields(&file, &["frame.number", "frame.drop_count"]);
        assert_eq!(rows.len() as u64, n(s, "captured"), "frames in the file");
        let carried: Vec<(u64, u64)> = rows
            .iter()
            .filter(|r| !r[1].is_empty())
            .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
            .collect();
        assert_eq!(
            carried, loss,
            "frames tshark shows with a drop count vs the stats file's loss list"
        );
        let attached: u64 = carried.iter().map(|(_, l)| l).sum();
        assert_eq!(attached, n(s, "drops_attached"), "{s}");
        let isb = check_pcapng(&bytes, "cap0", 2048, rows.len());
        assert_eq!(isb.ifdrop, kernel_drops, "isb_ifdrop");

        let seqs: Vec<u32> = bytes_of(&tcpdump_read(&file))
            .iter()
            .map(|f| test_seq(f))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "frames out of order or repeated"
        );
        for (frame_no, lost) in loss.iter().take(20) {
            let line = format!("{lost} frames lost before frame #{frame_no}");
            assert!(end.stderr.contains(&line), "no {line:?} in {}", end.stderr);
        }
    });
}

/// `--rotate-size 65536 --rotate-files 3`: exactly PATH.0..PATH.2 remain,
/// each at most 65536 bytes and readable by tcpdump; together they hold the
/// newest frames without a gap, and the oldest were overwritten.
#[test]
fn rotation_keeps_n_complete_files_under_the_limit() {
    if !tools_present("capture rotation", &["tcpdump"]) {
        return;
    }
    in_netns("capture rotation", || {
        veth_pair("gen0", "cap0", 1500);
        let frames: Vec<Vec<u8>> = (0..4000u32)
            .map(|i| frame(i, 200, TEST_ETHERTYPE))
            .collect();
        for format in ["pcapng", "pcap"] {
            let scratch = Scratch::new("capture-rotation");
            let base = scratch.path(&format!("rot.{format}"));
            let cap = Capture::start(
                &scratch,
                "cap0",
                &[
                    "--format",
                    format,
                    "--write",
                    path_str(&base),
                    "--rotate-size",
                    "65536",
                    "--rotate-files",
                    "3",
                ],
                Stdio::null(),
            );
            Sender::open("gen0").send_paced(&frames, 32, Duration::from_millis(1));
            assert!(cap.wait_captured(frames.len() as u64), "{:?}", cap.stats());
            let end = cap.stop(Signal::TERM);
            assert!(
                end.status.success(),
                "{format}: {}: {}",
                end.status,
                end.stderr
            );
            assert_eq!(n(&end.stats, "kernel_drops"), 0, "{}", end.stats);

            let name = base.file_name().unwrap().to_str().unwrap().to_owned();
            let mut present: Vec<String> = std::fs::read_dir(&scratch.dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|f| f.starts_with(&name))
                .collect();
            present.sort();
            let wanted: Vec<String> = (0..3).map(|i| format!("{name}.{i}")).collect();
            assert_eq!(present, wanted, "{format}: files left");

            let mut runs: Vec<Vec<u32>> = Vec::new();
            for f in &wanted {
                let path = scratch.path(f);
                let size = std::fs::metadata(&path).unwrap().len();
                assert!(size <= 65536, "{f}: {size} bytes");
                let seqs: Vec<u32> = bytes_of(&tcpdump_read(&path))
                    .iter()
                    .map(|b| test_seq(b))
                    .collect();
                assert!(!seqs.is_empty(), "{f} holds no frame");
                assert!(
                    seqs.windows(2).all(|w| w[1] == w[0] + 1),
                    "{f}: frames missing or out of order inside the file"
                );
                let listed = end.stats["files"]
                    .as_array()
                    .expect("files")
                    .iter()
                    .any(|p| p.as_str().is_some_and(|p| p.ends_with(f.as_str())));
                assert!(listed, "{f} not in the stats file's files: {}", end.stats);
                runs.push(seqs);
            }
            runs.sort_by_key(|r| r[0]);
            for pair in runs.windows(2) {
                assert_eq!(
                    pair[1][0],
                    pair[0].last().unwrap() + 1,
                    "{format}: a gap between consecutive files"
                );
            }
            assert!(
                runs[0][0] > 0,
                "{format}: nothing was overwritten: no rotation"
            );
            assert_eq!(
                *runs[2].last().unwrap(),
                frames.len() as u32 - 1,
                "{format}: the newest file does not end with the last frame"
            );
        }
    });
}

/// `--write -` into `tcpdump -r -`, in both formats, stopped with SIGINT:
/// tcpdump reads every frame from the pipe, without a warning.
#[test]
fn stdout_streams_into_tcpdump() {
    if !tools_present("capture to stdout", &["tcpdump"]) {
        return;
    }
    in_netns("capture to stdout", || {
        veth_pair("gen0", "cap0", 1500);
        let frames = corpus(120, 1500);
        for format in ["pcapng", "pcap"] {
            let scratch = Scratch::new("capture-stdout");
            let mut cap = Capture::start(
                &scratch,
                "cap0",
                &["--format", format, "--write", "-"],
                Stdio::piped(),
            );
            // tcpdump's output goes to files: a pipe nobody reads would
            // stall it, then ringtap, whose ring would overflow.
            let (out, err) = (scratch.path("tcpdump.out"), scratch.path("tcpdump.err"));
            let mut tcpdump = tool("tcpdump")
                .args(["-r", "-"])
                .args(TCPDUMP_DUMP_ARGS)
                .stdin(Stdio::from(cap.take_stdout()))
                .stdout(std::fs::File::create(&out).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .expect("start tcpdump -r -");
            Sender::open("gen0").send_paced(&frames, 16, Duration::from_millis(1));
            assert!(cap.wait_captured(frames.len() as u64), "{:?}", cap.stats());
            let end = cap.stop(Signal::INT);
            assert!(
                end.status.success(),
                "{format}: {}: {}",
                end.status,
                end.stderr
            );
            // ringtap has exited, so tcpdump sees the end of its input.
            let status = wait_bounded(&mut tcpdump, Duration::from_secs(5), "tcpdump -r -", || {
                std::fs::read_to_string(&err).unwrap_or_default()
            });
            let stderr = std::fs::read_to_string(&err).unwrap();
            assert!(status.success(), "{format}: tcpdump -r -: {stderr}");
            assert_clean_stderr("tcpdump -r -", &stderr);
            let out = std::fs::read(&out).unwrap();
            let got = parse_tcpdump(&String::from_utf8_lossy(&out));
            assert_same_frames(
                &format!("{format} through a pipe"),
                &frames,
                &bytes_of(&got),
            );
            assert_eq!(n(&end.stats, "captured"), frames.len() as u64);
        }
    });
}

/// `--count` and `--duration` end the capture by themselves with complete
/// files; `--filter` (tcpdump -ddd text) keeps exactly its frames.
#[test]
fn count_duration_and_filter_end_and_select_as_asked() {
    if !tools_present("capture count/duration/filter", &["tcpdump", "tshark"]) {
        return;
    }
    let program = tool("tcpdump")
        .args(["-ddd", "-y", "EN10MB", "ether src 02:00:00:00:00:aa"])
        .output()
        .expect("tcpdump -ddd");
    assert!(program.status.success(), "tcpdump -ddd failed");
    in_netns("capture count/duration/filter", || {
        veth_pair("gen0", "cap0", 1500);
        let frames = corpus(200, 1500);
        let scratch = Scratch::new("capture-count");

        let counted = scratch.path("count.pcapng");
        let cap = Capture::start(
            &scratch,
            "cap0",
            &["--count", "50", "--write", path_str(&counted)],
            Stdio::null(),
        );
        Sender::open("gen0").send_paced(&frames[..100], 10, Duration::from_millis(1));
        let end = cap.finish(Duration::from_secs(10));
        assert!(
            end.status.success(),
            "--count: {}: {}",
            end.status,
            end.stderr
        );
        assert_eq!(n(&end.stats, "captured"), 50, "{}", end.stats);
        assert_same_frames(
            "--count 50",
            &frames[..50],
            &bytes_of(&tcpdump_read(&counted)),
        );
        check_pcapng(
            &std::fs::read(&counted).unwrap(),
            "cap0",
            DEFAULT_SNAPLEN,
            50,
        );

        let timed = scratch.path("duration.pcapng");
        let cap = Capture::start(
            &scratch,
            "cap0",
            &["--duration", "1", "--write", path_str(&timed)],
            Stdio::null(),
        );
        let end = cap.finish(Duration::from_secs(10));
        assert!(
            end.status.success(),
            "--duration: {}: {}",
            end.status,
            end.stderr
        );
        assert_eq!(end.stats["final"], true, "{}", end.stats);
        assert!(tshark_fields(&timed, &["frame.number"]).is_empty());
        check_pcapng(&std::fs::read(&timed).unwrap(), "cap0", DEFAULT_SNAPLEN, 0);

        let filter = scratch.path("marked.bpf");
        std::fs::write(&filter, &program.stdout).unwrap();
        let filtered = scratch.path("filtered.pcap");
        let wanted: Vec<Vec<u8>> = frames
            .iter()
            .filter(|f| f[6..12] == MARKED_SRC)
            .cloned()
            .collect();
        assert!(!wanted.is_empty() && wanted.len() < frames.len());
        let cap = Capture::start(
            &scratch,
            "cap0",
            &[
                "--filter",
                path_str(&filter),
                "--format",
                "pcap",
                "--write",
                path_str(&filtered),
            ],
            Stdio::null(),
        );
        Sender::open("gen0").send_paced(&frames, 16, Duration::from_millis(1));
        assert!(cap.wait_captured(wanted.len() as u64), "{:?}", cap.stats());
        let end = cap.stop(Signal::TERM);
        assert!(
            end.status.success(),
            "--filter: {}: {}",
            end.status,
            end.stderr
        );
        assert_same_frames("--filter", &wanted, &bytes_of(&tcpdump_read(&filtered)));
    });
}
