//! `Sandbox::window`: typed accesses through a window must mean exactly what the same
//! accesses through the sandbox's address API mean (shadow, data, origin presence and
//! depth), and the window must refuse what the sandbox refuses.

use shadow::{collect, BugKind, Created, Origin, Sandbox, SandboxError, Tainted};

/// A tiny deterministic generator, so the differential test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LEN: usize = 96;

/// One random typed access at `at`, through the sandbox (`via_window == false`) or a window
/// over the block. Returns what a load saw: (value, shadow, origin depth or none).
struct Access {
    /// 0: store, else load.
    op: u64,
    /// log2 of the width in bytes.
    width: u64,
    at: usize,
    value: u64,
    shadow: u64,
    origin: Origin,
}

fn access(
    sb: &mut Sandbox,
    p: usize,
    via_window: bool,
    a: &Access,
) -> Option<(u64, u64, Option<u8>)> {
    let Access {
        op,
        width,
        at,
        value,
        shadow,
        origin,
    } = *a;
    macro_rules! go {
        ($t:ty) => {{
            let v = Tainted::<$t> {
                value: value as $t,
                shadow: shadow as $t,
                origin: (shadow as $t != 0).then_some(origin),
            };
            if op == 0 {
                if via_window {
                    let mut w = sb.window(p, LEN).expect("block in bounds");
                    w.store(at, v).expect("in window");
                } else {
                    sb.store(p + at, v).expect("in bounds");
                }
                None
            } else {
                let t: Tainted<$t> = if via_window {
                    let w = sb.window(p, LEN).expect("block in bounds");
                    w.load(at).expect("in window")
                } else {
                    sb.load(p + at).expect("in bounds")
                };
                Some((t.value as u64, t.shadow as u64, t.origin.map(Origin::depth)))
            }
        }};
    }
    match width {
        0 => go!(u8),
        1 => go!(u16),
        2 => go!(u32),
        _ => go!(u64),
    }
}

#[test]
fn window_accesses_match_address_accesses() {
    let origin = Origin::new(Created::Poison);
    let seeds: u64 = if cfg!(miri) { 1 } else { 200 };
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        // Odd bases put origin slots across value boundaries.
        let base = 0x1000 + rng.below(4) as usize;
        let mut a = Sandbox::with_base(base, LEN + 16);
        let pa = a.alloc(LEN, rng.below(2) == 0).expect("fits");
        let mut b = a.clone();
        let pb = pa;
        for step in 0..64 {
            let kind = rng.below(8);
            if kind == 0 {
                let at = rng.below(LEN as u64) as usize;
                let n = rng.below((LEN - at) as u64 + 1) as usize;
                a.poison(pa + at, n).expect("in bounds");
                b.poison(pb + at, n).expect("in bounds");
                continue;
            }
            if kind == 1 {
                let at = rng.below(LEN as u64) as usize;
                let n = rng.below((LEN - at) as u64 + 1) as usize;
                a.unpoison(pa + at, n).expect("in bounds");
                b.unpoison(pb + at, n).expect("in bounds");
                continue;
            }
            let width = rng.below(4);
            let bytes = 1usize << width;
            let at = rng.below((LEN - bytes) as u64 + 1) as usize;
            let op = rng.below(2);
            let value = rng.next();
            let shadow = match rng.below(4) {
                0 => rng.next(),
                1 => u64::MAX,
                _ => 0,
            };
            let acc = Access {
                op,
                width,
                at,
                value,
                shadow,
                origin,
            };
            let ra = access(&mut a, pa, false, &acc);
            let rb = access(&mut b, pb, true, &acc);
            assert_eq!(ra, rb, "seed {seed} step {step}: load results differ");
            for i in 0..LEN {
                let (x, y) = (pa + i, pb + i);
                assert_eq!(
                    a.byte_at(x),
                    b.byte_at(y),
                    "seed {seed} step {step} byte {i}"
                );
                assert_eq!(
                    a.shadow_at(x),
                    b.shadow_at(y),
                    "seed {seed} step {step} shadow {i}"
                );
                let (oa, ob) = (a.origin_at(x).unwrap(), b.origin_at(y).unwrap());
                assert_eq!(
                    oa.map(Origin::depth),
                    ob.map(Origin::depth),
                    "seed {seed} step {step} origin {i}"
                );
            }
        }
    }
}

#[test]
fn window_store_chains_the_callers_line() {
    let mut sb = Sandbox::new(64);
    let p = sb.alloc(16, true).expect("fits");
    let o = Origin::new(Created::Poison);
    let mut w = sb.window(p, 16).expect("in bounds");
    let v = Tainted {
        value: 1u32,
        shadow: 0xff00,
        origin: Some(o),
    };
    let line = line!() + 1;
    w.store(4, v).expect("in window");
    let t: Tainted<u32> = w.load(4).expect("in window");
    assert_eq!(t.shadow, 0xff00);
    let got = t.origin.expect("poisoned load has an origin");
    assert_eq!(got.depth(), o.depth() + 1);
    assert_eq!(got.stores()[0].location.line(), line);
    // An initialized store over the poisoned bytes makes them clean again, origin and all.
    w.store(4, Tainted::init(7u32)).expect("in window");
    let t: Tainted<u32> = w.load(4).expect("in window");
    assert_eq!((t.value, t.shadow, t.origin), (7, 0, None));
    let _ = w;
    assert_eq!(sb.origin_at(p + 4).unwrap(), None);
}

#[test]
fn window_bounds_are_enforced() {
    let mut sb = Sandbox::new(64);
    let p = sb.alloc(16, true).expect("fits");
    assert!(matches!(
        sb.window(p, 100),
        Err(SandboxError::OutOfBounds { len: 100, .. })
    ));
    assert!(matches!(
        sb.window(sb.base() - 1, 4),
        Err(SandboxError::OutOfBounds { .. })
    ));
    let mut w = sb.window(p, 16).expect("in bounds");
    assert_eq!(w.len(), 16);
    assert_eq!(w.addr(), p);
    assert_eq!(
        w.store(12, Tainted::init(0u64)),
        Err(SandboxError::OutOfBounds {
            addr: p + 12,
            len: 8
        })
    );
    assert_eq!(
        w.load::<u8>(usize::MAX).map(|t| t.value),
        Err(SandboxError::OutOfBounds {
            addr: p.wrapping_add(usize::MAX),
            len: 1
        })
    );
    // The refused store wrote nothing.
    assert_eq!(w.load::<u32>(12).expect("in window").value, 0);
}

#[test]
fn window_over_freed_block_is_a_use_after_free() {
    let mut sb = Sandbox::new(64);
    let p = sb.alloc(16, false).expect("fits");
    sb.free(p).expect("live block");
    let (r, reports) = collect(|| sb.window(p, 8).map(|w| w.len()));
    assert_eq!(r, Ok(8));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, BugKind::UseAfterFree);
    assert_eq!(reports[0].addr, Some(p));
}
