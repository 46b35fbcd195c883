//! The stats files ringtap writes (their schema is `appliance/src/stats.rs`),
//! read with serde_json into the fields the harness checks:
//!
//! - `ringtap bridge --stats-file`: `{"schema":..,"directions":[{"in":..,
//!   "out":..,"rx_packets":N,"tx_packets":N,"kernel_drops":N,
//!   "dropped":{"reason":N,..},..}],"uptime_s":N,"final":true,..}`; only the
//!   first direction is read, which is all the harness checks (it forwards
//!   one way);
//! - `ringtap capture --stats-file`: `{"schema":..,"interface":..,
//!   "captured":N,"kernel_drops":N,..,"final":true,..}`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The counters of the bridge's first direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub kernel_drops: u64,
    /// The named drop counters, by name.
    pub dropped: Vec<(String, u64)>,
    /// Written at exit, after the rings were drained (a clean stop).
    pub final_: bool,
}

/// The part of the bridge's stats file read here.
#[derive(Deserialize)]
struct BridgeFile {
    directions: Vec<Direction>,
    #[serde(default, rename = "final")]
    final_: bool,
}

#[derive(Deserialize)]
struct Direction {
    rx_packets: u64,
    tx_packets: u64,
    kernel_drops: u64,
    dropped: BTreeMap<String, u64>,
}

impl Counters {
    pub fn parse(json: &str) -> Result<Counters, String> {
        let file: BridgeFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let first = file
            .directions
            .into_iter()
            .next()
            .ok_or("\"directions\" is empty")?;
        Ok(Counters {
            rx_packets: first.rx_packets,
            tx_packets: first.tx_packets,
            kernel_drops: first.kernel_drops,
            dropped: first.dropped.into_iter().collect(),
            final_: file.final_,
        })
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

/// What the capture's stats file counts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CaptureCounters {
    /// Frames written to the file.
    pub captured: u64,
    /// Frames the kernel dropped because the ring was full.
    pub kernel_drops: u64,
    #[serde(default, rename = "final")]
    pub final_: bool,
}

impl CaptureCounters {
    pub fn parse(json: &str) -> Result<CaptureCounters, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_direction() {
        let json = r#"{"schema":"ringtap-bridge/1","directions":[{"in":"eth0","out":"eth1",
            "rx_packets":401,"tx_packets":400,"kernel_drops":0,"dropped":{"tx_ring_full":1, "too_long":0}},
            {"in":"eth1","out":"eth0","rx_packets":7,"tx_packets":7,"kernel_drops":0,"dropped":{}}],
            "uptime_s":3}"#;
        let c = Counters::parse(json).unwrap();
        assert_eq!((c.rx_packets, c.tx_packets, c.kernel_drops), (401, 400, 0));
        assert!(!c.final_);
        assert_eq!(
            c.dropped,
            [("too_long".to_string(), 0), ("tx_ring_full".to_string(), 1)]
        );
        assert_eq!(c.dropped_total(), 1);
        let empty = r#"{"directions":[{"rx_packets":0,"tx_packets":0,"kernel_drops":0,"dropped":{}}],
            "uptime_s":1.5,"final":true,"data_path_allocations":0}"#;
        let c = Counters::parse(empty).unwrap();
        assert_eq!(c.dropped, []);
        assert!(c.final_);
    }

    #[test]
    fn reads_the_capture_counters() {
        let json = r#"{"interface":"eth0","captured":400,"bytes":280000,"kernel_packets":400,
            "kernel_drops":0,"drops_attached":0,"drops_after_last_frame":0,"loss":[],
            "files":["/tmp/out/capture.pcapng"],"final":true,"uptime_s":2.1}"#;
        assert_eq!(
            CaptureCounters::parse(json),
            Ok(CaptureCounters {
                captured: 400,
                kernel_drops: 0,
                final_: true
            })
        );
        let running = json.replace("\"final\":true", "\"final\":false");
        assert!(!CaptureCounters::parse(&running).unwrap().final_);
        let e = CaptureCounters::parse(r#"{"interface":"eth0","kernel_drops":0}"#).unwrap_err();
        assert!(e.starts_with("missing field `captured`"), "{e}");
    }

    #[test]
    fn missing_or_bad_counters_are_named() {
        let e = Counters::parse(r#"{"uptime_s":1}"#).unwrap_err();
        assert!(e.starts_with("missing field `directions`"), "{e}");
        assert_eq!(
            Counters::parse(r#"{"directions":[]}"#),
            Err("\"directions\" is empty".to_string())
        );
        let no_tx = r#"{"directions":[{"rx_packets":1,"kernel_drops":0,"dropped":{}}]}"#;
        let e = Counters::parse(no_tx).unwrap_err();
        assert!(e.starts_with("missing field `tx_packets`"), "{e}");
        let negative =
            r#"{"directions":[{"rx_packets":-1,"tx_packets":0,"kernel_drops":0,"dropped":{}}]}"#;
        let e = Counters::parse(negative).unwrap_err();
        assert!(
            e.starts_with("invalid value: integer `-1`, expected u64"),
            "{e}"
        );
        let bad_dropped = r#"{"directions":[{"rx_packets":1,"tx_packets":1,"kernel_drops":0,"dropped":{"x":"y"}}]}"#;
        assert!(Counters::parse(bad_dropped).is_err());
        assert!(Counters::parse("{\"directions\":[").is_err(), "cut short");
    }
}
