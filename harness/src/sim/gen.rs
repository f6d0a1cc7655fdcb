//! Synthetic traces from a one-line spec, `KIND:KEY=VALUE,KEY=VALUE,...`.
//!
//! | spec | the trace |
//! |---|---|
//! | `zipf:pages=N,alpha=A,len=L` | `L` accesses to pages `0..N`, page `k` drawn with probability ∝ `1/(k+1)^A` (page 0 hottest; `alpha=0` is uniform) |
//! | `loop:pages=N,len=L` | `0, 1, …, N-1, 0, 1, …` for `L` accesses: a cyclic scan, LRU's and FIFO's worst case once `N` exceeds the cache |
//! | `scan:len=L[,start=S]` | `S, S+1, …, S+L-1`: a one-time scan, every access a cold miss for every policy |
//! | `phase:pages=N,alpha=A,len=L[,shift=K]` | zipf over pages `0..N` for the first `L/2` accesses, then over `K..K+N` (default `K=N`: a disjoint working set) for the rest |
//! | `mix:pages=N,alpha=A,len=L[,scan=S][,every=E]` | zipf over the hot pages `0..N`, and after every `E` of its accesses (default `4N`) a one-time scan of `S` fresh pages (default `N`), numbered from 2^40 up and never reused; `L` accesses in all |
//!
//! Options every kind takes: `seed=S` (default 1; the same spec always gives the same
//! trace), `anon=F` (the fraction of *pages* that are anonymous, so a page is always reached
//! the same way; default 0: all file pages) and `write=F` (the fraction of accesses that are
//! writes; default 0). `alpha` defaults to 1. Numbers may be written `100000`, `100_000` or
//! `1e5`. A key the kind does not take, a missing key or a bad value is an error.

use super::{Access, Trace};

/// The first page number of the `mix` generator's scans.
pub const SCAN_BASE: u64 = 1 << 40;

/// Generates the trace `spec` describes (see the module docs).
pub fn generate(spec: &str) -> Result<Trace, String> {
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let kind = kind.trim().to_ascii_lowercase();
    let allowed: &[&str] = match kind.as_str() {
        "zipf" => &["pages", "alpha", "len"],
        "loop" => &["pages", "len"],
        "scan" => &["len", "start"],
        "phase" => &["pages", "alpha", "len", "shift"],
        "mix" => &["pages", "alpha", "len", "scan", "every"],
        _ => {
            return Err(format!(
                "unknown generator `{kind}` in `{spec}` (known: zipf, loop, scan, phase, mix)"
            ))
        }
    };
    let p = Params::parse(spec, rest, allowed)?;
    let seed = p.int("seed")?.unwrap_or(1);
    let anon = p.fraction("anon")?.unwrap_or(0.0);
    let write = p.fraction("write")?.unwrap_or(0.0);
    let len = p.required_count("len")?;
    let mut rng = SplitMix64::new(seed);
    let mut out = Out {
        t: Trace::try_with_capacity(len)?,
        seed,
        anon,
        write,
        wrng: SplitMix64::new(seed ^ 0x5752_4954_4553_0000),
    };
    match kind.as_str() {
        "zipf" => {
            let z = Zipf::new(p.required_count("pages")?, p.alpha()?)?;
            (0..len).for_each(|_| out.push(z.sample(&mut rng)));
        }
        "loop" => {
            let n = p.required_count("pages")? as u64;
            (0..len as u64).for_each(|i| out.push(i % n));
        }
        "scan" => {
            let start = p.int("start")?.unwrap_or(0);
            start
                .checked_add(len as u64)
                .ok_or_else(|| format!("`{spec}`: start + len overflows"))?;
            (start..start + len as u64).for_each(|page| out.push(page));
        }
        "phase" => {
            let n = p.required_count("pages")?;
            let shift = p.int("shift")?.unwrap_or(n as u64);
            if shift.checked_add(n as u64).is_none() {
                return Err(format!("`{spec}`: shift + pages overflows"));
            }
            let z = Zipf::new(n, p.alpha()?)?;
            let half = len / 2;
            (0..half).for_each(|_| out.push(z.sample(&mut rng)));
            (half..len).for_each(|_| out.push(z.sample(&mut rng) + shift));
        }
        "mix" => {
            let n = p.required_count("pages")?;
            let z = Zipf::new(n, p.alpha()?)?;
            let scan = p.count("scan")?.unwrap_or(n);
            let every = p.count("every")?.unwrap_or(4 * n);
            let mut fresh = SCAN_BASE;
            'fill: loop {
                for _ in 0..every {
                    if out.t.len() == len {
                        break 'fill;
                    }
                    out.push(z.sample(&mut rng));
                }
                for _ in 0..scan {
                    if out.t.len() == len {
                        break 'fill;
                    }
                    out.push(fresh);
                    fresh += 1;
                }
            }
        }
        _ => unreachable!("kinds are checked above"),
    }
    Ok(out.t)
}

/// The trace being generated and how its accesses get their types.
struct Out {
    t: Trace,
    seed: u64,
    anon: f64,
    write: f64,
    wrng: SplitMix64,
}

impl Out {
    fn push(&mut self, page: u64) {
        let anon = self.anon > 0.0 && unit(mix64(page ^ self.seed.rotate_left(17))) < self.anon;
        let write = self.write > 0.0 && self.wrng.unit() < self.write;
        self.t.push(Access { page, anon, write });
    }
}

/// The parsed `KEY=VALUE` pairs of a spec.
struct Params<'a> {
    spec: &'a str,
    pairs: Vec<(String, String)>,
}

impl<'a> Params<'a> {
    fn parse(spec: &'a str, rest: &str, allowed: &[&str]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for item in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("`{spec}`: `{item}` is not KEY=VALUE"))?;
            let k = k.trim().to_ascii_lowercase();
            if !allowed.contains(&k.as_str()) && !["seed", "anon", "write"].contains(&k.as_str()) {
                return Err(format!(
                    "`{spec}`: unknown key `{k}` (this generator takes {}, seed, anon, write)",
                    allowed.join(", ")
                ));
            }
            if pairs.iter().any(|(q, _)| *q == k) {
                return Err(format!("`{spec}`: key `{k}` given twice"));
            }
            pairs.push((k, v.trim().to_string()));
        }
        Ok(Params { spec, pairs })
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str) -> Result<Option<f64>, String> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let clean = v.replace('_', "");
        clean
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| format!("`{}`: `{key}={v}` is not a number", self.spec))
    }

    fn int(&self, key: &str) -> Result<Option<u64>, String> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        if let Ok(n) = v.replace('_', "").parse::<u64>() {
            return Ok(Some(n));
        }
        match self.number(key)? {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(Some(x as u64)),
            _ => Err(format!(
                "`{}`: `{key}={v}` is not a non-negative integer",
                self.spec
            )),
        }
    }

    fn count(&self, key: &str) -> Result<Option<usize>, String> {
        match self.int(key)? {
            None => Ok(None),
            Some(0) => Err(format!("`{}`: `{key}` must be at least 1", self.spec)),
            Some(n) if n > (1 << 34) => Err(format!("`{}`: `{key}={n}` is too large", self.spec)),
            Some(n) => Ok(Some(n as usize)),
        }
    }

    fn required_count(&self, key: &str) -> Result<usize, String> {
        self.count(key)?
            .ok_or_else(|| format!("`{}`: missing `{key}=`", self.spec))
    }

    fn fraction(&self, key: &str) -> Result<Option<f64>, String> {
        match self.number(key)? {
            Some(x) if !(0.0..=1.0).contains(&x) => Err(format!(
                "`{}`: `{key}` must be a fraction between 0 and 1",
                self.spec
            )),
            x => Ok(x),
        }
    }

    fn alpha(&self) -> Result<f64, String> {
        match self.number("alpha")? {
            Some(a) if a < 0.0 => Err(format!("`{}`: `alpha` must be >= 0", self.spec)),
            a => Ok(a.unwrap_or(1.0)),
        }
    }
}

/// Zipf's law over `0..n` by inversion of a precomputed cumulative table.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, alpha: f64) -> Result<Self, String> {
        if n > 1 << 28 {
            return Err(format!("zipf over {n} pages is too large (at most 2^28)"));
        }
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += (k as f64).powf(-alpha);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Ok(Zipf { cdf })
    }

    fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.unit();
        let i = self.cdf.partition_point(|&c| c <= u);
        i.min(self.cdf.len() - 1) as u64
    }
}

/// SplitMix64 (Steele, Lea and Flood): a small, fast, well-mixed PRNG, so generated traces
/// do not depend on any crate's stream.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}
