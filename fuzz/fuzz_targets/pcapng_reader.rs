//! The input is a pcapng file without its first 4 bytes (the section
//! header block type, which the target puts back), so every input starts a
//! section. See `capture_check.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringtap_core::pcapng::BLOCK_SECTION_HEADER;

mod capture_check;

fuzz_target!(|data: &[u8]| {
    capture_check::check(&[&BLOCK_SECTION_HEADER.to_le_bytes()[..], data].concat());
});
