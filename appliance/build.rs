//! With the `defmt` feature, links `ringtap` with `defmt-linux.x` (defmt's
//! interned strings in a `.defmt` section) as a non-PIE executable, and
//! sets the defmt level filter (`DEFMT_LOG`) to `info` unless the builder
//! chose one.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
