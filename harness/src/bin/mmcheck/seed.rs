//! `mmcheck seed`: writes PRNG-generated inputs into `corpus/<target>/` in the target's own
//! framing (the 2-byte scenario header of schedule targets included), so a new target gets
//! a non-empty corpus without hand-made files.

use crate::crashes::save_failure;
use crate::{repo_root, CliError, CliResult};
use harness::engine::random::Rng;
use harness::registry::{self, RunError};

/// Arguments of `mmcheck seed`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// The registry target.
    pub target: String,
    /// How many seeds to write.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub count: u64,
    /// The PRNG seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Writes the seeds as `seed-NN` after the highest existing number; every seed must decode
/// (a schedule target's is decoded even in a build without shuttle). A seed that exposes a
/// bug is saved as a crash, not as a seed, and the exit code is 1.
pub fn run(a: &SeedArgs) -> CliResult {
    let root = repo_root()?;
    let t = registry::find(&a.target).map_err(CliError)?;
    let dir = harness::corpus::dir(&root, t.name());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError(format!("cannot create {}: {e}", dir.display())))?;
    let existing = harness::corpus::files(&root, t.name()).map_err(CliError)?;
    let mut next = existing
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()?
                .strip_prefix("seed-")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(0, |n| n + 1);
    let mut rng = Rng::new(a.seed);
    let (mut written, mut attempts, mut found) = (0u64, 0u64, 0u64);
    while written < a.count {
        attempts += 1;
        if attempts > a.count * 64 + 64 {
            bail!(
                "only {written} of {} generated inputs of `{}` decoded in {attempts} attempts",
                a.count,
                t.name()
            );
        }
        let data = t.generate(&mut rng);
        match t.run_input(&data) {
            Err(RunError::Decode(_)) => continue,
            Ok(()) | Err(RunError::Unavailable(_)) => {}
            Err(RunError::Failure(f)) => {
                print!("{}", f.render());
                match save_failure(&root, &f) {
                    Ok(d) => eprintln!("mmcheck: saved to {}", d.display()),
                    Err(e) => eprintln!("mmcheck: could not save the crash: {e}"),
                }
                found += 1;
                continue;
            }
            Err(e) => bail!("{e}"),
        }
        let path = dir.join(format!("seed-{next:02}"));
        std::fs::write(&path, &data)
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
        println!("{}", crate::rel(&root, &path));
        next += 1;
        written += 1;
    }
    Ok(u8::from(found > 0))
}
