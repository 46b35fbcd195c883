//! `cargo xtask dist --board NAME`: a tarball that installs ringtap on a
//! board, laid out as a Buildroot or Yocto image would have it; and
//! `cargo xtask dist --pin REV`, the commit the Buildroot package and the
//! Yocto recipe build.
//!
//! The Buildroot external tree and the Yocto layer are source files in
//! `boards/packaging/`; `buildroot.rs` and `yocto.rs` test them.

use std::path::{Path, PathBuf};

use ringtap_board::Board;

use crate::build;
use crate::{buildroot, yocto};
use crate::{target_dir, workspace_root, Cmd, Error, Result};

/// `cargo xtask dist --help`, above the options.
pub const ABOUT: &str = "\
Builds the board's binary (as `cargo xtask build --board NAME`) and writes
<target dir>/dist/ringtap-<version>-<board>.tar.gz, to unpack at / (or into
an image's root directory):
  usr/bin/ringtap                          0755  the stripped static binary
  usr/share/ringtap/board.toml             0644  the board's profile: ports, rings
  etc/init.d/S50ringtap                    0755  BusyBox/SysV init script
  usr/lib/systemd/system/ringtap.service   0644  systemd unit
  usr/lib/tmpfiles.d/ringtap.conf          0644  systemd-tmpfiles: the profile to /etc
  usr/share/doc/ringtap/README.md          0644  the board's README
  usr/share/doc/ringtap/LICENSE-MIT        0644
  usr/share/doc/ringtap/LICENSE-APACHE     0644
Both the init script and the unit run `ringtap bridge --config
/etc/ringtap/board.toml`, restart it when it fails and log to syslog or the
journal. The tarball does not hold /etc/ringtap/board.toml: the init
script (at start) and systemd-tmpfiles (at boot) copy the default profile
there only when that file does not exist, so unpacking a newer tarball
keeps the profile you edited.

For images built from source use boards/packaging/buildroot (a Buildroot
external tree) or boards/packaging/yocto/meta-ringtap (a Yocto layer).";

/// The options of `cargo xtask dist`: `--board NAME`..., `--all` or
/// `--pin REV`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// A board, a folder of boards/ (may be repeated)
    #[arg(long, value_name = "NAME", value_parser = build::board_name_parser())]
    board: Vec<String>,
    /// Every board
    #[arg(long)]
    all: bool,
    /// Make the Buildroot package (RINGTAP_VERSION) and the Yocto recipe
    /// (SRCREV, PV) build commit REV, e.g. HEAD, and write the recipe's crate
    /// list for it as `bitbake -c update_crates` would (REV must reach the main
    /// branch of https://github.com/ringtap/ringtap)
    #[arg(long, value_name = "REV")]
    pin: Option<String>,
}

/// The init script and the unit (in the Buildroot package's folder, as
/// Buildroot wants them) and the tarball's tmpfiles.d file, relative to
/// the root.
pub const INIT_SCRIPT: &str = "boards/packaging/buildroot/package/ringtap/S50ringtap";
pub const SYSTEMD_UNIT: &str = "boards/packaging/buildroot/package/ringtap/ringtap.service";
const TMPFILES: &str = "boards/packaging/files/ringtap-tmpfiles.conf";

/// Where a file of the tarball comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The board's stripped binary.
    Binary,
    /// A file of the board's folder.
    Board(&'static str),
    /// A file of the repository.
    Repo(&'static str),
}

/// Every file of the tarball: path, mode, source. The profile is a default
/// under /usr/share: an unpacked /etc/ringtap/board.toml would replace the
/// one the user edited.
const LAYOUT: [(&str, u32, Source); 8] = [
    ("usr/bin/ringtap", 0o755, Source::Binary),
    (
        "usr/share/ringtap/board.toml",
        0o644,
        Source::Board("board.toml"),
    ),
    ("etc/init.d/S50ringtap", 0o755, Source::Repo(INIT_SCRIPT)),
    (
        "usr/lib/systemd/system/ringtap.service",
        0o644,
        Source::Repo(SYSTEMD_UNIT),
    ),
    (
        "usr/lib/tmpfiles.d/ringtap.conf",
        0o644,
        Source::Repo(TMPFILES),
    ),
    (
        "usr/share/doc/ringtap/README.md",
        0o644,
        Source::Board("README.md"),
    ),
    (
        "usr/share/doc/ringtap/LICENSE-MIT",
        0o644,
        Source::Repo("LICENSE-MIT"),
    ),
    (
        "usr/share/doc/ringtap/LICENSE-APACHE",
        0o644,
        Source::Repo("LICENSE-APACHE"),
    ),
];

pub fn run(args: &Args) -> Result {
    match &args.pin {
        Some(revision) => pin(revision),
        None if args.all => boards(&build::board_names().map(str::to_string).collect::<Vec<_>>()),
        None => boards(&args.board),
    }
}

/// The tarballs of these boards, as `cargo xtask dist --board NAME...`
/// writes them.
pub fn boards(boards: &[String]) -> Result {
    let out_dir = target_dir().join("dist");
    let mut made = Vec::new();
    for name in boards {
        let built = build::build_board(name)?;
        made.push(package(&built.profile, &built.binary, &out_dir)?);
    }
    println!();
    for tarball in &made {
        let shown = tarball.strip_prefix(workspace_root()).unwrap_or(tarball);
        println!(
            "wrote {}: unpack it at the board's / (tar -xzf ... -C /)",
            shown.display()
        );
    }
    println!(
        "Buildroot external tree: boards/packaging/buildroot; Yocto layer: \
         boards/packaging/yocto/meta-ringtap"
    );
    Ok(())
}

/// Points the Buildroot package and the Yocto recipe at `revision` (a
/// commit of this repository; they download it from the project's GitHub
/// home), and writes the recipe's crate list for it.
fn pin(revision: &str) -> Result {
    let commit = Cmd::new("git")
        .args(["rev-parse", "--verify", &format!("{revision}^{{commit}}")])
        .quiet()
        .output()?;
    let commit = commit.trim();
    let mk_path = workspace_root().join(buildroot::PACKAGE).join("ringtap.mk");
    let mk = std::fs::read_to_string(&mk_path).map_err(|e| io_error("read", &mk_path, &e))?;
    std::fs::write(&mk_path, buildroot::with_version(&mk, commit)?)
        .map_err(|e| io_error("write", &mk_path, &e))?;
    println!("RINGTAP_VERSION = {commit} in {}", mk_path.display());
    for path in yocto::pin(commit)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes `<out_dir>/ringtap-<version>-<board>.tar.gz` with `binary` as
/// the board's ringtap, and returns its path.
fn package(profile: &Board, binary: &Path, out_dir: &Path) -> Result<PathBuf> {
    let stage = out_dir.join(format!("{}-root", profile.name));
    remove_dir(&stage)?;
    let board_dir = build::board_dir(&profile.name);
    for (path, mode, source) in LAYOUT {
        let from = match source {
            Source::Binary => binary.to_path_buf(),
            Source::Board(file) => board_dir.join(file),
            Source::Repo(file) => workspace_root().join(file),
        };
        let to = stage.join(path);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, &e))?;
        }
        std::fs::copy(&from, &to).map_err(|e| {
            Error::Failed(format!(
                "cannot copy {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
        set_mode(&to, mode)?;
    }
    let tarball = out_dir.join(format!(
        "ringtap-{}-{}.tar.gz",
        env!("CARGO_PKG_VERSION"),
        profile.name
    ));
    // Files only, no directory entries: unpacking at / must not change the
    // modes or owners of /usr or /etc. Owners, times and gzip header are
    // fixed so the same inputs give the same tarball.
    Cmd::new("tar")
        .args([
            "--create",
            "--format=ustar",
            "--use-compress-program=gzip -n",
        ])
        .args(["--owner=0", "--group=0", "--numeric-owner"])
        .arg(format!("--mtime=@{}", source_date()))
        .arg("--file")
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .args(LAYOUT.map(|(path, _, _)| path))
        .run()?;
    remove_dir(&stage)?;
    Ok(tarball)
}

/// Seconds since the epoch to stamp the files with: `SOURCE_DATE_EPOCH`,
/// else the last commit's time, else now.
fn source_date() -> u64 {
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|e| e.trim().parse().ok())
    {
        return epoch;
    }
    let committed = Cmd::new("git")
        .args(["log", "-1", "--format=%ct"])
        .quiet()
        .output()
        .ok()
        .and_then(|out| out.trim().parse().ok());
    committed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

fn set_mode(path: &Path, mode: u32) -> Result {
    use std::os::unix::fs::PermissionsExt;

    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("set the mode of", path, &e))
}

fn remove_dir(dir: &Path) -> Result {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", dir, &e)),
        _ => Ok(()),
    }
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::Failed(format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// A temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("ringtap-dist-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn repo_file(path: &str) -> String {
        std::fs::read_to_string(workspace_root().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn run(cmd: &mut Command) -> String {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every file under `root`: relative path -> mode bits.
    fn files_under(root: &Path) -> BTreeMap<String, u32> {
        let mut found = BTreeMap::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    found.insert(
                        relative.to_string_lossy().into_owned(),
                        meta.permissions().mode() & 0o7777,
                    );
                }
            }
        }
        found
    }

    #[test]
    fn arguments() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("dist").chain(args.iter().copied()))
                .map(|cli| cli.args)
        };
        let one = parse(&["--board", "rpi4"]).unwrap();
        assert_eq!(
            (one.board, one.all, one.pin),
            (vec!["rpi4".into()], false, None)
        );
        assert_eq!(
            parse(&["--pin", "HEAD"]).unwrap().pin.as_deref(),
            Some("HEAD")
        );
        assert!(parse(&["--all"]).unwrap().all);
        for bad in [
            &[][..],
            &["--all", "--board", "rpi4"],
            &["--pin", "HEAD", "--all"],
            &["--pin"],
            &["--pin", "HEAD", "--board", "rpi4"],
            &["--board"],
            &["--board", "rpi5"],
            &["rpi4"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Unpacks `tarball` at `root`, as `tar -xzf ... -C /` would.
    fn unpack(tarball: &Path, root: &Path) {
        std::fs::create_dir_all(root).unwrap();
        run(Command::new("tar")
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(root));
    }

    /// A stand-in for the cross-built binary: the layout is what is tested.
    fn stand_in_binary(dir: &Path) -> PathBuf {
        let binary = dir.join("ringtap");
        std::fs::write(&binary, "#!/bin/sh\necho ringtap\n").unwrap();
        set_mode(&binary, 0o700).unwrap();
        binary
    }

    #[test]
    fn tarball_installs_into_a_destdir() {
        let tmp = TempDir::new("tarball");
        let binary = stand_in_binary(&tmp.0);
        let profile = build::load_profile("beaglebone-black").unwrap();
        let tarball = package(&profile, &binary, &tmp.0).unwrap();
        assert_eq!(
            tarball.file_name().unwrap().to_str().unwrap(),
            format!(
                "ringtap-{}-beaglebone-black.tar.gz",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(
            !tmp.0.join("beaglebone-black-root").exists(),
            "staging left behind"
        );

        // As an image build or an admin would: unpack at the root.
        let destdir = tmp.0.join("destdir");
        unpack(&tarball, &destdir);
        let expected: BTreeMap<String, u32> = [
            ("etc/init.d/S50ringtap", 0o755),
            ("usr/bin/ringtap", 0o755),
            ("usr/lib/systemd/system/ringtap.service", 0o644),
            ("usr/lib/tmpfiles.d/ringtap.conf", 0o644),
            ("usr/share/doc/ringtap/LICENSE-APACHE", 0o644),
            ("usr/share/doc/ringtap/LICENSE-MIT", 0o644),
            ("usr/share/doc/ringtap/README.md", 0o644),
            ("usr/share/ringtap/board.toml", 0o644),
        ]
        .into_iter()
        .map(|(path, mode)| (path.to_string(), mode))
        .collect();
        assert_eq!(files_under(&destdir), expected);
        let installed = |path: &str| std::fs::read_to_string(destdir.join(path)).unwrap();
        assert_eq!(
            installed("usr/share/ringtap/board.toml"),
            repo_file("boards/beaglebone-black/board.toml")
        );
        assert_eq!(installed("etc/init.d/S50ringtap"), repo_file(INIT_SCRIPT));
        assert_eq!(
            installed("usr/lib/systemd/system/ringtap.service"),
            repo_file(SYSTEMD_UNIT)
        );
        assert_eq!(
            installed("usr/lib/tmpfiles.d/ringtap.conf"),
            repo_file(TMPFILES)
        );
        assert_eq!(
            installed("usr/share/doc/ringtap/README.md"),
            repo_file("boards/beaglebone-black/README.md")
        );
        assert_eq!(installed("usr/bin/ringtap"), "#!/bin/sh\necho ringtap\n");

        // Owned by root, files only (no entry for /usr or /etc themselves).
        let listing = run(Command::new("tar")
            .args(["--list", "--verbose", "--numeric-owner", "-zf"])
            .arg(&tarball));
        assert_eq!(listing.lines().count(), LAYOUT.len(), "{listing}");
        for line in listing.lines() {
            let mut words = line.split_whitespace();
            let mode = words.next().unwrap();
            assert!(mode.starts_with('-'), "not a plain file: {line}");
            assert_eq!(words.next(), Some("0/0"), "{line}");
        }
        // The same inputs give the same bytes.
        let first = std::fs::read(&tarball).unwrap();
        package(&profile, &binary, &tmp.0).unwrap();
        assert!(
            first == std::fs::read(&tarball).unwrap(),
            "tarball not reproducible"
        );
    }

    /// systemd-tmpfiles (`systemd` package), as at boot, on an image root.
    fn tmpfiles_at_boot(root: &Path) {
        run(Command::new("systemd-tmpfiles")
            .arg(format!("--root={}", root.display()))
            .args(["--create", "ringtap.conf"]));
    }

    #[test]
    fn unpacking_over_an_installed_system_keeps_the_edited_profile() {
        let tmp = TempDir::new("upgrade");
        let binary = stand_in_binary(&tmp.0);
        let root = tmp.0.join("root");
        let profile_path = root.join("etc/ringtap/board.toml");
        let old = package(&build::load_profile("rpi4").unwrap(), &binary, &tmp.0).unwrap();
        unpack(&old, &root);
        // First boot: the default becomes the profile.
        tmpfiles_at_boot(&root);
        let default = repo_file("boards/rpi4/board.toml");
        assert_eq!(std::fs::read_to_string(&profile_path).unwrap(), default);
        let edited = default.replace("in = \"", "in = \"lan");
        assert_ne!(edited, default);
        std::fs::write(&profile_path, &edited).unwrap();

        // An upgrade whose default profile differs, unpacked over it; then
        // a reboot.
        let new = package(
            &build::load_profile("qemu-virt-aarch64").unwrap(),
            &binary,
            &tmp.0.join("new"),
        )
        .unwrap();
        unpack(&new, &root);
        tmpfiles_at_boot(&root);
        assert_eq!(std::fs::read_to_string(&profile_path).unwrap(), edited);
        assert_eq!(
            std::fs::read_to_string(root.join("usr/share/ringtap/board.toml")).unwrap(),
            repo_file("boards/qemu-virt-aarch64/board.toml"),
            "the default is the new one"
        );
    }

    #[test]
    fn init_files_start_the_bridge_with_the_board_profile() {
        let unit = repo_file(SYSTEMD_UNIT);
        for line in [
            "ExecStart=/usr/bin/ringtap bridge --config /etc/ringtap/board.toml $RINGTAP_ARGS",
            "Environment=\"RINGTAP_ARGS=--fix-offloads --stats-file /run/ringtap/stats.json \
             --metrics-file /run/ringtap/ringtap.prom\"",
            "Type=notify",
            "ExecStopPost=/usr/bin/ringtap bypass --config /etc/ringtap/board.toml on --if-fail-open",
            "RuntimeDirectory=ringtap",
            "Restart=on-failure",
            "RestartPreventExitStatus=2",
            "StandardOutput=journal",
            "StandardError=journal",
            "WantedBy=multi-user.target",
        ] {
            assert!(
                unit.lines().any(|l| l == line),
                "{SYSTEMD_UNIT} lacks {line:?}"
            );
        }
        // Nothing points at documentation an image may not have.
        assert!(!unit.contains("Documentation="), "{SYSTEMD_UNIT}");
        let script = repo_file(INIT_SCRIPT);
        for line in [
            "DAEMON=\"ringtap\"",
            "CONFIG=\"/etc/$DAEMON/board.toml\"",
            "RUNTIME_DIR=\"/run/$DAEMON\"",
            "RINGTAP_ARGS=\"--fix-offloads --stats-file $RUNTIME_DIR/stats.json --metrics-file \
             $RUNTIME_DIR/$DAEMON.prom\"",
            "\t\t\t-- bridge --config \"$CONFIG\" $RINGTAP_ARGS \\",
            "\t\tlogger -t \"$DAEMON\" -p daemon.info <\"$LOG_FIFO\" &",
        ] {
            assert!(
                script.lines().any(|l| l == line),
                "{INIT_SCRIPT} lacks {line:?}"
            );
        }
        run(Command::new("sh")
            .arg("-n")
            .arg(workspace_root().join(INIT_SCRIPT)));
    }

    #[test]
    fn systemd_unit_passes_systemd_analyze_verify() {
        let tmp = TempDir::new("unit");
        // verify checks that ExecStart names an executable: a stand-in.
        let binary = stand_in_binary(&tmp.0);
        let unit = repo_file(SYSTEMD_UNIT);
        assert!(unit.contains("ExecStart=/usr/bin/ringtap "));
        let unit_path = tmp.0.join("ringtap.service");
        let moved = unit.replace("/usr/bin/ringtap", &binary.to_string_lossy());
        std::fs::write(&unit_path, moved).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit_path)
            .output()
            .expect("run systemd-analyze (Debian package systemd)");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.is_empty(), "{said}");
    }

    /// `systemd-analyze security` rates the unit's exposure at most 2.5 (of
    /// 10: the unit confines the service, it does not leave that to
    /// ringtap alone).
    #[test]
    fn systemd_unit_exposure_is_at_most_2_5() {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=25", "--no-pager"])
            .arg(workspace_root().join(SYSTEMD_UNIT))
            .output()
            .expect("run systemd-analyze (Debian package systemd)");
        let said = String::from_utf8_lossy(&out.stdout);
        let level = said
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("no exposure level in {said}"));
        assert!(out.status.success(), "{level}");
    }

    /// Runs the init script with its paths moved into `tmp`, a stand-in
    /// ringtap and a `logger` that appends to a file.
    struct InitHarness {
        tmp: TempDir,
        path: String,
    }

    impl InitHarness {
        /// `bridge` is the body of the stand-in's bridge mode: `$run`
        /// counts its runs. The stand-in is a copy of bash, so that
        /// start-stop-daemon's `--exec` finds it as the process's
        /// executable, as it finds ringtap; bash runs `ringtap bridge ...`
        /// as the script `bridge`, which it looks up on PATH.
        fn new(name: &str, bridge: &str) -> InitHarness {
            let tmp = TempDir::new(name);
            let dir = &tmp.0;
            let bin = dir.join("bin");
            std::fs::create_dir(&bin).unwrap();
            let script = |path: &Path, body: &str| {
                std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
                set_mode(path, 0o755).unwrap();
            };
            // Log lines as "FACILITY.PRIORITY MESSAGE", from arguments or stdin.
            script(
                &bin.join("logger"),
                "while [ $# -gt 0 ]; do case $1 in -t) shift 2;; -p) p=$2; shift 2;; *) break;; \
                 esac; done\n\
                 if [ $# -gt 0 ]; then echo \"$p $*\" >>\"$TMP/log\"; else\n\
                 while IFS= read -r l; do echo \"$p $l\" >>\"$TMP/log\"; done; fi\n",
            );
            let bash = crate::deps::find_program("bash").expect("bash");
            std::fs::copy(bash, bin.join("ringtap")).unwrap();
            // `ringtap plan --config FILE --mode bridge` passes when FILE is.
            script(&bin.join("plan"), "[ -f \"$2\" ]\n");
            // `ringtap bypass ...` (fail-open after each exit) is recorded.
            script(
                &bin.join("bypass"),
                "echo \"bypass $*\" >>\"$TMP/bypass\"\n",
            );
            script(
                &bin.join("bridge"),
                &format!(
                    "echo \"bridge $*\" >>\"$TMP/runs\"\n\
                     run=$(wc -l <\"$TMP/runs\")\n{bridge}"
                ),
            );
            let dir_text = dir.display().to_string();
            let mut moved = repo_file(INIT_SCRIPT);
            for (from, to) in [
                (
                    "PIDFILE=\"/var/run/$DAEMON.pid\"",
                    "PIDFILE=\"@/ringtap.pid\"",
                ),
                (
                    "CONFIG=\"/etc/$DAEMON/board.toml\"",
                    "CONFIG=\"@/etc/board.toml\"",
                ),
                (
                    "DEFAULT_CONFIG=\"/usr/share/$DAEMON/board.toml\"",
                    "DEFAULT_CONFIG=\"@/default.toml\"",
                ),
                ("RUNTIME_DIR=\"/run/$DAEMON\"", "RUNTIME_DIR=\"@/run\""),
                ("\"/etc/default/$DAEMON\"", "\"@/defaults\""),
                ("\"/usr/bin/$DAEMON\"", "\"@/bin/$DAEMON\""),
            ] {
                assert!(moved.contains(from), "{INIT_SCRIPT} lacks {from}");
                moved = moved.replace(from, &to.replace('@', &dir_text));
            }
            script(&dir.join("S50ringtap"), &moved);
            std::fs::write(
                dir.join("defaults"),
                "RESTART_DELAY=0\nRINGTAP_ARGS=--stats\n",
            )
            .unwrap();
            let path = format!(
                "{}:{}:/usr/sbin:/sbin",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            InitHarness { tmp, path }
        }

        fn init(&self, action: &str) -> (Option<i32>, String) {
            let out = Command::new(self.tmp.0.join("S50ringtap"))
                .arg(action)
                .env("PATH", &self.path)
                .env("TMP", &self.tmp.0)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }

        fn path(&self, file: &str) -> PathBuf {
            self.tmp.0.join(file)
        }

        fn read(&self, file: &str) -> String {
            std::fs::read_to_string(self.path(file)).unwrap_or_default()
        }

        /// Polls until `done` holds (at most 20 s); false if it never did.
        fn wait_for(&self, done: impl Fn(&InitHarness) -> bool) -> bool {
            for _ in 0..200 {
                if done(self) {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            false
        }

        /// The bridge command line each run got.
        fn run_line(&self) -> String {
            format!(
                "bridge --config {} --stats\n",
                self.path("etc/board.toml").display()
            )
        }
    }

    impl Drop for InitHarness {
        fn drop(&mut self) {
            // Never leave a supervisor behind, whatever the test did.
            let _ = self.init("stop");
        }
    }

    const RUNS_UNTIL_TERM: &str = "trap 'echo final counters; exit 0' TERM\n\
         echo \"started $run\"\n\
         while :; do sleep 0.1; done\n";

    #[test]
    fn init_script_restarts_on_failure_and_stops_cleanly() {
        // Fails on its first run, then runs until SIGTERM.
        let h = InitHarness::new(
            "init-restart",
            &format!(
                "if [ \"$run\" -eq 1 ]; then echo \"started 1\"; echo boom >&2; exit 1; fi\n\
                 {RUNS_UNTIL_TERM}"
            ),
        );
        std::fs::create_dir(h.path("etc")).unwrap();
        std::fs::write(h.path("etc/board.toml"), "").unwrap();
        assert_eq!(h.init("start"), (Some(0), "Starting ringtap: OK\n".into()));
        assert!(
            h.wait_for(|h| h.read("log").contains("started 2")),
            "no second run; log:\n{}",
            h.read("log")
        );
        // ringtap's own pid is in the pid file, and status says so.
        let pid = h.read("ringtap.pid");
        let (status, said) = h.init("status");
        assert_eq!(status, Some(0), "{said}");
        assert_eq!(said, format!("ringtap is running (pid {})\n", pid.trim()));
        let exe = std::fs::read_link(format!("/proc/{}/exe", pid.trim())).unwrap();
        assert_eq!(exe, h.path("bin/ringtap"));
        assert_eq!(h.init("stop"), (Some(0), "Stopping ringtap: OK\n".into()));
        assert_eq!(h.init("status").0, Some(3));
        assert_eq!(h.read("runs"), h.run_line().repeat(2));
        // After each exit the profile decides whether the link fails open.
        assert_eq!(
            h.read("bypass"),
            format!(
                "bypass --config {} on --if-fail-open\n",
                h.path("etc/board.toml").display()
            )
            .repeat(2)
        );
        assert_eq!(
            h.read("log"),
            "daemon.info started 1\n\
             daemon.info boom\n\
             daemon.warning ringtap failed (exit status 1); starting it again in 0s\n\
             daemon.info started 2\n\
             daemon.info final counters\n"
        );
        for left in ["ringtap.pid", "ringtap-supervisor.pid", "ringtap.fifo"] {
            assert!(!h.path(left).exists(), "{left} left behind");
        }
        assert!(h.path("run").is_dir(), "no runtime directory");
    }

    #[test]
    fn init_script_does_not_restart_a_refused_configuration() {
        let h = InitHarness::new("init-refused", "echo 'bad ports' >&2\nexit 2\n");
        std::fs::create_dir(h.path("etc")).unwrap();
        std::fs::write(h.path("etc/board.toml"), "").unwrap();
        assert_eq!(h.init("start").0, Some(0));
        assert!(
            h.wait_for(|h| h.read("log").contains("refused") && h.init("status").0 == Some(3)),
            "supervisor still running; log:\n{}",
            h.read("log")
        );
        assert_eq!(
            h.read("log"),
            format!(
                "daemon.info bad ports\n\
                 daemon.err ringtap refused its configuration (exit status 2); fix {}, then \
                 restart\n",
                h.path("etc/board.toml").display()
            )
        );
        assert_eq!(h.read("runs").lines().count(), 1);
    }

    #[test]
    fn init_script_stopped_while_waiting_to_restart_stays_stopped() {
        let h = InitHarness::new(
            "init-delay",
            "if [ \"$run\" -eq 1 ]; then exit 1; fi\necho \"started $run\"\n",
        );
        std::fs::create_dir(h.path("etc")).unwrap();
        std::fs::write(h.path("etc/board.toml"), "").unwrap();
        std::fs::write(
            h.path("defaults"),
            "RESTART_DELAY=2\nRINGTAP_ARGS=--stats\n",
        )
        .unwrap();
        assert_eq!(h.init("start").0, Some(0));
        assert!(
            h.wait_for(|h| h.read("log").contains("starting it again in 2s")),
            "log:\n{}",
            h.read("log")
        );
        let (status, said) = h.init("status");
        assert_eq!(status, Some(0), "{said}");
        assert_eq!(h.init("stop"), (Some(0), "Stopping ringtap: OK\n".into()));
        // Past the delay: nothing started again.
        std::thread::sleep(std::time::Duration::from_millis(2500));
        assert_eq!(h.read("runs").lines().count(), 1, "{}", h.read("log"));
        assert_eq!(h.init("status").0, Some(3));
    }

    #[test]
    fn init_script_installs_the_default_profile_only_when_missing() {
        let h = InitHarness::new("init-default", RUNS_UNTIL_TERM);
        std::fs::write(h.path("default.toml"), "name = \"default\"\n").unwrap();
        assert_eq!(h.init("start").0, Some(0));
        assert_eq!(h.read("etc/board.toml"), "name = \"default\"\n");
        assert!(
            h.wait_for(|h| h.read("log").contains("started 1")),
            "log:\n{}",
            h.read("log")
        );
        assert_eq!(h.init("stop").0, Some(0));
        assert!(h.read("log").starts_with(&format!(
            "daemon.info installed the default profile {} as {}\n",
            h.path("default.toml").display(),
            h.path("etc/board.toml").display()
        )));
        // Not through a dangling symlink.
        std::fs::remove_file(h.path("etc/board.toml")).unwrap();
        std::os::unix::fs::symlink(h.path("elsewhere.toml"), h.path("etc/board.toml")).unwrap();
        assert_eq!(
            h.init("start"),
            (
                Some(1),
                format!(
                    "Starting ringtap: FAIL (configuration {})\n",
                    h.path("etc/board.toml").display()
                )
            )
        );
        assert!(!h.path("elsewhere.toml").exists());
        std::fs::remove_file(h.path("etc/board.toml")).unwrap();
        // An edited profile stays, whatever the default says now.
        std::fs::write(h.path("etc/board.toml"), "name = \"edited\"\n").unwrap();
        std::fs::write(h.path("default.toml"), "name = \"newer\"\n").unwrap();
        assert_eq!(h.init("start").0, Some(0));
        assert!(
            h.wait_for(|h| h.read("log").contains("started 2")),
            "log:\n{}",
            h.read("log")
        );
        assert_eq!(h.init("stop").0, Some(0));
        assert_eq!(h.read("etc/board.toml"), "name = \"edited\"\n");
        assert_eq!(h.read("runs"), h.run_line().repeat(2));
        // After each exit the profile decides whether the link fails open.
        assert_eq!(
            h.read("bypass"),
            format!(
                "bypass --config {} on --if-fail-open\n",
                h.path("etc/board.toml").display()
            )
            .repeat(2)
        );
    }
}
