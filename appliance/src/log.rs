//! Messages for people, on stderr.
//!
//! By default each message is one line of text prefixed `ringtap:`. With the
//! `defmt` feature each message is a defmt log frame instead (rzcobs-encoded,
//! frames separated by zero bytes), which `defmt-print -e <unstripped ELF>`
//! turns back into text on the host.
//!
//! Either way a message never allocates, so a worker may log from the data
//! path (it only does on rare events: a port lost or found again). A failed
//! write is ignored: logging must not stop forwarding.

use std::fmt::Arguments;

/// Something happened that the operator should know about.
pub fn info(args: Arguments<'_>) {
    #[cfg(not(feature = "defmt"))]
    text::line("", args);
    #[cfg(feature = "defmt")]
    defmt::info!("{}", defmt::Display2Format(&args));
}

/// Something is wrong but forwarding goes on.
pub fn warn(args: Arguments<'_>) {
    #[cfg(not(feature = "defmt"))]
    text::line("warning: ", args);
    #[cfg(feature = "defmt")]
    defmt::warn!("{}", defmt::Display2Format(&args));
}

#[cfg(not(feature = "defmt"))]
mod text {
    use std::fmt::Arguments;
    use std::io::Write;

    pub fn line(level: &str, args: Arguments<'_>) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_fmt(format_args!("ringtap: {level}{args}\n"));
    }
}

/// The defmt global logger: frames to file descriptor 2.
///
/// `Display2Format` streams the message text into the frame (ended by a
/// 0xff byte, which UTF-8 never contains), so there is no length to know in
/// advance and nothing to truncate. The encoded bytes collect in a buffer
/// of the logging thread and go out with one `write(2)` per frame, or per
/// `CAPACITY` bytes of a longer one; a process-wide lock keeps the pieces
/// of one frame together when threads log at the same time.
#[cfg(feature = "defmt")]
mod frame {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Encoded bytes buffered before a `write(2)`: a one-line message fits,
    /// the multi-line counters report (SIGUSR1) may take two writes.
    const CAPACITY: usize = 1024;

    /// Held from `acquire` to `release` by the thread writing a frame.
    static STREAM_BUSY: AtomicBool = AtomicBool::new(false);

    struct Frame {
        open: bool,
        encoder: defmt::Encoder,
        out: Pending,
    }

    struct Pending {
        bytes: [u8; CAPACITY],
        len: usize,
    }

    impl Pending {
        fn push(&mut self, mut data: &[u8]) {
            while !data.is_empty() {
                if self.len == CAPACITY {
                    self.flush();
                }
                let n = data.len().min(CAPACITY - self.len);
                self.bytes[self.len..self.len + n].copy_from_slice(&data[..n]);
                self.len += n;
                data = &data[n..];
            }
        }

        /// Writes out what is pending; bytes the kernel refuses are
        /// dropped (the decoder resynchronises on the next zero byte).
        fn flush(&mut self) {
            let mut rest = &self.bytes[..self.len];
            while !rest.is_empty() {
                match rustix::io::write(std::io::stderr(), rest) {
                    Ok(0) => break,
                    Ok(n) => rest = &rest[n..],
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => break,
                }
            }
            self.len = 0;
        }
    }

    thread_local! {
        static FRAME: RefCell<Frame> = const {
            RefCell::new(Frame {
                open: false,
                encoder: defmt::Encoder::new(),
                out: Pending { bytes: [0; CAPACITY], len: 0 },
            })
        };
    }

    #[defmt::global_logger]
    struct Stderr;

    // SAFETY: the execution context is a thread. `acquire` is thread-safe:
    // it tracks the acquisition in the thread's own `FRAME` (acquiring twice
    // panics) and takes `STREAM_BUSY` until `release`, so frames of
    // different threads never interleave on fd 2. No signal handler logs
    // (signals only set flags), so `acquire` is never re-entered from one.
    #[allow(unsafe_code)]
    unsafe impl defmt::Logger for Stderr {
        fn acquire() {
            FRAME.with_borrow_mut(|f| {
                // The trait requires a panic here rather than a deadlock.
                assert!(!f.open, "defmt logger acquired twice on one thread");
                while STREAM_BUSY
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    // The holder may be blocked in write(2): let it run.
                    std::thread::yield_now();
                }
                f.open = true;
                let Frame { encoder, out, .. } = f;
                encoder.start_frame(|b| out.push(b));
            });
        }

        unsafe fn flush() {
            FRAME.with_borrow_mut(|f| f.out.flush());
        }

        unsafe fn release() {
            FRAME.with_borrow_mut(|f| {
                let Frame { encoder, out, .. } = f;
                encoder.end_frame(|b| out.push(b));
                out.flush();
                f.open = false;
            });
            STREAM_BUSY.store(false, Ordering::Release);
        }

        unsafe fn write(bytes: &[u8]) {
            FRAME.with_borrow_mut(|f| {
                let Frame { encoder, out, .. } = f;
                encoder.write(bytes, |b| out.push(b));
            });
        }
    }

    /// Microseconds on the monotonic clock (since boot, like the kernel
    /// log's timestamps).
    fn monotonic_us() -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (t.tv_sec as u64)
            .saturating_mul(1_000_000)
            .saturating_add(t.tv_nsec as u64 / 1_000)
    }

    defmt::timestamp!("{=u64:us}", monotonic_us());
}
