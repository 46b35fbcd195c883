//! `cargo xtask demo`'s main act: `ringtap bridge --both` between two
//! namespaces, with ping, UDP and VLAN-tagged frames crossing it.
//!
//! Topology (every namespace private to this process, gone when it exits):
//!
//! ```text
//!  [generator ns]              [bridge ns]                [sink ns]
//!  gen0 10.99.0.1 <-veth-> bra  ==ringtap==  brb <-veth-> sink0 10.99.0.2
//! ```

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use ringtap_tests::corpus::{build, Payload, Tag};
use ringtap_tests::linux::netdev::{self, Offload};
use ringtap_tests::{
    in_netns, ip, ringtap_bin, spawn_in_own_netns, veth_pair, Bridge, Receiver, Sender,
};

const UDP_DATAGRAMS: usize = 50;
const PINGS: u16 = 5;
const TAGGED: u32 = 30;

fn main() {
    let ran = in_netns("bridge demo", demo);
    if ran.is_none() {
        std::process::exit(1);
    }
}

/// One ICMP echo through the kernel's ping socket; returns the round trip.
fn ping(seq: u16) -> Option<Duration> {
    use rustix::net::{ipproto, AddressFamily, SocketType};
    let sock =
        rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, Some(ipproto::ICMP)).ok()?;
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(1)),
    )
    .ok()?;
    let mut echo = [0u8; 64];
    echo[0] = 8; // echo request; the kernel fills id and checksum
    echo[6..8].copy_from_slice(&seq.to_be_bytes());
    let to = std::net::SocketAddrV4::new([10, 99, 0, 2].into(), 0);
    let start = Instant::now();
    rustix::net::sendto(&sock, &echo, rustix::net::SendFlags::empty(), &to).ok()?;
    let mut reply = [0u8; 128];
    let n = rustix::net::recv(&sock, &mut reply, rustix::net::RecvFlags::empty())
        .ok()?
        .0;
    (n >= 8 && reply[0] == 0).then(|| start.elapsed())
}

fn host_stack(dev: &str, addr: &str) {
    ip(&["addr", "add", addr, "dev", dev]);
    ip(&["link", "set", dev, "up"]);
    // Like a real NIC on a wire: no frames above the MTU.
    let _ = netdev::set_offload(dev, Offload::Tso, false);
    let _ = netdev::set_offload(dev, Offload::Gso, false);
}

fn counters_line(stats: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for d in stats["directions"].as_array().into_iter().flatten() {
        parts.push(format!(
            "{} -> {}: {} rx, {} forwarded, {} dropped",
            d["in"].as_str().unwrap_or("?"),
            d["out"].as_str().unwrap_or("?"),
            d["rx_packets"],
            d["tx_packets"],
            d["dropped"]
                .as_object()
                .map(|m| m.values().filter_map(|v| v.as_u64()).sum::<u64>())
                .unwrap_or(0)
        ));
    }
    parts.join(" | ")
}

fn demo() {
    veth_pair("gen0", "bra", 1500);
    veth_pair("brb", "sink0", 1500);
    // A namespace thread that ends takes its veth end, and so the bridge's
    // port, with it: both wait for this before they return.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx2, release_rx2) = std::sync::mpsc::channel::<()>();
    let (sink_done_tx, sink_done) = std::sync::mpsc::channel();
    let (gen_done_tx, gen_done) = std::sync::mpsc::channel();

    let (sink_tid, sink_go, sink) = spawn_in_own_netns(move || {
        host_stack("sink0", "10.99.0.2/24");
        let mut raw = Receiver::open("sink0");
        let udp = UdpSocket::bind("10.99.0.2:9999").expect("bind UDP");
        udp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut got = 0;
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(6) {
            if udp.recv(&mut buf).is_ok() {
                got += 1;
            }
            raw.poll();
        }
        let _ = sink_done_tx.send((got, raw.frames));
        let _ = release_rx.recv();
    });
    let (gen_tid, gen_go, generator) = spawn_in_own_netns(move || {
        host_stack("gen0", "10.99.0.1/24");
        std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 0").expect("allow ping sockets");
        std::thread::sleep(Duration::from_millis(300));
        let mut rtts = Vec::new();
        for seq in 1..=PINGS {
            rtts.push(ping(seq));
            std::thread::sleep(Duration::from_millis(200));
        }
        let udp = UdpSocket::bind("10.99.0.1:0").unwrap();
        for i in 0..UDP_DATAGRAMS {
            udp.send_to(format!("datagram {i}").as_bytes(), "10.99.0.2:9999")
                .unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        // VLAN-tagged frames (VID 10..12, some stacked 802.1ad + 802.1Q),
        // sent raw: the bridge must deliver the tags untouched.
        let frames: Vec<Vec<u8>> = (0..TAGGED)
            .map(|i| {
                let q = Tag {
                    tpid: 0x8100,
                    pcp: (i % 8) as u8,
                    vid: 10 + (i % 3) as u16,
                };
                let tags: Vec<Tag> = if i % 5 == 4 {
                    vec![
                        Tag {
                            tpid: 0x88a8,
                            pcp: 0,
                            vid: 300,
                        },
                        q,
                    ]
                } else {
                    vec![q]
                };
                build(
                    i,
                    [0x02, 0, 0, 0, 0, 2],
                    [0x02, 0, 0, 0, 0, 1],
                    &tags,
                    Payload::Ipv4Udp,
                    200,
                )
            })
            .collect();
        Sender::open("gen0").send_paced(&frames, 5, Duration::from_millis(20));
        let _ = gen_done_tx.send(rtts);
        let _ = release_rx2.recv();
    });
    ip(&["link", "set", "gen0", "netns", &gen_tid.to_string()]);
    ip(&["link", "set", "sink0", "netns", &sink_tid.to_string()]);

    println!("topology: [gen ns] gen0 10.99.0.1 <-> bra [ringtap bridge --both] brb <-> sink0 10.99.0.2 [sink ns]");
    let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--both"]);
    println!(
        "ringtap bridge is running (pid {}); sending ping, UDP and VLAN-tagged frames\n",
        bridge.pid()
    );
    sink_go.send(()).unwrap();
    gen_go.send(()).unwrap();
    let rtts = loop {
        match gen_done.recv_timeout(Duration::from_millis(500)) {
            Ok(rtts) => break rtts,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                println!("  live counters: {}", counters_line(&bridge.stats()))
            }
            Err(_) => panic!("the generator failed"),
        }
    };
    let (udp_got, frames) = sink_done.recv().expect("the sink failed");

    println!("\ngenerator's view:");
    for (i, rtt) in rtts.iter().enumerate() {
        match rtt {
            Some(t) => println!(
                "  ping 10.99.0.2 seq {}: reply in {:.2} ms",
                i + 1,
                t.as_secs_f64() * 1e3
            ),
            None => println!("  ping 10.99.0.2 seq {}: no reply", i + 1),
        }
    }
    println!("\nsink's view (frames on sink0, tags as on the wire):");
    let mut arp = 0;
    let mut icmp = 0;
    let mut udp = 0;
    let mut tagged = std::collections::BTreeMap::new();
    for f in &frames {
        match [f[12], f[13]] {
            [0x08, 0x06] => arp += 1,
            [0x08, 0x00] if f[23] == 1 => icmp += 1,
            [0x08, 0x00] if f[23] == 17 => udp += 1,
            [0x81, 0x00] | [0x88, 0xa8] => {
                let mut vids = Vec::new();
                let mut at = 12;
                while matches!([f[at], f[at + 1]], [0x81, 0x00] | [0x88, 0xa8]) {
                    vids.push(format!(
                        "{:04x}:{}",
                        u16::from_be_bytes([f[at], f[at + 1]]),
                        u16::from_be_bytes([f[at + 2], f[at + 3]]) & 0xfff
                    ));
                    at += 4;
                }
                *tagged.entry(vids.join("/")).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    println!("  ARP frames: {arp}");
    println!("  ICMP echo frames: {icmp}");
    println!(
        "  UDP frames: {udp} (the UDP socket received {udp_got} of {UDP_DATAGRAMS} datagrams)"
    );
    for (tags, count) in &tagged {
        println!("  VLAN-tagged (TPID:VID) {tags}: {count} frames");
    }

    let stopped = bridge.stop();
    drop((release_tx, release_tx2));
    generator.join().expect("generator");
    sink.join().expect("sink");
    let path = std::env::temp_dir().join(format!("ringtap-demo-{}.json", std::process::id()));
    std::fs::write(&path, stopped.stats.to_string()).unwrap();
    println!("\nfinal counters (`ringtap stats`):");
    let out = std::process::Command::new(ringtap_bin())
        .arg("stats")
        .arg(&path)
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_file(&path);
    println!("\nringtap's log:\n{}", stopped.stderr.trim_end());
    let ok = stopped.status.success()
        && rtts.iter().all(Option::is_some)
        && udp_got == UDP_DATAGRAMS
        && tagged.values().sum::<u32>() == TAGGED;
    if ok {
        println!("\ndemo: everything crossed the bridge intact; namespaces removed.");
    } else {
        println!("\ndemo: something did not cross the bridge (see above)");
        std::process::exit(1);
    }
}
