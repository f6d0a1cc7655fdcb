//! Planted bugs (`mutants/<algo>/*.patch`): the header every patch carries and the matrix
//! defaults of each algorithm (`mutants/<algo>/matrix.conf`). `mmcheck mutants` runs them;
//! the wiring test checks that every header names an engine and target that exist.

use crate::dyn_target::DynTarget;
use crate::engine::Engine;
use crate::registry;
use std::path::Path;

/// The header of a mutant patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// One line about the planted bug.
    pub description: String,
    /// The engine expected to catch it first.
    pub engine: Engine,
    /// The registry target, or the cargo test arguments (loom, test).
    pub target: String,
    /// Iterations, or seconds for fuzz (unused by loom and test).
    pub budget: Option<u64>,
    /// Cargo test arguments of the matrix's `test` cell, overriding the algorithm's default.
    pub test: Option<String>,
    /// Cargo test arguments of the matrix's `loom` cell, overriding the algorithm's default.
    pub loom: Option<String>,
    /// The registry targets the matrix runs this bug under, overriding the algorithm's
    /// (for a directory of several structures, such as the toys).
    pub targets: Option<Vec<String>>,
}

/// Parses the `# key: value` lines before the diff.
pub fn parse_header(text: &str) -> Result<Header, String> {
    let (mut desc, mut engine, mut target, mut budget) = (None, None, None, None);
    let (mut test, mut loom, mut targets) = (None, None, None);
    for line in text.lines() {
        if line.starts_with("diff ") || line.starts_with("--- ") {
            break;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((k, v)) = rest.split_once(':') else {
            continue;
        };
        let v = v.trim().trim_matches('`').to_string();
        match k.trim() {
            "mmcheck-mutant" => desc = Some(v),
            "engine" => engine = Some(v),
            "target" => target = Some(v),
            "budget" => budget = Some(v),
            "test" => test = Some(v),
            "loom" => loom = Some(v),
            "targets" => targets = Some(v),
            _ => {}
        }
    }
    let description = desc.ok_or("no `# mmcheck-mutant:` header line")?;
    let engine: Engine = engine.ok_or("no `# engine:` header line")?.parse()?;
    let target = target
        .filter(|t| !t.is_empty())
        .ok_or("no `# target:` header line")?;
    let needs_budget = engine.takes_target();
    let budget = match budget {
        Some(b) => match b.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("budget `{b}` is not a positive number")),
        },
        None if needs_budget => return Err("no `# budget:` header line".into()),
        None => None,
    };
    if engine.takes_target() {
        let t = registry::find(&target)?;
        if !engine.applies_to(t.kind()) {
            return Err(format!(
                "engine `{engine}` does not run {} target `{target}`",
                t.kind().as_str()
            ));
        }
    }
    let targets = match targets {
        None => None,
        Some(v) => {
            let names: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            for n in &names {
                registry::find(n)?;
            }
            Some(names)
        }
    };
    Ok(Header {
        description,
        engine,
        target,
        budget,
        test,
        loom,
        targets,
    })
}

/// The matrix's defaults of one algorithm: `mutants/<algo>/matrix.conf`, lines `test: <cargo
/// test args>` and `loom: <cargo test args>`, plus `targets: <registry targets>` for
/// algorithms without targets of their own (the platform layer is exercised by the toys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlgoConf {
    /// The `test` cell's cargo arguments.
    pub test: Option<String>,
    /// The `loom` cell's cargo arguments.
    pub loom: Option<String>,
    /// Registry targets beyond those whose algorithm is this one.
    pub targets: Vec<String>,
}

/// Parses a `matrix.conf`.
pub fn parse_conf(text: &str) -> Result<AlgoConf, String> {
    let mut c = AlgoConf::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("not `key: value`: {line}"))?;
        let v = v.trim().to_string();
        match k.trim() {
            "test" => c.test = Some(v),
            "loom" => c.loom = Some(v),
            "targets" => {
                for t in v.split_whitespace() {
                    registry::find(t)?;
                    c.targets.push(t.to_string());
                }
            }
            other => return Err(format!("unknown key `{other}`")),
        }
    }
    Ok(c)
}

/// The registry targets the matrix runs a bug of `mutants/<algo>/` under: the header's
/// `# targets:` if it has one, else every target of the algorithm plus the conf's `targets:`.
pub fn targets_of(algo: &str, conf: &AlgoConf, h: &Header) -> Vec<&'static dyn DynTarget> {
    registry::all()
        .iter()
        .map(|t| t.as_ref())
        .filter(|t| match &h.targets {
            Some(names) => names.iter().any(|n| n == t.name()),
            None => t.algo() == algo || conf.targets.iter().any(|n| n == t.name()),
        })
        .collect()
}

/// The `matrix.conf` of `mutants/<algo>/` under `root` (empty if there is none).
pub fn load_conf(root: &Path, algo: &str) -> Result<AlgoConf, String> {
    let p = root.join("mutants").join(algo).join("matrix.conf");
    match std::fs::read_to_string(&p) {
        Ok(t) => parse_conf(&t).map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AlgoConf::default()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}
