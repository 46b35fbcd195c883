//! `cargo xtask <task>`: repository automation for ringtap, in Rust instead of
//! shell scripts (see <https://github.com/matklad/cargo-xtask>).
//!
//! One file per task; this file holds the dispatch and the small helpers that
//! run external commands so every task echoes and reports them the same way.

mod bench;
mod build;
mod buildroot;
mod demo;
mod deps;
mod dist;
mod test;
mod vm;
mod yocto;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};

use clap::{CommandFactory, Parser, Subcommand};

/// ringtap's repository tasks (`cargo xtask <task> --help` describes each).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Option<Task>,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Everything the README promises: deps, fmt, clippy, msrv, unit,
    /// check-package, netns, arm, boards, buildroot, vm
    #[command(long_about = test::ABOUT)]
    Test(test::Args),
    /// Check for, and as root install, the tools the tests and demo need
    #[command(long_about = deps::ABOUT)]
    Deps(deps::Args),
    /// Static release binary for a board, stripped, size-checked, run under
    /// qemu-user
    #[command(long_about = build::ABOUT)]
    Build(build::Args),
    /// A board's install tarball (binary, profile, init script, systemd
    /// unit); the commit the Buildroot package and the Yocto recipe build
    #[command(long_about = dist::ABOUT)]
    Dist(dist::Args),
    /// Build the appliance, show its ring layout and run ringtap bridge
    /// between two network namespaces with ping, UDP and VLAN traffic
    #[command(long_about = demo::ABOUT)]
    Demo(demo::Args),
    /// Boot the emulated ARM boards under qemu-system and check frames
    /// crossing them
    #[command(long_about = vm::ABOUT)]
    Vm(vm::Args),
    /// Forwarding rate, delay and CPU cost of ringtap bridge, netsniff-ng and
    /// the kernel bridge between namespaces, and of ringtap capture, tcpdump
    /// and netsniff-ng writing files (root)
    #[command(long_about = bench::ABOUT)]
    Bench(bench::Args),
}

fn main() -> ExitCode {
    // clap prints help and usage errors itself: help exits 0, a bad
    // option or value 2.
    let cli = Cli::parse();
    let result = match cli.task {
        None => Cli::command()
            .print_help()
            .map_err(|e| Error::Failed(format!("cannot print the help: {e}"))),
        Some(Task::Test(args)) => test::run(&args),
        Some(Task::Deps(args)) => deps::run(&args),
        Some(Task::Demo(args)) => demo::run(&args),
        Some(Task::Build(args)) => build::run(&args),
        Some(Task::Dist(args)) => dist::run(&args),
        Some(Task::Vm(args)) => vm::run(&args),
        Some(Task::Bench(args)) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Reported) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Why a task did not succeed.
#[derive(Debug)]
pub enum Error {
    /// The command line was wrong (exit status 2).
    Usage(String),
    /// A step or a command failed (exit status 1).
    Failed(String),
    /// A failure that has already been printed (exit status 1).
    Reported,
}

impl Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) | Error::Reported => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Failed(msg) => f.write_str(msg),
            Error::Reported => f.write_str("failed (reported above)"),
        }
    }
}

pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` (relative to the
/// workspace root, where every command here runs) or `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Whether `unshare --user --map-root-user --net true` works, i.e. this user
/// can become root of a new user + network namespace. On failure returns
/// what `unshare` said.
pub fn can_unshare_as_user() -> Result<(), String> {
    Cmd::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .probe()
}

/// An external command that is echoed (`$ cmd args`) before it runs and,
/// when it fails, reported with its command line and exit status.
#[derive(Debug)]
pub struct Cmd {
    command: Command,
    /// `KEY=value` words shown in front of the command.
    env_words: Vec<String>,
    /// Program and arguments as shown.
    words: Vec<String>,
    echo: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref();
        let mut command = Command::new(program);
        command.current_dir(workspace_root());

        // Binaries we built are shown relative to the root, where they run.
        let root = workspace_root();
        let shown = Path::new(program)
            .strip_prefix(&root)
            .unwrap_or(program.as_ref());
        Cmd {
            command,
            env_words: Vec::new(),
            words: vec![quote(shown.as_os_str())],
            echo: true,
        }
    }

    /// The cargo that is running xtask, so every step uses one toolchain.
    pub fn cargo() -> Self {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Cmd::new(cargo);
        cmd.words = vec!["cargo".to_string()];
        cmd
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.words.push(quote(arg.as_ref()));
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        args.into_iter().fold(self, Cmd::arg)
    }

    /// Sets an environment variable; it is shown in front of the command.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env_words
            .push(format!("{key}={}", quote(value.as_ref())));
        self.command.env(key, value);
        self
    }

    /// Leaves a variable of ours out of the command's environment.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Runs `prefix... <this command>` (e.g. under `unshare`), keeping the
    /// environment, which the prefix program passes on.
    pub fn wrapped_in(self, prefix: &[&str]) -> Self {
        let Some((program, prefix_args)) = prefix.split_first() else {
            return self;
        };
        let mut wrapped = Cmd::new(program).args(prefix_args);
        wrapped.command.arg(self.command.get_program());
        wrapped.command.args(self.command.get_args());
        for (key, value) in self.command.get_envs() {
            if let Some(value) = value {
                wrapped.command.env(key, value);
            }
        }
        wrapped.words.extend(self.words);
        wrapped.env_words = self.env_words;
        wrapped.echo = self.echo;
        wrapped
    }

    /// Runs the command in `dir` instead of the workspace root.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Does not echo the command (for read-only queries).
    pub fn quiet(mut self) -> Self {
        self.echo = false;
        self
    }

    /// The command line as a shell user would type it.
    pub fn shown(&self) -> String {
        let mut words = self.env_words.clone();
        words.extend(self.words.iter().cloned());
        words.join(" ")
    }

    fn announce(&self) {
        if self.echo {
            println!("$ {}", self.shown());
        }
    }

    /// Runs the command with inherited stdio; a non-zero exit is an error.
    pub fn run(mut self) -> Result {
        self.announce();
        let status = self.command.status().map_err(|e| self.cannot_start(&e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Failed(format!(
                "`{}` failed ({status})",
                self.shown()
            )))
        }
    }

    /// Runs the command and returns its stdout; a non-zero exit is an error.
    pub fn output(self) -> Result<String> {
        let shown = self.shown();
        match self.output_any_status()? {
            (status, stdout) if status.success() => Ok(stdout),
            (status, _) => Err(Error::Failed(format!("`{shown}` failed ({status})"))),
        }
    }

    /// Runs the command and returns its exit status and stdout.
    pub fn output_any_status(mut self) -> Result<(ExitStatus, String)> {
        self.announce();
        let out = self
            .command
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| self.cannot_start(&e))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok((out.status, stdout))
    }

    /// Runs the command and returns its exit status, stdout and stderr.
    pub fn output_and_stderr(mut self) -> Result<(ExitStatus, String, String)> {
        self.announce();
        let out = self
            .command
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.cannot_start(&e))?;
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Ok((out.status, text(&out.stdout), text(&out.stderr)))
    }

    /// Starts the command with its stdin and stdout on pipes (stderr
    /// inherited) and returns it running.
    pub fn spawn_piped(mut self) -> Result<Child> {
        self.announce();
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| self.cannot_start(&e))
    }

    /// Runs the command only to see whether it succeeds; on failure returns
    /// its exit status and what it wrote to stderr.
    pub fn probe(mut self) -> Result<(), String> {
        self.announce();
        let out = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| self.cannot_start(&e).to_string())?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "`{}` failed ({}): {}",
            self.shown(),
            out.status,
            said.trim()
        ))
    }

    fn cannot_start(&self, err: &std::io::Error) -> Error {
        let program = self.command.get_program().to_string_lossy();
        Error::Failed(format!("cannot run `{}`: {program}: {err}", self.shown()))
    }
}

/// Quotes a word for display the way a shell user would type it.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_as_typed() {
        let cmd = Cmd::cargo()
            .args(["fmt", "--all", "--", "--check"])
            .env("PROPTEST_CASES", "64");
        assert_eq!(cmd.shown(), "PROPTEST_CASES=64 cargo fmt --all -- --check");
        assert_eq!(quote("${Status}".as_ref()), "'${Status}'");
    }

    #[test]
    fn wrapped_command_keeps_env_and_args() {
        let cmd = Cmd::cargo()
            .args(["test", "-p", "ringtap-tests"])
            .env("RINGTAP_REQUIRE_NETNS", "1")
            .wrapped_in(&["unshare", "--user", "--map-root-user"]);
        assert_eq!(
            cmd.shown(),
            "RINGTAP_REQUIRE_NETNS=1 unshare --user --map-root-user cargo test -p ringtap-tests"
        );
        let envs: Vec<_> = cmd.command.get_envs().collect();
        assert_eq!(
            envs,
            [(OsStr::new("RINGTAP_REQUIRE_NETNS"), Some(OsStr::new("1")))]
        );
    }
}
