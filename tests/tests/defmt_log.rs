//! `ringtap` built with `--features defmt` logs defmt frames on stderr that
//! `defmt-print -e <the binary>` decodes back into the messages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ringtap_tests::{in_netns, netns_required, veth_pair};

/// `defmt-print` on `PATH` or where `cargo install` puts it.
fn defmt_print() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    std::env::split_paths(&path)
        .chain(cargo_home.map(|h| h.join("bin")))
        .map(|dir| dir.join("defmt-print"))
        .find(|p| p.is_file())
}

/// The release `ringtap` with the `defmt` feature, built into a target
/// directory of its own (the default build's binary, which other tests run
/// meanwhile, stays as it is).
fn build_defmt_ringtap() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let target = root.join("target").join("tests-bin-defmt");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "ringtap",
            "--features",
            "defmt",
            "--target-dir",
        ])
        .arg(&target)
        // The build script's default filter (info) is what is tested.
        .env_remove("DEFMT_LOG")
        .current_dir(root)
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release -p ringtap --features defmt failed"
    );
    target.join("release").join("ringtap")
}

/// Feeds `frames` to `defmt-print -e elf` and returns what it printed.
fn decode(defmt_print: &Path, elf: &Path, frames: &[u8]) -> String {
    let mut child = Command::new(defmt_print)
        .arg("-e")
        .arg(elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start defmt-print");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(frames)
        .expect("feed defmt-print");
    let out = child.wait_with_output().expect("defmt-print");
    assert!(
        out.status.success(),
        "defmt-print failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("defmt-print prints UTF-8")
}

#[test]
fn defmt_build_logs_frames_that_defmt_print_decodes() {
    let Some(defmt_print) = defmt_print() else {
        let why = "defmt_log: defmt-print not found on PATH or in $CARGO_HOME/bin (~/.cargo/bin) \
                   (cargo xtask deps installs it: cargo install --locked defmt-print@^1)";
        assert!(!netns_required(), "{why} (RINGTAP_REQUIRE_NETNS=1)");
        println!("SKIPPED {why}");
        return;
    };
    let bin = build_defmt_ringtap();
    let Some(out) = in_netns("defmt_log", || {
        veth_pair("dfa", "dfb", 1500);
        // GRO on the ingress port: one warning besides the `bridging` line.
        let gro = Command::new("ethtool")
            .args(["-K", "dfa", "gro", "on"])
            .status()
            .expect("run ethtool (install ethtool)");
        assert!(gro.success(), "ethtool -K dfa gro on failed");
        Command::new(&bin)
            .args(["bridge", "--in", "dfa", "--out", "dfb", "--duration", "0.3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .expect("run ringtap")
    }) else {
        return;
    };
    assert!(
        out.status.success(),
        "ringtap bridge failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stderr.starts_with(b"ringtap:"),
        "stderr holds text lines, not defmt frames: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = decode(&defmt_print, &bin, &out.stderr);
    let bridging = text
        .lines()
        .find(|l| l.contains("bridging dfa -> dfb; 1 worker(s) per direction"))
        .unwrap_or_else(|| panic!("no `bridging` message in the decoded log:\n{text}"));
    // `<seconds>.<microseconds> INFO  <message>`: the level and the
    // monotonic timestamp came through too.
    let (stamp, rest) = bridging.split_once(' ').expect("timestamp");
    let (secs, micros) = stamp.split_once('.').expect("seconds.micros");
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6 && micros.parse::<u32>().is_ok(),
        "not a timestamp: {bridging}"
    );
    assert!(rest.starts_with("INFO "), "not an INFO message: {bridging}");
    assert!(
        text.lines()
            .any(|l| l.contains("WARN ") && l.contains("Gro is on for dfa")),
        "no warning about GRO in the decoded log:\n{text}"
    );
}
