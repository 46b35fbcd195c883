//! The Buildroot package (`boards/packaging/buildroot`), checked the way
//! Buildroot checks and builds it: `cargo xtask test`'s `check-package`
//! step runs Buildroot's own linter on the external tree, and its
//! `buildroot` step builds the pinned source the way `make ringtap` does:
//! the archive the download step makes (the source of `RINGTAP_VERSION`
//! with the crates vendored by `cargo vendor`, as
//! `support/download/cargo-post-process` does), unpacked and built offline
//! with the cargo settings of `package/pkg-cargo.mk`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::build;
use crate::test::Outcome;
use crate::{deps, workspace_root, Cmd, Error, Result};

/// The external tree and the package's folder, relative to the root.
pub const TREE: &str = "boards/packaging/buildroot";
pub const PACKAGE: &str = "boards/packaging/buildroot/package/ringtap";

/// Buildroot's linter: a test tool kept next to the repository (see its
/// README there), not part of it.
const CHECK_PACKAGE: &str = "../shared/tools/buildroot/utils/check-package";

/// The system's Python, which has Debian's `python3-magic` and
/// `python3-flake8` (check-package imports both), rather than a pyenv or
/// venv one found first on PATH.
const PYTHON: &str = "/usr/bin/python3";

/// The target of the offline build: aarch64 musl, a static binary.
const TARGET: &str = "aarch64-unknown-linux-musl";

/// The stripped size the Buildroot build may reach, in KiB. It differs from
/// the board's `binary_budget_kib` (which `cargo xtask build` checks) because
/// pkg-cargo.mk's defaults build without LTO, at opt-level 2, in 16 codegen
/// units: measured 1,602 KiB for aarch64 on 2026-12-06 (`cargo xtask build`:
/// 1,155 KiB), plus a small margin, so a regression fails this step.
const BUILDROOT_BUDGET_KIB: u64 = 1728;

/// `PKG_CARGO_ENV` of `package/pkg-cargo.mk` for a target package, with
/// Buildroot's defaults (`BR2_OPTIMIZE_2`, no `BR2_ENABLE_LTO`, no
/// `BR2_ENABLE_DEBUG`, no `BR2_ENABLE_RUNTIME_DEBUG`). `CARGO_HOME`, the
/// target and its linker are set apart. `CARGO_HOST_RUSTFLAGS` would hold
/// `-C link-args=` for Buildroot's `HOST_LDFLAGS`, which point into its
/// host directory. `TARGET_CONFIGURE_OPTS` (`CC`, `CFLAGS`, ... for C code)
/// are left out: no crate of ringtap compiles C for the target.
const BUILDROOT_CARGO_ENV: [(&str, &str); 21] = [
    ("__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS", "nightly"),
    ("CARGO_UNSTABLE_HOST_CONFIG", "true"),
    ("CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST", "true"),
    ("CARGO_TARGET_APPLIES_TO_HOST", "false"),
    ("CARGO_HOST_RUSTFLAGS", ""),
    ("CARGO_PROFILE_DEV_INCREMENTAL", "false"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
    ("CARGO_PROFILE_DEV_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_DEV_SPLIT_DEBUGINFO", "off"),
    ("CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO", "off"),
    ("CARGO_PROFILE_DEV_OPT_LEVEL", "2"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "2"),
    ("CARGO_PROFILE_DEV_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_DEV_DEBUG", "0"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "0"),
    ("CARGO_PROFILE_DEV_DEBUG_ASSERTIONS", "false"),
    ("CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS", "false"),
    ("CARGO_PROFILE_DEV_OVERFLOW_CHECKS", "false"),
    ("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS", "false"),
];

/// Variables of this process that Buildroot's build would not have and
/// that would change cargo's output or where it goes.
const NOT_PASSED_ON: [&str; 5] = [
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
];

fn repo_text(path: &str) -> Result<String> {
    let full = workspace_root().join(path);
    std::fs::read_to_string(&full)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", full.display())))
}

/// The commit `RINGTAP_VERSION` in `ringtap.mk` names.
pub fn pinned_commit() -> Result<String> {
    let mk = repo_text(&format!("{PACKAGE}/ringtap.mk"))?;
    mk_version(&mk)
        .map(str::to_string)
        .ok_or_else(|| Error::Failed(format!("{PACKAGE}/ringtap.mk has no RINGTAP_VERSION")))
}

fn mk_version(mk: &str) -> Option<&str> {
    mk.lines()
        .find_map(|line| line.strip_prefix("RINGTAP_VERSION = "))
        .map(str::trim)
}

/// `ringtap.mk` with `RINGTAP_VERSION` set to `commit`.
pub fn with_version(mk: &str, commit: &str) -> Result<String> {
    let old = mk_version(mk)
        .ok_or_else(|| Error::Failed(format!("{PACKAGE}/ringtap.mk has no RINGTAP_VERSION")))?;
    Ok(mk.replacen(
        &format!("RINGTAP_VERSION = {old}\n"),
        &format!("RINGTAP_VERSION = {commit}\n"),
        1,
    ))
}

/// The board profile `BR2_PACKAGE_RINGTAP_BOARD` defaults to for
/// `arch_symbol` (e.g. `BR2_aarch64`), from `Config.in`.
fn default_board(config_in: &str, arch_symbol: &str) -> Option<String> {
    config_in.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("default \"")?;
        let (board, condition) = rest.split_once('"')?;
        (condition.trim() == format!("if {arch_symbol}")).then(|| board.to_string())
    })
}

/// Every file of the external tree, relative to the root, sorted.
fn tree_files() -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![workspace_root().join(TREE)];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::Failed(format!("cannot list {}: {e}", dir.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| Error::Failed(format!("cannot list {}: {e}", dir.display())))?
                .path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(relative) = path.strip_prefix(workspace_root()) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The `check-package` step: Buildroot's linter, as `check-package -b`
/// (a `BR2_EXTERNAL` tree), on every file of the external tree; any
/// warning fails.
pub fn check_package() -> Result<Outcome> {
    let linter = workspace_root().join(CHECK_PACKAGE);
    if !linter.is_file() {
        return Ok(Outcome::Skipped(format!(
            "{} is absent: Buildroot's check-package is a test tool kept outside the \
             repository, in ../shared/tools/buildroot",
            linter.display()
        )));
    }
    let needs = "Debian packages python3-magic, python3-flake8 and shellcheck \
                 (`cargo xtask deps` installs them)";
    Cmd::new(PYTHON)
        .args(["-c", "import magic, flake8"])
        .quiet()
        .probe()
        .map_err(|why| Error::Failed(format!("check-package needs {needs}: {why}")))?;
    if deps::find_program("shellcheck").is_none() {
        return Err(Error::Failed(format!(
            "check-package needs shellcheck for the init script: {needs}"
        )));
    }
    let files = tree_files()?;
    let (status, stdout, stderr) = Cmd::new(PYTHON)
        .arg(&linter)
        .arg("-b")
        .args(&files)
        .output_and_stderr()?;
    print!("{stdout}");
    eprint!("{stderr}");
    if !status.success() || !stdout.trim().is_empty() {
        return Err(Error::Failed(format!(
            "check-package warns about the Buildroot external tree ({status})"
        )));
    }
    println!("check-package: no warning on {} files", files.len());
    Ok(Outcome::Passed)
}

/// A scratch directory outside the repository (so no `.cargo/config.toml`
/// of the checkout is above it), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("ringtap-buildroot-{}", std::process::id()));
        remove_dir(&dir)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn remove_dir(dir: &Path) -> Result {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Failed(format!(
            "cannot remove {}: {e}",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

fn create_dir(dir: &Path) -> Result {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))
}

/// The `buildroot` step: the package built as `make ringtap` builds it,
/// for aarch64 musl, without the network after the download step.
pub fn vendored_build() -> Result<Outcome> {
    deps::ensure(&deps::FOR_BUILD)?;
    let commit = pinned_commit()?;
    Cmd::new("git")
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .quiet()
        .probe()
        .map_err(|why| {
            Error::Failed(format!(
                "RINGTAP_VERSION {commit} of {PACKAGE}/ringtap.mk is not a commit of this \
                 clone (a shallow clone? `git fetch --unshallow`): {why}"
            ))
        })?;
    let config_in = repo_text(&format!("{PACKAGE}/Config.in"))?;
    let board = default_board(&config_in, "BR2_aarch64").ok_or_else(|| {
        Error::Failed(format!(
            "{PACKAGE}/Config.in has no board default for BR2_aarch64"
        ))
    })?;
    let profile = build::load_profile(&board)?;
    if profile.target != TARGET {
        return Err(Error::Failed(format!(
            "the BR2_aarch64 default board {board} targets {}, not {TARGET}",
            profile.target
        )));
    }
    let scratch = Scratch::new()?;
    let base = format!("ringtap-{commit}");

    // `make ringtap-source`: the site's archive (GitHub's archive of a
    // commit is `git archive` of it), unpacked, the crates vendored into
    // VENDOR with cargo's source replacement in .cargo/config.toml (in
    // place of the repository's), packed again into DL_DIR.
    println!();
    println!("==> make ringtap-source: {base}, crates vendored");
    let download = scratch.0.join("download");
    create_dir(&download)?;
    let site_tar = scratch.0.join("site.tar");
    Cmd::new("git")
        .args(["archive", "--format=tar"])
        .arg(format!("--prefix={base}/"))
        .arg("-o")
        .arg(&site_tar)
        .arg(&commit)
        .run()?;
    Cmd::new("tar")
        .arg("-xf")
        .arg(&site_tar)
        .arg("-C")
        .arg(&download)
        .run()?;
    let source = download.join(&base);
    let vendor_config = Cmd::cargo()
        .args([
            "vendor",
            "--manifest-path",
            "appliance/Cargo.toml",
            "--locked",
        ])
        .arg("VENDOR")
        .current_dir(&source)
        .output()?;
    let config_path = source.join(".cargo").join("config.toml");
    create_dir(&source.join(".cargo"))?;
    std::fs::write(&config_path, &vendor_config)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", config_path.display())))?;
    println!("(cargo vendor's output is now .cargo/config.toml, as Buildroot writes it)");
    let archive = scratch.0.join(format!("{base}-vendored.tar.gz"));
    Cmd::new("tar")
        .args([
            "--create",
            "--gzip",
            "--sort=name",
            "--owner=0",
            "--group=0",
        ])
        .args(["--numeric-owner", "--file"])
        .arg(&archive)
        .arg("-C")
        .arg(&download)
        .arg(&base)
        .run()?;
    let listing = Cmd::new("tar")
        .args(["--list", "--gzip", "--file"])
        .arg(&archive)
        .quiet()
        .output()?;
    if let Some(problem) = archive_problem(&listing, &base) {
        return Err(Error::Failed(format!(
            "{}: {problem} (it is what make legal-info saves as the source)",
            archive.display()
        )));
    }
    let size = std::fs::metadata(&archive).map_or(0, |m| m.len());
    println!(
        "source archive: {} files, {} KiB",
        listing.lines().count(),
        size / 1024
    );

    // `make ringtap`: extract, build and install offline. CARGO_HOME is
    // new and empty, so only the archive can provide a crate.
    println!();
    println!("==> make ringtap: offline build with Buildroot's cargo settings");
    let build_dir = scratch.0.join("build").join(&base);
    create_dir(&build_dir)?;
    Cmd::new("tar")
        .args(["--extract", "--gzip", "--strip-components=1", "--file"])
        .arg(&archive)
        .arg("-C")
        .arg(&build_dir)
        .run()?;
    let config = std::fs::read_to_string(build_dir.join(".cargo/config.toml"))
        .map_err(|e| Error::Failed(format!("the archive's .cargo/config.toml: {e}")))?;
    if let Some(problem) = cargo_config_problem(&config) {
        return Err(Error::Failed(format!(
            "the archive's .cargo/config.toml {problem}:\n{config}"
        )));
    }
    let cargo_home = scratch.0.join("cargo-home");
    create_dir(&cargo_home)?;
    let target_root = scratch.0.join("target-root");
    let linker_var = format!(
        "CARGO_TARGET_{}_LINKER",
        TARGET.to_uppercase().replace('-', "_")
    );
    let cargo = |args: &[&str]| {
        let mut cmd = Cmd::cargo()
            .args(args)
            .current_dir(build_dir.join("appliance"))
            .env("CARGO_HOME", &cargo_home.to_string_lossy())
            .env("CARGO_BUILD_TARGET", TARGET)
            // Buildroot names its cross gcc here; Debian has no aarch64
            // musl gcc, and rust-lld links the target's own musl.
            .env(&linker_var, "rust-lld");
        for (key, value) in BUILDROOT_CARGO_ENV {
            cmd = cmd.env(key, value);
        }
        for key in NOT_PASSED_ON {
            cmd = cmd.env_remove(key);
        }
        cmd
    };
    let started = Instant::now();
    // Buildroot passes --offline --locked; --frozen is both.
    cargo(&["build", "--frozen", "--offline", "--release"])
        .args(["--manifest-path", "Cargo.toml"])
        .run()?;
    let build_time = started.elapsed();
    let usr = target_root.join("usr");
    cargo(&["install", "--offline", "--root"])
        .arg(format!("{}/", usr.display()))
        .args([
            "--bins",
            "--path",
            "./",
            "--no-track",
            "--force",
            "--locked",
        ])
        .args(["-Z", "target-applies-to-host"])
        .run()?;
    let installed = usr.join("bin").join("ringtap");
    let profile_path = target_root.join("etc/ringtap/board.toml");
    create_dir(&target_root.join("etc/ringtap"))?;
    std::fs::copy(
        build_dir.join("boards").join(&board).join("board.toml"),
        &profile_path,
    )
    .map_err(|e| Error::Failed(format!("cannot install the {board} profile: {e}")))?;

    // target-finalize strips the binaries.
    let stripped = scratch.0.join("ringtap.stripped");
    Cmd::new("aarch64-linux-gnu-strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(&installed)
        .run()?;
    let said = Cmd::new("file").arg("-b").arg(&stripped).output()?;
    let said = said.trim();
    println!("file: {said}");
    if !said.contains("ARM aarch64") || !said.contains(", statically linked") {
        return Err(Error::Failed(format!(
            "the Buildroot build is not a static aarch64 executable: `file` says \"{said}\""
        )));
    }
    let stripped_size = std::fs::metadata(&stripped).map_or(0, |m| m.len());
    println!(
        "buildroot: built offline in {:.0} s; stripped binary {} bytes ({} KiB) of the budget \
         of {BUILDROOT_BUDGET_KIB} KiB for pkg-cargo.mk's settings ({board}'s own, for \
         `cargo xtask build`, is {} KiB)",
        build_time.as_secs_f64(),
        stripped_size,
        stripped_size.div_ceil(1024),
        profile.binary_budget_kib
    );
    if stripped_size > BUILDROOT_BUDGET_KIB * 1024 {
        return Err(Error::Failed(format!(
            "the binary Buildroot builds is {stripped_size} bytes, over the budget of \
             {BUILDROOT_BUDGET_KIB} KiB for pkg-cargo.mk's settings (BUILDROOT_BUDGET_KIB in \
             xtask/src/buildroot.rs)"
        )));
    }
    // Built from a tarball without .git: the commit comes from
    // git-archive-commit.
    let version = Cmd::new("qemu-aarch64-static")
        .arg(&stripped)
        .arg("--version")
        .output()?;
    let expected = build::version_text(&commit, TARGET, "none");
    if version != expected {
        return Err(Error::Failed(format!(
            "the Buildroot build's --version printed {version:?}, expected {expected:?}"
        )));
    }
    print!("{version}");
    Cmd::new("qemu-aarch64-static")
        .arg(&stripped)
        .args(["plan", "--mode", "bridge", "--config"])
        .arg(&profile_path)
        .run()?;
    Ok(Outcome::Passed)
}

/// What is wrong with the download step's archive, from its listing: it
/// must hold the source and the vendored crates under `base/`, and no
/// build output.
fn archive_problem(listing: &str, base: &str) -> Option<String> {
    let prefix = format!("{base}/");
    if let Some(stray) = listing.lines().find(|l| !l.starts_with(&prefix)) {
        return Some(format!("{stray} is outside {prefix}"));
    }
    let paths: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .collect();
    for wanted in ["Cargo.lock", "appliance/Cargo.toml", ".cargo/config.toml"] {
        if !paths.contains(&wanted) {
            return Some(format!("no {wanted}"));
        }
    }
    // cargo vendor writes a checksum file into each crate's folder.
    let vendored = |p: &&str| p.starts_with("VENDOR/") && p.ends_with("/.cargo-checksum.json");
    if !paths.iter().any(vendored) {
        return Some("no vendored crate in VENDOR/".to_string());
    }
    paths
        .iter()
        .find(|p| p.split('/').any(|part| part == "target"))
        .map(|p| format!("{p} is build output"))
}

/// What is wrong with the cargo configuration of the archive: it must only
/// replace crates.io with VENDOR (nothing of the repository's own).
fn cargo_config_problem(config: &str) -> Option<&'static str> {
    let Ok(table) = config.parse::<toml::Table>() else {
        return Some("is not TOML");
    };
    if table.keys().any(|key| key != "source") {
        return Some("has more than the vendored source");
    }
    let source = table.get("source").and_then(toml::Value::as_table);
    let vendored = source
        .and_then(|s| s.get("vendored-sources"))
        .and_then(|s| s.get("directory"))
        .and_then(toml::Value::as_str);
    let replaced = source
        .and_then(|s| s.get("crates-io"))
        .and_then(|s| s.get("replace-with"))
        .and_then(toml::Value::as_str);
    if vendored != Some("VENDOR") || replaced != Some("vendored-sources") {
        return Some("does not replace crates.io with VENDOR");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn repo_file(path: &str) -> String {
        repo_text(path).unwrap()
    }

    /// A file of the pinned commit, as Buildroot's download gets it.
    fn pinned_file(path: &str) -> Vec<u8> {
        let commit = pinned_commit().unwrap();
        let out = Command::new("git")
            .args(["show", &format!("{commit}:{path}")])
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(out.status.success(), "{path} is not in {commit}");
        out.stdout
    }

    fn sha256(bytes: &[u8]) -> String {
        let mut child = Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().to_string()
    }

    #[test]
    fn license_hashes_are_those_of_the_pinned_source() {
        let hash = repo_file(&format!("{PACKAGE}/ringtap.hash"));
        let mk = repo_file(&format!("{PACKAGE}/ringtap.mk"));
        assert!(mk.contains("RINGTAP_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE\n"));
        for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
            let line = format!("sha256  {}  {license}", sha256(&pinned_file(license)));
            assert!(
                hash.lines().any(|l| l == line),
                "ringtap.hash must have {line:?}"
            );
        }
    }

    #[test]
    fn the_package_downloads_a_pinned_commit_and_vendors_its_crates() {
        let mk = repo_file(&format!("{PACKAGE}/ringtap.mk"));
        let commit = pinned_commit().unwrap();
        assert!(
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "RINGTAP_VERSION must be a full commit id: {commit}"
        );
        for line in [
            "RINGTAP_SITE = $(call github,ringtap,ringtap,$(RINGTAP_VERSION))",
            "RINGTAP_SUBDIR = appliance",
            "\t$(call KCONFIG_ENABLE_OPT,CONFIG_PACKET)",
            "\t--exclude /target --exclude /fuzz/target --exclude /.cargo",
            "$(eval $(cargo-package))",
        ] {
            assert!(mk.lines().any(|l| l == line), "ringtap.mk lacks {line:?}");
        }
        // A site the download step vendors: not local, no build-time fetch.
        for absent in ["SITE_METHOD", "cargo fetch", "_CARGO_ENV"] {
            assert!(!mk.contains(absent), "ringtap.mk has {absent}");
        }
        // The crate and the lock file the download step vendors from.
        let manifest = String::from_utf8(pinned_file("appliance/Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"ringtap\""));
        pinned_file("Cargo.lock");
        let moved = with_version(&mk, "abc").unwrap();
        assert_eq!(mk_version(&moved), Some("abc"));
        assert_eq!(moved.replace("abc", &commit), mk);
    }

    #[test]
    fn the_package_installs_files_that_exist() {
        let mk = repo_file(&format!("{PACKAGE}/ringtap.mk"));
        let words = |prefix: &str| -> Vec<String> {
            mk.split_whitespace()
                .filter_map(|word| word.strip_prefix(prefix))
                .map(str::to_string)
                .collect()
        };
        // From the package's folder.
        let own = words("$(RINGTAP_PKGDIR)/");
        assert_eq!(own, ["S50ringtap", "ringtap.service"]);
        for file in own {
            assert!(workspace_root().join(PACKAGE).join(&file).is_file());
        }
        // From the downloaded source, for every board.
        let from_source = words("$(@D)/");
        assert!(!from_source.is_empty());
        let commit = pinned_commit().unwrap();
        for board in build::board_names() {
            for path in &from_source {
                let path = path.replace("$(RINGTAP_BOARD)", board);
                let out = Command::new("git")
                    .args(["cat-file", "-e", &format!("{commit}:{path}")])
                    .current_dir(workspace_root())
                    .status()
                    .unwrap();
                assert!(out.success(), "{path} is not in {commit}");
            }
        }
        assert_eq!(
            words("$(TARGET_DIR)/"),
            [
                "etc/ringtap/board.toml",
                "etc/init.d/S50ringtap",
                "usr/lib/systemd/system/ringtap.service"
            ]
        );
        let desc = repo_file(&format!("{TREE}/external.desc"));
        assert!(desc.starts_with("name: RINGTAP\n"));
    }

    #[test]
    fn the_init_script_is_not_executable_in_the_tree() {
        use std::os::unix::fs::PermissionsExt;
        let script = workspace_root().join(PACKAGE).join("S50ringtap");
        let mode = std::fs::metadata(script).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "mode {mode:o}: Buildroot installs it 0755");
    }

    #[test]
    fn board_defaults_follow_the_architecture() {
        let config_in = repo_file(&format!("{PACKAGE}/Config.in"));
        for (symbol, arch) in [
            ("BR2_aarch64", "aarch64"),
            ("BR2_arm", "armv7"),
            ("BR2_x86_64", "x86_64"),
        ] {
            let board = default_board(&config_in, symbol).unwrap();
            let profile = build::load_profile(&board).unwrap();
            assert!(
                profile.target.starts_with(&format!("{arch}-")),
                "{symbol} defaults to {board}, which targets {}",
                profile.target
            );
        }
        // No default for every architecture at once.
        assert!(!config_in
            .lines()
            .any(|l| l.trim().starts_with("default \"") && !l.contains(" if ")));
        assert_eq!(default_board(&config_in, "BR2_mips"), None);
        assert!(config_in.contains("Rust 1.87 or newer"));
    }

    #[test]
    fn what_the_download_archive_must_hold() {
        let good = "r/\nr/Cargo.lock\nr/appliance/Cargo.toml\nr/.cargo/config.toml\n\
                    r/VENDOR/rustix/Cargo.toml\nr/VENDOR/rustix/.cargo-checksum.json\n";
        assert_eq!(archive_problem(good, "r"), None);
        assert_eq!(
            archive_problem(&format!("{good}r/target/release/ringtap\n"), "r").as_deref(),
            Some("target/release/ringtap is build output")
        );
        assert_eq!(
            archive_problem("r/Cargo.lock\n", "r").as_deref(),
            Some("no appliance/Cargo.toml")
        );
        let unvendored = good.replace("r/VENDOR/rustix/.cargo-checksum.json\n", "");
        assert_eq!(
            archive_problem(&unvendored, "r").as_deref(),
            Some("no vendored crate in VENDOR/")
        );
        assert_eq!(
            archive_problem(&format!("{good}x/y\n"), "r").as_deref(),
            Some("x/y is outside r/")
        );
    }

    #[test]
    fn the_archive_cargo_config_only_vendors() {
        let vendored = "[source.crates-io]\nreplace-with = \"vendored-sources\"\n\n\
                        [source.vendored-sources]\ndirectory = \"VENDOR\"\n";
        assert_eq!(cargo_config_problem(vendored), None);
        let leaked = format!(
            "{vendored}[target.armv7-unknown-linux-gnueabihf]\nrustflags = [\"-C\", \
             \"target-feature=+crt-static\"]\n"
        );
        assert_eq!(
            cargo_config_problem(&leaked),
            Some("has more than the vendored source")
        );
        for unvendored in ["", "[source.crates-io]\n"] {
            assert_eq!(
                cargo_config_problem(unvendored),
                Some("does not replace crates.io with VENDOR")
            );
        }
    }
}
