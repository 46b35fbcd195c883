//! `ringtap replay` never panics, never hangs, never lies, and streams
//! (issue 12), each case in a private namespace against the real kernel:
//! ringtap sends out of `rp0`, a receiver on its veth peer `sink0` sees what
//! arrives.
//!
//! The tests of this file run one at a time: one measures memory, one the
//! time SIGTERM takes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringtap_tests::tools::{
    assert_same_frames, killed_by, mkfifo, pcap, run_bounded, run_ringtap, stamped, tools_present,
    Order, Replay, Scratch, Stamped,
};
use ringtap_tests::{
    frame, in_netns, ringtap_bin, veth_pair, veth_pair_mtus, wait_until, Receiver, TEST_ETHERTYPE,
};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The number in `text` right before `words`.
fn number_before(text: &str, words: &str) -> Option<u64> {
    let at = text.find(words)?;
    text[..at]
        .split_whitespace()
        .last()?
        .trim_start_matches('(')
        .parse()
        .ok()
}

/// Frames sent, from the `sent N frames` line.
fn sent(stdout: &str) -> u64 {
    number_before(stdout, "frames (")
        .unwrap_or_else(|| panic!("no `sent N frames` line in {stdout:?}"))
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    std::fs::write(
        path,
        pcap(
            Order::Little,
            true,
            65535,
            &stamped(frames, Duration::from_millis(1)),
        ),
    )
    .unwrap();
}

/// Bad rates, counts and inputs are usage errors (exit status 2, the
/// option named), found before anything is sent: no panic, no hang, no
/// memory exhausted.
#[test]
fn bad_options_and_inputs_are_usage_errors() {
    let _serial = one_at_a_time();
    in_netns("replay usage errors", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-usage");
        let file = scratch.path("ten.pcap");
        let frames: Vec<Vec<u8>> = (0..10u32).map(|i| frame(i, 100, TEST_ETHERTYPE)).collect();
        write_pcap(&file, &frames);
        let fifo = scratch.path("fifo");
        mkfifo(&fifo);
        let f = path_str(&file);
        let q = path_str(&fifo);
        // (arguments after --out rp0, the words the message must hold)
        let cases: &[(&[&str], &str)] = &[
            (
                &["--read", f, "--pps", "1e-20"],
                "--pps 1e-20: must be between",
            ),
            (
                &["--read", f, "--mbps", "1e-30"],
                "--mbps 1e-30: must be between",
            ),
            (&["--read", f, "--pps", "5e9"], "--pps 5e9: must be between"),
            (&["--read", f, "--pps", "0"], "--pps 0: must be between"),
            (
                &["--read", f, "--mbps", "inf"],
                "--mbps inf: must be between",
            ),
            (
                &["--read", f, "--count", "0"],
                "--count 0: must be at least 1",
            ),
            (&["--read", "-", "--loop", "2"], "can be read only once"),
            (
                &["--read", f, "--config", q],
                "it is a FIFO, not a regular file",
            ),
            (&["--read", "/dev/zero"], "--read /dev/zero: at byte 0"),
        ];
        let mut sink = Receiver::open("sink0");
        for (args, says) in cases {
            // Memory is bounded for the child: a replay that reads
            // /dev/zero into memory fails here instead of the machine.
            let ran = run_bounded(
                &scratch,
                Command::new("sh")
                    .args(["-c", "ulimit -v 1048576; exec \"$@\"", "sh"])
                    .arg(ringtap_bin())
                    .args(["replay", "--out", "rp0"])
                    .args(*args)
                    .stdin(Stdio::null()),
                Duration::from_secs(10),
            );
            assert_eq!(
                ran.code(),
                Some(2),
                "{args:?}: {:?} {}",
                killed_by(&ran.status),
                ran.stderr
            );
            assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
            assert!(!ran.stderr.contains("panicked"), "{args:?}: {}", ran.stderr);
            assert!(
                sink.settle(Duration::from_millis(50)).is_empty(),
                "{args:?}: frames were sent"
            );
        }
    });
}

/// Standard input (a file or a pipe), a FIFO, and `--loop 0` (until
/// stopped, here by `--count`): the frames arrive, in order.
#[test]
fn stdin_fifo_and_loop_forever() {
    let _serial = one_at_a_time();
    in_netns("replay stdin/fifo/loop 0", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-inputs");
        let frames: Vec<Vec<u8>> = (0..10u32)
            .map(|i| frame(i, 60 + i as usize * 10, TEST_ETHERTYPE))
            .collect();
        let file = scratch.path("ten.pcap");
        write_pcap(&file, &frames);
        let bytes = std::fs::read(&file).unwrap();
        let fifo = scratch.path("fifo");
        mkfifo(&fifo);
        let mut sink = Receiver::open("sink0");
        let bin = ringtap_bin();
        for case in ["stdin file", "stdin pipe", "fifo", "loop 0"] {
            sink.frames.clear();
            let mut cmd = Command::new(&bin);
            cmd.args(["replay", "--out", "rp0"]);
            let mut expected = frames.clone();
            match case {
                "stdin file" => {
                    cmd.args(["--read", "-"])
                        .stdin(std::fs::File::open(&file).unwrap());
                }
                "stdin pipe" => {
                    cmd.args(["--read", "-"]).stdin(Stdio::piped());
                }
                "fifo" => {
                    cmd.args(["--read", path_str(&fifo)]).stdin(Stdio::null());
                }
                _ => {
                    cmd.args(["--read", path_str(&file), "--loop", "0", "--count", "25"])
                        .stdin(Stdio::null());
                    expected = (0..3).flat_map(|_| frames.clone()).take(25).collect();
                }
            }
            let out = scratch.path("out");
            let err = scratch.path("err");
            let mut child = cmd
                .stdout(std::fs::File::create(&out).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .unwrap();
            let writer = match case {
                "stdin pipe" => {
                    let mut pipe = child.stdin.take().unwrap();
                    let bytes = bytes.clone();
                    Some(std::thread::spawn(move || {
                        std::io::Write::write_all(&mut pipe, &bytes).unwrap();
                    }))
                }
                "fifo" => {
                    let fifo = fifo.clone();
                    let bytes = bytes.clone();
                    Some(std::thread::spawn(move || {
                        std::fs::write(&fifo, &bytes).unwrap();
                    }))
                }
                _ => None,
            };
            let status = ringtap_tests::tools::wait_bounded(
                &mut child,
                Duration::from_secs(10),
                case,
                || std::fs::read_to_string(&err).unwrap_or_default(),
            );
            if let Some(w) = writer {
                w.join().unwrap();
            }
            let stderr = std::fs::read_to_string(&err).unwrap();
            assert!(status.success(), "{case}: {status}: {stderr}");
            let got = sink
                .collect(expected.len(), Duration::from_secs(5))
                .to_vec();
            assert_same_frames(case, &expected, &got);
            let stdout = std::fs::read_to_string(&out).unwrap();
            assert_eq!(sent(&stdout), expected.len() as u64, "{case}: {stdout}");
        }
    });
}

/// SIGTERM while the next frame is far away (136 years by the file's
/// timestamps, or 1000 s and 3.4 hours at the slowest rates) ends the
/// replay within 100 ms, exit status 0, with the counters printed; SIGUSR1
/// before it prints the counters and the wait goes on.
#[test]
fn sigterm_ends_a_long_wait_at_once() {
    let _serial = one_at_a_time();
    in_netns("replay SIGTERM in a long wait", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-sigterm");
        let frames: Vec<Vec<u8>> = (0..2u32).map(|i| frame(i, 1500, TEST_ETHERTYPE)).collect();
        let gap = [
            Stamped {
                ts_ns: 1_000_000_000,
                data: frames[0].clone(),
            },
            // pcap holds 32-bit seconds: the latest time it can say.
            Stamped {
                ts_ns: u64::from(u32::MAX) * 1_000_000_000,
                data: frames[1].clone(),
            },
        ];
        let file = scratch.path("gap.pcap");
        std::fs::write(&file, pcap(Order::Little, true, 65535, &gap)).unwrap();
        let mut sink = Receiver::open("sink0");
        let cases: &[&[&str]] = &[
            &["--timing", "original"],
            &["--pps", "0.001"],
            &["--mbps", "0.000001"],
        ];
        for pace in cases {
            sink.frames.clear();
            let args = [&["--out", "rp0", "--read", path_str(&file)][..], pace].concat();
            let mut replay = Replay::start(&scratch, &args);
            assert_eq!(
                sink.collect(1, Duration::from_secs(10)).len(),
                1,
                "{pace:?}: the first frame never came"
            );
            replay.signal(rustix::process::Signal::USR1);
            assert!(
                wait_until(Duration::from_secs(5), || replay
                    .stderr()
                    .contains("counters: sent 1 frames")),
                "{pace:?}: SIGUSR1 printed no counters: {}",
                replay.stderr()
            );
            assert!(!replay.has_exited(), "{pace:?}: ended before SIGTERM");
            let asked = replay.terminate();
            let done = replay.finish(Duration::from_secs(5));
            let took = asked.elapsed();
            assert!(
                done.status.success(),
                "{pace:?}: {}: {}",
                done.status,
                done.stderr
            );
            println!("{pace:?}: exited {took:?} after SIGTERM");
            assert!(
                took <= Duration::from_millis(100),
                "{pace:?}: exited {took:?} after SIGTERM"
            );
            assert_eq!(sent(&done.stdout), 1, "{pace:?}: {}", done.stdout);
        }
    });
}

/// Frames the egress drops (a peer whose MTU is smaller; a tbf queueing
/// discipline with no room) are counted as dropped, not as sent, after a
/// few tries rather than a storm of them; the `sent` count is what
/// arrived, and the exit status is 1.
#[test]
fn frames_the_egress_drops_are_counted() {
    if !tools_present("replay egress drops", &["tc"]) {
        return;
    }
    let _serial = one_at_a_time();
    in_netns("replay egress drops", || {
        let scratch = Scratch::new("replay-drops");
        for case in ["peer MTU", "tbf"] {
            let frames: Vec<Vec<u8>> = match case {
                "peer MTU" => {
                    veth_pair_mtus("rp0", 1500, "sink0", 1000);
                    (0..20u32)
                        .map(|i| frame(i, if i % 2 == 0 { 100 } else { 1400 }, TEST_ETHERTYPE))
                        .collect()
                }
                _ => {
                    veth_pair("rp0", "sink0", 1500);
                    ringtap_tests::tools::tool("tc")
                        .args(["qdisc", "add", "dev", "rp0", "root", "tbf"])
                        .args(["rate", "100kbit", "burst", "1600", "limit", "1600"])
                        .status()
                        .unwrap()
                        .success()
                        .then_some(())
                        .expect("tc qdisc add tbf");
                    (0..40u32).map(|i| frame(i, 1000, TEST_ETHERTYPE)).collect()
                }
            };
            let file = scratch.path("frames.pcap");
            write_pcap(&file, &frames);
            let mut sink = Receiver::open("sink0");
            let ran = run_ringtap(
                &scratch,
                &["replay", "--out", "rp0", "--read", path_str(&file)],
                Duration::from_secs(20),
            );
            // What the tbf queue still held arrives at its rate.
            sink.collect(frames.len(), Duration::from_secs(3));
            let arrived = sink.settle(Duration::from_millis(300)).len() as u64;
            assert_eq!(ran.code(), Some(1), "{case}: {}{}", ran.stdout, ran.stderr);
            let dropped = number_before(&ran.stdout, "dropped by the egress")
                .unwrap_or_else(|| panic!("{case}: no drop count: {}", ran.stdout));
            assert!(dropped > 0, "{case}: {}", ran.stdout);
            assert_eq!(sent(&ran.stdout), arrived, "{case}: {}", ran.stdout);
            assert_eq!(
                arrived + dropped,
                frames.len() as u64,
                "{case}: {}",
                ran.stdout
            );
            if case == "peer MTU" {
                assert_eq!((arrived, dropped), (10, 10), "{}", ran.stdout);
            }
            assert!(
                ran.stderr.contains("not every frame left rp0"),
                "{case}: {}",
                ran.stderr
            );
            // A few tries per dropped frame, not a storm of them: the
            // veth counts what its peer refused, tbf what it had no room
            // for.
            let refusals = match case {
                "peer MTU" => ringtap_tests::link_stats("rp0").tx_dropped,
                _ => tbf_drops("rp0"),
            };
            println!("{case}: {refusals} sends refused for {dropped} frames dropped");
            assert!(
                refusals <= dropped * 100,
                "{case}: {refusals} sends refused for {dropped} frames dropped"
            );
            ringtap_tests::ip(&["link", "del", "rp0"]);
        }
    });
}

/// Packets the root qdisc of `dev` dropped (`tc -s -j qdisc show`).
fn tbf_drops(dev: &str) -> u64 {
    let out = ringtap_tests::tools::tool("tc")
        .args(["-s", "-j", "qdisc", "show", "dev", dev])
        .output()
        .expect("run tc");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tc -j output");
    json.as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == "tbf"))
        .and_then(|q| q["drops"].as_u64())
        .unwrap_or_else(|| panic!("no tbf drop count in {json}"))
}

/// A record cut short by the capture's snap length (96 of 1514 bytes) is
/// counted: sent as captured with a warning, or skipped with
/// `--skip-truncated`.
#[test]
fn records_cut_short_are_counted() {
    let _serial = one_at_a_time();
    in_netns("replay truncated records", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-truncated");
        let whole = [frame(1, 100, TEST_ETHERTYPE), frame(3, 200, TEST_ETHERTYPE)];
        let long = frame(2, 1514, TEST_ETHERTYPE);
        // The pcap writer records caplen = orig_len; patch orig_len of the
        // second record to the full length after cutting its data to 96.
        let stamps = stamped(
            &[whole[0].clone(), long[..96].to_vec(), whole[1].clone()],
            Duration::from_millis(1),
        );
        let mut bytes = pcap(Order::Little, true, 65535, &stamps);
        let second = 24 + 16 + 100;
        Order::Little.put_u32(&mut bytes, second + 12, 1514);
        let file = scratch.path("cut.pcap");
        std::fs::write(&file, &bytes).unwrap();
        let mut sink = Receiver::open("sink0");
        for skip in [false, true] {
            sink.frames.clear();
            let mut args = vec!["replay", "--out", "rp0", "--read", path_str(&file)];
            if skip {
                args.push("--skip-truncated");
            }
            let ran = run_ringtap(&scratch, &args, Duration::from_secs(10));
            assert_eq!(ran.code(), Some(0), "{args:?}: {}", ran.stderr);
            let expected = if skip {
                whole.to_vec()
            } else {
                vec![whole[0].clone(), long[..96].to_vec(), whole[1].clone()]
            };
            let got = sink
                .collect(expected.len(), Duration::from_secs(5))
                .to_vec();
            assert_same_frames(&format!("{args:?}"), &expected, &got);
            let (line, warning) = if skip {
                ("1 skipped: cut short in the file", "")
            } else {
                (
                    "1 sent cut short",
                    "cut short in the file (captured length below the original length)",
                )
            };
            assert!(ran.stdout.contains(line), "{args:?}: {}", ran.stdout);
            assert!(ran.stderr.contains(warning), "{args:?}: {}", ran.stderr);
            assert_eq!(sent(&ran.stdout), expected.len() as u64);
        }
    });
}

/// Peak resident memory of a running process, from /proc (kB).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A 2 GiB pcap that is almost all hole (134 million empty records between
/// two real frames) replays with a peak resident memory under 64 MiB: the
/// file is streamed, twice (the check, then the frames), never held.
#[test]
fn a_2_gib_sparse_pcap_streams_in_bounded_memory() {
    let _serial = one_at_a_time();
    in_netns("replay 2 GiB sparse file", || {
        veth_pair("rp0", "sink0", 1500);
        let scratch = Scratch::new("replay-sparse");
        let frames: Vec<Vec<u8>> = (0..2u32).map(|i| frame(i, 60, TEST_ETHERTYPE)).collect();
        let stamps = stamped(&frames, Duration::from_millis(1));
        let head = pcap(Order::Little, false, 65535, &stamps[..1]);
        let tail = &pcap(Order::Little, false, 65535, &stamps[1..])[24..];
        const SIZE: u64 = 2 << 30;
        let path = scratch.path("sparse.pcap");
        {
            use std::io::{Seek as _, SeekFrom, Write as _};
            let mut f = std::fs::File::create(&path).unwrap();
            f.write_all(&head).unwrap();
            f.seek(SeekFrom::Start(SIZE - tail.len() as u64)).unwrap();
            f.write_all(tail).unwrap();
        }
        let empty_records = (SIZE - head.len() as u64 - tail.len() as u64) / 16;
        let mut sink = Receiver::open("sink0");
        let mut replay = Replay::start(&scratch, &["--out", "rp0", "--read", path_str(&path)]);
        let pid = replay.pid();
        let mut peak = 0;
        let started = Instant::now();
        while !replay.has_exited() && started.elapsed() < Duration::from_secs(120) {
            if let Some(kib) = peak_rss_kib(pid) {
                peak = peak.max(kib);
            }
            sink.poll();
            std::thread::sleep(Duration::from_millis(10));
        }
        let done = replay.finish(Duration::from_secs(5));
        println!("2 GiB sparse pcap: peak RSS {peak} KiB, {:?}", done.took);
        assert!(done.status.success(), "{}: {}", done.status, done.stderr);
        assert!(peak > 0, "no sample of VmHWM was taken");
        assert!(
            peak < 64 << 10,
            "peak resident memory {peak} KiB, the limit is 64 MiB"
        );
        assert!(
            wait_until(Duration::from_secs(2), || {
                sink.poll();
                sink.frames.len() >= 2
            }),
            "frames arrived: {}",
            sink.frames.len()
        );
        assert_same_frames("sparse pcap", &frames, &sink.frames);
        assert_eq!(sent(&done.stdout), 2, "{}", done.stdout);
        assert_eq!(
            number_before(&done.stdout, "skipped: shorter than an Ethernet header"),
            Some(empty_records),
            "{}",
            done.stdout
        );
    });
}
