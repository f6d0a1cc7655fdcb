//! The page-cache simulator (`harness::sim`) and `mmcheck sim`.
//!
//! The miss counts are libCacheSim's (PyPI `libcachesim==0.3.5`, object size 1, cache size in
//! pages, cold misses counted, Belady over the `oracleGeneral` conversion), measured with
//! `shared/tools/lcs_reference.py`; every baseline policy must reproduce them exactly.

use harness::sim::{self, gen, plot, Access, Format, FrameSpec, Trace};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Misses of every baseline policy at one size: lru, fifo, clock, arc, 2q, s3fifo, lirs, opt.
type Row = (usize, [Option<u64>; 8]);

const POLICIES: [&str; 8] = ["lru", "fifo", "clock", "arc", "2q", "s3fifo", "lirs", "opt"];

fn misses(name: &str, frames: usize, t: &Trace) -> u64 {
    let mut p = sim::policy(name, frames, t).expect("policy");
    sim::simulate(p.as_mut(), t)
}

/// Checks every given count of `rows` over `t`; lists every mismatch at once.
fn check_rows(what: &str, t: &Trace, rows: &[Row]) {
    let mut bad = Vec::new();
    for &(frames, want) in rows {
        for (name, want) in POLICIES.iter().zip(want) {
            let Some(want) = want else { continue };
            let got = misses(name, frames, t);
            if got != want {
                bad.push(format!("{name}@{frames}: {got} misses, libCacheSim {want}"));
            }
        }
    }
    assert!(bad.is_empty(), "{what}: {}", bad.join("; "));
}

#[test]
fn belady_anomaly_sequence_matches_libcachesim() {
    let t = Trace::from_pages([11, 12, 13, 14, 11, 12, 15, 11, 12, 13, 14, 15]);
    check_rows(
        "belady sequence",
        &t,
        &[
            // S3FIFO: libCacheSim aborts below 10 frames; this model admits nothing there.
            (
                3,
                [
                    Some(10),
                    Some(9),
                    Some(10),
                    Some(10),
                    Some(12),
                    Some(12),
                    Some(8),
                    Some(7),
                ],
            ),
            (
                4,
                [
                    Some(8),
                    Some(10),
                    Some(8),
                    Some(7),
                    Some(9),
                    Some(12),
                    Some(7),
                    Some(6),
                ],
            ),
        ],
    );
}

#[test]
fn tiny_caches_match_libcachesim() {
    // Four pages in two and three frames: libCacheSim's LIRS demotes a bottom entry that is
    // not LIR there and files a second Q entry for one page; the model must follow.
    let t = Trace::from_pages([
        10, 11, 11, 10, 10, 11, 12, 11, 10, 12, 13, 12, 12, 13, 12, 12, 11, 11, 12, 12, 11, 12, 13,
        11, 13, 13, 13, 10, 13, 12, 13, 12, 13, 13, 10, 13, 10, 11, 11, 11, 10, 12, 13, 11, 10, 10,
        13, 10, 10, 13,
    ]);
    check_rows(
        "four pages",
        &t,
        &[
            // 2Q admits nothing below 4 frames (libCacheSim's Ain has no frame); S3FIFO none
            // below 20.
            (
                2,
                [
                    Some(18),
                    Some(18),
                    Some(20),
                    Some(18),
                    Some(50),
                    Some(50),
                    Some(17),
                    Some(14),
                ],
            ),
            (
                3,
                [
                    Some(12),
                    Some(9),
                    Some(8),
                    Some(12),
                    Some(50),
                    Some(50),
                    Some(11),
                    Some(7),
                ],
            ),
            (
                4,
                [
                    Some(4),
                    Some(4),
                    Some(4),
                    Some(4),
                    Some(4),
                    Some(50),
                    Some(4),
                    Some(4),
                ],
            ),
        ],
    );
}

/// The `lcg_scan` trace: 20,000 ids `10 + trunc(1000 u^3)` from the MMIX LCG, with a one-time
/// scan of 3,000 fresh ids after the 10,000th (23,000 requests, 4,000 distinct).
fn lcg_scan() -> Trace {
    let mut x: u64 = 1;
    let mut ids = Vec::with_capacity(23_000);
    for i in 0..20_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        ids.push((1000.0 * u.powf(3.0)) as u64 + 10);
        if i == 9_999 {
            ids.extend(100_000..103_000);
        }
    }
    Trace::from_pages(ids)
}

#[test]
fn lcg_scan_matches_libcachesim() {
    let t = lcg_scan();
    assert_eq!((t.len(), t.footprint()), (23_000, 4_000));
    check_rows(
        "lcg_scan",
        &t,
        &[
            (
                50,
                [
                    Some(18356),
                    Some(18851),
                    Some(18244),
                    Some(16944),
                    Some(16976),
                    Some(16482),
                    Some(16837),
                    Some(13612),
                ],
            ),
            (
                200,
                [
                    Some(13895),
                    Some(14633),
                    Some(13738),
                    Some(12966),
                    Some(12961),
                    Some(12577),
                    Some(12904),
                    Some(8919),
                ],
            ),
            (
                500,
                [
                    Some(8968),
                    Some(9668),
                    Some(8861),
                    Some(8534),
                    Some(8809),
                    Some(8192),
                    Some(8332),
                    Some(5610),
                ],
            ),
        ],
    );
}

fn shared_trace(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/traces")
        .join(name);
    if p.is_file() {
        Some(p)
    } else {
        println!(
            "SKIP: {} is absent (the shared traces are not on this machine)",
            p.display()
        );
        None
    }
}

#[test]
fn cloudphysics_matches_libcachesim() {
    let Some(path) = shared_trace("cloudPhysicsIO.txt") else {
        return;
    };
    let t = Trace::read(&path, None, None).expect("read");
    assert_eq!((t.len(), t.footprint()), (113_872, 48_974));
    check_rows(
        "cloudPhysicsIO",
        &t,
        &[
            (
                1000,
                [
                    Some(94823),
                    Some(95520),
                    Some(94727),
                    Some(94027),
                    Some(94117),
                    Some(94005),
                    Some(94304),
                    Some(87025),
                ],
            ),
            (
                4000,
                [
                    Some(92816),
                    Some(92910),
                    Some(92747),
                    Some(90159),
                    Some(89423),
                    Some(88861),
                    Some(88790),
                    Some(74311),
                ],
            ),
            (
                16000,
                [
                    Some(75013),
                    Some(72732),
                    Some(74923),
                    Some(67162),
                    Some(72175),
                    Some(64411),
                    Some(63339),
                    Some(55843),
                ],
            ),
        ],
    );
}

#[test]
fn simple_properties_hold_on_generated_traces() {
    // Belady's MIN is optimal, and LRU has the stack property (more frames, no more misses).
    for spec in [
        "zipf:pages=3000,alpha=0.9,len=20000,seed=7",
        "phase:pages=1000,alpha=0.8,len=20000,seed=2",
        "mix:pages=500,alpha=0.7,len=20000,scan=400,every=2000",
        "loop:pages=300,len=5000",
    ] {
        let t = gen::generate(spec).expect("spec");
        let mut last_lru = u64::MAX;
        for frames in [20, 100, 250, 400] {
            let opt = misses("opt", frames, &t);
            for p in POLICIES {
                let m = misses(p, frames, &t);
                assert!(opt <= m, "{spec}@{frames}: opt {opt} > {p} {m}");
                assert!(m <= t.len() as u64);
            }
            let lru = misses("lru", frames, &t);
            assert!(lru <= last_lru, "{spec}: LRU misses grew with frames");
            last_lru = lru;
        }
    }
    // A cyclic scan one page larger than LRU's cache misses every time.
    let t = gen::generate("loop:pages=101,len=5000").expect("spec");
    assert_eq!(misses("lru", 100, &t), 5000);
    assert_eq!(misses("fifo", 100, &t), 5000);
}

/// The multi-gen LRU's shape on the suite's adversarial traces, as the README reports it: a
/// scan over a hot set read through file descriptors (new file folios enter the oldest
/// generation, so the scan leaves the hot set alone), and a loop through page tables that
/// memory almost holds (aging promotes in coarse generations, so part of the loop stays
/// while `lru` and `active-inactive` miss every access). A change to placement, aging or
/// eviction that loses either shows here. (The simulator's `mglru` needs the std backend.)
#[cfg(not(feature = "shuttle"))]
#[test]
fn mglru_resists_scans_read_through_fds_and_loops_through_page_tables() {
    let mix = gen::generate("mix:pages=2000,alpha=0.9,len=100000").expect("mix");
    for frames in [220, 1100, 2200] {
        let m = misses("mglru", frames, &mix);
        for peer in ["lru", "active-inactive"] {
            let p = misses(peer, frames, &mix);
            assert!(
                m < p,
                "scan + hot set @{frames}: mglru {m} misses, {peer} {p}"
            );
        }
    }
    let anon_loop = gen::generate("loop:pages=2000,len=40000,anon=1").expect("loop");
    let n = anon_loop.len() as u64;
    for (frames, at_most) in [(1400, n * 9 / 10), (1800, n / 2)] {
        let m = misses("mglru", frames, &anon_loop);
        assert!(m <= at_most, "anon loop @{frames}: mglru {m} misses of {n}");
        for peer in ["lru", "active-inactive"] {
            assert_eq!(
                misses(peer, frames, &anon_loop),
                n,
                "{peer} misses every access"
            );
        }
    }
    // Read through file descriptors every page of a loop stays in tier 0: a FIFO.
    let fd_loop = gen::generate("loop:pages=2000,len=40000").expect("loop");
    assert_eq!(misses("mglru", 1800, &fd_loop), fd_loop.len() as u64);
}

#[test]
fn registry_knows_the_baselines_and_rejects_bad_requests() {
    let names = sim::policy_names();
    for p in POLICIES {
        assert!(names.contains(&p), "{p} not registered: {names:?}");
    }
    let t = Trace::from_pages([1, 2, 3]);
    for (alias, canonical) in [("Belady", "opt"), ("TWOQ", "2q"), ("LRU", "lru")] {
        assert_eq!(sim::policy(alias, 4, &t).expect("alias").name(), canonical);
    }
    let err = sim::policy("nope", 4, &t).err().expect("unknown policy");
    assert!(
        err.contains("unknown policy `nope`") && err.contains("lru"),
        "{err}"
    );
    assert!(sim::policy("lru", 0, &t).is_err());
    assert!(sim::run(&t, &["lru", "nope"], &[4], 1).is_err());
    assert!(sim::run(&t, &["lru"], &[4, 0], 1).is_err());
}

#[test]
fn run_orders_outcomes_and_agrees_with_simulate() {
    let t = lcg_scan();
    let frames = [500, 50, 200];
    let out = sim::run(&t, &POLICIES, &frames, 2).expect("run");
    assert_eq!(out.len(), frames.len() * POLICIES.len());
    for (k, o) in out.iter().enumerate() {
        let (f, p) = (frames[k / POLICIES.len()], POLICIES[k % POLICIES.len()]);
        assert_eq!((o.frames, o.policy.as_str(), o.accesses), (f, p, 23_000));
        assert_eq!(o.misses, misses(p, f, &t), "{p}@{f}");
    }
    assert_eq!(
        out[0].to_json(),
        format!(
            "{{\"policy\":\"lru\",\"frames\":500,\"accesses\":23000,\"misses\":{}}}",
            out[0].misses
        )
    );
}

#[test]
fn frames_are_pages_or_percentages_of_the_footprint() {
    assert_eq!(
        FrameSpec::parse_list("100, 5%,0.5%").expect("frames"),
        vec![
            FrameSpec::Pages(100),
            FrameSpec::Percent(5.0),
            FrameSpec::Percent(0.5)
        ]
    );
    assert_eq!(FrameSpec::Percent(5.0).resolve(48_974), 2449);
    assert_eq!(FrameSpec::Percent(0.5).resolve(100), 1);
    assert_eq!(FrameSpec::Pages(7).resolve(1), 7);
    for bad in ["0", "abc", "-1%", "0%", "%", "1e3x", ""] {
        assert!(FrameSpec::parse(bad).is_err(), "`{bad}` accepted");
    }
}

fn parse(text: &str, format: Format) -> Result<Trace, String> {
    Trace::parse(text.as_bytes(), format, "t", None)
}

#[test]
fn lis_lines_expand_to_consecutive_pages() {
    let text = "5 3 0 0\n# a comment\n\n100 2 0 1\n7 0 0 2\n";
    let t = parse(text, Format::Lis).expect("lis");
    assert_eq!(t.pages(), &[5, 6, 7, 100, 101]);
    assert!(t.iter().all(|a| !a.anon && !a.write));
    let t = Trace::parse(text.as_bytes(), Format::Lis, "t", Some(4)).expect("lis");
    assert_eq!(
        t.pages(),
        &[5, 6, 7, 100],
        "the limit cuts a line's expansion"
    );
    assert_eq!(Format::from_path(Path::new("x/OLTP.lis")), Format::Lis);
    assert_eq!(Format::from_path(Path::new("OLTP.lis.zst")), Format::Lis);
    assert_eq!(Format::from_path(Path::new("trace.txt.zst")), Format::Plain);
    assert_eq!("lis".parse::<Format>(), Ok(Format::Lis));
    assert!("csv".parse::<Format>().is_err());
}

#[test]
fn plain_lines_take_type_columns_in_any_order() {
    let text = "1\n2 anon\n3 w\n  4 w anon\n5 file r\n  # note\n\n6\r\n";
    let t = parse(text, Format::Plain).expect("plain");
    let got: Vec<(u64, bool, bool)> = t.iter().map(|a| (a.page, a.anon, a.write)).collect();
    assert_eq!(
        got,
        [
            (1, false, false),
            (2, true, false),
            (3, false, true),
            (4, true, true),
            (5, false, false),
            (6, false, false)
        ]
    );
    assert_eq!(t.type_counts(), (2, 2));
    // Plain text written out reads back identically.
    let g = gen::generate("zipf:pages=300,len=2000,anon=0.4,write=0.3,seed=4").expect("spec");
    let mut out = Vec::new();
    g.write_plain(&mut out).expect("write");
    assert_eq!(
        Trace::parse(&out[..], Format::Plain, "w", None).expect("reparse"),
        g
    );
}

#[test]
fn malformed_lines_are_errors_naming_file_and_line() {
    let cases: &[(&str, Format, &str)] = &[
        ("1\n2\nx3\n", Format::Plain, "t:3: bad page number `x3`"),
        ("1\n\n# c\n-4\n", Format::Plain, "t:4: bad page number `-4`"),
        (
            "1 anon file\n",
            Format::Plain,
            "t:1: repeated column `file`",
        ),
        ("1\n2 rw\n", Format::Plain, "t:2: unknown column `rw`"),
        ("1 2 0 0\n1 2 3\n", Format::Lis, "t:2: expected 4 columns"),
        ("1 2 0 0\n1 x 0 0\n", Format::Lis, "t:2: bad number `x`"),
        (
            "18446744073709551615 2 0 0\n",
            Format::Lis,
            "t:1: block range",
        ),
    ];
    for (text, format, want) in cases {
        let err = parse(text, *format).expect_err(text);
        assert!(
            err.starts_with(want),
            "{text:?}: `{err}` should start with `{want}`"
        );
    }
    let err = Trace::read(Path::new("/nonexistent/trace.txt"), None, None).expect_err("missing");
    assert!(err.contains("/nonexistent/trace.txt"), "{err}");
}

/// `5 3 0 0\n100 2 0 1\n` (lis), compressed by the zstd CLI.
const TINY_LIS_ZST: &[u8] = &[
    0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x12, 0x91, 0x00, 0x00, 0x35, 0x20, 0x33, 0x20, 0x30, 0x20, 0x30,
    0x0a, 0x31, 0x30, 0x30, 0x20, 0x32, 0x20, 0x30, 0x20, 0x31, 0x0a, 0x45, 0x27, 0xd5, 0x9b,
];

/// Two zstd frames, `7 anon w\n8\n` and `# c\n9 r file\n`, concatenated.
const TWO_FRAMES_ZST: &[u8] = &[
    0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0b, 0x59, 0x00, 0x00, 0x37, 0x20, 0x61, 0x6e, 0x6f, 0x6e, 0x20,
    0x77, 0x0a, 0x38, 0x0a, 0xbf, 0xe8, 0xa9, 0x9f, 0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0d, 0x69, 0x00,
    0x00, 0x23, 0x20, 0x63, 0x0a, 0x39, 0x20, 0x72, 0x20, 0x66, 0x69, 0x6c, 0x65, 0x0a, 0xe7, 0x04,
    0x54, 0x78,
];

/// `10 + i % 50` for `i` in `0..1000`, one per line, compressed (`zstd -19`: entropy-coded
/// blocks, not raw ones).
const REPEAT_ZST: &[u8] = &[
    0x28, 0xb5, 0x2f, 0xfd, 0x64, 0xb8, 0x0a, 0x85, 0x02, 0x00, 0x62, 0x49, 0x11, 0x09, 0xb0, 0xeb,
    0x24, 0x49, 0x88, 0x70, 0x52, 0x98, 0x75, 0xdf, 0x6c, 0x73, 0xcd, 0x34, 0xcf, 0x2c, 0x73, 0xcc,
    0x9d, 0x39, 0xc3, 0x7c, 0xb2, 0xc9, 0x25, 0x93, 0x3c, 0xb2, 0xc8, 0x21, 0x57, 0xa6, 0x0c, 0xf2,
    0xc5, 0x16, 0x57, 0x4c, 0xf1, 0xc4, 0x12, 0x47, 0xdc, 0x98, 0x31, 0xc4, 0xd7, 0xad, 0x57, 0xa7,
    0x3e, 0x5d, 0x7a, 0xf4, 0x76, 0x76, 0xe8, 0xc7, 0x8d, 0x17, 0x27, 0x3e, 0x5c, 0x78, 0xf0, 0x72,
    0x72, 0x60, 0x01, 0x00, 0x96, 0x8f, 0x65, 0x7c, 0x23, 0x05, 0xf0, 0x69, 0xea, 0xb2,
];

/// A fresh scratch directory for one test.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mmcheck-sim-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn zstd_traces_decompress() {
    let d = scratch("zstd");
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let t = Trace::read(&write("tiny.lis.zst", TINY_LIS_ZST), None, None).expect("lis.zst");
    assert_eq!(t.pages(), &[5, 6, 7, 100, 101]);
    let t = Trace::read(&write("two.txt.zst", TWO_FRAMES_ZST), None, None).expect("frames");
    let got: Vec<Access> = t.iter().collect();
    assert_eq!(
        got,
        [
            Access {
                page: 7,
                anon: true,
                write: true
            },
            Access::read(8),
            Access::read(9)
        ]
    );
    let t = Trace::read(&write("rep.zst", REPEAT_ZST), None, None).expect("compressed");
    assert_eq!(t.len(), 1000);
    assert!(t
        .pages()
        .iter()
        .enumerate()
        .all(|(i, &p)| p == 10 + i as u64 % 50));
    // An explicit format overrides the name.
    let t = Trace::read(&write("tiny.zst", TINY_LIS_ZST), Some(Format::Lis), None).expect("lis");
    assert_eq!(t.len(), 5);
    let err = Trace::read(&write("tiny2.zst", TINY_LIS_ZST), None, None).expect_err("plain");
    assert!(err.contains("tiny2.zst:1:"), "{err}");
    let err = Trace::read(&write("bad.txt.zst", b"1\n2\n"), None, None).expect_err("not zstd");
    assert!(err.contains("bad.txt.zst"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn shared_arc_trace_reads_through_zstd() {
    let Some(path) = shared_trace("P3.lis.zst") else {
        return;
    };
    // The file opens `230027 8 0 0` and `1842745 64 0 1`.
    let t = Trace::read(&path, None, Some(100)).expect("P3");
    assert_eq!(t.len(), 100);
    let want: Vec<u64> = (230_027..230_035)
        .chain(1_842_745..1_842_745 + 64)
        .collect();
    assert_eq!(&t.pages()[..72], &want[..]);
}

#[test]
fn generators_are_deterministic_and_shaped() {
    let spec = "zipf:pages=1000,alpha=1.0,len=50000,seed=9";
    let a = gen::generate(spec).expect("zipf");
    assert_eq!(
        a,
        gen::generate(spec).expect("zipf"),
        "same spec, same trace"
    );
    assert_ne!(
        a,
        gen::generate("zipf:pages=1000,len=50000,seed=10").expect("zipf")
    );
    assert_eq!(a.len(), 50_000);
    let mut count = vec![0usize; 1000];
    for &p in a.pages() {
        count[p as usize] += 1;
    }
    // Zipf(1) over 1000 pages: page 0 takes 1/H(1000) ≈ 13.4% of the accesses, page k about
    // 1/(k+1) of that.
    assert!((6_000..7_400).contains(&count[0]), "{}", count[0]);
    assert!(
        count[0] > count[9] * 5 && count[9] > count[99] * 5,
        "{count:?}"
    );
    assert_eq!(a.type_counts(), (0, 0), "file reads by default");

    let t = gen::generate("loop:pages=7,len=20").expect("loop");
    assert!(t
        .pages()
        .iter()
        .enumerate()
        .all(|(i, &p)| p == i as u64 % 7));
    let t = gen::generate("scan:len=5,start=1e3").expect("scan");
    assert_eq!(t.pages(), &[1000, 1001, 1002, 1003, 1004]);

    let t = gen::generate("phase:pages=100,alpha=0.5,len=1001,shift=1000").expect("phase");
    let (first, second) = t.pages().split_at(500);
    assert!(first.iter().all(|&p| p < 100));
    assert!(second.iter().all(|&p| (1000..1100).contains(&p)));

    let t = gen::generate("mix:pages=50,len=1000,scan=30,every=100").expect("mix");
    for (i, &p) in t.pages().iter().enumerate() {
        let in_scan = i % 130 >= 100;
        assert_eq!(p >= gen::SCAN_BASE, in_scan, "access {i}: page {p}");
        if in_scan {
            assert_eq!(p, gen::SCAN_BASE + (i / 130 * 30 + i % 130 - 100) as u64);
        } else {
            assert!(p < 50);
        }
    }

    // Types: anon is a property of the page, writes a fraction of the accesses.
    let t =
        gen::generate("zipf:pages=2000,alpha=0.5,len=40000,anon=0.3,write=0.25").expect("types");
    let mut anon_of = std::collections::HashMap::new();
    for a in t.iter() {
        assert_eq!(
            *anon_of.entry(a.page).or_insert(a.anon),
            a.anon,
            "page {}",
            a.page
        );
    }
    let anon_pages = anon_of.values().filter(|&&x| x).count() as f64 / anon_of.len() as f64;
    assert!((0.25..0.35).contains(&anon_pages), "{anon_pages}");
    let writes = t.type_counts().1 as f64 / t.len() as f64;
    assert!((0.23..0.27).contains(&writes), "{writes}");

    for bad in [
        "zipf:pages=10",
        "zipf:pages=0,len=5",
        "zipf:pages=10,len=5,alpha=-1",
        "zipf:pages=10,len=5,colour=red",
        "zipf:pages=10,len=5,seed=x",
        "zipf:pages=10,len=5,anon=2",
        "zipf:pages=10,len=5,len=6",
        "loop:pages=10,len=5,alpha=1",
        "wave:len=5",
        "scan:len",
    ] {
        assert!(gen::generate(bad).is_err(), "`{bad}` accepted");
    }
}

#[test]
fn plot_draws_one_polyline_per_policy() {
    let t = gen::generate("zipf:pages=500,alpha=0.8,len=5000").expect("spec");
    let out = sim::run(&t, &["lru", "fifo", "opt"], &[10, 50, 100, 400], 1).expect("run");
    let svg = plot::svg(&out, "a <title> & more");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 3);
    for p in ["lru", "fifo", "opt"] {
        assert!(svg.contains(&format!("<title>{p}</title>")), "{p}");
    }
    assert!(svg.contains("a &lt;title&gt; &amp; more"));
    assert!(svg.contains("log scale"), "10..400 frames span 40x");
}

// ---- the `mmcheck sim` command ----

const BIN: &str = env!("CARGO_BIN_EXE_mmcheck");

fn mmcheck(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run mmcheck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_one_line_error(o: &Output, want: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("mmcheck: error: "), "{err}");
    assert!(err.contains(want), "`{err}` lacks `{want}`");
    assert!(!err.contains("panicked"), "{err}");
}

const SPEC: &str = "zipf:pages=400,alpha=0.9,len=6000,seed=3";

#[test]
fn cli_prints_a_table_per_frames_value() {
    let o = mmcheck(&["sim", "--gen", SPEC, "--frames", "40", "--frames", "100"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    let t = gen::generate(SPEC).expect("spec");
    assert!(out.starts_with(&format!(
        "trace {SPEC}: 6000 accesses, {} distinct pages",
        t.footprint()
    )));
    for f in [40usize, 100] {
        let section = out
            .split("\n\n")
            .find(|s| s.starts_with(&format!("frames {f} ")))
            .unwrap_or_else(|| panic!("no table for {f}:\n{out}"));
        let rows: Vec<Vec<&str>> = section
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows.len(), sim::policy_names().len(), "{section}");
        for (row, name) in rows.iter().zip(sim::policy_names()) {
            let m = misses(name, f, &t);
            assert_eq!(
                row[..4],
                [name, &f.to_string(), "6000", &m.to_string()],
                "{section}"
            );
            assert_eq!(row[4], format!("{:.4}", m as f64 / 6000.0));
        }
    }
}

/// The fields of one `--json` line, `{"policy":"lru","frames":1,...}`.
fn json_fields(line: &str) -> Vec<(String, String)> {
    let inner = line
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not an object: {line}"));
    inner
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once(':').expect("key:value");
            let k = k
                .strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .expect("key");
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect()
}

#[test]
fn cli_json_lines_parse() {
    let o = mmcheck(&[
        "sim", "--gen", SPEC, "--frames", "5%,20%", "--policy", "lru,opt", "--policy", "arc",
        "--json",
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    let t = gen::generate(SPEC).expect("spec");
    let fp = t.footprint();
    let sizes = [
        FrameSpec::Percent(5.0).resolve(fp),
        FrameSpec::Percent(20.0).resolve(fp),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    for (k, line) in lines.iter().enumerate() {
        let (f, p) = (sizes[k / 3], ["lru", "opt", "arc"][k % 3]);
        let want = [
            ("policy", p.to_string()),
            ("frames", f.to_string()),
            ("accesses", "6000".to_string()),
            ("misses", misses(p, f, &t).to_string()),
        ];
        let got = json_fields(line);
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_string(), v)).to_vec(),
            "{line}"
        );
    }
}

#[test]
fn cli_reads_trace_files_and_writes_them() {
    let d = scratch("cli-files");
    let plain = d.join("t.txt");
    // --write-trace alone writes the generated trace and simulates nothing.
    let o = mmcheck(&[
        "sim",
        "--gen",
        SPEC,
        "--write-trace",
        plain.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    let back = Trace::read(&plain, None, None).expect("written trace");
    assert_eq!(back, gen::generate(SPEC).expect("spec"));

    let lis = d.join("t.lis");
    std::fs::write(&lis, "1 4 0 0\n3 4 0 1\n").expect("write");
    let o = mmcheck(&[
        "sim",
        "--trace",
        lis.to_str().expect("utf8"),
        "--frames",
        "3",
        "--policy",
        "fifo",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // 1 2 3 4 3 4 5 6 with FIFO(3): misses 1 2 3 4 (evicts 1), 3 hits, 4 hits, 5 6 miss.
    assert_eq!(
        text(&o.stdout).trim(),
        r#"{"policy":"fifo","frames":3,"accesses":8,"misses":6}"#
    );
    // --format plain reads the same file as two-column plain lines: an error at line 1.
    let o = mmcheck(&[
        "sim",
        "--trace",
        lis.to_str().expect("utf8"),
        "--frames",
        "3",
        "--format",
        "plain",
    ]);
    assert_one_line_error(&o, "t.lis:1: unknown column `4`");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cli_bad_input_is_a_one_line_error_with_exit_code_2() {
    let d = scratch("cli-bad");
    let bad = d.join("bad.txt");
    std::fs::write(&bad, "1\n2\n3 anon\nfour\n").expect("write");
    let bad = bad.to_str().expect("utf8");
    let missing = d.join("missing.txt");
    let missing = missing.to_str().expect("utf8");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "sim", "--gen", SPEC, "--frames", "10", "--policy", "lru,nope",
            ],
            "unknown policy `nope`",
        ),
        (
            &["sim", "--trace", bad, "--frames", "10"],
            "bad.txt:4: bad page number `four`",
        ),
        (
            &["sim", "--trace", missing, "--frames", "10"],
            "missing.txt",
        ),
        (&["sim", "--gen", SPEC, "--frames", "0"], "bad frames `0`"),
        (
            &["sim", "--gen", SPEC, "--frames", "10,ten"],
            "bad frames `ten`",
        ),
        (&["sim", "--gen", SPEC, "--frames", "-5%"], "bad frames"),
        (
            &["sim", "--gen", "zipf:pages=10", "--frames", "10"],
            "missing `len=`",
        ),
        (
            &["sim", "--gen", "wave:len=3", "--frames", "10"],
            "unknown generator `wave`",
        ),
        (
            &["sim", "--gen", SPEC, "--trace", bad, "--frames", "10"],
            "cannot be used with",
        ),
        (&["sim", "--frames", "10"], "--gen"),
        (&["sim", "--gen", SPEC], "--frames"),
        (
            &["sim", "--trace", bad, "--frames", "10", "--format", "csv"],
            "unknown trace format",
        ),
        (
            &["sim", "--gen", SPEC, "--frames", "10", "--format", "lis"],
            "--format",
        ),
    ];
    for (args, want) in cases {
        assert_one_line_error(&mmcheck(args), want);
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cli_plot_writes_an_svg_with_one_polyline_per_policy() {
    let d = scratch("cli-plot");
    let svg = d.join("mrc.svg");
    let o = mmcheck(&[
        "sim",
        "--gen",
        SPEC,
        "--frames",
        "1%,5%,10%,50%",
        "--policy",
        "lru,clock,s3fifo,opt",
        "--plot",
        svg.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = std::fs::read_to_string(&svg).expect("svg written");
    assert!(
        s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
        "{s}"
    );
    assert_eq!(s.matches("<polyline").count(), 4, "{s}");
    for p in ["lru", "clock", "s3fifo", "opt"] {
        assert!(s.contains(&format!("<title>{p}</title>")), "{p}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
