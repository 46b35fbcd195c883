//! Installing Debian packages without surprises: apt is asked first
//! (`apt-get -s`) what an install would do, and an install that would
//! remove a package the machine has is refused unless the user allowed it.
//! The install itself runs with `--no-remove` unless removals are allowed,
//! so apt cannot remove anything behind the simulation's back either.

use crate::{Cmd, Error, Result};

/// `apt-get install` of exactly `packages`, without Recommends (every
/// package a step needs is named in the deps tables), non-interactive.
fn install_cmd(packages: &[&str], simulate: bool, allow_remove: bool) -> Cmd {
    let mut cmd = Cmd::new("apt-get");
    if simulate {
        cmd = cmd.arg("-s").quiet();
    }
    cmd = cmd.args(["install", "-y", "--no-install-recommends"]);
    if !allow_remove {
        cmd = cmd.arg("--no-remove");
    }
    cmd.args(packages).env("DEBIAN_FRONTEND", "noninteractive")
}

/// The packages an `apt-get -s install` transcript removes (`Remv NAME
/// [VERSION]` lines), in the order apt lists them.
pub fn removals(simulation: &str) -> Vec<String> {
    simulation
        .lines()
        .filter_map(|line| line.strip_prefix("Remv "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// What apt would remove to install `packages`.
fn simulate(packages: &[&str]) -> Result<Vec<String>> {
    // With `--no-remove` apt refuses outright, so ask without it and read
    // the transcript.
    let (status, transcript) = install_cmd(packages, true, true).output_any_status()?;
    if !status.success() {
        return Err(Error::Failed(format!(
            "apt-get cannot install {} ({status}; its message is above): check the Debian \
             sources in /etc/apt and run `apt-get update`",
            packages.join(" ")
        )));
    }
    Ok(removals(&transcript))
}

/// Why an install is refused: which of the wanted packages make apt remove
/// which installed ones, and what the user can do.
pub fn refusal(culprits: &[(String, Vec<String>)], removed: &[String]) -> String {
    let mut why = String::from("installing the missing Debian packages would remove ");
    why.push_str(&removed.join(" "));
    why.push_str(", which this machine has (apt-get -s says so):");
    for (package, removes) in culprits {
        why.push_str(&format!("\n    {package} -> removes {}", removes.join(" ")));
    }
    why.push_str(
        "\ncargo xtask deps does not remove packages unless told to: run \
         `cargo xtask deps --allow-remove` (or `cargo xtask test --allow-remove`) to accept \
         the removal, or install the packages yourself",
    );
    why
}

/// Installs `packages` (all of them missing): refused with [`refusal`]'s
/// message when apt would remove something and `allow_remove` is false.
pub fn install(packages: &[&str], allow_remove: bool) -> Result {
    check_removals(packages, allow_remove)?;
    install_cmd(packages, false, allow_remove).run()
}

/// Asks apt what installing `packages` would remove: an error naming the
/// culprits unless nothing or `allow_remove`.
fn check_removals(packages: &[&str], allow_remove: bool) -> Result {
    let removed = simulate(packages)?;
    if !removed.is_empty() {
        if !allow_remove {
            let mut culprits = Vec::new();
            for package in packages {
                let removes = simulate(&[package])?;
                if !removes.is_empty() {
                    culprits.push((package.to_string(), removes));
                }
            }
            return Err(Error::Failed(refusal(&culprits, &removed)));
        }
        println!(
            "deps: apt will remove {} (allowed by --allow-remove)",
            removed.join(" ")
        );
    }
    Ok(())
}

/// The packages a package `Depends` on (first alternative of each),
/// from `apt-cache depends` of the candidate version.
pub fn depends_of(package: &str) -> Result<Vec<String>> {
    let listing = Cmd::new("apt-cache")
        .args([
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
        ])
        .arg(package)
        .quiet()
        .output()?;
    Ok(parse_depends(&listing))
}

/// `apt-cache depends` output: `  Depends: NAME`, `  PreDepends: NAME`,
/// `  |Depends: NAME` for an alternative that has a next one (only the
/// first of a group is taken), `<virtual>` names skipped.
fn parse_depends(listing: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut in_alternatives = false;
    for line in listing.lines() {
        let line = line.trim();
        let (alternative, rest) = match line.strip_prefix('|') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let Some(name) = rest
            .strip_prefix("Depends:")
            .or_else(|| rest.strip_prefix("PreDepends:"))
            .map(str::trim)
        else {
            continue;
        };
        let first_of_group = !in_alternatives;
        in_alternatives = alternative;
        if first_of_group && !name.starts_with('<') && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_are_the_remv_lines() {
        let transcript = "NOTE: This is only a simulation!\n\
                          Remv qemu-utils [1:10.0.2+ds-2+deb13u1~bpo12+1]\n\
                          Inst qemu-system-common (1:7.2+dfsg-7+deb12u18+b3 Debian:12.12/stable [amd64])\n\
                          Remv foo [1.0]\n\
                          Conf qemu-system-common (1:7.2+dfsg-7+deb12u18+b3 Debian:12.12/stable [amd64])\n";
        assert_eq!(removals(transcript), ["qemu-utils", "foo"]);
        assert!(removals("Inst a (1 Debian:12 [amd64])\nConf a (1)\n").is_empty());
    }

    #[test]
    fn refusal_names_culprits_and_the_way_out() {
        let culprits = vec![(
            "qemu-system-arm".to_string(),
            vec!["qemu-utils".to_string()],
        )];
        let why = refusal(&culprits, &["qemu-utils".to_string()]);
        assert!(why.contains("would remove qemu-utils"), "{why}");
        assert!(
            why.contains("qemu-system-arm -> removes qemu-utils"),
            "{why}"
        );
        assert!(why.contains("--allow-remove"), "{why}");
    }

    #[test]
    fn simulated_and_real_installs_differ_only_where_they_must() {
        let shown = install_cmd(&["tcpdump", "cpio"], false, false).shown();
        assert_eq!(
            shown,
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
             --no-remove tcpdump cpio"
        );
        let shown = install_cmd(&["tcpdump"], false, true).shown();
        assert!(!shown.contains("--no-remove"), "{shown}");
        let shown = install_cmd(&["tcpdump"], true, true).shown();
        assert!(shown.contains("apt-get -s install"), "{shown}");
    }

    /// Against this machine's apt, in simulation only: on a Debian 12 with
    /// the backported qemu-utils 10.x, bookworm's qemu-system-arm would
    /// remove it, and that must be refused.
    #[test]
    fn a_removing_install_is_refused_before_apt_runs() {
        if crate::deps::find_program("apt-get").is_none() {
            println!("SKIPPED: no apt-get here");
            return;
        }
        let Ok(removed) = simulate(&["qemu-system-arm"]) else {
            println!("SKIPPED: apt cannot resolve qemu-system-arm here");
            return;
        };
        if removed.is_empty() {
            println!("SKIPPED: installing qemu-system-arm removes nothing on this machine");
            return;
        }
        let Err(Error::Failed(why)) = check_removals(&["qemu-system-arm"], false) else {
            panic!("installing qemu-system-arm would remove {removed:?}, yet it was allowed");
        };
        assert!(
            why.contains(&format!("qemu-system-arm -> removes {}", removed[0])),
            "{why}"
        );
        assert!(check_removals(&["qemu-system-arm"], true).is_ok());
    }

    #[test]
    fn depends_take_the_first_alternative() {
        let listing = "qemu-system-arm\n  Depends: libaio1\n  PreDepends: libc6\n  \
                       |Depends: libgl1\n  Depends: libgl1-mesa\n  Depends: <virtual-x>\n  \
                       Depends: libaio1\n  Depends: zlib1g\nqemu-system-data\n";
        assert_eq!(
            parse_depends(listing),
            ["libaio1", "libc6", "libgl1", "zlib1g"]
        );
    }
}
