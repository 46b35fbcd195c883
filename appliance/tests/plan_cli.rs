//! `ringtap plan` as a user runs it: the built binary, its exit status, and
//! what it prints on stdout and stderr.

use std::process::{Command, Output};

mod common;

use common::{ringtap, text};

/// `ringtap plan` with the page size and word size fixed, so the answer does
/// not depend on the machine running the test.
fn plan(args: &str) -> Output {
    let mut argv = vec!["plan", "--page-size", "4096", "--kernel-word", "64"];
    argv.extend(args.split_whitespace());
    ringtap(&argv)
}

#[test]
fn valid_v3_rx_ring() {
    let out = plan("--tpacket v3 --ring rx --block-size 128K --block-nr 16 --frame-size 2048");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("PACKET_RX_RING, TPACKET_V3"), "{stdout}");
    assert!(
        stdout.contains("1024 (computed) x 2048 bytes, 64 per block"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mapping     2097152 bytes (2 MiB)"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn system_defaults_are_read_or_announced() {
    // No --page-size / --kernel-word: the running system's values, with
    // where they came from.
    let out = ringtap(&[
        "plan",
        "--tpacket",
        "v1",
        "--ring",
        "tx",
        "--block-size",
        "64K",
        "--block-nr",
        "2",
        "--frame-size",
        "2K",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("(page size 4096, AT_PAGESZ of the running kernel)")
            || stdout.contains(", AT_PAGESZ of the running kernel)"),
        "{stdout}"
    );
    let v1 = stdout
        .lines()
        .find(|l| l.starts_with("V1 header   laid out for a"))
        .unwrap_or_else(|| panic!("no V1 header line in {stdout}"));
    // The kernel's own answer with CAP_NET_RAW, else its machine name,
    // else a guess that says so.
    assert!(
        v1.ends_with("kernel (PACKET_HDRLEN of the running kernel)")
            || v1.ends_with(" in /proc/sys/kernel/arch)")
            || v1.contains("kernel (assumed from this build: "),
        "{v1}"
    );
}

#[test]
fn every_rule_exits_2_and_names_itself() {
    // The geometries of core/src/geometry.rs `test_each_rule`.
    let cases: &[(&str, &str, &str)] = &[
        (
            "--tpacket v2 --ring rx --block-size 0 --block-nr 1 --frame-size 2048 --frame-nr 2",
            "block-size-positive",
            "--block-size",
        ),
        (
            "--tpacket v2 --ring rx --block-size 0x80000000 --block-nr 1 --frame-size 2048 \
             --frame-nr 2",
            "block-size-positive",
            "--block-size",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4095 --block-nr 1 --frame-size 2048 --frame-nr 1",
            "block-size-page-aligned",
            "--block-size",
        ),
        (
            "--tpacket v3 --ring rx --block-size 4096 --block-nr 1 --frame-size 2048 \
             --frame-nr 2 --sizeof-priv 3981",
            "v3-block-holds-header-priv-frame",
            "--sizeof-priv",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 48 --frame-nr 85",
            "frame-size-min",
            "--frame-size",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 72 --frame-nr 56",
            "frame-size-aligned",
            "--frame-size",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 8192 --frame-nr 0",
            "frames-per-block-nonzero",
            "--frame-size",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 0x20000000 --frame-size 64 \
             --frame-nr 0",
            "frame-count-overflow",
            "--block-nr",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 2 --frame-size 2048 --frame-nr 3",
            "frame-nr-matches",
            "--frame-nr",
        ),
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 0 --frame-size 2048 --frame-nr 3",
            "no-frames-without-blocks",
            "--frame-nr",
        ),
        (
            "--tpacket v3 --ring tx --block-size 4096 --block-nr 1 --frame-size 2048 \
             --frame-nr 2 --retire-tov 10",
            "v3-tx-no-retire-timeout",
            "--retire-tov",
        ),
        (
            "--tpacket v3 --ring tx --block-size 4096 --block-nr 1 --frame-size 2048 \
             --frame-nr 2 --sizeof-priv 16",
            "v3-tx-no-private-area",
            "--sizeof-priv",
        ),
        (
            "--tpacket v3 --ring tx --block-size 4096 --block-nr 1 --frame-size 2048 \
             --frame-nr 2 --feature-req 1",
            "v3-tx-no-feature-word",
            "--feature-req",
        ),
        // PACKET_RESERVE above INT_MAX: setsockopt refuses it, even with a
        // request that frees the ring.
        (
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 2048 \
             --reserve 2147483648",
            "reserve-max",
            "--reserve",
        ),
        (
            "--tpacket v3 --ring rx --block-size 4096 --block-nr 0 --frame-size 2048 \
             --frame-nr 0 --reserve 0xffffffff",
            "reserve-max",
            "--reserve",
        ),
    ];
    for (args, rule, option) in cases {
        let out = plan(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args}: {stderr}");
        assert!(
            stderr.starts_with("ringtap plan: the kernel would refuse this ring: "),
            "{args}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("[rule: {rule}]")),
            "{args}: {stderr}"
        );
        assert!(stderr.contains(option), "{args}: {stderr}");
        assert!(out.stdout.is_empty(), "{args}");
    }
}

#[test]
fn calculator_documented_example() {
    let out = ringtap(&[
        "plan",
        "--calculator",
        "--size-max",
        "131072",
        "--pointer-size",
        "4",
        "--page-size",
        "4096",
        "--max-order",
        "11",
        "--frame-size",
        "2048",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
block number  32768 blocks (size-max 131072 / pointer size 4)
block size    8388608 bytes = 8 MiB (page size 4096 << max order 11)
max buffer    274877906944 bytes = 262144 MiB (block number x block size)
max frames    134217728 frames of 2048 bytes
"
    );
}

#[test]
fn calculator_missing_option_is_a_usage_error() {
    let out = ringtap(&[
        "plan",
        "--calculator",
        "--size-max",
        "131072",
        "--frame-size",
        "2048",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--pointer-size"), "{stderr}");
}

#[test]
fn bad_number_names_the_option() {
    let out = plan("--tpacket v3 --ring rx --block-size 12Q --block-nr 16 --frame-size 2048");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "ringtap plan: --block-size: '12Q' is not a size (use 4096, 0x1000, 128K, 2M)\n"
    );
    let out = plan("--tpacket v3 --ring rx --block-size 128K --block-nr -1 --frame-size 2048");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "ringtap plan: --block-nr: '-1' is not a number (use 16 or 0x10)\n"
    );
}

#[test]
fn version_and_help() {
    let out = ringtap(&["-V"]);
    assert_eq!(out.status.code(), Some(0));
    let first = format!("ringtap {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(text(&out.stdout), first);
    // `--version` adds the commit, the target and the features.
    let out = ringtap(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(format!("{}\n", lines[0]), first);
    // Built in a git checkout: its HEAD.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run git");
    assert_eq!(lines[1], format!("commit:   {}", text(&head.stdout).trim()));
    let target = lines[2].strip_prefix("target:   ").expect("a target line");
    assert!(
        target.starts_with(std::env::consts::ARCH) && target.contains("-linux-"),
        "{stdout}"
    );
    let features = if cfg!(feature = "defmt") {
        "defmt"
    } else {
        "none"
    };
    assert_eq!(lines[3], format!("features: {features}"));
    let out = ringtap(&["plan", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--calculator"));
    // No mode is a usage error.
    assert_eq!(ringtap(&[]).status.code(), Some(2));
}

#[test]
fn closed_stdout_is_an_error() {
    // The Rust runtime opens /dev/null in place of a closed fd 1, where
    // the plan would vanish; ringtap notices the fd was closed.
    let out = Command::new("sh")
        .args(["-c", "exec \"$@\" >&-", "sh"])
        .arg(env!("CARGO_BIN_EXE_ringtap"))
        .args(["plan", "--page-size", "4096", "--kernel-word", "64"])
        .args(["--tpacket", "v3", "--ring", "rx", "--block-size", "128K"])
        .args(["--block-nr", "16", "--frame-size", "2048"])
        .output()
        .expect("run the ringtap binary");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("ringtap plan: standard output is closed"),
        "{stderr}"
    );
    assert!(stderr.contains("PACKET_RX_RING, TPACKET_V3"), "{stderr}");
}
