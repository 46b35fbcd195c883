//! The emulated boards: every board whose `boards/<name>/board.toml` has a
//! `[qemu]` table (the tier 1 boards). The table says how qemu models the
//! board and which Debian kernel it boots; the profile's `target` says
//! which ringtap runs on it and so which `qemu-system-*` emulates it.

use crate::build::{self, Profile};
use crate::{Error, Result};

/// An emulated board, as its profile describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub rust_target: String,
    pub qemu_system: &'static str,
    /// `[qemu] machine`, `cpu`, `memory_mib`.
    pub machine: String,
    pub cpu: String,
    pub memory_mib: u32,
    /// `[qemu] kernel_package`: the Debian kernel metapackage; it depends
    /// on the versioned image.
    pub kernel_package: String,
    /// `[qemu] debian_arch`.
    pub debian_arch: String,
    /// The serial console (the virt machine's PL011).
    pub console: &'static str,
}

/// The tier of the boards the simulation runs (`build::Profile::tier`).
const EMULATED_TIER: u8 = 1;

impl Board {
    /// Reads `boards/<name>/board.toml`; a board without `[qemu]` is an
    /// error that says so.
    pub fn load(name: &str) -> Result<Board> {
        let profile = Profile::load(name)?;
        let text = std::fs::read_to_string(&profile.path)
            .map_err(|e| Error::Failed(format!("cannot read {}: {e}", profile.path.display())))?;
        Board::parse(&profile, &text)
    }

    fn parse(profile: &Profile, text: &str) -> Result<Board> {
        let shown = format!("boards/{}/board.toml", profile.name);
        let table: toml::Table = text
            .parse()
            .map_err(|e| Error::Failed(format!("{shown}: not valid TOML: {e}")))?;
        let Some(qemu) = table.get("qemu") else {
            return Err(Error::Usage(format!(
                "board {} (tier {}) has no [qemu] table in {shown}, so it is not emulated; \
                 emulated boards: {}",
                profile.name,
                profile.tier,
                emulated_names()?.join(", ")
            )));
        };
        let qemu = qemu
            .as_table()
            .ok_or_else(|| Error::Failed(format!("{shown}: `qemu` must be a table")))?;
        let string = |key: &str| {
            qemu.get(key)
                .and_then(toml::Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::Failed(format!("{shown}: `qemu.{key}` must be a non-empty string"))
                })
        };
        let memory_mib = qemu
            .get("memory_mib")
            .and_then(toml::Value::as_integer)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "{shown}: `qemu.memory_mib` must be a positive whole number of MiB"
                ))
            })?;
        let machine = string("machine")?;
        Ok(Board {
            name: profile.name.clone(),
            rust_target: profile.target.clone(),
            qemu_system: qemu_system(&profile.target).ok_or_else(|| {
                Error::Failed(format!(
                    "{shown}: `target` is {}, which the simulation cannot emulate (it runs \
                     aarch64 and armv7 boards)",
                    profile.target
                ))
            })?,
            console: console(&machine).ok_or_else(|| {
                Error::Failed(format!(
                    "{shown}: `qemu.machine` is \"{machine}\"; the simulation knows the console \
                     of QEMU's `virt` machine only"
                ))
            })?,
            machine,
            cpu: string("cpu")?,
            memory_mib,
            kernel_package: string("kernel_package")?,
            debian_arch: string("debian_arch")?,
        })
    }
}

/// The qemu that runs a Rust target's code.
fn qemu_system(target: &str) -> Option<&'static str> {
    match target.split('-').next()? {
        "aarch64" => Some("qemu-system-aarch64"),
        "armv7" => Some("qemu-system-arm"),
        _ => None,
    }
}

/// The kernel's name for the machine's serial console.
fn console(machine: &str) -> Option<&'static str> {
    let model = machine.split(',').next()?;
    (model == "virt").then_some("ttyAMA0")
}

/// Every emulated board (tier 1), sorted; each must load as a [`Board`].
pub fn emulated_names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for name in build::board_names()? {
        if Profile::load(&name)?.tier == EMULATED_TIER {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, tier: u8, target: &str) -> Profile {
        Profile {
            name: name.to_string(),
            tier,
            target: target.to_string(),
            binary_budget: 1 << 20,
            path: format!("boards/{name}/board.toml").into(),
        }
    }

    const QEMU: &str = "[qemu]\nmachine = \"virt,highmem=off\"\ncpu = \"cortex-a7\"\n\
                        memory_mib = 512\nkernel_package = \"linux-image-armmp\"\n\
                        debian_arch = \"armhf\"\n";

    #[test]
    fn qemu_table_and_target_make_the_board() {
        let p = profile("b", 1, "armv7-unknown-linux-gnueabihf");
        let b = Board::parse(&p, QEMU).unwrap();
        assert_eq!(b.qemu_system, "qemu-system-arm");
        assert_eq!(b.machine, "virt,highmem=off");
        assert_eq!((b.cpu.as_str(), b.memory_mib), ("cortex-a7", 512));
        assert_eq!(b.kernel_package, "linux-image-armmp");
        assert_eq!((b.debian_arch.as_str(), b.console), ("armhf", "ttyAMA0"));
    }

    #[test]
    fn bad_tables_name_the_field() {
        let p = profile("b", 1, "armv7-unknown-linux-gnueabihf");
        let bad = |text: &str| Board::parse(&p, text).unwrap_err().to_string();
        assert!(
            bad(&QEMU.replace("512", "0")).contains("`qemu.memory_mib`"),
            "{}",
            bad(&QEMU.replace("512", "0"))
        );
        assert!(bad(&QEMU.replace("cpu = \"cortex-a7\"\n", "")).contains("`qemu.cpu`"));
        let other_machine = bad(&QEMU.replace("virt,highmem=off", "vexpress-a15"));
        assert!(other_machine.contains("`qemu.machine`"), "{other_machine}");
        let x86 = Board::parse(&profile("b", 1, "x86_64-unknown-linux-gnu"), QEMU).unwrap_err();
        assert!(x86.to_string().contains("`target`"), "{x86}");
        let none = Board::parse(&profile("b", 2, "aarch64-unknown-linux-musl"), "tier = 2\n");
        assert!(matches!(none, Err(Error::Usage(ref m)) if m.contains("no [qemu] table")));
    }

    #[test]
    fn every_tier_one_board_is_emulated() {
        let names = emulated_names().unwrap();
        for board in ["qemu-virt-aarch64", "qemu-virt-armv7"] {
            assert!(names.iter().any(|n| n == board), "{board} in {names:?}");
        }
        for name in &names {
            let board = Board::load(name).unwrap();
            assert_eq!(&board.name, name);
        }
        assert!(matches!(Board::load("rpi4"), Err(Error::Usage(_))));
    }
}
