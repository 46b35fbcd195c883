//! The host side of the simulated board's wires: a named network namespace
//! holding the tap devices qemu attaches the guest's NICs to. Nothing else
//! lives there and IPv6 is off, so the only frames on the taps are the
//! harness's and the guest's.

use std::fs;
use std::path::Path;

use crate::{Cmd, Error, Result};

const PREFIX: &str = "ringtap-vm-";
const NETNS_DIR: &str = "/run/netns";

/// A network namespace made for one run; deleted on drop (also when the
/// run fails). One left behind by a killed run is deleted by the next.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add ringtap-vm-<pid>-<tag>` after deleting the namespaces of
    /// earlier runs whose process is gone.
    pub fn create(tag: &str) -> Result<Netns> {
        remove_stale();
        let name = format!("{PREFIX}{}-{tag}", std::process::id());
        Cmd::new("ip").args(["netns", "add", &name]).run()?;
        let ns = Netns { name };
        ns.in_thread(quiet_ipv6)??;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> ARGS`.
    pub fn ip(&self, args: &[&str]) -> Cmd {
        Cmd::new("ip").args(["-n", &self.name]).args(args)
    }

    /// A persistent tap device, up, for qemu to attach to by name.
    pub fn add_tap(&self, name: &str) -> Result {
        self.ip(&["tuntap", "add", "dev", name, "mode", "tap"])
            .run()?;
        self.ip(&["link", "set", "dev", name, "up"]).run()
    }

    /// Run `body` on a thread that has moved into the namespace (the sockets
    /// it opens and the `/proc/sys/net` it sees are the namespace's).
    pub fn in_thread<T: Send>(&self, body: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| s.spawn(|| self.enter().map(|()| body())).join())
            .map_err(|_| Error::Failed(format!("a thread in namespace {} panicked", self.name)))?
    }

    /// Move the calling thread into the namespace (`setns(2)`, which
    /// affects only this thread).
    pub fn enter(&self) -> Result {
        enter(&self.name)
    }
}

/// Move the calling thread into the named network namespace
/// (`/run/netns/NAME`, as `ip netns add` makes it).
pub fn enter(name: &str) -> Result {
    let path = Path::new(NETNS_DIR).join(name);
    let file = fs::File::open(&path)
        .map_err(|e| Error::Failed(format!("cannot open {}: {e}", path.display())))?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&file),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| Error::Failed(format!("setns into {name}: {e}")))
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = Cmd::new("ip").args(["netns", "del", &self.name]).run() {
            eprintln!("warning: {e}; delete it with `ip netns del {}`", self.name);
        }
    }
}

/// IPv6 would send router solicitations and MLD reports on the taps.
fn quiet_ipv6() -> Result {
    for conf in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
        match fs::write(&path, "1") {
            Ok(()) => {}
            // A kernel without IPv6 sends none.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Failed(format!("cannot write 1 to {path}: {e}"))),
        }
    }
    Ok(())
}

/// Delete `ringtap-vm-<pid>-*` namespaces whose process no longer exists
/// (a run that was killed before it could clean up).
fn remove_stale() {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = stale_owner(&name) {
            if !Path::new("/proc").join(pid.to_string()).exists() {
                let _ = Cmd::new("ip").args(["netns", "del", &name]).run();
            }
        }
    }
}

/// The pid in a namespace name this harness made.
fn stale_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    rest.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_names_have_an_owner() {
        assert_eq!(stale_owner("ringtap-vm-4242-qemu-virt-armv7"), Some(4242));
        assert_eq!(stale_owner("ringtap-vm-x-qemu"), None);
        assert_eq!(stale_owner("other-4242"), None);
    }
}
