//! Command-line pieces the modes share: number and duration parsers whose
//! errors name the option, the board profile options and the one way a
//! profile is loaded, and the RX ring options of bridge and capture.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ringtap_core::geometry::GeometryError;

use crate::Failure;
use ringtap_board::{Board, Tpacket};

/// What a number on the command line stands for, which decides the suffixes
/// it may carry and how a bad one is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes: decimal, hex, and K/KiB/M/MiB.
    Size,
    /// A count, a timeout or a bit word: decimal or hex only.
    Count,
}

/// Parses a number: decimal (4096) or hex (0x1000), sizes also with the
/// suffixes K/KiB and M/MiB (powers of 1024); the error names the option and
/// shows what would be accepted.
pub fn parse(option: &str, text: &str, kind: Kind) -> Result<u64, Failure> {
    let bad = || {
        Failure::Usage(match kind {
            Kind::Size => {
                format!("{option}: '{text}' is not a size (use 4096, 0x1000, 128K, 2M)")
            }
            Kind::Count => format!("{option}: '{text}' is not a number (use 16 or 0x10)"),
        })
    };
    let too_large = || Failure::Usage(format!("{option}: '{text}' is too large"));

    let (digits, scale) = match kind {
        Kind::Size => [
            ("KiB", 1 << 10),
            ("K", 1 << 10),
            ("MiB", 1 << 20),
            ("M", 1 << 20),
        ]
        .into_iter()
        .find_map(|(suffix, scale)| text.strip_suffix(suffix).map(|d| (d, scale)))
        .unwrap_or((text, 1)),
        Kind::Count => (text, 1),
    };
    let (digits, radix) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (digits, 10),
    };
    // from_str_radix alone would also take a sign.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    let value = u64::from_str_radix(digits, radix).map_err(|_| too_large())?;
    value.checked_mul(scale).ok_or_else(too_large)
}

/// [`parse`] for a field the kernel holds in 32 bits.
pub fn parse_u32(option: &str, text: &str, kind: Kind) -> Result<u32, Failure> {
    let value = parse(option, text, kind)?;
    u32::try_from(value).map_err(|_| {
        Failure::Usage(format!(
            "{option}: '{text}' is too large (the kernel field is 32 bits: at most {})",
            u32::MAX
        ))
    })
}

/// [`parse_u32`] for a count.
pub fn parse_count(option: &str, text: &str) -> Result<u32, Failure> {
    parse_u32(option, text, Kind::Count)
}

/// A positive number of seconds, fractions allowed.
pub fn seconds(option: &str, text: &str) -> Result<Duration, Failure> {
    let value: f64 = text
        .parse()
        .map_err(|_| Failure::Usage(format!("{option}: '{text}' is not a number of seconds")))?;
    if !value.is_finite() || value <= 0.0 || value > 1e9 {
        return Err(Failure::Usage(format!(
            "{option}: '{text}' must be a positive number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The message for a ring the kernel would refuse, naming the rule and the
/// options to change.
pub fn refused_by(e: GeometryError, options: &str) -> Failure {
    Failure::Usage(format!(
        "the kernel would refuse this ring: {e} [rule: {}]; check {options}",
        e.rule()
    ))
}

/// `--board` / `--config`: a board profile for a mode's rings and ports.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Rings and ports from a built-in board profile (boards/NAME/board.toml)
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub board: Option<String>,
    /// Rings and ports from a board profile file (the board.toml format)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ProfileArgs {
    /// The profile the options name, if any; one that cannot be loaded is a
    /// usage error.
    pub fn load(&self) -> Result<Option<Board>, Failure> {
        crate::board::from_options(self.board.as_deref(), self.config.as_deref())
    }
}

/// The RX ring options of `bridge` and `capture`; what is not given comes
/// from the board profile, else from the mode.
#[derive(Debug, Args)]
pub struct RxRingArgs {
    /// RX ring version (default: the board's, else v2 for bridge, v3 for capture)
    #[arg(long, value_enum, value_name = "VERSION")]
    pub tpacket: Option<Tpacket>,
    /// RX ring block size
    #[arg(long, value_name = "B")]
    pub block_size: Option<String>,
    /// RX ring blocks
    #[arg(long, value_name = "N")]
    pub block_nr: Option<String>,
    /// RX frame size (TPACKET_V2)
    #[arg(long, value_name = "F")]
    pub frame_size: Option<String>,
}

/// [`RxRingArgs`] as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxRingOptions {
    /// `--tpacket`.
    pub tpacket: Option<Tpacket>,
    /// `--block-size`.
    pub block_size: Option<u32>,
    /// `--block-nr`.
    pub block_nr: Option<u32>,
    /// `--frame-size`.
    pub frame_size: Option<u32>,
}

impl RxRingArgs {
    /// The numbers, each checked as the size or count it is.
    pub fn parse(&self) -> Result<RxRingOptions, Failure> {
        let size = |option: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| parse_u32(option, t, Kind::Size))
                .transpose()
        };
        Ok(RxRingOptions {
            tpacket: self.tpacket,
            block_size: size("--block-size", &self.block_size)?,
            block_nr: self
                .block_nr
                .as_deref()
                .map(|t| parse_count("--block-nr", t))
                .transpose()?,
            frame_size: size("--frame-size", &self.frame_size)?,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn usage<T: std::fmt::Debug>(result: Result<T, Failure>) -> String {
        match result {
            Err(Failure::Usage(m)) => m,
            other => panic!("expected a usage failure, got {other:?}"),
        }
    }

    #[test]
    fn test_parse_numbers() {
        let size = |t| parse("--x", t, Kind::Size);
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("0x1000"), Ok(4096));
        assert_eq!(size("0X1000"), Ok(4096));
        assert_eq!(size("128K"), Ok(131072));
        assert_eq!(size("128KiB"), Ok(131072));
        assert_eq!(size("2M"), Ok(2 << 20));
        assert_eq!(size("2MiB"), Ok(2 << 20));
        assert_eq!(size("0x10K"), Ok(16 << 10));
        assert_eq!(size("0"), Ok(0));
        assert_eq!(parse("--x", "0x1f", Kind::Count), Ok(31));
    }

    #[test]
    fn test_parse_rejects() {
        assert_eq!(
            usage(parse("--block-size", "12Q", Kind::Size)),
            "--block-size: '12Q' is not a size (use 4096, 0x1000, 128K, 2M)"
        );
        for bad in [
            "", "K", "0x", "0xK", "-1", "+1", " 1", "1.5", "1 K", "1k", "1G", "x10",
        ] {
            assert!(parse("--x", bad, Kind::Size).is_err(), "{bad:?}");
        }
        // Counts take no size suffix.
        assert_eq!(
            usage(parse("--block-nr", "16K", Kind::Count)),
            "--block-nr: '16K' is not a number (use 16 or 0x10)"
        );
        assert!(usage(parse("--x", "99999999999999999999", Kind::Count)).contains("too large"));
        assert!(usage(parse("--x", "0xffffffffffffffffK", Kind::Size)).contains("too large"));
        assert_eq!(parse_u32("--x", "4095M", Kind::Size), Ok(4095 << 20));
        assert!(usage(parse_u32("--block-size", "4G", Kind::Size)).contains("not a size"));
        assert!(usage(parse_u32("--block-size", "4096M", Kind::Size)).contains("32 bits"));
    }

    #[test]
    fn test_seconds() {
        assert_eq!(
            seconds("--duration", "1.5").unwrap(),
            Duration::from_millis(1500)
        );
        for bad in ["0", "-1", "nan", "inf", "x", ""] {
            let e = seconds("--duration", bad).unwrap_err();
            assert!(
                matches!(&e, Failure::Usage(m) if m.starts_with("--duration")),
                "{e:?}"
            );
        }
    }

    #[test]
    fn test_ring_options() {
        let args = RxRingArgs {
            tpacket: Some(Tpacket::V3),
            block_size: Some("128K".into()),
            block_nr: Some("0x10".into()),
            frame_size: None,
        };
        assert_eq!(
            args.parse(),
            Ok(RxRingOptions {
                tpacket: Some(Tpacket::V3),
                block_size: Some(128 << 10),
                block_nr: Some(16),
                frame_size: None,
            })
        );
        let bad = RxRingArgs {
            block_nr: Some("16K".into()),
            ..args
        };
        assert_eq!(
            usage(bad.parse()),
            "--block-nr: '16K' is not a number (use 16 or 0x10)"
        );
    }
}
