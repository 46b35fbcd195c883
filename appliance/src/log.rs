//! Messages for people: one line each on stderr, prefixed `ringtap:`.
//!
//! Writes are unbuffered and never allocate, so a worker may log from the
//! data path (it only does on rare events: a port lost or found again).
//! A failed write is ignored: logging must not stop forwarding.

use std::fmt::Arguments;
use std::io::Write;

fn line(level: &str, args: Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(format_args!("ringtap: {level}{args}\n"));
}

/// Something happened that the operator should know about.
pub fn info(args: Arguments<'_>) {
    line("", args);
}

/// Something is wrong but forwarding goes on.
pub fn warn(args: Arguments<'_>) {
    line("warning: ", args);
}
