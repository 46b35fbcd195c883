//! The first input byte picks a classic pcap magic (taken modulo 4:
//! microseconds or nanoseconds, little- or big-endian); the rest is the
//! file after its magic. See `capture_check.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringtap_core::pcap::{MAGIC_NSEC, MAGIC_USEC};

mod capture_check;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let magic = match pick % 4 {
        0 => MAGIC_USEC.to_le_bytes(),
        1 => MAGIC_USEC.to_be_bytes(),
        2 => MAGIC_NSEC.to_le_bytes(),
        _ => MAGIC_NSEC.to_be_bytes(),
    };
    capture_check::check(&[&magic[..], rest].concat());
});
