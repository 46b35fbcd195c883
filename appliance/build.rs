//! What `ringtap --version` reports besides the version: the commit the
//! binary was built from, its target triple and its enabled features.
//!
//! With the `defmt` feature, also links `ringtap` with `defmt-linux.x`
//! (defmt's interned strings in a `.defmt` section) as a non-PIE
//! executable, and sets the defmt level filter (`DEFMT_LOG`) to `info`
//! unless the builder chose one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    build_info();
    if std::env::var_os("CARGO_FEATURE_DEFMT").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    if let Some(why) = static_pie_conflict() {
        println!("cargo::error={why}");
        return;
    }
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = Path::new(&manifest_dir).join("defmt-linux.x");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    // The logged string indices are link-time addresses: the executable must
    // be loaded where it was linked.
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // defmt compiles out every level below `error` unless DEFMT_LOG says
    // otherwise; ringtap's messages are `info` and `warn`.
    let filter = std::env::var("DEFMT_LOG").unwrap_or_else(|_| "info".to_string());
    println!("cargo:rustc-env=DEFMT_LOG={filter}");
}

/// On x86_64, `+crt-static` alone makes rustc link a static PIE (its start
/// code relocates the executable itself); forced to non-PIE on top of that
/// the binary crashes before `main`. `-C relocation-model=static` makes
/// rustc link a plain static executable instead.
fn static_pie_conflict() -> Option<String> {
    let var = |key: &str| std::env::var(key).unwrap_or_default();
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let static_relocs = var("CARGO_ENCODED_RUSTFLAGS").contains("relocation-model=static");
    (var("CARGO_CFG_TARGET_ARCH") == "x86_64" && crt_static && !static_relocs).then(|| {
        "feature `defmt` needs a non-PIE executable, but `-C target-feature=+crt-static` on \
         x86_64 links a static PIE: add `-C relocation-model=static` to the RUSTFLAGS"
            .to_string()
    })
}

/// `RINGTAP_COMMIT`, `RINGTAP_TARGET` and `RINGTAP_FEATURES` for the
/// binary: a defmt build's log can only be decoded with the ELF it came
/// from, and a package build says little about itself otherwise.
fn build_info() {
    let var = |key: &str| std::env::var(key).unwrap_or_default();
    println!("cargo:rustc-env=RINGTAP_TARGET={}", var("TARGET"));
    // Cargo tells a build script the features as CARGO_FEATURE_<NAME>
    // (upper case, `-` as `_`).
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(key, _)| {
            let name = key.strip_prefix("CARGO_FEATURE_")?;
            Some(name.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(" ")
    };
    println!("cargo:rustc-env=RINGTAP_FEATURES={features}");
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let commit = archived_commit(&manifest_dir)
        .or_else(|| checkout_commit(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RINGTAP_COMMIT={commit}");
}

/// The commit `git archive` (and so a GitHub source tarball, which the
/// Buildroot package downloads) wrote into `git-archive-commit`: the file
/// is marked `export-subst` in `.gitattributes`. In a checkout it still
/// holds the unexpanded placeholder.
fn archived_commit(manifest_dir: &Path) -> Option<String> {
    let file = manifest_dir.join("git-archive-commit");
    println!("cargo:rerun-if-changed={}", file.display());
    let text = std::fs::read_to_string(file).ok()?;
    let commit = text.trim();
    is_commit_id(commit).then(|| commit.to_string())
}

/// HEAD of the git checkout this crate is in, when the workspace is that
/// checkout's top level (a source tarball unpacked inside some other
/// repository, e.g. a Buildroot or Yocto build directory, must not report
/// that repository's commit). Uncommitted changes are not marked: cargo
/// would not rerun this script when a source file changes.
fn checkout_commit(manifest_dir: &Path) -> Option<String> {
    let workspace = manifest_dir.parent()?.canonicalize().ok()?;
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&workspace)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_string())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != workspace {
        return None;
    }
    // Run again after a commit, a checkout or a pack of the refs (only
    // files that exist: cargo takes a missing one as always changed).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "--quiet", "HEAD"]));
    for name in watched {
        let Some(path) = git(&["rev-parse", "--git-path", &name]) else {
            continue;
        };
        let path = workspace.join(path);
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(&["rev-parse", "HEAD"]).filter(|commit| is_commit_id(commit))
}

/// A full SHA-1 or SHA-256 object name.
fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}
