//! What the host checks after a board run: the stats files, the pcapng
//! and the system log the guest exported, against the frames the host sent
//! and saw come out.

use std::path::Path;

use super::stats::{CaptureCounters, Counters};
use super::traffic::{self, OUT_TAP};
use super::{capture, Options, Session, CAPTURE_PHASE, CORPUS, FLOOD, SERVICE};
use crate::{Error, Result};

/// The stats files the guest exported, read.
pub(super) struct Checked {
    pub(super) corpus: Counters,
    pub(super) capture: CaptureCounters,
    pub(super) service: Counters,
    pub(super) flood: Counters,
}

/// Check the files the guest exported against what the host saw; what is
/// wrong goes into `problems`. An error when a file is missing or cannot be
/// read at all.
pub(super) fn check_exports(
    session: &Session,
    work: &Path,
    options: &Options,
    problems: &mut Vec<String>,
) -> Result<Checked> {
    let exported = |name: &str| -> Result<&[u8]> {
        session
            .files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, bytes)| bytes.as_slice())
            .ok_or_else(|| {
                Error::Failed(format!(
                    "the guest exported no {name} (its console: {})",
                    work.join("console.log").display()
                ))
            })
    };
    let text = |name: &str| exported(name).map(|b| String::from_utf8_lossy(b).into_owned());
    let counters = |phase: &str| -> Result<Counters> {
        let name = format!("{phase}.json");
        Counters::parse(&text(&name)?)
            .map_err(|e| Error::Failed(format!("{name} from the guest: {e}")))
    };
    let mut phase_problems = |phase: &str, found: Vec<String>| {
        problems.extend(found.into_iter().map(|p| format!("{phase}: {p}")));
    };

    let corpus = counters(CORPUS)?;
    phase_problems(
        CORPUS,
        bridge_count_problems(&corpus, session.corpus.out, session.corpus.probes_lost),
    );

    exported(&format!("{CAPTURE_PHASE}.pcapng"))?;
    let corpus_frames = traffic::corpus(options.corpus_frames);
    let pcapng = work.join(format!("{CAPTURE_PHASE}.pcapng"));
    phase_problems(CAPTURE_PHASE, capture::check(&pcapng, &corpus_frames)?);
    let name = format!("{CAPTURE_PHASE}.json");
    let capture = CaptureCounters::parse(&text(&name)?)
        .map_err(|e| Error::Failed(format!("{name} from the guest: {e}")))?;
    phase_problems(
        CAPTURE_PHASE,
        capture_count_problems(&capture, options.corpus_frames),
    );

    let service = counters(SERVICE)?;
    phase_problems(
        SERVICE,
        bridge_count_problems(&service, session.service.out, session.service.probes_lost),
    );
    phase_problems(SERVICE, syslog_problems(&text("messages")?));

    let flood = counters(FLOOD)?;
    if !flood.final_ {
        phase_problems(FLOOD, vec![NOT_FINAL.to_string()]);
    }
    Ok(Checked {
        corpus,
        capture,
        service,
        flood,
    })
}

const NOT_FINAL: &str =
    "the stats file is not the one ringtap writes at a clean exit (no \"final\":true)";

/// The bridge's counters against what the host saw: every frame it sent
/// came out (`out`: our frames out of the out tap, probes included), it
/// dropped none, it received nothing it did not forward except probes that
/// never came back (sent while it was starting), and it stopped cleanly.
fn bridge_count_problems(c: &Counters, out: usize, probes_lost: u32) -> Vec<String> {
    let mut problems = Vec::new();
    if c.tx_packets != out as u64 {
        problems.push(format!(
            "the bridge counted tx_packets {}, but {out} frames came out of {OUT_TAP}",
            c.tx_packets
        ));
    }
    let unforwarded = c.rx_packets.checked_sub(c.tx_packets);
    if unforwarded.is_none_or(|n| n > u64::from(probes_lost)) {
        problems.push(format!(
            "the bridge counted rx_packets {} and tx_packets {}; only the {probes_lost} \
             probes that never came back may be received and not forwarded",
            c.rx_packets, c.tx_packets
        ));
    }
    if c.kernel_drops != 0 || c.dropped_total() != 0 {
        problems.push(format!(
            "the bridge dropped frames (none may be lost at this rate): kernel_drops {}, \
             dropped {:?}",
            c.kernel_drops, c.dropped
        ));
    }
    if !c.final_ {
        problems.push(NOT_FINAL.to_string());
    }
    problems
}

/// The capture's counters: every frame sent captured, none dropped, a
/// clean stop.
fn capture_count_problems(c: &CaptureCounters, sent: usize) -> Vec<String> {
    let mut problems = Vec::new();
    if c.captured != sent as u64 {
        problems.push(format!(
            "ringtap capture counted {} frames captured, the host sent {sent}",
            c.captured
        ));
    }
    if c.kernel_drops != 0 {
        problems.push(format!(
            "ringtap capture's ring dropped {} frames (none may be lost at this rate)",
            c.kernel_drops
        ));
    }
    if !c.final_ {
        problems.push(NOT_FINAL.to_string());
    }
    problems
}

/// The guest's system log after the init script started and stopped the
/// bridge: ringtap said it was bridging and that it was stopping (it got
/// SIGTERM), and nothing was logged as a warning or an error (a failure the
/// script restarted, a refused configuration).
fn syslog_problems(log: &str) -> Vec<String> {
    let ours: Vec<&str> = log.lines().filter(|l| l.contains(" ringtap: ")).collect();
    let mut problems = Vec::new();
    for wanted in ["ringtap: bridging eth0 -> eth1", "ringtap: stopping"] {
        if !ours.iter().any(|l| l.contains(wanted)) {
            problems.push(format!("the system log has no \"{wanted}\" line"));
        }
    }
    let bad: Vec<&&str> = ours
        .iter()
        .filter(|l| {
            [".warn", ".err", ".crit", "warning:", "error:"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    if let Some(first) = bad.first() {
        problems.push(format!(
            "{} warnings or errors in the system log, first: {first}",
            bad.len()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(rx: u64, tx: u64, kernel_drops: u64, dropped: u64) -> Counters {
        Counters {
            rx_packets: rx,
            tx_packets: tx,
            kernel_drops,
            dropped: vec![("tx_ring_full".to_string(), dropped)],
            final_: true,
        }
    }

    #[test]
    fn bridge_counters_must_match_what_came_out() {
        assert!(bridge_count_problems(&counters(403, 401, 0, 0), 401, 2).is_empty());
        let one = |c: Counters, out, lost| bridge_count_problems(&c, out, lost).len();
        assert_eq!(one(counters(403, 401, 0, 0), 401, 1), 1);
        assert_eq!(one(counters(401, 402, 0, 0), 401, 0), 2);
        assert_eq!(one(counters(401, 401, 1, 0), 401, 0), 1);
        assert_eq!(one(counters(401, 401, 0, 3), 401, 0), 1);
        let running = Counters {
            final_: false,
            ..counters(401, 401, 0, 0)
        };
        assert_eq!(bridge_count_problems(&running, 401, 0), [NOT_FINAL]);
    }

    #[test]
    fn capture_counters_must_match_what_was_sent() {
        let c = |captured, kernel_drops, final_| CaptureCounters {
            captured,
            kernel_drops,
            final_,
        };
        assert!(capture_count_problems(&c(400, 0, true), 400).is_empty());
        assert_eq!(capture_count_problems(&c(399, 0, true), 400).len(), 1);
        assert_eq!(capture_count_problems(&c(400, 2, true), 400).len(), 1);
        assert_eq!(capture_count_problems(&c(400, 0, false), 400), [NOT_FINAL]);
    }

    #[test]
    fn the_system_log_must_show_a_clean_start_and_stop() {
        let clean = "\
Jan  1 00:00:09 virt daemon.info ringtap: ringtap: bridging eth0 -> eth1; 1 worker(s)
Jan  1 00:00:12 virt daemon.info ringtap: ringtap: stopping
Jan  1 00:00:12 virt daemon.info ringtap: eth0 -> eth1: rx 64 tx 64
";
        assert_eq!(syslog_problems(clean), Vec::<String>::new());
        let restarted = format!(
            "{clean}Jan  1 00:00:13 virt daemon.warn ringtap: ringtap failed (exit status 1); \
             starting it again in 2s\n"
        );
        assert_eq!(syslog_problems(&restarted).len(), 1);
        let never_stopped = clean.replace("stopping", "counters");
        assert_eq!(
            syslog_problems(&never_stopped),
            ["the system log has no \"ringtap: stopping\" line"]
        );
    }
}
