//! Target `shadow_ops`: the sanitizer itself, differential against a plain byte-array model.
//!
//! Random sequences of allocations (zeroed or not), frees, poisons, unpoisons, stores of
//! partially initialized values, loads stored elsewhere (which extend origin chains),
//! memcpy/memmove (overlapping too), memset and checks run on a [`Sandbox`] and on a model
//! that keeps, per byte, its shadow and, per 4-aligned slot, an origin *token*. The model
//! re-derives KMSAN's rules independently: which slots get or lose an origin, when a copy
//! chains a new link (once per distinct source origin, never past depth 7), how a check
//! splits runs, which accesses are use-after-free. After every step the shadow must agree
//! byte for byte and origins must agree slot for slot up to renaming (a bijection between
//! model tokens and real origins, kept across steps), including each origin's chain depth
//! and use-after-free bit; every reported run must match the model's prediction.

use crate::target::Target;
use arbitrary::Arbitrary;
use shadow::{BugKind, Origin, Sandbox, Tainted};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

const CAP: usize = 512;
/// Not 4-aligned on purpose: every block straddles origin slots, so slot arithmetic that
/// ignores the base's misalignment is caught.
const BASE: usize = 0x1002;

/// Access widths of stores and loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum Width {
    /// 1 byte.
    W1,
    /// 2 bytes.
    W2,
    /// 4 bytes.
    W4,
    /// 8 bytes.
    W8,
}

impl Width {
    fn bytes(self) -> usize {
        match self {
            Width::W1 => 1,
            Width::W2 => 2,
            Width::W4 => 4,
            Width::W8 => 8,
        }
    }
}

/// One operation on the sanitizer. Blocks are named by index modulo the number allocated;
/// offsets and lengths are clamped into the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum ShadowOp {
    /// Allocate `len` bytes.
    Alloc {
        /// Length.
        len: u8,
        /// Zero-filled (initialized) or poisoned.
        zeroed: bool,
    },
    /// Free a block.
    Free {
        /// Block.
        block: u8,
    },
    /// Poison a range.
    Poison {
        /// Block.
        block: u8,
        /// Offset.
        off: u8,
        /// Length.
        len: u8,
    },
    /// Unpoison a range.
    Unpoison {
        /// Block.
        block: u8,
        /// Offset.
        off: u8,
        /// Length.
        len: u8,
    },
    /// Store a value whose `shadow` bits are uninitialized (a fresh origin if any).
    Store {
        /// Block.
        block: u8,
        /// Offset.
        off: u8,
        /// Width.
        width: Width,
        /// Shadow bits of the value.
        shadow: u64,
    },
    /// Load a value and store it elsewhere (extends origin chains).
    LoadStore {
        /// Source block.
        src: u8,
        /// Source offset.
        src_off: u8,
        /// Destination block.
        dst: u8,
        /// Destination offset.
        dst_off: u8,
        /// Width.
        width: Width,
    },
    /// memmove between (or within) blocks.
    Copy {
        /// Source block.
        src: u8,
        /// Source offset.
        src_off: u8,
        /// Destination block.
        dst: u8,
        /// Destination offset.
        dst_off: u8,
        /// Length.
        len: u8,
    },
    /// memset.
    Memset {
        /// Block.
        block: u8,
        /// Offset.
        off: u8,
        /// Length.
        len: u8,
    },
    /// kmsan_check_memory.
    Check {
        /// Block.
        block: u8,
        /// Offset.
        off: u8,
        /// Length.
        len: u8,
    },
}

/// A report as compared: kind, first and last poisoned byte, access size.
pub type Rep = (bool, usize, usize, usize);

/// What an operation returns: the reports it caused (`bool` = use-after-free), and for
/// loads the loaded shadow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShadowRet {
    /// Reports filed.
    pub reports: Vec<Rep>,
    /// The loaded value's shadow (LoadStore).
    pub loaded: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Tok {
    depth: u8,
    uaf: bool,
}

/// The model: shadow per byte, token per slot, blocks, and token properties.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ShadowModel {
    shadow: Vec<u8>,
    slots: Vec<u32>,
    blocks: Vec<(usize, usize, bool)>,
    top: usize,
    toks: BTreeMap<u32, Tok>,
    next: u32,
}

/// The structure under test: the sandbox and the token-to-origin bijection built so far.
#[derive(Debug)]
pub struct ShadowSut {
    mem: Mutex<Sandbox>,
    /// The blocks allocated so far, as `(offset, len, freed)`.
    blocks: Mutex<Vec<(usize, usize, bool)>>,
    map: Mutex<(HashMap<u32, Origin>, HashMap<Origin, u32>)>,
}

/// The target.
#[derive(Debug, Clone)]
pub struct ShadowOpsTarget;

fn slot(off: usize) -> usize {
    (BASE + off) / 4 - BASE / 4
}

fn slot_range(s: usize) -> std::ops::Range<usize> {
    let start_addr = (BASE / 4 + s) * 4;
    start_addr.saturating_sub(BASE)..(start_addr + 4 - BASE).min(CAP)
}

impl ShadowModel {
    fn new() -> Self {
        ShadowModel {
            shadow: vec![0; CAP],
            slots: vec![0; slot(CAP - 1) + 1],
            next: 1,
            ..Default::default()
        }
    }

    fn fresh(&mut self, depth: u8, uaf: bool) -> u32 {
        let t = self.next;
        self.next += 1;
        self.toks.insert(t, Tok { depth, uaf });
        t
    }

    fn chain(&mut self, t: u32) -> u32 {
        if t == 0 {
            return 0;
        }
        let Tok { depth, uaf } = self.toks[&t].clone();
        if depth >= shadow::MAX_ORIGIN_DEPTH {
            return t;
        }
        self.fresh(depth + 1, uaf)
    }

    fn clean(&self, s: usize) -> bool {
        self.shadow[slot_range(s)].iter().all(|&b| b == 0)
    }

    fn set(&mut self, off: usize, len: usize, b: u8, tok: u32) {
        if len == 0 {
            return;
        }
        self.shadow[off..off + len].fill(b);
        for s in slot(off)..=slot(off + len - 1) {
            if tok != 0 || self.clean(s) {
                self.slots[s] = tok;
            }
        }
    }

    fn block(&self, b: u8) -> Option<(usize, usize, bool)> {
        (!self.blocks.is_empty()).then(|| self.blocks[usize::from(b) % self.blocks.len()])
    }

    /// The report of an access of `len` bytes to freed memory.
    fn uaf_rep(len: usize) -> Rep {
        (true, 0, len.saturating_sub(1), len)
    }
}

fn clamp(block: (usize, usize, bool), off: u8, len: usize) -> (usize, usize) {
    let (start, blen, _) = block;
    if blen == 0 {
        return (start, 0);
    }
    let off = usize::from(off) % blen;
    (start + off, len.min(blen - off))
}

fn clamp_w(block: (usize, usize, bool), off: u8, w: usize) -> Option<usize> {
    let (start, blen, _) = block;
    (blen >= w).then(|| start + usize::from(off) % (blen - w + 1))
}

impl Target for ShadowOpsTarget {
    type Op = ShadowOp;
    type Ret = ShadowRet;
    type Model = ShadowModel;
    type Sut = ShadowSut;

    fn name(&self) -> &'static str {
        "shadow_ops"
    }

    fn new_sut(&self) -> ShadowSut {
        ShadowSut {
            mem: Mutex::new(Sandbox::with_base(BASE, CAP)),
            blocks: Mutex::new(Vec::new()),
            map: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    fn new_model(&self) -> ShadowModel {
        ShadowModel::new()
    }

    fn apply(&self, sut: &ShadowSut, op: &ShadowOp) -> ShadowRet {
        let mut mem = sut.mem.lock().unwrap_or_else(|e| e.into_inner());
        let mut blocks = sut.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let mut loaded = None;
        let ((), reports) = shadow::collect(|| {
            let known = blocks.clone();
            let blk = |b: u8| -> Option<(usize, usize, bool)> {
                (!known.is_empty()).then(|| known[usize::from(b) % known.len()])
            };
            match *op {
                ShadowOp::Alloc { len, zeroed } => {
                    if let Ok(a) = mem.alloc(usize::from(len), zeroed) {
                        blocks.push((a - BASE, usize::from(len), false));
                    }
                }
                ShadowOp::Free { block } => {
                    if let Some((s, _, _)) = blk(block) {
                        mem.free(BASE + s).expect("block start");
                        let i = usize::from(block) % blocks.len();
                        blocks[i].2 = true;
                    }
                }
                ShadowOp::Poison { block, off, len } => {
                    if let Some(b) = blk(block) {
                        let (o, l) = clamp(b, off, usize::from(len));
                        mem.poison(BASE + o, l).expect("in bounds");
                    }
                }
                ShadowOp::Unpoison { block, off, len } => {
                    if let Some(b) = blk(block) {
                        let (o, l) = clamp(b, off, usize::from(len));
                        mem.unpoison(BASE + o, l).expect("in bounds");
                    }
                }
                ShadowOp::Store {
                    block,
                    off,
                    width,
                    shadow,
                } => {
                    let w = width.bytes();
                    if let Some(a) = blk(block).and_then(|b| clamp_w(b, off, w)) {
                        let sh = if w == 8 {
                            shadow
                        } else {
                            shadow & ((1u64 << (8 * w)) - 1)
                        };
                        let v = Tainted::uninit(0x5a5a_5a5a_5a5a_5a5au64, sh);
                        store_w(&mut mem, BASE + a, w, v);
                    }
                }
                ShadowOp::LoadStore {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    width,
                } => {
                    let w = width.bytes();
                    let s = blk(src).and_then(|b| clamp_w(b, src_off, w));
                    let d = blk(dst).and_then(|b| clamp_w(b, dst_off, w));
                    if let (Some(s), Some(d)) = (s, d) {
                        let v = load_w(&mem, BASE + s, w);
                        loaded = Some(v.shadow);
                        store_w(&mut mem, BASE + d, w, v);
                    }
                }
                ShadowOp::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    len,
                } => {
                    if let (Some(sb), Some(db)) = (blk(src), blk(dst)) {
                        let (s, sl) = clamp(sb, src_off, usize::from(len));
                        let (d, dl) = clamp(db, dst_off, usize::from(len));
                        mem.memmove(BASE + d, BASE + s, sl.min(dl))
                            .expect("in bounds");
                    }
                }
                ShadowOp::Memset { block, off, len } => {
                    if let Some(b) = blk(block) {
                        let (o, l) = clamp(b, off, usize::from(len));
                        mem.memset(BASE + o, 0xab, l).expect("in bounds");
                    }
                }
                ShadowOp::Check { block, off, len } => {
                    if let Some(b) = blk(block) {
                        let (o, l) = clamp(b, off, usize::from(len));
                        mem.check(BASE + o, l).expect("in bounds");
                    }
                }
            }
        });
        ShadowRet {
            reports: reports
                .iter()
                .map(|r| {
                    let (f, l, n) = r.bytes.unwrap_or((0, 0, 0));
                    (r.kind == BugKind::UseAfterFree, f, l, n)
                })
                .collect(),
            loaded,
        }
    }

    fn step(&self, m: &mut ShadowModel, op: &ShadowOp) -> ShadowRet {
        let mut reports = Vec::new();
        let mut loaded = None;
        let freed_overlap = |m: &ShadowModel, a: usize, n: usize| {
            m.blocks
                .iter()
                .any(|&(s, l, f)| f && s < a + n.max(1) && a < s + l.max(1))
        };
        match *op {
            ShadowOp::Alloc { len, zeroed } => {
                let len = usize::from(len);
                let off = m.top.next_multiple_of(8);
                if off + len <= CAP {
                    m.top = off + len.max(1);
                    m.blocks.push((off, len, false));
                    if zeroed {
                        m.set(off, len, 0, 0);
                    } else {
                        let t = m.fresh(0, false);
                        m.set(off, len, 0xff, t);
                    }
                }
            }
            ShadowOp::Free { block } => {
                if let Some((s, l, freed)) = m.block(block) {
                    if freed {
                        reports.push(ShadowModel::uaf_rep(l));
                    } else {
                        let t = m.fresh(0, true);
                        m.set(s, l, 0xff, t);
                        let i = usize::from(block) % m.blocks.len();
                        m.blocks[i].2 = true;
                    }
                }
            }
            ShadowOp::Poison { block, off, len } => {
                if let Some(b) = m.block(block) {
                    let (o, l) = clamp(b, off, usize::from(len));
                    let t = m.fresh(0, false);
                    m.set(o, l, 0xff, t);
                }
            }
            ShadowOp::Unpoison { block, off, len } => {
                if let Some(b) = m.block(block) {
                    let (o, l) = clamp(b, off, usize::from(len));
                    m.set(o, l, 0, 0);
                }
            }
            ShadowOp::Store {
                block,
                off,
                width,
                shadow,
            } => {
                let w = width.bytes();
                if let Some(a) = m.block(block).and_then(|b| clamp_w(b, off, w)) {
                    if freed_overlap(m, a, w) {
                        reports.push(ShadowModel::uaf_rep(w));
                    }
                    let sh = if w == 8 {
                        shadow
                    } else {
                        shadow & ((1u64 << (8 * w)) - 1)
                    };
                    let tok = if sh == 0 {
                        0
                    } else {
                        let t = m.fresh(0, false);
                        m.chain(t)
                    };
                    model_store(m, a, w, sh, tok);
                }
            }
            ShadowOp::LoadStore {
                src,
                src_off,
                dst,
                dst_off,
                width,
            } => {
                let w = width.bytes();
                let s = m.block(src).and_then(|b| clamp_w(b, src_off, w));
                let d = m.block(dst).and_then(|b| clamp_w(b, dst_off, w));
                if let (Some(s), Some(d)) = (s, d) {
                    if freed_overlap(m, s, w) {
                        reports.push(ShadowModel::uaf_rep(w));
                    }
                    let mut sh = 0u64;
                    for i in 0..w {
                        sh |= u64::from(m.shadow[s + i]) << (8 * i);
                    }
                    let first = (0..w).find(|&i| m.shadow[s + i] != 0);
                    let tok = first.map_or(0, |i| m.slots[slot(s + i)]);
                    loaded = Some(sh);
                    if freed_overlap(m, d, w) {
                        reports.push(ShadowModel::uaf_rep(w));
                    }
                    let tok = if sh == 0 { 0 } else { m.chain(tok) };
                    model_store(m, d, w, sh, tok);
                }
            }
            ShadowOp::Copy {
                src,
                src_off,
                dst,
                dst_off,
                len,
            } => {
                if let (Some(sb), Some(db)) = (m.block(src), m.block(dst)) {
                    let (s, sl) = clamp(sb, src_off, usize::from(len));
                    let (d, dl) = clamp(db, dst_off, usize::from(len));
                    let n = sl.min(dl);
                    if freed_overlap(m, s, n) {
                        reports.push(ShadowModel::uaf_rep(n));
                    }
                    if freed_overlap(m, d, n) {
                        reports.push(ShadowModel::uaf_rep(n));
                    }
                    model_move(m, d, s, n);
                }
            }
            ShadowOp::Memset { block, off, len } => {
                if let Some(b) = m.block(block) {
                    let (o, l) = clamp(b, off, usize::from(len));
                    if freed_overlap(m, o, l) {
                        reports.push(ShadowModel::uaf_rep(l));
                    }
                    m.set(o, l, 0, 0);
                }
            }
            ShadowOp::Check { block, off, len } => {
                if let Some(b) = m.block(block) {
                    let (o, l) = clamp(b, off, usize::from(len));
                    let mut cur: Option<(usize, u32)> = None;
                    let mut runs = Vec::new();
                    for i in 0..l {
                        if m.shadow[o + i] == 0 {
                            if let Some((st, t)) = cur.take() {
                                runs.push((st, i - 1, t));
                            }
                            continue;
                        }
                        let t = m.slots[slot(o + i)];
                        match cur {
                            Some((_, c)) if c == t => {}
                            Some((st, c)) => {
                                runs.push((st, i - 1, c));
                                cur = Some((i, t));
                            }
                            None => cur = Some((i, t)),
                        }
                    }
                    if let Some((st, t)) = cur {
                        runs.push((st, l - 1, t));
                    }
                    for (f, la, t) in runs {
                        let uaf = m.toks.get(&t).is_some_and(|k| k.uaf);
                        reports.push((uaf, f, la, l));
                    }
                }
            }
        }
        ShadowRet { reports, loaded }
    }

    fn invariants(&self, sut: &ShadowSut, m: &ShadowModel) -> Result<(), String> {
        let mem = sut.mem.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = sut.map.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..CAP {
            let real = mem.shadow_at(BASE + i).map_err(|e| format!("{e:?}"))?;
            if real != m.shadow[i] {
                return Err(format!(
                    "shadow of byte {i} (address {:#x}) is {real:#04x}, the model says {:#04x}",
                    BASE + i,
                    m.shadow[i]
                ));
            }
        }
        for (s, &tok) in m.slots.iter().enumerate() {
            let i = slot_range(s).start;
            let real = mem.origin_at(BASE + i).map_err(|e| format!("{e:?}"))?;
            match (tok, real) {
                (0, None) => {}
                (0, Some(o)) => {
                    return Err(format!(
                        "slot {s} (byte {i}) has origin {o:?}, the model none"
                    ))
                }
                (t, None) => {
                    return Err(format!(
                        "slot {s} (byte {i}) has no origin, the model token {t}"
                    ))
                }
                (t, Some(o)) => {
                    let (fwd, back) = &mut *map;
                    match (fwd.get(&t), back.get(&o)) {
                        (Some(&p), _) if p != o => {
                            return Err(format!(
                                "slot {s} (byte {i}): model token {t} was origin {p:?}, now {o:?}"
                            ))
                        }
                        (_, Some(&u)) if u != t => {
                            return Err(format!(
                                "slot {s} (byte {i}): origin {o:?} was model token {u}, now {t}"
                            ))
                        }
                        _ => {
                            fwd.insert(t, o);
                            back.insert(o, t);
                        }
                    }
                    let k = &m.toks[&t];
                    if o.depth() != k.depth || o.is_uaf() != k.uaf {
                        return Err(format!(
                            "slot {s} (byte {i}): origin depth {} uaf {}, the model depth {} uaf {}",
                            o.depth(),
                            o.is_uaf(),
                            k.depth,
                            k.uaf
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn model_store(m: &mut ShadowModel, a: usize, w: usize, sh: u64, tok: u32) {
    for i in 0..w {
        m.shadow[a + i] = (sh >> (8 * i)) as u8;
    }
    for s in slot(a)..=slot(a + w - 1) {
        let r = slot_range(s);
        let touched = (r.start.max(a)..r.end.min(a + w)).any(|i| m.shadow[i] != 0);
        if touched {
            m.slots[s] = tok;
        } else if m.clean(s) {
            m.slots[s] = 0;
        }
    }
}

/// The model of `Sandbox::memmove`'s metadata: the shadow moves as if through a temporary
/// buffer; each destination slot that receives poisoned bytes takes the origin of the
/// poisoned byte a byte-by-byte copy in memmove's direction (backwards when `d > s`) writes
/// last, read from the source's origins as they were before the move, and chained once per
/// distinct source origin in that order; a slot receiving only clean bytes is cleared if it
/// is now clean.
fn model_move(m: &mut ShadowModel, d: usize, s: usize, n: usize) {
    if n == 0 || d == s {
        return;
    }
    if m.shadow[s..s + n].iter().all(|&b| b == 0) {
        m.set(d, n, 0, 0);
        return;
    }
    let src_tok: Vec<u32> = (0..n).map(|i| m.slots[slot(s + i)]).collect();
    let moved: Vec<u8> = m.shadow[s..s + n].to_vec();
    m.shadow[d..d + n].copy_from_slice(&moved);
    let backwards = d > s;
    let (first, last) = (slot(d), slot(d + n - 1));
    let order: Vec<usize> = if backwards {
        (first..=last).rev().collect()
    } else {
        (first..=last).collect()
    };
    let (mut prev_old, mut prev_new) = (0u32, 0u32);
    for sl in order {
        let r = slot_range(sl);
        let (lo, hi) = (r.start.max(d), r.end.min(d + n));
        let poisoned = |i: &usize| m.shadow[*i] != 0;
        let pick = if backwards {
            (lo..hi).find(poisoned)
        } else {
            (lo..hi).rev().find(poisoned)
        };
        match pick {
            Some(i) => {
                let old = src_tok[i - d];
                let new = if old == 0 {
                    0
                } else if old == prev_old {
                    prev_new
                } else {
                    prev_old = old;
                    prev_new = m.chain(old);
                    prev_new
                };
                m.slots[sl] = new;
            }
            None => {
                if m.clean(sl) {
                    m.slots[sl] = 0;
                }
            }
        }
    }
}

fn store_w(mem: &mut Sandbox, addr: usize, w: usize, v: Tainted<u64>) {
    let r = match w {
        1 => mem.store(
            addr,
            Tainted {
                value: v.value as u8,
                shadow: v.shadow as u8,
                origin: v.origin,
            },
        ),
        2 => mem.store(
            addr,
            Tainted {
                value: v.value as u16,
                shadow: v.shadow as u16,
                origin: v.origin,
            },
        ),
        4 => mem.store(
            addr,
            Tainted {
                value: v.value as u32,
                shadow: v.shadow as u32,
                origin: v.origin,
            },
        ),
        _ => mem.store(addr, v),
    };
    r.expect("in bounds");
}

fn load_w(mem: &Sandbox, addr: usize, w: usize) -> Tainted<u64> {
    fn widen<T: shadow::Prim + Into<u64>>(t: Tainted<T>) -> Tainted<u64> {
        Tainted {
            value: t.value.into(),
            shadow: t.shadow.into(),
            origin: t.origin,
        }
    }
    match w {
        1 => widen(mem.load::<u8>(addr).expect("in bounds")),
        2 => widen(mem.load::<u16>(addr).expect("in bounds")),
        4 => widen(mem.load::<u32>(addr).expect("in bounds")),
        _ => mem.load::<u64>(addr).expect("in bounds"),
    }
}
