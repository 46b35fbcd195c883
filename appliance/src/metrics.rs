//! `--metrics-file PATH.prom`: the counters in the Prometheus text format
//! that node_exporter's textfile collector reads (HELP and TYPE lines,
//! `_total` counters, `direction` and `reason` labels, a trailing newline),
//! rewritten at every stats interval and at exit, atomically.

use std::fmt::Write as _;

use crate::stats::{DirectionReport, Report};

/// A label value as the text format wants it: `\`, `"` and newlines
/// escaped.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn direction(d: &DirectionReport) -> String {
    label(&format!("{}->{}", d.in_port, d.out))
}

/// The counters of `report` in the text format.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    type Field = fn(&DirectionReport) -> u64;
    let per_direction: [(&str, &str, Field); 9] = [
        ("rx_packets", "Frames taken from the RX rings.", |d| {
            d.rx_packets
        }),
        ("rx_bytes", "Bytes of those frames, as on the wire.", |d| {
            d.rx_bytes
        }),
        (
            "tx_packets",
            "Frames the kernel took from the TX rings (forwarded).",
            |d| d.tx_packets,
        ),
        ("tx_bytes", "Bytes of the forwarded frames.", |d| d.tx_bytes),
        (
            "kernel_packets",
            "Frames the kernel offered the direction's sockets.",
            |d| d.kernel_packets,
        ),
        (
            "kernel_drops",
            "Frames the kernel dropped because an RX ring was full.",
            |d| d.kernel_drops,
        ),
        ("filtered", "Frames the filter rejected.", |d| d.filtered),
        (
            "checksums_completed",
            "Frames whose partial TCP/UDP checksum was completed.",
            |d| d.checksums_completed,
        ),
        (
            "mirror_tx_packets",
            "Copies the kernel took from the mirror's TX rings.",
            |d| d.mirror.as_ref().map_or(0, |m| m.tx_packets),
        ),
    ];
    for (name, help, field) in per_direction {
        let _ = writeln!(out, "# HELP ringtap_{name}_total {help}");
        let _ = writeln!(out, "# TYPE ringtap_{name}_total counter");
        for d in &report.directions {
            let _ = writeln!(
                out,
                "ringtap_{name}_total{{direction=\"{}\"}} {}",
                direction(d),
                field(d)
            );
        }
    }
    for (name, help, mirror) in [
        ("dropped", "Frames not forwarded, by reason.", false),
        ("mirror_dropped", "Mirror copies not sent, by reason.", true),
    ] {
        let _ = writeln!(out, "# HELP ringtap_{name}_total {help}");
        let _ = writeln!(out, "# TYPE ringtap_{name}_total counter");
        for d in &report.directions {
            let reasons = if mirror {
                d.mirror.as_ref().map(|m| &m.dropped)
            } else {
                Some(&d.dropped)
            };
            for (reason, n) in reasons.into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "ringtap_{name}_total{{direction=\"{}\",reason=\"{}\"}} {n}",
                    direction(d),
                    label(reason)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP ringtap_reopened_total Ports re-opened after their interface came back."
    );
    let _ = writeln!(out, "# TYPE ringtap_reopened_total counter");
    let _ = writeln!(out, "ringtap_reopened_total {}", report.reopened);
    let _ = writeln!(out, "# HELP ringtap_data_path_allocations_total Heap allocations by the forwarding threads after start-up.");
    let _ = writeln!(out, "# TYPE ringtap_data_path_allocations_total counter");
    let _ = writeln!(
        out,
        "ringtap_data_path_allocations_total {}",
        report.data_path_allocations
    );
    let _ = writeln!(
        out,
        "# HELP ringtap_uptime_seconds Seconds since forwarding started."
    );
    let _ = writeln!(out, "# TYPE ringtap_uptime_seconds gauge");
    let _ = writeln!(out, "ringtap_uptime_seconds {}", report.uptime_s);
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_labels_are_escaped_and_every_line_ends() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let report = Report {
            directions: vec![],
            uptime_s: 1.5,
            final_: false,
            data_path_allocations: 0,
            reopened: 2,
        };
        let text = render(&report);
        assert!(text.ends_with('\n'));
        assert!(text.contains("ringtap_reopened_total 2\n"));
        assert!(text.contains("# TYPE ringtap_uptime_seconds gauge\n"));
    }
}
