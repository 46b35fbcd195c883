//! Acceptance of `ringtap replay` against the real kernel, each test in a
//! private namespace: ringtap sends a file out of `rp0`, and a receiver on
//! its veth peer `sink0` sees what arrives. The files come from tcpdump
//! capturing live, from tshark, and from a writer in the test library that
//! covers every flavour of pcap and pcapng (and their damaged forms).
//!
//! The tests of this file run one at a time: two of them measure rates.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringtap_tests::corpus::corpus;
use ringtap_tests::tools::{
    assert_same_frames, find_tool, pcap, stamped, tcpdump_read, tool, tools_present, tshark_fields,
    Order, Pcapng, Replay, Replayed, Scratch, Stamped, TcpdumpCapture, PCAP_HEADER_LEN,
};
use ringtap_tests::{frame, in_netns, veth_pair, Receiver, Sender, TEST_ETHERTYPE};

/// Held by every test of this file, so the rate measurements do not share
/// the two CPUs with other replays.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn total_bytes(frames: &[Vec<u8>]) -> u64 {
    frames.iter().map(|f| f.len() as u64).sum()
}

/// Receive until `want` frames are in, at most 20 s, or until the replay
/// has exited (and what it sent has had time to arrive).
fn collect_while_running(sink: &mut Receiver, replay: &mut Replay, want: usize) -> usize {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let exited = replay.has_exited();
        if sink.collect(want, Duration::from_millis(50)).len() >= want || exited {
            break;
        }
    }
    sink.collect(want, Duration::from_millis(50)).len()
}

/// Replay `file` out of `rp0` with `extra` arguments; collect what reaches
/// `sink` (at most `want` frames, then 200 ms more to see that nothing else
/// comes); the replay must exit 0.
fn replay_into(
    scratch: &Scratch,
    sink: &mut Receiver,
    file: &Path,
    extra: &[&str],
    want: usize,
) -> (Vec<Vec<u8>>, Replayed) {
    sink.frames.clear();
    let args = [&["--out", "rp0", "--read", path_str(file)][..], extra].concat();
    let mut replay = Replay::start(scratch, &args);
    collect_while_running(sink, &mut replay, want);
    let done = replay.finish(Duration::from_secs(20));
    assert!(
        done.status.success(),
        "ringtap replay {}: {}: {}",
        args.join(" "),
        done.status,
        done.stderr
    );
    let got = sink.settle(Duration::from_millis(200)).to_vec();
    (got, done)
}

/// A file written by tcpdump (pcap) while the corpus crossed a veth, and
/// the same frames written by tshark as pcapng: replayed, every frame arrives
/// byte-identical and in order (VLAN-tagged ones included, 1518-byte
/// 802.1Q frames at MTU 1500 too), and the `sent` line counts them.
#[test]
fn files_from_tcpdump_and_tshark_arrive_byte_identical() {
    if !tools_present("replay of tool files", &["tcpdump", "tshark"]) {
        return;
    }
    let _serial = one_at_a_time();
    in_netns("replay of tool files", || {
        veth_pair("gen0", "cap0", 1500);
        veth_pair("rp0", "sink0", 1500);
        let frames = corpus(300, 1500);
        let scratch = Scratch::new("replay-tools");
        let by_tcpdump = TcpdumpCapture::start(&scratch, "cap0", "tcpdump.pcap");
        Sender::open("gen0").send_paced(&frames, 16, Duration::from_millis(2));
        let by_tcpdump = by_tcpdump.stop_after(frames.len());
        // tshark writes its pcapng from the tcpdump file: a live tshark
        // (dumpcap) capture here sometimes ended a few frames short of a
        // burst, which would test dumpcap rather than ringtap.
        let by_tshark = scratch.path("tshark.pcapng");
        let out = tool("tshark")
            .args(["-n", "-F", "pcapng", "-r"])
            .arg(&by_tcpdump)
            .arg("-w")
            .arg(&by_tshark)
            .output()
            .expect("run tshark");
        assert!(
            out.status.success(),
            "tshark -w: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&by_tshark).unwrap()[..4],
            [0x0a, 0x0d, 0x0d, 0x0a],
            "tshark did not write pcapng"
        );

        let mut sink = Receiver::open("sink0");
        for file in [by_tcpdump, by_tshark] {
            let what = file.file_name().unwrap().to_string_lossy().into_owned();
            let in_file: Vec<Vec<u8>> = tcpdump_read(&file).into_iter().map(|d| d.bytes).collect();
            assert_same_frames(&format!("{what} as written"), &frames, &in_file);
            let (got, done) = replay_into(&scratch, &mut sink, &file, &[], frames.len());
            assert_same_frames(&format!("{what} replayed"), &frames, &got);
            let sent = done.sent();
            assert_eq!(
                (sent.frames, sent.bytes, sent.skipped),
                (frames.len() as u64, total_bytes(&frames), 0),
                "{what}: {}",
                done.stdout
            );
        }
    });
}

/// The writer's files in every flavour a reader must accept: pcap with the
/// microsecond and nanosecond magic in both byte orders, pcapng in both
/// byte orders with two interfaces (packets on each), enhanced and simple
/// packet blocks, and interface statistics blocks (as ringtap capture
/// writes them) in the middle and at the end. tshark reads each (so the
/// files are right), and each replays byte-identical and in order.
#[test]
fn every_pcap_and_pcapng_flavour_arrives_byte_identical() {
    let _serial = one_at_a_time();
    in_netns("replay flavours", || {
        veth_pair("rp0", "sink0", 1500);
        let frames = corpus(60, 1500);
        let stamps = stamped(&frames, Duration::from_micros(1500));
        let scratch = Scratch::new("replay-flavours");
        let mut files = Vec::new();
        for order in [Order::Little, Order::Big] {
            for nanos in [false, true] {
                files.push((
                    format!("pcap-{order:?}-{}.pcap", if nanos { "ns" } else { "us" }),
                    pcap(order, nanos, 65535, &stamps),
                ));
            }
            let mut ng = Pcapng::new(order);
            ng.idb("eth0", 0, true);
            ng.idb("eth1", 65535, false);
            for (i, s) in stamps.iter().enumerate() {
                match i % 3 {
                    0 => ng.epb(0, 1_000_000_000, s),
                    1 => ng.epb(1, 1_000_000, s),
                    _ => ng.spb(&s.data),
                };
                if i == frames.len() / 2 {
                    ng.isb(1, 0);
                }
            }
            ng.isb(0, 0);
            files.push((format!("two-interfaces-{order:?}.pcapng"), ng.bytes()));
        }
        let check_with_tshark = find_tool("tshark").is_some();
        let mut sink = Receiver::open("sink0");
        for (name, bytes) in &files {
            let file = scratch.path(name);
            std::fs::write(&file, bytes).unwrap();
            if check_with_tshark {
                let rows = tshark_fields(&file, &["frame.len"]);
                assert_eq!(rows.len(), frames.len(), "{name}: frames tshark reads");
            }
            let (got, done) = replay_into(&scratch, &mut sink, &file, &[], frames.len());
            assert_same_frames(name, &frames, &got);
            assert_eq!(done.sent().frames, frames.len() as u64, "{name}");
        }
    });
}

/// `--loop N` plays the file N times in order, `--count N` stops after N
/// frames (also across loops), and a frame longer than the interface allows
/// is skipped and counted while the rest go out.
#[test]
fn loop_count_and_oversize_frames() {
    let _serial = one_at_a_time();
    in_netns("replay loop/count/oversize", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-loop");
        let frames: Vec<Vec<u8>> = (0..10u32)
            .map(|i| frame(i, 60 + i as usize * 100, TEST_ETHERTYPE))
            .collect();
        let file = scratch.path("ten.pcap");
        std::fs::write(
            &file,
            pcap(
                Order::Big,
                true,
                65535,
                &stamped(&frames, Duration::from_millis(1)),
            ),
        )
        .unwrap();
        let mut sink = Receiver::open("sink0");

        let thrice: Vec<Vec<u8>> = (0..3).flat_map(|_| frames.iter().cloned()).collect();
        let cases: [(&[&str], Vec<Vec<u8>>); 3] = [
            (&["--loop", "3"], thrice.clone()),
            (&["--count", "7"], frames[..7].to_vec()),
            (&["--loop", "3", "--count", "25"], thrice[..25].to_vec()),
        ];
        for (args, expected) in cases {
            let (got, done) = replay_into(&scratch, &mut sink, &file, args, expected.len());
            assert_same_frames(&args.join(" "), &expected, &got);
            let sent = done.sent();
            assert_eq!(
                (sent.frames, sent.bytes),
                (expected.len() as u64, total_bytes(&expected)),
                "{args:?}: {}",
                done.stdout
            );
        }

        // 1614 bytes: 100 more than an untagged frame may have at MTU 1500.
        let mixed = vec![
            frame(100, 100, TEST_ETHERTYPE),
            frame(101, 1614, TEST_ETHERTYPE),
            frame(102, 200, TEST_ETHERTYPE),
        ];
        let file = scratch.path("oversize.pcap");
        std::fs::write(
            &file,
            pcap(
                Order::Little,
                false,
                65535,
                &stamped(&mixed, Duration::from_millis(1)),
            ),
        )
        .unwrap();
        let kept = vec![mixed[0].clone(), mixed[2].clone()];
        let (got, done) = replay_into(&scratch, &mut sink, &file, &[], kept.len());
        assert_same_frames("oversize frame skipped", &kept, &got);
        let sent = done.sent();
        assert_eq!(
            (sent.frames, sent.bytes, sent.skipped),
            (2, 300, 1),
            "{}",
            done.stdout
        );
    });
}

/// Receive `marks` frame counts in turn; the time each was reached,
/// relative to the first frame's arrival (None: never reached).
fn arrival_times(
    sink: &mut Receiver,
    replay: &mut Replay,
    marks: &[usize],
) -> Vec<Option<Duration>> {
    if collect_while_running(sink, replay, 1) == 0 {
        return vec![None; marks.len()];
    }
    let first = Instant::now();
    marks
        .iter()
        .map(|&m| (collect_while_running(sink, replay, m) >= m).then(|| first.elapsed()))
        .collect()
}

fn within_10_percent(what: &str, measured: Option<Duration>, expected: Duration, of: Duration) {
    let measured = measured.unwrap_or_else(|| panic!("{what}: the frames never all arrived"));
    let (m, e, tol) = (
        measured.as_secs_f64(),
        expected.as_secs_f64(),
        of.as_secs_f64() * 0.1,
    );
    println!("{what}: {m:.3} s (expected {e:.3} s ± {tol:.3} s)");
    assert!(
        (m - e).abs() <= tol,
        "{what}: {m:.3} s, expected {e:.3} s ± {tol:.3} s"
    );
}

/// `--pps 1000` sends 2001 frames (whose own timestamps are all equal) in
/// 2 s, and `--timing original` keeps a file's gaps: 200 frames 5 ms apart,
/// then 50 frames 20 ms apart, so the 201st frame arrives at 1 s and the
/// last at 2 s (an even rate would bring the 201st at 1.6 s); both within
/// 10% of the 2 s, measured at the receiver.
#[test]
fn pps_and_original_timing_hold_within_10_percent() {
    let _serial = one_at_a_time();
    in_netns("replay timing", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-timing");
        let mut sink = Receiver::open("sink0");
        let two_s = Duration::from_secs(2);

        let frames: Vec<Vec<u8>> = (0..2001u32)
            .map(|i| frame(i, 100, TEST_ETHERTYPE))
            .collect();
        let file = scratch.path("same-time.pcap");
        std::fs::write(
            &file,
            pcap(
                Order::Little,
                false,
                65535,
                &stamped(&frames, Duration::ZERO),
            ),
        )
        .unwrap();
        sink.frames.clear();
        let mut replay = Replay::start(
            &scratch,
            &["--out", "rp0", "--read", path_str(&file), "--pps", "1000"],
        );
        let times = arrival_times(&mut sink, &mut replay, &[frames.len()]);
        let done = replay.finish(Duration::from_secs(20));
        assert!(done.status.success(), "{}: {}", done.status, done.stderr);
        assert_same_frames(
            "--pps 1000",
            &frames,
            sink.settle(Duration::from_millis(100)),
        );
        within_10_percent("--pps 1000: first to last frame", times[0], two_s, two_s);

        let mut stamps = Vec::new();
        for i in 0..=200u64 {
            stamps.push(i * 5_000_000);
        }
        for k in 1..=50u64 {
            stamps.push(1_000_000_000 + k * 20_000_000);
        }
        let frames: Vec<Vec<u8>> = (0..stamps.len() as u32)
            .map(|i| frame(i, 100, TEST_ETHERTYPE))
            .collect();
        let timed: Vec<Stamped> = stamps
            .iter()
            .zip(&frames)
            .map(|(&t, f)| Stamped {
                ts_ns: 1_700_000_000_000_000_000 + t,
                data: f.clone(),
            })
            .collect();
        let file = scratch.path("uneven.pcap");
        std::fs::write(&file, pcap(Order::Little, true, 65535, &timed)).unwrap();
        sink.frames.clear();
        let mut replay = Replay::start(
            &scratch,
            &[
                "--out",
                "rp0",
                "--read",
                path_str(&file),
                "--timing",
                "original",
            ],
        );
        let times = arrival_times(&mut sink, &mut replay, &[201, frames.len()]);
        let done = replay.finish(Duration::from_secs(20));
        assert!(done.status.success(), "{}: {}", done.status, done.stderr);
        assert_same_frames(
            "--timing original",
            &frames,
            sink.settle(Duration::from_millis(100)),
        );
        within_10_percent(
            "--timing original: first to 201st frame",
            times[0],
            Duration::from_secs(1),
            two_s,
        );
        within_10_percent(
            "--timing original: first to last frame",
            times[1],
            two_s,
            two_s,
        );
    });
}

/// One damaged input: its name, its bytes, where (in bytes) the damage
/// is, and whether tshark refuses it too.
struct Damage {
    name: &'static str,
    bytes: Vec<u8>,
    at: RangeInclusive<usize>,
    tshark_refuses: bool,
}

/// Offsets of the records of a pcap file of `frames`.
fn pcap_records(frames: &[Stamped]) -> Vec<usize> {
    let mut at = PCAP_HEADER_LEN;
    frames
        .iter()
        .map(|s| {
            let here = at;
            at += 16 + s.data.len();
            here
        })
        .collect()
}

fn damages(stamps: &[Stamped]) -> Vec<Damage> {
    let le = Order::Little;
    let good_pcap = pcap(le, false, 65535, stamps);
    let records = pcap_records(stamps);
    let last = *records.last().unwrap();
    let mut ng = Pcapng::new(le);
    ng.idb("eth0", 0, true);
    let epbs: Vec<usize> = stamps.iter().map(|s| ng.epb(0, 1_000_000_000, s)).collect();
    let good_ng = ng.bytes();
    let last_epb = *epbs.last().unwrap();
    let last_len = good_ng.len() - last_epb;
    let edit = |base: &[u8], f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.to_vec();
        f(&mut b);
        b
    };

    let mut caplen_over_snaplen = pcap(le, false, 100, &stamps[..stamps.len() - 1]);
    let mut long = stamps.last().unwrap().clone();
    long.data = frame(99, 150, TEST_ETHERTYPE);
    let long_at = caplen_over_snaplen.len();
    caplen_over_snaplen.extend_from_slice(&pcap(le, false, 100, &[long])[PCAP_HEADER_LEN..]);

    let mut epb_first = Pcapng::new(le);
    let early = epb_first.epb(0, 1_000_000_000, &stamps[0]);
    epb_first.idb("eth0", 0, true);
    epb_first.epb(0, 1_000_000_000, &stamps[1]);

    let mut tiny = Pcapng::new(le);
    tiny.idb("eth0", 0, true);
    for s in stamps {
        tiny.epb(0, 1_000_000_000, s);
    }
    let tiny_at = tiny.block(6, &[0; 4]);

    let mut no_shb = Vec::new();
    no_shb.extend_from_slice(&good_ng[28..]);

    vec![
        Damage {
            name: "zero-length file",
            bytes: Vec::new(),
            at: 0..=0,
            // tshark reads an empty file as an empty capture.
            tshark_refuses: false,
        },
        Damage {
            name: "pcap global header cut short",
            bytes: good_pcap[..20].to_vec(),
            at: 0..=20,
            tshark_refuses: true,
        },
        Damage {
            name: "wrong magic",
            bytes: edit(&good_pcap, &|b| {
                b[..4].copy_from_slice(&[0, 0x11, 0x22, 0x33])
            }),
            at: 0..=3,
            tshark_refuses: true,
        },
        Damage {
            name: "pcap record header cut short",
            bytes: good_pcap[..last + 8].to_vec(),
            at: last..=last + 8,
            tshark_refuses: true,
        },
        Damage {
            name: "pcap packet data cut short",
            bytes: good_pcap[..good_pcap.len() - 50].to_vec(),
            at: last..=good_pcap.len() - 50,
            tshark_refuses: true,
        },
        Damage {
            name: "absurd caplen",
            bytes: edit(&good_pcap, &|b| {
                le.put_u32(b, last + 8, 0xffff_fff0);
                le.put_u32(b, last + 12, 0xffff_fff0);
            }),
            at: last..=last + 16,
            tshark_refuses: true,
        },
        Damage {
            name: "caplen above the file's snaplen",
            bytes: caplen_over_snaplen,
            at: long_at..=long_at + 16,
            tshark_refuses: false,
        },
        Damage {
            name: "pcapng block length not a multiple of 4",
            bytes: edit(&good_ng, &|b| {
                le.put_u32(b, last_epb + 4, last_len as u32 + 2);
            }),
            at: last_epb..=last_epb + 8,
            tshark_refuses: true,
        },
        Damage {
            name: "pcapng trailing length differs",
            bytes: edit(&good_ng, &|b| {
                let end = b.len();
                le.put_u32(b, end - 4, last_len as u32 + 4);
            }),
            at: last_epb..=last_epb + last_len,
            tshark_refuses: true,
        },
        Damage {
            name: "EPB before any IDB",
            bytes: epb_first.bytes(),
            at: early..=early + 12,
            tshark_refuses: true,
        },
        Damage {
            name: "EPB interface id out of range",
            bytes: edit(&good_ng, &|b| le.put_u32(b, last_epb + 8, 1)),
            at: last_epb..=last_epb + 12,
            tshark_refuses: true,
        },
        Damage {
            name: "SHB byte-order magic wrong",
            bytes: edit(&good_ng, &|b| b[8..12].copy_from_slice(&[1, 2, 3, 4])),
            at: 0..=12,
            tshark_refuses: true,
        },
        Damage {
            name: "EPB shorter than the minimum block",
            bytes: tiny.bytes(),
            at: tiny_at..=tiny_at + 16,
            tshark_refuses: true,
        },
        Damage {
            name: "pcapng block cut short",
            bytes: good_ng[..last_epb + 20].to_vec(),
            at: last_epb..=last_epb + 20,
            tshark_refuses: true,
        },
        Damage {
            name: "EPB caplen beyond its block",
            bytes: edit(&good_ng, &|b| {
                le.put_u32(b, last_epb + 20, 4000);
                le.put_u32(b, last_epb + 24, 4000);
            }),
            at: last_epb..=last_epb + last_len,
            tshark_refuses: true,
        },
        Damage {
            name: "pcapng without a section header",
            bytes: no_shb,
            at: 0..=4,
            tshark_refuses: true,
        },
    ]
}

/// What tshark makes of a file: whether it refuses it (exit status or a
/// message beyond its root notice).
fn tshark_refuses(file: &Path) -> bool {
    let out = tool("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    !out.status.success()
        || stderr
            .lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with("Running as user \"root\""))
}

/// The number after `at byte ` in `message`.
fn reported_offset(message: &str) -> Option<usize> {
    let (_, rest) = message.split_once("at byte ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sixteen kinds of damage, each in the last record of an otherwise good
/// file (so a replay that sent before validating would be caught): each
/// exits 2 before sending anything, names the byte offset of the damage
/// (inside the damaged header or block) and does not panic. tshark's
/// verdict on the same files shows the damage is real; the good files
/// they came from do replay.
#[test]
fn damaged_files_exit_2_naming_the_offset_and_send_nothing() {
    let _serial = one_at_a_time();
    in_netns("replay damaged files", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-damage");
        let frames: Vec<Vec<u8>> = (0..5u32).map(|i| frame(i, 100, TEST_ETHERTYPE)).collect();
        let stamps = stamped(&frames, Duration::from_millis(1));
        let cases = damages(&stamps);
        assert!(cases.len() >= 10);
        let judge = find_tool("tshark").is_some();
        let mut sink = Receiver::open("sink0");
        for (i, case) in cases.iter().enumerate() {
            let file = scratch.path(&format!("damage-{i}"));
            std::fs::write(&file, &case.bytes).unwrap();
            if judge {
                assert_eq!(
                    tshark_refuses(&file),
                    case.tshark_refuses,
                    "{}: tshark's verdict",
                    case.name
                );
            }
            let done = Replay::start(&scratch, &["--out", "rp0", "--read", path_str(&file)])
                .finish(Duration::from_secs(10));
            let name = case.name;
            assert_eq!(done.status.code(), Some(2), "{name}: {}", done.stderr);
            assert!(!done.stderr.contains("panicked"), "{name}: {}", done.stderr);
            let at = reported_offset(&done.stderr)
                .unwrap_or_else(|| panic!("{name}: no `at byte <offset>` in {:?}", done.stderr));
            assert!(
                case.at.contains(&at),
                "{name}: reported byte {at}, the damage is in {:?}: {}",
                case.at,
                done.stderr
            );
            assert!(
                sink.settle(Duration::from_millis(100)).is_empty(),
                "{name}: {} frames were sent",
                sink.frames.len()
            );
        }

        // The good files the damage was done to replay.
        let mut ng = Pcapng::new(Order::Little);
        ng.idb("eth0", 0, true);
        for s in &stamps {
            ng.epb(0, 1_000_000_000, s);
        }
        for (name, bytes) in [
            ("good.pcap", pcap(Order::Little, false, 65535, &stamps)),
            ("good.pcapng", ng.bytes()),
        ] {
            let file = scratch.path(name);
            std::fs::write(&file, bytes).unwrap();
            let (got, _) = replay_into(&scratch, &mut sink, &file, &[], frames.len());
            assert_same_frames(name, &frames, &got);
        }
    });
}

/// `--config`: a board profile supplies the port (`ports.out`) and the TX
/// ring (`[replay]`).
#[test]
fn a_board_profile_supplies_port_and_ring() {
    let _serial = one_at_a_time();
    in_netns("replay board profile", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-profile");
        let profile = scratch.path("board.toml");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../boards/x86_64-host/board.toml"
        ))
        .unwrap()
        .replace("name = \"x86_64-host\"", "name = \"test-board\"")
        .replace("out = \"veth1\"", "out = \"rp0\"");
        // The edits took: the profile loads, with this port.
        let board = ringtap_board::Board::parse(&text, "edited x86_64-host").unwrap();
        assert_eq!(board.ports.out, "rp0");
        std::fs::write(&profile, text).unwrap();
        let frames: Vec<Vec<u8>> = (0..20u32).map(|i| frame(i, 100, TEST_ETHERTYPE)).collect();
        let file = scratch.path("twenty.pcap");
        std::fs::write(
            &file,
            pcap(
                Order::Little,
                false,
                65535,
                &stamped(&frames, Duration::from_millis(1)),
            ),
        )
        .unwrap();
        let mut sink = Receiver::open("sink0");
        let args = ["--config", path_str(&profile), "--read", path_str(&file)];
        let mut replay = Replay::start(&scratch, &args);
        collect_while_running(&mut sink, &mut replay, frames.len());
        let done = replay.finish(Duration::from_secs(20));
        assert!(done.status.success(), "{}: {}", done.status, done.stderr);
        assert_same_frames(
            "profile port",
            &frames,
            sink.settle(Duration::from_millis(200)),
        );
    });
}
