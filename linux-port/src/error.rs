//! Errors from kernel calls, with the call, the option, the errno and advice.

use core::fmt;
use rustix::io::Errno;

/// A failed kernel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    call: &'static str,
    option: Option<&'static str>,
    errno: Errno,
}

/// Result of a kernel call.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(call: &'static str, option: Option<&'static str>, errno: Errno) -> Error {
        Error {
            call,
            option,
            errno,
        }
    }

    /// The system call (`setsockopt`, `mmap`, `bind`, ...).
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// The option or request, if the call takes one (`PACKET_RX_RING`, ...).
    pub fn option(&self) -> Option<&'static str> {
        self.option
    }

    /// The errno.
    pub fn errno(&self) -> Errno {
        self.errno
    }

    /// What usually fixes this errno for this call.
    pub fn advice(&self) -> Option<&'static str> {
        let e = self.errno;
        Some(if e == Errno::NOPROTOOPT {
            "the kernel does not implement this packet socket option: it needs CONFIG_PACKET \
             with PACKET_MMAP, and emulators such as qemu-user do not pass SOL_PACKET options \
             through (run on a real or fully emulated kernel)"
        } else if e == Errno::NOMEM {
            "the kernel could not allocate the ring: use smaller blocks or fewer of them"
        } else if e == Errno::PERM || e == Errno::ACCESS {
            self.missing_capability()
        } else if e == Errno::AFNOSUPPORT {
            "the kernel has no AF_PACKET support (CONFIG_PACKET)"
        } else if e == Errno::BUSY {
            "this option must be set before the ring is set up and mapped"
        } else if e == Errno::INVAL
            && matches!(self.option, Some("PACKET_RX_RING" | "PACKET_TX_RING"))
        {
            "the kernel refused the ring geometry: `ringtap plan` names the rule"
        } else if e == Errno::INVAL && self.option == Some("PACKET_HDRLEN") {
            "the ring was judged for another kernel word size than the running kernel's, \
             which shapes TPACKET_V1 headers (see ringtap_linux::kernel_word)"
        } else if e == Errno::NODEV || e == Errno::NXIO {
            "no such network interface (deleted, or in another namespace)"
        } else if e == Errno::NETDOWN {
            "the interface is down: bring it up with `ip link set DEV up`"
        } else if e == Errno::MSGSIZE {
            "a frame is longer than the interface MTU allows"
        } else {
            return None;
        })
    }
}

impl Error {
    /// Which capability an `EPERM`/`EACCES` from this call means is missing.
    fn missing_capability(&self) -> &'static str {
        let option = self.option.unwrap_or("");
        match self.call {
            "socket" if option == "AF_PACKET" || option.is_empty() => {
                "packet sockets need CAP_NET_RAW: run as root or grant it"
            }
            "netlink" | "socket" if option.starts_with("RTM_") || option == "AF_NETLINK" => {
                "changing traffic control needs CAP_NET_ADMIN: run as root or grant it"
            }
            "setsockopt" if option.ends_with("FORCE") => {
                "socket buffers beyond net.core.wmem_max/rmem_max need CAP_NET_ADMIN"
            }
            "ioctl" if option.starts_with("ETHTOOL_S") || option == "SIOCSIFFLAGS" => {
                "changing an interface needs CAP_NET_ADMIN: run as root or grant it"
            }
            "prctl" if option.starts_with("PR_CAPBSET_DROP") => {
                "dropping capabilities from the bounding set needs CAP_SETPCAP"
            }
            "setresuid" => "switching user needs CAP_SETUID",
            "setresgid" | "setgroups" => "switching group needs CAP_SETGID",
            _ => {
                "this needs CAP_NET_RAW (packet sockets) or CAP_NET_ADMIN (interface and \
                 socket buffer changes): run as root or grant the capability"
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.option {
            Some(opt) => write!(f, "{}({opt}) failed: {}", self.call, self.errno)?,
            None => write!(f, "{} failed: {}", self.call, self.errno)?,
        }
        if let Some(advice) = self.advice() {
            write!(f, " ({advice})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_call_option_errno_and_advice() {
        let e = Error::new("setsockopt", Some("PACKET_RX_RING"), Errno::NOMEM);
        let s = e.to_string();
        assert!(s.starts_with("setsockopt(PACKET_RX_RING) failed: "), "{s}");
        assert!(s.contains("smaller blocks"), "{s}");
        let e = Error::new("setsockopt", Some("PACKET_VERSION"), Errno::NOPROTOOPT);
        assert!(e.to_string().contains("qemu-user"));
        let e = Error::new("socket", None, Errno::PERM);
        assert!(e.to_string().contains("CAP_NET_RAW"));
        let e = Error::new("setsockopt", Some("SO_SNDBUFFORCE"), Errno::PERM);
        assert!(e.to_string().contains("need CAP_NET_ADMIN"), "{e}");
        let e = Error::new("ioctl", Some("ETHTOOL_SGRO"), Errno::PERM);
        assert!(
            e.to_string()
                .contains("changing an interface needs CAP_NET_ADMIN"),
            "{e}"
        );
        let e = Error::new("setresuid", Some("CAP_SETUID"), Errno::PERM);
        assert!(e.to_string().contains("needs CAP_SETUID"), "{e}");
        let e = Error::new("setsockopt", Some("PACKET_RX_RING"), Errno::INVAL);
        assert!(e.to_string().contains("ringtap plan"));
        let e = Error::new("getsockopt", Some("PACKET_HDRLEN"), Errno::INVAL);
        assert!(e.to_string().contains("another kernel word size"), "{e}");
        assert_eq!(Error::new("x", None, Errno::AGAIN).advice(), None);
    }
}
