//! `ringtap capture` and `ringtap replay` parse traffic and files with
//! nothing they no longer need: once their socket is open, every thread
//! has no capability at all (effective, permitted, bounding), no_new_privs
//! and a seccomp filter; with `--user` another uid. Under all of that a
//! capture still rotates on SIGHUP, prints counters on SIGUSR1 and writes
//! its stats file, and a replay still sends every frame: the allow-list
//! holds every system call they make.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ringtap_tests::confined::{assert_confined, field};
use ringtap_tests::tools::{
    assert_same_frames, run_bounded, tcpdump_read, tools_present, Capture, Scratch,
};
use ringtap_tests::{frame, in_netns, ringtap_bin, veth_pair, Receiver, Sender, TEST_ETHERTYPE};
use rustix::process::Signal;

const NOBODY: u32 = 65534;

/// Every thread: no capability at all, no_new_privs, a seccomp filter.
fn check_confined(pid: u32, uid: Option<u32>) {
    assert_confined(pid, 0, uid);
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A directory the unprivileged user may write in.
fn give_to_nobody(dir: &Path) {
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown");
}

#[test]
fn capture_confined_as_nobody_rotates_and_counts() {
    if !tools_present("capture privileges", &["tcpdump"]) {
        return;
    }
    in_netns("capture privileges", || {
        veth_pair("gen0", "cap0", 1500);
        let frames: Vec<Vec<u8>> = (0..60u32).map(|i| frame(i, 300, TEST_ETHERTYPE)).collect();
        let scratch = Scratch::new("capture-privileges");
        give_to_nobody(&scratch.dir);
        let base = scratch.path("cap.pcapng");
        let mut cap = Capture::start(
            &scratch,
            "cap0",
            &[
                "--write",
                path_str(&base),
                "--rotate-size",
                "64K",
                "--rotate-files",
                "3",
                "--user",
                "65534:65534",
            ],
            Stdio::null(),
        );
        check_confined(cap.pid(), Some(NOBODY));
        assert!(cap.stderr().contains("as uid 65534"), "{}", cap.stderr());
        let mut gen = Sender::open("gen0");
        gen.send_paced(&frames[..30], 10, Duration::from_millis(1));
        assert!(cap.wait_captured(30), "{:?}", cap.stats());
        cap.signal(Signal::USR1);
        assert!(
            cap.wait_stderr("counters: 30 frames captured"),
            "{}",
            cap.stderr()
        );
        // SIGHUP: the next file of the rotation, created as nobody.
        cap.signal(Signal::HUP);
        assert!(cap.wait_stderr("SIGHUP"), "{}", cap.stderr());
        gen.send_paced(&frames[30..], 10, Duration::from_millis(1));
        assert!(cap.wait_captured(60), "{:?}", cap.stats());
        assert!(cap.running(), "{}", cap.stderr());
        let end = cap.stop(Signal::TERM);
        assert!(end.status.success(), "{}: {}", end.status, end.stderr);
        assert_eq!(end.stats["written"].as_u64(), Some(60), "{}", end.stats);

        // The first file exists before the socket does, so it is created
        // by whoever started ringtap; SIGHUP's is created as --user.
        let mut got = Vec::new();
        for (i, owner) in [(0, 0), (1, NOBODY)] {
            let file = scratch.path(&format!("cap.pcapng.{i}"));
            let meta = std::fs::metadata(&file).unwrap();
            assert_eq!(
                std::os::unix::fs::MetadataExt::uid(&meta),
                owner,
                "{}",
                file.display()
            );
            got.extend(tcpdump_read(&file).into_iter().map(|d| d.bytes));
        }
        assert!(!scratch.path("cap.pcapng.2").exists());
        assert_same_frames("the rotated files", &frames, &got);
    });
}

#[test]
fn replay_confined_as_nobody_sends_everything() {
    if !tools_present("replay privileges", &["tcpdump"]) {
        return;
    }
    in_netns("replay privileges", || {
        veth_pair("gen0", "cap0", 1500);
        let frames: Vec<Vec<u8>> = (0..40u32).map(|i| frame(i, 200, TEST_ETHERTYPE)).collect();
        let scratch = Scratch::new("replay-privileges");
        let file = scratch.path("in.pcapng");
        // The file to replay, from a (confined, as root) capture.
        let cap = Capture::start(
            &scratch,
            "cap0",
            &["--write", path_str(&file)],
            Stdio::null(),
        );
        check_confined(cap.pid(), None);
        Sender::open("gen0").send_paced(&frames, 10, Duration::from_millis(1));
        assert!(cap.wait_captured(40), "{:?}", cap.stats());
        let end = cap.stop(Signal::TERM);
        assert!(end.status.success(), "{}", end.stderr);

        let mut sink = Receiver::open("cap0");
        let mut replay = Command::new(ringtap_bin())
            .args(["replay", "--out", "gen0", "--read", path_str(&file)])
            .args(["--pps", "100", "--user", "65534:65534"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ringtap replay");
        // 40 frames at 100 per second: 0.4 s in which to look at it.
        let mut seen_confined = false;
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(10));
            let status = std::fs::read_to_string(format!("/proc/{}/status", replay.id()));
            if status.is_ok_and(|s| field(&s, "Seccomp") == "2") {
                check_confined(replay.id(), Some(NOBODY));
                seen_confined = true;
                break;
            }
        }
        let status = ringtap_tests::tools::wait_bounded(
            &mut replay,
            Duration::from_secs(10),
            "ringtap replay",
            String::new,
        );
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut replay.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(status.success(), "{status}: {stderr}");
        assert!(seen_confined, "replay never ran confined: {stderr}");
        assert!(stderr.contains("replay: running as uid 65534"), "{stderr}");
        let got = sink.collect(40, Duration::from_secs(5)).to_vec();
        assert_same_frames("replayed", &frames, &got);

        // Reading standard input works confined too.
        let mut sink = Receiver::open("cap0");
        let ran = run_bounded(
            &scratch,
            Command::new(ringtap_bin())
                .args(["replay", "--out", "gen0", "--read", "-"])
                .stdin(std::fs::File::open(&file).unwrap()),
            Duration::from_secs(10),
        );
        assert!(ran.status.success(), "{}", ran.stderr);
        let got = sink.collect(40, Duration::from_secs(5)).to_vec();
        assert_same_frames("replayed from standard input", &frames, &got);
    });
}
