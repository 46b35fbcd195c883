//! The forwarder's stats file, as `ringtap bridge --stats-file` writes it:
//! `{"directions":[{"in":..,"out":..,"rx_packets":N,"tx_packets":N,
//! "kernel_drops":N,"dropped":{"reason":N,..}}],"uptime_s":N}`.
//!
//! Only the counters of the first direction are read, by key, which is all
//! the harness checks (it forwards one way); no JSON library needed.

/// The counters of the first direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub kernel_drops: u64,
    /// The named drop counters.
    pub dropped: Vec<(String, u64)>,
}

impl Counters {
    pub fn parse(json: &str) -> Result<Counters, String> {
        let first = json
            .find("\"directions\"")
            .and_then(|at| json[at..].find('{').map(|b| at + b))
            .ok_or("no \"directions\" array with an object")?;
        let direction = &json[first..];
        let number = |key: &str| {
            let value = value_of(direction, key).ok_or(format!("no \"{key}\""))?;
            leading_number(value).ok_or(format!("\"{key}\" is not a whole number"))
        };
        let dropped = value_of(direction, "dropped").ok_or("no \"dropped\"")?;
        Ok(Counters {
            rx_packets: number("rx_packets")?,
            tx_packets: number("tx_packets")?,
            kernel_drops: number("kernel_drops")?,
            dropped: named_numbers(dropped).ok_or("\"dropped\" is not an object of numbers")?,
        })
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
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
        assert_eq!(
            c.dropped,
            [("tx_ring_full".to_string(), 1), ("too_long".to_string(), 0)]
        );
        assert_eq!(c.dropped_total(), 1);
        let empty =
            r#"{"directions":[{"rx_packets":0,"tx_packets":0,"kernel_drops":0,"dropped":{}}]}"#;
        assert_eq!(Counters::parse(empty).unwrap().dropped, []);
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
