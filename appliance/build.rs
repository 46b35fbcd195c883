//! With the `defmt` feature, links `ringtap` with `defmt-linux.x` (defmt's
//! interned strings in a `.defmt` section) as a non-PIE executable, and
//! makes `info`/`warn` frames the default defmt filter (`DEFMT_LOG`).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_DEFMT").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("defmt-linux.x");
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
