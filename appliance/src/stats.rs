//! The counters file that `ringtap bridge --stats-file` writes, and
//! `ringtap stats PATH`, which prints it for people.
//!
//! The file is JSON, rewritten atomically (temporary file + rename), so a
//! reader never sees half of it:
//! `{"directions":[{"in":"A","out":"B","rx_packets":..,"rx_bytes":..,
//! "tx_packets":..,"tx_bytes":..,"kernel_drops":..,"dropped":{..}}],
//! "uptime_s":..}` plus the fields below.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::Failure;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One entry per forwarding direction.
    pub directions: Vec<DirectionReport>,
    /// Seconds since forwarding started.
    pub uptime_s: f64,
    /// True in the file written at exit, after the rings were drained.
    #[serde(default, rename = "final")]
    pub final_: bool,
    /// Heap allocations made by the forwarding threads after start-up
    /// (the data path is designed to make none).
    #[serde(default)]
    pub data_path_allocations: u64,
    /// Times a port's socket was re-opened after its interface was deleted
    /// and created again.
    #[serde(default)]
    pub reopened: u64,
}

/// The counters of one direction, summed over its workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionReport {
    /// Ingress interface.
    #[serde(rename = "in")]
    pub in_port: String,
    /// Egress interface.
    pub out: String,
    /// Frames taken from the RX rings.
    pub rx_packets: u64,
    /// Their bytes, as on the wire (VLAN tag included).
    pub rx_bytes: u64,
    /// Frames the kernel took from the TX rings.
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Frames the kernel offered to the sockets (`tp_packets`), drops included.
    #[serde(default)]
    pub kernel_packets: u64,
    /// Frames the kernel dropped because an RX ring was full (`tp_drops`).
    pub kernel_drops: u64,
    /// Frames the `--filter` program rejected (not forwarded on purpose).
    #[serde(default)]
    pub filtered: u64,
    /// Frames whose TCP/UDP checksum was completed (the kernel handed them
    /// over with `TP_STATUS_CSUMNOTREADY`).
    #[serde(default)]
    pub checksums_completed: u64,
    /// Frames not forwarded, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// The mirror port's counters, with `--mirror`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorReport>,
    /// Fanout members (threads) of this direction.
    #[serde(default)]
    pub workers: u32,
    /// Frames each worker took from its RX ring (how the fanout group
    /// spread the load).
    #[serde(default)]
    pub worker_rx_packets: Vec<u64>,
}

/// What the mirror port was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorReport {
    /// The mirror interface.
    pub out: String,
    /// Copies the kernel took from the mirror TX rings.
    pub tx_packets: u64,
    /// Copies not sent, by reason.
    pub dropped: BTreeMap<String, u64>,
}

impl DirectionReport {
    /// Frames the kernel saw for this direction's sockets that no counter
    /// explains: 0 when the accounting holds
    /// (`kernel_packets = tx_packets + filtered + dropped + kernel_drops`).
    pub fn unaccounted(&self) -> i128 {
        let dropped: u64 = self.dropped.values().sum();
        i128::from(self.kernel_packets)
            - i128::from(self.tx_packets)
            - i128::from(self.filtered)
            - i128::from(dropped)
            - i128::from(self.kernel_drops)
    }
}

impl Report {
    /// One line for a service manager's `STATUS=`: per direction, frames
    /// forwarded and dropped.
    pub fn status_line(&self) -> String {
        let parts: Vec<String> = self
            .directions
            .iter()
            .map(|d| {
                let dropped: u64 = d.dropped.values().sum::<u64>() + d.kernel_drops;
                format!(
                    "{} -> {}: {} forwarded, {} dropped",
                    d.in_port, d.out, d.tx_packets, dropped
                )
            })
            .collect();
        parts.join("; ")
    }

    /// JSON text for the stats file.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The counters for people: one block per direction.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let state = if self.final_ { "final" } else { "running" };
        let _ = writeln!(out, "uptime {:.1} s ({state})", self.uptime_s);
        for d in &self.directions {
            let _ = writeln!(
                out,
                "{} -> {} ({} worker{})",
                d.in_port,
                d.out,
                d.workers,
                if d.workers == 1 { "" } else { "s" }
            );
            let _ = writeln!(
                out,
                "  received   {:>14} frames {:>16} bytes",
                d.rx_packets, d.rx_bytes
            );
            let _ = writeln!(
                out,
                "  forwarded  {:>14} frames {:>16} bytes",
                d.tx_packets, d.tx_bytes
            );
            let _ = writeln!(out, "  filtered   {:>14}", d.filtered);
            let _ = writeln!(
                out,
                "  kernel     {:>14} seen, {} dropped (ring full)",
                d.kernel_packets, d.kernel_drops
            );
            for (reason, n) in &d.dropped {
                let _ = writeln!(out, "  dropped    {n:>14} {reason}");
            }
            if let Some(m) = &d.mirror {
                let _ = writeln!(out, "  mirror {}: {} sent", m.out, m.tx_packets);
                for (reason, n) in m.dropped.iter().filter(|(_, n)| **n > 0) {
                    let _ = writeln!(out, "    not mirrored {n} {reason}");
                }
            }
            let gap = d.unaccounted();
            if self.final_ && gap != 0 {
                let _ = writeln!(out, "  UNACCOUNTED {gap} frames");
            }
        }
        if self.reopened > 0 {
            let _ = writeln!(
                out,
                "sockets re-opened after an interface came back: {}",
                self.reopened
            );
        }
        out
    }

    /// Write the file atomically: a temporary file next to it, then rename.
    pub fn write_atomically(&self, path: &Path) -> std::io::Result<()> {
        let mut text = self.to_json();
        text.push('\n');
        write_text_atomically(path, &text)
    }
}

/// Write `text` to `path` through a temporary file beside it and a rename.
pub fn write_text_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = PathBuf::from(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stats".to_owned());
    tmp.set_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Options of `ringtap stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// A file written by `ringtap bridge --stats-file`
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Print the JSON as it is instead
    #[arg(long)]
    pub json: bool,
}

/// `ringtap stats PATH`.
pub fn run(args: &StatsArgs) -> Result<String, Failure> {
    let path = args.path.display();
    let text = std::fs::read_to_string(&args.path)
        .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{path} is not a ringtap stats file: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if args.json {
        return Ok(text);
    }
    Ok(report.render())
}

#[cfg(test)]
mod test {
    use super::*;

    fn sample() -> Report {
        let mut dropped = BTreeMap::new();
        dropped.insert("oversize".to_owned(), 2);
        dropped.insert("tx_ring_full".to_owned(), 1);
        Report {
            directions: vec![DirectionReport {
                in_port: "a".into(),
                out: "b".into(),
                rx_packets: 10,
                rx_bytes: 1000,
                tx_packets: 6,
                tx_bytes: 600,
                kernel_packets: 12,
                kernel_drops: 2,
                filtered: 1,
                checksums_completed: 0,
                dropped,
                mirror: None,
                workers: 1,
                worker_rx_packets: vec![10],
            }],
            uptime_s: 1.5,
            final_: true,
            data_path_allocations: 0,
            reopened: 0,
        }
    }

    #[test]
    fn test_json_round_trip_and_field_names() {
        let r = sample();
        let json = r.to_json();
        for field in [
            "\"directions\"",
            "\"in\":\"a\"",
            "\"out\":\"b\"",
            "\"rx_packets\":10",
            "\"rx_bytes\":1000",
            "\"tx_packets\":6",
            "\"tx_bytes\":600",
            "\"kernel_drops\":2",
            "\"dropped\":{\"oversize\":2,\"tx_ring_full\":1}",
            "\"uptime_s\":1.5",
        ] {
            assert!(json.contains(field), "{field} missing from {json}");
        }
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn test_accounting_gap() {
        let mut r = sample();
        assert_eq!(r.directions[0].unaccounted(), 0);
        assert!(!r.render().contains("UNACCOUNTED"));
        r.directions[0].kernel_packets += 3;
        assert_eq!(r.directions[0].unaccounted(), 3);
        assert!(r.render().contains("UNACCOUNTED 3 frames"));
    }

    #[test]
    fn test_bad_file_is_a_usage_error() {
        let dir = std::env::temp_dir().join(format!("ringtap-stats-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(&path, "{\"directions\": 3}").unwrap();
        let e = run(&StatsArgs {
            path: path.clone(),
            json: false,
        })
        .unwrap_err();
        assert!(
            matches!(&e, Failure::Usage(m) if m.contains("not a ringtap stats file")),
            "{e:?}"
        );
        let missing = dir.join("missing.json");
        assert!(matches!(
            run(&StatsArgs {
                path: missing,
                json: false
            }),
            Err(Failure::Usage(_))
        ));
        sample().write_atomically(&path).unwrap();
        let text = run(&StatsArgs { path, json: false }).unwrap();
        assert!(text.contains("a -> b (1 worker)"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
