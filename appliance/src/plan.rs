//! `ringtap plan`: judge a ring request by the kernel's rules and print the
//! layout it would get, before any socket is opened (on a workstation for a
//! board, or on the board itself).
//!
//! The rules and every offset come from `ringtap_core` (`geometry`, `room`);
//! this module only turns command-line text into a `RingRequest`, asks
//! `ringtap_linux` for the running system's page size and word size (or
//! takes a board profile's), and words the answer.

use std::fmt::Write as _;

use clap::{ArgGroup, Args, ValueEnum};
use ringtap_core::frame::KernelWord;
use ringtap_core::geometry::{
    frame_nr, Calculator, CalculatorError, GeometryError, Layout, PageSize, RingKind, RingRequest,
    TpacketVersion,
};

use crate::options::{parse, parse_u32, refused_by, Kind, ProfileArgs};
use crate::Failure;
use ringtap_board::{Mode, ModeRings};

const NUMBERS_HELP: &str = "\
Numbers are decimal (4096) or hex (0x1000); sizes also take the suffixes K/KiB
and M/MiB, powers of 1024 (128K, 2M).

Example (the default geometry of `cargo xtask demo`):
  ringtap plan --tpacket v3 --ring rx --block-size 128K --block-nr 16 --frame-size 2048

A board's default rings, with its page size and kernel word (`--board` takes
the profiles built in, `--config` a board.toml file); ring options override the
profile's values (in bridge mode, those of the RX ring):
  ringtap plan --board rpi4 --mode bridge
  ringtap plan --board beaglebone-black --mode capture --block-nr 4

Buffer size calculator of Documentation/networking/packet_mmap.rst:
  ringtap plan --calculator --size-max 131072 --pointer-size 4 --page-size 4096 \\
               --max-order 11 --frame-size 2048";

const USAGE: &str = "\
ringtap plan --tpacket <VERSION> --ring <RING> --block-size <B> --block-nr <N> --frame-size <F> [OPTIONS]
       ringtap plan --board <NAME> | --config <FILE> [--mode <MODE>] [OPTIONS]
       ringtap plan --calculator --size-max <N> --pointer-size <N> --page-size <S> --max-order <N> --frame-size <F>";

const CALCULATOR: &str = "Calculator (--calculator)";

/// Options of `ringtap plan`. The ring options, a board profile (whose ring
/// the ring options then change) and the calculator options are separate
/// forms; `--frame-size` and `--page-size` belong to all of them.
#[derive(Debug, Args)]
// allow_negative_numbers: `--block-nr -1` should reach the number parser,
// which names the option, instead of reading as an unknown flag.
#[command(override_usage = USAGE, after_help = NUMBERS_HELP, allow_negative_numbers = true)]
#[command(group(ArgGroup::new("profile").args(["board", "config"])))]
pub struct PlanArgs {
    #[command(flatten)]
    profile: ProfileArgs,

    /// With --board or --config: the rings of this mode [default: bridge]
    #[arg(long, value_enum, value_name = "MODE", requires = "profile")]
    mode: Option<Mode>,

    /// PACKET_VERSION of the socket
    #[arg(long, value_enum, value_name = "VERSION")]
    #[arg(required_unless_present_any = ["calculator", "profile"], conflicts_with = "calculator")]
    tpacket: Option<Version>,

    /// Which ring: PACKET_RX_RING or PACKET_TX_RING (with a board: the mode decides)
    #[arg(long, value_enum, value_name = "RING")]
    #[arg(required_unless_present_any = ["calculator", "profile"])]
    #[arg(conflicts_with_all = ["calculator", "profile"])]
    ring: Option<Ring>,

    /// tp_block_size: bytes per block, a multiple of the page size
    #[arg(long, value_name = "B")]
    #[arg(required_unless_present_any = ["calculator", "profile"], conflicts_with = "calculator")]
    block_size: Option<String>,

    /// tp_block_nr: number of blocks
    #[arg(long, value_name = "N")]
    #[arg(required_unless_present_any = ["calculator", "profile"], conflicts_with = "calculator")]
    block_nr: Option<String>,

    /// tp_frame_size: bytes per frame, a multiple of 16
    #[arg(long, value_name = "F", required_unless_present = "profile")]
    frame_size: Option<String>,

    /// tp_frame_nr: total frames [default: frames per block x blocks]
    #[arg(long, value_name = "M", conflicts_with = "calculator")]
    frame_nr: Option<String>,

    /// PACKET_RESERVE: headroom the kernel leaves before each packet
    #[arg(long, value_name = "R", conflicts_with = "calculator")]
    reserve: Option<String>,

    /// tp_sizeof_priv: V3 per-block private area in bytes
    #[arg(long, value_name = "P", conflicts_with = "calculator")]
    sizeof_priv: Option<String>,

    /// tp_retire_blk_tov: V3 block retire timeout in ms (0: the kernel picks)
    #[arg(long, value_name = "MS", conflicts_with = "calculator")]
    retire_tov: Option<String>,

    /// tp_feature_req_word: V3 feature bits (1: TP_FT_REQ_FILL_RXHASH)
    #[arg(long, value_name = "W", conflicts_with = "calculator")]
    feature_req: Option<String>,

    /// The kernel's page size [default: the board's, or this system's (AT_PAGESZ)]
    #[arg(long, value_name = "S")]
    page_size: Option<String>,

    /// The kernel's word size, which shapes TPACKET_V1 headers [default: the
    /// board's, or the running kernel's (PACKET_HDRLEN, else /proc/sys/kernel/arch)]
    #[arg(long, value_enum, value_name = "BITS", conflicts_with = "calculator")]
    kernel_word: Option<Word>,

    /// Print the largest ring a kernel can give instead (packet_mmap.rst)
    #[arg(long, help_heading = CALCULATOR, conflicts_with_all = ["board", "config"])]
    #[arg(requires_all = ["size_max", "pointer_size", "page_size", "max_order"])]
    calculator: bool,

    /// Largest kmalloc allocation (holds the block pointer vector)
    #[arg(long, value_name = "N", help_heading = CALCULATOR, requires = "calculator")]
    size_max: Option<String>,

    /// Size of a kernel pointer: 4 or 8
    #[arg(long, value_name = "N", help_heading = CALCULATOR, requires = "calculator")]
    pointer_size: Option<String>,

    /// MAX_ORDER: the largest block is page size << max order
    #[arg(long, value_name = "N", help_heading = CALCULATOR, requires = "calculator")]
    max_order: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Version {
    V1,
    V2,
    V3,
}

impl From<Version> for TpacketVersion {
    fn from(version: Version) -> TpacketVersion {
        match version {
            Version::V1 => TpacketVersion::V1,
            Version::V2 => TpacketVersion::V2,
            Version::V3 => TpacketVersion::V3,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Ring {
    Rx,
    Tx,
}

impl From<Ring> for RingKind {
    fn from(ring: Ring) -> RingKind {
        match ring {
            Ring::Rx => RingKind::Rx,
            Ring::Tx => RingKind::Tx,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Word {
    #[value(name = "32")]
    Bits32,
    #[value(name = "64")]
    Bits64,
}

/// Runs `ringtap plan` and returns what to print.
pub(crate) fn run(args: &PlanArgs) -> Result<String, Failure> {
    if args.calculator {
        calculator(args)
    } else if args.profile.board.is_some() || args.profile.config.is_some() {
        board(args)
    } else {
        ring(args)
    }
}

fn ring(args: &PlanArgs) -> Result<String, Failure> {
    // clap enforces these; the check keeps a clap change from becoming a panic.
    if args.tpacket.is_none()
        || args.ring.is_none()
        || args.block_size.is_none()
        || args.block_nr.is_none()
        || args.frame_size.is_none()
    {
        return Err(Failure::Usage(
            "--tpacket, --ring, --block-size, --block-nr and --frame-size are required".into(),
        ));
    }
    // Every field is given, so the starting request does not show through.
    let request = with_options(
        args,
        RingRequest::new(TpacketVersion::V1, RingKind::Rx, 0, 0, 0, 0),
    )?;
    let page = match page_option(args)? {
        Some(page) => page,
        None => system_page_size(),
    };
    let word = word_option(args).unwrap_or_else(system_kernel_word);
    let frame_nr_computed = args.frame_nr.is_none();
    let layout = layout(request, frame_nr_computed, &page, &word).map_err(refused)?;
    Ok(render(&layout, &page, &word, frame_nr_computed))
}

/// `request` with every ring option given on the command line put in.
fn with_options(args: &PlanArgs, mut request: RingRequest) -> Result<RingRequest, Failure> {
    if let Some(version) = args.tpacket {
        request.version = version.into();
    }
    if let Some(ring) = args.ring {
        request.kind = ring.into();
    }
    let r = &mut request;
    set(
        &mut r.block_size,
        "--block-size",
        &args.block_size,
        Kind::Size,
    )?;
    set(&mut r.block_nr, "--block-nr", &args.block_nr, Kind::Count)?;
    set(
        &mut r.frame_size,
        "--frame-size",
        &args.frame_size,
        Kind::Size,
    )?;
    set(&mut r.frame_nr, "--frame-nr", &args.frame_nr, Kind::Count)?;
    set(&mut r.reserve, "--reserve", &args.reserve, Kind::Size)?;
    set(
        &mut r.sizeof_priv,
        "--sizeof-priv",
        &args.sizeof_priv,
        Kind::Size,
    )?;
    set(
        &mut r.retire_blk_tov,
        "--retire-tov",
        &args.retire_tov,
        Kind::Count,
    )?;
    set(
        &mut r.feature_req_word,
        "--feature-req",
        &args.feature_req,
        Kind::Count,
    )?;
    Ok(request)
}

/// Parses `text`, when the option was given, into `field`.
fn set(field: &mut u32, option: &str, text: &Option<String>, kind: Kind) -> Result<(), Failure> {
    if let Some(text) = text {
        *field = parse_u32(option, text, kind)?;
    }
    Ok(())
}

/// `--page-size`, when given.
fn page_option(args: &PlanArgs) -> Result<Option<Found<PageSize>>, Failure> {
    let Some(text) = args.page_size.as_deref() else {
        return Ok(None);
    };
    Ok(Some(Found {
        value: page_size("--page-size", parse("--page-size", text, Kind::Size)?)?,
        source: "--page-size".into(),
    }))
}

/// `--kernel-word`, when given.
fn word_option(args: &PlanArgs) -> Option<Found<KernelWord>> {
    let value = match args.kernel_word? {
        Word::Bits32 => KernelWord::Bits32,
        Word::Bits64 => KernelWord::Bits64,
    };
    Some(Found {
        value,
        source: "--kernel-word".into(),
    })
}

/// Judges `request`; when `frame_nr_computed`, with the frame count the
/// kernel expects instead of the request's.
fn layout(
    request: RingRequest,
    frame_nr_computed: bool,
    page: &Found<PageSize>,
    word: &Found<KernelWord>,
) -> Result<Layout, GeometryError> {
    let request = if frame_nr_computed {
        RingRequest {
            frame_nr: frame_nr(request.block_size, request.block_nr, request.frame_size),
            ..request
        }
    } else {
        request
    };
    request.validate(page.value, word.value)
}

/// `ringtap plan --board NAME` / `--config FILE`: the rings of a mode with
/// the board's page size and kernel word, the command line's ring options
/// put over the profile's values, and their memory against the board's
/// budget.
fn board(args: &PlanArgs) -> Result<String, Failure> {
    let required = || Failure::Usage("--board or --config is required".into());
    let origin = match (&args.profile.board, &args.profile.config) {
        (Some(name), _) => format!("board {name}"),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => return Err(required()),
    };
    let board = args.profile.load()?.ok_or_else(required)?;
    let mode = args.mode.unwrap_or(Mode::Bridge);
    let page = match page_option(args)? {
        Some(page) => page,
        None => Found {
            value: board.page().map_err(|e| Failure::Usage(e.to_string()))?,
            source: origin.clone(),
        },
    };
    let word = match word_option(args) {
        Some(word) => word,
        None => Found {
            value: board
                .kernel_word()
                .map_err(|e| Failure::Usage(e.to_string()))?,
            source: format!("{origin}, {}", board.target),
        },
    };
    let profile = match mode {
        Mode::Bridge => board.rx_request(&board.bridge.rx()),
        Mode::Capture => board.rx_request(&board.capture),
        Mode::Replay => board.tx_request(board.replay.tpacket.version()),
    };
    let request = with_options(args, profile)?;
    if request.block_nr == 0 {
        // Fine for a bare request (it frees a ring, and the plan says so),
        // but a mode needs its ring.
        return Err(Failure::Usage(format!(
            "--block-nr 0: {mode} mode needs a ring of at least one block [rule: tp_block_nr 0 \
             asks the kernel to free the ring, not to make one]"
        )));
    }
    let frame_nr_computed = args.frame_nr.is_none();
    let main = layout(request, frame_nr_computed, &page, &word).map_err(refused)?;

    let ports = &board.ports;
    let mut out = String::new();
    line(
        &mut out,
        "board",
        format_args!(
            "{}: {} (tier {}, {}, {} {}, {} MiB RAM)",
            board.name,
            board.description,
            board.tier,
            board.target,
            board.cpu_cores,
            if board.cpu_cores == 1 {
                "core"
            } else {
                "cores"
            },
            board.ram_mib
        ),
    );
    let rings = match mode {
        Mode::Bridge => {
            // The TX ring shares each port's socket, so it takes the RX
            // ring's TPACKET version.
            let tx = board.tx_request(main.request().version);
            let tx = layout(tx, true, &page, &word).map_err(|e| {
                Failure::Usage(format!(
                    "{origin}: replay: the kernel would refuse the bridge's TX ring on a {} \
                     socket: {e} [rule: {}]",
                    main.request().version,
                    e.rule()
                ))
            })?;
            let mirror = match &ports.mirror {
                Some(mirror) => format!(", mirror {mirror}"),
                None => String::new(),
            };
            line(
                &mut out,
                "mode",
                format_args!(
                    "bridge {} <-> {}{mirror}: each port has this RX ring and a TX ring (an \
                     estimate: the bridge sizes its TX rings from the egress MTU)",
                    ports.r#in, ports.out
                ),
            );
            out.push_str(&render(&main, &page, &word, frame_nr_computed));
            out.push_str(&render(&tx, &page, &word, true));
            ModeRings::Bridge {
                rx: main,
                tx,
                mirror: ports.mirror.is_some(),
            }
        }
        Mode::Capture => {
            line(
                &mut out,
                "mode",
                format_args!("capture on {}: one RX ring", ports.r#in),
            );
            out.push_str(&render(&main, &page, &word, frame_nr_computed));
            ModeRings::Capture { rx: main }
        }
        Mode::Replay => {
            line(
                &mut out,
                "mode",
                format_args!("replay on {}: one TX ring", ports.out),
            );
            out.push_str(&render(&main, &page, &word, frame_nr_computed));
            ModeRings::Replay { tx: main }
        }
    };
    let total = rings.total_bytes();
    let sum = match rings {
        ModeRings::Bridge { rx, tx, mirror } => {
            let mirror = if mirror {
                format!(" + mirror TX {}", human(u128::from(tx.mmap_len())))
            } else {
                String::new()
            };
            format!(
                "2 ports x (RX {} + TX {}){mirror} = {}",
                human(u128::from(rx.mmap_len())),
                human(u128::from(tx.mmap_len())),
                human(u128::from(total))
            )
        }
        ModeRings::Capture { .. } | ModeRings::Replay { .. } => {
            format!("one ring, {}", human(u128::from(total)))
        }
    };
    let budget = human(u128::from(board.ring_budget_bytes()));
    if total > board.ring_budget_bytes() {
        return Err(Failure::Usage(format!(
            "{mode} mode would map {sum} of rings, more than the {budget} ring budget of \
             {origin} (ring_budget_mib); use fewer or smaller blocks"
        )));
    }
    line(
        &mut out,
        "memory",
        format_args!("{sum} of the {budget} ring budget"),
    );
    Ok(out)
}

/// The message for a request the kernel would refuse: the rule, and the
/// options that feed it.
fn refused(e: GeometryError) -> Failure {
    use GeometryError as E;
    let options = match e {
        E::ReserveTooLarge { .. } => "--reserve",
        E::BlockSizeNotPositive { .. } => "--block-size",
        E::BlockSizeNotPageAligned { .. } => "--block-size, --page-size",
        E::BlockTooSmallForV3 { .. } => "--block-size, --sizeof-priv, --reserve",
        E::FrameSizeTooSmall { .. } => "--frame-size, --reserve",
        E::FrameSizeNotAligned { .. } => "--frame-size",
        E::NoFramePerBlock { .. } => "--frame-size, --block-size",
        E::FrameCountOverflow { .. } => "--block-nr, --block-size, --frame-size",
        E::FrameCountMismatch { .. } => "--frame-nr, or leave it out to have it computed",
        E::FramesWithoutBlocks { .. } => "--frame-nr, --block-nr",
        E::TxRetireTimeout { .. } => "--retire-tov",
        E::TxPrivateArea { .. } => "--sizeof-priv",
        E::TxFeatureWord { .. } => "--feature-req",
    };
    refused_by(e, options)
}

/// A value and where it came from, so the output can say when it is a guess.
#[derive(Debug)]
struct Found<T> {
    value: T,
    source: String,
}

fn render(
    layout: &Layout,
    page: &Found<PageSize>,
    word: &Found<KernelWord>,
    frame_nr_computed: bool,
) -> String {
    let r = layout.request();
    let mut out = String::new();
    line(
        &mut out,
        "ring",
        format_args!(
            "{}, {} (tp_hdrlen {}, reserve {})",
            r.kind,
            r.version,
            layout.hdrlen(),
            r.reserve
        ),
    );
    // V1 headers are the only ones shaped by the kernel's word size.
    if r.version == TpacketVersion::V1 {
        line(
            &mut out,
            "V1 header",
            format_args!(
                "laid out for a {}-bit kernel ({})",
                word.value.bytes() * 8,
                word.source
            ),
        );
    }
    if layout.is_empty() {
        line(
            &mut out,
            "blocks",
            format_args!("none: tp_block_nr 0 frees the ring, nothing is mapped"),
        );
        return out;
    }
    line(
        &mut out,
        "blocks",
        format_args!(
            "{} x {} bytes (page size {}, {})",
            layout.block_nr(),
            layout.block_size(),
            page.value.get(),
            page.source
        ),
    );
    let computed = if frame_nr_computed { " (computed)" } else { "" };
    line(
        &mut out,
        "frames",
        format_args!(
            "{}{computed} x {} bytes, {} per block, {} bytes unused at the end of each block",
            layout.frame_nr(),
            layout.frame_size(),
            layout.frames_per_block(),
            layout.block_tail()
        ),
    );
    line(
        &mut out,
        "mapping",
        format_args!(
            "{} bytes ({})",
            layout.mmap_len(),
            human(u128::from(layout.mmap_len()))
        ),
    );
    match (r.version, r.kind) {
        (TpacketVersion::V3, RingKind::Rx) => {
            if let Some(block) = layout.v3_block() {
                line(
                    &mut out,
                    "V3 packets",
                    format_args!(
                        "first packet at offset {} in each block (block header {}, private \
                         area {}), {} bytes of room per block",
                        block.first_packet, block.header, block.private, block.packets
                    ),
                );
            }
            line(
                &mut out,
                "",
                format_args!(
                    "packets are packed by length: tp_frame_size only has to pass the checks"
                ),
            );
            let tov = match r.retire_blk_tov {
                0 => " (the kernel picks one from the link speed)",
                _ => "",
            };
            line(
                &mut out,
                "",
                format_args!(
                    "retire timeout {} ms{tov}; feature_req_word {:#x}",
                    r.retire_blk_tov, r.feature_req_word
                ),
            );
            rx_room(&mut out, layout, "its place in the block");
        }
        (_, RingKind::Rx) => rx_room(&mut out, layout, "the frame"),
        (version, RingKind::Tx) => {
            let offset = layout.tx_data_offset();
            let like_v2 = match version {
                TpacketVersion::V3 => "; V3 TX frames are fixed slots addressed like V2",
                _ => "",
            };
            line(
                &mut out,
                "TX data",
                format_args!(
                    "at offset {offset} in each frame (tp_hdrlen - sizeof(sockaddr_ll), \
                     without PACKET_TX_HAS_OFF), \
                     up to {} bytes per frame{like_v2}",
                    layout.tx_room(false)
                ),
            );
        }
    }
    out
}

/// The `payload` line of an RX ring: the room the bridge and capture
/// check an interface's MTU against.
fn rx_room(out: &mut String, layout: &Layout, slot: &str) {
    line(
        out,
        "payload",
        format_args!(
            "up to {} bytes of Ethernet frame, at tp_mac {} from the start of {slot}; \
             longer frames are cut to fit",
            layout.rx_room(),
            layout.rx_mac_offset()
        ),
    );
}

/// Appends one `label      text` line; the labels form a column.
fn line(out: &mut String, label: &str, text: std::fmt::Arguments<'_>) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{label:<11} {text}");
}

fn calculator(args: &PlanArgs) -> Result<String, Failure> {
    let missing = || Failure::Usage("--calculator needs every calculator option".into());
    let calc = Calculator {
        size_max: parse(
            "--size-max",
            args.size_max.as_deref().ok_or_else(missing)?,
            Kind::Size,
        )?,
        pointer_size: parse(
            "--pointer-size",
            args.pointer_size.as_deref().ok_or_else(missing)?,
            Kind::Count,
        )?,
        page_size: parse(
            "--page-size",
            args.page_size.as_deref().ok_or_else(missing)?,
            Kind::Size,
        )?,
        max_order: parse_u32(
            "--max-order",
            args.max_order.as_deref().ok_or_else(missing)?,
            Kind::Count,
        )?,
        frame_size: parse(
            "--frame-size",
            args.frame_size.as_deref().ok_or_else(missing)?,
            Kind::Size,
        )?,
    };
    let result = calc.compute().map_err(|e| {
        let option = match e {
            CalculatorError::PointerSize(_) => "--pointer-size",
            CalculatorError::PageSize(_) => "--page-size",
            CalculatorError::MaxOrder(_) => "--max-order",
            CalculatorError::FrameSize(_) => "--frame-size",
        };
        Failure::Usage(format!("{option}: {e}"))
    })?;
    let mut out = String::new();
    let label = |out: &mut String, label: &str, text: std::fmt::Arguments<'_>| {
        let _ = writeln!(out, "{label:<13} {text}");
    };
    label(
        &mut out,
        "block number",
        format_args!(
            "{} blocks (size-max {} / pointer size {})",
            result.block_nr, calc.size_max, calc.pointer_size
        ),
    );
    label(
        &mut out,
        "block size",
        format_args!(
            "{} bytes = {} (page size {} << max order {})",
            result.block_size,
            human(u128::from(result.block_size)),
            calc.page_size,
            calc.max_order
        ),
    );
    label(
        &mut out,
        "max buffer",
        format_args!(
            "{} bytes = {} (block number x block size)",
            result.max_buffer,
            human(result.max_buffer)
        ),
    );
    label(
        &mut out,
        "max frames",
        format_args!("{} frames of {} bytes", result.max_frames, calc.frame_size),
    );
    Ok(out)
}

/// Bytes in the largest of KiB and MiB that fits; whole numbers stay whole.
fn human(bytes: u128) -> String {
    let (unit, name) = match bytes {
        b if b >= 1 << 20 => (1u128 << 20, "MiB"),
        b if b >= 1 << 10 => (1 << 10, "KiB"),
        b => return format!("{b} bytes"),
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        // Only for display; a u128 of bytes converts to f64 closely enough.
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

fn page_size(option: &str, bytes: u64) -> Result<PageSize, Failure> {
    u32::try_from(bytes)
        .ok()
        .and_then(PageSize::new)
        .ok_or_else(|| {
            Failure::Usage(format!(
                "{option}: a page size is a power of two of at least 4096, got {bytes}"
            ))
        })
}

/// The running system's page size (`AT_PAGESZ`).
fn system_page_size() -> Found<PageSize> {
    Found {
        value: ringtap_linux::page_size(),
        source: "AT_PAGESZ of the running kernel".into(),
    }
}

/// The running kernel's word size, and how it was found.
fn system_kernel_word() -> Found<KernelWord> {
    let probe = ringtap_linux::kernel_word();
    Found {
        value: probe.word,
        source: probe.source.to_string(),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use clap::Parser;

    /// `ringtap plan` alone, so tests go through the same clap rules.
    #[derive(Debug, Parser)]
    struct PlanCli {
        #[command(flatten)]
        args: PlanArgs,
    }

    fn plan(argv: &str) -> Result<String, Failure> {
        let cli = PlanCli::try_parse_from(std::iter::once("plan").chain(argv.split_whitespace()))
            .map_err(|e| Failure::Usage(e.to_string()))?;
        run(&cli.args)
    }

    fn usage<T: std::fmt::Debug>(result: Result<T, Failure>) -> String {
        match result {
            Err(Failure::Usage(m)) => m,
            other => panic!("expected a usage failure, got {other:?}"),
        }
    }

    const DEMO: &str = "--tpacket v3 --ring rx --block-size 128K --block-nr 16 --frame-size 2048 \
                        --page-size 4096";

    #[test]
    fn test_v3_rx_output() {
        let out = plan(&format!("{DEMO} --frame-nr 1024")).unwrap();
        assert_eq!(
            out,
            "\
ring        PACKET_RX_RING, TPACKET_V3 (tp_hdrlen 68, reserve 0)
blocks      16 x 131072 bytes (page size 4096, --page-size)
frames      1024 x 2048 bytes, 64 per block, 0 bytes unused at the end of each block
mapping     2097152 bytes (2 MiB)
V3 packets  first packet at offset 48 in each block (block header 48, private area 0), \
131024 bytes of room per block
            packets are packed by length: tp_frame_size only has to pass the checks
            retire timeout 0 ms (the kernel picks one from the link speed); feature_req_word 0x0
payload     up to 130942 bytes of Ethernet frame, at tp_mac 82 from the start of its place in \
the block; longer frames are cut to fit
"
        );
    }

    #[test]
    fn test_frame_nr_computed() {
        let out = plan(DEMO).unwrap();
        assert!(
            out.contains("frames      1024 (computed) x 2048 bytes, 64 per block"),
            "{out}"
        );
        // A request the kernel refuses for another reason says that reason.
        let e = usage(plan(
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 72",
        ));
        assert!(e.contains("[rule: frame-size-aligned]"), "{e}");
    }

    #[test]
    fn test_v1_v2_tx_output() {
        let v1 = plan(
            "--tpacket v1 --ring rx --block-size 8192 --block-nr 2 --frame-size 1536 \
             --frame-nr 10 --page-size 4096 --kernel-word 32",
        )
        .unwrap();
        assert!(
            v1.contains("V1 header   laid out for a 32-bit kernel (--kernel-word)"),
            "{v1}"
        );
        assert!(v1.contains("5 per block, 512 bytes unused"), "{v1}");
        // What the bridge and capture check an MTU against: the frame less
        // tp_mac, TPACKET_ALIGN(52 + 16) - 14.
        assert!(
            v1.contains("payload     up to 1470 bytes of Ethernet frame, at tp_mac 66 "),
            "{v1}"
        );

        let tx = plan(
            "--tpacket v3 --ring tx --block-size 4096 --block-nr 4 --frame-size 2048 \
             --page-size 4096",
        )
        .unwrap();
        assert!(
            tx.contains("TX data     at offset 48 in each frame"),
            "{tx}"
        );
        assert!(tx.contains("up to 2000 bytes per frame; V3 TX frames are fixed slots"));

        let free =
            plan("--tpacket v2 --ring rx --block-size 0 --block-nr 0 --frame-size 0").unwrap();
        assert!(free.contains("tp_block_nr 0 frees the ring"), "{free}");
    }

    #[test]
    fn test_refused_names_rule_and_options() {
        let e = usage(plan(
            "--tpacket v2 --ring rx --block-size 4096 --block-nr 1 --frame-size 64 \
             --frame-nr 64 --reserve 13 --page-size 4096",
        ));
        assert_eq!(
            e,
            "the kernel would refuse this ring: frame size must be at least the header \
             length plus the reserve (52 + 13 = 65), got 64 [rule: frame-size-min]; \
             check --frame-size, --reserve"
        );
        let e = usage(plan(
            "--tpacket v2 --ring rx --block-size 16K --block-nr 1 --frame-size 4096 \
             --page-size 64K",
        ));
        assert!(e.contains("[rule: block-size-page-aligned]"), "{e}");
        let e = usage(plan(
            "--tpacket v2 --ring rx --block-size 8K --block-nr 1 --frame-size 4K --page-size 5000",
        ));
        assert_eq!(
            e,
            "--page-size: a page size is a power of two of at least 4096, got 5000"
        );
    }

    #[test]
    fn test_calculator() {
        let out = plan(
            "--calculator --size-max 131072 --pointer-size 4 --page-size 4096 --max-order 11 \
             --frame-size 2048",
        )
        .unwrap();
        assert_eq!(
            out,
            "\
block number  32768 blocks (size-max 131072 / pointer size 4)
block size    8388608 bytes = 8 MiB (page size 4096 << max order 11)
max buffer    274877906944 bytes = 262144 MiB (block number x block size)
max frames    134217728 frames of 2048 bytes
"
        );
        let e = usage(plan(
            "--calculator --size-max 128K --pointer-size 2 --page-size 4K --max-order 11 \
             --frame-size 2K",
        ));
        assert_eq!(e, "--pointer-size: pointer size must be 4 or 8, got 2");
        // The calculator and ring options are separate forms.
        assert!(plan("--calculator --size-max 1 --frame-size 2048").is_err());
        assert!(plan(&format!("{DEMO} --calculator")).is_err());
        assert!(plan(&format!("{DEMO} --size-max 1")).is_err());
    }

    #[test]
    fn test_human() {
        assert_eq!(human(16384), "16 KiB");
        assert_eq!(human(2 << 20), "2 MiB");
        assert_eq!(human(3 << 19), "1.5 MiB");
        assert_eq!(human(100), "100 bytes");
    }
}
