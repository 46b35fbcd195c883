//! The input, as UTF-8 text, is a pcap-filter expression for
//! `ringtap_core::filter`. The compiler must not panic; a program it
//! returns must pass `bpf::validate` and `bpf::check_runnable` and end in
//! `bpf::run` with 0 or `ACCEPT` on a few frames (untagged, with a stripped
//! tag, truncated); an error must point into the text or just past it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringtap_core::bpf::{self, Ancillary};
use ringtap_core::filter::{Program, ACCEPT};

/// An IPv4/TCP frame to port 80 with an 0x9100 tag in the frame.
const TAGGED_TCP: [u8; 58] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x91, 0x00, 0x00, 0x0a, 0x08, 0x00,
    0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x41, 0, 80, 0,
    0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut program = Program::new();
    match program.compile(text) {
        Ok(instructions) => {
            assert_eq!(bpf::validate(instructions), Ok(()), "{text:?}");
            assert_eq!(bpf::check_runnable(instructions), Ok(()), "{text:?}");
            let stripped = Ancillary {
                vlan_tci: Some(0x2064),
                vlan_tpid: 0x88a8,
                ..Ancillary::default()
            };
            for (frame, anc) in [
                (&TAGGED_TCP[..], Ancillary::default()),
                (&TAGGED_TCP[4..], stripped),
                (&TAGGED_TCP[..30], Ancillary::default()),
            ] {
                let anc = Ancillary {
                    len: frame.len() as u32,
                    ..anc
                };
                let verdict = bpf::run(instructions, frame, &anc);
                assert!(verdict == 0 || verdict == ACCEPT, "{text:?}: {verdict}");
            }
        }
        Err(e) => {
            let chars = text.chars().count();
            assert!(e.column >= 1 && e.column <= chars + 1, "{text:?}: {e}");
            assert!(e.len >= 1 && e.column + e.len <= chars + 2, "{text:?}: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
});
