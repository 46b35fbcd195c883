//! The bench's topology and what it reads from the system: the network
//! namespaces with their veth pairs and the janitor that removes them, the
//! programs it runs in the background, and the counters and CPU times it
//! reads from sysfs and /proc.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{delay, DUT_CPU, DUT_CPU_MASK, GENERATOR_CPU, SEND_BUFFER_BYTES, SETTLE, WMEM_DEFAULT};
use crate::{Cmd, Error, Result};

/// USER_HZ, the unit of `/proc/stat` and `/proc/PID/stat` times.
pub(super) fn clock_ticks_per_second() -> Result<f64> {
    let cmd = Cmd::new("getconf").arg("CLK_TCK").quiet();
    let shown = cmd.shown();
    let out = cmd.output()?;
    match out.trim().parse::<u32>() {
        Ok(ticks) if ticks > 0 => Ok(f64::from(ticks)),
        _ => Err(Error::Failed(format!(
            "`{shown}` printed {out:?}, not a positive number of clock ticks"
        ))),
    }
}

/// How busy the two CPUs are, in percent, over one second of doing nothing.
pub(super) fn idle_busy_percent(ticks_per_second: f64) -> Result<[f64; 2]> {
    let before = cpu_pair()?;
    let started = Instant::now();
    sleep(Duration::from_secs(1));
    let after = cpu_pair()?;
    let elapsed = started.elapsed().as_secs_f64();
    let percent = |i: usize| {
        (after[i].busy.saturating_sub(before[i].busy)) as f64 / ticks_per_second / elapsed * 100.0
    };
    Ok([percent(0), percent(1)])
}

/// CPU times of the generator CPU and the bridge CPU, in that order.
pub(super) fn cpu_pair() -> Result<[CpuTicks; 2]> {
    let stat = read_text("/proc/stat")?;
    let get = |cpu: usize| {
        cpu_ticks(&stat, cpu)
            .ok_or_else(|| Error::Failed(format!("/proc/stat has no readable `cpu{cpu}` line")))
    };
    Ok([get(GENERATOR_CPU)?, get(DUT_CPU)?])
}

/// Times of one CPU, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CpuTicks {
    /// user + nice + system + irq + softirq + steal: everything but idle
    /// and iowait.
    pub(super) busy: u64,
    /// irq + softirq: the kernel's receive and forwarding work, whichever
    /// process it interrupted.
    pub(super) interrupt: u64,
}

impl CpuTicks {
    /// Seconds of `pick` (busy or interrupt time) from `before` to `self`.
    pub(super) fn seconds_since(
        &self,
        before: &CpuTicks,
        pick: fn(&CpuTicks) -> u64,
        ticks_per_second: f64,
    ) -> f64 {
        pick(self).saturating_sub(pick(before)) as f64 / ticks_per_second
    }
}

/// The `cpuN` line of `/proc/stat`: user nice system idle iowait irq
/// softirq steal [guest guest_nice] (guest time is already in user).
pub(super) fn cpu_ticks(proc_stat: &str, cpu: usize) -> Option<CpuTicks> {
    let label = format!("cpu{cpu}");
    let mut words = proc_stat
        .lines()
        .map(|line| line.split_whitespace())
        .find_map(|mut words| (words.next() == Some(label.as_str())).then_some(words))?;
    let fields: Vec<u64> = words
        .by_ref()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let &[user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = fields.as_slice() else {
        return None;
    };
    Some(CpuTicks {
        busy: user + nice + system + irq + softirq + steal,
        interrupt: irq + softirq,
    })
}

/// How many `cpuN` lines `/proc/stat` has (the online CPUs; the first
/// line, `cpu`, is their sum).
pub(super) fn cpu_count(proc_stat: &str) -> usize {
    proc_stat
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.strip_prefix("cpu"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .count()
}

/// utime + stime (fields 14 and 15) of `/proc/PID/stat`, in clock ticks,
/// covering all threads. Field 2, the command name in parentheses, may hold
/// spaces and parentheses itself, so fields are counted from its last `)`.
pub(super) fn process_ticks(pid_stat: &str) -> Option<u64> {
    let (_, after_name) = pid_stat.rsplit_once(')')?;
    // `after_name` starts with field 3 (state).
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Whether `/proc/net/packet` lists a socket bound to `ifindex` (columns:
/// sk RefCnt Type Proto Iface R Rmem User Inode).
fn has_packet_socket_on(net_packet: &str, ifindex: u32) -> bool {
    net_packet
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(4).and_then(|w| w.parse().ok()) == Some(ifindex))
}

/// One whole number per line, exactly `count` of them.
fn parse_numbers(text: &str, count: usize) -> Option<Vec<u64>> {
    let numbers: Vec<u64> = text
        .lines()
        .map(|line| line.trim().parse().ok())
        .collect::<Option<_>>()?;
    (numbers.len() == count).then_some(numbers)
}

pub(super) fn read_text(path: &str) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::Failed(format!("cannot read {path}: {e}")))
}

pub(super) fn write_file(path: &Path, text: &str) -> Result {
    fs::write(path, text)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

/// The namespaces with their veth pairs, and the janitor that removes them.
#[derive(Debug)]
pub(super) struct Lab {
    pub(super) gen: String,
    pub(super) dut: String,
    pub(super) sink: String,
    dut0_ifindex: u32,
    /// Kills what still runs in the namespaces, deletes them and restores
    /// net.core.wmem_default.
    janitor: Janitor,
}

/// A shell in its own process group (so Ctrl-C does not reach it) that
/// waits for its stdin to close, which happens when this process ends for
/// any reason or calls [`Janitor::clean_up`], then runs its script.
#[derive(Debug)]
pub(super) struct Janitor {
    shell: Child,
    /// What it cleans up, for messages.
    what: &'static str,
}

impl Janitor {
    /// `script` starts with `read -r _`; `args` are its `$1`, `$2`, ...
    pub(super) fn start<S: AsRef<OsStr>>(
        what: &'static str,
        script: &str,
        args: &[S],
    ) -> Result<Janitor> {
        let shell = Command::new("sh")
            .args(["-c", script, "janitor"])
            .args(args)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                Error::Failed(format!(
                    "cannot start the cleanup shell `sh` for the {what}: {e}"
                ))
            })?;
        Ok(Janitor { shell, what })
    }

    /// Cleans up now and waits until that is done; again is a no-op.
    pub(super) fn clean_up(&mut self) {
        // Closing its stdin is the signal.
        drop(self.shell.stdin.take());
        if let Err(err) = self.shell.wait() {
            eprintln!(
                "warning: cleanup shell for the {} failed ({err})",
                self.what
            );
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.clean_up();
    }
}

const JANITOR_SCRIPT: &str = r#"
read -r _
wmem=$1
shift
for ns in "$@"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; fi
    if ip netns delete "$ns" 2>/dev/null; then echo "bench: deleted network namespace $ns"; fi
done
if [ "$(cat /proc/sys/net/core/wmem_default)" != "$wmem" ]; then
    sysctl -qw "net.core.wmem_default=$wmem" && echo "bench: net.core.wmem_default back to $wmem"
fi
"#;

impl Lab {
    pub(super) fn set_up() -> Result<Lab> {
        let pid = std::process::id();
        let [gen, dut, sink] = ["gen", "dut", "sink"].map(|role| format!("rtbench-{role}-{pid}"));
        let wmem_default = read_text(WMEM_DEFAULT)?;
        let original_wmem: u64 = wmem_default.trim().parse().map_err(|_| {
            Error::Failed(format!(
                "{WMEM_DEFAULT} holds {wmem_default:?}, not a number"
            ))
        })?;
        let janitor = Janitor::start(
            "network namespaces",
            JANITOR_SCRIPT,
            &[&original_wmem.to_string(), &gen, &dut, &sink],
        )?;
        let mut lab = Lab {
            gen,
            dut,
            sink,
            dut0_ifindex: 0,
            janitor,
        };
        // From here on, dropping `lab` (also on an early return) cleans up.
        for ns in [&lab.gen, &lab.dut, &lab.sink] {
            Cmd::new("ip").args(["netns", "add", ns]).run()?;
            // Before the veths exist, so they are born without IPv6 and
            // send no router solicitations or DAD probes.
            in_netns(ns)
                .args(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                .arg("net.ipv6.conf.default.disable_ipv6=1")
                .run()?;
        }
        Cmd::new("ip")
            .args(["link", "add", "gen0", "netns", &lab.gen, "type", "veth"])
            .args(["peer", "name", "dut0", "netns", &lab.dut])
            .run()?;
        Cmd::new("ip")
            .args(["link", "add", "dut1", "netns", &lab.dut, "type", "veth"])
            .args(["peer", "name", "sink0", "netns", &lab.sink])
            .run()?;
        // The delay part's floor: generator and sink joined directly.
        Cmd::new("ip")
            .args([
                "link",
                "add",
                delay::FLOOR_GEN,
                "netns",
                &lab.gen,
                "type",
                "veth",
            ])
            .args(["peer", "name", delay::FLOOR_SINK, "netns", &lab.sink])
            .run()?;
        for (ns, link) in [
            (&lab.gen, "gen0"),
            (&lab.dut, "dut0"),
            (&lab.dut, "dut1"),
            (&lab.sink, "sink0"),
            (&lab.gen, delay::FLOOR_GEN),
            (&lab.sink, delay::FLOOR_SINK),
        ] {
            Cmd::new("ip")
                .args(["-n", ns, "link", "set", link, "up"])
                .run()?;
        }
        in_netns(&lab.dut)
            .args(["ethtool", "-K", "dut0", "gro", "off", "lro", "off"])
            .run()?;
        // sysfs shows a namespace's devices only to a process that mounted
        // it from inside, which `ip netns exec` does.
        in_netns(&lab.dut)
            .args(["sh", "-c"])
            .arg(format!(
                "echo {DUT_CPU_MASK} > /sys/class/net/dut0/queues/rx-0/rps_cpus"
            ))
            .run()?;
        let ifindex = sysfs_numbers(&lab.dut, &["dut0/ifindex"])?[0];
        lab.dut0_ifindex = u32::try_from(ifindex)
            .map_err(|_| Error::Failed(format!("dut0 has ifindex {ifindex}, more than 32 bits")))?;
        if original_wmem < SEND_BUFFER_BYTES {
            Cmd::new("sysctl")
                .arg("-qw")
                .arg(format!("net.core.wmem_default={SEND_BUFFER_BYTES}"))
                .run()?;
        }
        Ok(lab)
    }

    /// Frames gen0 sent and had refused, and frames sink0 received.
    pub(super) fn counters(&self) -> Result<Counters> {
        let gen = sysfs_numbers(
            &self.gen,
            &["gen0/statistics/tx_packets", "gen0/statistics/tx_dropped"],
        )?;
        let sink = sysfs_numbers(&self.sink, &["sink0/statistics/rx_packets"])?;
        Ok(Counters {
            offered: gen[0],
            refused: gen[1],
            delivered: sink[0],
        })
    }

    /// The counters once frames stop moving (checked every 100 ms, for at
    /// most 3 s).
    pub(super) fn counters_when_drained(&self) -> Result<Counters> {
        let mut last = self.counters()?;
        for _ in 0..30 {
            sleep(Duration::from_millis(100));
            let now = self.counters()?;
            if now == last {
                return Ok(now);
            }
            last = now;
        }
        println!("  warning: frames still arriving at sink0 3 s after the generator stopped");
        Ok(last)
    }

    /// Waits until `bridge` has a packet socket bound to dut0, then a little
    /// longer for its rings.
    pub(super) fn wait_until_listening(&self, bridge: &mut Process) -> Result {
        let net_packet = format!("/proc/{}/net/packet", bridge.child.id());
        for _ in 0..250 {
            bridge.check_running()?;
            let sockets = fs::read_to_string(&net_packet).unwrap_or_default();
            if has_packet_socket_on(&sockets, self.dut0_ifindex) {
                sleep(SETTLE);
                return bridge.check_running();
            }
            sleep(Duration::from_millis(20));
        }
        Err(Error::Failed(format!(
            "`{}` bound no packet socket to dut0 within 5 s; its output is in {}",
            bridge.shown,
            bridge.log.display()
        )))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.janitor.clean_up();
        for ns in [&self.gen, &self.dut, &self.sink] {
            if Path::new("/run/netns").join(ns).exists() {
                eprintln!("warning: network namespace {ns} is still there: `ip netns delete {ns}`");
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counters {
    /// gen0 tx_packets: frames handed to dut0.
    pub(super) offered: u64,
    /// gen0 tx_dropped: frames dut0's receive queue refused; trafgen
    /// retries these, so they are back pressure, not loss.
    pub(super) refused: u64,
    /// sink0 rx_packets: frames the bridge got to the sink.
    pub(super) delivered: u64,
}

/// `ip netns exec NS ...`
pub(super) fn in_netns(ns: &str) -> Cmd {
    Cmd::new("ip").args(["netns", "exec", ns])
}

/// Numbers from files under `/sys/class/net` of namespace `ns`, read by a
/// process pinned to the generator CPU so it never runs on the bridge CPU.
pub(super) fn sysfs_numbers(ns: &str, files: &[&str]) -> Result<Vec<u64>> {
    let cmd = Cmd::new("taskset")
        .args([
            "-c",
            &GENERATOR_CPU.to_string(),
            "ip",
            "netns",
            "exec",
            ns,
            "cat",
        ])
        .args(files.iter().map(|f| format!("/sys/class/net/{f}")))
        .quiet();
    let shown = cmd.shown();
    let out = cmd.output()?;
    parse_numbers(&out, files.len()).ok_or_else(|| {
        Error::Failed(format!(
            "`{shown}` printed {out:?}, expected {} numbers",
            files.len()
        ))
    })
}

/// A program running in the background, its output going to a log file;
/// killed if still running when dropped.
#[derive(Debug)]
pub(super) struct Process {
    pub(super) child: Child,
    pub(super) shown: String,
    pub(super) log: PathBuf,
}

impl Process {
    pub(super) fn start(cmd: Cmd, log: PathBuf) -> Result<Process> {
        cmd.announce();
        let shown = cmd.shown();
        let cannot = |e| Error::Failed(format!("cannot create {}: {e}", log.display()));
        let stdout = fs::File::create(&log).map_err(cannot)?;
        // One open file shared by both streams, so they append to one
        // offset instead of writing over each other from two.
        let stderr = stdout.try_clone().map_err(cannot)?;
        let mut command = cmd.command;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::Failed(format!("cannot run `{shown}`: {e}")))?;
        Ok(Process { child, shown, log })
    }

    pub(super) fn check_running(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Failed(format!(
                "`{}` exited early ({status}); its output is in {}",
                self.shown,
                self.log.display()
            ))),
            Err(e) => Err(Error::Failed(format!("cannot watch `{}`: {e}", self.shown))),
        }
    }

    /// Sends `signal` (a name for kill(1): INT, TERM).
    pub(super) fn signal(&self, signal: &str) -> Result {
        Cmd::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .quiet()
            .output()
            .map(drop)
    }

    pub(super) fn wait_for_exit(&mut self, within: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
                Ok(None) => {
                    return Err(Error::Failed(format!(
                        "`{}` did not exit within {} s; its output is in {}",
                        self.shown,
                        within.as_secs(),
                        self.log.display()
                    )))
                }
                Err(e) => {
                    return Err(Error::Failed(format!(
                        "cannot wait for `{}`: {e}",
                        self.shown
                    )))
                }
            }
        }
    }

    /// utime + stime so far, in clock ticks.
    pub(super) fn cpu_ticks(&self) -> Result<u64> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = read_text(&path)?;
        process_ticks(&stat)
            .ok_or_else(|| Error::Failed(format!("{path}: no utime/stime in {stat:?}")))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_STAT: &str = "\
cpu  300 5 200 9000 40 7 60 3 0 0
cpu0 100 0 50 4500 20 2 10 1 0 0
cpu1 200 5 150 4500 20 5 50 2 7 0
intr 123 0 0
cpu_extra 1 2 3
ctxt 456
";

    #[test]
    fn proc_stat_busy_excludes_idle_and_iowait() {
        assert_eq!(
            cpu_ticks(PROC_STAT, 0),
            Some(CpuTicks {
                busy: 100 + 50 + 2 + 10 + 1,
                interrupt: 12
            })
        );
        assert_eq!(
            cpu_ticks(PROC_STAT, 1),
            Some(CpuTicks {
                busy: 200 + 5 + 150 + 5 + 50 + 2,
                interrupt: 55
            })
        );
        assert_eq!(cpu_ticks(PROC_STAT, 2), None);
        assert_eq!(cpu_ticks("cpu0 1 2 3 4 5 6 7\n", 0), None, "steal missing");
        assert_eq!(cpu_ticks("cpu0 1 2 x 4 5 6 7 8\n", 0), None);
        assert_eq!(
            cpu_count(PROC_STAT),
            2,
            "neither `cpu` nor `cpu_extra` is a CPU"
        );
    }

    #[test]
    fn process_times_count_fields_after_the_name() {
        // Fields 14 and 15 (utime 250, stime 70); the name holds `) (` and spaces.
        let stat = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 3 0 \
                    1000 2000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(process_ticks(stat), Some(320));
        assert_eq!(process_ticks("4242 (a) S 1 2 3"), None);
        assert_eq!(process_ticks("no parenthesis"), None);
    }

    #[test]
    fn packet_sockets_are_found_by_interface_index() {
        let net_packet = "\
sk               RefCnt Type Proto  Iface R Rmem   User   Inode
ffff8a0a41e2a000 3      3    0003   5     1 0      0      51234
ffff8a0a41e2b000 3      3    0000   6     1 0      0      51235
";
        assert!(has_packet_socket_on(net_packet, 5));
        assert!(has_packet_socket_on(net_packet, 6));
        assert!(
            !has_packet_socket_on(net_packet, 3),
            "Proto 0003 is not an index"
        );
        assert!(!has_packet_socket_on(net_packet.lines().next().unwrap(), 5));
    }

    #[test]
    fn sysfs_numbers_are_one_per_line() {
        assert_eq!(parse_numbers("12\n0\n", 2), Some(vec![12, 0]));
        assert_eq!(parse_numbers("12\n", 2), None);
        assert_eq!(parse_numbers("12\n-1\n", 2), None);
        assert_eq!(parse_numbers("", 0), Some(vec![]));
    }
}
