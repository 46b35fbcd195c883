//! The capture part of `cargo xtask bench`: how many 64-byte frames per
//! second `ringtap capture`, `tcpdump -w` and `netsniff-ng --out` write to a
//! file without losing one, and the CPU time a frame costs each of them.
//!
//! The capturer listens on dut0 of the bench's topology, on the CPU that
//! also does dut0's receive processing, while trafgen climbs a ladder of
//! rates. All three get rings of the same size and write to a tmpfs mounted
//! for the run, so that storage is not what is measured. After each run the
//! file is read back with ringtap-core's capture reader, trafgen's frames in
//! it are counted, and it is deleted. [`report`] turns the runs into the
//! table, the lossless rates, the aim and capture.json.

mod report;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ringtap_core::pcapng::{CaptureError, CaptureReader, Record};

use super::lab::{cpu_pair, in_netns, read_text, Janitor, Process};
use super::summary::Traffic;
use super::{Bench, Case, Load, DUT_CPU, GENERATOR_CPU, GENERATOR_MAC};
use crate::vm::stats::CaptureCounters;
use crate::{Cmd, Error, Result};
pub(super) use report::{report, write_results};
use report::{Row, Sample};

/// A capturer under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Capturer {
    Ringtap,
    Tcpdump,
    NetsniffNg,
}

/// In this order in tables; ringtap is compared with the others.
pub(super) const ALL_CAPTURERS: [Capturer; 3] =
    [Capturer::Ringtap, Capturer::Tcpdump, Capturer::NetsniffNg];

impl Capturer {
    pub(super) fn name(self) -> &'static str {
        match self {
            Capturer::Ringtap => "ringtap",
            Capturer::Tcpdump => "tcpdump",
            Capturer::NetsniffNg => "netsniff-ng",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Capturer::Ringtap => "pcapng",
            Capturer::Tcpdump | Capturer::NetsniffNg => "pcap",
        }
    }

    /// The signal (a name for kill(1)) on which it flushes its file, prints
    /// or writes its statistics and exits.
    fn stop_signal(self) -> &'static str {
        match self {
            Capturer::Ringtap => "TERM",
            Capturer::Tcpdump | Capturer::NetsniffNg => "INT",
        }
    }
}

/// The smallest Ethernet frame (counting the FCS): the most frames per
/// second for a given bandwidth, so the per-frame cost dominates.
const FRAME_BYTES: u16 = 64;

/// The offered loads, lowest first: a capturer's lossless rate is read
/// from the bottom up.
const LADDER: [Load; 5] = [
    Load::Rate(100_000),
    Load::Rate(200_000),
    Load::Rate(400_000),
    Load::Rate(800_000),
    Load::Flood,
];

/// Every capturer's ring is the size of ringtap capture's default
/// TPACKET_V3 ring, 32 blocks of 1 MiB (given to ringtap explicitly, so
/// the sizes stay equal if that default changes).
const RING_BLOCK_BYTES: u32 = 1 << 20;
const RING_BLOCKS: u32 = 32;
const RING_BYTES: u32 = RING_BLOCK_BYTES * RING_BLOCKS;

/// How long after trafgen stops a capturer is left running. A TPACKET_V3
/// ring hands a partly filled block over when its timeout expires, and
/// tcpdump's is libpcap's 1000 ms default: stopped sooner, tcpdump exits
/// with the last block's frames unread (its "received by filter" exceeds
/// its "captured").
const LAST_BLOCK_WAIT: Duration = Duration::from_millis(1500);

/// How long a stopped capturer may take to flush its file and exit.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// What issue 4 asks of ringtap's lossless rate, as a multiple of
/// tcpdump's.
const AIM_OVER_TCPDUMP: f64 = 2.0;

/// The tmpfs the capture files go to, mounted for this run and unmounted,
/// contents and all, by a janitor however the run ends.
#[derive(Debug)]
pub(super) struct Scratch {
    dir: PathBuf,
    janitor: Janitor,
}

/// Lazily, so that it also goes when a capturer killed by Ctrl-C has not
/// closed its file yet.
const SCRATCH_JANITOR_SCRIPT: &str = r#"
read -r _
if umount -l "$1" 2>/dev/null; then echo "bench: unmounted the capture tmpfs $1"; fi
rmdir "$1" 2>/dev/null
"#;

impl Scratch {
    /// Mounts a tmpfs at `/tmp/rtbench-capture-PID`, of the default size
    /// (half of RAM; pages are used only as files grow, and each file is
    /// deleted once counted).
    pub(super) fn set_up() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("rtbench-capture-{}", std::process::id()));
        fs::create_dir(&dir)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
        let janitor = Janitor::start("capture tmpfs", SCRATCH_JANITOR_SCRIPT, &[&dir])?;
        let scratch = Scratch { dir, janitor };
        // From here on, dropping `scratch` (also on an early return) cleans up.
        Cmd::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0755,nosuid,nodev"])
            .arg("rtbench-capture")
            .arg(&scratch.dir)
            .run()?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.janitor.clean_up();
        if self.dir.exists() {
            let dir = self.dir.display();
            eprintln!("warning: {dir} is still there: `umount {dir}; rmdir {dir}`");
        }
    }
}

/// Every chosen capturer at every step of the ladder, `repetitions` times,
/// the capturers taking turns at each step.
pub(super) fn measure(
    bench: &Bench<'_>,
    scratch: &Scratch,
    capturers: &[Capturer],
    repetitions: u32,
) -> Result<Vec<Row>> {
    println!(
        "{} s of traffic per run; generator on CPU {GENERATOR_CPU}, capturer on CPU {DUT_CPU}; \
         files on the tmpfs at {}",
        bench.seconds,
        scratch.dir.display()
    );
    let mut rows: Vec<Row> = LADDER
        .iter()
        .flat_map(|&load| {
            capturers.iter().map(move |&capturer| Row {
                load,
                capturer,
                samples: Vec::new(),
            })
        })
        .collect();
    super::summary::measure_rows(
        &mut rows,
        repetitions,
        |row, repetition| bench.capture(row.capturer, row.load, repetition, scratch),
        Sample::describe,
    )?;
    Ok(rows)
}

impl Bench<'_> {
    fn capture(
        &self,
        capturer: Capturer,
        load: Load,
        repetition: u32,
        scratch: &Scratch,
    ) -> Result<Sample> {
        let lab = self.lab;
        let run_name = format!("capture-{FRAME_BYTES}B-{}-r{repetition}", load.slug());
        let log = |program: &str| {
            self.out_dir
                .join("logs")
                .join(format!("{program}-{run_name}.log"))
        };
        let file = scratch.dir.join(format!(
            "{}-{run_name}.{}",
            capturer.name(),
            capturer.extension()
        ));
        // On the tmpfs too: ringtap rewrites it every second from the
        // thread that empties the ring, which a busy disk would stall.
        let stats_name = format!("ringtap-{run_name}.json");
        let stats_file = scratch.dir.join(&stats_name);

        let cmd = self.capturer_command(capturer, &file, &stats_file)?;
        let mut process = Process::start(cmd, log(capturer.name()))?;
        lab.wait_until_listening(&mut process)?;

        let before = lab.counters()?;
        let cpus_before = cpu_pair()?;
        let window_started = Instant::now();
        let process_before = process.cpu_ticks()?;
        let case = Case {
            frame_bytes: FRAME_BYTES,
            load,
        };
        let seconds = self.run_generator(case, log("generator"))?;
        let trafgen_stopped = Instant::now();
        let after = lab.counters()?;
        wait_until_idle(&process)?;
        let cpus_after = cpu_pair()?;
        let window_s = window_started.elapsed().as_secs_f64();
        let process_after = process.cpu_ticks()?;
        sleep(LAST_BLOCK_WAIT.saturating_sub(trafgen_stopped.elapsed()));

        process.check_running()?;
        process.signal(capturer.stop_signal())?;
        let status = process.wait_for_exit(EXIT_WITHIN)?;
        if !status.success() {
            return Err(Error::Failed(format!(
                "`{}` failed ({status}); its output is in {}",
                process.shown,
                process.log.display()
            )));
        }
        let output = || read_text(&process.log.display().to_string());
        let kernel_drops = match capturer {
            Capturer::Ringtap => {
                let kept = self.out_dir.join("stats").join(&stats_name);
                move_file(&stats_file, &kept)?;
                let stats = read_text(&kept.display().to_string())?;
                let counters = CaptureCounters::parse(&stats)
                    .map_err(|e| Error::Failed(format!("{}: {e}", kept.display())))?;
                Some(counters.kernel_drops)
            }
            Capturer::Tcpdump => tcpdump_kernel_drops(&output()?),
            Capturer::NetsniffNg => netsniff_kernel_drops(&output()?),
        };
        if kernel_drops.is_none() {
            println!(
                "  warning: {} printed no kernel drop count on exit (see {})",
                capturer.name(),
                process.log.display()
            );
        }
        let in_file = count_file(&file)?;
        fs::remove_file(&file)
            .map_err(|e| Error::Failed(format!("cannot delete {}: {e}", file.display())))?;

        let cpu_seconds =
            |pick| cpus_after[1].seconds_since(&cpus_before[1], pick, self.ticks_per_second);
        Ok(Sample {
            traffic: Traffic::between(&before, &after, seconds, &log("generator"))?,
            in_file,
            kernel_drops,
            cpu_s: cpu_seconds(|t| t.busy),
            interrupt_s: cpu_seconds(|t| t.interrupt),
            window_s,
            process_s: process_after.saturating_sub(process_before) as f64 / self.ticks_per_second,
        })
    }

    /// The capturer on the capture CPU, writing to `file`.
    fn capturer_command(&self, capturer: Capturer, file: &Path, stats_file: &Path) -> Result<Cmd> {
        let pinned = in_netns(&self.lab.dut).args(["taskset", "-c", &DUT_CPU.to_string()]);
        Ok(match capturer {
            Capturer::Ringtap => {
                let ringtap = self
                    .ringtap
                    .ok_or_else(|| Error::Failed("the ringtap binary was not built".to_string()))?;
                // Stopped with SIGTERM; --duration only bounds a run that
                // loses track of it.
                let duration = (self.seconds + 30).to_string();
                pinned
                    .arg(ringtap)
                    .args(["capture", "--in", "dut0", "--write"])
                    .arg(file)
                    .args(["--format", "pcapng", "--tpacket", "v3"])
                    .args(["--block-size", &RING_BLOCK_BYTES.to_string()])
                    .args(["--block-nr", &RING_BLOCKS.to_string()])
                    .args(["--duration", &duration, "--stats-file"])
                    .arg(stats_file)
            }
            // -B counts KiB. No --immediate-mode: libpcap would fall back
            // to TPACKET_V2 and wake up for every frame. -Z root: tcpdump
            // would otherwise open the file as user tcpdump.
            Capturer::Tcpdump => pinned
                .args(["tcpdump", "-i", "dut0", "-w"])
                .arg(file)
                .args(["-s", "0", "-B", &(RING_BYTES / 1024).to_string()])
                .args(["-n", "-Z", "root"]),
            Capturer::NetsniffNg => pinned
                .args(["netsniff-ng", "--in", "dut0", "--out"])
                .arg(file)
                .args([
                    "--silent",
                    "--ring-size",
                    &format!("{}MiB", RING_BYTES >> 20),
                ])
                .args(["--notouch-irq", "--no-sock-mem"]),
        })
    }
}

/// Waits until `process` stops using CPU time (two readings 100 ms apart
/// agree), for at most 5 s: by then it has emptied its ring.
fn wait_until_idle(process: &Process) -> Result {
    let mut last = process.cpu_ticks()?;
    for _ in 0..50 {
        sleep(Duration::from_millis(100));
        let now = process.cpu_ticks()?;
        if now == last {
            return Ok(());
        }
        last = now;
    }
    println!(
        "  warning: `{}` still busy 5 s after the generator stopped",
        process.shown
    );
    Ok(())
}

/// Moves `from` to `to` on another file system.
fn move_file(from: &Path, to: &Path) -> Result {
    fs::copy(from, to).map_err(|e| {
        Error::Failed(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })?;
    fs::remove_file(from)
        .map_err(|e| Error::Failed(format!("cannot delete {}: {e}", from.display())))
}

/// trafgen's frames (by their source address) in the pcap or pcapng file
/// at `path`.
fn count_file(path: &Path) -> Result<u64> {
    let bytes = fs::read(path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    generator_frames(&bytes).map_err(|e| {
        Error::Failed(format!(
            "{}: not a capture file ringtap-core can read: {e}",
            path.display()
        ))
    })
}

fn generator_frames(capture: &[u8]) -> Result<u64, CaptureError> {
    let mut frames = 0;
    for record in CaptureReader::new(capture)? {
        if let Record::Packet { data, .. } = record? {
            if data.get(6..12) == Some(&GENERATOR_MAC[..]) {
                frames += 1;
            }
        }
    }
    Ok(frames)
}

/// The count of tcpdump's exit line `N packets dropped by kernel` (the
/// kernel's ring-full drops, from PACKET_STATISTICS).
fn tcpdump_kernel_drops(output: &str) -> Option<u64> {
    count_before(output, "packets dropped by kernel")
}

/// The count of netsniff-ng's exit line `N  packets failed filter (out of
/// space)`: its name for the kernel's ring-full drops (`tp_drops` of
/// PACKET_STATISTICS).
fn netsniff_kernel_drops(output: &str) -> Option<u64> {
    count_before(output, "packets failed filter (out of space)")
}

/// The number that starts the first line ending in `label`; leading
/// blanks and carriage returns (netsniff-ng starts its lines with `\r`)
/// are skipped.
fn count_before(output: &str, label: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_suffix(label))
        .and_then(|count| count.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use ringtap_core::pcap::LINKTYPE_ETHERNET;
    use ringtap_core::pcapng::PcapngWriter;

    use super::super::DESTINATION_MAC;
    use super::*;

    /// A 60-byte frame from `source`.
    fn frame(source: [u8; 6]) -> Vec<u8> {
        let mut frame = DESTINATION_MAC.to_vec();
        frame.extend_from_slice(&source);
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.resize(60, 0);
        frame
    }

    const OTHER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x09];

    #[test]
    fn pcapng_frames_are_counted_by_source_address() {
        let mut buf = [0u8; 1024];
        let mut w = PcapngWriter::new(&mut buf[..], "test").unwrap();
        w.add_interface("dut0", LINKTYPE_ETHERNET as u16, 0)
            .unwrap();
        for (source, dropped_before) in [
            (GENERATOR_MAC, None),
            (OTHER_MAC, None),
            (GENERATOR_MAC, Some(3)),
        ] {
            w.write_packet(0, 1, 60, &frame(source), dropped_before)
                .unwrap();
        }
        w.write_statistics(0, 2, 5, 3).unwrap();
        let len = w.bytes_written() as usize;
        assert_eq!(generator_frames(&buf[..len]), Ok(2));
        assert!(
            generator_frames(&buf[..len - 1]).is_err(),
            "a cut file is an error, not a short count"
        );
    }

    #[test]
    fn microsecond_pcap_as_tcpdump_writes_it_is_counted() {
        // Little-endian header: magic a1b2c3d4 (microseconds), 2.4,
        // thiszone 0, sigfigs 0, snaplen 262144, Ethernet.
        let mut file = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00,
            0x04, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
        for source in [GENERATOR_MAC, GENERATOR_MAC, OTHER_MAC] {
            // ts_sec, ts_usec 999999, incl_len 60, orig_len 60.
            file.extend_from_slice(&[1, 0, 0, 0, 0x3f, 0x42, 0x0f, 0, 60, 0, 0, 0, 60, 0, 0, 0]);
            file.extend_from_slice(&frame(source));
        }
        assert_eq!(generator_frames(&file), Ok(2));
        assert_eq!(generator_frames(&file[..24]), Ok(0), "header only");
        assert!(generator_frames(b"not a capture").is_err());
        assert!(generator_frames(&[]).is_err());
    }

    #[test]
    fn tcpdump_exit_statistics() {
        let output = "\
tcpdump: listening on dut0, link-type EN10MB (Ethernet), snapshot length 262144 bytes
50008 packets captured
50010 packets received by filter
1234 packets dropped by kernel
";
        assert_eq!(tcpdump_kernel_drops(output), Some(1234));
        assert_eq!(tcpdump_kernel_drops("50008 packets captured\n"), None);
        assert_eq!(
            tcpdump_kernel_drops("lots of packets dropped by kernel\n"),
            None
        );
        assert_eq!(netsniff_kernel_drops(output), None);
    }

    #[test]
    fn netsniff_ng_exit_statistics_start_with_carriage_returns() {
        let output = "Running! Hang up with ^C!\n\n\
\r       50008  packets incoming (0 unread on exit)\n\
\r       49990  packets passed filter\n\
\r          18  packets failed filter (out of space)\n\
\r      0.0360% packet droprate\n\
\r           2  sec, 330496 usec in total\n";
        assert_eq!(netsniff_kernel_drops(output), Some(18));
        assert_eq!(netsniff_kernel_drops("Running! Hang up with ^C!\n"), None);
        assert_eq!(tcpdump_kernel_drops(output), None);
    }
}
