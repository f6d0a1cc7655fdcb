//! Shadow and origin metadata of one contiguous memory region.
//!
//! One shadow byte per data byte (bit-precise: each shadow bit covers one data bit) and one
//! origin slot per 4 *aligned* bytes of address space, as in KMSAN. The region starts at an
//! arbitrary address `base`, so a region whose base is not 4-aligned shares its first and
//! last origin slots with bytes outside it.

use crate::origin::{Origin, Site};

/// Bytes covered by one origin slot (`KMSAN_ORIGIN_SIZE`).
pub const ORIGIN_SIZE: usize = 4;

/// Bytes summarized by one bit of the dirty map.
const CHUNK: usize = 64;

/// A maximal run of poisoned bytes with one origin, as a check reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Offset of the first poisoned byte (relative to the checked range).
    pub first: usize,
    /// Offset of the last poisoned byte, inclusive.
    pub last: usize,
    /// Their origin.
    pub origin: Option<Origin>,
}

/// Shadow and origins of `len` bytes at address `base`.
#[derive(Debug, Clone)]
pub struct Meta {
    base: usize,
    shadow: Vec<u8>,
    origins: Vec<u32>,
    /// One bit per `CHUNK` bytes of shadow (by offset): a clear bit means every shadow byte
    /// of the chunk is zero. A set bit means nothing (the chunk may be clean).
    dirty: Vec<u64>,
    /// Set once `set` wrote a non-zero origin with a zero shadow byte. Until then every
    /// origin slot whose bytes are all clean is zero, which lets an unpoison of clean
    /// chunks do nothing.
    stale: bool,
}

impl Meta {
    /// Metadata for `len` initialized bytes at `base`.
    pub fn new(base: usize, len: usize) -> Self {
        let slots = if len == 0 {
            0
        } else {
            (base + len - 1) / ORIGIN_SIZE - base / ORIGIN_SIZE + 1
        };
        Meta {
            base,
            shadow: vec![0; len],
            origins: vec![0; slots],
            dirty: vec![0; len.div_ceil(CHUNK).div_ceil(64)],
            stale: false,
        }
    }

    /// The region's address.
    pub fn base(&self) -> usize {
        self.base
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        self.shadow.len()
    }

    /// True for an empty region.
    pub fn is_empty(&self) -> bool {
        self.shadow.is_empty()
    }

    /// The shadow bytes.
    pub fn shadow(&self) -> &[u8] {
        &self.shadow
    }

    /// The shadow of the `T::BYTES` bytes at `off`, as a `T` (zero when all are
    /// initialized): the one shadow load of an instrumented access.
    #[inline(always)]
    pub fn word<T: crate::value::Prim>(&self, off: usize) -> T {
        T::read_le(&self.shadow[off..off + T::BYTES])
    }

    /// A raw pointer to the shadow byte of `off` (which must be at most `len()`), for
    /// views that bounds-check their own accesses. It stays valid until the next call
    /// that changes this metadata.
    #[inline(always)]
    pub fn shadow_ptr(&self, off: usize) -> *const u8 {
        self.shadow[off..].as_ptr()
    }

    /// The origin slot index of byte `off`: slots follow *aligned* addresses.
    #[inline(always)]
    fn slot(&self, off: usize) -> usize {
        (self.base + off) / ORIGIN_SIZE - self.base / ORIGIN_SIZE
    }

    /// The offsets (clamped to the region) covered by slot `slot`.
    #[inline(always)]
    fn slot_range(&self, slot: usize) -> std::ops::Range<usize> {
        let start_addr = (self.base / ORIGIN_SIZE + slot) * ORIGIN_SIZE;
        let lo = start_addr.saturating_sub(self.base);
        let hi = (start_addr + ORIGIN_SIZE - self.base).min(self.len());
        lo..hi
    }

    #[inline(always)]
    fn slot_clean(&self, slot: usize) -> bool {
        all_zero(&self.shadow[self.slot_range(slot)])
    }

    /// The origin recorded for byte `off`.
    pub fn origin_at(&self, off: usize) -> Option<Origin> {
        Origin::from_raw(self.origins[self.slot(off)])
    }

    /// `kmsan_internal_set_shadow_origin`: fills the shadow of `[off, off + len)` with `b`;
    /// a non-zero origin overwrites every slot touched, a zero origin clears only the slots
    /// whose 4 bytes are now all initialized (a partial unpoison keeps a poisoned
    /// neighbour's origin).
    #[inline]
    pub fn set(&mut self, off: usize, len: usize, b: u8, origin: Option<Origin>) {
        if len == 0 {
            return;
        }
        self.shadow[off..off + len].fill(b);
        if b != 0 {
            self.mark_dirty(off, len);
        } else {
            self.clear_covered(off, len);
            self.stale |= origin.is_some();
        }
        let (first, last) = (self.slot(off), self.slot(off + len - 1));
        match origin {
            Some(o) => self.origins[first..=last].fill(o.raw()),
            // Every touched slot still holds a poisoned byte (one of these): keep them.
            None if b != 0 => {}
            None => self.clear_clean_slots(first, last),
        }
    }

    /// After `[first, last]`'s bytes in some range were made clean: interior slots are
    /// wholly inside the range, so clean; the two edge slots may hold other bytes.
    #[inline(always)]
    fn clear_clean_slots(&mut self, first: usize, last: usize) {
        if self.slot_clean(first) {
            self.origins[first] = 0;
        }
        if last > first {
            if last > first + 1 {
                self.origins[first + 1..last].fill(0);
            }
            if self.slot_clean(last) {
                self.origins[last] = 0;
            }
        }
    }

    /// Marks `[off, off + len)` uninitialized with `origin`.
    pub fn poison(&mut self, off: usize, len: usize, origin: Origin) {
        self.set(off, len, 0xff, Some(origin));
    }

    /// Marks `[off, off + len)` initialized.
    #[inline(always)]
    pub fn unpoison(&mut self, off: usize, len: usize) {
        // Already clean (and so, unless `stale`, without origins): nothing to do.
        if len != 0 && !self.stale && off + len <= self.len() && self.chunks_clean(off, len) {
            return;
        }
        self.set(off, len, 0, None);
    }

    /// Writes the shadow of a stored value: `shadow` byte for byte, and `origin` into every
    /// slot that now holds a poisoned byte of the store; slots left clean are cleared.
    #[inline]
    pub fn store(&mut self, off: usize, shadow: &[u8], origin: Option<Origin>) {
        if shadow.is_empty() {
            return;
        }
        if all_zero(shadow) {
            // A clean store is an unpoison: no slot gets `origin`.
            self.unpoison(off, shadow.len());
            return;
        }
        self.shadow[off..off + shadow.len()].copy_from_slice(shadow);
        self.mark_dirty(off, shadow.len());
        let raw = origin.map_or(0, Origin::raw);
        for s in self.slot(off)..=self.slot(off + shadow.len() - 1) {
            let r = self.slot_range(s);
            let (lo, hi) = (r.start.max(off), r.end.min(off + shadow.len()));
            if !all_zero(&self.shadow[lo..hi]) {
                self.origins[s] = raw;
            } else if self.slot_clean(s) {
                self.origins[s] = 0;
            }
        }
    }

    /// The origin of the first poisoned byte in `[off, off + len)`, if any.
    pub fn first_origin(&self, off: usize, len: usize) -> Option<Origin> {
        let i = self.first_poisoned(off, len)?;
        self.origin_at(i)
    }

    /// `kmsan_internal_check_memory`: the maximal runs of poisoned bytes in
    /// `[off, off + len)`, split where the origin changes. Offsets are relative to `off`.
    pub fn runs(&self, off: usize, len: usize) -> Vec<Run> {
        let mut out = Vec::new();
        let sh = &self.shadow[off..off + len];
        let mut i = 0;
        // Skip clean stretches quickly; walk poisoned ones byte by byte.
        while let Some(start) = self.first_poisoned(off + i, len - i).map(|p| p - off) {
            let mut o = self.origins[self.slot(off + start)];
            let mut run_start = start;
            i = start + 1;
            while i < len && sh[i] != 0 {
                let oi = self.origins[self.slot(off + i)];
                if oi != o {
                    out.push(Run {
                        first: run_start,
                        last: i - 1,
                        origin: Origin::from_raw(o),
                    });
                    run_start = i;
                    o = oi;
                }
                i += 1;
            }
            out.push(Run {
                first: run_start,
                last: i - 1,
                origin: Origin::from_raw(o),
            });
        }
        out
    }

    /// True if every byte of `[off, off + len)` is initialized.
    #[inline]
    pub fn is_clean(&self, off: usize, len: usize) -> bool {
        let _ = &self.shadow[off..off + len];
        self.first_poisoned(off, len).is_none()
    }

    /// The dirty-map bits of chunks `c0..=c1` that fall in word `w`.
    #[inline(always)]
    fn word_mask(w: usize, c0: usize, c1: usize) -> u64 {
        let lo = if w == c0 / 64 { c0 % 64 } else { 0 };
        let hi = if w == c1 / 64 { c1 % 64 } else { 63 };
        (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
    }

    /// Marks the chunks of `[off, off + len)` (non-empty) as possibly poisoned.
    #[inline(always)]
    fn mark_dirty(&mut self, off: usize, len: usize) {
        let (c0, c1) = (off / CHUNK, (off + len - 1) / CHUNK);
        for w in c0 / 64..=c1 / 64 {
            self.dirty[w] |= Self::word_mask(w, c0, c1);
        }
    }

    /// Marks the chunks wholly inside `[off, off + len)` (now all-zero shadow) clean.
    #[inline(always)]
    fn clear_covered(&mut self, off: usize, len: usize) {
        let end = off + len;
        let c0 = off.div_ceil(CHUNK);
        // The region's last chunk may be short: reaching the region's end covers it.
        let c_end = if end == self.len() {
            end.div_ceil(CHUNK)
        } else {
            end / CHUNK
        };
        if c0 >= c_end {
            return;
        }
        let c1 = c_end - 1;
        for w in c0 / 64..=c1 / 64 {
            self.dirty[w] &= !Self::word_mask(w, c0, c1);
        }
    }

    /// After the shadow of `[off, off + len)` (non-empty) was overwritten: recomputes the
    /// dirty bits of its chunks.
    fn refresh_dirty(&mut self, off: usize, len: usize) {
        let end = off + len;
        for c in off / CHUNK..=(end - 1) / CHUNK {
            let (lo, hi) = ((c * CHUNK).max(off), ((c + 1) * CHUNK).min(end));
            let bit = 1u64 << (c % 64);
            if !all_zero(&self.shadow[lo..hi]) {
                self.dirty[c / 64] |= bit;
            } else if hi - lo == CHUNK || (lo == c * CHUNK && hi == self.len()) {
                self.dirty[c / 64] &= !bit;
            }
        }
    }

    /// True if `[off, off + len)` (non-empty) lies in chunks marked clean, so its shadow is
    /// all zero. The fast path of clean stores and loads: a clean store there changes no
    /// metadata (every slot with a non-zero origin holds a poisoned byte, so the slots it
    /// touches either have no origin or keep one for a poisoned neighbour in a dirty chunk).
    #[inline(always)]
    pub fn quick_clean(&self, off: usize, len: usize) -> bool {
        let (c0, c1) = (off / CHUNK, (off + len - 1) / CHUNK);
        if c0 == c1 {
            self.dirty[c0 / 64] & (1u64 << (c0 % 64)) == 0
        } else {
            self.chunks_clean(off, len)
        }
    }

    /// True if no chunk of `[off, off + len)` (non-empty) is marked dirty.
    #[inline(always)]
    fn chunks_clean(&self, off: usize, len: usize) -> bool {
        let (c0, c1) = (off / CHUNK, (off + len - 1) / CHUNK);
        (c0 / 64..=c1 / 64).all(|w| self.dirty[w] & Self::word_mask(w, c0, c1) == 0)
    }

    /// The offset of the first poisoned byte in `[off, off + len)`, looking only into
    /// chunks marked dirty.
    #[inline]
    fn first_poisoned(&self, off: usize, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let end = off + len;
        let (c0, c1) = (off / CHUNK, (end - 1) / CHUNK);
        for w in c0 / 64..=c1 / 64 {
            let mut bits = self.dirty[w] & Self::word_mask(w, c0, c1);
            while bits != 0 {
                let c = w * 64 + bits.trailing_zeros() as usize;
                let (lo, hi) = ((c * CHUNK).max(off), ((c + 1) * CHUNK).min(end));
                if let Some(k) = next_nonzero(&self.shadow[lo..hi], 0) {
                    return Some(lo + k);
                }
                bits &= bits - 1;
            }
        }
        None
    }

    /// `memmove` of metadata inside this region, `kmsan_internal_memmove_metadata`'s way:
    /// as if byte by byte, backwards when `dst > src` so an overlapping source is read
    /// before it is overwritten; each distinct source origin is chained once with `site`.
    /// A destination slot that receives poisoned bytes takes the origin of the poisoned
    /// byte copied last; one that receives only clean bytes is cleared if it is now clean.
    /// Source origins are read as they were before the move, even where the ranges share
    /// origin slots.
    pub fn move_within(&mut self, dst: usize, src: usize, n: usize, site: &Site) {
        if n == 0 || dst == src {
            return;
        }
        if self.is_clean(src, n) {
            self.unpoison(dst, n);
            return;
        }
        // Snapshot the source's origin slots: the destination may share some of them.
        let src_first = self.slot(src);
        let src_origins = self.origins[src_first..=self.slot(src + n - 1)].to_vec();
        self.shadow.copy_within(src..src + n, dst);
        self.refresh_dirty(dst, n);
        let base = self.base;
        let src_origin =
            |i: usize| src_origins[(base + src + i) / ORIGIN_SIZE - base / ORIGIN_SIZE - src_first];
        self.fix_origins(dst, n, dst > src, src_origin, site);
    }

    /// `memcpy` of metadata from another region.
    pub fn copy_from(&mut self, dst: usize, src: &Meta, src_off: usize, n: usize, site: &Site) {
        if n == 0 {
            return;
        }
        if src.is_clean(src_off, n) {
            self.unpoison(dst, n);
            return;
        }
        self.shadow[dst..dst + n].copy_from_slice(&src.shadow[src_off..src_off + n]);
        self.refresh_dirty(dst, n);
        let src_origin = |i: usize| src.origins[src.slot(src_off + i)];
        self.fix_origins(dst, n, false, src_origin, site);
    }

    /// Sets the origins of the slots of `[dst, dst + n)` after its shadow was copied from a
    /// source whose byte `i` had origin `src_origin(i)`, as a byte-by-byte copy in the given
    /// direction would leave them.
    fn fix_origins(
        &mut self,
        dst: usize,
        n: usize,
        backwards: bool,
        src_origin: impl Fn(usize) -> u32,
        site: &Site,
    ) {
        let (first, last) = (self.slot(dst), self.slot(dst + n - 1));
        let mut chain = ChainCache::default();
        let mut fix = |m: &mut Meta, s: usize| {
            let r = m.slot_range(s);
            let (lo, hi) = (r.start.max(dst), r.end.min(dst + n));
            let sh = &m.shadow[lo..hi];
            if let Ok(w) = <[u8; ORIGIN_SIZE]>::try_from(sh) {
                // A whole slot: one word.
                let w = u32::from_le_bytes(w);
                m.origins[s] = if w == 0 {
                    0
                } else {
                    let k = if backwards {
                        w.trailing_zeros() / 8
                    } else {
                        (31 - w.leading_zeros()) / 8
                    };
                    chain.get(src_origin(lo + k as usize - dst), site)
                };
                return;
            }
            // The byte a byte-by-byte copy writes last into this slot wins.
            let pick = if backwards {
                sh.iter().position(|&b| b != 0)
            } else {
                sh.iter().rposition(|&b| b != 0)
            };
            match pick {
                Some(k) => m.origins[s] = chain.get(src_origin(lo + k - dst), site),
                None => {
                    if (lo == r.start && hi == r.end) || m.slot_clean(s) {
                        m.origins[s] = 0;
                    }
                }
            }
        };
        if backwards {
            for s in (first..=last).rev() {
                fix(self, s);
            }
        } else {
            for s in first..=last {
                fix(self, s);
            }
        }
    }
}

/// True if every byte of `s` is zero; word-at-a-time.
#[inline]
fn all_zero(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(32);
    for c in &mut chunks {
        if c.iter().fold(0u8, |a, &b| a | b) != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| b == 0)
}

/// The index of the first non-zero byte of `s` at or after `from`.
#[inline]
fn next_nonzero(s: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    // Byte steps up to a 32-byte boundary of the slice index, then whole zero chunks.
    while i < s.len() && i % 32 != 0 {
        if s[i] != 0 {
            return Some(i);
        }
        i += 1;
    }
    while i + 32 <= s.len() && s[i..i + 32].iter().fold(0u8, |a, &b| a | b) == 0 {
        i += 32;
    }
    s[i..].iter().position(|&b| b != 0).map(|k| i + k)
}

/// Chains each distinct origin once per copy, as KMSAN's memmove does.
#[derive(Default)]
struct ChainCache {
    prev_old: u32,
    prev_new: u32,
}

impl ChainCache {
    fn get(&mut self, old: u32, site: &Site) -> u32 {
        if old == 0 {
            return 0;
        }
        if old != self.prev_old {
            self.prev_old = old;
            self.prev_new = Origin::from_raw(old).map_or(0, |o| o.chain(site.clone()).raw());
        }
        self.prev_new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Created;

    #[test]
    fn slots_follow_aligned_addresses() {
        let m = Meta::new(0x1002, 8);
        // Bytes 0-1 are in slot 0 (0x1000..0x1004), 2-5 in slot 1, 6-7 in slot 2.
        assert_eq!(m.origins.len(), 3);
        assert_eq!((m.slot(1), m.slot(2), m.slot(5), m.slot(6)), (0, 1, 1, 2));
        assert_eq!(m.slot_range(0), 0..2);
        assert_eq!(m.slot_range(2), 6..8);
    }

    #[test]
    fn partial_unpoison_keeps_a_poisoned_neighbours_origin() {
        let mut m = Meta::new(0x1000, 8);
        let o = Origin::new(Created::Alloc);
        m.poison(0, 8, o);
        m.unpoison(0, 2);
        assert_eq!(m.origin_at(2), Some(o), "bytes 2-3 are still poisoned");
        m.unpoison(2, 2);
        assert_eq!(m.origin_at(0), None);
        assert_eq!(m.origin_at(4), Some(o));
    }

    #[test]
    fn runs_split_on_clean_bytes_and_origin_changes() {
        let mut m = Meta::new(0x1000, 16);
        let a = Origin::new(Created::Alloc);
        let b = Origin::new(Created::Poison);
        m.poison(0, 8, a);
        m.poison(8, 4, b);
        m.unpoison(2, 1);
        let r = m.runs(0, 16);
        assert_eq!(
            r,
            vec![
                Run {
                    first: 0,
                    last: 1,
                    origin: Some(a)
                },
                Run {
                    first: 3,
                    last: 7,
                    origin: Some(a)
                },
                Run {
                    first: 8,
                    last: 11,
                    origin: Some(b)
                },
            ]
        );
    }

    #[test]
    fn overlapping_move_copies_like_memmove() {
        let mut m = Meta::new(0x1000, 16);
        let o = Origin::new(Created::Alloc);
        // Pattern P C P C P C at bytes 0..6.
        for i in (0..6).step_by(2) {
            m.poison(i, 1, o);
        }
        let site = Site::here();
        let before: Vec<u8> = m.shadow()[0..6].to_vec();
        m.move_within(3, 0, 6, &site); // dst > src: backwards
        assert_eq!(&m.shadow()[3..9], &before[..]);
        let mut m2 = Meta::new(0x1000, 16);
        for i in (3..9).step_by(2) {
            m2.poison(i, 1, o);
        }
        let before2: Vec<u8> = m2.shadow()[3..9].to_vec();
        m2.move_within(0, 3, 6, &site); // dst < src: forwards
        assert_eq!(&m2.shadow()[0..6], &before2[..]);
    }

    #[test]
    fn clean_bytes_given_an_origin_lose_it_on_unpoison() {
        // `set` with a zero shadow byte and an origin leaves clean slots with an origin; a
        // later unpoison of those (already clean) bytes must still clear it.
        let mut m = Meta::new(0x1000, 256);
        let o = Origin::new(Created::Poison);
        m.set(8, 8, 0, Some(o));
        assert_eq!(m.origin_at(8), Some(o));
        m.unpoison(8, 8);
        assert_eq!(m.origin_at(8), None);
        assert!(m.is_clean(0, 256));
    }

    #[test]
    fn dirty_map_follows_poison_across_chunks() {
        let mut m = Meta::new(0x1001, 10_000);
        let o = Origin::new(Created::Alloc);
        m.poison(4_000, 300, o);
        assert!(m.is_clean(0, 4_000));
        assert!(!m.is_clean(0, 4_001));
        assert_eq!(m.first_origin(100, 9_000), Some(o));
        m.unpoison(4_000, 299);
        assert_eq!(
            m.runs(0, 10_000),
            vec![Run {
                first: 4_299,
                last: 4_299,
                origin: Some(o)
            }]
        );
        m.unpoison(4_299, 1);
        assert!(m.is_clean(0, 10_000));
        assert_eq!(m.origin_at(4_299), None);
        // A move of poison, and back to clean.
        m.poison(9_990, 10, o);
        m.move_within(0, 9_990, 10, &Site::here());
        assert_eq!(m.runs(0, 64).len(), 1);
        m.move_within(0, 5_000, 10, &Site::here());
        assert!(m.is_clean(0, 64));
        assert_eq!(m.origin_at(0), None);
    }

    #[test]
    fn copies_chain_each_origin_once() {
        let mut src = Meta::new(0x2000, 8);
        let o = Origin::new(Created::Alloc);
        src.poison(0, 8, o);
        let mut dst = Meta::new(0x3000, 8);
        dst.copy_from(0, &src, 0, 8, &Site::here());
        let d0 = dst.origin_at(0).expect("poisoned");
        assert_eq!(
            dst.origin_at(4),
            Some(d0),
            "one chain link per distinct origin"
        );
        assert_eq!(d0.depth(), 1);
        assert_eq!(d0.root().0, Created::Alloc);
    }
}
