//! The running guest: qemu with its serial console on a pipe, and the
//! line protocol of `boards/vm/init` on that console. Every line the guest
//! means for the harness starts with `RINGTAP-VM `; the harness answers
//! `continue` when the guest waits for it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::{Cmd, Error, Result};

const MARKER: &str = "RINGTAP-VM ";

/// qemu and its console. Dropping it kills qemu if it still runs.
#[derive(Debug)]
pub struct Guest {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    log: PathBuf,
}

impl Guest {
    /// Start `qemu` (stdin and stdout are the guest's serial console); every
    /// console line is also written to `log`.
    pub fn start(qemu: Cmd, log: &Path) -> Result<Guest> {
        let mut log_file = File::create(log)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", log.display())))?;
        let mut child = qemu.spawn_piped()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Failed(
                "qemu started without console pipes".to_string(),
            ));
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match reader.read_until(b'\n', &mut raw) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let _ = log_file.write_all(&raw);
                let line = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Guest {
            child,
            stdin,
            lines,
            log: log.to_path_buf(),
        })
    }

    /// The next console line; `None` once qemu has closed the console. An
    /// error when `deadline` passes first (`waiting_for` says for what).
    pub fn line(&mut self, deadline: Instant, waiting_for: &str) -> Result<Option<String>> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(Error::Failed(format!(
                "timed out waiting for {waiting_for}; the console is in {}",
                self.log.display()
            ))),
        }
    }

    /// Send one line to the guest's console.
    pub fn answer(&mut self, line: &str) -> Result {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Error::Failed(format!("cannot write to the guest's console: {e}")))
    }

    /// Wait up to `limit` for qemu to exit (the guest powered off).
    pub fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    return Err(Error::Failed(format!(
                        "qemu did not exit within {} s after the guest's result",
                        limit.as_secs()
                    )))
                }
                Err(e) => return Err(Error::Failed(format!("waiting for qemu: {e}"))),
            }
        }
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A protocol line of `boards/vm/init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `booted kernel=R machine=M uptime=S`.
    Booted(&'a str),
    /// `nic eth0 52:54:00:..`.
    Nic {
        name: &'a str,
        mac: &'a str,
    },
    /// `ready uptime=S`: modules loaded, NICs up, the job starts.
    Ready(&'a str),
    /// `run CMD`: a command's output follows, up to `Rc`.
    Run(&'a str),
    /// `rc N`.
    Rc(i32),
    /// `phase NAME`: the guest waits for the host's `continue`.
    Phase(&'a str),
    /// `file NAME SIZE`: base64 lines follow, up to `EndFile`.
    File {
        name: &'a str,
        size: usize,
    },
    EndFile,
    /// `error TEXT`.
    GuestError(&'a str),
    /// `result rc=N`: the job is over; the guest powers off (or, with
    /// `--keep`, offers a shell first).
    Result(i32),
    /// `shell`: a shell runs on the console until the guest powers off.
    Shell,
}

/// The protocol message in a console line, if it holds one (a kernel
/// message may have been printed on the same line before it).
pub fn parse(line: &str) -> Option<Result<Message<'_>, String>> {
    let at = line.find(MARKER)?;
    let body = &line[at + MARKER.len()..];
    let (word, rest) = body.split_once(' ').unwrap_or((body, ""));
    let bad = || format!("malformed guest line `{body}`");
    let number = |s: &str| s.trim().parse::<i32>().map_err(|_| bad());
    Some(match word {
        "booted" => Ok(Message::Booted(rest)),
        "nic" => rest
            .split_once(' ')
            .map(|(name, mac)| Message::Nic { name, mac })
            .ok_or_else(bad),
        "ready" => Ok(Message::Ready(rest)),
        "run" => Ok(Message::Run(rest)),
        "rc" => number(rest).map(Message::Rc),
        "phase" => Ok(Message::Phase(rest)),
        "file" => rest
            .split_once(' ')
            .and_then(|(name, size)| {
                let size = size.trim().parse().ok()?;
                Some(Message::File { name, size })
            })
            .ok_or_else(bad),
        "end-file" => Ok(Message::EndFile),
        "error" => Ok(Message::GuestError(rest)),
        "shell" => Ok(Message::Shell),
        "result" => rest
            .strip_prefix("rc=")
            .ok_or_else(bad)
            .and_then(number)
            .map(Message::Result),
        _ => Err(bad()),
    })
}

/// Decode standard base64 (RFC 4648, with padding), as BusyBox `base64`
/// writes it; line breaks are the caller's business.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "base64 text of {} characters is not a multiple of 4",
            bytes.len()
        ));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.chunks(4);
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i != last) {
            return Err(format!("misplaced base64 padding in group {i}"));
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            let v = value(c).ok_or_else(|| {
                format!("character {:?} is not base64 (group {i})", char::from(c))
            })?;
            n = n << 6 | v;
        }
        n <<= 6 * pad as u32;
        let group = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&group[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_parse() {
        assert_eq!(
            parse("RINGTAP-VM nic eth0 52:54:00:72:74:00"),
            Some(Ok(Message::Nic {
                name: "eth0",
                mac: "52:54:00:72:74:00"
            }))
        );
        assert_eq!(
            parse("[    3.1] virtio_net: x RINGTAP-VM result rc=3"),
            Some(Ok(Message::Result(3)))
        );
        assert_eq!(
            parse("RINGTAP-VM file corpus.json 120"),
            Some(Ok(Message::File {
                name: "corpus.json",
                size: 120
            }))
        );
        assert_eq!(parse("RINGTAP-VM rc 0"), Some(Ok(Message::Rc(0))));
        assert_eq!(parse("RINGTAP-VM end-file"), Some(Ok(Message::EndFile)));
        assert_eq!(parse("ringtap 0.1.0"), None);
        assert!(matches!(parse("RINGTAP-VM rc zero"), Some(Err(_))));
        assert!(matches!(parse("RINGTAP-VM file x"), Some(Err(_))));
        assert!(matches!(parse("RINGTAP-VM bogus"), Some(Err(_))));
    }

    #[test]
    fn base64_round_trips_busybox_output() {
        // `printf '{"a":1}\n' | base64`
        assert_eq!(base64_decode("eyJhIjoxfQo=").unwrap(), b"{\"a\":1}\n");
        assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
        assert_eq!(base64_decode("TQ==").unwrap(), b"M");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("TQ=").is_err());
        assert!(base64_decode("TQ==TWFu").is_err());
        assert!(base64_decode("T!==").is_err());
    }
}
