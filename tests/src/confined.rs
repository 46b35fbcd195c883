//! What `/proc/PID/task/*/status` says of a confined ringtap process.

/// `CAP_NET_ADMIN` and `CAP_NET_RAW` (bits 12 and 13).
pub const NET_ADMIN_AND_RAW: u64 = (1 << 12) | (1 << 13);

/// The value of `name:` in a `/proc/.../status` text.
pub fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

/// Every thread of `pid` holds no capability outside `allowed` (effective,
/// permitted, bounding), has no_new_privs and a seccomp filter, and, when
/// `uid` is given, runs as that user. Returns how many threads there are.
pub fn assert_confined(pid: u32, allowed: u64, uid: Option<u32>) -> usize {
    let dir = format!("/proc/{pid}/task");
    let mut threads = 0;
    for entry in std::fs::read_dir(&dir).expect("task dir") {
        let path = entry.expect("task entry").path().join("status");
        let status = std::fs::read_to_string(&path).expect("status");
        let shown = path.display();
        threads += 1;
        for set in ["CapEff", "CapPrm", "CapBnd"] {
            let caps = u64::from_str_radix(field(&status, set), 16).expect("hex");
            assert_eq!(caps & !allowed, 0, "{shown}: {set} {caps:x}");
        }
        assert_eq!(field(&status, "NoNewPrivs"), "1", "{shown}");
        assert_eq!(field(&status, "Seccomp"), "2", "{shown}");
        if let Some(uid) = uid {
            let uids: Vec<&str> = field(&status, "Uid").split_whitespace().collect();
            assert!(
                uids.iter().all(|u| *u == uid.to_string()),
                "{shown}: Uid {uids:?}"
            );
        }
    }
    threads
}
