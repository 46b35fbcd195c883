//! Acceptance: ringtap-core's ring geometry rules and the running kernel
//! judge every ring request the same way.
//!
//! Thousands of seeded random `PACKET_RX_RING` / `PACKET_TX_RING` requests
//! (TPACKET_V1, V2 and V3, with `PACKET_RESERVE` values) go both to
//! `RingRequest::validate` and, on a fresh `AF_PACKET` socket each, to the
//! kernel: `PACKET_RESERVE`, then `packet_set_ring`. Validator `Ok` must
//! mean the kernel accepts, validator `Err` must mean `EINVAL` (from either
//! call). Every rule must be hit at least once.
//!
//! The kernel allocates a ring only after rules 1-8 pass, so only requests
//! that pass them are kept small (a few MiB); huge and absurd values appear
//! freely in requests that a rule before the allocation rejects. The guard
//! that enforces this, [`may_allocate`], restates those kernel checks
//! independently of the validator under test, conservatively.
//!
//! Set `RINGTAP_DIFF_SEED` to replay another seed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ringtap_core::frame::KernelWord;
use ringtap_core::geometry::{
    blk_plus_priv, GeometryError, RingKind, RingRequest, TpacketVersion, TPACKET_ALIGNMENT,
};
use ringtap_linux::{kernel_word, page_size, PacketSocket, SocketType};
use ringtap_tests::in_netns;
use rustix::io::Errno;

const REQUESTS: usize = 12_000;
const DEFAULT_SEED: u64 = 0x5eed_7a9e_d1ff_0001;
/// Upper bound on the memory of a request the kernel may allocate.
const MAX_RING_BYTES: u64 = 4 << 20;
const MIN_ACCEPTED: usize = 1000;
const MAX_REPORTED: usize = 20;
/// Threads asking the kernel (see [`kernel_verdicts`]).
const WORKERS: usize = 64;
/// `TP_FT_REQ_FILL_RXHASH`.
const FILL_RXHASH: u32 = 1;
const INT_MAX: u32 = i32::MAX as u32;

/// Every rule of the validator, named by `GeometryError::rule`.
fn all_rules() -> [&'static str; 13] {
    use GeometryError as E;
    [
        E::ReserveTooLarge { reserve: 0 },
        E::BlockSizeNotPositive { block_size: 0 },
        E::BlockSizeNotPageAligned {
            block_size: 0,
            page_size: 0,
        },
        E::BlockTooSmallForV3 {
            block_size: 0,
            needed: 0,
        },
        E::FrameSizeTooSmall {
            frame_size: 0,
            min: 0,
            reserve: 0,
        },
        E::FrameSizeNotAligned { frame_size: 0 },
        E::NoFramePerBlock {
            block_size: 0,
            frame_size: 0,
        },
        E::FrameCountOverflow {
            frames_per_block: 0,
            block_nr: 0,
        },
        E::FrameCountMismatch {
            frame_nr: 0,
            frames_per_block: 0,
            block_nr: 0,
        },
        E::FramesWithoutBlocks { frame_nr: 0 },
        E::TxRetireTimeout { retire_blk_tov: 0 },
        E::TxPrivateArea { sizeof_priv: 0 },
        E::TxFeatureWord {
            feature_req_word: 0,
        },
    ]
    .map(|e| e.rule())
}

/// xorshift64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn align_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

fn align16(x: u32) -> u32 {
    align_up(u64::from(x), u64::from(TPACKET_ALIGNMENT)) as u32
}

fn ring_bytes(r: &RingRequest) -> u64 {
    u64::from(r.block_size) * u64::from(r.block_nr)
}

/// Whether the kernel could get as far as allocating the ring: the checks of
/// `packet_set_ring` before `alloc_pg_vec` (rules 1, 2, 4-8; rule 3 is left
/// out, which only makes this answer `true` more often), written from the
/// kernel source rather than taken from the validator under test.
fn may_allocate(r: &RingRequest, page: u32, word: KernelWord) -> bool {
    if r.reserve > INT_MAX
        || r.block_nr == 0
        || (r.block_size as i32) <= 0
        || !r.block_size.is_multiple_of(page)
    {
        return false;
    }
    let min = u64::from(r.version.hdrlen(word)) + u64::from(r.reserve);
    if u64::from(r.frame_size) < min || !r.frame_size.is_multiple_of(TPACKET_ALIGNMENT) {
        return false;
    }
    let frames_per_block = u64::from(r.block_size / r.frame_size);
    frames_per_block != 0 && frames_per_block * u64::from(r.block_nr) == u64::from(r.frame_nr)
}

/// Which edge of the rules a request is aimed at.
#[derive(Debug, Clone, Copy)]
enum Aim {
    Valid,
    BlockSizeNotPositive,
    BlockSizeUnaligned,
    V3BlockTooSmall,
    FrameTooSmall,
    FrameUnaligned,
    FrameBiggerThanBlock,
    FrameCountOverflow,
    FrameNrOff,
    FreeRing,
    V3Extras,
    ReserveTooLarge,
    Fuzz,
}

const AIMS: [(Aim, u64); 13] = [
    (Aim::Valid, 26),
    (Aim::BlockSizeNotPositive, 5),
    (Aim::BlockSizeUnaligned, 7),
    (Aim::V3BlockTooSmall, 8),
    (Aim::FrameTooSmall, 7),
    (Aim::FrameUnaligned, 6),
    (Aim::FrameBiggerThanBlock, 5),
    (Aim::FrameCountOverflow, 6),
    (Aim::FrameNrOff, 7),
    (Aim::FreeRing, 5),
    (Aim::V3Extras, 10),
    (Aim::ReserveTooLarge, 2),
    (Aim::Fuzz, 8),
];

struct Gen {
    rng: Rng,
    page: u32,
    word: KernelWord,
    /// Requests the memory guard turned into frame-count mismatches.
    guarded: usize,
}

impl Gen {
    fn version(&mut self) -> TpacketVersion {
        self.rng
            .pick(&[TpacketVersion::V1, TpacketVersion::V2, TpacketVersion::V3])
    }

    fn kind(&mut self) -> RingKind {
        self.rng.pick(&[RingKind::Rx, RingKind::Tx])
    }

    fn reserve(&mut self) -> u32 {
        match self.rng.below(20) {
            0..=15 => self.rng.range(0, 200),
            16..=18 => self
                .rng
                .pick(&[255, 256, 1000, 1500, 2000, 2048, 3000, 4000, 4028, 4044]),
            _ => self.rng.pick(&[
                4096,
                8192,
                65535,
                1 << 20,
                3 << 20,
                0x7fff_0000,
                INT_MAX - 52,
                INT_MAX,
            ]),
        }
    }

    fn min_frame(&self, r: &RingRequest) -> u32 {
        r.version.hdrlen(self.word) + r.reserve
    }

    /// `frame_nr = frames_per_block * block_nr`, when that is defined and fits.
    fn matching_frame_nr(r: &mut RingRequest) {
        if r.frame_size == 0 {
            return;
        }
        let n = u64::from(r.block_size / r.frame_size) * u64::from(r.block_nr);
        if let Ok(n) = u32::try_from(n) {
            r.frame_nr = n;
        }
    }

    /// A request that every rule accepts, within the memory bound. The
    /// reserve is kept if some ring within the bound can hold it.
    fn valid(&mut self, version: TpacketVersion, kind: RingKind, reserve: u32) -> RingRequest {
        let page = u64::from(self.page);
        let mut r = RingRequest::new(version, kind, 0, 0, 0, 0);
        r.reserve = reserve;
        let v3_rx = version == TpacketVersion::V3 && kind == RingKind::Rx;
        if v3_rx {
            r.sizeof_priv = match self.rng.below(4) {
                0 | 1 => 0,
                2 => self.rng.range(1, 64),
                _ => self.rng.range(1, 1024),
            };
            r.retire_blk_tov = match self.rng.below(4) {
                0 | 1 => 0,
                2 => self.rng.pick(&[1, 10, 60_000, u32::MAX]),
                _ => self.rng.u32(),
            };
            r.feature_req_word = match self.rng.below(4) {
                0 | 1 => 0,
                2 => FILL_RXHASH,
                _ => self.rng.pick(&[2, 0x8000_0000, u32::MAX]),
            };
        }
        let v3_overhead = if version == TpacketVersion::V3 {
            blk_plus_priv(r.sizeof_priv)
        } else {
            0
        };
        let hdr = version.hdrlen(self.word);
        let need = |reserve: u32| {
            let bytes = v3_overhead + u64::from(align16(hdr + reserve));
            align_up(bytes, page)
        };
        if need(r.reserve) > MAX_RING_BYTES {
            r.reserve = self.rng.range(0, 200);
        }
        let min_pages = (need(r.reserve) / page) as u32;
        let max_pages = (MAX_RING_BYTES / page) as u32;
        let pages = match self.rng.below(4) {
            0 => min_pages,
            1 => (min_pages + self.rng.range(0, 3)).min(max_pages),
            2 => min_pages
                .next_power_of_two()
                .max(1 << self.rng.below(6))
                .min(max_pages),
            _ => self.rng.range(min_pages, max_pages.min(min_pages + 64)),
        };
        r.block_size = pages * self.page;
        let max_blocks = (MAX_RING_BYTES / u64::from(r.block_size)) as u32;
        r.block_nr = match self.rng.below(3) {
            0 => 1,
            1 => self.rng.range(1, max_blocks.min(8)),
            _ => self.rng.range(1, max_blocks.min(256)),
        };
        let lo = align16(self.min_frame(&r));
        let units = (r.block_size - lo) / TPACKET_ALIGNMENT;
        r.frame_size = match self.rng.below(6) {
            0 => lo,
            1 => lo + TPACKET_ALIGNMENT * self.rng.range(0, units.min(4)),
            2 => r.block_size,
            3 => {
                let n = self.rng.range(1, 16);
                (r.block_size / n / TPACKET_ALIGNMENT * TPACKET_ALIGNMENT).max(lo)
            }
            4 => self
                .rng
                .pick(&[2048, 1536, 4096, 9216, 65536])
                .clamp(lo, r.block_size),
            _ => lo + TPACKET_ALIGNMENT * self.rng.range(0, units),
        };
        Self::matching_frame_nr(&mut r);
        r
    }

    fn arbitrary(&mut self) -> u32 {
        let page = self.page;
        match self.rng.below(4) {
            0 => self.rng.u32(),
            1 => self.rng.range(0, 1 << 16),
            _ => self.rng.pick(&[
                0,
                1,
                15,
                16,
                17,
                52,
                64,
                68,
                page - 16,
                page - 1,
                page,
                page + 1,
                page + 16,
                2 * page,
                1 << 16,
                1 << 20,
                INT_MAX - page + 1,
                INT_MAX,
                0x8000_0000,
                u32::MAX - 15,
                u32::MAX,
            ]),
        }
    }

    fn request(&mut self, aim: Aim) -> RingRequest {
        let page = self.page;
        let version = match aim {
            Aim::V3BlockTooSmall | Aim::V3Extras => TpacketVersion::V3,
            _ => self.version(),
        };
        let kind = self.kind();
        let reserve = self.reserve();
        let mut r = self.valid(version, kind, reserve);
        let min = self.min_frame(&r);
        let frames_per_block = r.block_size / r.frame_size;
        let matching = frames_per_block * r.block_nr;
        match aim {
            Aim::Valid => {}
            Aim::BlockSizeNotPositive => {
                let any_negative = 0x8000_0000 | self.rng.u32();
                r.block_size = self.rng.pick(&[
                    0,
                    0x8000_0000,
                    0x8000_0000 + page,
                    0xffff_f000,
                    u32::MAX,
                    any_negative,
                ]);
                if self.rng.chance(50) {
                    Self::matching_frame_nr(&mut r);
                }
            }
            Aim::BlockSizeUnaligned => {
                let base = self.rng.pick(&[page, r.block_size]);
                let delta = self.rng.pick(&[1, 16, page / 2, page - 16]);
                r.block_size = match self.rng.below(5) {
                    0 | 1 => base + delta,
                    2 | 3 => base - delta,
                    _ => self.rng.range(1, INT_MAX),
                };
                if r.block_size.is_multiple_of(page) {
                    r.block_size += 1;
                }
                if self.rng.chance(70) {
                    Self::matching_frame_nr(&mut r);
                }
            }
            Aim::V3BlockTooSmall => {
                let hdr = r.version.hdrlen(self.word);
                match self.rng.below(3) {
                    // The private area around the largest that fits.
                    0 => {
                        let room = u64::from(r.block_size) - blk_plus_priv(0) - u64::from(min);
                        let fits = (room & !7) as i64;
                        let delta = self.rng.pick(&[-16i64, -8, -1, 0, 1, 7, 8, 9, 16, 4096]);
                        r.sizeof_priv = (fits + delta).max(0) as u32;
                    }
                    // Absurd private areas.
                    1 => {
                        r.sizeof_priv = self.rng.pick(&[
                            u32::MAX,
                            u32::MAX - 7,
                            0x8000_0000,
                            INT_MAX,
                            r.block_size,
                            r.block_size - 48,
                            r.block_size - 48 - hdr,
                        ]);
                    }
                    // A reserve around the largest that fits.
                    _ => {
                        let room = i64::from(r.block_size)
                            - blk_plus_priv(r.sizeof_priv) as i64
                            - i64::from(hdr);
                        let delta = self.rng.pick(&[-16i64, -1, 0, 1, 2, 16, 100]);
                        r.reserve = (room + delta).clamp(0, i64::from(INT_MAX)) as u32;
                        let lo = align16(self.min_frame(&r));
                        if lo <= r.block_size {
                            r.frame_size = lo;
                        }
                    }
                }
                Self::matching_frame_nr(&mut r);
            }
            Aim::FrameTooSmall => {
                r.frame_size = match self.rng.below(6) {
                    0 => min - 1,
                    1 => min.saturating_sub(16),
                    2 => min.saturating_sub(17),
                    3 => (min - 1) / TPACKET_ALIGNMENT * TPACKET_ALIGNMENT,
                    4 => 0,
                    _ => self.rng.range(0, min - 1),
                };
                if self.rng.chance(80) {
                    Self::matching_frame_nr(&mut r);
                }
            }
            Aim::FrameUnaligned => {
                r.frame_size = match self.rng.below(5) {
                    0 => min,
                    1 => min + 1,
                    4 => min + 16,
                    2 => align16(min) + self.rng.range(1, 15),
                    _ => r.frame_size + self.rng.pick(&[1, 15, 17]),
                };
                if self.rng.chance(80) {
                    Self::matching_frame_nr(&mut r);
                }
            }
            Aim::FrameBiggerThanBlock => {
                r.frame_size = match self.rng.below(4) {
                    0 => r.block_size + TPACKET_ALIGNMENT,
                    1 => r.block_size * 2,
                    2 => r.block_size + page,
                    _ => self.rng.pick(&[0x8000_0000, u32::MAX - 15]),
                }
                .max(align16(min));
                let any = self.rng.u32();
                r.frame_nr = self.rng.pick(&[0, matching, 1, any]);
            }
            Aim::FrameCountOverflow => {
                if frames_per_block < 2 {
                    // No block count overflows one frame per block in 32 bits.
                    r.frame_size = align16(min);
                    r.block_size = r.block_size.max(r.frame_size * 2);
                    r.block_size = align_up(u64::from(r.block_size), u64::from(page)) as u32;
                }
                let frames_per_block = r.block_size / r.frame_size;
                let last_fitting = u32::MAX / frames_per_block;
                if self.rng.chance(20) {
                    // Just fits in 32 bits: a frame count mismatch, not overflow.
                    r.block_nr = last_fitting - self.rng.range(0, 1);
                    r.frame_nr = (frames_per_block * r.block_nr) ^ 1;
                } else {
                    r.block_nr = match self.rng.below(3) {
                        0 => last_fitting + 1,
                        1 => u32::MAX,
                        _ => self.rng.range(last_fitting + 1, u32::MAX),
                    };
                    let any = self.rng.u32();
                    r.frame_nr = self.rng.pick(&[
                        frames_per_block.wrapping_mul(r.block_nr),
                        0,
                        u32::MAX,
                        any,
                    ]);
                }
            }
            Aim::FrameNrOff => {
                let off = match self.rng.below(8) {
                    0 => matching.wrapping_add(1),
                    1 => matching.wrapping_sub(1),
                    2 => matching.wrapping_add(frames_per_block),
                    3 => matching.wrapping_sub(frames_per_block),
                    4 => 0,
                    5 => u32::MAX,
                    6 => matching.wrapping_mul(2),
                    _ => self.rng.u32(),
                };
                r.frame_nr = if off == matching { off + 1 } else { off };
            }
            Aim::FreeRing => {
                r.block_nr = 0;
                let any = self.rng.u32().max(1);
                r.frame_nr = if self.rng.chance(50) {
                    0
                } else {
                    self.rng.pick(&[1, matching.max(1), u32::MAX, any])
                };
                if self.rng.chance(40) {
                    // Ignored when freeing: garbage must not matter.
                    r.block_size = self.arbitrary();
                    r.frame_size = self.arbitrary();
                    r.retire_blk_tov = self.arbitrary();
                    r.sizeof_priv = self.arbitrary();
                    r.feature_req_word = self.arbitrary();
                }
            }
            Aim::V3Extras => {
                let room = u64::from(r.block_size) - blk_plus_priv(0) - u64::from(min);
                loop {
                    r.retire_blk_tov = 0;
                    r.sizeof_priv = 0;
                    r.feature_req_word = 0;
                    if self.rng.chance(50) {
                        r.retire_blk_tov = self.rng.pick(&[1, 10, 1000, u32::MAX]);
                    }
                    if self.rng.chance(50) && room > 0 {
                        r.sizeof_priv = match self.rng.below(3) {
                            0 => 1,
                            1 => (room & !7) as u32,
                            _ => self.rng.below(room + 1) as u32,
                        };
                    }
                    if self.rng.chance(50) {
                        r.feature_req_word = self.rng.pick(&[FILL_RXHASH, 2, u32::MAX]);
                    }
                    if r.retire_blk_tov != 0 || r.sizeof_priv != 0 || r.feature_req_word != 0 {
                        break;
                    }
                }
                if self.rng.chance(10) {
                    // Rule 3 comes first, and the priv area no longer fits.
                    r.sizeof_priv = (room & !7) as u32 + 1;
                }
            }
            Aim::ReserveTooLarge => {
                let any = INT_MAX + 1 + self.rng.below(u64::from(INT_MAX) + 1) as u32;
                r.reserve = self.rng.pick(&[INT_MAX + 1, u32::MAX - 52, u32::MAX, any]);
                if self.rng.chance(20) {
                    // The reserve is refused before a ring is even freed.
                    r.block_nr = 0;
                    r.frame_nr = 0;
                }
            }
            Aim::Fuzz => {
                r.block_size = self.arbitrary();
                r.block_nr = match self.rng.below(3) {
                    0 => self.rng.range(0, 16),
                    _ => self.arbitrary(),
                };
                r.frame_size = self.arbitrary();
                r.frame_nr = if self.rng.chance(50) {
                    let mut m = r;
                    Self::matching_frame_nr(&mut m);
                    m.frame_nr
                } else {
                    self.arbitrary()
                };
                if r.version == TpacketVersion::V3 {
                    r.retire_blk_tov = self.arbitrary();
                    r.sizeof_priv = self.arbitrary();
                    r.feature_req_word = self.arbitrary();
                }
            }
        }
        if may_allocate(&r, page, self.word) && ring_bytes(&r) > MAX_RING_BYTES {
            // Keep the kernel from allocating a large ring: break rule 8.
            r.frame_nr = r.frame_nr.wrapping_add(1);
            self.guarded += 1;
        }
        r
    }

    fn aim(&mut self) -> Aim {
        let total: u64 = AIMS.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.below(total);
        for (aim, w) in AIMS {
            if x < w {
                return aim;
            }
            x -= w;
        }
        unreachable!()
    }
}

/// Ask the kernel: a fresh socket with the request's version and reserve,
/// then the ring option. The socket (and any ring) is closed on return.
fn kernel_verdict(r: &RingRequest) -> Result<(), Errno> {
    let mut s = PacketSocket::open(SocketType::Raw, None).expect("socket(AF_PACKET)");
    s.set_version(r.version).expect("PACKET_VERSION");
    s.set_reserve(r.reserve).map_err(|e| e.errno())?;
    match r.kind {
        RingKind::Rx => s.set_rx_ring(r),
        RingKind::Tx => s.set_tx_ring(r),
    }
    .map_err(|e| e.errno())
}

/// Ask the kernel about every request, on `WORKERS` threads of the calling
/// thread's network namespace. Closing a packet socket waits for an RCU
/// grace period (`synchronize_net` in `packet_release`, and again in
/// `packet_set_ring` for a ring), tens of milliseconds that do nothing but
/// wait; concurrent waiters share grace periods, so threads make ten
/// thousand sockets take seconds instead of minutes.
fn kernel_verdicts(requests: &[RingRequest]) -> Vec<Result<(), Errno>> {
    let netns = || std::fs::read_link("/proc/thread-self/ns/net").expect("own netns");
    let ours = netns();
    let next = AtomicUsize::new(0);
    let mut verdicts = vec![Err(Errno::NOTRECOVERABLE); requests.len()];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                s.spawn(|| {
                    assert_eq!(netns(), ours, "worker thread left the test namespace");
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(r) = requests.get(i) else {
                            return done;
                        };
                        done.push((i, kernel_verdict(r)));
                    }
                })
            })
            .collect();
        for w in workers {
            for (i, v) in w.join().expect("worker panicked") {
                verdicts[i] = v;
            }
        }
    });
    verdicts
}

#[test]
fn validator_agrees_with_kernel() {
    let seed = std::env::var("RINGTAP_DIFF_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(DEFAULT_SEED)
        .max(1);
    in_netns("differential geometry", || {
        let page = page_size();
        let word = kernel_word().word;
        let mut gen = Gen {
            rng: Rng(seed),
            page: page.get(),
            word,
            guarded: 0,
        };
        let requests: Vec<(Aim, RingRequest)> = (0..REQUESTS)
            .map(|_| {
                let aim = gen.aim();
                (aim, gen.request(aim))
            })
            .collect();
        let start = Instant::now();
        let kernel = kernel_verdicts(&requests.iter().map(|(_, r)| *r).collect::<Vec<_>>());
        let elapsed = start.elapsed();

        let mut accepted = 0usize;
        let mut freed = 0usize;
        let mut by_rule: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut mismatches = Vec::new();
        for ((aim, r), kernel) in requests.iter().zip(kernel) {
            let verdict = r.validate(page, word);
            match &verdict {
                Ok(_) if r.block_nr == 0 => freed += 1,
                Ok(_) => accepted += 1,
                Err(e) => *by_rule.entry(e.rule()).or_default() += 1,
            }
            let agree = match (&verdict, kernel) {
                (Ok(_), Ok(())) => true,
                (Err(_), Err(e)) => e == Errno::INVAL,
                _ => false,
            };
            if !agree {
                let verdict = match verdict {
                    Ok(_) => "Ok".to_string(),
                    Err(e) => format!("Err({}: {e})", e.rule()),
                };
                let kernel = match kernel {
                    Ok(()) => "Ok".to_string(),
                    Err(e) => format!("Err(errno {}: {e})", e.raw_os_error()),
                };
                mismatches.push(format!(
                    "  aimed at {aim:?}: {r:?}\n    validator {verdict}, kernel {kernel}"
                ));
            }
        }
        let rules: Vec<String> = by_rule.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "differential: seed {seed:#x}, page {}, {word:?}: {REQUESTS} requests, kernel \
             answered in {elapsed:.2?} on {WORKERS} threads: {accepted} rings accepted, {freed} \
             frees accepted, rejected by rule: {}; {} kept small by the memory guard; {} \
             mismatches",
            page.get(),
            rules.join(" "),
            gen.guarded,
            mismatches.len(),
        );
        assert!(
            mismatches.is_empty(),
            "{} of {REQUESTS} requests judged differently by the validator and the kernel \
             (seed {seed:#x}); the first {}:\n{}",
            mismatches.len(),
            mismatches.len().min(MAX_REPORTED),
            mismatches[..mismatches.len().min(MAX_REPORTED)].join("\n")
        );
        let missed: Vec<_> = all_rules()
            .into_iter()
            .filter(|rule| !by_rule.contains_key(rule))
            .collect();
        assert!(missed.is_empty(), "rules never exercised: {missed:?}");
        assert!(
            accepted >= MIN_ACCEPTED,
            "only {accepted} rings accepted (want at least {MIN_ACCEPTED})"
        );
    });
}
