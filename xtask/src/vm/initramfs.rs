//! The guest's initramfs: BusyBox as init (`boards/vm/init`), the kernel
//! modules the guest loads at boot, the board's `cargo xtask dist` tarball
//! unpacked at the root (ringtap, its board profile, its init script) and
//! the job, packed with `cpio -H newc` and gzip.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fetch::{create_dir, read, remove_dir, write};
use crate::{Cmd, Error, Result};

/// Everything that goes into the image.
#[derive(Debug)]
pub struct Contents<'a> {
    /// `boards/vm`, which holds `init`.
    pub guest_files: &'a Path,
    pub busybox: &'a Path,
    /// The board's `cargo xtask dist` tarball, unpacked at `/` as an image
    /// build would install it.
    pub dist_tarball: &'a Path,
    /// `/etc/default/ringtap`, the init script's settings.
    pub ringtap_defaults: &'a str,
    /// `lib/modules/<release>` of the unpacked kernel package.
    pub modules_dir: &'a Path,
    /// Modules to load at boot; their dependencies are added before them.
    pub modules: &'a [&'a str],
    /// Shell commands for `/etc/ringtap/job`.
    pub job: &'a str,
    /// Offer a shell on the console after the job (`/etc/ringtap/keep`).
    pub keep: bool,
}

/// What was built.
#[derive(Debug)]
pub struct Image {
    pub path: PathBuf,
    pub bytes: u64,
    /// Module file names in load order.
    pub modules: Vec<String>,
}

/// Build `<work>/initramfs.cpio.gz` from a fresh staging tree in
/// `<work>/initramfs`.
pub fn build(work: &Path, contents: &Contents<'_>) -> Result<Image> {
    let stage = work.join("initramfs");
    remove_dir(&stage)?;
    for dir in [
        "bin",
        "usr/bin",
        "lib/modules",
        "etc/ringtap",
        "etc/default",
        "proc",
        "sys",
        "dev",
        "tmp",
        "var/log",
        "var/run",
    ] {
        create_dir(&stage.join(dir))?;
    }
    install(
        &contents.guest_files.join("init"),
        &stage.join("init"),
        0o755,
    )?;
    install(contents.busybox, &stage.join("bin/busybox"), 0o755)?;
    Cmd::new("tar")
        .args(["--extract", "--gzip", "--file"])
        .arg(contents.dist_tarball)
        .arg("--directory")
        .arg(&stage)
        .run()?;
    write(
        &stage.join("etc/default/ringtap"),
        contents.ringtap_defaults,
    )?;

    let modules = ModuleTree::scan(contents.modules_dir)?;
    let order = modules.load_order(contents.modules)?;
    let mut list = String::new();
    for name in &order {
        let file = format!("{name}.ko");
        let source = modules.files.get(name).ok_or_else(|| {
            Error::Failed(format!(
                "module {name} vanished from {}",
                modules.dir.display()
            ))
        })?;
        install(source, &stage.join("lib/modules").join(&file), 0o644)?;
        list.push_str(&file);
        list.push('\n');
    }
    write(&stage.join("etc/ringtap/modules"), &list)?;
    write(&stage.join("etc/ringtap/job"), contents.job)?;
    if contents.keep {
        write(&stage.join("etc/ringtap/keep"), "")?;
    }

    let path = work.join("initramfs.cpio.gz");
    pack(&stage, &path)?;
    let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(Image {
        path,
        bytes,
        modules: order.into_iter().map(|n| format!("{n}.ko")).collect(),
    })
}

fn install(from: &Path, to: &Path, mode: u32) -> Result {
    fs::copy(from, to).map_err(|e| {
        Error::Failed(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::Failed(format!("cannot chmod {}: {e}", to.display())))
}

/// `cpio -o -H newc` of the staging tree (owned by root in the archive),
/// through `gzip`, into `out`.
fn pack(stage: &Path, out: &Path) -> Result {
    let mut names = Vec::new();
    walk(stage, stage, &mut names)?;
    names.sort();
    println!(
        "$ (cd {} && find . | sort | cpio -o -H newc -R 0:0 --quiet | gzip -n -6) > {}",
        stage.display(),
        out.display()
    );
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Error::Failed(format!("packing the initramfs: {what}: {e}"))
    };
    let file = fs::File::create(out).map_err(|e| failed(&out.display().to_string(), &e))?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
        .current_dir(stage)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| failed("cannot run cpio (install the cpio package)", &e))?;
    let cpio_out = cpio
        .stdout
        .take()
        .ok_or_else(|| failed("cpio", &"no stdout"))?;
    let mut gzip = Command::new("gzip")
        .args(["-n", "-6"])
        .stdin(cpio_out)
        .stdout(file)
        .spawn()
        .map_err(|e| failed("cannot run gzip", &e))?;
    let mut stdin = cpio
        .stdin
        .take()
        .ok_or_else(|| failed("cpio", &"no stdin"))?;
    let written = stdin.write_all(names.join("\n").as_bytes());
    drop(stdin);
    let cpio_status = cpio.wait().map_err(|e| failed("cpio", &e))?;
    let gzip_status = gzip.wait().map_err(|e| failed("gzip", &e))?;
    written.map_err(|e| failed("writing the file list to cpio", &e))?;
    if !cpio_status.success() {
        return Err(failed("cpio", &cpio_status));
    }
    if !gzip_status.success() {
        return Err(failed("gzip", &gzip_status));
    }
    Ok(())
}

/// Every path under `dir`, relative to `root`, directories included.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result {
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::Failed(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| Error::Failed(format!("cannot list {}: {e}", dir.display())))?
            .path();
        let relative = path.strip_prefix(root).unwrap_or(&path);
        out.push(relative.display().to_string());
        if path.is_dir() && !path.is_symlink() {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

/// The loadable modules of an unpacked kernel package.
#[derive(Debug)]
struct ModuleTree {
    dir: PathBuf,
    /// Module name (with `_`, as the kernel names it) to its `.ko` file.
    files: HashMap<String, PathBuf>,
    /// Modules compiled into the kernel (`modules.builtin`).
    builtin: HashSet<String>,
}

impl ModuleTree {
    fn scan(dir: &Path) -> Result<ModuleTree> {
        let mut paths = Vec::new();
        walk(dir, &dir.join("kernel"), &mut paths)?;
        let files = paths
            .iter()
            .filter_map(|p| {
                let name = Path::new(p).file_name()?.to_str()?.strip_suffix(".ko")?;
                Some((module_name(name), dir.join(p)))
            })
            .collect();
        let builtin = read(&dir.join("modules.builtin"))?
            .lines()
            .filter_map(|line| {
                let file = Path::new(line).file_name()?.to_str()?;
                Some(module_name(file.strip_suffix(".ko")?))
            })
            .collect();
        Ok(ModuleTree {
            dir: dir.to_path_buf(),
            files,
            builtin,
        })
    }

    fn load_order(&self, wanted: &[&str]) -> Result<Vec<String>> {
        load_order(wanted, &self.builtin, |name| {
            let Some(file) = self.files.get(name) else {
                return Ok(None);
            };
            let bytes =
                fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            modinfo_depends(&bytes)
                .map(Some)
                .ok_or_else(|| format!("{} has no depends= in its .modinfo", file.display()))
        })
        .map_err(|e| Error::Failed(format!("kernel modules in {}: {e}", self.dir.display())))
    }
}

/// Module names use `_` where file names may use `-`.
fn module_name(file_stem: &str) -> String {
    file_stem.replace('-', "_")
}

/// The `depends=` entry of a module's `.modinfo` section: NUL-separated
/// `key=value` strings, so the entry is found by its NUL-preceded key.
fn modinfo_depends(ko: &[u8]) -> Option<Vec<String>> {
    const KEY: &[u8] = b"\0depends=";
    let at = ko.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let value = &ko[at..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    let value = std::str::from_utf8(&value[..end]).ok()?;
    Some(
        value
            .split(',')
            .filter(|d| !d.is_empty())
            .map(module_name)
            .collect(),
    )
}

/// A module's dependencies, `None` when there is no such loadable module.
type DependsOf<'a> = dyn FnMut(&str) -> Result<Option<Vec<String>>, String> + 'a;

/// `wanted` and everything they depend on, dependencies first. `depends`
/// gives a module's dependencies, or `None` when there is no such loadable
/// module (fine if it is built in).
fn load_order(
    wanted: &[&str],
    builtin: &HashSet<String>,
    mut depends: impl FnMut(&str) -> Result<Option<Vec<String>>, String>,
) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        needed_by: &str,
        builtin: &HashSet<String>,
        depends: &mut DependsOf<'_>,
        marks: &mut HashMap<String, Mark>,
        order: &mut Vec<String>,
    ) -> Result<(), String> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => return Err(format!("dependency cycle through module {name}")),
            None => {}
        }
        let Some(deps) = depends(name)? else {
            if builtin.contains(name) {
                marks.insert(name.to_string(), Mark::Done);
                return Ok(());
            }
            return Err(format!(
                "module {name} ({needed_by}) is neither a .ko file nor built in \
                 (compressed modules are not supported)"
            ));
        };
        marks.insert(name.to_string(), Mark::Visiting);
        for dep in &deps {
            visit(
                dep,
                &format!("needed by {name}"),
                builtin,
                depends,
                marks,
                order,
            )?;
        }
        marks.insert(name.to_string(), Mark::Done);
        order.push(name.to_string());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut order = Vec::new();
    for name in wanted {
        visit(
            &module_name(name),
            "wanted",
            builtin,
            &mut depends,
            &mut marks,
            &mut order,
        )?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_entry_is_read_from_modinfo_strings() {
        let ko = b"\x7fELF...\0license=GPL\0depends=net_failover,virtio-ring\0name=virtio_net\0";
        assert_eq!(
            modinfo_depends(ko),
            Some(vec!["net_failover".to_string(), "virtio_ring".to_string()])
        );
        assert_eq!(
            modinfo_depends(b"\0depends=\0name=failover\0"),
            Some(vec![])
        );
        assert_eq!(modinfo_depends(b"\0license=GPL\0name=x\0"), None);
        // Only a key at the start of a string counts.
        assert_eq!(modinfo_depends(b"\0xdepends=a\0"), None);
    }

    fn tree(name: &str) -> Result<Option<Vec<String>>, String> {
        let deps: &[&str] = match name {
            "virtio_net" => &["net_failover", "virtio"],
            "net_failover" => &["failover"],
            "failover" => &[],
            "virtio_pci" => &["virtio_pci_modern_dev", "virtio_pci_legacy_dev"],
            "virtio_pci_modern_dev" | "virtio_pci_legacy_dev" => &[],
            "loop_a" => &["loop_b"],
            "loop_b" => &["loop_a"],
            "needs_missing" => &["missing"],
            _ => return Ok(None),
        };
        Ok(Some(deps.iter().map(|d| d.to_string()).collect()))
    }

    #[test]
    fn dependencies_load_first_and_once() {
        let builtin: HashSet<String> = ["virtio".to_string()].into();
        let order = load_order(
            &["virtio_pci", "virtio_net", "net_failover"],
            &builtin,
            tree,
        );
        assert_eq!(
            order.unwrap(),
            [
                "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev",
                "virtio_pci",
                "failover",
                "net_failover",
                "virtio_net",
            ]
        );
    }

    #[test]
    fn missing_and_cyclic_modules_are_named() {
        let builtin = HashSet::new();
        let err = load_order(&["virtio_net"], &builtin, tree).unwrap_err();
        assert!(
            err.contains("module virtio (needed by virtio_net)"),
            "{err}"
        );
        let err = load_order(&["needs-missing"], &builtin, tree).unwrap_err();
        assert!(
            err.contains("module missing (needed by needs_missing)"),
            "{err}"
        );
        let err = load_order(&["loop_a"], &builtin, tree).unwrap_err();
        assert!(err.contains("cycle"), "{err}");
    }
}
