//! Board profiles as a user meets them: the `boards/` folders and their
//! table, and `ringtap plan --board` / `--config` run as a program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::{ringtap, text};

/// stdout of a run that must succeed.
fn ok(args: &[&str]) -> String {
    let out = ringtap(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// stderr of a run that must fail with status 2 and print nothing else.
fn usage_error(args: &[&str]) -> String {
    let out = ringtap(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    stderr
}

fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards")
}

/// Board folders: every folder of `boards/` but the shared `packaging/` and
/// the board simulation's guest files (`vm/`).
fn board_folders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(boards_dir())
        .expect("read boards/")
        .map(|entry| entry.expect("boards/ entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "packaging" && name != "vm")
        .collect();
    names.sort();
    names
}

/// The tier of a board folder's profile, as ringtap-board loads it.
fn tier_in_profile(board: &str) -> u8 {
    let path = boards_dir().join(board).join("board.toml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("boards/{board}/board.toml: {e}"));
    ringtap_board::Board::parse(&text, &format!("boards/{board}/board.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .tier
}

/// The rows of the table in boards/README.md: board name -> tier.
fn table_rows() -> BTreeMap<String, u8> {
    let readme = std::fs::read_to_string(boards_dir().join("README.md")).expect("boards/README.md");
    readme
        .lines()
        .filter_map(|line| {
            // | [`name`](name/) | tier | ...
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let link = cells.get(1)?.strip_prefix("[`")?;
            let name = link.split('`').next()?;
            let tier = cells.get(2)?.parse().ok()?;
            Some((name.to_string(), tier))
        })
        .collect()
}

#[test]
fn every_board_has_a_readme_a_profile_and_a_table_row() {
    let folders = board_folders();
    assert!(folders.len() >= 5, "{folders:?}");
    let rows = table_rows();
    for board in &folders {
        let dir = boards_dir().join(board);
        assert!(
            dir.join("README.md").is_file(),
            "boards/{board} has no README.md"
        );
        assert!(
            dir.join("board.toml").is_file(),
            "boards/{board} has no board.toml"
        );
        let tier = tier_in_profile(board);
        assert_eq!(
            rows.get(board),
            Some(&tier),
            "boards/README.md must list {board} with tier {tier}"
        );
    }
    let listed: Vec<&String> = rows.keys().collect();
    assert_eq!(
        listed,
        folders.iter().collect::<Vec<_>>(),
        "table rows vs folders"
    );
}

#[test]
fn every_board_folder_is_built_in() {
    // The unknown-board message lists the profiles compiled into the binary.
    let stderr = usage_error(&["plan", "--board", "no-such-board"]);
    let known = stderr
        .trim_end()
        .strip_prefix("ringtap plan: unknown board 'no-such-board'; known boards: ")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(known.split(", ").collect::<Vec<_>>(), board_folders());
    for board in board_folders() {
        for mode in ["bridge", "capture", "replay"] {
            let out = ok(&["plan", "--board", &board, "--mode", mode]);
            assert!(out.starts_with(&format!("board       {board}: ")), "{out}");
            assert!(out.contains(" ring budget\n"), "{out}");
        }
    }
}

#[test]
fn bridge_rings_of_a_board() {
    let out = ok(&["plan", "--board", "rpi4"]);
    let expected = [
        "board       rpi4: Raspberry Pi 4 Model B (2 GiB), on-board Ethernet + USB 3 Gigabit \
         adapter (tier 2, aarch64-unknown-linux-musl, 4 cores, 2048 MiB RAM)",
        "mode        bridge eth0 <-> eth1: each port has this RX ring and a TX ring (an estimate: \
         the bridge sizes its TX rings from the egress MTU)",
        "ring        PACKET_RX_RING, TPACKET_V2 (tp_hdrlen 52, reserve 0)",
        "blocks      64 x 65536 bytes (page size 4096, board rpi4)",
        "frames      2048 (computed) x 2048 bytes, 32 per block, 0 bytes unused at the end of \
         each block",
        "mapping     4194304 bytes (4 MiB)",
        "ring        PACKET_TX_RING, TPACKET_V2 (tp_hdrlen 52, reserve 0)",
        "blocks      2 x 1048576 bytes (page size 4096, board rpi4)",
        "memory      2 ports x (RX 4 MiB + TX 2 MiB) = 12 MiB of the 64 MiB ring budget",
    ];
    let lines: Vec<&str> = out.lines().collect();
    for line in expected {
        assert!(lines.contains(&line), "missing {line:?} in\n{out}");
    }
    assert_eq!(lines.last(), Some(&expected[8]));
}

#[test]
fn capture_and_replay_rings_of_a_board() {
    let out = ok(&["plan", "--board", "beaglebone-black", "--mode", "capture"]);
    assert!(
        out.contains("mode        capture on eth0: one RX ring\n"),
        "{out}"
    );
    assert!(out.contains("blocks      8 x 262144 bytes"), "{out}");
    assert!(out.contains("retire timeout 100 ms"), "{out}");
    assert!(
        out.ends_with("memory      one ring, 2 MiB of the 8 MiB ring budget\n"),
        "{out}"
    );
    let out = ok(&["plan", "--board", "beaglebone-black", "--mode", "replay"]);
    assert!(
        out.contains("mode        replay on eth1: one TX ring\n"),
        "{out}"
    );
    assert!(out.contains("PACKET_TX_RING, TPACKET_V2"), "{out}");
    assert!(
        out.ends_with("memory      one ring, 256 KiB of the 8 MiB ring budget\n"),
        "{out}"
    );
}

#[test]
fn kernel_word_follows_the_board_target() {
    // Only TPACKET_V1 headers show the word size.
    let armv7 = ok(&["plan", "--board", "qemu-virt-armv7", "--tpacket", "v1"]);
    assert!(
        armv7.contains(
            "V1 header   laid out for a 32-bit kernel (board qemu-virt-armv7, \
             armv7-unknown-linux-gnueabihf)"
        ),
        "{armv7}"
    );
    let aarch64 = ok(&["plan", "--board", "qemu-virt-aarch64", "--tpacket", "v1"]);
    assert!(
        aarch64.contains("laid out for a 64-bit kernel (board qemu-virt-aarch64, "),
        "{aarch64}"
    );
    // An explicit option wins, and says so.
    let out = ok(&[
        "plan",
        "--board",
        "qemu-virt-armv7",
        "--tpacket",
        "v1",
        "--kernel-word",
        "64",
    ]);
    assert!(
        out.contains("laid out for a 64-bit kernel (--kernel-word)"),
        "{out}"
    );
}

#[test]
fn options_override_the_profile() {
    let out = ok(&[
        "plan",
        "--board",
        "rpi4",
        "--block-nr",
        "2",
        "--page-size",
        "64K",
    ]);
    assert!(
        out.contains("blocks      2 x 65536 bytes (page size 65536, --page-size)"),
        "{out}"
    );
    // The TX ring keeps the profile's size but takes the page size.
    assert!(out.contains(
        "blocks      2 x 1048576 bytes (page size 65536, --page-size)\nframes      1024"
    ));
    assert!(
        out.contains("2 ports x (RX 128 KiB + TX 2 MiB) = 4.2 MiB of the 64 MiB"),
        "{out}"
    );
    // V2 in bridge mode: both rings of each port's socket are V2.
    let out = ok(&[
        "plan",
        "--board",
        "rpi4",
        "--tpacket",
        "v2",
        "--frame-size",
        "4096",
    ]);
    assert!(out.contains("PACKET_RX_RING, TPACKET_V2"), "{out}");
    assert!(out.contains("PACKET_TX_RING, TPACKET_V2"), "{out}");
    assert!(
        out.contains("frames      1024 (computed) x 4096 bytes"),
        "{out}"
    );
}

#[test]
fn refusals_exit_2_and_say_why() {
    let e = usage_error(&["plan", "--board", "rpi4", "--block-size", "5000"]);
    assert!(
        e.contains("[rule: block-size-page-aligned]; check --block-size"),
        "{e}"
    );
    let e = usage_error(&["plan", "--board", "beaglebone-black", "--block-size", "2M"]);
    assert_eq!(
        e,
        "ringtap plan: bridge mode would map 2 ports x (RX 192 MiB + TX 256 KiB) = 384.5 MiB of \
         rings, more than the 8 MiB ring budget of board beaglebone-black (ring_budget_mib); \
         use fewer or smaller blocks\n"
    );
    // A mode needs a ring: a board's ring with no blocks, or with a
    // reserve the kernel refuses, is no plan.
    for mode in ["bridge", "capture", "replay"] {
        let e = usage_error(&["plan", "--board", "rpi4", "--mode", mode, "--block-nr", "0"]);
        assert!(
            e.starts_with(&format!(
                "ringtap plan: --block-nr 0: {mode} mode needs a ring of at least one block"
            )),
            "{e}"
        );
        let e = usage_error(&[
            "plan",
            "--board",
            "rpi4",
            "--mode",
            mode,
            "--reserve",
            "3000000000",
        ]);
        assert!(e.contains("[rule: reserve-max]; check --reserve"), "{e}");
    }
    // A board chooses the ring: --ring belongs to the plain form, --mode to
    // the board form.
    usage_error(&["plan", "--board", "rpi4", "--ring", "tx"]);
    usage_error(&["plan", "--mode", "capture"]);
    usage_error(&["plan", "--board", "rpi4", "--config", "board.toml"]);
}

/// A profile file in a fresh temporary directory.
struct TempProfile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempProfile {
    fn new(name: &str, text: &str) -> TempProfile {
        let dir =
            std::env::temp_dir().join(format!("ringtap-board-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let path = dir.join("board.toml");
        std::fs::write(&path, text).expect("write profile");
        TempProfile { dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempProfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn config_file_profiles() {
    let rpi4 = std::fs::read_to_string(boards_dir().join("rpi4/board.toml")).unwrap();
    let mine = TempProfile::new("mine", &rpi4.replace("block_nr = 64\n", "block_nr = 128\n"));
    let out = ok(&["plan", "--config", mine.arg()]);
    assert!(
        out.contains(&format!("(page size 4096, {})", mine.arg())),
        "{out}"
    );
    assert!(
        out.contains("2 ports x (RX 8 MiB + TX 2 MiB) = 20 MiB"),
        "{out}"
    );

    let bad = TempProfile::new(
        "bad",
        &rpi4.replace("block_size = 65536 ", "block_size = \"64K\" "),
    );
    let e = usage_error(&["plan", "--config", bad.arg()]);
    assert_eq!(
        e,
        format!(
            "ringtap plan: {}: bridge.block_size: invalid type: string \"64K\", expected u32 \
             (line 20, column 14)\n",
            bad.arg()
        )
    );
    let e = usage_error(&["plan", "--config", "/nonexistent/board.toml"]);
    assert!(
        e.starts_with("ringtap plan: cannot read board file /nonexistent/board.toml: "),
        "{e}"
    );
}
