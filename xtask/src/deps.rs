//! `cargo xtask deps`: find what this machine lacks for the tests and the
//! demo, install it when running as root, and otherwise print the exact
//! commands to run. Every Debian package a step uses is named in the tables
//! below (apt runs with `--no-install-recommends`, so nothing may be left
//! to a Recommends); an install that would remove a package is refused
//! unless allowed ([`apt`]); the cross toolchains are proven by building
//! and running a program ([`probe`]); the declared minimum Rust version is
//! installed as a toolchain of its own for the `msrv` test step.

pub mod apt;
mod probe;

use std::path::{Path, PathBuf};

use crate::vm::qemu;
use crate::{is_root, workspace_root, Cmd, Error, Result};

/// `cargo xtask deps --help`, above the options.
pub const ABOUT: &str = "\
Checks for the rustup components, targets and toolchains, the Debian
packages and the crates.io tools that `cargo xtask test` needs, and proves
each cross toolchain by linking a small static program and running it
under qemu-user. As root, installs what is missing (rustup, apt-get without
Recommends, cargo install); otherwise prints the commands to run and fails.

Before installing, apt is asked what it would do (`apt-get -s`). If it
would remove an installed package, nothing is installed and the packages
responsible are named, unless --allow-remove is given.";

/// The options of `cargo xtask deps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Let apt remove packages that conflict with the ones needed
    #[arg(long)]
    allow_remove: bool,
}

/// How [`ensure_with`] may change the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options {
    /// Let apt remove installed packages that conflict with needed ones.
    pub allow_remove: bool,
}

/// A Debian package and the programs we use from it (looked for on `PATH`
/// when `dpkg-query` is not available).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
/// The armhf C library's startup files and `libc.a`, which the static
/// armv7 link needs; only a Recommends of gcc-arm-linux-gnueabihf.
const LIBC6_DEV_ARMHF_CROSS: Package = Package {
    name: "libc6-dev-armhf-cross",
    programs: &[],
};
/// `arm-linux-gnueabihf-strip` (a Depends of the cross gcc, named because
/// `build` runs it).
const BINUTILS_ARM: Package = Package {
    name: "binutils-arm-linux-gnueabihf",
    programs: &["arm-linux-gnueabihf-strip"],
};
const IPROUTE2: Package = Package {
    name: "iproute2",
    programs: &["ip", "tc"],
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
    programs: &["unshare", "taskset", "setpriv"],
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
const CPIO: Package = Package {
    name: "cpio",
    programs: &["cpio"],
};
/// The font the bench's PNG plots are labelled with.
const FONTS_DEJAVU_CORE: Package = Package {
    name: "fonts-dejavu-core",
    programs: &[],
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
/// The metrics test parses `--metrics-file` with Prometheus' own parser.
const PYTHON3_PROMETHEUS_CLIENT: Package = Package {
    name: "python3-prometheus-client",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The cross targets: every board's binary and the core's tests under
/// qemu-user.
const ARM_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
];

/// What a task needs from the machine.
#[derive(Debug)]
pub struct Needs {
    components: &'static [&'static str],
    /// rustup targets; each one is also proven with a static program run
    /// under qemu-user.
    targets: &'static [&'static str],
    packages: &'static [Package],
    tools: &'static [CargoTool],
    /// The toolchain of the workspace's `rust-version`, with the targets.
    msrv_toolchain: bool,
    /// qemu-system-aarch64 and qemu-system-arm, installed or unpacked
    /// ([`qemu`]).
    qemu_system: bool,
}

/// Everything `cargo xtask test` uses, for all of its steps: fmt and clippy
/// (components), unit and netns (tcpdump, tshark, netsniff-ng, ethtool,
/// iproute2, util-linux, mount (a small tmpfs to fill), defmt-print), msrv
/// (the old toolchain), arm (targets, qemu-user, the armv7 cross gcc and C
/// library), boards (what `build` needs) and vm (what the simulation
/// needs).
pub const FOR_TEST: Needs = Needs {
    components: &["rustfmt", "clippy"],
    targets: ARM_TARGETS,
    packages: &[
        QEMU_USER_STATIC,
        GCC_ARM,
        LIBC6_DEV_ARMHF_CROSS,
        BINUTILS_ARM,
        BINUTILS,
        BINUTILS_AARCH64,
        FILE,
        IPROUTE2,
        ETHTOOL,
        TCPDUMP,
        TSHARK,
        NETSNIFF_NG,
        UTIL_LINUX,
        MOUNT,
        PROCPS,
        CPIO,
        FONTS_DEJAVU_CORE,
        SYSTEMD,
        PYTHON3_MAGIC,
        PYTHON3_FLAKE8,
        SHELLCHECK,
        PYTHON3_PROMETHEUS_CLIENT,
    ],
    tools: &[DEFMT_PRINT],
    msrv_toolchain: true,
    qemu_system: true,
};

/// What `cargo xtask build --board` and `dist` use: the cross targets and
/// linkers (with the armhf C library), a `strip` per target, `file` to
/// check the binary is static, and qemu-user to run it.
pub const FOR_BUILD: Needs = Needs {
    components: &[],
    targets: ARM_TARGETS,
    packages: &[
        QEMU_USER_STATIC,
        GCC_ARM,
        LIBC6_DEV_ARMHF_CROSS,
        BINUTILS_ARM,
        BINUTILS,
        BINUTILS_AARCH64,
        FILE,
    ],
    tools: &[],
    msrv_toolchain: false,
    qemu_system: false,
};

/// What `cargo xtask vm` uses: the ARM targets for the guest's ringtap
/// (armv7 links with Debian's cross gcc and C library), qemu-system, cpio
/// for the initramfs, iproute2 for the namespace and taps, and tcpdump to
/// read the guest's capture. (apt-get and dpkg-deb, which fetch the guest's
/// Debian packages, come with any Debian system.)
pub const FOR_VM: Needs = Needs {
    components: &[],
    targets: ARM_TARGETS,
    packages: &[
        QEMU_USER_STATIC,
        GCC_ARM,
        LIBC6_DEV_ARMHF_CROSS,
        BINUTILS_ARM,
        BINUTILS,
        BINUTILS_AARCH64,
        FILE,
        CPIO,
        IPROUTE2,
        TCPDUMP,
    ],
    tools: &[],
    msrv_toolchain: false,
    qemu_system: true,
};

/// What `cargo xtask demo` uses besides the host toolchain.
pub const FOR_DEMO: Needs = Needs {
    components: &[],
    targets: &[],
    packages: &[IPROUTE2, UTIL_LINUX],
    tools: &[],
    msrv_toolchain: false,
    qemu_system: false,
};

/// What `cargo xtask bench` runs: trafgen and netsniff-ng, tcpdump, `ip`
/// for the namespaces and the bridge, `taskset`, `ethtool`, `sysctl`,
/// `kill`, `mount`/`umount` for the capture files' tmpfs, and a font for
/// the plots.
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
        FONTS_DEJAVU_CORE,
    ],
    tools: &[],
    msrv_toolchain: false,
    qemu_system: false,
};

pub fn run(args: &Args) -> Result {
    let options = Options {
        allow_remove: args.allow_remove,
    };
    ensure_with(&FOR_TEST, options)
}

/// The minimum Rust version the workspace declares
/// (`[workspace.package] rust-version` in the root `Cargo.toml`).
pub fn msrv() -> Result<String> {
    let path = workspace_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    msrv_of(&text).ok_or_else(|| {
        Error::Failed(format!(
            "{}: no `rust-version` string in [workspace.package]",
            path.display()
        ))
    })
}

fn msrv_of(manifest: &str) -> Option<String> {
    let table: toml::Table = manifest.parse().ok()?;
    let version = table
        .get("workspace")?
        .get("package")?
        .get("rust-version")?
        .as_str()?;
    Some(version.to_string())
}

#[derive(Debug, Default, PartialEq)]
struct Missing {
    components: Vec<&'static str>,
    targets: Vec<&'static str>,
    /// The MSRV toolchain when it is not installed at all, and the targets
    /// it lacks.
    msrv_toolchain: Option<String>,
    msrv_targets: Vec<&'static str>,
    packages: Vec<String>,
    /// `cargo install` specs.
    tools: Vec<&'static str>,
    /// qemu-system is neither installed nor unpacked.
    qemu_system: bool,
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.components.is_empty()
            && self.targets.is_empty()
            && self.msrv_toolchain.is_none()
            && self.msrv_targets.is_empty()
            && self.packages.is_empty()
            && self.tools.is_empty()
            && !self.qemu_system
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.components.is_empty() {
            parts.push(format!("rustup components: {}", self.components.join(" ")));
        }
        if !self.targets.is_empty() {
            parts.push(format!("rustup targets: {}", self.targets.join(" ")));
        }
        if let Some(msrv) = &self.msrv_toolchain {
            parts.push(format!("the Rust {msrv} toolchain (the declared minimum)"));
        }
        if !self.msrv_targets.is_empty() {
            parts.push(format!(
                "rustup targets of the minimum toolchain: {}",
                self.msrv_targets.join(" ")
            ));
        }
        if !self.packages.is_empty() {
            parts.push(format!("Debian packages: {}", self.packages.join(" ")));
        }
        if !self.tools.is_empty() {
            parts.push(format!("crates.io tools: {}", self.tools.join(" ")));
        }
        if self.qemu_system {
            parts.push(
                "qemu-system-aarch64/qemu-system-arm (Debian's qemu-system-arm, to unpack \
                 under the target directory)"
                    .to_string(),
            );
        }
        parts.join("; ")
    }

    /// The rustup commands that add what is missing.
    fn rustup_commands(&self, msrv: &str) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if !self.components.is_empty() {
            cmds.push(rustup_add("component", &self.components));
        }
        if !self.targets.is_empty() {
            cmds.push(rustup_add("target", &self.targets));
        }
        if let Some(toolchain) = &self.msrv_toolchain {
            let install = Cmd::new("rustup")
                .args(["toolchain", "install", toolchain, "--profile", "minimal"])
                .args(ARM_TARGETS.iter().flat_map(|t| ["--target", t]));
            cmds.push(install);
        } else if !self.msrv_targets.is_empty() {
            let add = Cmd::new("rustup")
                .args(["target", "add", "--toolchain", msrv])
                .args(&self.msrv_targets);
            cmds.push(add);
        }
        cmds
    }

    /// `cargo install` of the missing crates.io tools.
    fn cargo_install(&self) -> Option<Cmd> {
        (!self.tools.is_empty())
            .then(|| Cmd::cargo().args(["install", "--locked"]).args(&self.tools))
    }

    /// The install commands as a non-root user types them (`sudo` keeps
    /// a `VAR=value` given after it, unlike one given before it).
    fn instructions(&self, msrv: &str) -> Vec<String> {
        let mut lines: Vec<String> = self.rustup_commands(msrv).iter().map(Cmd::shown).collect();
        let mut apt_packages = self.packages.clone();
        if self.qemu_system {
            apt_packages.push("qemu-system-arm".to_string());
        }
        if !apt_packages.is_empty() {
            lines.push("sudo apt-get update".to_string());
            lines.push(format!(
                "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y \
                 --no-install-recommends --no-remove {}",
                apt_packages.join(" ")
            ));
        }
        lines.extend(self.cargo_install().map(|cmd| cmd.shown()));
        lines
    }
}

/// Makes sure everything in `needs` is present (installing what is missing
/// as root, without removing packages), and proves the cross toolchains.
pub fn ensure(needs: &Needs) -> Result {
    ensure_with(needs, Options::default())
}

/// [`ensure`] with the user's [`Options`].
pub fn ensure_with(needs: &Needs, options: Options) -> Result {
    let msrv = msrv()?;
    let missing = find_missing(needs, &msrv)?;
    if missing.is_empty() {
        println!("deps: everything needed is installed");
    } else {
        install(needs, &missing, &msrv, options)?;
    }
    for target in needs.targets {
        probe::prove(target)?;
    }
    Ok(())
}

fn install(needs: &Needs, missing: &Missing, msrv: &str, options: Options) -> Result {
    println!("deps: missing {}", missing.describe());
    if !is_root() {
        println!("deps: not running as root; run these commands, then try again:");
        for line in missing.instructions(msrv) {
            println!("    {line}");
        }
        return Err(Error::Failed(
            "missing dependencies: run the commands above, then try again".to_string(),
        ));
    }
    for cmd in missing.rustup_commands(msrv) {
        cmd.run()?;
    }
    if !missing.packages.is_empty() || missing.qemu_system {
        if find_program("apt-get").is_none() {
            return Err(Error::Failed(format!(
                "no apt-get on this machine: install the equivalents of the Debian packages \
                 {} yourself{}",
                missing.packages.join(" "),
                if missing.qemu_system {
                    " and qemu-system-arm"
                } else {
                    ""
                }
            )));
        }
        Cmd::new("apt-get").arg("update").run()?;
        let mut packages = missing.packages.clone();
        if missing.qemu_system {
            // The unpacked emulator's libraries are installed like any
            // other package (apt knows their names only after the update).
            for library in missing_packages_named(&qemu::library_packages()?)? {
                if !packages.contains(&library) {
                    packages.push(library);
                }
            }
        }
        if !packages.is_empty() {
            let names: Vec<&str> = packages.iter().map(String::as_str).collect();
            apt::install(&names, options.allow_remove)?;
        }
        if missing.qemu_system {
            qemu::unpack()?;
        }
    }
    if let Some(cmd) = missing.cargo_install() {
        cmd.run()?;
    }
    let still_missing = find_missing(needs, msrv)?;
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

fn find_missing(needs: &Needs, msrv: &str) -> Result<Missing> {
    let mut missing = Missing::default();
    let rustup_needed =
        !needs.components.is_empty() || !needs.targets.is_empty() || needs.msrv_toolchain;
    if rustup_needed {
        if find_program("rustup").is_none() {
            return Err(Error::Failed(
                "rustup not found on PATH: the ARM targets, rustfmt, clippy and the minimum \
                 Rust toolchain are installed with rustup (https://rustup.rs); add \
                 ~/.cargo/bin to PATH or install it"
                    .to_string(),
            ));
        }
        let installed = rustup_list(&["component", "list", "--installed"])?;
        missing.components = not_in_list(needs.components, &installed, true);
        let installed = rustup_list(&["target", "list", "--installed"])?;
        missing.targets = not_in_list(needs.targets, &installed, false);
    }
    if needs.msrv_toolchain {
        let toolchains = rustup_list(&["toolchain", "list"])?;
        if has_toolchain(&toolchains, msrv) {
            let installed = rustup_list(&["target", "list", "--installed", "--toolchain", msrv])?;
            missing.msrv_targets = not_in_list(ARM_TARGETS, &installed, false);
        } else {
            missing.msrv_toolchain = Some(msrv.to_string());
        }
    }
    let names: Vec<&str> = needs.packages.iter().map(|p| p.name).collect();
    missing.packages = if find_program("dpkg-query").is_some() {
        missing_packages_named(&names)?
    } else {
        // Not Debian: judge by the programs we actually run.
        let absent = |p: &&Package| p.programs.iter().any(|prog| find_program(prog).is_none());
        needs
            .packages
            .iter()
            .filter(absent)
            .map(|p| p.name.to_string())
            .collect()
    };
    missing.tools = needs
        .tools
        .iter()
        .filter(|t| find_program(t.program).is_none())
        .map(|t| t.spec)
        .collect();
    missing.qemu_system = needs.qemu_system && !qemu::ready();
    Ok(missing)
}

fn rustup_list(args: &[&str]) -> Result<String> {
    Cmd::new("rustup").args(args).quiet().output()
}

/// Whether `rustup toolchain list` shows `version` (`1.87-x86_64-unknown-
/// linux-gnu`, or with the patch level, `1.87.0-...`).
fn has_toolchain(list: &str, version: &str) -> bool {
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .any(|name| {
            name.strip_prefix(version)
                .is_some_and(|rest| rest.starts_with('-') || rest.starts_with(".0-"))
        })
}

/// The names that are not an installed Debian package (`dpkg-query`).
fn missing_packages_named<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // Exits non-zero when a package is unknown, but still lists the known ones.
    let (_, listed) = Cmd::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Status}\\n"])
        .args(names.iter().map(AsRef::as_ref))
        .quiet()
        .output_any_status()?;
    Ok(names
        .iter()
        .map(AsRef::as_ref)
        .filter(|name| !dpkg_says_installed(&listed, name))
        .map(str::to_string)
        .collect())
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
            packages: vec!["ethtool".to_string(), "tcpdump".to_string()],
            tools: vec!["defmt-print@^1"],
            msrv_toolchain: Some("1.87".to_string()),
            qemu_system: true,
            ..Missing::default()
        };
        let lines = missing.instructions("1.87");
        assert!(lines[0].starts_with("rustup component add "));
        assert!(lines[0].ends_with(" clippy"));
        assert_eq!(
            lines[1..],
            [
                "rustup toolchain install 1.87 --profile minimal --target \
                 aarch64-unknown-linux-musl --target armv7-unknown-linux-gnueabihf",
                "sudo apt-get update",
                "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                 --no-remove ethtool tcpdump qemu-system-arm",
                "cargo install --locked 'defmt-print@^1'",
            ]
        );
        let only_targets = Missing {
            msrv_targets: vec!["armv7-unknown-linux-gnueabihf"],
            ..Missing::default()
        };
        assert_eq!(
            only_targets.instructions("1.87"),
            ["rustup target add --toolchain 1.87 armv7-unknown-linux-gnueabihf"]
        );
    }

    #[test]
    fn the_test_table_covers_every_step() {
        for (task, needs) in [("build", &FOR_BUILD), ("vm", &FOR_VM), ("demo", &FOR_DEMO)] {
            for package in needs.packages {
                assert!(
                    FOR_TEST.packages.contains(package),
                    "{} ({task}) is missing from FOR_TEST",
                    package.name
                );
            }
            for target in needs.targets {
                assert!(FOR_TEST.targets.contains(target), "{target} ({task})");
            }
            assert!(!needs.qemu_system || FOR_TEST.qemu_system, "{task}");
        }
    }

    #[test]
    fn the_readme_names_every_package() {
        let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
        let tables = [&FOR_TEST, &FOR_BUILD, &FOR_VM, &FOR_DEMO, &FOR_BENCH];
        for package in tables.iter().flat_map(|needs| needs.packages) {
            assert!(
                readme.contains(&format!("`{}`", package.name)),
                "README.md does not name the Debian package `{}`",
                package.name
            );
        }
        assert!(readme.contains("`qemu-system-arm`"));
    }

    #[test]
    fn msrv_is_read_from_the_workspace_package() {
        let manifest = "[workspace]\nmembers = []\n[workspace.package]\nrust-version = \"1.87\"\n";
        assert_eq!(msrv_of(manifest).as_deref(), Some("1.87"));
        assert_eq!(msrv_of("[workspace]\n"), None);
        assert!(msrv().is_ok());
    }

    /// The minimum Rust is stated as "Rust X.Y or newer" wherever users
    /// read it; each statement must be the declared one.
    #[test]
    fn every_stated_minimum_rust_is_the_declared_one() {
        let msrv = msrv().unwrap();
        let mut files = vec![workspace_root().join("README.md")];
        let mut dirs = vec![
            workspace_root().join("boards"),
            workspace_root().join("docs"),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let mut statements = 0;
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let text = text.replace(['\n', '#'], " ");
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            for (at, _) in text.match_indices(" or newer") {
                let Some(rest) = text[..at].rsplit_once("Rust ") else {
                    continue;
                };
                let version = rest.1;
                let numeric = version.starts_with(|c: char| c.is_ascii_digit())
                    && version.chars().all(|c| c.is_ascii_digit() || c == '.');
                if !numeric {
                    continue;
                }
                statements += 1;
                assert_eq!(rest.1, msrv, "{} states Rust {}", file.display(), rest.1);
            }
        }
        assert!(
            statements >= 3,
            "only {statements} statements of the minimum Rust found"
        );
    }

    #[test]
    fn toolchains_match_with_or_without_patch_level() {
        let list = "stable-x86_64-unknown-linux-gnu (default)\n1.87-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(list, "1.87"));
        assert!(!has_toolchain(list, "1.8"));
        assert!(!has_toolchain(list, "1.88"));
        assert!(has_toolchain("1.87.0-x86_64-unknown-linux-gnu\n", "1.87"));
        assert!(!has_toolchain("1.87.1-x86_64-unknown-linux-gnu\n", "1.87"));
    }
}
