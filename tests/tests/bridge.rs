//! Acceptance of `ringtap bridge` against the real kernel, each test in a
//! private namespace: generator veth -> bridge port A, bridge port B ->
//! sink veth (and a mirror port), the bridge running as its own process.

use std::time::{Duration, Instant};

use ringtap_tests::corpus::{corpus, seq_of, MARKED_SRC};
use ringtap_tests::linux::netdev::{self, Offload};
use ringtap_tests::{
    assert_accounted, in_netns, ip, ringtap_bin, spawn_in_own_netns, veth_pair, wait_until, Bridge,
    Receiver, Sender,
};

/// gen0 <-> bra, brb <-> sink0, brm <-> mon0, all with `mtu`.
fn topology(mtu: u32, mirror: bool) {
    veth_pair("gen0", "bra", mtu);
    veth_pair("brb", "sink0", mtu);
    if mirror {
        veth_pair("brm", "mon0", mtu);
    }
}

fn same_sequence(what: &str, sent: &[Vec<u8>], got: &[Vec<u8>]) {
    for (i, (s, g)) in sent.iter().zip(got).enumerate() {
        assert!(
            s == g,
            "{what}: frame #{i} differs: sent {} bytes (seq {:?}), got {} bytes (seq {:?})",
            s.len(),
            seq_of(s),
            g.len(),
            seq_of(g)
        );
    }
    assert_eq!(got.len(), sent.len(), "{what}: frame count");
}

fn n(d: &serde_json::Value, key: &str) -> u64 {
    d[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {d}"))
}

#[test]
fn fidelity_both_directions_and_mirror_at_mtu_9000() {
    in_netns("bridge fidelity", || {
        topology(9000, true);
        let frames = corpus(500, 9000);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--both", "--mirror", "brm"]);

        let mut sink = Receiver::open("sink0");
        let mut mon = Receiver::open("mon0");
        let mut gen_rx = Receiver::open("gen0");
        Sender::open("gen0").send_paced(&frames, 32, Duration::from_millis(2));
        same_sequence(
            "gen0 -> sink0",
            &frames,
            sink.collect(frames.len(), Duration::from_secs(10)),
        );
        same_sequence(
            "mirror of gen0 -> sink0",
            &frames,
            mon.collect(frames.len(), Duration::from_secs(10)),
        );

        // The other way, through the same bridge (--both); each frame
        // crosses once: nothing comes back to where it was sent from.
        Sender::open("sink0").send_paced(&frames, 32, Duration::from_millis(2));
        same_sequence(
            "sink0 -> gen0",
            &frames,
            gen_rx.collect(frames.len(), Duration::from_secs(10)),
        );
        assert_eq!(
            sink.settle(Duration::from_millis(200)).len(),
            frames.len(),
            "a frame came back to sink0"
        );
        let mirrored = mon.collect(2 * frames.len(), Duration::from_secs(10));
        same_sequence(
            "mirror of sink0 -> gen0",
            &frames,
            &mirrored[frames.len()..],
        );

        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        for d in stopped.stats["directions"].as_array().unwrap() {
            assert_eq!(n(d, "tx_packets"), frames.len() as u64, "{d}");
            assert_eq!(n(&d["mirror"], "tx_packets"), frames.len() as u64, "{d}");
            assert_eq!(n(d, "kernel_drops"), 0, "{d}");
        }
    });
}

#[test]
fn partial_checksums_are_completed_for_tcp_and_udp() {
    use std::io::{Read, Write};
    in_netns("bridge checksums", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        const BYTES: usize = 4 << 20;
        const DATAGRAMS: usize = 200;
        let data: Vec<u8> = (0..BYTES).map(|i| (i * 7 + i / 251) as u8).collect();
        let expect = data.clone();

        // The sink's own stack: a TCP server and a UDP receiver.
        let (sink_tid, sink_go, sink) = spawn_in_own_netns(move || {
            ip(&["addr", "add", "10.77.0.2/24", "dev", "sink0"]);
            ip(&["link", "set", "sink0", "up"]);
            // A wire never carries frames above the MTU: no TSO/GSO.
            netdev::set_offload("sink0", Offload::Tso, false).unwrap();
            netdev::set_offload("sink0", Offload::Gso, false).unwrap();
            let tcp = std::net::TcpListener::bind("10.77.0.2:7000").unwrap();
            let udp = std::net::UdpSocket::bind("10.77.0.2:7001").unwrap();
            udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // Bounded: if nothing crosses the bridge, fail instead of hanging.
            tcp.set_nonblocking(true).unwrap();
            let start = Instant::now();
            let mut conn = loop {
                match tcp.accept() {
                    Ok((c, _)) => break c,
                    Err(_) if start.elapsed() < Duration::from_secs(15) => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => return Err(format!("no TCP connection through the bridge: {e}")),
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            let mut datagrams = 0;
            let mut buf = [0u8; 2048];
            while datagrams < DATAGRAMS {
                match udp.recv(&mut buf) {
                    Ok(1000) if buf[..1000].iter().all(|&b| b == (datagrams % 251) as u8) => {
                        datagrams += 1
                    }
                    Ok(n) => panic!("unexpected datagram of {n} bytes"),
                    Err(_) => break,
                }
            }
            Ok((got, datagrams))
        });
        let (gen_tid, gen_go, generator) = spawn_in_own_netns(move || {
            ip(&["addr", "add", "10.77.0.1/24", "dev", "gen0"]);
            ip(&["link", "set", "gen0", "up"]);
            netdev::set_offload("gen0", Offload::Tso, false).unwrap();
            netdev::set_offload("gen0", Offload::Gso, false).unwrap();
            let start = Instant::now();
            let mut conn = loop {
                match std::net::TcpStream::connect("10.77.0.2:7000") {
                    Ok(c) => break c,
                    Err(e) if start.elapsed() < Duration::from_secs(10) => {
                        let _ = e;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => panic!("connect through the bridge: {e}"),
                }
            };
            conn.write_all(&data).unwrap();
            drop(conn);
            let udp = std::net::UdpSocket::bind("10.77.0.1:0").unwrap();
            for i in 0..DATAGRAMS {
                udp.send_to(&[(i % 251) as u8; 1000], "10.77.0.2:7001")
                    .unwrap();
                std::thread::sleep(Duration::from_micros(500));
            }
        });
        ip(&["link", "set", "sink0", "netns", &sink_tid.to_string()]);
        ip(&["link", "set", "gen0", "netns", &gen_tid.to_string()]);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--both"]);
        sink_go.send(()).unwrap();
        gen_go.send(()).unwrap();
        let generated = generator.join();
        let received = sink.join().expect("sink");
        let stopped = bridge.stop();
        if generated.is_err() {
            panic!("the generator failed; bridge log: {}", stopped.stderr);
        }
        let (got, datagrams) = received.unwrap_or_else(|e| panic!("{e}: {}", stopped.stderr));
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_eq!(got.len(), expect.len(), "TCP bytes through the bridge");
        assert!(got == expect, "TCP data differs");
        assert_eq!(datagrams, DATAGRAMS, "UDP datagrams with valid checksums");
        assert_accounted(&stopped.stats);
        let completed: u64 = stopped.stats["directions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| n(d, "checksums_completed"))
            .sum();
        assert!(
            completed > 0,
            "no frame arrived with a partial checksum, so the test proved nothing: {}",
            stopped.stats
        );
    });
}

/// `tcpdump -ddd` for `expr`, or None (with the reason printed) when
/// tcpdump is missing and `cargo xtask test` did not require it.
fn tcpdump_ddd(expr: &str) -> Option<String> {
    match std::process::Command::new("tcpdump")
        .args(["-ddd", "-y", "EN10MB", expr])
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
        Ok(out) => panic!(
            "tcpdump -ddd {expr} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(
                !ringtap_tests::netns_required(),
                "tcpdump is needed (apt-get install tcpdump): {e}"
            );
            println!("SKIPPED: tcpdump not found ({e})");
            None
        }
    }
}

#[test]
fn filter_forwards_only_what_the_program_accepts() {
    let Some(program) = tcpdump_ddd("ether src 02:00:00:00:00:aa or ether dst 01:80:c2:00:00:0e")
    else {
        return;
    };
    in_netns("bridge filter", || {
        topology(1500, false);
        let dir = std::env::temp_dir().join(format!("ringtap-filter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bpf");
        std::fs::write(&path, program).unwrap();
        let frames = corpus(500, 1500);
        let wanted: Vec<Vec<u8>> = frames
            .iter()
            .filter(|f| f[6..12] == MARKED_SRC || f[0..6] == [0x01, 0x80, 0xc2, 0, 0, 0x0e])
            .cloned()
            .collect();
        assert!(!wanted.is_empty() && wanted.len() < frames.len());
        let bridge = Bridge::start(&[
            "--in",
            "bra",
            "--out",
            "brb",
            "--filter",
            path.to_str().unwrap(),
        ]);
        let mut sink = Receiver::open("sink0");
        Sender::open("gen0").send_paced(&frames, 32, Duration::from_millis(1));
        sink.collect(wanted.len(), Duration::from_secs(10));
        same_sequence("filtered", &wanted, sink.settle(Duration::from_millis(200)));
        let stopped = bridge.stop();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(
            n(d, "filtered"),
            (frames.len() - wanted.len()) as u64,
            "{d}"
        );
        assert_eq!(n(d, "tx_packets"), wanted.len() as u64, "{d}");
    });
}

#[test]
fn accounting_holds_when_a_tiny_ring_overflows() {
    in_netns("bridge accounting", || {
        topology(1500, false);
        // Two RX frames: a burst overflows it at once.
        let bridge = Bridge::start(&[
            "--in",
            "bra",
            "--out",
            "brb",
            "--tpacket",
            "v2",
            "--frame-size",
            "2048",
            "--block-size",
            "4096",
            "--block-nr",
            "1",
        ]);
        let mut sink = Receiver::open("sink0");
        let frames: Vec<Vec<u8>> = (0..20_000u32)
            .map(|i| ringtap_tests::frame(i, 64, 0x88b5))
            .collect();
        Sender::open("gen0").send_paced(&frames, 256, Duration::ZERO);
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(
            n(d, "kernel_packets"),
            frames.len() as u64,
            "the kernel saw every frame: {d}"
        );
        assert!(
            n(d, "kernel_drops") > 0,
            "the tiny ring never overflowed: {d}"
        );
        let got = sink.settle(Duration::from_millis(200)).len() as u64;
        assert_eq!(got, n(d, "tx_packets"), "sink count vs tx_packets: {d}");
    });
}

/// Anonymous resident memory (heap, stacks) of a process, in KiB.
fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn forwarded(bridge: &Bridge) -> u64 {
    bridge.stats()["directions"][0]["tx_packets"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn no_allocation_flat_memory_and_prompt_sigterm_under_load() {
    in_netns("bridge memory", || {
        topology(1500, false);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        let mut gen = Sender::open("gen0");
        let batch: Vec<Vec<u8>> = (0..10_000u32)
            .map(|i| ringtap_tests::frame(i, 64, 0x88b5))
            .collect();
        let send_until = |gen: &mut Sender, target: u64| {
            let start = Instant::now();
            while forwarded(&bridge) < target {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "bridge stalled at {}",
                    forwarded(&bridge)
                );
                gen.send_paced(&batch, 256, Duration::ZERO);
                wait_until(Duration::from_millis(300), || forwarded(&bridge) >= target);
            }
        };
        send_until(&mut gen, 10_000);
        let early = rss_anon_kib(bridge.pid());
        send_until(&mut gen, 100_000);
        assert_eq!(
            bridge.stats()["data_path_allocations"].as_u64(),
            Some(0),
            "the data path allocated"
        );
        send_until(&mut gen, 1_000_000);
        let late = rss_anon_kib(bridge.pid());
        assert!(
            late <= early,
            "anonymous memory grew from {early} KiB to {late} KiB between 10^4 and 10^6 frames"
        );

        // SIGTERM while frames keep coming.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let flood = std::thread::scope(|s| {
            let flooder = s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    gen.send_paced(&batch[..2000], 256, Duration::ZERO);
                }
            });
            std::thread::sleep(Duration::from_millis(300));
            let stopped = bridge.stop();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            flooder.join().unwrap();
            stopped
        });
        assert!(
            flood.status.success(),
            "exit status {:?}: {}",
            flood.status,
            flood.stderr
        );
        assert!(
            flood.took < Duration::from_secs(1),
            "stopped after {:?}",
            flood.took
        );
        assert_accounted(&flood.stats);
        assert_eq!(flood.stats["data_path_allocations"].as_u64(), Some(0));
    });
}

#[test]
fn bad_input_exits_2_and_absent_ports_75_with_a_clear_message() {
    in_netns("bridge bad input", || {
        topology(1500, false);
        veth_pair("downa", "downb", 1500);
        ip(&["link", "set", "downa", "down"]);
        let dir = std::env::temp_dir().join(format!("ringtap-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.bpf");
        std::fs::write(&garbage, "3\n6 0 0 65535\nnot a line\n").unwrap();
        let garbage = garbage.to_str().unwrap().to_owned();
        let cases: &[(&[&str], i32, &str)] = &[
            (
                &["--in", "nosuch0", "--out", "brb", "--wait-for-ports", "0"],
                75,
                "port nosuch0: no such interface after 0.0 s of waiting",
            ),
            (
                &["--in", "bra", "--out", "nosuch1", "--wait-for-ports", "0"],
                75,
                "port nosuch1: no such interface",
            ),
            (
                &["--in", "downa", "--out", "brb", "--wait-for-ports", "0"],
                75,
                "port downa: down",
            ),
            (
                &["--in", "bra", "--out", "brb", "--wait-for-ports", "-1"],
                2,
                "--wait-for-ports",
            ),
            (&["--in", "bra", "--out", "bra"], 2, "two interfaces"),
            (
                &["--in", "bra", "--out", "brb", "--block-size", "1000"],
                2,
                "rule: ",
            ),
            (
                &[
                    "--in",
                    "bra",
                    "--out",
                    "brb",
                    "--tpacket",
                    "v2",
                    "--frame-size",
                    "1024",
                ],
                2,
                "--frame-size",
            ),
            (
                &[
                    "--in",
                    "bra",
                    "--out",
                    "brb",
                    "--filter",
                    "/nonexistent/f.bpf",
                ],
                2,
                "--filter /nonexistent/f.bpf: cannot read",
            ),
            (
                &["--in", "bra", "--out", "brb", "--filter", &garbage],
                2,
                "not `tcpdump -ddd` output",
            ),
            (
                &["--in", "bra", "--out", "brb", "--workers", "0"],
                2,
                "--workers 0",
            ),
            (
                &["--in", "bra", "--out", "brb", "--duration", "-3"],
                2,
                "--duration",
            ),
            (
                &["--in", "bra", "--out", "brb", "--board", "no-such-board"],
                2,
                "no-such-board",
            ),
            (&["--in", "bra"], 2, "--out"),
        ];
        let mut sink = Receiver::open("sink0");
        let mut gen = Sender::open("gen0");
        for (args, code, message) in cases {
            let out = std::process::Command::new(ringtap_bin())
                .arg("bridge")
                .args(*args)
                .args(["--duration", "2"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
            assert!(
                stderr.contains(message),
                "{args:?}: expected {message:?} in {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        }
        // Nothing was left running to forward anything.
        gen.send_paced(&[ringtap_tests::frame(1, 60, 0x88b5)], 1, Duration::ZERO);
        assert!(
            sink.settle(Duration::from_millis(200)).is_empty(),
            "something forwarded"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn survives_link_flap_and_egress_recreation() {
    in_netns("bridge link loss", || {
        topology(1500, false);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let sent = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                let mut gen = Sender::open("gen0");
                let mut seq = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let burst: Vec<Vec<u8>> = (seq..seq + 20)
                        .map(|i| ringtap_tests::frame(i, 128, 0x88b5))
                        .collect();
                    gen.send_paced(&burst, 20, Duration::from_millis(4));
                    seq += 20;
                }
                seq
            });
            std::thread::sleep(Duration::from_millis(500));
            ip(&["link", "set", "brb", "down"]);
            std::thread::sleep(Duration::from_secs(2));
            ip(&["link", "set", "brb", "up"]);
            let mut sink = Receiver::open("sink0");
            assert!(
                !sink.collect(50, Duration::from_secs(3)).is_empty(),
                "forwarding did not resume after the link came back: {}",
                bridge.stderr()
            );
            drop(sink);
            ip(&["link", "del", "brb"]);
            std::thread::sleep(Duration::from_millis(500));
            veth_pair("brb", "sink0", 1500);
            let mut sink = Receiver::open("sink0");
            let resumed = sink.collect(50, Duration::from_secs(3)).len();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let sent = sender.join().unwrap();
            assert!(
                resumed >= 50,
                "forwarding did not resume within 3 s of re-creating brb ({resumed} frames): {}",
                bridge.stderr()
            );
            sent
        });
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(n(d, "kernel_packets"), u64::from(sent), "{d}");
        assert!(d["dropped"]["link_down"].as_u64().unwrap() > 0, "{d}");
        assert!(
            stopped.stats["reopened"].as_u64().unwrap() >= 1,
            "{}",
            stopped.stats
        );
        assert!(stopped.stderr.contains("brb is back"), "{}", stopped.stderr);
    });
}

#[test]
fn board_profile_supplies_ports_and_ring() {
    in_netns("bridge board profile", || {
        topology(1500, false);
        let dir = std::env::temp_dir().join(format!("ringtap-board-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let profile = dir.join("board.toml");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../boards/x86_64-host/board.toml"
        ))
        .unwrap()
        .replace("name = \"x86_64-host\"", "name = \"test-board\"")
        .replace("in = \"veth0\"", "in = \"bra\"")
        .replace("out = \"veth1\"", "out = \"brb\"");
        // The edits took: the profile loads, with these ports.
        let board = ringtap_board::Board::parse(&text, "edited x86_64-host").unwrap();
        assert_eq!(
            (board.ports.r#in.as_str(), board.ports.out.as_str()),
            ("bra", "brb")
        );
        std::fs::write(&profile, text).unwrap();
        let bridge = Bridge::start(&["--config", profile.to_str().unwrap(), "--tpacket", "v2"]);
        let mut sink = Receiver::open("sink0");
        let frames = corpus(60, 1500);
        Sender::open("gen0").send_paced(&frames, 16, Duration::from_millis(1));
        same_sequence(
            "profile ports",
            &frames,
            sink.collect(frames.len(), Duration::from_secs(10)),
        );
        let stopped = bridge.stop();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert!(
            stopped.stderr.contains("bridging bra -> brb")
                && stopped.stderr.contains("TPACKET_V2")
                && stopped.stderr.contains("profile "),
            "{}",
            stopped.stderr
        );
    });
}

#[test]
fn workers_share_the_load_and_keep_each_flow_in_order() {
    use ringtap_tests::corpus::{build, Payload};
    in_netns("bridge workers", || {
        topology(1500, false);
        // 16 UDP flows (by source port), 100 frames each, interleaved.
        let frames: Vec<Vec<u8>> = (0..1600u32)
            .map(|i| {
                let mut f = build(
                    i,
                    [2, 0, 0, 0, 0, 2],
                    [2, 0, 0, 0, 0, 1],
                    &[],
                    Payload::Ipv4Udp,
                    200,
                );
                let flow = (i % 16) as u16;
                f[34..36].copy_from_slice(&(5000 + flow).to_be_bytes());
                f[36..38].copy_from_slice(&9u16.to_be_bytes());
                f[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
                f
            })
            .collect();
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--workers", "2", "--both"]);
        let mut sink = Receiver::open("sink0");
        Sender::open("gen0").send_paced(&frames, 32, Duration::from_millis(1));
        let got = sink.collect(frames.len(), Duration::from_secs(10)).to_vec();
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_eq!(
            got.len(),
            frames.len(),
            "frames through 2 workers: {}",
            stopped.stats
        );
        let mut sorted = got.clone();
        sorted.sort();
        let mut sent = frames.clone();
        sent.sort();
        assert!(
            sorted == sent,
            "the frames that arrived are not the frames sent"
        );
        for flow in 0..16u16 {
            let port = (5000 + flow).to_be_bytes();
            let seqs: Vec<u32> = got
                .iter()
                .filter(|f| f[34..36] == port)
                .map(|f| seq_of(f).unwrap())
                .collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "flow {flow} reordered: {seqs:?}"
            );
        }
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(d["workers"], 2);
        let per_worker: Vec<u64> = d["worker_rx_packets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(
            per_worker.len() == 2 && per_worker.iter().all(|&n| n > 0),
            "the fanout group did not spread 16 flows over both workers: {per_worker:?}"
        );
    });
}
