//! Acceptance (issue 15): every ring rule has one home, in ringtap-core, and
//! every system probe one home, in ringtap-linux. The appliance and xtask
//! only ask them; this reads their sources for the arithmetic and the system
//! reads they used to do by hand.

use std::fs;
use std::path::{Path, PathBuf};

/// Text that computes a ring number or probes the system itself, and where
/// its one home is.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "block_size /",
        "the frame count: RingRequest::tiled / geometry::frame_nr",
    ),
    (
        "/ frame_size",
        "the frame count: RingRequest::tiled / geometry::frame_nr",
    ),
    (
        "* block_nr",
        "the frame count: RingRequest::tiled / geometry::frame_nr",
    ),
    (
        "block_nr *",
        "the frame count: RingRequest::tiled / geometry::frame_nr",
    ),
    (
        "TPACKET_ALIGN",
        "offsets: ringtap_core::geometry::Layout / room",
    ),
    ("tp_sizeof_priv +", "the receive room: Layout::rx_room"),
    (
        "/proc/sys/kernel/arch",
        "the kernel word: ringtap_linux::system::kernel_word",
    ),
    ("/proc/meminfo", "system facts: ringtap_linux::system"),
    ("/proc/self/auxv", "the page size: ringtap_linux::system"),
    (
        ".set_rx_ring(",
        "the open sequence: ringtap_linux::RingSocketBuilder",
    ),
    (
        ".set_tx_ring(",
        "the open sequence: ringtap_linux::RingSocketBuilder",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line: what comes before a `//` comment, without its
/// string literals (help texts may name the kernel's words).
fn code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut prev = '\0';
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' && prev != '\\' {
            in_string = !in_string;
        } else if !in_string {
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            out.push(c);
        }
        prev = c;
    }
    out
}

#[test]
fn appliance_and_xtask_leave_ring_rules_to_core_and_probes_to_linux_port() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["appliance/src", "xtask/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 20,
        "too few sources found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            let code = code(line);
            for (pattern, home) in FORBIDDEN {
                if code.contains(pattern) {
                    found.push(format!(
                        "{}:{}: `{pattern}` belongs in {home}",
                        file.strip_prefix(&root).unwrap_or(file).display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "ring rules outside their home:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_forbids() {
    let line = "    let n = g.block_size / g.frame_size * g.block_nr; // frames";
    assert!(code(line).contains("block_size /"));
    assert!(!code("    // block_size / frame_size").contains("block_size /"));
    assert!(!code(r#"    help("block_size / frame_size")"#).contains("block_size /"));
}
