//! The guest's Debian packages: the board's kernel image and BusyBox, for
//! the board's architecture, fetched with apt without touching the host's
//! package state (no `dpkg --add-architecture`): apt runs with a private
//! list and cache directory and a foreign architecture, `apt-get download`
//! fetches the `.deb` files and `dpkg-deb -x` unpacks them. The unpacked
//! trees are the cache: once they exist, no network is used.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::board::Board;
use crate::{target_dir, Cmd, Error, Result};

/// Written last, so its presence means the unpacked trees are complete.
const STAMP: &str = "fetched";

/// What the guest needs from Debian, unpacked on the host.
#[derive(Debug)]
pub struct GuestPackages {
    /// `boot/vmlinuz-<release>`.
    pub kernel_image: PathBuf,
    /// `lib/modules/<release>`.
    pub modules_dir: PathBuf,
    /// The static BusyBox binary.
    pub busybox: PathBuf,
    /// The packages, as `name version` (from the stamp file).
    pub packages: Vec<String>,
    /// Bytes downloaded and seconds taken, when this call fetched (`None`
    /// when everything came from the cache).
    pub download: Option<(u64, f64)>,
}

/// The unpacked kernel and BusyBox for `board`, fetched on first use.
pub fn guest_packages(board: &Board) -> Result<GuestPackages> {
    let cache = target_dir().join("vm-cache").join(&board.debian_arch);
    let stamp = cache.join(STAMP);
    let download = if stamp.is_file() {
        println!(
            "vm: {} packages cached in {} (delete it to fetch again)",
            board.debian_arch,
            cache.display()
        );
        None
    } else {
        Some(fetch(board, &cache)?)
    };
    let packages = read(&stamp)?.lines().map(str::to_string).collect();
    let kernel_dir = cache.join("kernel");
    let kernel_image = only_entry(&kernel_dir.join("boot"), "vmlinuz-")?;
    let modules_root = kernel_dir.join("lib").join("modules");
    let modules_dir = only_entry(&modules_root, "")?;
    let busybox = cache.join("busybox").join("bin").join("busybox");
    if !busybox.is_file() {
        return Err(Error::Failed(format!(
            "{} has no bin/busybox: the busybox-static package changed its layout; delete {} \
             and try again",
            cache.join("busybox").display(),
            cache.display()
        )));
    }
    Ok(GuestPackages {
        kernel_image,
        modules_dir,
        busybox,
        packages,
        download,
    })
}

/// apt's options for a private, single-architecture view of the host's
/// Debian sources (and proxy settings, which stay the host's).
fn apt_options(arch: &str, apt_dir: &Path) -> Vec<String> {
    let dir = |sub: &str| apt_dir.join(sub).display().to_string();
    [
        format!("APT::Architecture={arch}"),
        format!("APT::Architectures={arch}"),
        format!("Dir::State::Lists={}", dir("lists")),
        format!("Dir::Cache={}", dir("cache")),
        // Nothing of the host's installed set matters for a download.
        "Dir::State::status=/dev/null".to_string(),
        "Acquire::Languages=none".to_string(),
        // AppStream metadata (appstream's apt hook) is not needed.
        "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_string(),
        // The cache is root's; the `_apt` sandbox user cannot write there.
        "APT::Sandbox::User=root".to_string(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect()
}

/// apt with a private list and cache directory under `dir/apt` and one
/// architecture; its `.deb` downloads go to `dir/debs`.
#[derive(Debug)]
pub(super) struct PrivateApt {
    options: Vec<String>,
    debs: PathBuf,
}

impl PrivateApt {
    /// Creates the private state and fetches the indexes. A mirror that is
    /// mid-sync makes `update` fail for one index while the others are
    /// fine, so its outcome is returned apart, for the caller to judge once
    /// it knows whether its packages resolve.
    pub(super) fn update(arch: &str, dir: &Path) -> Result<(PrivateApt, Result)> {
        if crate::deps::find_program("apt-get").is_none() {
            return Err(Error::Failed(format!(
                "the board simulation fetches Debian packages for {arch} with apt-get, which \
                 this machine lacks; it needs a Debian-based host"
            )));
        }
        let apt_dir = dir.join("apt");
        for sub in [
            apt_dir.join("lists").join("partial"),
            apt_dir.join("cache").join("archives").join("partial"),
        ] {
            create_dir(&sub)?;
        }
        let apt = PrivateApt {
            options: apt_options(arch, &apt_dir),
            debs: dir.join("debs"),
        };
        let update = Cmd::new("apt-get").args(&apt.options).arg("update").run();
        Ok((apt, update))
    }

    /// `apt-cache ARGS` in the private view.
    fn cache(&self) -> Cmd {
        Cmd::new("apt-cache").args(&self.options)
    }

    /// Downloads `specs` (`name` or `name:arch`) into a fresh `debs`
    /// directory and returns the files, in the order of `specs`.
    pub(super) fn download(&self, specs: &[String]) -> Result<Vec<PathBuf>> {
        remove_dir(&self.debs)?;
        create_dir(&self.debs)?;
        // `apt-get download` writes into the current directory.
        println!("vm: (in {})", self.debs.display());
        Cmd::new("apt-get")
            .args(&self.options)
            .arg("download")
            .args(specs)
            .current_dir(&self.debs)
            .run()?;
        specs
            .iter()
            .map(|spec| deb_file(&self.debs, spec.split(':').next().unwrap_or(spec)))
            .collect()
    }
}

/// The `Version` field of a `.deb` file.
pub(super) fn deb_version(deb: &Path) -> Result<String> {
    let version = Cmd::new("dpkg-deb")
        .arg("--field")
        .arg(deb)
        .arg("Version")
        .quiet()
        .output()?;
    Ok(version.trim().to_string())
}

fn fetch(board: &Board, cache: &Path) -> Result<(u64, f64)> {
    let started = Instant::now();
    let arch = board.debian_arch.as_str();
    let (apt, update) = PrivateApt::update(arch, cache)?;
    let resolve = apt
        .cache()
        .args(["show", "--no-all-versions"])
        .arg(&board.kernel_package)
        .output()
        .and_then(|show| {
            kernel_image_package(&show).ok_or_else(|| {
                Error::Failed(format!(
                    "`apt-cache show {}` for {arch} names no linux-image-* dependency",
                    board.kernel_package
                ))
            })
        });
    let kernel = match (resolve, update) {
        (Ok(kernel), Ok(())) => kernel,
        (Ok(kernel), Err(update)) => {
            println!("vm: warning: {update}; the indexes apt did get are enough, going on");
            kernel
        }
        (Err(resolve), Ok(())) => return Err(resolve),
        (Err(resolve), Err(update)) => {
            return Err(Error::Failed(format!(
                "{resolve}, after {update}: check the Debian sources in /etc/apt and the network"
            )))
        }
    };
    println!("vm: {} resolves to {kernel}", board.kernel_package);

    let debs = apt.download(&[format!("{kernel}:{arch}"), format!("busybox-static:{arch}")])?;
    let mut bytes = 0;
    let mut stamp = String::new();
    for ((package, into), deb) in [(kernel.as_str(), "kernel"), ("busybox-static", "busybox")]
        .into_iter()
        .zip(&debs)
    {
        bytes += fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
        stamp.push_str(&format!("{package} {}\n", deb_version(deb)?));
        let tree = cache.join(into);
        remove_dir(&tree)?;
        Cmd::new("dpkg-deb").arg("-x").arg(deb).arg(&tree).run()?;
    }
    // The unpacked trees are the cache; the archives would only double it.
    remove_dir(&apt.debs)?;
    write(&cache.join(STAMP), &stamp)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "vm: downloaded {:.1} MB of {arch} packages in {seconds:.1} s",
        bytes as f64 / 1e6
    );
    Ok((bytes, seconds))
}

/// The `linux-image-*` package a kernel metapackage depends on, from
/// `apt-cache show` output (`Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)`).
fn kernel_image_package(show: &str) -> Option<String> {
    let depends = show
        .lines()
        .find_map(|line| line.strip_prefix("Depends:"))?;
    depends
        .split([',', '|'])
        .map(|alt| alt.split_whitespace().next().unwrap_or(""))
        .find(|name| name.starts_with("linux-image-"))
        .map(str::to_string)
}

/// `<package>_<version>_<arch>.deb` in `dir`.
fn deb_file(dir: &Path, package: &str) -> Result<PathBuf> {
    let prefix = format!("{package}_");
    let found = entries(dir)?.into_iter().find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
    });
    found.ok_or_else(|| {
        Error::Failed(format!(
            "apt-get download left no {prefix}*.deb in {}",
            dir.display()
        ))
    })
}

/// The one entry of `dir` whose name starts with `prefix`.
fn only_entry(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let matching: Vec<PathBuf> = entries(dir)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::Failed(format!(
            "expected exactly one {prefix}* in {}, found {}: delete the cache above it and \
             try again",
            dir.display(),
            matching.len()
        ))),
    }
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = fs::read_dir(dir)
        .map_err(|e| Error::Failed(format!("cannot list {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

pub(super) fn create_dir(dir: &Path) -> Result {
    fs::create_dir_all(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))
}

pub(super) fn remove_dir(dir: &Path) -> Result {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Failed(format!(
            "cannot remove {}: {e}",
            dir.display()
        ))),
    }
}

pub(super) fn remove_file(path: &Path) -> Result {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Failed(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

pub(super) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))
}

pub(super) fn write(path: &Path, contents: &str) -> Result {
    fs::write(path, contents)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metapackage_resolves_to_its_image() {
        let show = "Package: linux-image-arm64\nVersion: 6.1.192-2\n\
                    Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)\nDescription: x\n";
        assert_eq!(
            kernel_image_package(show).as_deref(),
            Some("linux-image-6.1.0-56-arm64")
        );
        let alternatives =
            "Depends: kmod, linux-image-6.1.0-50-armmp | linux-image-6.1.0-50-armmp-dbg\n";
        assert_eq!(
            kernel_image_package(alternatives).as_deref(),
            Some("linux-image-6.1.0-50-armmp")
        );
        assert_eq!(kernel_image_package("Depends: kmod\n"), None);
        assert_eq!(kernel_image_package("Package: x\n"), None);
    }

    #[test]
    fn apt_sees_one_foreign_architecture_in_private_dirs() {
        let options = apt_options("armhf", Path::new("/c/apt"));
        let pairs: Vec<_> = options.chunks(2).collect();
        assert!(pairs.iter().all(|p| p[0] == "-o"));
        let values: Vec<&str> = pairs.iter().map(|p| p[1].as_str()).collect();
        assert!(values.contains(&"APT::Architectures=armhf"));
        assert!(values.contains(&"Dir::State::Lists=/c/apt/lists"));
        assert!(values.contains(&"Dir::Cache=/c/apt/cache"));
    }
}
