//! Giving up what a process that parses traffic no longer needs: other
//! users' identities, capabilities, the right to gain privileges, and all
//! system calls but the ones ringtap makes after it has set up.
//!
//! [`confine`] does it in the kernel's order: drop capabilities from the
//! bounding set (needs `CAP_SETPCAP`, so while still privileged), switch to
//! another user keeping the permitted capabilities (`PR_SET_KEEPCAPS`),
//! reduce the permitted and effective sets, set `no_new_privs`, then
//! install the seccomp filter on every thread (`SECCOMP_FILTER_FLAG_TSYNC`).
//! Credentials are per thread in the kernel: call it before starting
//! threads, which inherit all of it.

use rustix::io::Errno;
use rustix::process::{Gid, Uid};
pub use rustix::thread::CapabilitySet;

use ringtap_core::bpf::Instruction;
use ringtap_core::seccomp::{self, ArgRule, Filter};

use crate::error::{Error, Result};
use crate::sys;

/// What to keep and what to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confinement {
    /// The capabilities to keep (permitted and effective); every other one
    /// also leaves the bounding set.
    pub keep: CapabilitySet,
    /// Become this user and group (after `setgroups` to that group alone).
    pub user: Option<(u32, u32)>,
    /// Install the seccomp allow-list ([`allow_list`]).
    pub seccomp: bool,
    /// Let the allow-list open `AF_NETLINK` sockets (to turn the fail-open
    /// bypass on at exit).
    pub netlink: bool,
}

/// The `CAP_*` names of a set, for messages.
pub fn capability_names(set: CapabilitySet) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (flag, name) in [
        (CapabilitySet::NET_RAW, "CAP_NET_RAW"),
        (CapabilitySet::NET_ADMIN, "CAP_NET_ADMIN"),
        (CapabilitySet::SYS_NICE, "CAP_SYS_NICE"),
        (CapabilitySet::SETUID, "CAP_SETUID"),
        (CapabilitySet::SETGID, "CAP_SETGID"),
        (CapabilitySet::SETPCAP, "CAP_SETPCAP"),
    ] {
        if set.contains(flag) {
            names.push(name);
        }
    }
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The capabilities of the calling thread: `(effective, permitted)`.
pub fn capabilities() -> Result<(CapabilitySet, CapabilitySet)> {
    let sets = rustix::thread::capabilities(None).map_err(|e| Error::new("capget", None, e))?;
    Ok((sets.effective, sets.permitted))
}

/// Give up everything `c` does not keep (see the module documentation).
pub fn confine(c: &Confinement) -> Result<()> {
    let (_, permitted) = capabilities()?;
    let keep = c.keep & permitted;
    // The bounding set first, while CAP_SETPCAP is still effective.
    if permitted.contains(CapabilitySet::SETPCAP) {
        for bit in 0..64u32 {
            let Some(cap) = CapabilitySet::from_bits(1 << bit) else {
                continue;
            };
            if keep.contains(cap) {
                continue;
            }
            match rustix::thread::remove_capability_from_bounding_set(cap) {
                // Bits the running kernel does not know.
                Ok(()) | Err(Errno::INVAL) => {}
                Err(e) => {
                    return Err(Error::new(
                        "prctl",
                        Some("PR_CAPBSET_DROP (needs CAP_SETPCAP)"),
                        e,
                    ))
                }
            }
        }
    }
    if let Some((uid, gid)) = c.user {
        rustix::thread::set_keep_capabilities(true)
            .map_err(|e| Error::new("prctl", Some("PR_SET_KEEPCAPS"), e))?;
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        rustix::thread::set_thread_groups(&[gid])
            .map_err(|e| Error::new("setgroups", Some("CAP_SETGID"), e))?;
        rustix::thread::set_thread_res_gid(gid, gid, gid)
            .map_err(|e| Error::new("setresgid", Some("CAP_SETGID"), e))?;
        rustix::thread::set_thread_res_uid(uid, uid, uid)
            .map_err(|e| Error::new("setresuid", Some("CAP_SETUID"), e))?;
        rustix::thread::set_keep_capabilities(false)
            .map_err(|e| Error::new("prctl", Some("PR_SET_KEEPCAPS"), e))?;
    }
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(|e| Error::new("capset", None, e))?;
    rustix::thread::set_no_new_privs(true)
        .map_err(|e| Error::new("prctl", Some("PR_SET_NO_NEW_PRIVS"), e))?;
    if c.seccomp {
        let mut buf = [Instruction::stmt(0, 0); 256];
        let program = allow_list(&mut buf, c.netlink)
            .map_err(|_| Error::new("seccomp", Some("SECCOMP_SET_MODE_FILTER"), Errno::INVAL))?;
        sys::install_seccomp(program)
            .map_err(|e| Error::new("seccomp", Some("SECCOMP_SET_MODE_FILTER"), e))?;
    }
    Ok(())
}

/// `AUDIT_ARCH_*` of the system calls this build makes.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xc000_003e;
/// `AUDIT_ARCH_*` of the system calls this build makes.
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_*` of the system calls this build makes.
#[cfg(target_arch = "arm")]
pub const AUDIT_ARCH: u32 = 0x4000_0028;

/// On x86_64, numbers from `__X32_SYSCALL_BIT` up are the x32 ABI's.
#[cfg(target_arch = "x86_64")]
const NR_LIMIT: Option<u32> = Some(0x4000_0000);
#[cfg(not(target_arch = "x86_64"))]
const NR_LIMIT: Option<u32> = None;

macro_rules! nrs {
    ($($name:ident),* $(,)?) => {
        [$(linux_raw_sys::general::$name),*]
    };
}

/// What every mode calls after set-up: memory, threads, time, signals,
/// the ring sockets (re-opening a port included) and interface queries,
/// files (stats, captures), sd_notify.
const COMMON: [u32; 55] = nrs![
    __NR_read,
    __NR_write,
    __NR_writev,
    __NR_readv,
    __NR_pread64,
    __NR_pwrite64,
    __NR_close,
    __NR_openat,
    __NR_statx,
    __NR_lseek,
    __NR_munmap,
    __NR_mprotect,
    __NR_madvise,
    __NR_mremap,
    __NR_brk,
    __NR_futex,
    __NR_sched_yield,
    __NR_clock_gettime,
    __NR_clock_nanosleep,
    __NR_nanosleep,
    __NR_rt_sigaction,
    __NR_rt_sigprocmask,
    __NR_rt_sigreturn,
    __NR_sigaltstack,
    __NR_getpid,
    __NR_gettid,
    __NR_tgkill,
    __NR_exit,
    __NR_exit_group,
    __NR_getrandom,
    __NR_restart_syscall,
    __NR_prctl,
    __NR_clone,
    __NR_clone3,
    __NR_set_robust_list,
    __NR_set_tid_address,
    __NR_rseq,
    __NR_sched_getaffinity,
    __NR_sched_setaffinity,
    __NR_ppoll,
    __NR_bind,
    __NR_setsockopt,
    __NR_getsockopt,
    __NR_sendto,
    __NR_sendmsg,
    __NR_recvfrom,
    __NR_ioctl,
    __NR_renameat2,
    __NR_unlinkat,
    __NR_linkat,
    __NR_fsync,
    __NR_fdatasync,
    __NR_fchmod,
    __NR_uname,
    __NR_capget,
];

#[cfg(target_arch = "x86_64")]
const ARCH_SPECIFIC: [u32; 13] = nrs![
    __NR_newfstatat,
    __NR_fstat,
    __NR_mmap,
    __NR_poll,
    __NR_rename,
    __NR_renameat,
    __NR_unlink,
    __NR_fcntl,
    __NR_ftruncate,
    __NR_getuid,
    __NR_geteuid,
    __NR_getgid,
    __NR_getegid,
];
#[cfg(target_arch = "aarch64")]
const ARCH_SPECIFIC: [u32; 10] = nrs![
    __NR_newfstatat,
    __NR_fstat,
    __NR_mmap,
    __NR_renameat,
    __NR_fcntl,
    __NR_ftruncate,
    __NR_getuid,
    __NR_geteuid,
    __NR_getgid,
    __NR_getegid,
];
#[cfg(target_arch = "arm")]
const ARCH_SPECIFIC: [u32; 25] = nrs![
    __NR_fstatat64,
    __NR_fstat64,
    __NR_mmap2,
    __NR_futex_time64,
    __NR_clock_gettime64,
    __NR_clock_nanosleep_time64,
    __NR_ppoll_time64,
    __NR_poll,
    __NR_rename,
    __NR_renameat,
    __NR_unlink,
    __NR_fcntl,
    __NR_fcntl64,
    __NR_ftruncate64,
    __NR__llseek,
    __NR_sigreturn,
    __NR_getuid32,
    __NR_geteuid32,
    __NR_getgid32,
    __NR_getegid32,
    __ARM_NR_set_tls,
    __NR_send,
    __NR_recv,
    __NR_fstat,
    __NR_ftruncate,
];

/// `socket(2)` only for packet sockets (rings), `AF_INET` (interface
/// queries), `AF_UNIX` (sd_notify) and, when asked, `AF_NETLINK` (the
/// bypass).
const SOCKET_FAMILIES: [u32; 4] = [
    linux_raw_sys::net::AF_PACKET,
    linux_raw_sys::net::AF_INET,
    linux_raw_sys::net::AF_UNIX,
    linux_raw_sys::net::AF_NETLINK,
];

/// The seccomp program ringtap runs under after set-up, written into `buf`;
/// `netlink` also allows rtnetlink sockets.
pub fn allow_list(
    buf: &mut [Instruction],
    netlink: bool,
) -> core::result::Result<&[Instruction], seccomp::SeccompError> {
    let mut allow = [0u32; COMMON.len() + ARCH_SPECIFIC.len()];
    allow[..COMMON.len()].copy_from_slice(&COMMON);
    allow[COMMON.len()..].copy_from_slice(&ARCH_SPECIFIC);
    let families = if netlink {
        &SOCKET_FAMILIES[..]
    } else {
        &SOCKET_FAMILIES[..3]
    };
    let rules = [ArgRule {
        nr: linux_raw_sys::general::__NR_socket,
        values: families,
    }];
    seccomp::build(
        &Filter {
            arch: AUDIT_ARCH,
            nr_limit: NR_LIMIT,
            allow: &allow,
            allow_arg0: &rules,
            arg0_low: Filter::ARG0_LOW_NATIVE,
        },
        buf,
    )
}

/// `(uid, gid)` of `user`: a name from `/etc/passwd`, a number, or
/// `UID:GID`.
pub fn lookup_user(user: &str) -> core::result::Result<(u32, u32), String> {
    if let Some((u, g)) = user.split_once(':') {
        let (Ok(u), Ok(g)) = (u.parse(), g.parse()) else {
            return Err(format!("'{user}': UID:GID must be two numbers"));
        };
        return Ok((u, g));
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("cannot read /etc/passwd to find user '{user}': {e}"))?;
    let by_number = user.parse::<u32>().ok();
    for line in passwd.lines() {
        let mut f = line.split(':');
        let (Some(name), _, Some(uid), Some(gid)) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) else {
            continue;
        };
        if name == user || by_number == Some(uid) {
            return Ok((uid, gid));
        }
    }
    match by_number {
        Some(uid) => Ok((uid, uid)),
        None => Err(format!("no user '{user}' in /etc/passwd")),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use ringtap_core::bpf::{run, Ancillary};

    fn verdict(prog: &[Instruction], nr: u32, arg0: u32) -> u32 {
        // `bpf::run` loads words in network order.
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_be_bytes());
        d[4..8].copy_from_slice(&AUDIT_ARCH.to_be_bytes());
        let at = Filter::ARG0_LOW_NATIVE as usize;
        d[at..at + 4].copy_from_slice(&arg0.to_be_bytes());
        run(prog, &d, &Ancillary::default())
    }

    #[test]
    fn test_the_allow_list_builds_and_decides() {
        let mut buf = [Instruction::stmt(0, 0); 256];
        let prog = allow_list(&mut buf, false).unwrap();
        use linux_raw_sys::general as g;
        for nr in [g::__NR_read, g::__NR_sendto, g::__NR_ppoll, g::__NR_clone3] {
            assert_eq!(verdict(prog, nr, 0), seccomp::RET_ALLOW, "{nr}");
        }
        for nr in [
            g::__NR_execve,
            g::__NR_ptrace,
            g::__NR_mount,
            g::__NR_connect,
        ] {
            assert_eq!(verdict(prog, nr, 0), seccomp::RET_KILL_PROCESS, "{nr}");
        }
        assert_eq!(
            verdict(prog, g::__NR_socket, linux_raw_sys::net::AF_PACKET),
            seccomp::RET_ALLOW
        );
        assert_eq!(
            verdict(prog, g::__NR_socket, linux_raw_sys::net::AF_NETLINK),
            seccomp::RET_KILL_PROCESS
        );
        let mut buf = [Instruction::stmt(0, 0); 256];
        let prog = allow_list(&mut buf, true).unwrap();
        assert_eq!(
            verdict(prog, g::__NR_socket, linux_raw_sys::net::AF_NETLINK),
            seccomp::RET_ALLOW
        );
    }

    #[test]
    fn test_users_by_name_number_and_pair() {
        assert_eq!(lookup_user("0:0"), Ok((0, 0)));
        assert_eq!(lookup_user("root"), Ok((0, 0)));
        assert_eq!(lookup_user("65534:65534"), Ok((65534, 65534)));
        assert!(lookup_user("x:y").is_err());
        assert!(lookup_user("no-such-user-here").is_err());
    }

    #[test]
    fn test_names_of_capabilities() {
        assert_eq!(
            capability_names(CapabilitySet::NET_RAW | CapabilitySet::NET_ADMIN),
            "CAP_NET_RAW, CAP_NET_ADMIN"
        );
        assert_eq!(capability_names(CapabilitySet::empty()), "none");
    }
}
