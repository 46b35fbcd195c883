//! `ringtap capture` treats its output as the thing that must not be lost
//! (issue 12), each case in a private namespace against the real kernel,
//! the files judged by tcpdump and tshark:
//!
//! - a capture that cannot start (a bad option, a FIFO as its filter, no
//!   CAP_NET_RAW, its stats file being the capture file, a closed standard
//!   output) says so at once and leaves an older file at its name as it
//!   was;
//! - SIGUSR1 prints the counters and SIGHUP starts a new file, neither
//!   ends the capture;
//! - a full disk stops the capture at once, with a file that ends on its
//!   last whole frame and a summary of what was written and lost; a stats
//!   file that cannot be written at the end is a failure too;
//! - rotated files never exceed the limit, even with GSO frames larger
//!   than it.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ringtap_tests::tools::{
    assert_same_frames, mkfifo, run_bounded, tcpdump_read, tools_present, tshark_fields, Capture,
    Dumped, Scratch,
};
use ringtap_tests::{
    frame, in_netns, ip, ringtap_bin, spawn_in_own_netns, veth_pair, wait_until, Sender, SmallFs,
    TEST_ETHERTYPE,
};
use rustix::process::Signal;

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn bytes_of(dumped: &[Dumped]) -> Vec<Vec<u8>> {
    dumped.iter().map(|d| d.bytes.clone()).collect()
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// The number in `text` right before `words` (e.g. `46` in `46 frames
/// written`).
fn number_before(text: &str, words: &str) -> Option<u64> {
    let at = text.find(words)?;
    text[..at].split_whitespace().last()?.parse().ok()
}

/// The type of the last block of a pcapng file (5: statistics).
fn last_block_type(file: &[u8]) -> u32 {
    let le = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let total = le(file.len() - 4) as usize;
    le(file.len() - total)
}

const PRECIOUS: &[u8] = b"an older capture that must survive\n";

/// How a refused capture is started.
#[derive(Clone, Copy)]
enum Launch {
    Plain,
    /// Without CAP_NET_RAW in its bounding set.
    NoNetRaw,
    /// With standard output closed.
    StdoutClosed,
}

/// A capture that cannot start must say why and leave the older file at
/// its name (and nothing else) as it was.
#[test]
fn a_capture_that_cannot_start_leaves_older_files_alone() {
    if !tools_present("capture refusals", &["setpriv"]) {
        return;
    }
    in_netns("capture refusals", || {
        veth_pair("gen0", "cap0", 1500);
        // (case, --write, extra arguments, how, exit status, message, the
        // file that must survive)
        type Case = (
            &'static str,
            &'static str,
            Vec<&'static str>,
            Launch,
            i32,
            &'static str,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "--stats-file is --write",
                "old.pcapng",
                vec!["--stats-file", "old.pcapng"],
                Launch::Plain,
                2,
                "is the capture file",
                Some("old.pcapng"),
            ),
            (
                "--stats-file is --write through a directory symlink",
                "old.pcapng",
                vec!["--stats-file", "link/old.pcapng"],
                Launch::Plain,
                2,
                "is the capture file",
                Some("old.pcapng"),
            ),
            (
                "--stats-file is a hard link of --write",
                "old.pcapng",
                vec!["--stats-file", "hard.json"],
                Launch::Plain,
                2,
                "is the capture file",
                Some("old.pcapng"),
            ),
            (
                "--stats-file is a rotation file",
                "rot",
                vec![
                    "--rotate-size",
                    "65536",
                    "--rotate-files",
                    "3",
                    "--stats-file",
                    "rot.2",
                ],
                Launch::Plain,
                2,
                "is the capture file",
                Some("rot.0"),
            ),
            (
                "--block-nr 0",
                "old.pcapng",
                vec!["--block-nr", "0"],
                Launch::Plain,
                2,
                "--block-nr 0: a capture needs at least one block",
                Some("old.pcapng"),
            ),
            (
                "--filter is a FIFO (nobody writes to it)",
                "old.pcapng",
                vec!["--filter", "fifo"],
                Launch::Plain,
                2,
                "it is a FIFO, not a regular file",
                Some("old.pcapng"),
            ),
            (
                "no CAP_NET_RAW",
                "old.pcapng",
                vec![],
                Launch::NoNetRaw,
                1,
                "Operation not permitted",
                Some("old.pcapng"),
            ),
            (
                "standard output closed",
                "-",
                vec![],
                Launch::StdoutClosed,
                1,
                "standard output is closed",
                None,
            ),
        ];
        for (case, write, extra, launch, code, says, survivor) in cases {
            let scratch = Scratch::new("capture-refusal");
            let d = &scratch.dir;
            std::os::unix::fs::symlink(d, d.join("link")).unwrap();
            for f in ["old.pcapng", "rot.0"] {
                std::fs::write(d.join(f), PRECIOUS).unwrap();
            }
            std::fs::hard_link(d.join("old.pcapng"), d.join("hard.json")).unwrap();
            mkfifo(&d.join("fifo"));
            let write = if write == "-" {
                write.to_owned()
            } else {
                path_str(&d.join(write)).to_owned()
            };
            let extra: Vec<String> = extra
                .iter()
                .map(|a| {
                    if a.starts_with("--") || a.parse::<u64>().is_ok() {
                        (*a).to_owned()
                    } else {
                        path_str(&d.join(a)).to_owned()
                    }
                })
                .collect();
            let bin = ringtap_bin();
            let mut cmd = match launch {
                Launch::Plain => Command::new(&bin),
                Launch::NoNetRaw => {
                    let mut c = Command::new("setpriv");
                    c.arg("--bounding-set=-net_raw").arg(&bin);
                    c
                }
                Launch::StdoutClosed => {
                    let mut c = Command::new("sh");
                    c.args(["-c", "exec \"$@\" >&-", "sh"]).arg(&bin);
                    c
                }
            };
            cmd.args([
                "capture",
                "--in",
                "cap0",
                "--duration",
                "1",
                "--write",
                &write,
            ])
            .args(&extra)
            .stdin(Stdio::null());
            let ran = run_bounded(&scratch, &mut cmd, Duration::from_secs(10));
            assert_eq!(ran.code(), Some(code), "{case}: {}", ran.stderr);
            assert!(ran.stderr.contains(says), "{case}: {}", ran.stderr);
            assert!(!ran.stderr.contains("panicked"), "{case}: {}", ran.stderr);
            if let Some(f) = survivor {
                assert_eq!(
                    std::fs::read(d.join(f)).unwrap(),
                    PRECIOUS,
                    "{case}: {f} was changed"
                );
            }
            let left: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|f| f.ends_with(".tmp"))
                .collect();
            assert!(left.is_empty(), "{case}: temporary files left: {left:?}");
        }
    });
}

/// SIGUSR1 prints the counters; SIGHUP after the file was moved away (as
/// logrotate does) starts a new one, without a move it keeps writing, and
/// when rotating it goes on to the next file. The capture goes on through
/// all of it, and every file holds its frames whole.
#[test]
fn sighup_and_sigusr1_keep_the_capture_going() {
    if !tools_present("capture signals", &["tcpdump", "tshark"]) {
        return;
    }
    in_netns("capture signals", || {
        veth_pair("gen0", "cap0", 1500);
        let frames: Vec<Vec<u8>> = (0..100u32).map(|i| frame(i, 200, TEST_ETHERTYPE)).collect();
        for format in ["pcapng", "pcap"] {
            let scratch = Scratch::new("capture-signals");
            let file = scratch.path(&format!("cap.{format}"));
            let moved = scratch.path(&format!("moved.{format}"));
            let mut cap = Capture::start(
                &scratch,
                "cap0",
                &["--format", format, "--write", path_str(&file)],
                Stdio::null(),
            );
            let mut gen = Sender::open("gen0");
            gen.send_paced(&frames[..50], 10, Duration::from_millis(1));
            assert!(cap.wait_captured(50), "{:?}", cap.stats());

            cap.signal(Signal::USR1);
            assert!(
                cap.wait_stderr("counters: 50 frames captured"),
                "{format}: SIGUSR1: {}",
                cap.stderr()
            );
            assert!(cap.running(), "{format}: SIGUSR1 ended the capture");

            std::fs::rename(&file, &moved).unwrap();
            cap.signal(Signal::HUP);
            assert!(
                cap.wait_stderr(&format!("SIGHUP: now writing {}", file.display())),
                "{format}: SIGHUP after a move: {}",
                cap.stderr()
            );
            assert!(cap.running(), "{format}: SIGHUP ended the capture");
            gen.send_paced(&frames[50..80], 10, Duration::from_millis(1));
            assert!(cap.wait_captured(80), "{:?}", cap.stats());

            cap.signal(Signal::HUP);
            assert!(
                cap.wait_stderr("was not moved; still writing to it"),
                "{format}: SIGHUP without a move: {}",
                cap.stderr()
            );
            gen.send_paced(&frames[80..], 10, Duration::from_millis(1));
            assert!(cap.wait_captured(100), "{:?}", cap.stats());
            let end = cap.stop(Signal::TERM);
            assert!(
                end.status.success(),
                "{format}: {}: {}",
                end.status,
                end.stderr
            );

            assert_same_frames(
                &format!("{format}: the file moved away"),
                &frames[..50],
                &bytes_of(&tcpdump_read(&moved)),
            );
            assert_same_frames(
                &format!("{format}: the new file"),
                &frames[50..],
                &bytes_of(&tcpdump_read(&file)),
            );
            for f in [&moved, &file] {
                let rows = tshark_fields(f, &["frame.number"]);
                assert!(!rows.is_empty(), "{}", f.display());
                if format == "pcapng" {
                    let bytes = std::fs::read(f).unwrap();
                    assert_eq!(last_block_type(&bytes), 5, "{}: no final ISB", f.display());
                }
            }
            assert_eq!(n(&end.stats, "written"), 100, "{}", end.stats);
        }

        // Rotating: SIGHUP moves on to the next file.
        let scratch = Scratch::new("capture-signals-rotate");
        let base = scratch.path("rot.pcapng");
        let cap = Capture::start(
            &scratch,
            "cap0",
            &[
                "--write",
                path_str(&base),
                "--rotate-size",
                "1M",
                "--rotate-files",
                "3",
            ],
            Stdio::null(),
        );
        let mut gen = Sender::open("gen0");
        gen.send_paced(&frames[..10], 10, Duration::from_millis(1));
        assert!(cap.wait_captured(10), "{:?}", cap.stats());
        cap.signal(Signal::HUP);
        assert!(
            cap.wait_stderr("SIGHUP: now writing"),
            "rotating: {}",
            cap.stderr()
        );
        gen.send_paced(&frames[10..20], 10, Duration::from_millis(1));
        assert!(cap.wait_captured(20), "{:?}", cap.stats());
        let end = cap.stop(Signal::TERM);
        assert!(end.status.success(), "{}: {}", end.status, end.stderr);
        for (i, part) in [&frames[..10], &frames[10..20]].iter().enumerate() {
            let f = scratch.path(&format!("rot.pcapng.{i}"));
            assert_same_frames(
                &format!("rotating, file {i}"),
                part,
                &bytes_of(&tcpdump_read(&f)),
            );
        }
    });
}

/// A 64 KiB filesystem fills up: the capture stops by itself with exit
/// status 1; the file ends on its last whole record (tcpdump and tshark
/// read it without a word), holding exactly the frames the summary says
/// were written; the summary counts the rest as lost. A stats file that
/// cannot be written at the end fails the capture too, and leaves no
/// temporary file behind.
#[test]
fn a_full_disk_stops_the_capture_with_whole_records() {
    if !tools_present("capture on a full disk", &["tcpdump", "tshark", "mount"]) {
        return;
    }
    in_netns("capture on a full disk", || {
        veth_pair("gen0", "cap0", 1500);
        let frames: Vec<Vec<u8>> = (0..200u32)
            .map(|i| frame(i, 1500, TEST_ETHERTYPE))
            .collect();
        for format in ["pcapng", "pcap"] {
            let scratch = Scratch::new("capture-enospc");
            let small = scratch.path("small");
            std::fs::create_dir(&small).unwrap();
            let _fs = SmallFs::mount(&small, 64 << 10);
            let file = small.join(format!("cap.{format}"));
            let cap = Capture::start(
                &scratch,
                "cap0",
                &["--format", format, "--write", path_str(&file)],
                Stdio::null(),
            );
            Sender::open("gen0").send_paced(&frames, 10, Duration::from_millis(1));
            let end = cap.finish(Duration::from_secs(10));
            let e = &end.stderr;
            assert_eq!(end.status.code(), Some(1), "{format}: {e}");
            assert!(e.contains("the capture stopped"), "{format}: {e}");
            assert!(e.contains("No space left on device"), "{format}: {e}");
            let written = number_before(e, "frames written")
                .unwrap_or_else(|| panic!("{format}: no `N frames written`: {e}"));
            let lost = number_before(e, "frames lost")
                .unwrap_or_else(|| panic!("{format}: no `N frames lost`: {e}"));
            assert!(
                e.contains(&format!("on a record boundary, after its frame #{written}")),
                "{format}: {e}"
            );
            assert!(
                written > 0 && written < frames.len() as u64,
                "{format}: {written} frames written"
            );
            let s = &end.stats;
            assert_eq!(n(s, "written"), written, "{s}");
            assert_eq!(
                written + lost,
                n(s, "kernel_packets"),
                "{format}: written + lost is every frame the kernel saw: {s}"
            );
            assert!(
                s["write_error"]
                    .as_str()
                    .is_some_and(|w| w.contains("No space left")),
                "{s}"
            );
            let size = std::fs::metadata(&file).unwrap().len();
            assert!(
                e.contains(&format!("ends at byte {size},")),
                "{format}: the file has {size} bytes: {e}"
            );
            let read = bytes_of(&tcpdump_read(&file));
            assert_same_frames(
                &format!("{format} on a full disk"),
                &frames[..written as usize],
                &read,
            );
            let rows = tshark_fields(&file, &["frame.len"]);
            assert_eq!(rows.len() as u64, written, "{format}: frames tshark reads");
        }

        // The stats file's filesystem fills while the capture runs.
        let scratch = Scratch::new("capture-enospc-stats");
        let small = scratch.path("small");
        std::fs::create_dir(&small).unwrap();
        let _fs = SmallFs::mount(&small, 64 << 10);
        let stats = small.join("stats.json");
        let file = scratch.path("cap.pcapng");
        let err_path = scratch.path("stderr");
        let mut child = Command::new(ringtap_bin())
            .args(["capture", "--in", "cap0", "--write", path_str(&file)])
            .args(["--stats-file", path_str(&stats)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .expect("start ringtap capture");
        let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();
        assert!(
            wait_until(Duration::from_secs(10), || stderr()
                .contains("capturing on cap0")),
            "{}",
            stderr()
        );
        let mut filler = std::fs::File::create(small.join("filler")).unwrap();
        while filler.write_all(&[0u8; 4096]).is_ok() {}
        drop(filler);
        Sender::open("gen0").send_paced(&frames[..20], 10, Duration::from_millis(1));
        ringtap_tests::tools::signal(&child, Signal::TERM);
        let status = ringtap_tests::tools::wait_bounded(
            &mut child,
            Duration::from_secs(5),
            "ringtap capture",
            stderr,
        );
        let e = stderr();
        assert_eq!(status.code(), Some(1), "{e}");
        assert!(e.contains("cannot write the final stats file"), "{e}");
        assert!(e.contains("No space left on device"), "{e}");
        let temps: Vec<PathBuf> = std::fs::read_dir(&small)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(temps.is_empty(), "temporary files left: {temps:?}");
        let read = bytes_of(&tcpdump_read(&file));
        assert_same_frames("the capture beside a full stats disk", &frames[..20], &read);
    });
}

/// TCP over a veth with TSO hands the capture frames of up to 64 KiB; with
/// `--rotate-size 8K` no file grows past 8192 bytes: a frame larger than a
/// file can hold is cut to fit (and counted), and every file reads whole.
#[test]
fn rotated_files_stay_within_the_limit_with_gso_frames() {
    if !tools_present("capture rotation with GSO", &["tcpdump", "tshark"]) {
        return;
    }
    in_netns("capture rotation with GSO", || {
        ip(&[
            "link", "add", "name", "gso0", "type", "veth", "peer", "name", "gso1",
        ]);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let (tid, go, peer) = spawn_in_own_netns(move || {
            ip(&["addr", "add", "10.77.0.2/24", "dev", "gso1"]);
            ip(&["link", "set", "gso1", "up"]);
            let listener = std::net::TcpListener::bind("10.77.0.2:5000").expect("listen");
            ready_tx.send(()).expect("ready");
            let (mut conn, _) = listener.accept().expect("accept");
            let mut all = Vec::new();
            conn.read_to_end(&mut all).expect("read");
            all.len()
        });
        ip(&["link", "set", "gso1", "netns", &tid.to_string()]);
        ip(&["addr", "add", "10.77.0.1/24", "dev", "gso0"]);
        ip(&["link", "set", "gso0", "up"]);
        go.send(()).unwrap();
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the peer never listened");
        let scratch = Scratch::new("capture-gso");
        let base = scratch.path("gso.pcapng");
        let cap = Capture::start(
            &scratch,
            "gso0",
            &[
                "--write",
                path_str(&base),
                "--rotate-size",
                "8K",
                "--rotate-files",
                "1000",
            ],
            Stdio::null(),
        );
        const SENT: usize = 1 << 20;
        let mut conn = std::net::TcpStream::connect_timeout(
            &"10.77.0.2:5000".parse().unwrap(),
            Duration::from_secs(5),
        )
        .expect("connect");
        conn.write_all(&vec![0x5a; SENT]).expect("send");
        drop(conn);
        assert_eq!(peer.join().unwrap(), SENT, "the peer got everything");
        std::thread::sleep(Duration::from_millis(300));
        let end = cap.stop(Signal::TERM);
        assert!(end.status.success(), "{}: {}", end.status, end.stderr);
        let s = &end.stats;
        let files = s["files"].as_array().expect("files");
        assert!(files.len() > 2, "{s}");
        let mut in_files = 0;
        for f in files {
            let f = PathBuf::from(f.as_str().unwrap());
            let size = std::fs::metadata(&f).unwrap().len();
            assert!(size <= 8192, "{}: {size} bytes", f.display());
            in_files += tshark_fields(&f, &["frame.len"]).len();
            tcpdump_read(&f);
        }
        assert!(
            n(s, "cut_to_fit") > 0,
            "no frame larger than a file came (TSO off?): {s}"
        );
        assert_eq!(in_files as u64, n(s, "written"), "{s}");
        assert!(
            end.stderr.contains("frames were cut to fit --rotate-size"),
            "{}",
            end.stderr
        );
    });
}
