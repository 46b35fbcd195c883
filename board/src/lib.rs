//! ringtap's board profiles: `boards/<name>/board.toml`, built into this
//! crate, or any text of the same format. The appliance loads the profile
//! its `--board` or `--config` names through it; `cargo xtask` reads the
//! boards' targets, tiers, size budgets and `[qemu]` tables through it; the
//! tests edit profiles and check them with it.
//!
//! A profile says what the board is (target, cores, page size, RAM), how
//! much memory all of one ringtap process's rings may take together, which
//! ports to use, and the default ring of each mode. Loading a profile checks
//! all of it, the rings by the kernel's own rules (`ringtap_core::geometry`)
//! for the board's page size and kernel word, so a `Board` that loaded is one
//! the kernel would accept.
//!
//! Ring memory of one process, per mode (what [`ModeRings`] adds up):
//!
//! * bridge: each of the two ports has one socket holding an RX ring
//!   (`[bridge]`) and a TX ring (`[replay]` geometry, the socket's TPACKET
//!   version) in one mapping; a mirror port adds one TX-only socket;
//! * capture: one RX ring (`[capture]`);
//! * replay: one TX ring (`[replay]`).

use std::fmt;
use std::path::PathBuf;

use ringtap_core::frame::KernelWord;
use ringtap_core::geometry::{
    GeometryError, Layout, PageSize, RingKind, RingRequest, TpacketVersion,
};
use serde::Deserialize;

/// The profiles built into the crate: every `boards/*/board.toml`, by
/// folder name (a test keeps this list and the folders in step).
const PROFILES: &[(&str, &str)] = &[
    (
        "beaglebone-black",
        include_str!("../../boards/beaglebone-black/board.toml"),
    ),
    (
        "qemu-virt-aarch64",
        include_str!("../../boards/qemu-virt-aarch64/board.toml"),
    ),
    (
        "qemu-virt-armv7",
        include_str!("../../boards/qemu-virt-armv7/board.toml"),
    ),
    ("rpi4", include_str!("../../boards/rpi4/board.toml")),
    (
        "x86_64-host",
        include_str!("../../boards/x86_64-host/board.toml"),
    ),
];

/// The longest profile file read (the shipped ones are about 2 KiB).
pub const MAX_PROFILE_BYTES: u64 = 256 << 10;

/// A board profile (`board.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// The board's folder name under `boards/`.
    pub name: String,
    /// One line for people.
    pub description: String,
    /// 0: the dev host; 1: run under emulation in every test run; 2: built
    /// and size-checked in every test run, not run on hardware.
    pub tier: u8,
    /// Rust target triple of the board's binary.
    pub target: String,
    /// CPU cores (one fanout worker per core at most).
    pub cpu_cores: u32,
    /// The kernel's page size in bytes.
    pub page_size: u32,
    /// The board's RAM in MiB.
    pub ram_mib: u32,
    /// All rings of one ringtap process together (RX + TX + mirror, every
    /// worker and direction), in MiB.
    pub ring_budget_mib: u32,
    /// Largest stripped binary, in KiB.
    pub binary_budget_kib: u32,
    /// Default interfaces.
    pub ports: Ports,
    /// RX ring of each port in bridge mode.
    pub bridge: BridgeRing,
    /// RX ring in capture mode.
    pub capture: RxGeometry,
    /// TX ring in replay mode; also the size of each TX ring in bridge mode.
    pub replay: TxGeometry,
    /// How to emulate the board (tier 1 boards only).
    pub qemu: Option<Qemu>,
    /// When the bridge stops or dies, the kernel forwards between its ports
    /// (`ringtap bypass ... on`); false: nothing passes (fail-closed).
    #[serde(default)]
    pub fail_open: bool,
}

/// Default interfaces of a board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// Frames come in here (bridge: the A side; capture: the port captured).
    pub r#in: String,
    /// Frames go out here (bridge: the B side; replay: the port sent on).
    pub out: String,
    /// Receives a copy of what the bridge forwards, both directions.
    pub mirror: Option<String>,
    /// ringtap brings ports that are down up itself (`ip link set up`)
    /// rather than waiting for something else to.
    #[serde(default)]
    pub bring_up: bool,
}

/// `PACKET_VERSION` of a ring socket: in a board profile (`tpacket =
/// "v3"`) and on the command line (`--tpacket v3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Tpacket {
    /// TPACKET_V2: one fixed-size frame per packet
    V2,
    /// TPACKET_V3: RX blocks of variable-size packets (TX: V2-like slots)
    V3,
}

impl Tpacket {
    /// The core crate's name for it.
    pub fn version(self) -> TpacketVersion {
        match self {
            Tpacket::V2 => TpacketVersion::V2,
            Tpacket::V3 => TpacketVersion::V3,
        }
    }
}

/// An RX ring of a board profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RxGeometry {
    /// The socket's TPACKET version.
    pub tpacket: Tpacket,
    /// `tp_block_size`.
    pub block_size: u32,
    /// `tp_block_nr`.
    pub block_nr: u32,
    /// `tp_frame_size` (V3 packs packets by length, but the kernel still
    /// checks it, and `--tpacket v2` uses it).
    pub frame_size: u32,
    /// `tp_retire_blk_tov` (V3): a block not yet full goes to user space
    /// after this many ms.
    pub retire_blk_tov_ms: u32,
}

/// The `[bridge]` table: the RX ring of each bridge port, and how a worker
/// waits for frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeRing {
    /// The socket's TPACKET version.
    pub tpacket: Tpacket,
    /// `tp_block_size`.
    pub block_size: u32,
    /// `tp_block_nr`.
    pub block_nr: u32,
    /// `tp_frame_size`.
    pub frame_size: u32,
    /// `tp_retire_blk_tov` (V3).
    pub retire_blk_tov_ms: u32,
    /// After the last frame, a worker keeps checking its ring this many
    /// microseconds before it sleeps (`--busy-poll`).
    #[serde(default)]
    pub busy_poll_us: u32,
    /// A worker never sleeps (`--low-latency`): the lowest delay, a whole
    /// core per worker even when idle.
    #[serde(default)]
    pub low_latency: bool,
}

impl BridgeRing {
    /// The ring part.
    pub fn rx(&self) -> RxGeometry {
        RxGeometry {
            tpacket: self.tpacket,
            block_size: self.block_size,
            block_nr: self.block_nr,
            frame_size: self.frame_size,
            retire_blk_tov_ms: self.retire_blk_tov_ms,
        }
    }
}

/// A TX ring of a board profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxGeometry {
    /// TPACKET version of the replay socket. (The bridge sizes its own TX
    /// rings from the egress MTU.)
    pub tpacket: Tpacket,
    /// `tp_block_size`.
    pub block_size: u32,
    /// `tp_block_nr`.
    pub block_nr: u32,
    /// `tp_frame_size`: one frame to send per slot.
    pub frame_size: u32,
}

/// How the board simulation runs a tier 1 board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    /// `qemu-system-<arch> -M` value.
    pub machine: String,
    /// `-cpu` value.
    pub cpu: String,
    /// `-m` value; equal to the board's `ram_mib`.
    pub memory_mib: u32,
    /// Debian 12 package of the kernel to boot.
    pub kernel_package: String,
    /// Debian architecture of that package (arm64, armhf).
    pub debian_arch: String,
}

/// What a ringtap process does, which decides the rings it sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Mode {
    /// Forward between two ports: RX + TX ring on each, optional mirror.
    Bridge,
    /// Write one port's frames to a file: one RX ring.
    Capture,
    /// Send frames from a file: one TX ring.
    Replay,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Bridge => "bridge",
            Mode::Capture => "capture",
            Mode::Replay => "replay",
        })
    }
}

/// The rings of one process in a mode, as the kernel lays them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeRings {
    /// Per port one RX and one TX ring; a mirror port adds one TX ring.
    Bridge {
        /// RX ring of each port.
        rx: Layout,
        /// TX ring of each port, and of the mirror port.
        tx: Layout,
        /// Whether a mirror port is configured.
        mirror: bool,
    },
    /// One RX ring.
    Capture {
        /// The ring.
        rx: Layout,
    },
    /// One TX ring.
    Replay {
        /// The ring.
        tx: Layout,
    },
}

impl ModeRings {
    /// Bytes of ring memory the process maps.
    pub fn total_bytes(&self) -> u64 {
        match *self {
            ModeRings::Bridge { rx, tx, mirror } => {
                let mirror = if mirror { tx.mmap_len() } else { 0 };
                2 * (rx.mmap_len() + tx.mmap_len()) + mirror
            }
            ModeRings::Capture { rx } => rx.mmap_len(),
            ModeRings::Replay { tx } => tx.mmap_len(),
        }
    }
}

/// Why a board profile cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardError {
    /// No built-in profile has this name.
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The profile file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// The file is not TOML.
    Syntax {
        /// The board or file.
        origin: String,
        /// Where, and what is wrong.
        message: String,
    },
    /// A field is missing, unknown, of the wrong type, or breaks a rule.
    Invalid {
        /// The board or file.
        origin: String,
        /// Dotted path of the field, e.g. `bridge.block_size`.
        field: String,
        /// The rule it breaks.
        rule: String,
    },
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoardError::Unknown { name } => write!(
                f,
                "unknown board '{name}'; known boards: {}",
                Board::known().collect::<Vec<_>>().join(", ")
            ),
            BoardError::Read { path, reason } => {
                write!(f, "cannot read board file {}: {reason}", path.display())
            }
            BoardError::Syntax { origin, message } => {
                write!(f, "{origin}: not a valid TOML file: {message}")
            }
            BoardError::Invalid {
                origin,
                field,
                rule,
            } => write!(f, "{origin}: {field}: {rule}"),
        }
    }
}

impl std::error::Error for BoardError {}

impl Board {
    /// The built-in profile `name` (a folder of `boards/`).
    pub fn named(name: &str) -> Result<Board, BoardError> {
        let (known, text) = PROFILES
            .iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| BoardError::Unknown {
                name: name.to_string(),
            })?;
        let origin = format!("board {known} (boards/{known}/board.toml)");
        let board = Board::parse(text, &origin)?;
        if board.name != *known {
            return Err(invalid(
                &origin,
                "name",
                format!(
                    "must be the board's folder name '{known}', got '{}'",
                    board.name
                ),
            ));
        }
        Ok(board)
    }

    /// Names of the built-in profiles, sorted.
    pub fn known() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(name, _)| *name)
    }

    /// Parses and checks a profile in the `board.toml` format; `origin`
    /// names it in errors (a file name, or `board NAME`).
    pub fn parse(text: &str, origin: &str) -> Result<Board, BoardError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| BoardError::Syntax {
            origin: origin.to_string(),
            message: describe_toml_error(text, &e),
        })?;
        let board: Board = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = match e.path().to_string() {
                path if path == "." => "(top level)".to_string(),
                path => path,
            };
            invalid(origin, &field, describe_toml_error(text, e.inner()))
        })?;
        board.check(origin)?;
        Ok(board)
    }

    /// The kernel's page size.
    pub fn page(&self) -> Result<PageSize, BoardError> {
        PageSize::new(self.page_size).ok_or_else(|| {
            invalid(
                &self.origin(),
                "page_size",
                format!(
                    "must be a power of two of at least 4096, got {}",
                    self.page_size
                ),
            )
        })
    }

    /// The kernel's word size, from the target's architecture: boards run
    /// 64-bit kernels under aarch64 and x86_64 programs, 32-bit kernels
    /// under ARM ones.
    pub fn kernel_word(&self) -> Result<KernelWord, BoardError> {
        Ok(match self.arch()? {
            Arch::Aarch64 | Arch::X86_64 => KernelWord::Bits64,
            Arch::Arm => KernelWord::Bits32,
        })
    }

    fn arch(&self) -> Result<Arch, BoardError> {
        let arch = self.target.split('-').next().unwrap_or_default();
        match arch {
            "aarch64" => Ok(Arch::Aarch64),
            "x86_64" => Ok(Arch::X86_64),
            _ if arch.starts_with("arm") => Ok(Arch::Arm),
            _ => Err(invalid(
                &self.origin(),
                "target",
                format!(
                    "'{}' is not a target ringtap knows the kernel of \
                     (aarch64-*, arm*-*, x86_64-*)",
                    self.target
                ),
            )),
        }
    }

    /// How errors about this board name it, once it is loaded.
    fn origin(&self) -> String {
        format!("board {}", self.name)
    }

    /// The RX ring request for geometry `g` of this board, with the frame
    /// count the kernel expects (frames per block times blocks).
    pub fn rx_request(&self, g: &RxGeometry) -> RingRequest {
        let version = g.tpacket.version();
        let mut request = RingRequest::tiled(
            version,
            RingKind::Rx,
            g.block_size,
            g.block_nr,
            g.frame_size,
        );
        if version == TpacketVersion::V3 {
            request.retire_blk_tov = g.retire_blk_tov_ms;
        }
        request
    }

    /// The TX ring request of the `[replay]` geometry on a socket of
    /// `version` (bridge: the port socket's version; replay: its own).
    pub fn tx_request(&self, version: TpacketVersion) -> RingRequest {
        let g = &self.replay;
        RingRequest::tiled(
            version,
            RingKind::Tx,
            g.block_size,
            g.block_nr,
            g.frame_size,
        )
    }

    /// The ring memory budget in bytes.
    pub fn ring_budget_bytes(&self) -> u64 {
        u64::from(self.ring_budget_mib) << 20
    }

    /// The default rings of `mode`, checked by the kernel's rules for this
    /// board's page size and kernel word.
    pub fn rings(&self, mode: Mode) -> Result<ModeRings, BoardError> {
        let page = self.page()?;
        let word = self.kernel_word()?;
        let ring = |section: &str, request: RingRequest| {
            request
                .validate(page, word)
                .map_err(|e| refused(&self.origin(), section, &e))
        };
        Ok(match mode {
            Mode::Bridge => {
                let rx = ring("bridge", self.rx_request(&self.bridge.rx()))?;
                let tx = ring("replay", self.tx_request(self.bridge.tpacket.version()))?;
                ModeRings::Bridge {
                    rx,
                    tx,
                    mirror: self.ports.mirror.is_some(),
                }
            }
            Mode::Capture => ModeRings::Capture {
                rx: ring("capture", self.rx_request(&self.capture))?,
            },
            Mode::Replay => ModeRings::Replay {
                tx: ring("replay", self.tx_request(self.replay.tpacket.version()))?,
            },
        })
    }

    /// Every rule a profile must follow beyond its types; `origin` names
    /// the board or file in errors.
    fn check(&self, origin: &str) -> Result<(), BoardError> {
        let fail = |field: &str, rule: String| Err(invalid(origin, field, rule));
        // Errors from the getters name the board; say the origin instead.
        let reword = |e: BoardError| match e {
            BoardError::Invalid { field, rule, .. } => invalid(origin, &field, rule),
            other => other,
        };
        if self.name.is_empty()
            || self.name.starts_with('.')
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        {
            return fail(
                "name",
                format!(
                    "must be a folder name of lowercase letters, digits, '-', '_' and '.' \
                     (not first), got '{}'",
                    self.name
                ),
            );
        }
        if self.description.trim().is_empty() {
            return fail("description", "must not be empty".into());
        }
        if self.tier > 2 {
            return fail(
                "tier",
                format!(
                    "must be 0 (dev host), 1 (emulated in every test run) or 2 (built and \
                     size-checked), got {}",
                    self.tier
                ),
            );
        }
        let arch = self.arch().map_err(reword)?;
        self.page().map_err(reword)?;
        if self.cpu_cores == 0 {
            return fail("cpu_cores", "must be at least 1".into());
        }
        if self.binary_budget_kib == 0 {
            return fail("binary_budget_kib", "must be at least 1".into());
        }
        if self.ring_budget_mib == 0 {
            return fail("ring_budget_mib", "must be at least 1".into());
        }
        if u64::from(self.ring_budget_mib) * 2 > u64::from(self.ram_mib) {
            return fail(
                "ring_budget_mib",
                format!(
                    "{} MiB is more than half of ram_mib ({} MiB); the kernel and the rest \
                     of the system need the other half",
                    self.ring_budget_mib, self.ram_mib
                ),
            );
        }
        self.check_ports(origin)?;
        if self.bridge.low_latency && self.cpu_cores < 2 {
            return fail(
                "bridge.low_latency",
                format!(
                    "a worker that never sleeps would take the only core of a {}-core board \
                     [rule: low_latency needs at least 2 cores]; use busy_poll_us instead",
                    self.cpu_cores
                ),
            );
        }
        for (section, g) in [("bridge", &self.bridge.rx()), ("capture", &self.capture)] {
            if g.block_nr == 0 {
                return fail(
                    &format!("{section}.block_nr"),
                    "must be at least 1 (0 blocks is no ring)".into(),
                );
            }
        }
        if self.replay.block_nr == 0 {
            return fail(
                "replay.block_nr",
                "must be at least 1 (0 blocks is no ring)".into(),
            );
        }
        for mode in [Mode::Bridge, Mode::Capture, Mode::Replay] {
            let rings = self.rings(mode).map_err(reword)?;
            let needed = rings.total_bytes();
            if needed > self.ring_budget_bytes() {
                return fail(
                    match mode {
                        Mode::Bridge => "bridge",
                        Mode::Capture => "capture",
                        Mode::Replay => "replay",
                    },
                    format!(
                        "{mode} mode maps {needed} bytes of rings, more than ring_budget_mib \
                         ({} MiB = {} bytes)",
                        self.ring_budget_mib,
                        self.ring_budget_bytes()
                    ),
                );
            }
        }
        self.check_qemu(origin, arch)
    }

    fn check_ports(&self, origin: &str) -> Result<(), BoardError> {
        let ports = &self.ports;
        let mut named = vec![("ports.in", &ports.r#in), ("ports.out", &ports.out)];
        if let Some(mirror) = &ports.mirror {
            named.push(("ports.mirror", mirror));
        }
        for (i, (field, name)) in named.iter().enumerate() {
            if let Err(rule) = interface_name(name) {
                return Err(invalid(origin, field, rule));
            }
            if let Some((other, _)) = named[..i].iter().find(|(_, n)| n == name) {
                return Err(invalid(
                    origin,
                    field,
                    format!("'{name}' is already {other}; each port is its own interface"),
                ));
            }
        }
        Ok(())
    }

    fn check_qemu(&self, origin: &str, arch: Arch) -> Result<(), BoardError> {
        let Some(qemu) = &self.qemu else {
            if self.tier == 1 {
                return Err(invalid(
                    origin,
                    "qemu",
                    "tier 1 boards run under emulation and need a [qemu] table".into(),
                ));
            }
            return Ok(());
        };
        if self.tier != 1 {
            return Err(invalid(
                origin,
                "qemu",
                format!(
                    "only tier 1 boards are emulated; this one is tier {}",
                    self.tier
                ),
            ));
        }
        for (field, value) in [
            ("qemu.machine", &qemu.machine),
            ("qemu.cpu", &qemu.cpu),
            ("qemu.kernel_package", &qemu.kernel_package),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(origin, field, "must not be empty".into()));
            }
        }
        if qemu.memory_mib != self.ram_mib {
            return Err(invalid(
                origin,
                "qemu.memory_mib",
                format!(
                    "must equal ram_mib ({}) so the simulation has the board's memory, got {}",
                    self.ram_mib, qemu.memory_mib
                ),
            ));
        }
        let debian_arch = match arch {
            Arch::Aarch64 => "arm64",
            Arch::Arm => "armhf",
            Arch::X86_64 => "amd64",
        };
        if qemu.debian_arch != debian_arch {
            return Err(invalid(
                origin,
                "qemu.debian_arch",
                format!(
                    "a {} board boots Debian's '{debian_arch}' kernels, got '{}'",
                    self.target, qemu.debian_arch
                ),
            ));
        }
        Ok(())
    }
}

/// CPU architectures ringtap boards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arch {
    Aarch64,
    Arm,
    X86_64,
}

fn invalid(origin: &str, field: &str, rule: String) -> BoardError {
    BoardError::Invalid {
        origin: origin.to_string(),
        field: field.to_string(),
        rule,
    }
}

/// A ring of table `section` the kernel would refuse, named by the field
/// that breaks the rule.
fn refused(origin: &str, section: &str, e: &GeometryError) -> BoardError {
    use GeometryError as E;
    let field = match e {
        E::BlockSizeNotPositive { .. }
        | E::BlockSizeNotPageAligned { .. }
        | E::BlockTooSmallForV3 { .. } => "block_size",
        E::FrameSizeTooSmall { .. } | E::FrameSizeNotAligned { .. } | E::NoFramePerBlock { .. } => {
            "frame_size"
        }
        E::FrameCountOverflow { .. }
        | E::FrameCountMismatch { .. }
        | E::FramesWithoutBlocks { .. } => "block_nr",
        E::TxRetireTimeout { .. } | E::TxPrivateArea { .. } | E::TxFeatureWord { .. } => "tpacket",
        // A profile's rings carry no reserve (always 0): named for completeness.
        E::ReserveTooLarge { .. } => "reserve",
    };
    invalid(
        origin,
        &format!("{section}.{field}"),
        format!(
            "the kernel would refuse this ring: {e} [rule: {}]",
            e.rule()
        ),
    )
}

/// The kernel's `dev_valid_name`: 1 to 15 bytes, not `.` or `..`, no `/`,
/// `:` or white space.
fn interface_name(name: &str) -> Result<(), String> {
    const IFNAMSIZ: usize = 16;
    if name.is_empty() || name.len() >= IFNAMSIZ {
        return Err(format!(
            "an interface name has 1 to {} bytes, got '{name}' ({} bytes)",
            IFNAMSIZ - 1,
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("'{name}' is not a valid interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
    {
        return Err(format!(
            "an interface name has no '/', ':', NUL or white space, got {c:?} in '{name}'"
        ));
    }
    Ok(())
}

/// A TOML error as one line: what is wrong and where.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{message} (line {line}, column {column})")
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const RPI4: &str = include_str!("../../boards/rpi4/board.toml");
    const QEMU_AARCH64: &str = include_str!("../../boards/qemu-virt-aarch64/board.toml");

    /// `text` with `old` replaced by `new`; `old` must be there.
    fn edit(text: &str, old: &str, new: &str) -> String {
        assert!(text.contains(old), "{old:?} not in the profile");
        text.replacen(old, new, 1)
    }

    /// The field and rule of the error loading `text`.
    fn refusal(text: &str) -> (String, String) {
        match Board::parse(text, "test.toml") {
            Err(BoardError::Invalid {
                origin,
                field,
                rule,
            }) => {
                assert_eq!(origin, "test.toml");
                (field, rule)
            }
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_one_core_board_may_not_spin() {
        let one_core = edit(RPI4, "cpu_cores = 4", "cpu_cores = 1");
        let spinning = edit(&one_core, "low_latency = false", "low_latency = true");
        let (field, rule) = refusal(&spinning);
        assert_eq!(field, "bridge.low_latency");
        assert!(rule.contains("at least 2 cores"), "{rule}");
        let polling = edit(&one_core, "busy_poll_us = 0", "busy_poll_us = 20");
        let board = Board::parse(&polling, "test.toml").unwrap();
        assert_eq!(
            (board.bridge.busy_poll_us, board.bridge.low_latency),
            (20, false)
        );
        let four = edit(RPI4, "low_latency = false", "low_latency = true");
        assert!(Board::parse(&four, "test.toml").unwrap().bridge.low_latency);
    }

    #[test]
    fn every_profile_passes_the_kernel_rules_and_its_budget() {
        let expected_word = |target: &str| match target {
            "aarch64-unknown-linux-musl" | "x86_64-unknown-linux-gnu" => KernelWord::Bits64,
            "armv7-unknown-linux-gnueabihf" => KernelWord::Bits32,
            other => panic!("no board should target {other}"),
        };
        let names: Vec<_> = Board::known().collect();
        assert_eq!(names.len(), 5, "{names:?}");
        for name in names {
            let board = Board::named(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(board.name, name);
            let word = board.kernel_word().unwrap();
            assert_eq!(word, expected_word(&board.target), "{name}");
            let page = board.page().unwrap();
            let rx = board.rx_request(&board.bridge.rx()).validate(page, word);
            let rx = rx.unwrap_or_else(|e| panic!("{name} [bridge]: {e}"));
            let capture = board.rx_request(&board.capture).validate(page, word);
            let capture = capture.unwrap_or_else(|e| panic!("{name} [capture]: {e}"));
            // The bridge's TX ring sits on the port's socket: its version.
            let tx = board.tx_request(board.bridge.tpacket.version());
            let tx = tx.validate(page, word);
            let tx = tx.unwrap_or_else(|e| panic!("{name} [replay] in bridge: {e}"));
            let replay = board.tx_request(board.replay.tpacket.version());
            let replay = replay.validate(page, word);
            let replay = replay.unwrap_or_else(|e| panic!("{name} [replay]: {e}"));
            let budget = u64::from(board.ring_budget_mib) << 20;
            let bridge = 2 * (rx.mmap_len() + tx.mmap_len());
            assert!(bridge <= budget, "{name}: bridge {bridge} > {budget}");
            assert!(capture.mmap_len() <= budget, "{name}: capture");
            assert!(replay.mmap_len() <= budget, "{name}: replay");
            assert_eq!(
                board.rings(Mode::Bridge).unwrap().total_bytes(),
                bridge,
                "{name}"
            );
            assert_eq!(board.qemu.is_some(), board.tier == 1, "{name}");
        }
    }

    #[test]
    fn requests_carry_the_profile() {
        let board = Board::named("rpi4").unwrap();
        let rx = board.rx_request(&board.capture);
        assert_eq!(rx.version, TpacketVersion::V3);
        assert_eq!(rx.kind, RingKind::Rx);
        assert_eq!(
            (rx.block_size, rx.block_nr, rx.frame_size),
            (1 << 20, 16, 2048)
        );
        assert_eq!(rx.frame_nr, 8192);
        assert_eq!(rx.retire_blk_tov, 100);
        // V2 has no retire timeout.
        let v2 = board.rx_request(&board.bridge.rx());
        assert_eq!((v2.version, v2.frame_nr), (TpacketVersion::V2, 2048));
        assert_eq!(v2.retire_blk_tov, 0);
        let tx = board.tx_request(TpacketVersion::V2);
        assert_eq!((tx.kind, tx.block_nr, tx.frame_nr), (RingKind::Tx, 2, 1024));
        assert_eq!(board.ring_budget_bytes(), 64 << 20);
    }

    #[test]
    fn a_mirror_port_adds_a_tx_ring() {
        let text = edit(RPI4, "# mirror = \"eth2\"", "mirror = \"eth2\"");
        let board = Board::parse(&text, "test.toml").unwrap();
        let rings = board.rings(Mode::Bridge).unwrap();
        assert_eq!(rings.total_bytes(), (2 * (4 + 2) + 2) << 20);
        assert_eq!(board.rings(Mode::Capture).unwrap().total_bytes(), 16 << 20);
        assert_eq!(board.rings(Mode::Replay).unwrap().total_bytes(), 2 << 20);
    }

    #[test]
    fn unknown_board_lists_the_known_ones() {
        let e = Board::named("rpi5").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown board 'rpi5'; known boards: beaglebone-black, qemu-virt-aarch64, \
             qemu-virt-armv7, rpi4, x86_64-host"
        );
    }

    #[test]
    fn toml_errors_name_the_field_and_the_line() {
        let (field, rule) = refusal(&edit(
            RPI4,
            "cpu_cores = 4",
            "cpu_cores = 4\ncpu_mhz = 1500",
        ));
        assert_eq!(field, "cpu_mhz");
        assert!(
            rule.starts_with("unknown field `cpu_mhz`, expected one of"),
            "{rule}"
        );
        assert!(rule.ends_with("(line 8, column 1)"), "{rule}");

        let (field, rule) = refusal(&edit(RPI4, "retire_blk_tov_ms = 1 ", "retire_tov = 1 "));
        assert_eq!(field, "bridge.retire_tov");
        assert!(rule.starts_with("unknown field `retire_tov`"), "{rule}");

        let (field, rule) = refusal(&edit(RPI4, "tpacket = \"v2\" ", "tpacket = \"v1\" "));
        assert_eq!(field, "bridge.tpacket");
        assert!(
            rule.starts_with("unknown variant `v1`, expected `v2` or `v3`"),
            "{rule}"
        );

        let (field, rule) = refusal(&edit(RPI4, "block_nr = 16", "block_nr = -16"));
        assert_eq!(field, "capture.block_nr");
        assert!(
            rule.starts_with("invalid value: integer `-16`, expected u32"),
            "{rule}"
        );

        let (field, rule) = refusal(&edit(RPI4, "ram_mib = 2048\n", ""));
        assert_eq!(field, "(top level)");
        assert!(rule.starts_with("missing field `ram_mib`"), "{rule}");
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = Board::parse(&edit(RPI4, "[ports]", "[ports"), "test.toml").unwrap_err();
        let BoardError::Syntax { .. } = e else {
            panic!("expected a syntax error, got {e:?}");
        };
        let text = e.to_string();
        assert!(
            text.starts_with("test.toml: not a valid TOML file: "),
            "{text}"
        );
        assert!(text.contains("(line 13, column 7)"), "{text}");
    }

    #[test]
    fn kernel_rules_name_the_field() {
        let (field, rule) = refusal(&edit(RPI4, "block_size = 65536 ", "block_size = 65537 "));
        assert_eq!(field, "bridge.block_size");
        assert_eq!(
            rule,
            "the kernel would refuse this ring: block size must be a multiple of the page size \
             4096, got 65537 [rule: block-size-page-aligned]"
        );
        let capture = "block_nr = 16\nframe_size = 2048";
        let (field, rule) = refusal(&edit(RPI4, capture, "block_nr = 16\nframe_size = 2040"));
        assert_eq!(field, "capture.frame_size");
        assert!(rule.ends_with("[rule: frame-size-aligned]"), "{rule}");
        let replay = "block_nr = 2\nframe_size = 2048";
        let (field, rule) = refusal(&edit(RPI4, replay, "block_nr = 2\nframe_size = 16"));
        assert_eq!(field, "replay.frame_size");
        assert!(rule.ends_with("[rule: frame-size-min]"), "{rule}");
        let (field, rule) = refusal(&edit(RPI4, "block_nr = 64\n", "block_nr = 0\n"));
        assert_eq!(field, "bridge.block_nr");
        assert_eq!(rule, "must be at least 1 (0 blocks is no ring)");
        // 16 KiB pages: the profile's blocks are still page multiples.
        let big_pages = edit(RPI4, "page_size = 4096", "page_size = 16384");
        assert!(Board::parse(&big_pages, "test.toml").is_ok());
        let (field, rule) = refusal(&edit(RPI4, "page_size = 4096", "page_size = 5000"));
        assert_eq!(field, "page_size");
        assert_eq!(rule, "must be a power of two of at least 4096, got 5000");
    }

    #[test]
    fn memory_rules() {
        let (field, rule) = refusal(&edit(RPI4, "ring_budget_mib = 64", "ring_budget_mib = 8"));
        assert_eq!(field, "bridge");
        assert_eq!(
            rule,
            "bridge mode maps 12582912 bytes of rings, more than ring_budget_mib \
             (8 MiB = 8388608 bytes)"
        );
        let (field, rule) = refusal(&edit(RPI4, "ring_budget_mib = 64", "ring_budget_mib = 12"));
        assert_eq!(field, "capture", "{rule}");
        let (field, rule) = refusal(&edit(
            RPI4,
            "ring_budget_mib = 64",
            "ring_budget_mib = 1025",
        ));
        assert_eq!(field, "ring_budget_mib");
        assert!(
            rule.contains("more than half of ram_mib (2048 MiB)"),
            "{rule}"
        );
        for (old, new, field) in [
            ("cpu_cores = 4", "cpu_cores = 0", "cpu_cores"),
            (
                "binary_budget_kib = 1248",
                "binary_budget_kib = 0",
                "binary_budget_kib",
            ),
            (
                "ring_budget_mib = 64",
                "ring_budget_mib = 0",
                "ring_budget_mib",
            ),
        ] {
            assert_eq!(refusal(&edit(RPI4, old, new)).0, field);
        }
    }

    #[test]
    fn identity_rules() {
        for bad in ["RPi 4", "..", ".rpi4", "rpi/4", ""] {
            let (field, rule) =
                refusal(&edit(RPI4, "name = \"rpi4\"", &format!("name = \"{bad}\"")));
            assert_eq!(field, "name", "{bad}: {rule}");
        }
        let description = RPI4.lines().find(|l| l.starts_with("description")).unwrap();
        let (field, _) = refusal(&edit(RPI4, description, "description = \"\""));
        assert_eq!(field, "description");
        let (field, rule) = refusal(&edit(RPI4, "tier = 2", "tier = 3"));
        assert_eq!(field, "tier");
        assert!(rule.ends_with("got 3"), "{rule}");
        let (field, rule) = refusal(&edit(
            RPI4,
            "aarch64-unknown-linux-musl",
            "mips-unknown-linux-gnu",
        ));
        assert_eq!(field, "target");
        assert!(
            rule.starts_with("'mips-unknown-linux-gnu' is not a target"),
            "{rule}"
        );
    }

    #[test]
    fn port_rules() {
        for (new, field, rule) in [
            ("in = \"eth1\"", "ports.out", "'eth1' is already ports.in"),
            (
                "in = \"\"",
                "ports.in",
                "an interface name has 1 to 15 bytes, got '' (0 bytes)",
            ),
            (
                "in = \"enx00e04c6800011\"",
                "ports.in",
                "an interface name has 1 to 15 bytes, got 'enx00e04c6800011' (16 bytes)",
            ),
            (
                "in = \"..\"",
                "ports.in",
                "'..' is not a valid interface name",
            ),
            ("in = \"eth0:1\"", "ports.in", "got ':' in 'eth0:1'"),
            ("in = \"eth 0\"", "ports.in", "got ' ' in 'eth 0'"),
        ] {
            let (f, r) = refusal(&edit(RPI4, "in = \"eth0\"", new));
            assert_eq!(f, field, "{new}");
            assert!(r.contains(rule), "{new}: {r}");
        }
        let fifteen = edit(RPI4, "in = \"eth0\"", "in = \"enx00e04c680001\"");
        assert!(Board::parse(&fifteen, "test.toml").is_ok());
        let (field, rule) = refusal(&edit(RPI4, "# mirror = \"eth2\"", "mirror = \"eth0\""));
        assert_eq!(field, "ports.mirror");
        assert!(rule.contains("already ports.in"), "{rule}");
    }

    #[test]
    fn qemu_rules() {
        let board = Board::parse(QEMU_AARCH64, "test.toml").unwrap();
        assert_eq!(board.qemu.unwrap().machine, "virt");
        let (field, rule) = refusal(&edit(QEMU_AARCH64, "tier = 1", "tier = 2"));
        assert_eq!(field, "qemu");
        assert_eq!(rule, "only tier 1 boards are emulated; this one is tier 2");
        let no_qemu = &QEMU_AARCH64[..QEMU_AARCH64.find("[qemu]").unwrap()];
        let (field, rule) = refusal(no_qemu);
        assert_eq!(field, "qemu");
        assert!(
            rule.starts_with("tier 1 boards run under emulation"),
            "{rule}"
        );
        let (field, rule) = refusal(&edit(
            QEMU_AARCH64,
            "debian_arch = \"arm64\"",
            "debian_arch = \"armhf\"",
        ));
        assert_eq!(field, "qemu.debian_arch");
        assert_eq!(
            rule,
            "a aarch64-unknown-linux-musl board boots Debian's 'arm64' kernels, got 'armhf'"
        );
        let (field, rule) = refusal(&edit(QEMU_AARCH64, "memory_mib = 512", "memory_mib = 1024"));
        assert_eq!(field, "qemu.memory_mib");
        assert!(rule.starts_with("must equal ram_mib (512)"), "{rule}");
        let (field, _) = refusal(&edit(QEMU_AARCH64, "cpu = \"cortex-a53\"", "cpu = \"\""));
        assert_eq!(field, "qemu.cpu");
    }

    #[test]
    fn errors_name_the_origin() {
        let e = Board::parse(&edit(RPI4, "tier = 2", "tier = 9"), "boards/x/board.toml");
        assert_eq!(
            e.unwrap_err().to_string(),
            "boards/x/board.toml: tier: must be 0 (dev host), 1 (emulated in every test run) \
             or 2 (built and size-checked), got 9"
        );
    }
}
