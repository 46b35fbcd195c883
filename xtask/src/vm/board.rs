//! The emulated boards: the tier 1 boards, whose profile has a `[qemu]`
//! table (ringtap-board checks that it has, and its fields). The table says
//! how qemu models the board and which Debian kernel it boots; the
//! profile's `target` says which ringtap runs on it and so which
//! `qemu-system-*` emulates it.

use crate::build;
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

/// The tier of the boards the simulation runs.
const EMULATED_TIER: u8 = 1;

impl Board {
    /// The board `name`; a board without `[qemu]` is a usage error that
    /// says so.
    pub fn load(name: &str) -> Result<Board> {
        Board::of(&build::load_profile(name)?)
    }

    fn of(profile: &ringtap_board::Board) -> Result<Board> {
        let shown = format!("boards/{}/board.toml", profile.name);
        let Some(qemu) = &profile.qemu else {
            return Err(Error::Usage(format!(
                "board {} (tier {}) has no [qemu] table in {shown}, so it is not emulated; \
                 emulated boards: {}",
                profile.name,
                profile.tier,
                emulated_names()?.join(", ")
            )));
        };
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
            console: console(&qemu.machine).ok_or_else(|| {
                Error::Failed(format!(
                    "{shown}: `qemu.machine` is \"{}\"; the simulation knows the console \
                     of QEMU's `virt` machine only",
                    qemu.machine
                ))
            })?,
            machine: qemu.machine.clone(),
            cpu: qemu.cpu.clone(),
            memory_mib: qemu.memory_mib,
            kernel_package: qemu.kernel_package.clone(),
            debian_arch: qemu.debian_arch.clone(),
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
    for name in build::board_names() {
        if build::load_profile(name)?.tier == EMULATED_TIER {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// `--board NAME` of `cargo xtask vm`: an emulated board, which `--help`
/// and an error list.
pub fn emulated_name_parser() -> clap::builder::PossibleValuesParser {
    let emulated = build::board_names()
        .filter(|name| build::load_profile(name).is_ok_and(|p| p.tier == EMULATED_TIER));
    clap::builder::PossibleValuesParser::new(emulated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMV7: &str = include_str!("../../../boards/qemu-virt-armv7/board.toml");

    /// The qemu-virt-armv7 profile with `old` replaced by `new`.
    fn edited(old: &str, new: &str) -> ringtap_board::Board {
        assert!(ARMV7.contains(old), "{old:?}");
        ringtap_board::Board::parse(&ARMV7.replacen(old, new, 1), "test.toml").unwrap()
    }

    #[test]
    fn qemu_table_and_target_make_the_board() {
        let b = Board::load("qemu-virt-armv7").unwrap();
        assert_eq!(b.qemu_system, "qemu-system-arm");
        assert_eq!(b.machine, "virt,highmem=off");
        assert_eq!((b.cpu.as_str(), b.memory_mib), ("cortex-a7", 512));
        assert_eq!(b.kernel_package, "linux-image-armmp");
        assert_eq!((b.debian_arch.as_str(), b.console), ("armhf", "ttyAMA0"));
    }

    #[test]
    fn what_the_simulation_cannot_run_names_the_field() {
        let other_machine = Board::of(&edited("virt,highmem=off", "vexpress-a15")).unwrap_err();
        assert!(
            other_machine.to_string().contains("`qemu.machine`"),
            "{other_machine}"
        );
        let mut x86 = build::load_profile("qemu-virt-armv7").unwrap();
        x86.target = "x86_64-unknown-linux-gnu".to_string();
        let x86 = Board::of(&x86).unwrap_err();
        assert!(x86.to_string().contains("`target`"), "{x86}");
        let none = Board::load("rpi4");
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
    }
}
