//! `ringtap bridge` as a service: it tells the service manager when its
//! rings are up and keeps its watchdog fed only while every worker makes
//! progress (sd_notify over `NOTIFY_SOCKET`, here a socket of the test's
//! own), and it waits for ports that are not there yet instead of giving
//! up, exiting 75 when `--wait-for-ports` runs out.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringtap_tests::{
    frame, in_netns, ringtap_bin, veth_pair, Bridge, Receiver, Sender, TEST_ETHERTYPE,
};

/// A datagram socket for NOTIFY_SOCKET, removed with the test's directory.
fn notify_socket(tag: &str) -> (UnixDatagram, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ringtap-notify-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    (sock, path)
}

/// The messages that arrive within `span`, with the time each came.
fn messages(sock: &UnixDatagram, span: Duration) -> Vec<(Instant, String)> {
    let end = Instant::now() + span;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            out.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    }
    out
}

fn packet_sockets(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/net/packet"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn ready_after_the_rings_and_a_watchdog_fed_while_workers_progress() {
    in_netns("bridge sd_notify", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let (sock, path) = notify_socket("ok");
        let path = path.to_str().unwrap().to_owned();
        let bridge = Bridge::start_with_env(
            &["--in", "bra", "--out", "brb"],
            &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "500000")],
        );
        let got = messages(&sock, Duration::from_millis(1600));
        let ready = got
            .iter()
            .position(|(_, m)| m.lines().any(|l| l == "READY=1"))
            .unwrap_or_else(|| panic!("no READY=1 in {got:?}"));
        assert!(
            packet_sockets(bridge.pid()) >= 2,
            "READY=1 before the rings"
        );
        assert!(
            got[ready].1.contains("STATUS=bridging bra -> brb"),
            "{got:?}"
        );
        let beats = got.iter().filter(|(_, m)| m == "WATCHDOG=1").count();
        assert!(
            beats >= 4,
            "{beats} WATCHDOG=1 in 1.6 s at a 0.5 s watchdog: {got:?}"
        );
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    });
}

#[test]
fn a_stalled_worker_starves_the_watchdog() {
    in_netns("bridge watchdog", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let (sock, path) = notify_socket("stall");
        let path = path.to_str().unwrap().to_owned();
        let bridge = Bridge::start_with_env(
            &["--in", "bra", "--out", "brb"],
            &[
                ("NOTIFY_SOCKET", &path),
                ("WATCHDOG_USEC", "400000"),
                ("RINGTAP_TEST_STALL_WORKER", "0.5"),
            ],
        );
        let started = Instant::now();
        let got = messages(&sock, Duration::from_millis(2500));
        let late: Vec<_> = got
            .iter()
            .filter(|(at, m)| {
                m == "WATCHDOG=1" && at.duration_since(started) > Duration::from_millis(1200)
            })
            .collect();
        assert!(
            late.is_empty(),
            "WATCHDOG=1 kept coming from a stalled worker: {got:?}"
        );
        assert!(
            got.iter().any(|(_, m)| m == "WATCHDOG=1"),
            "no WATCHDOG=1 before the stall: {got:?}"
        );
        let stopped = bridge.stop();
        assert!(
            stopped.stderr.contains("made no progress"),
            "{}",
            stopped.stderr
        );
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    });
}

#[test]
fn a_bridge_started_before_its_egress_exists_forwards_once_it_comes() {
    in_netns("bridge waits for ports", || {
        veth_pair("gen0", "bra", 1500);
        let (sock, path) = notify_socket("wait");
        let path = path.to_str().unwrap().to_owned();
        std::thread::scope(|s| {
            let maker = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(800));
                veth_pair("brb", "sink0", 1500);
                Instant::now()
            });
            let bridge = Bridge::start_with_env(
                &["--in", "bra", "--out", "brb", "--wait-for-ports", "20"],
                &[("NOTIFY_SOCKET", &path)],
            );
            let created = maker.join().unwrap();
            let mut sink = Receiver::open("sink0");
            let mut first = None;
            for i in 0..100u32 {
                Sender::open("gen0").send_paced(
                    &[frame(i, 100, TEST_ETHERTYPE)],
                    1,
                    Duration::ZERO,
                );
                if !sink.collect(1, Duration::from_millis(20)).is_empty() {
                    first = Some(Instant::now());
                    break;
                }
            }
            let first = first.expect("nothing crossed after the egress appeared");
            assert!(
                first.duration_since(created) < Duration::from_secs(2),
                "forwarding began {:?} after the egress appeared",
                first.duration_since(created)
            );
            let got = messages(&sock, Duration::from_millis(100));
            assert!(
                got.iter()
                    .any(|(_, m)| m == "STATUS=waiting for port brb (no such interface)"),
                "{got:?}"
            );
            assert!(got.iter().any(|(_, m)| m.starts_with("READY=1")), "{got:?}");
            let stopped = bridge.stop();
            assert!(stopped.status.success(), "{}", stopped.stderr);
            assert!(
                stopped
                    .stderr
                    .contains("waiting for port brb (no such interface)"),
                "{}",
                stopped.stderr
            );
        });
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
    });
}

#[test]
fn a_port_that_never_comes_exits_75_after_the_wait() {
    in_netns("bridge gives up waiting", || {
        veth_pair("gen0", "bra", 1500);
        let started = Instant::now();
        let out = Command::new(ringtap_bin())
            .args([
                "bridge",
                "--in",
                "bra",
                "--out",
                "brb",
                "--wait-for-ports",
                "0.5",
            ])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{stderr}");
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(
            stderr.contains("port brb: no such interface after 0."),
            "{stderr}"
        );
        assert!(stderr.contains("waiting for port brb"), "{stderr}");
    });
}

/// The metrics file as Prometheus' own parser reads it: `name{labels}` ->
/// value, one per line.
fn parse_metrics(path: &std::path::Path) -> std::collections::BTreeMap<String, f64> {
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    // Debian's python, where python3-prometheus-client puts the module (a
    // python3 earlier on PATH may be another installation).
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let out = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 (apt-get install python3-prometheus-client)");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_metrics_file_parses_and_agrees_with_the_stats_file() {
    in_netns("bridge metrics", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let dir = std::env::temp_dir().join(format!("ringtap-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let prom = dir.join("ringtap.prom");
        let bridge = Bridge::start(&[
            "--in",
            "bra",
            "--out",
            "brb",
            "--both",
            "--metrics-file",
            prom.to_str().unwrap(),
        ]);
        let frames: Vec<Vec<u8>> = (0..300)
            .map(|i| frame(i, 100 + i as usize, TEST_ETHERTYPE))
            .collect();
        Sender::open("gen0").send_paced(&frames, 30, Duration::from_millis(1));
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        let text = std::fs::read_to_string(&prom).unwrap();
        assert!(text.ends_with('\n'));
        let metrics = parse_metrics(&prom);
        for d in stopped.stats["directions"].as_array().unwrap() {
            let dir = format!(
                "{}->{}",
                d["in"].as_str().unwrap(),
                d["out"].as_str().unwrap()
            );
            for key in [
                "rx_packets",
                "tx_packets",
                "tx_bytes",
                "kernel_packets",
                "kernel_drops",
                "filtered",
            ] {
                let name = format!("ringtap_{key}_total{{direction={dir}}}");
                assert_eq!(
                    metrics.get(&name).copied(),
                    Some(d[key].as_u64().unwrap() as f64),
                    "{name} in {text}"
                );
            }
            for (reason, n) in d["dropped"].as_object().unwrap() {
                let name = format!("ringtap_dropped_total{{direction={dir},reason={reason}}}");
                assert_eq!(
                    metrics.get(&name).copied(),
                    Some(n.as_u64().unwrap() as f64),
                    "{name}"
                );
            }
        }
        assert_eq!(
            metrics
                .get("ringtap_tx_packets_total{direction=bra->brb}")
                .copied(),
            Some(300.0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
