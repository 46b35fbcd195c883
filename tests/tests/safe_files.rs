//! Every file ringtap writes is written safely (issue 11, item 2): a
//! symbolic link planted at any name ringtap writes (the bridge's and
//! capture's stats files, the bridge's metrics file, capture files and
//! their rotations, and the
//! temporary name beside each) is never followed, a device node or a FIFO
//! is never replaced, and the files get the modes the README gives:
//! captures 0600, stats and metrics files 0640, less the umask, or
//! exactly `--mode`.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ringtap_tests::tools::{run_bounded, wait_bounded, Ran, Scratch};
use ringtap_tests::{frame, in_netns, ringtap_bin, veth_pair, wait_until, Sender, TEST_ETHERTYPE};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The interfaces the runs use: `cap0` for capture (frames come from
/// `gen0`), `a0` -> `b0` for the bridge.
fn interfaces() {
    veth_pair("gen0", "cap0", 1500);
    veth_pair("a0", "a1", 1500);
    veth_pair("b0", "b1", 1500);
}

/// The runs: a capture to `C` with stats `S`, a rotating capture to `R`
/// (files of at most 4096 bytes, so 20 frames of 1000 bytes rotate), a
/// bridge with stats `B` and metrics `M`. Names are relative to `dir`.
fn args(run: &str, dir: &Path, extra: &[&str]) -> Vec<String> {
    let p = |name: &str| path_str(&dir.join(name)).to_owned();
    let mut v: Vec<String> = match run {
        "capture" => vec![
            "capture".into(),
            "--in".into(),
            "cap0".into(),
            "--write".into(),
            p("C"),
            "--stats-file".into(),
            p("S"),
            "--duration".into(),
            "1".into(),
        ],
        "rotate" => vec![
            "capture".into(),
            "--in".into(),
            "cap0".into(),
            "--write".into(),
            p("R"),
            "--rotate-size".into(),
            "4096".into(),
            "--rotate-files".into(),
            "3".into(),
            "--duration".into(),
            "1".into(),
        ],
        _ => vec![
            "bridge".into(),
            "--in".into(),
            "a0".into(),
            "--out".into(),
            "b0".into(),
            "--stats-file".into(),
            p("B"),
            "--metrics-file".into(),
            p("M"),
            "--stats-interval".into(),
            "0.1".into(),
            "--duration".into(),
            "1".into(),
        ],
    };
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

/// Run `ringtap ARGS` under `umask`; while a capture runs, 20 frames of
/// 1000 bytes arrive on `cap0`.
fn run(scratch: &Scratch, umask: &str, args: &[String]) -> Ran {
    let script = format!("umask {umask}; exec \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, "sh"])
        .arg(ringtap_bin())
        .args(args)
        .stdin(Stdio::null());
    if args[0] != "capture" {
        return run_bounded(scratch, &mut cmd, Duration::from_secs(10));
    }
    let err = scratch.path("capture.stderr");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start ringtap");
    let stderr = || std::fs::read_to_string(&err).unwrap_or_default();
    let started = wait_until(Duration::from_secs(5), || {
        stderr().contains("capturing on") || child.try_wait().ok().flatten().is_some()
    });
    if started && stderr().contains("capturing on") {
        let frames: Vec<Vec<u8>> = (0..20u32).map(|i| frame(i, 1000, TEST_ETHERTYPE)).collect();
        Sender::open("gen0").send_paced(&frames, 1, Duration::from_millis(2));
    }
    let status = wait_bounded(
        &mut child,
        Duration::from_secs(10),
        "ringtap capture",
        stderr,
    );
    Ran {
        status,
        stdout: String::new(),
        stderr: stderr(),
        took: Duration::ZERO,
    }
}

const SECRET: &[u8] = b"root's secret\n";

/// A symbolic link at each name: refused (at start: exit 2; a rotation
/// file or a temporary name found later: exit 1), and the file it points
/// to is untouched.
#[test]
fn no_name_ringtap_writes_follows_a_symlink() {
    in_netns("symlinks at every name", || {
        interfaces();
        // (run, the name planted, exit status)
        let cases: &[(&str, &str, i32)] = &[
            ("capture", "C", 2),
            ("capture", ".C.tmp", 2),
            ("capture", "S", 2),
            ("capture", ".S.tmp", 2),
            ("rotate", "R.0", 2),
            ("rotate", ".R.0.tmp", 2),
            ("rotate", "R.1", 1),
            ("rotate", ".R.1.tmp", 1),
            ("bridge", "B", 2),
            ("bridge", ".B.tmp", 1),
            ("bridge", "M", 2),
            ("bridge", ".M.tmp", 1),
        ];
        for &(which, name, code) in cases {
            let scratch = Scratch::new("safe-symlink");
            let victim = scratch.path("victim");
            std::fs::write(&victim, SECRET).unwrap();
            std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
            let planted = scratch.path(name);
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            let ran = run(&scratch, "022", &args(which, &scratch.dir, &[]));
            let case = format!("{which}, symlink at {name}");
            assert_eq!(ran.code(), Some(code), "{case}: {}", ran.stderr);
            assert!(
                ran.stderr.contains("refusing to replace a symbolic link"),
                "{case}: {}",
                ran.stderr
            );
            assert!(
                ran.stderr.contains(path_str(&planted)),
                "{case}: the message names {}: {}",
                planted.display(),
                ran.stderr
            );
            assert_eq!(std::fs::read(&victim).unwrap(), SECRET, "{case}: followed");
            assert_eq!(mode_of(&victim), 0o600, "{case}: victim's mode");
            assert_eq!(
                std::fs::read_link(&planted).ok(),
                Some(victim.clone()),
                "{case}: the link was replaced"
            );
        }
    });
}

/// A device node, a FIFO or a directory at a name ringtap writes is
/// refused at start (exit 2, at once) and stays what it was.
#[test]
fn device_nodes_fifos_and_directories_are_never_replaced() {
    in_netns("device nodes at every name", || {
        interfaces();
        let cases: &[(&str, &str, &str)] = &[
            ("capture", "C", "char"),
            ("capture", "S", "char"),
            ("capture", "C", "fifo"),
            ("capture", "S", "fifo"),
            ("capture", "C", "dir"),
            ("rotate", "R.0", "char"),
            ("bridge", "B", "char"),
            ("bridge", "B", "fifo"),
            ("bridge", "M", "char"),
            ("bridge", "M", "fifo"),
        ];
        for &(which, name, kind) in cases {
            let scratch = Scratch::new("safe-device");
            let node = scratch.path(name);
            let made = match kind {
                "char" => Command::new("mknod")
                    .arg(&node)
                    .args(["c", "1", "3"])
                    .status(),
                "fifo" => Command::new("mkfifo").arg(&node).status(),
                _ => Command::new("mkdir").arg(&node).status(),
            };
            if kind == "char" && !made.as_ref().is_ok_and(|s| s.success()) {
                // A user namespace (`cargo xtask test` without root) may not
                // make device nodes.
                println!("SKIPPED {which}, a {kind} at {name}: mknod needs root: {made:?}");
                continue;
            }
            assert!(made.unwrap().success(), "cannot make a {kind} at {name}");
            let before = std::fs::symlink_metadata(&node).unwrap();
            let ran = run(&scratch, "022", &args(which, &scratch.dir, &[]));
            let case = format!("{which}, a {kind} at {name}");
            assert_eq!(ran.code(), Some(2), "{case}: {}", ran.stderr);
            assert!(
                ran.stderr.contains("refusing to replace a"),
                "{case}: {}",
                ran.stderr
            );
            let after = std::fs::symlink_metadata(&node).unwrap();
            assert_eq!(
                (after.file_type(), after.ino(), after.rdev()),
                (before.file_type(), before.ino(), before.rdev()),
                "{case}: replaced"
            );
            if kind == "char" {
                assert!(after.file_type().is_char_device());
            }
        }
    });
}

/// Modes: captures (and their rotations) 0600, stats files 0640, less the
/// umask; `--mode` gives exactly its mode, whatever the umask.
#[test]
fn files_get_the_documented_modes() {
    in_netns("file modes", || {
        interfaces();
        // (umask, --mode, capture files' mode, stats files' mode)
        let cases: &[(&str, Option<&str>, u32, u32)] = &[
            ("022", None, 0o600, 0o640),
            ("077", None, 0o600, 0o600),
            ("000", None, 0o600, 0o640),
            ("077", Some("0644"), 0o644, 0o644),
            ("022", Some("0600"), 0o600, 0o600),
        ];
        for &(umask, mode, capture, stats) in cases {
            let scratch = Scratch::new("safe-modes");
            let extra: Vec<&str> = mode.map(|m| vec!["--mode", m]).unwrap_or_default();
            let files: [(&str, &[&str], u32); 3] = [
                ("capture", &["C", "S"], capture),
                ("rotate", &["R.0", "R.1"], capture),
                ("bridge", &["B", "M"], stats),
            ];
            for (which, names, want) in files {
                let ran = run(&scratch, umask, &args(which, &scratch.dir, &extra));
                assert_eq!(
                    ran.code(),
                    Some(0),
                    "{which} {umask} {mode:?}: {}",
                    ran.stderr
                );
                for name in names {
                    let want = if *name == "S" { stats } else { want };
                    let path: PathBuf = scratch.path(name);
                    assert_eq!(
                        mode_of(&path),
                        want,
                        "{which}, umask {umask}, --mode {mode:?}: {name} is {:o}",
                        mode_of(&path)
                    );
                }
            }
        }
    });
}
