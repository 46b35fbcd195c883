//! `cargo xtask demo`: build the appliance and the ring demo, then show a
//! ring layout and real frames crossing a TX ring into an RX ring.

use crate::{can_unshare_as_user, deps, is_root, target_dir, Cmd, Error, Result};

const HELP: &str = "\
Usage: cargo xtask demo

Builds `ringtap` and the `ring_demo` example (release), prints the layout of
the default TPACKET_V3 RX ring with `ringtap plan`, then runs `ring_demo`,
which sends frames through a TX ring over a veth pair in its own network
namespace and shows them arriving in an RX ring. Needs root, or unprivileged
user namespaces (it then runs under `unshare --user --map-root-user`).
";

/// The built-in default geometry: 16 blocks of 128 KiB, 2 KiB frames.
const PLAN_ARGS: [&str; 13] = [
    "plan",
    "--tpacket",
    "v3",
    "--ring",
    "rx",
    "--block-size",
    "131072",
    "--block-nr",
    "16",
    "--frame-size",
    "2048",
    "--frame-nr",
    "1024",
];

pub fn run(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            print!("{HELP}");
            return Ok(());
        }
        Some(other) => {
            return Err(Error::Usage(format!(
                "unexpected argument `{other}` for `cargo xtask demo`"
            )))
        }
    }

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
            "ring_demo",
        ])
        .run()?;
    let release = target_dir().join("release");

    banner(
        "1/2: a ring layout",
        &[
            "`ringtap plan` checks a TPACKET_V3 RX ring request against the kernel's",
            "rules and prints where every block and frame sits in the mapping:",
            "16 blocks of 128 KiB, 64 frames of 2 KiB each, 2 MiB mapped.",
            "No socket is opened; this is what you run before deploying to a board.",
        ],
    );
    Cmd::new(release.join("ringtap")).args(PLAN_ARGS).run()?;

    banner(
        "2/2: frames through the rings",
        &[
            "`ring_demo` makes its own network namespace with a veth pair, writes",
            "frames into a TX ring on one end and shows them arriving, slot by slot,",
            "in an RX ring on the other.",
        ],
    );
    let ring_demo = Cmd::new(release.join("examples").join("ring_demo"));
    if is_root() {
        return ring_demo.run();
    }
    match can_unshare_as_user() {
        Ok(()) => ring_demo
            .wrapped_in(&["unshare", "--user", "--map-root-user"])
            .run(),
        Err(why) => Err(Error::Failed(format!(
            "ring_demo needs root or unprivileged user namespaces ({why}); \
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
