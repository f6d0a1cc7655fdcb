//! `/sys/kernel/debug/lru_gen` and `lru_gen_full` (mm/vmscan.c, Linux v6.6): the dumps in
//! the kernel's format and the `+`/`-` write commands with its argument rules.
//!
//! Dump: `memcg <id> <path>`, ` node <nid>`, then per generation
//! ` <seq> <age_ms> <anon_pages> <file_pages>`; the full form starts at the oldest sequence
//! number any type could hold, marks sequence numbers below a type's `min_seq` with `x`,
//! and adds per-tier lines (`RT ` for the youngest generation: the controller's averages;
//! `rep` for the oldest: refaulted, evicted, protected) and a line of page-table walk
//! statistics. The memcg is 0 with an empty path and the node 0 (memcg disabled, one node).
//!
//! Commands, separated by `,`, `;` or newlines: `+ memcg node seq [can_swap [force_scan]]`
//! ages (`seq` must be `max_seq`; an older one is a no-op, a newer one `EINVAL`; without
//! `force_scan` aging refuses, `ERANGE`, when it would fold a generation the eviction has
//! not emptied) and `- memcg node seq [swappiness [nr_to_reclaim]]` evicts up to
//! generation `seq`, which must be older than `max_seq - 1` (`EINVAL`). As in the kernel,
//! an omitted optional number reads as -1: `force_scan` on, `nr_to_reclaim` unlimited.

use super::lruvec::ScanControl;
use super::memcg::MemcgId;
use super::{
    FolioId, Lruvec, Shadow, ANON, FILE, MAX_NR_GENS, MAX_NR_TIERS, MAX_SWAPPINESS, MIN_NR_GENS,
};
use std::fmt::Write as _;

/// A command's error, as the kernel's write returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// `-EINVAL`: malformed, or a sequence number out of range.
    Inval(String),
    /// `-ERANGE`: aging would fold a generation eviction has not emptied.
    Range(String),
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmdError::Inval(s) => write!(f, "EINVAL: {s}"),
            CmdError::Range(s) => write!(f, "ERANGE: {s}"),
        }
    }
}

impl std::error::Error for CmdError {}

/// The `lru_gen` (or, `full`, `lru_gen_full`) dump of `lru`, memcg disabled.
pub fn dump(lru: &Lruvec, full: bool) -> String {
    dump_memcgs(&[(0, lru)], full)
}

/// The path a memcg's dump header shows: empty with memcg disabled (id 0), `/` for the
/// root memcg (1), `/m<id>` for the others.
pub fn memcg_path(id: MemcgId) -> String {
    match id {
        0 => String::new(),
        1 => "/".to_string(),
        n => format!("/m{n}"),
    }
}

/// The dump of several memcgs' lruvecs on node 0, in the order given.
pub fn dump_memcgs(memcgs: &[(MemcgId, &Lruvec)], full: bool) -> String {
    let mut s = String::new();
    for &(id, lru) in memcgs {
        dump_one(&mut s, id, lru, full);
    }
    s
}

fn dump_one(s: &mut String, id: MemcgId, lru: &Lruvec, full: bool) {
    let max_seq = lru.max_seq();
    let min_seq = lru.min_seq();
    let now = lru.now();
    let _ = writeln!(s, "memcg {:5} {}", id, memcg_path(id));
    let _ = writeln!(s, " node {:5}", 0);
    let first = if !full {
        min_seq[ANON]
    } else if max_seq >= MAX_NR_GENS as u64 {
        max_seq - MAX_NR_GENS as u64 + 1
    } else {
        0
    };
    lru.with_lists(|l| {
        for seq in first..=max_seq {
            let gen = super::gen_from_seq(seq);
            let birth = lru.birth(seq);
            let _ = write!(s, " {:10} {:10}", seq, now.saturating_sub(birth));
            for ty in [ANON, FILE] {
                let size: i64 = l.nr_pages[gen][ty].iter().map(|&n| n.max(0)).sum();
                let mark = if full && seq < min_seq[ty] { 'x' } else { ' ' };
                let _ = write!(s, " {:10}{}", size, mark);
            }
            s.push('\n');
            if full {
                for tier in 0..MAX_NR_TIERS {
                    let _ = write!(s, "            {:10}", tier);
                    for ty in [ANON, FILE] {
                        let (marks, n) = if seq == max_seq {
                            ("RT ", [l.avg_refaulted[ty][tier], l.avg_total[ty][tier], 0])
                        } else if seq == min_seq[ty] {
                            let (r, e) = lru.counters(ty, tier);
                            let p = if tier > 0 {
                                l.protected[ty][tier - 1]
                            } else {
                                0
                            };
                            ("rep", [r, e, p])
                        } else {
                            ("   ", [0, 0, 0])
                        };
                        for (i, m) in marks.chars().enumerate() {
                            let _ = write!(s, " {:10}{}", n[i], m);
                        }
                    }
                    s.push('\n');
                }
                s.push_str("                      ");
                let stats = lru.mm_stats();
                for (i, m) in "LOYNFA".chars().enumerate() {
                    let (n, c) = if seq == max_seq {
                        (stats[i], m)
                    } else {
                        (0, ' ')
                    };
                    let _ = write!(s, " {:10}{}", n, c);
                }
                s.push('\n');
            }
        }
    });
}

/// Parses and runs the commands of one write to a memcg-disabled lruvec (memcg 0).
/// Returns the folios eviction reclaimed (the caller frees them) or the first error
/// (commands before it have run, as in the kernel).
pub fn write(
    lru: &Lruvec,
    cmds: &str,
    default_swappiness: u32,
) -> Result<Vec<(FolioId, Shadow)>, CmdError> {
    write_memcgs(&|id| (id == 0).then_some(lru), cmds, default_swappiness)
}

/// [`write`] with the memcg of each command looked up by id (`None`: no such memcg,
/// `EINVAL`).
pub fn write_memcgs<'a>(
    lookup: &dyn Fn(u64) -> Option<&'a Lruvec>,
    cmds: &str,
    default_swappiness: u32,
) -> Result<Vec<(FolioId, Shadow)>, CmdError> {
    let mut out = Vec::new();
    for cur in cmds.split([',', ';', '\n']) {
        let cur = cur.trim();
        if cur.is_empty() {
            continue;
        }
        let mut it = cur.split_whitespace();
        let cmd = it.next().unwrap_or_default();
        let nums: Vec<&str> = it.collect();
        if !(cmd == "+" || cmd == "-") || nums.len() < 3 || nums.len() > 5 {
            return Err(CmdError::Inval(format!(
                "`{cur}`: expected `+|- memcg node seq [a [b]]`"
            )));
        }
        let num = |i: usize| -> Result<u64, CmdError> {
            nums[i]
                .parse::<u64>()
                .map_err(|_| CmdError::Inval(format!("`{cur}`: `{}` is not a number", nums[i])))
        };
        let (memcg, nid, seq) = (num(0)?, num(1)?, num(2)?);
        let swappiness = if nums.len() > 3 { Some(num(3)?) } else { None };
        let opt = if nums.len() > 4 { num(4)? } else { u64::MAX };
        if nid != 0 {
            return Err(CmdError::Inval(format!(
                "`{cur}`: node {nid} has no memory"
            )));
        }
        let Some(lru) = lookup(memcg) else {
            return Err(CmdError::Inval(format!("`{cur}`: no memcg {memcg}")));
        };
        let swappiness = match swappiness {
            None => u64::from(default_swappiness),
            Some(s) if s > u64::from(MAX_SWAPPINESS) => {
                return Err(CmdError::Inval(format!(
                    "`{cur}`: swappiness {s} above {MAX_SWAPPINESS}"
                )))
            }
            Some(s) => s,
        } as u32;
        if cmd == "+" {
            run_aging(lru, seq, swappiness != 0, opt != 0)?;
        } else {
            out.extend(run_eviction(lru, seq, swappiness, opt)?);
        }
    }
    Ok(out)
}

/// `run_aging`.
fn run_aging(lru: &Lruvec, seq: u64, can_swap: bool, force_scan: bool) -> Result<(), CmdError> {
    let max_seq = lru.max_seq();
    let min_seq = lru.min_seq();
    if seq < max_seq {
        return Ok(());
    }
    if seq > max_seq {
        return Err(CmdError::Inval(format!(
            "seq {seq} is newer than max_seq {max_seq}"
        )));
    }
    if !force_scan && min_seq[usize::from(!can_swap)] + MAX_NR_GENS as u64 - 1 <= max_seq {
        return Err(CmdError::Range(format!(
            "aging {max_seq} would fold generation {} before eviction emptied it",
            min_seq[usize::from(!can_swap)]
        )));
    }
    lru.try_to_inc_max_seq(max_seq, can_swap, force_scan);
    Ok(())
}

/// `run_eviction`.
fn run_eviction(
    lru: &Lruvec,
    seq: u64,
    swappiness: u32,
    nr_to_reclaim: u64,
) -> Result<Vec<(FolioId, Shadow)>, CmdError> {
    let max_seq = lru.max_seq();
    if seq + MIN_NR_GENS as u64 > max_seq {
        return Err(CmdError::Inval(format!(
            "generation {seq} is one of the two youngest (max_seq {max_seq})"
        )));
    }
    let mut sc = ScanControl::new(nr_to_reclaim);
    loop {
        let min_seq = lru.min_seq();
        if seq < min_seq[usize::from(swappiness == 0)] {
            break;
        }
        if sc.nr_reclaimed >= nr_to_reclaim {
            break;
        }
        if lru.evict_folios(&mut sc, swappiness) == 0 {
            break;
        }
    }
    Ok(sc.reclaimed)
}

/// `/sys/kernel/mm/lru_gen/enabled`, read: the capabilities as the kernel shows them
/// (`0x%04x`): `LRU_GEN_CORE` 0x1, `LRU_GEN_MM_WALK` 0x2, `LRU_GEN_NONLEAF_YOUNG` 0x4.
pub fn read_enabled(lru: &Lruvec) -> String {
    format!("0x{:04x}\n", lru.caps())
}

/// `enabled`, written: `n`/`N` (off), `y`/`Y` (every capability), or a number in C's
/// notation (`0x` hex, leading `0` octal, else decimal), applied to every lruvec given (the
/// kernel's capabilities are global). Turning `LRU_GEN_CORE` off moves every folio to the
/// classic active/inactive lists, which this model has not: a value without it is refused
/// (`EINVAL`), as is anything unparsable.
pub fn write_enabled(lruvecs: &[&Lruvec], text: &str) -> Result<(), CmdError> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    let caps = match t.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('n') => 0,
        Some('y') => 0x7,
        _ => parse_uint(t).ok_or_else(|| CmdError::Inval(format!("`{t}` is not a number")))?,
    };
    if caps & 1 == 0 {
        return Err(CmdError::Inval(
            "turning LRU_GEN_CORE off (the classic LRU lists) is not modelled".into(),
        ));
    }
    for l in lruvecs {
        l.set_caps(caps & 0x7);
    }
    Ok(())
}

/// `/sys/kernel/mm/lru_gen/min_ttl_ms`, read (`%u`).
pub fn read_min_ttl_ms(lru: &Lruvec) -> String {
    format!("{}\n", lru.min_ttl_ms())
}

/// `min_ttl_ms`, written: a number in C's notation (`kstrtouint` base 0), for every lruvec
/// given; `EINVAL` otherwise.
pub fn write_min_ttl_ms(lruvecs: &[&Lruvec], text: &str) -> Result<(), CmdError> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    let ms = parse_uint(t).ok_or_else(|| CmdError::Inval(format!("`{t}` is not a number")))?;
    for l in lruvecs {
        l.set_min_ttl_ms(ms);
    }
    Ok(())
}

/// `kstrtouint(s, 0)`: an optional `+`, then hex after `0x`, octal after a leading `0`,
/// else decimal; the whole string, within `u32`.
fn parse_uint(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok().map(u64::from)
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;
    use crate::mglru::Sim;

    fn fill(sim: &mut Sim, pages: std::ops::Range<u64>) {
        for p in pages {
            sim.access(p, false);
        }
    }

    #[test]
    fn the_dump_has_the_kernels_shape() {
        let mut sim = Sim::new(64, 60);
        fill(&mut sim, 0..40);
        sim.drain();
        let d = dump(sim.lruvec(), false);
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines[0], "memcg     0 ");
        assert_eq!(lines[1], " node     0");
        // min_seq[anon] 0 ..= max_seq 3: four generation lines.
        assert_eq!(lines.len(), 2 + 4, "{d}");
        let cols: Vec<u64> = lines[2..]
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 4, "seq, age, anon, file: {l}");
                f[3].parse().expect("file pages")
            })
            .collect();
        assert_eq!(
            cols.iter().sum::<u64>(),
            40,
            "every resident file page counted once: {d}"
        );
        let full = dump(sim.lruvec(), true);
        // The youngest generation's tier lines carry the averages (R, T), the oldest's
        // the counts (r, e, p).
        assert!(
            full.contains("0R ") && full.contains("0T ") && full.contains("0r "),
            "{full}"
        );
        assert_eq!(
            full.lines().filter(|l| l.trim_end().ends_with('A')).count(),
            1,
            "one walk-statistics line for max_seq: {full}"
        );
    }

    #[test]
    fn commands_follow_the_kernels_rules() {
        let mut sim = Sim::new(256, 60);
        fill(&mut sim, 0..200);
        let max = sim.lruvec().max_seq();
        assert!(matches!(
            sim.command(&format!("+ 0 0 {}", max + 1)),
            Err(CmdError::Inval(_))
        ));
        assert_eq!(
            sim.command(&format!("+ 0 0 {}", max - 1)),
            Ok(()),
            "an older seq is a no-op"
        );
        assert_eq!(sim.lruvec().max_seq(), max);
        assert!(
            matches!(sim.command("+ 1 0 3"), Err(CmdError::Inval(_))),
            "no memcg 1"
        );
        assert!(
            matches!(sim.command("+ 0 1 3"), Err(CmdError::Inval(_))),
            "no node 1"
        );
        assert!(matches!(sim.command("* 0 0 3"), Err(CmdError::Inval(_))));
        assert!(matches!(sim.command("+ 0 0 x"), Err(CmdError::Inval(_))));
        // Aging without force_scan when a type already has MAX_NR_GENS generations.
        sim.command(&format!("+ 0 0 {max} 1 1"))
            .expect("forced aging");
        let max = sim.lruvec().max_seq();
        let min = sim.lruvec().min_seq();
        if min[ANON] + MAX_NR_GENS as u64 - 1 <= max {
            assert!(matches!(
                sim.command(&format!("+ 0 0 {max} 1 0")),
                Err(CmdError::Range(_))
            ));
        }
        // Eviction may not name the two youngest generations.
        assert!(matches!(
            sim.command(&format!("- 0 0 {}", max - 1)),
            Err(CmdError::Inval(_))
        ));
        let resident = sim.resident();
        sim.command(&format!("- 0 0 {} 60 10", max - 2))
            .expect("evict");
        let gone = resident - sim.resident();
        assert!(gone >= 10, "asked for 10, reclaimed {gone} (in batches)");
        sim.check().expect("invariants after the commands");
        // Several commands in one write.
        let max = sim.lruvec().max_seq();
        sim.command(&format!("+ 0 0 {max}; + 0 0 {}", max + 1))
            .expect("two agings");
        assert_eq!(sim.lruvec().max_seq(), max + 2);
    }

    #[test]
    fn the_sysfs_files_parse_as_the_kernel_does() {
        let sim = Sim::new(8, 60);
        let l = sim.lruvec();
        assert_eq!(read_enabled(l), "0x0007\n");
        write_enabled(&[l], "0x3\n").unwrap();
        assert_eq!(read_enabled(l), "0x0003\n");
        write_enabled(&[l], "Y").unwrap();
        assert_eq!(read_enabled(l), "0x0007\n");
        write_enabled(&[l], "05").unwrap();
        assert_eq!(read_enabled(l), "0x0005\n");
        for bad in ["n", "0x2", "", "7x", "0x", "08", "-1"] {
            assert!(write_enabled(&[l], bad).is_err(), "`{bad}` accepted");
        }
        assert_eq!(
            read_enabled(l),
            "0x0005\n",
            "a refused write changes nothing"
        );
        write_min_ttl_ms(&[l], "1000\n").unwrap();
        assert_eq!(read_min_ttl_ms(l), "1000\n");
        write_min_ttl_ms(&[l], "0x10").unwrap();
        assert_eq!(read_min_ttl_ms(l), "16\n");
        assert!(write_min_ttl_ms(&[l], "4294967296").is_err(), "beyond u32");
        assert!(write_min_ttl_ms(&[l], "ten").is_err());
    }
}
