//! `cargo xtask deps`: find what this machine lacks for the tests and the
//! demo, install it when running as root, and otherwise print the exact
//! commands to run.

use std::path::{Path, PathBuf};

use crate::{is_root, Cmd, Error, Result};

const HELP: &str = "\
Usage: cargo xtask deps

Checks for the rustup components and targets, the Debian packages and the
crates.io tools that `cargo xtask test` needs. As root, installs what is
missing (rustup, apt-get, then cargo install); otherwise prints the commands
to run and fails.
";

/// A Debian package and the programs we use from it (looked for on `PATH`
/// when `dpkg-query` is not available).
#[derive(Debug)]
pub struct Package {
    name: &'static str,
    programs: &'static [&'static str],
}

const QEMU_USER_STATIC: Package = Package {
    name: "qemu-user-static",
    programs: &["qemu-aarch64-static", "qemu-arm-static"],
};
const GCC_ARM: Package = Package {
    name: "gcc-arm-linux-gnueabihf",
    programs: &["arm-linux-gnueabihf-gcc"],
};
const IPROUTE2: Package = Package {
    name: "iproute2",
    programs: &["ip"],
};
const ETHTOOL: Package = Package {
    name: "ethtool",
    programs: &["ethtool"],
};
const TCPDUMP: Package = Package {
    name: "tcpdump",
    programs: &["tcpdump"],
};
const TSHARK: Package = Package {
    name: "tshark",
    programs: &["tshark"],
};
const NETSNIFF_NG: Package = Package {
    name: "netsniff-ng",
    programs: &["netsniff-ng", "trafgen"],
};
const UTIL_LINUX: Package = Package {
    name: "util-linux",
    programs: &["unshare", "taskset"],
};
const MOUNT: Package = Package {
    name: "mount",
    programs: &["mount", "umount"],
};
const PROCPS: Package = Package {
    name: "procps",
    programs: &["sysctl", "kill"],
};
const BINUTILS: Package = Package {
    name: "binutils",
    programs: &["strip"],
};
const BINUTILS_AARCH64: Package = Package {
    name: "binutils-aarch64-linux-gnu",
    programs: &["aarch64-linux-gnu-strip"],
};
const FILE: Package = Package {
    name: "file",
    programs: &["file"],
};
const QEMU_SYSTEM_ARM: Package = Package {
    name: "qemu-system-arm",
    programs: &["qemu-system-aarch64", "qemu-system-arm"],
};
const CPIO: Package = Package {
    name: "cpio",
    programs: &["cpio"],
};
/// Buildroot's check-package (the `check-package` test step) imports the
/// `magic` and `flake8` modules and runs shellcheck on init scripts. The
/// modules are no programs: without dpkg they are not looked for.
const PYTHON3_MAGIC: Package = Package {
    name: "python3-magic",
    programs: &[],
};
const PYTHON3_FLAKE8: Package = Package {
    name: "python3-flake8",
    programs: &[],
};
const SHELLCHECK: Package = Package {
    name: "shellcheck",
    programs: &["shellcheck"],
};
/// The dist tests check the systemd unit with `systemd-analyze verify` and
/// the tarball's tmpfiles.d file with `systemd-tmpfiles --root`.
const SYSTEMD: Package = Package {
    name: "systemd",
    programs: &["systemd-analyze", "systemd-tmpfiles"],
};

/// A program installed from crates.io with `cargo install` (looked for on
/// `PATH` and in cargo's own `bin` directory).
#[derive(Debug)]
pub struct CargoTool {
    /// `crate@version requirement`, as `cargo install` takes it.
    spec: &'static str,
    program: &'static str,
}

/// Decodes the `defmt` build's log frames (wire format version 4 is
/// defmt-print 1.x).
const DEFMT_PRINT: CargoTool = CargoTool {
    spec: "defmt-print@^1",
    program: "defmt-print",
};

/// What a task needs from the machine.
#[derive(Debug)]
pub struct Needs {
    components: &'static [&'static str],
    targets: &'static [&'static str],
    packages: &'static [Package],
    tools: &'static [CargoTool],
}

/// Everything `cargo xtask test` uses.
pub const FOR_TEST: Needs = Needs {
    components: &["rustfmt", "clippy"],
    targets: &[
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
    ],
    packages: &[
        QEMU_USER_STATIC,
        GCC_ARM,
        IPROUTE2,
        ETHTOOL,
        TCPDUMP,
        TSHARK,
        NETSNIFF_NG,
        UTIL_LINUX,
        QEMU_SYSTEM_ARM,
        CPIO,
        SYSTEMD,
        PYTHON3_MAGIC,
        PYTHON3_FLAKE8,
        SHELLCHECK,
    ],
    tools: &[DEFMT_PRINT],
};

/// What `cargo xtask build --board` and `dist` use: the cross targets and
/// linkers, a `strip` per target, `file` to check the binary is static, and
/// qemu-user to run it.
pub const FOR_BUILD: Needs = Needs {
    components: &[],
    targets: &[
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
    ],
    packages: &[QEMU_USER_STATIC, GCC_ARM, BINUTILS, BINUTILS_AARCH64, FILE],
    tools: &[],
};

/// What `cargo xtask vm` uses: the ARM targets for the guest's ringtap
/// (armv7 links with Debian's cross gcc), qemu-system, cpio for the
/// initramfs and iproute2 for the namespace and taps. (apt-get and dpkg-deb,
/// which fetch the guest's Debian packages, come with any Debian system.)
pub const FOR_VM: Needs = Needs {
    components: &[],
    targets: &[
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
    ],
    packages: &[QEMU_SYSTEM_ARM, CPIO, GCC_ARM, IPROUTE2],
    tools: &[],
};

/// What `cargo xtask demo` uses besides the host toolchain.
pub const FOR_DEMO: Needs = Needs {
    components: &[],
    targets: &[],
    packages: &[IPROUTE2, UTIL_LINUX],
    tools: &[],
};

/// What `cargo xtask bench` runs: trafgen and netsniff-ng, tcpdump, `ip`
/// for the namespaces and the bridge, `taskset`, `ethtool`, `sysctl`,
/// `kill`, and `mount`/`umount` for the capture files' tmpfs.
pub const FOR_BENCH: Needs = Needs {
    components: &[],
    targets: &[],
    packages: &[
        IPROUTE2,
        UTIL_LINUX,
        ETHTOOL,
        NETSNIFF_NG,
        TCPDUMP,
        PROCPS,
        MOUNT,
    ],
    tools: &[],
};

pub fn run(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        None => ensure(&FOR_TEST),
        Some("-h" | "--help") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(Error::Usage(format!(
            "unexpected argument `{other}` for `cargo xtask deps`"
        ))),
    }
}

#[derive(Debug, Default, PartialEq)]
struct Missing {
    components: Vec<&'static str>,
    targets: Vec<&'static str>,
    packages: Vec<&'static str>,
    /// `cargo install` specs.
    tools: Vec<&'static str>,
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.components.is_empty()
            && self.targets.is_empty()
            && self.packages.is_empty()
            && self.tools.is_empty()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.components.is_empty() {
            parts.push(format!("rustup components: {}", self.components.join(" ")));
        }
        if !self.targets.is_empty() {
            parts.push(format!("rustup targets: {}", self.targets.join(" ")));
        }
        if !self.packages.is_empty() {
            parts.push(format!("Debian packages: {}", self.packages.join(" ")));
        }
        if !self.tools.is_empty() {
            parts.push(format!("crates.io tools: {}", self.tools.join(" ")));
        }
        parts.join("; ")
    }

    /// The commands that install what is missing, each with whether it
    /// needs root (apt-get does, rustup works on the user's own toolchains).
    fn install_commands(&self) -> Vec<(bool, Cmd)> {
        let mut cmds = Vec::new();
        if !self.components.is_empty() {
            cmds.push((false, rustup_add("component", &self.components)));
        }
        if !self.targets.is_empty() {
            cmds.push((false, rustup_add("target", &self.targets)));
        }
        if !self.packages.is_empty() {
            cmds.push((true, Cmd::new("apt-get").arg("update")));
            let install = Cmd::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&self.packages)
                .env("DEBIAN_FRONTEND", "noninteractive");
            cmds.push((true, install));
        }
        if !self.tools.is_empty() {
            let install = Cmd::cargo().args(["install", "--locked"]).args(&self.tools);
            cmds.push((false, install));
        }
        cmds
    }

    /// The install commands as a non-root user types them (`sudo` keeps
    /// a `VAR=value` given after it, unlike one given before it).
    fn instructions(&self) -> Vec<String> {
        let line = |(needs_root, cmd): (bool, Cmd)| {
            let sudo = if needs_root { "sudo " } else { "" };
            format!("{sudo}{}", cmd.shown())
        };
        self.install_commands().into_iter().map(line).collect()
    }
}

/// Makes sure everything in `needs` is present: installs it as root,
/// otherwise prints the commands to run and fails.
pub fn ensure(needs: &Needs) -> Result {
    let missing = find_missing(needs)?;
    if missing.is_empty() {
        println!("deps: everything needed is installed");
        return Ok(());
    }
    println!("deps: missing {}", missing.describe());
    if !is_root() {
        println!("deps: not running as root; run these commands, then try again:");
        for line in missing.instructions() {
            println!("    {line}");
        }
        return Err(Error::Failed(
            "missing dependencies: run the commands above, then try again".to_string(),
        ));
    }
    if !missing.packages.is_empty() && find_program("apt-get").is_none() {
        return Err(Error::Failed(format!(
            "no apt-get on this machine: install the equivalents of the Debian packages {} yourself",
            missing.packages.join(" ")
        )));
    }
    for (_, cmd) in missing.install_commands() {
        cmd.run()?;
    }
    let still_missing = find_missing(needs)?;
    if still_missing.is_empty() {
        println!("deps: everything needed is now installed");
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "still missing after installing: {}",
            still_missing.describe()
        )))
    }
}

/// `rustup <kind> add NAMES`, for the toolchain that runs xtask (rustup's
/// proxy sets `RUSTUP_TOOLCHAIN`) when that is not simply the default one.
fn rustup_add(kind: &str, names: &[&str]) -> Cmd {
    let cmd = Cmd::new("rustup").args([kind, "add"]);
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").unwrap_or_default();
    let source = std::env::var("RUSTUP_TOOLCHAIN_SOURCE").unwrap_or_default();
    let cmd = if toolchain.is_empty() || source == "default" {
        cmd
    } else {
        cmd.args(["--toolchain", &toolchain])
    };
    cmd.args(names)
}

fn find_missing(needs: &Needs) -> Result<Missing> {
    let mut missing = Missing::default();
    if !needs.components.is_empty() || !needs.targets.is_empty() {
        if find_program("rustup").is_none() {
            return Err(Error::Failed(
                "rustup not found on PATH: the ARM targets, rustfmt and clippy are installed \
                 with rustup (https://rustup.rs); add ~/.cargo/bin to PATH or install it"
                    .to_string(),
            ));
        }
        let installed = Cmd::new("rustup")
            .args(["component", "list", "--installed"])
            .output()?;
        missing.components = not_in_list(needs.components, &installed, true);
        let installed = Cmd::new("rustup")
            .args(["target", "list", "--installed"])
            .output()?;
        missing.targets = not_in_list(needs.targets, &installed, false);
    }
    missing.packages = missing_packages(needs.packages)?;
    missing.tools = needs
        .tools
        .iter()
        .filter(|t| find_program(t.program).is_none())
        .map(|t| t.spec)
        .collect();
    Ok(missing)
}

/// The wanted names that are not a line of `list`; with `host_suffix`, a
/// line may also be the name followed by `-<host triple>` (as rustup lists
/// components: `clippy-x86_64-unknown-linux-gnu`).
fn not_in_list(wanted: &[&'static str], list: &str, host_suffix: bool) -> Vec<&'static str> {
    let listed = |name: &str| {
        list.lines().map(str::trim).any(|line| {
            line == name
                || (host_suffix
                    && line
                        .strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('-')))
        })
    };
    wanted
        .iter()
        .copied()
        .filter(|name| !listed(name))
        .collect()
}

fn missing_packages(packages: &[Package]) -> Result<Vec<&'static str>> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    if find_program("dpkg-query").is_none() {
        // Not Debian: judge by the programs we actually run.
        let absent = |p: &&Package| p.programs.iter().any(|prog| find_program(prog).is_none());
        return Ok(packages.iter().filter(absent).map(|p| p.name).collect());
    }
    // Exits non-zero when a package is unknown, but still lists the known ones.
    let (_, listed) = Cmd::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Status}\\n"])
        .args(packages.iter().map(|p| p.name))
        .output_any_status()?;
    Ok(packages
        .iter()
        .map(|p| p.name)
        .filter(|name| !dpkg_says_installed(&listed, name))
        .collect())
}

/// Whether `dpkg-query -W -f='${Package} ${Status}\n'` output has `name` as
/// installed (status `install ok installed`, `hold ok installed`, ...).
fn dpkg_says_installed(listed: &str, name: &str) -> bool {
    listed.lines().any(|line| {
        let mut words = line.split_whitespace();
        words
            .next()
            .is_some_and(|pkg| pkg.split(':').next() == Some(name))
            && words.last() == Some("installed")
    })
}

/// Looks `program` up on `PATH`, in the sbin directories a non-root user's
/// `PATH` often lacks (Debian puts `ethtool` there), and in the directory
/// `cargo install` puts programs in.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .chain(cargo_bin_dir())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// `$CARGO_HOME/bin`, by default `~/.cargo/bin`.
fn cargo_bin_dir() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    Some(home.join("bin"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_with_host_suffix() {
        let installed = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n\
                         rust-std-aarch64-unknown-linux-musl\n";
        assert_eq!(
            not_in_list(&["rustfmt", "clippy"], installed, true),
            ["rustfmt"]
        );
        let targets = "aarch64-unknown-linux-musl\nx86_64-unknown-linux-gnu\n";
        assert_eq!(
            not_in_list(FOR_TEST.targets, targets, false),
            ["armv7-unknown-linux-gnueabihf"]
        );
    }

    #[test]
    fn dpkg_status_must_end_in_installed() {
        let listed = "iproute2 install ok installed\n\
                      tcpdump deinstall ok config-files\n\
                      qemu-user-static:amd64 hold ok installed\n\
                      ethtool install ok half-installed\n";
        assert!(dpkg_says_installed(listed, "iproute2"));
        assert!(dpkg_says_installed(listed, "qemu-user-static"));
        assert!(!dpkg_says_installed(listed, "tcpdump"));
        assert!(!dpkg_says_installed(listed, "ethtool"));
        assert!(!dpkg_says_installed(listed, "netsniff-ng"));
    }

    #[test]
    fn non_root_is_told_the_exact_commands() {
        let missing = Missing {
            components: vec!["clippy"],
            targets: vec![],
            packages: vec!["ethtool", "tcpdump"],
            tools: vec!["defmt-print@^1"],
        };
        let lines = missing.instructions();
        assert!(lines[0].starts_with("rustup component add "));
        assert!(lines[0].ends_with(" clippy"));
        assert_eq!(
            lines[1..],
            [
                "sudo apt-get update",
                "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                 ethtool tcpdump",
                "cargo install --locked 'defmt-print@^1'",
            ]
        );
    }
}
