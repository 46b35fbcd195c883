//! The host's qemu-system for the simulation. An installed
//! `qemu-system-aarch64`/`qemu-system-arm` is used when there is one.
//! Otherwise Debian's `qemu-system-arm` and `qemu-system-data` are
//! downloaded and unpacked under `<target>/vm-cache/host-qemu`, not
//! installed: on Debian 12 with the backported `qemu-utils` (10.x), which
//! `Breaks: qemu-system-common (<< 8.0)`, installing bookworm's
//! qemu-system-arm 7.2 would remove `qemu-utils`. Only the libraries the
//! binaries link against are installed, as ordinary packages (see
//! [`library_packages`]). The unpacked binaries find their data files
//! (`share/qemu`) relative to themselves; nothing from
//! `qemu-system-common` is needed for the virt machines booted with
//! `-kernel`, `-nodefaults` and no option ROMs.

use std::path::{Path, PathBuf};

use super::fetch;
use crate::deps::{self, apt};
use crate::{target_dir, Cmd, Error, Result};

/// The emulators the boards use (`vm::board::Board::qemu_system`).
pub const PROGRAMS: [&str; 2] = ["qemu-system-aarch64", "qemu-system-arm"];

/// The Debian packages unpacked for the private copy.
const PACKAGES: [&str; 2] = ["qemu-system-arm", "qemu-system-data"];

/// Written last: the unpacked tree is complete.
const STAMP: &str = "unpacked";

fn cache_dir() -> PathBuf {
    target_dir().join("vm-cache").join("host-qemu")
}

fn private_program(name: &str) -> PathBuf {
    cache_dir().join("root").join("usr").join("bin").join(name)
}

/// Whether every emulator is installed on this machine.
fn installed() -> bool {
    PROGRAMS.iter().all(|p| deps::find_program(p).is_some())
}

/// Whether the private copy is unpacked.
fn unpacked() -> bool {
    cache_dir().join(STAMP).is_file() && PROGRAMS.iter().all(|p| private_program(p).is_file())
}

/// Whether the simulation has its emulators (installed or unpacked).
pub fn ready() -> bool {
    installed() || unpacked()
}

/// The emulator to run for `name` (one of [`PROGRAMS`]).
pub fn program(name: &str) -> PathBuf {
    deps::find_program(name).unwrap_or_else(|| private_program(name))
}

/// The packages the unpacked emulators need installed: what
/// `qemu-system-arm` depends on, less the qemu-system packages themselves.
pub fn library_packages() -> Result<Vec<String>> {
    Ok(apt::depends_of(PACKAGES[0])?
        .into_iter()
        .filter(|name| !name.starts_with("qemu-system-"))
        .collect())
}

/// Downloads and unpacks the private copy (its libraries must be installed
/// first), then checks that it runs.
pub fn unpack() -> Result {
    let dir = cache_dir();
    let arch = Cmd::new("dpkg")
        .arg("--print-architecture")
        .quiet()
        .output()?;
    let (apt, update) = fetch::PrivateApt::update(arch.trim(), &dir)?;
    if let Err(update) = update {
        println!("vm: warning: {update}; trying the download with the indexes apt did get");
    }
    let specs = PACKAGES.map(str::to_string);
    let debs = apt.download(&specs)?;
    let root = dir.join("root");
    fetch::remove_dir(&root)?;
    let mut stamp = String::new();
    for (package, deb) in PACKAGES.iter().zip(&debs) {
        stamp.push_str(&format!("{package} {}\n", fetch::deb_version(deb)?));
        Cmd::new("dpkg-deb").arg("-x").arg(deb).arg(&root).run()?;
    }
    fetch::remove_dir(&dir.join("debs"))?;
    for name in PROGRAMS {
        let version = Cmd::new(private_program(name))
            .arg("--version")
            .output()
            .map_err(|e| {
                Error::Failed(format!(
                    "the unpacked {name} does not run ({e}); its libraries are the packages \
                     `apt-cache depends qemu-system-arm` lists"
                ))
            })?;
        println!(
            "vm: {}: {}",
            shown(&private_program(name)),
            version.lines().next().unwrap_or("").trim()
        );
    }
    fetch::write(&dir.join(STAMP), &stamp)
}

fn shown(path: &Path) -> String {
    path.strip_prefix(crate::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_programs_live_in_the_cache() {
        for name in PROGRAMS {
            let path = private_program(name);
            assert!(path.starts_with(target_dir().join("vm-cache")), "{path:?}");
            assert!(path.ends_with(Path::new("usr/bin").join(name)), "{path:?}");
        }
    }
}
