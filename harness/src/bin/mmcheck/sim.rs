//! `mmcheck sim`: replays a page trace (a file, or generated from a spec) through replacement
//! policies at one or more cache sizes and prints accesses, misses and miss ratio per policy
//! and size — a table per size, or JSON lines — optionally plotting the miss-ratio curves and
//! writing the trace out in the plain format. The simulator is [`harness::sim`].

use crate::{CliError, CliResult};
use harness::sim::{self, plot, Format, FrameSpec, Trace};
use std::path::PathBuf;

/// Arguments of `mmcheck sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// The trace file: plain (`PAGE [anon|file] [r|w]` per line) or the ARC paper's `.lis`;
    /// zstd-compressed if the name ends in `.zst`.
    #[arg(long, value_name = "FILE", conflicts_with = "gen")]
    pub trace: Option<PathBuf>,
    /// A generated trace instead: `zipf:pages=N,alpha=A,len=L`, `loop:pages=N,len=L`,
    /// `scan:len=L`, `phase:pages=N,alpha=A,len=L`, `mix:pages=N,alpha=A,len=L,scan=S,every=E`,
    /// each with optional `seed=`, `anon=` (fraction of pages), `write=` (fraction of accesses).
    #[arg(long, value_name = "SPEC")]
    pub gen: Option<String>,
    /// Cache sizes in page frames, or in percent of the trace's distinct pages (`1%`), comma
    /// separated or repeated (required unless only `--write-trace` is wanted).
    #[arg(long, value_name = "N[,N...]", allow_hyphen_values = true)]
    pub frames: Vec<String>,
    /// Policies to run, comma separated or repeated (default: every registered policy).
    #[arg(long = "policy", value_name = "P[,P...]")]
    pub policies: Vec<String>,
    /// The trace file's format: `plain` or `lis` (default: `lis` for `*.lis[.zst]`, else plain).
    #[arg(long, value_name = "plain|lis")]
    pub format: Option<Format>,
    /// Use only the first N accesses of the trace.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// One JSON object per policy and size, `{"policy":…,"frames":…,"accesses":…,"misses":…}`.
    #[arg(long)]
    pub json: bool,
    /// Draws every policy's miss-ratio curve into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Writes the trace (read or generated) to this file in the plain format.
    #[arg(long, value_name = "FILE")]
    pub write_trace: Option<PathBuf>,
    /// After the results, prints the multi-gen LRU's `lru_gen` debugfs dump at the end of the
    /// trace, for each cache size (as `cat /sys/kernel/debug/lru_gen` would show it).
    #[arg(long)]
    pub dump: bool,
    /// Simulations run at once (default: the available cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
}

/// Runs the simulations and prints the results.
pub fn run(a: &SimArgs) -> CliResult {
    // Check the cheap arguments before reading a possibly large trace.
    let mut specs = Vec::new();
    for f in &a.frames {
        specs.extend(FrameSpec::parse_list(f).map_err(CliError)?);
    }
    let mut policies: Vec<&'static str> = Vec::new();
    for p in a.policies.iter().flat_map(|p| p.split(',')) {
        let info = sim::lookup(p.trim()).map_err(CliError)?;
        if !policies.contains(&info.name) {
            policies.push(info.name);
        }
    }
    if policies.is_empty() {
        policies = sim::policy_names();
    }
    if a.trace.is_none() && a.gen.is_none() {
        bail!("give the trace: --trace FILE or --gen SPEC");
    }
    if specs.is_empty() && a.write_trace.is_none() {
        bail!("give the cache sizes: --frames N[,N...] (pages, or percentages like 5%)");
    }
    if a.dump && !sim::kernel::MGLRU_AVAILABLE {
        bail!("--dump needs mmcheck built without the shuttle feature (the mglru policy cannot run in this build)");
    }
    if a.format.is_some() && a.trace.is_none() {
        bail!("--format applies to --trace files only");
    }

    let limit = a.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let (trace, title) = match (&a.trace, &a.gen) {
        (Some(path), _) => (
            Trace::read(path, a.format, limit).map_err(CliError)?,
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        ),
        (None, Some(spec)) => {
            let mut t = sim::gen::generate(spec).map_err(CliError)?;
            if let Some(l) = limit.filter(|&l| l < t.len()) {
                t = Trace::from_accesses(t.iter().take(l));
            }
            (t, spec.clone())
        }
        (None, None) => bail!("give --trace FILE or --gen SPEC"),
    };
    if let Some(out) = &a.write_trace {
        trace.save_plain(out).map_err(CliError)?;
        eprintln!(
            "mmcheck: wrote {} accesses to {}",
            trace.len(),
            out.display()
        );
    }
    if specs.is_empty() {
        return Ok(0);
    }

    let footprint = trace.footprint();
    let mut frames: Vec<usize> = Vec::new();
    for s in specs {
        let f = s.resolve(footprint);
        if !frames.contains(&f) {
            frames.push(f);
        }
    }
    let jobs = a.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let outcomes = sim::run(&trace, &policies, &frames, jobs).map_err(CliError)?;

    if a.json {
        for o in &outcomes {
            println!("{}", o.to_json());
        }
    } else {
        println!(
            "trace {title}: {} accesses, {footprint} distinct pages",
            trace.len()
        );
        let w = outcomes
            .iter()
            .map(|o| o.policy.len())
            .max()
            .unwrap_or(6)
            .max(6);
        for &f in &frames {
            println!();
            println!(
                "frames {f} ({:.2}% of the distinct pages)",
                100.0 * f as f64 / footprint.max(1) as f64
            );
            println!(
                "{:w$}  {:>10}  {:>12}  {:>12}  {:>10}",
                "policy", "frames", "accesses", "misses", "miss ratio"
            );
            for o in outcomes.iter().filter(|o| o.frames == f) {
                println!(
                    "{:w$}  {:>10}  {:>12}  {:>12}  {:>10.4}",
                    o.policy,
                    o.frames,
                    o.accesses,
                    o.misses,
                    o.miss_ratio()
                );
            }
        }
    }
    if let Some(path) = &a.plot {
        plot::write_svg(path, &outcomes, &format!("miss ratio: {title}")).map_err(CliError)?;
        eprintln!("mmcheck: wrote {}", path.display());
    }
    if a.dump {
        for &f in &frames {
            let mut m = sim::kernel::Mglru::new(f);
            sim::simulate(&mut m, &trace);
            println!();
            println!("lru_gen at the end of the trace, {f} frames:");
            print!("{}", m.sim_mut().dump(false));
        }
    }
    Ok(0)
}
