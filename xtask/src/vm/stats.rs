//! The stats files ringtap writes, read by key (no JSON library needed):
//!
//! - `ringtap bridge --stats-file`: `{"directions":[{"in":..,"out":..,
//!   "rx_packets":N,"tx_packets":N,"kernel_drops":N,"dropped":{"reason":N,..},
//!   ..}],"uptime_s":N,"final":true,..}`; only the first direction is read,
//!   which is all the harness checks (it forwards one way);
//! - `ringtap capture --stats-file`: `{"interface":..,"captured":N,
//!   "kernel_drops":N,..,"final":true,..}`.

/// The counters of the bridge's first direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub kernel_drops: u64,
    /// The named drop counters.
    pub dropped: Vec<(String, u64)>,
    /// Written at exit, after the rings were drained (a clean stop).
    pub final_: bool,
}

impl Counters {
    pub fn parse(json: &str) -> Result<Counters, String> {
        let first = json
            .find("\"directions\"")
            .and_then(|at| json[at..].find('{').map(|b| at + b))
            .ok_or("no \"directions\" array with an object")?;
        let direction = &json[first..];
        let dropped = value_of(direction, "dropped").ok_or("no \"dropped\"")?;
        Ok(Counters {
            rx_packets: number(direction, "rx_packets")?,
            tx_packets: number(direction, "tx_packets")?,
            kernel_drops: number(direction, "kernel_drops")?,
            dropped: named_numbers(dropped).ok_or("\"dropped\" is not an object of numbers")?,
            final_: is_final(json),
        })
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

/// What the capture's stats file counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureCounters {
    /// Frames written to the file.
    pub captured: u64,
    /// Frames the kernel dropped because the ring was full.
    pub kernel_drops: u64,
    pub final_: bool,
}

impl CaptureCounters {
    pub fn parse(json: &str) -> Result<CaptureCounters, String> {
        Ok(CaptureCounters {
            captured: number(json, "captured")?,
            kernel_drops: number(json, "kernel_drops")?,
            final_: is_final(json),
        })
    }
}

/// The whole number after `"key":`.
fn number(json: &str, key: &str) -> Result<u64, String> {
    let value = value_of(json, key).ok_or(format!("no \"{key}\""))?;
    leading_number(value).ok_or(format!("\"{key}\" is not a whole number"))
}

/// `"final":true`.
fn is_final(json: &str) -> bool {
    value_of(json, "final").is_some_and(|v| v.starts_with("true"))
}

/// The text after `"key":` (and blanks).
fn value_of<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let at = json.find(&quoted)? + quoted.len();
    json[at..]
        .trim_start()
        .strip_prefix(':')
        .map(str::trim_start)
}

fn leading_number(text: &str) -> Option<u64> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// `{"a":1,"b":2}` at the start of `text`.
fn named_numbers(text: &str) -> Option<Vec<(String, u64)>> {
    let body = text.strip_prefix('{')?;
    let body = &body[..body.find('}')?];
    body.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once(':')?;
            let name = name.trim().strip_prefix('"')?.strip_suffix('"')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_direction() {
        let json = r#"{"directions":[{"in":"eth0","out":"eth1","rx_packets":401,"tx_packets":400,
            "kernel_drops":0,"dropped":{"tx_ring_full":1, "too_long":0}},
            {"in":"eth1","out":"eth0","rx_packets":7,"tx_packets":7,"kernel_drops":0,"dropped":{}}],
            "uptime_s":3}"#;
        let c = Counters::parse(json).unwrap();
        assert_eq!((c.rx_packets, c.tx_packets, c.kernel_drops), (401, 400, 0));
        assert!(!c.final_);
        assert_eq!(
            c.dropped,
            [("tx_ring_full".to_string(), 1), ("too_long".to_string(), 0)]
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
        assert_eq!(
            CaptureCounters::parse(r#"{"interface":"eth0","kernel_drops":0}"#),
            Err("no \"captured\"".to_string())
        );
    }

    #[test]
    fn missing_or_bad_counters_are_named() {
        assert_eq!(
            Counters::parse(r#"{"uptime_s":1}"#),
            Err("no \"directions\" array with an object".to_string())
        );
        let no_tx = r#"{"directions":[{"rx_packets":1,"kernel_drops":0,"dropped":{}}]}"#;
        assert_eq!(Counters::parse(no_tx), Err("no \"tx_packets\"".to_string()));
        let negative =
            r#"{"directions":[{"rx_packets":-1,"tx_packets":0,"kernel_drops":0,"dropped":{}}]}"#;
        assert_eq!(
            Counters::parse(negative),
            Err("\"rx_packets\" is not a whole number".to_string())
        );
        let bad_dropped = r#"{"directions":[{"rx_packets":1,"tx_packets":1,"kernel_drops":0,"dropped":{"x":"y"}}]}"#;
        assert!(Counters::parse(bad_dropped).is_err());
    }
}
