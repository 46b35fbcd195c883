//! `ringtap stats` reads every stats file ringtap writes, and no file can
//! make it hang, wrap a sum around, or write control characters to the
//! terminal (issue 12).

use std::path::Path;
use std::time::Duration;

use ringtap_tests::tools::{mkfifo, run_ringtap, Scratch};
use ringtap_tests::{in_netns, veth_pair};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The bridge's and capture's own stats files, as they write them: each
/// names its schema, and `ringtap stats` prints either.
#[test]
fn stats_reads_what_bridge_and_capture_write() {
    in_netns("stats of bridge and capture", || {
        veth_pair("gen0", "cap0", 1500);
        veth_pair("a0", "a1", 1500);
        veth_pair("b0", "b1", 1500);
        let scratch = Scratch::new("stats-files");
        let capture_stats = scratch.path("capture.json");
        let bridge_stats = scratch.path("bridge.json");
        let capture_file = scratch.path("cap.pcapng");
        let runs: [(&[&str], &Path, &str, &str); 2] = [
            (
                &[
                    "capture",
                    "--in",
                    "cap0",
                    "--duration",
                    "0.5",
                    "--write",
                    path_str(&capture_file),
                    "--stats-file",
                    path_str(&capture_stats),
                ],
                &capture_stats,
                "ringtap-capture/1",
                "capture on cap0, uptime",
            ),
            (
                &[
                    "bridge",
                    "--in",
                    "a0",
                    "--out",
                    "b0",
                    "--duration",
                    "0.5",
                    "--stats-file",
                    path_str(&bridge_stats),
                ],
                &bridge_stats,
                "ringtap-bridge/1",
                "a0 -> b0 (1 worker)",
            ),
        ];
        for (args, file, schema, says) in runs {
            let ran = run_ringtap(&scratch, args, Duration::from_secs(10));
            assert_eq!(ran.code(), Some(0), "{args:?}: {}", ran.stderr);
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert_eq!(json["schema"], schema, "{json}");
            let shown = run_ringtap(
                &scratch,
                &["stats", path_str(file)],
                Duration::from_secs(10),
            );
            assert_eq!(
                shown.code(),
                Some(0),
                "{}: {}",
                file.display(),
                shown.stderr
            );
            assert!(shown.stdout.contains(says), "{}", shown.stdout);
            assert!(shown.stdout.contains("(final)"), "{}", shown.stdout);
        }
    });
}

const BRIDGE_SUMS: &str = r#"{"schema":"ringtap-bridge/1","directions":[{"in":"a","out":"b",
"rx_packets":4,"rx_bytes":400,"tx_packets":0,"tx_bytes":0,"kernel_packets":4,"kernel_drops":0,
"dropped":{"oversize":18446744073709551615,"tx_ring_full":5},"workers":1}],
"uptime_s":1.0,"final":true}"#;

const BRIDGE_NAMES: &str = r#"{"schema":"ringtap-bridge/1","directions":[{"in":"a\u001b]0;owned\u0007",
"out":"b\u001b[2J","rx_packets":0,"rx_bytes":0,"tx_packets":0,"tx_bytes":0,"kernel_packets":0,
"kernel_drops":0,"dropped":{"x\u001b[31m":0},"workers":1}],"uptime_s":1.0,"final":true}"#;

const CAPTURE_SUMS: &str = r#"{"schema":"ringtap-capture/1","interface":"c\u009b2J","captured":1,
"bytes":60,"written":1,"cut_to_fit":0,"kernel_packets":1,"kernel_drops":10,
"drops_attached":18446744073709551615,"drops_after_last_frame":11,"loss":[],
"files":["f\r"],"write_error":"No space left on device","final":true,"uptime_s":1.0}"#;

const FUTURE: &str = r#"{"schema":"ringtap-bridge/9","directions":[],"uptime_s":1.0}"#;

/// Files no ringtap wrote, or that try their luck: sums near u64::MAX
/// that would wrap around into agreement, names full of terminal control
/// sequences, a schema from the future, a FIFO (nobody writes to it), a
/// directory, a file too large.
#[test]
fn stats_of_hostile_files() {
    let scratch = Scratch::new("stats-hostile");
    let fifo = scratch.path("fifo");
    mkfifo(&fifo);
    let mut huge = BRIDGE_SUMS.to_owned();
    huge.push_str(&" ".repeat(17 << 20));
    // (what, the file's contents (None: the path is made otherwise), exit
    // status, words on stdout (0) or stderr (2), words that must not show)
    let cases: Vec<(&str, Option<String>, i32, &str, &str)> = vec![
        (
            "sums near u64::MAX",
            Some(BRIDGE_SUMS.into()),
            0,
            "UNACCOUNTED -18446744073709551616 frames",
            "",
        ),
        (
            "control characters in names",
            Some(BRIDGE_NAMES.into()),
            0,
            "a\\u{1b}]0;owned\\u{7} -> b\\u{1b}[2J",
            "\u{1b}",
        ),
        (
            "capture's file with sums that do not hold",
            Some(CAPTURE_SUMS.into()),
            0,
            "INCONSISTENT: drops attached to frames (18446744073709551615) + after the last \
             frame (11) != kernel drops (10)",
            "\u{9b}",
        ),
        (
            "a schema from the future",
            Some(FUTURE.into()),
            2,
            "schema \"ringtap-bridge/9\" is not one this ringtap reads",
            "",
        ),
        ("a FIFO", None, 2, "it is a FIFO, not a regular file", ""),
        (
            "a directory",
            None,
            2,
            "it is a directory, not a regular file",
            "",
        ),
        (
            "a file of 17 MiB",
            Some(huge),
            2,
            "larger than 16777216 bytes",
            "",
        ),
    ];
    for (what, contents, code, says, never) in cases {
        let path = match (what, contents) {
            ("a FIFO", _) => fifo.clone(),
            ("a directory", _) => scratch.dir.clone(),
            (_, Some(text)) => {
                let p = scratch.path("stats.json");
                std::fs::write(&p, text).unwrap();
                p
            }
            (_, None) => unreachable!("{what}: no contents"),
        };
        let ran = run_ringtap(
            &scratch,
            &["stats", path_str(&path)],
            Duration::from_secs(10),
        );
        assert_eq!(
            ran.code(),
            Some(code),
            "{what}: {}{}",
            ran.stdout,
            ran.stderr
        );
        let out = if code == 0 { &ran.stdout } else { &ran.stderr };
        assert!(out.contains(says), "{what}: {out}");
        if !never.is_empty() {
            assert!(!ran.stdout.contains(never), "{what}: {:?}", ran.stdout);
        }
    }
}
