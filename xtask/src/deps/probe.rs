//! Proof that a cross toolchain works, not just that its packages are
//! installed: a tiny program is built for the target with the workspace's
//! own cargo configuration (linker, `+crt-static`, runner), linked static,
//! and run under qemu-user. When that fails, the failure is matched to the
//! package or rustup target that is missing.

use std::fs;
use std::path::PathBuf;

use crate::{target_dir, Cmd, Error, Result};

/// What the probe prints; the run must print exactly this.
fn greeting(target: &str) -> String {
    format!("ringtap toolchain probe: {target}")
}

/// A package of its own (`[workspace]`), under the workspace root so that
/// cargo reads the repository's `.cargo/config.toml`, as the real builds do.
fn write_probe(target: &str) -> Result<PathBuf> {
    let dir = target_dir().join("toolchain-probe").join(target);
    let src = dir.join("src");
    fs::create_dir_all(&src)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", src.display())))?;
    let manifest = "[package]\nname = \"toolchain-probe\"\nversion = \"0.0.0\"\n\
                    edition = \"2021\"\npublish = false\n\n[workspace]\n";
    // Static means no program interpreter: qemu-user runs it without a
    // sysroot only if that holds.
    let main = format!(
        "fn main() {{\n    println!(\"{}\");\n}}\n",
        greeting(target)
    );
    for (path, text) in [
        (dir.join("Cargo.toml"), manifest),
        (src.join("main.rs"), &main),
    ] {
        fs::write(&path, text)
            .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(dir)
}

/// Builds and runs the probe for `target`; on failure says what to install.
pub fn prove(target: &str) -> Result {
    let dir = write_probe(target)?;
    let (status, stdout, stderr) = Cmd::cargo()
        .args(["run", "--quiet", "--target", target])
        .current_dir(&dir)
        .output_and_stderr()?;
    if status.success() && stdout.trim() == greeting(target) {
        println!("deps: {target}: a static program links and runs under qemu-user");
        return Ok(());
    }
    Err(Error::Failed(format!(
        "the {target} toolchain does not work: {}\n--- what cargo said ---\n{}",
        diagnose(target, &stderr, &stdout),
        stderr.trim()
    )))
}

/// The cause of a failed probe, as advice naming the package or target.
pub fn diagnose(target: &str, stderr: &str, stdout: &str) -> String {
    let armhf_libc = ["crt1.o", "crti.o", "-lc", "-lgcc_eh", "libc.a"];
    if stderr.contains("can't find crate for `std`")
        || stderr.contains("target may not be installed")
    {
        format!("the Rust standard library for {target} is missing: `rustup target add {target}`")
    } else if stderr.contains("linker `arm-linux-gnueabihf-gcc` not found") {
        "the armv7 linker is missing: install the Debian package gcc-arm-linux-gnueabihf"
            .to_string()
    } else if stderr.contains("cannot find") && armhf_libc.iter().any(|file| stderr.contains(file))
    {
        "the armhf C library (startup files crt1.o/crti.o and libc.a) is missing: install \
         the Debian package libc6-dev-armhf-cross (only a Recommends of \
         gcc-arm-linux-gnueabihf, so `--no-install-recommends` leaves it out)"
            .to_string()
    } else if stderr.contains("linker `rust-lld` not found") {
        "rust-lld, which ships with the Rust toolchain, is missing: reinstall the toolchain \
         with rustup"
            .to_string()
    } else if stderr.contains("could not execute process `qemu-") {
        "qemu-user is missing: install the Debian package qemu-user-static".to_string()
    } else if stderr.contains("Could not open '/lib/ld-") || stderr.contains("interpreter") {
        format!(
            "the program was linked dynamically: the {target} entry of .cargo/config.toml must \
             link statically (+crt-static)"
        )
    } else if !stdout.is_empty() {
        format!(
            "it ran but printed {:?} instead of {:?}",
            stdout.trim(),
            greeting(target)
        )
    } else {
        "cargo's own message follows".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMV7: &str = "armv7-unknown-linux-gnueabihf";

    #[test]
    fn each_failure_names_what_to_install() {
        let cases = [
            (
                "= note: /usr/lib/gcc-cross/arm-linux-gnueabihf/12/../../../../arm-linux-gnueabihf/bin/ld: \
                 cannot find crt1.o: No such file or directory\n  ld: cannot find -lc",
                "libc6-dev-armhf-cross",
            ),
            (
                "error: linker `arm-linux-gnueabihf-gcc` not found",
                "gcc-arm-linux-gnueabihf",
            ),
            (
                "error[E0463]: can't find crate for `std`\n  = note: the `armv7-unknown-linux-gnueabihf` \
                 target may not be installed",
                "rustup target add armv7-unknown-linux-gnueabihf",
            ),
            (
                "error: could not execute process `qemu-arm-static target/x/probe` (never executed)",
                "qemu-user-static",
            ),
            (
                "qemu-arm-static: Could not open '/lib/ld-linux-armhf.so.3': No such file or directory",
                "+crt-static",
            ),
        ];
        for (stderr, advice) in cases {
            let said = diagnose(ARMV7, stderr, "");
            assert!(said.contains(advice), "{stderr:?} -> {said:?}");
        }
    }

    #[test]
    fn the_probe_is_its_own_workspace() {
        let dir = write_probe("probe-test-target").unwrap();
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
        let main = fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains(&greeting("probe-test-target")), "{main}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
