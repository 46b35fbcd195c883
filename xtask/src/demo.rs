//! `cargo xtask demo`: build the appliance, show the ring layout it uses,
//! then run `ringtap bridge --both` between two namespaces with ping, UDP
//! and VLAN-tagged traffic crossing it.

use crate::{can_unshare_as_user, deps, is_root, target_dir, Cmd, Error, Result};

/// `cargo xtask demo --help`.
pub const ABOUT: &str = "\
Builds `ringtap` and the `bridge_demo` example (release), prints the layout
of the bridge's default TPACKET_V2 RX ring with `ringtap plan`, then runs
`bridge_demo`: a generator namespace and a sink namespace joined by
`ringtap bridge --both` in a third, with ping, UDP and VLAN-tagged frames
crossing it, the live counters, the sink's view and the final counters.
Every namespace belongs to the demo process and vanishes with it. Needs
root, or unprivileged user namespaces (it then runs under
`unshare --user --map-root-user`).";

/// `cargo xtask demo` takes no options.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The bridge's default RX ring at MTU 1500: 64 blocks of 128 KiB, 2 KiB
/// frames.
const PLAN_ARGS: [&str; 11] = [
    "plan",
    "--tpacket",
    "v2",
    "--ring",
    "rx",
    "--block-size",
    "128K",
    "--block-nr",
    "64",
    "--frame-size",
    "2048",
];

pub fn run(_: &Args) -> Result {
    banner(
        "checking tools",
        &["The demo needs `ip` (iproute2) and `unshare` (util-linux)."],
    );
    deps::ensure(&deps::FOR_DEMO)?;

    banner(
        "building",
        &["The appliance binary and the ring demo, in release mode."],
    );
    Cmd::cargo()
        .args(["build", "--release", "-p", "ringtap"])
        .run()?;
    Cmd::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "ringtap-tests",
            "--example",
            "bridge_demo",
        ])
        .run()?;
    let release = target_dir().join("release");

    banner(
        "1/2: a ring layout",
        &[
            "`ringtap plan` checks the bridge's default TPACKET_V2 RX ring against",
            "the kernel's rules and prints where every block sits in the mapping:",
            "64 blocks of 128 KiB, 4096 frames of 2 KiB, each handed over as it",
            "arrives. No socket is opened; this is what you run before deploying",
            "to a board.",
        ],
    );
    Cmd::new(release.join("ringtap")).args(PLAN_ARGS).run()?;

    banner(
        "2/2: the bridge",
        &[
            "`bridge_demo` builds gen ns <-veth-> [ringtap bridge --both] <-veth-> sink ns,",
            "pings across it, sends UDP datagrams and VLAN-tagged (also 802.1ad",
            "stacked) frames, and prints the counters and what the sink received.",
        ],
    );
    let demo = Cmd::new(release.join("examples").join("bridge_demo"))
        .env("RINGTAP_BIN", &release.join("ringtap").to_string_lossy());
    if is_root() {
        return demo.run();
    }
    match can_unshare_as_user() {
        Ok(()) => demo
            .wrapped_in(&["unshare", "--user", "--map-root-user"])
            .run(),
        Err(why) => Err(Error::Failed(format!(
            "bridge_demo needs root or unprivileged user namespaces ({why}); \
             run `cargo xtask demo` as root"
        ))),
    }
}

fn banner(title: &str, lines: &[&str]) {
    println!();
    println!("==> demo: {title}");
    for line in lines {
        println!("    {line}");
    }
}
