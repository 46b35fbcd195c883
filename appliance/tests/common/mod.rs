//! What the command-line tests share: running the built binary and reading
//! its output.

use std::process::{Command, Output};

/// Runs the built `ringtap` with `args`.
pub fn ringtap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringtap"))
        .args(args)
        .output()
        .expect("run the ringtap binary")
}

/// Program output as text (invalid UTF-8 shown, not fatal).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
