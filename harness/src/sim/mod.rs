//! A trace-driven page-cache simulator: replays a page-reference trace through replacement
//! policies and counts misses, for one cache size or a whole miss-ratio curve.
//!
//! - [`trace`] reads traces (plain text, the ARC paper's `.lis`, either zstd-compressed) into
//!   the memory-lean [`Trace`] and writes them back as plain text;
//! - [`gen`] makes synthetic traces from a one-line spec (`zipf:pages=1000,alpha=0.9,len=1e5`);
//! - [`policies`] holds the baseline policies, each reproducing libCacheSim 0.3.5 (PyPI
//!   `libcachesim==0.3.5`) exactly, quirks included;
//! - [`kernel`] holds the kernel's policies: `mglru` (`algos::mglru`) and
//!   `active-inactive`;
//! - [`plot`] draws miss-ratio curves as a self-contained SVG.
//!
//! Conventions are libCacheSim's: the cache size is counted in pages (every object has size 1),
//! every miss is counted, cold misses included (no warm-up), and a missed page is inserted,
//! evicting first if the cache is full. A policy sees one [`Access`] at a time through the
//! object-safe [`Policy`] trait; [`policy`] builds one by name from [`REGISTRY`], and
//! [`run`] simulates every (policy, frames) pair of a curve, in parallel.

pub mod gen;
pub mod kernel;
pub mod plot;
pub mod policies;
pub mod trace;

pub use trace::{Format, Trace};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One page reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The page number.
    pub page: u64,
    /// `true` for an access through page tables (anonymous or mapped memory), `false` for a
    /// file page read or written through a file descriptor.
    pub anon: bool,
    /// `true` for a write (the page becomes dirty), `false` for a read.
    pub write: bool,
}

impl Access {
    /// A file page read of `page` (what every line of a trace without type columns is).
    pub const fn read(page: u64) -> Self {
        Access {
            page,
            anon: false,
            write: false,
        }
    }
}

/// A page-replacement policy over a cache of a fixed number of page frames.
///
/// Object-safe, so the runner and the CLI hold a `Box<dyn Policy>`. A policy is built for one
/// trace and one size and then fed that trace's accesses in order, once.
pub trait Policy {
    /// The policy's name as results print it (the registry name for the baselines).
    fn name(&self) -> String;
    /// Applies one access: `true` on a hit; on a miss the page is inserted (evicting first
    /// if the cache is full), unless the policy's admission rule declines it.
    fn access(&mut self, access: Access) -> bool;
}

/// Builds a policy for `frames` page frames (at least 1) and the trace it will replay.
pub type Builder = fn(frames: usize, trace: &Trace) -> Result<Box<dyn Policy>, String>;

/// A registered policy: its name, other names it answers to, a one-line description and its
/// constructor.
pub struct PolicyInfo {
    /// The canonical name (`--policy NAME`, results, JSON).
    pub name: &'static str,
    /// Other accepted names (matched case-insensitively, like `name`).
    pub aliases: &'static [&'static str],
    /// What the policy is and which reference it follows.
    pub about: &'static str,
    /// The constructor.
    pub build: Builder,
}

/// Every policy [`policy`] knows, in the order results list them (and the order `mmcheck sim`
/// runs them when no `--policy` is given).
pub const REGISTRY: &[PolicyInfo] = &[
    PolicyInfo {
        name: "lru",
        aliases: &[],
        about: "least recently used (libCacheSim LRU.c)",
        build: |f, _| Ok(Box::new(policies::Lru::new(f))),
    },
    PolicyInfo {
        name: "fifo",
        aliases: &[],
        about: "first in, first out (libCacheSim FIFO.c)",
        build: |f, _| Ok(Box::new(policies::Fifo::new(f))),
    },
    PolicyInfo {
        name: "clock",
        aliases: &[],
        about: "CLOCK, one reference bit (libCacheSim Clock.c, n-bit-counter=1, init-freq=0)",
        build: |f, _| Ok(Box::new(policies::Clock::new(f))),
    },
    PolicyInfo {
        name: "arc",
        aliases: &[],
        about: "adaptive replacement cache (libCacheSim ARC.c)",
        build: |f, _| Ok(Box::new(policies::Arc::new(f))),
    },
    PolicyInfo {
        name: "2q",
        aliases: &["twoq"],
        about: "2Q: 25% FIFO Ain, 50% ghost Aout, LRU Am (libCacheSim TwoQ.c)",
        build: |f, _| Ok(Box::new(policies::TwoQ::new(f))),
    },
    PolicyInfo {
        name: "s3fifo",
        aliases: &[],
        about: "S3-FIFO: 10% small FIFO, 90% ghost, main FIFO (libCacheSim S3FIFO.c, 2024)",
        build: |f, _| Ok(Box::new(policies::S3Fifo::new(f))),
    },
    PolicyInfo {
        name: "lirs",
        aliases: &[],
        about: "LIRS, HIR set 1% of the cache (libCacheSim LIRS.c)",
        build: |f, _| Ok(Box::new(policies::Lirs::new(f))),
    },
    PolicyInfo {
        name: "opt",
        aliases: &["belady", "min"],
        about: "Belady's MIN: evicts the page used farthest in the future (libCacheSim Belady.c)",
        build: |f, t| Ok(Box::new(policies::Opt::new(f, t)?)),
    },
    PolicyInfo {
        name: "mglru",
        aliases: &["lru_gen"],
        about: "the multi-gen LRU of Linux v6.6 (algos::mglru), swappiness 60, direct reclaim in the kernel's batches",
        build: |f, _| kernel::Mglru::build(f),
    },
    PolicyInfo {
        name: "active-inactive",
        aliases: &["ai", "2list"],
        about: "the kernel's two-list LRU before MGLRU, with workingset refault activation (one pair of lists for both types)",
        build: |f, _| Ok(Box::new(kernel::ActiveInactive::new(f))),
    },
    // `build` gets the frame count (>= 1) and the whole trace; an `Err` is reported to the
    // user as a one-line error. Nothing else needs to change: `policy`, `policy_names`, `run`,
    // `mmcheck sim` (default: every entry) and the plot all go through this table.
];

/// The canonical names of the registered policies, in [`REGISTRY`] order.
/// (`mglru` only where it can run: see [`kernel::MGLRU_AVAILABLE`].)
pub fn policy_names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|p| p.name != "mglru" || kernel::MGLRU_AVAILABLE)
        .map(|p| p.name)
        .collect()
}

/// Finds a registered policy by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Result<&'static PolicyInfo, String> {
    REGISTRY
        .iter()
        .find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            format!(
                "unknown policy `{name}` (known: {})",
                policy_names().join(", ")
            )
        })
}

/// Builds the policy `name` for `frames` page frames over `trace` (which policies such as
/// `opt` read ahead in). Errors: an unknown name, `frames` of 0 or above [`MAX_FRAMES`], or
/// the constructor's error.
pub fn policy(name: &str, frames: usize, trace: &Trace) -> Result<Box<dyn Policy>, String> {
    let info = lookup(name)?;
    check_frames(frames)?;
    (info.build)(frames, trace)
}

/// The largest cache [`policy`] builds: frames are indexed by `u32`.
pub const MAX_FRAMES: usize = (u32::MAX - 1) as usize;

fn check_frames(frames: usize) -> Result<(), String> {
    if frames == 0 {
        Err("frames must be at least 1".to_string())
    } else if frames > MAX_FRAMES {
        Err(format!("frames must be at most {MAX_FRAMES}, not {frames}"))
    } else {
        Ok(())
    }
}

/// Replays every access of `trace` through `policy`; returns the number of misses.
pub fn simulate(policy: &mut dyn Policy, trace: &Trace) -> u64 {
    let mut misses = 0u64;
    for a in trace.iter() {
        if !policy.access(a) {
            misses += 1;
        }
    }
    misses
}

/// The result of replaying one trace through one policy at one size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The policy's [`Policy::name`].
    pub policy: String,
    /// The cache size in page frames.
    pub frames: usize,
    /// Accesses replayed (the trace length).
    pub accesses: u64,
    /// Misses, cold misses included.
    pub misses: u64,
}

impl Outcome {
    /// `misses / accesses` (0 for an empty trace).
    pub fn miss_ratio(&self) -> f64 {
        if self.accesses == 0 {
            0.0
        } else {
            self.misses as f64 / self.accesses as f64
        }
    }

    /// The outcome as one JSON object: `{"policy":…,"frames":…,"accesses":…,"misses":…}`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"policy\":\"{}\",\"frames\":{},\"accesses\":{},\"misses\":{}}}",
            json_escape(&self.policy),
            self.frames,
            self.accesses,
            self.misses
        )
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Simulates every policy of `policies` at every size of `frames` over `trace` on up to
/// `jobs` threads (at least one). Every name and size is checked before anything runs. The
/// outcomes come back ordered by `frames` (as given), then by `policies` (as given).
pub fn run(
    trace: &Trace,
    policies: &[&str],
    frames: &[usize],
    jobs: usize,
) -> Result<Vec<Outcome>, String> {
    for p in policies {
        lookup(p)?;
    }
    for &f in frames {
        check_frames(f)?;
    }
    let cells: Vec<(usize, &str)> = frames
        .iter()
        .flat_map(|&f| policies.iter().map(move |&p| (f, p)))
        .collect();
    let results: Mutex<Vec<Option<Result<Outcome, String>>>> =
        Mutex::new(cells.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&(f, name)) = cells.get(i) else {
            break;
        };
        let r = policy(name, f, trace).map(|mut p| {
            let misses = simulate(p.as_mut(), trace);
            Outcome {
                policy: p.name(),
                frames: f,
                accesses: trace.len() as u64,
                misses,
            }
        });
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
    };
    let jobs = jobs.clamp(1, cells.len().max(1));
    if jobs == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(work);
            }
        });
    }
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a simulation did not run".to_string())))
        .collect()
}

/// A cache size as given on the command line: a number of page frames, or a percentage of
/// the trace's footprint (its number of distinct pages).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FrameSpec {
    /// This many page frames.
    Pages(usize),
    /// This percentage of the footprint, rounded to the nearest frame, at least one.
    Percent(f64),
}

impl FrameSpec {
    /// Parses `N` or `P%` (`P` may have a fraction: `0.5%`); zero is an error.
    pub fn parse(s: &str) -> Result<FrameSpec, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("bad frames `{s}`: not a percentage"))?;
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("bad frames `{s}`: the percentage must be positive"));
            }
            Ok(FrameSpec::Percent(v))
        } else {
            let v: usize = t
                .parse()
                .map_err(|_| format!("bad frames `{s}`: not a number of frames or a percentage"))?;
            if v == 0 {
                return Err(format!("bad frames `{s}`: frames must be at least 1"));
            }
            Ok(FrameSpec::Pages(v))
        }
    }

    /// Parses a comma-separated list (`100,1000` or `1%,5%,10%`).
    pub fn parse_list(s: &str) -> Result<Vec<FrameSpec>, String> {
        s.split(',').map(FrameSpec::parse).collect()
    }

    /// The number of frames for a trace of `footprint` distinct pages.
    pub fn resolve(self, footprint: usize) -> usize {
        match self {
            FrameSpec::Pages(n) => n,
            FrameSpec::Percent(p) => ((footprint as f64 * p / 100.0).round() as usize).max(1),
        }
    }
}

/// A fast, non-cryptographic hasher for page numbers (a multiply-xorshift of each word), so
/// the policies' hash maps cost a multiplication per lookup instead of SipHash.
#[derive(Clone, Copy, Default)]
pub(crate) struct PageHasher(u64);

impl std::hash::Hasher for PageHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map keyed by page number with [`PageHasher`].
pub(crate) type PageMap<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<PageHasher>>;

/// A hash set of page numbers with [`PageHasher`].
pub(crate) type PageSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<PageHasher>>;

/// An empty [`PageMap`] with room for `n` entries.
/// (The reservation is capped: a huge cache over a short trace should not allocate up front.)
pub(crate) fn page_map<V>(n: usize) -> PageMap<V> {
    PageMap::with_capacity_and_hasher(n.min(1 << 20), Default::default())
}
