//! The counters files that `ringtap bridge --stats-file` and `ringtap
//! capture --stats-file` write, and `ringtap stats PATH`, which prints
//! either for people.
//!
//! The files are JSON, rewritten atomically ([`crate::files`]: a temporary
//! file beside them, then a rename), so a reader never sees half of one.
//! Each starts with `"schema"`: [`BRIDGE_SCHEMA`] (`{"schema":..,
//! "directions":[{"in":"A","out":"B","rx_packets":..,"rx_bytes":..,
//! "tx_packets":..,"tx_bytes":..,"kernel_drops":..,"dropped":{..}}],
//! "uptime_s":..}` plus the fields below) or [`CAPTURE_SCHEMA`]
//! ([`CaptureReport`]). The part after the slash changes when a field
//! changes meaning or goes away; new fields do not change it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::files::{FileError, FileMode, Target};
use crate::Failure;

/// `"schema"` of the bridge's stats file.
pub const BRIDGE_SCHEMA: &str = "ringtap-bridge/1";
/// `"schema"` of capture's stats file.
pub const CAPTURE_SCHEMA: &str = "ringtap-capture/1";
/// The longest stats file `ringtap stats` reads (capture's, with 4096 loss
/// positions and many rotated files, is well under 1 MiB).
const MAX_STATS_BYTES: u64 = 16 << 20;

/// A report with its schema in front, as the files hold it.
#[derive(Serialize)]
struct WithSchema<'a, T: Serialize> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a T,
}

/// JSON text of `report` under `schema`, newline-terminated.
fn json<T: Serialize>(schema: &'static str, report: &T) -> String {
    // Plain structs of numbers and strings always serialise.
    let mut text = serde_json::to_string(&WithSchema { schema, report }).unwrap_or_default();
    text.push('\n');
    text
}

/// `text` for a terminal: control and other non-printing characters
/// escaped (a name in a stats file is not trusted to be printable).
pub fn escaped(text: &str) -> String {
    text.escape_debug().to_string()
}

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
    /// Summed in 128 bits: counters near `u64::MAX` cannot wrap around.
    pub fn unaccounted(&self) -> i128 {
        let dropped: i128 = self.dropped.values().map(|&n| i128::from(n)).sum();
        i128::from(self.kernel_packets)
            - i128::from(self.tx_packets)
            - i128::from(self.filtered)
            - dropped
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
        json(BRIDGE_SCHEMA, self)
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
                escaped(&d.in_port),
                escaped(&d.out),
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
                let _ = writeln!(out, "  dropped    {n:>14} {}", escaped(reason));
            }
            if let Some(m) = &d.mirror {
                let _ = writeln!(out, "  mirror {}: {} sent", escaped(&m.out), m.tx_packets);
                for (reason, n) in m.dropped.iter().filter(|(_, n)| **n > 0) {
                    let _ = writeln!(out, "    not mirrored {n} {}", escaped(reason));
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
}

/// Where capture lost frames: `lost` frames before frame number
/// `before_frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    /// The frame (counted from 1) that carries the drop count.
    pub before_frame: u64,
    /// Frames the kernel dropped before it.
    pub lost: u64,
}

/// Capture's stats file ([`CAPTURE_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureReport {
    /// The interface captured.
    pub interface: String,
    /// Frames taken from the ring.
    pub captured: u64,
    /// Their captured bytes.
    pub bytes: u64,
    /// Of the frames taken, those in the files (all of them unless a
    /// write failed).
    pub written: u64,
    /// Frames written shorter than captured so the file stays within
    /// `--rotate-size`.
    pub cut_to_fit: u64,
    /// Frames the kernel offered the socket (`tp_packets`), drops included.
    pub kernel_packets: u64,
    /// Of those, dropped because the ring was full (`tp_drops`).
    pub kernel_drops: u64,
    /// Drops written into the files as a frame's `epb_dropcount`.
    pub drops_attached: u64,
    /// Drops after the last frame written (in the final statistics block).
    pub drops_after_last_frame: u64,
    /// Where frames were lost (the first 4096 places).
    pub loss: Vec<Loss>,
    /// The files written, oldest first.
    pub files: Vec<String>,
    /// The write error that stopped the capture, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_error: Option<String>,
    /// True in the file written at exit.
    #[serde(rename = "final")]
    pub final_: bool,
    /// Seconds since the capture started.
    pub uptime_s: f64,
}

/// Loss places `render` lists.
const LISTED_LOSSES: usize = 20;

impl CaptureReport {
    /// JSON text for the stats file.
    pub fn to_json(&self) -> String {
        json(CAPTURE_SCHEMA, self)
    }

    /// Write the file atomically ([`Target::replace_with`]).
    pub fn write_to(&self, target: &Target, mode: FileMode) -> Result<(), FileError> {
        target.replace_with(self.to_json().as_bytes(), mode)
    }

    /// Sums that do not hold (in 128 bits: no wrap-around), in words.
    pub fn inconsistencies(&self) -> Vec<String> {
        let n = u128::from;
        let mut bad = Vec::new();
        if n(self.drops_attached) + n(self.drops_after_last_frame) != n(self.kernel_drops) {
            bad.push(format!(
                "drops attached to frames ({}) + after the last frame ({}) != kernel drops ({})",
                self.drops_attached, self.drops_after_last_frame, self.kernel_drops
            ));
        }
        if self.written > self.captured {
            bad.push(format!(
                "frames written ({}) > frames captured ({})",
                self.written, self.captured
            ));
        }
        if self.final_ && n(self.captured) + n(self.kernel_drops) > n(self.kernel_packets) {
            bad.push(format!(
                "captured ({}) + kernel drops ({}) > frames the kernel saw ({})",
                self.captured, self.kernel_drops, self.kernel_packets
            ));
        }
        bad
    }

    /// The counters for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let state = if self.final_ { "final" } else { "running" };
        let _ = writeln!(
            out,
            "capture on {}, uptime {:.1} s ({state})",
            escaped(&self.interface),
            self.uptime_s
        );
        let _ = writeln!(
            out,
            "  captured   {:>14} frames {:>16} bytes",
            self.captured, self.bytes
        );
        let _ = writeln!(out, "  in files   {:>14} frames", self.written);
        if self.cut_to_fit > 0 {
            let _ = writeln!(
                out,
                "  cut        {:>14} frames, to fit --rotate-size",
                self.cut_to_fit
            );
        }
        let _ = writeln!(
            out,
            "  kernel     {:>14} seen, {} dropped (ring full)",
            self.kernel_packets, self.kernel_drops
        );
        for l in self.loss.iter().take(LISTED_LOSSES) {
            let _ = writeln!(
                out,
                "  lost       {:>14} before frame #{}",
                l.lost, l.before_frame
            );
        }
        if self.loss.len() > LISTED_LOSSES {
            let _ = writeln!(
                out,
                "  ... and {} more places (--json lists them)",
                self.loss.len() - LISTED_LOSSES
            );
        }
        if self.drops_after_last_frame > 0 {
            let _ = writeln!(
                out,
                "  lost       {:>14} after the last frame",
                self.drops_after_last_frame
            );
        }
        for f in &self.files {
            let _ = writeln!(out, "  file       {}", escaped(f));
        }
        if let Some(e) = &self.write_error {
            let _ = writeln!(out, "  STOPPED by a write error: {}", escaped(e));
        }
        for bad in self.inconsistencies() {
            let _ = writeln!(out, "  INCONSISTENT: {bad}");
        }
        out
    }
}

/// Options of `ringtap stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// A file written by `ringtap bridge --stats-file` or `ringtap capture --stats-file`
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Print the JSON as it is instead
    #[arg(long)]
    pub json: bool,
}

/// Just the schema, to know how to read the rest.
#[derive(Deserialize)]
struct Schema {
    #[serde(default)]
    schema: Option<String>,
}

/// `ringtap stats PATH`.
pub fn run(args: &StatsArgs) -> Result<String, Failure> {
    let path = args.path.display();
    let text = crate::files::read_text(&args.path, MAX_STATS_BYTES)
        .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
    let not_stats = |e: serde_json::Error| {
        Failure::Usage(format!(
            "{path} is not a ringtap stats file: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    };
    let schema = serde_json::from_str::<Schema>(&text)
        .map_err(not_stats)?
        .schema;
    // A file without a schema comes from a ringtap before schemas, which
    // wrote only the bridge's.
    let rendered = match schema.as_deref() {
        None | Some(BRIDGE_SCHEMA) => serde_json::from_str::<Report>(&text)
            .map_err(not_stats)?
            .render(),
        Some(CAPTURE_SCHEMA) => serde_json::from_str::<CaptureReport>(&text)
            .map_err(not_stats)?
            .render(),
        Some(other) => {
            return Err(Failure::Usage(format!(
                "{path}: schema \"{}\" is not one this ringtap reads ({BRIDGE_SCHEMA}, \
                 {CAPTURE_SCHEMA}); a newer ringtap wrote it?",
                escaped(other)
            )))
        }
    };
    if args.json {
        return Ok(text);
    }
    Ok(rendered)
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
        assert!(
            json.starts_with("{\"schema\":\"ringtap-bridge/1\","),
            "{json}"
        );
        assert!(json.ends_with("}\n"), "{json}");
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
        // Counters near u64::MAX: the sums must not wrap around to 0.
        let d = &mut r.directions[0];
        d.kernel_packets = 4;
        d.tx_packets = 0;
        d.filtered = 0;
        d.kernel_drops = 0;
        d.dropped.insert("oversize".into(), u64::MAX);
        d.dropped.insert("tx_ring_full".into(), 5);
        let expected = 4 - i128::from(u64::MAX) - 5;
        assert_eq!(d.unaccounted(), expected);
        assert!(
            r.render()
                .contains(&format!("UNACCOUNTED {expected} frames")),
            "{}",
            r.render()
        );
    }

    #[test]
    fn test_names_printed_escaped() {
        let mut r = sample();
        r.directions[0].in_port = "a\u{1b}]0;owned\u{7}".into();
        r.directions[0].dropped.insert("x\ny".into(), 0);
        let text = r.render();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("a\\u{1b}]0;owned\\u{7} -> b"), "{text}");
        assert!(text.contains("x\\ny"), "{text}");
        let mut c = capture_sample();
        c.interface = "c\u{1b}[2J".into();
        c.files = vec!["f\r".into()];
        let text = c.render();
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    }

    fn capture_sample() -> CaptureReport {
        CaptureReport {
            interface: "cap0".into(),
            captured: 90,
            bytes: 9000,
            written: 90,
            cut_to_fit: 0,
            kernel_packets: 100,
            kernel_drops: 10,
            drops_attached: 7,
            drops_after_last_frame: 3,
            loss: vec![Loss {
                before_frame: 12,
                lost: 7,
            }],
            files: vec!["cap.pcapng".into()],
            write_error: None,
            final_: true,
            uptime_s: 2.0,
        }
    }

    #[test]
    fn test_capture_report() {
        let c = capture_sample();
        let json = c.to_json();
        assert!(
            json.starts_with("{\"schema\":\"ringtap-capture/1\","),
            "{json}"
        );
        assert!(!json.contains("write_error"), "{json}");
        let back: CaptureReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let text = c.render();
        assert!(text.contains("capture on cap0"), "{text}");
        assert!(text.contains("7 before frame #12"), "{text}");
        assert!(text.contains("3 after the last frame"), "{text}");
        assert!(!text.contains("INCONSISTENT"), "{text}");
        // Sums near u64::MAX do not wrap around into agreement.
        let mut bad = c.clone();
        bad.drops_attached = u64::MAX;
        bad.drops_after_last_frame = 11;
        assert!(
            bad.render().contains("INCONSISTENT: drops attached"),
            "{}",
            bad.render()
        );
        let mut bad = c.clone();
        bad.captured = u64::MAX;
        bad.written = 0;
        bad.kernel_drops = 1;
        bad.drops_attached = 1;
        bad.drops_after_last_frame = 0;
        bad.kernel_packets = 0;
        assert!(
            bad.render().contains("INCONSISTENT: captured"),
            "{}",
            bad.render()
        );
        let mut stopped = c;
        stopped.write_error = Some("No space left on device".into());
        assert!(stopped.render().contains("STOPPED by a write error"));
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
        let target = Target::new(&path).unwrap();
        target
            .replace_with(sample().to_json().as_bytes(), FileMode::Default(0o640))
            .unwrap();
        let text = run(&StatsArgs {
            path: path.clone(),
            json: false,
        })
        .unwrap();
        assert!(text.contains("a -> b (1 worker)"), "{text}");
        capture_sample()
            .write_to(&target, FileMode::Default(0o640))
            .unwrap();
        let text = run(&StatsArgs {
            path: path.clone(),
            json: false,
        })
        .unwrap();
        assert!(text.contains("capture on cap0"), "{text}");
        std::fs::write(&path, "{\"schema\":\"ringtap-bridge/9\",\"directions\":[]}").unwrap();
        let e = run(&StatsArgs { path, json: false }).unwrap_err();
        assert!(
            matches!(&e, Failure::Usage(m) if m.contains("schema \"ringtap-bridge/9\" is not one")),
            "{e:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
