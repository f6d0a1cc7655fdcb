//! Shadow and origin metadata of one contiguous memory region.
//!
//! One shadow byte per data byte (bit-precise: each shadow bit covers one data bit) and one
//! origin slot per 4 *aligned* bytes of address space, as in KMSAN. The region starts at an
//! arbitrary address `base`, so a region whose base is not 4-aligned shares its first and
//! last origin slots with bytes outside it.

use crate::origin::{Origin, Site};

/// Bytes covered by one origin slot (`KMSAN_ORIGIN_SIZE`).
pub const ORIGIN_SIZE: usize = 4;

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
        self.shadow[self.slot_range(slot)].iter().all(|&b| b == 0)
    }

    /// The origin recorded for byte `off`.
    pub fn origin_at(&self, off: usize) -> Option<Origin> {
        Origin::from_raw(self.origins[self.slot(off)])
    }

    /// `kmsan_internal_set_shadow_origin`: fills the shadow of `[off, off + len)` with `b`;
    /// a non-zero origin overwrites every slot touched, a zero origin clears only the slots
    /// whose 4 bytes are now all initialized (a partial unpoison keeps a poisoned
    /// neighbour's origin).
    pub fn set(&mut self, off: usize, len: usize, b: u8, origin: Option<Origin>) {
        if len == 0 {
            return;
        }
        self.shadow[off..off + len].fill(b);
        let raw = origin.map_or(0, Origin::raw);
        for s in self.slot(off)..=self.slot(off + len - 1) {
            if raw != 0 || self.slot_clean(s) {
                self.origins[s] = raw;
            }
        }
    }

    /// Marks `[off, off + len)` uninitialized with `origin`.
    pub fn poison(&mut self, off: usize, len: usize, origin: Origin) {
        self.set(off, len, 0xff, Some(origin));
    }

    /// Marks `[off, off + len)` initialized.
    pub fn unpoison(&mut self, off: usize, len: usize) {
        self.set(off, len, 0, None);
    }

    /// Writes the shadow of a stored value: `shadow` byte for byte, and `origin` into every
    /// slot that now holds a poisoned byte of the store; slots left clean are cleared.
    pub fn store(&mut self, off: usize, shadow: &[u8], origin: Option<Origin>) {
        if shadow.is_empty() {
            return;
        }
        self.shadow[off..off + shadow.len()].copy_from_slice(shadow);
        let raw = origin.map_or(0, Origin::raw);
        for s in self.slot(off)..=self.slot(off + shadow.len() - 1) {
            let r = self.slot_range(s);
            let touched_poisoned = (r.start.max(off)..r.end.min(off + shadow.len()))
                .any(|i| self.shadow[i] != 0);
            if touched_poisoned {
                self.origins[s] = raw;
            } else if self.slot_clean(s) {
                self.origins[s] = 0;
            }
        }
    }

    /// The origin of the first poisoned byte in `[off, off + len)`, if any.
    pub fn first_origin(&self, off: usize, len: usize) -> Option<Origin> {
        let i = self.shadow[off..off + len].iter().position(|&b| b != 0)?;
        self.origin_at(off + i)
    }

    /// `kmsan_internal_check_memory`: the maximal runs of poisoned bytes in
    /// `[off, off + len)`, split where the origin changes. Offsets are relative to `off`.
    pub fn runs(&self, off: usize, len: usize) -> Vec<Run> {
        let mut out = Vec::new();
        let mut cur: Option<(usize, u32)> = None;
        for i in 0..len {
            if self.shadow[off + i] == 0 {
                if let Some((start, o)) = cur.take() {
                    out.push(Run {
                        first: start,
                        last: i - 1,
                        origin: Origin::from_raw(o),
                    });
                }
                continue;
            }
            let o = self.origins[self.slot(off + i)];
            match cur {
                Some((_, c)) if c == o => {}
                Some((start, c)) => {
                    out.push(Run {
                        first: start,
                        last: i - 1,
                        origin: Origin::from_raw(c),
                    });
                    cur = Some((i, o));
                }
                None => cur = Some((i, o)),
            }
        }
        if let Some((start, o)) = cur {
            out.push(Run {
                first: start,
                last: len - 1,
                origin: Origin::from_raw(o),
            });
        }
        out
    }

    /// True if every byte of `[off, off + len)` is initialized.
    pub fn is_clean(&self, off: usize, len: usize) -> bool {
        self.shadow[off..off + len].iter().all(|&b| b == 0)
    }

    /// `memmove` of metadata inside this region, `kmsan_internal_memmove_metadata`'s way:
    /// byte by byte, backwards when `dst > src` so an overlapping source is read before it
    /// is overwritten; each distinct source origin is chained once with `site`.
    pub fn move_within(&mut self, dst: usize, src: usize, n: usize, site: &Site) {
        if n == 0 || dst == src {
            return;
        }
        if self.is_clean(src, n) {
            self.unpoison(dst, n);
            return;
        }
        let backwards = dst > src;
        let mut chain = ChainCache::default();
        for k in 0..n {
            let i = if backwards { n - 1 - k } else { k };
            let s = self.shadow[src + i];
            let ds = self.slot(dst + i);
            if s == 0 {
                self.shadow[dst + i] = 0;
                if self.slot_clean(ds) {
                    self.origins[ds] = 0;
                }
                continue;
            }
            self.shadow[dst + i] = s;
            let old = self.origins[self.slot(src + i)];
            self.origins[ds] = chain.get(old, site);
        }
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
        let mut chain = ChainCache::default();
        for i in 0..n {
            let s = src.shadow[src_off + i];
            let ds = self.slot(dst + i);
            self.shadow[dst + i] = s;
            if s == 0 {
                if self.slot_clean(ds) {
                    self.origins[ds] = 0;
                }
                continue;
            }
            let old = src.origins[src.slot(src_off + i)];
            self.origins[ds] = chain.get(old, site);
        }
    }
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
                Run { first: 0, last: 1, origin: Some(a) },
                Run { first: 3, last: 7, origin: Some(a) },
                Run { first: 8, last: 11, origin: Some(b) },
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
    fn copies_chain_each_origin_once() {
        let mut src = Meta::new(0x2000, 8);
        let o = Origin::new(Created::Alloc);
        src.poison(0, 8, o);
        let mut dst = Meta::new(0x3000, 8);
        dst.copy_from(0, &src, 0, 8, &Site::here());
        let d0 = dst.origin_at(0).expect("poisoned");
        assert_eq!(dst.origin_at(4), Some(d0), "one chain link per distinct origin");
        assert_eq!(d0.depth(), 1);
        assert_eq!(d0.root().0, Created::Alloc);
    }
}
