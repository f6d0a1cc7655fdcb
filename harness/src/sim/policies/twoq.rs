//! 2Q (Johnson and Shasha, VLDB '94), as libCacheSim's `TwoQ.c` with its defaults
//! (`Ain-size-ratio=0.25`, `Aout-size-ratio=0.5`).
//!
//! `Ain` is a FIFO of `trunc(0.25 c)` frames, `Aout` a FIFO of `trunc(0.5 c)` ghost entries,
//! `Am` an LRU of the other `c - trunc(0.25 c)` frames. libCacheSim's behaviour, kept:
//!
//! - a hit in `Ain` changes nothing; a hit in `Am` moves the page to `Am`'s head;
//! - a miss whose page is in `Aout` removes it there and admits the page to `Am`; any other
//!   miss inserts at `Ain`'s head;
//! - while `|Ain| + |Am| + 1 > c`: if `Am` is not empty and `|Ain| <= trunc(0.25 c)`, `Am`'s
//!   LRU page is evicted (no ghost), otherwise `Ain`'s oldest page moves to `Aout` (evicting
//!   `Aout`'s oldest entry when `Aout` is full); `Ain` may grow past its share while `Am` is
//!   empty, and an admission to `Am` also evicts within `Am` when `Am` itself is full;
//! - with fewer than 4 frames `Ain` has no frame, and libCacheSim then admits nothing: every
//!   access misses.

use super::{Arena, List};
use crate::sim::{page_map, Access, PageMap, Policy};

const AIN: u8 = 0;
const AM: u8 = 1;
const AOUT: u8 = 2;

/// 2Q.
pub struct TwoQ {
    frames: usize,
    ain_max: usize,
    aout_max: usize,
    am_max: usize,
    map: PageMap<u32>,
    arena: Arena<u8>,
    /// Ain, Am, Aout, indexed by the constants above.
    lists: [List; 3],
}

impl TwoQ {
    /// An empty 2Q cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        let ain_max = (frames as f64 * 0.25) as usize;
        let aout_max = (frames as f64 * 0.5) as usize;
        TwoQ {
            frames,
            ain_max,
            aout_max,
            am_max: frames - ain_max,
            map: page_map(frames + aout_max),
            arena: Arena::with_capacity(frames + aout_max),
            lists: [List::default(); 3],
        }
    }

    fn len(&self, l: u8) -> usize {
        self.lists[l as usize].len()
    }

    fn insert(&mut self, page: u64, l: u8) {
        let i = self.arena.alloc(page, l);
        self.arena.push_head(&mut self.lists[l as usize], i);
        self.map.insert(page, i);
    }

    /// Forgets the tail of list `l`; returns its page.
    fn drop_tail(&mut self, l: u8) -> Option<u64> {
        let t = self.arena.pop_tail(&mut self.lists[l as usize])?;
        let page = self.arena.page(t);
        self.map.remove(&page);
        self.arena.release(t);
        Some(page)
    }

    fn evict(&mut self) {
        if self.len(AM) > 0 && self.len(AIN) <= self.ain_max {
            self.drop_tail(AM);
        } else if let Some(t) = self.arena.pop_tail(&mut self.lists[AIN as usize]) {
            // The page goes to Aout (a FIFO "get": it cannot already be there).
            if self.aout_max == 0 {
                self.map.remove(&self.arena.page(t));
                self.arena.release(t);
                return;
            }
            if self.len(AOUT) + 1 > self.aout_max {
                self.drop_tail(AOUT);
            }
            self.arena.push_head(&mut self.lists[AOUT as usize], t);
            self.arena.node_mut(t).data = AOUT;
        }
    }
}

impl Policy for TwoQ {
    fn name(&self) -> String {
        "2q".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        let mut ghost = false;
        if let Some(&i) = self.map.get(&a.page) {
            match self.arena.node(i).data {
                AIN => return true,
                AM => {
                    self.arena.move_to_head(&mut self.lists[AM as usize], i);
                    return true;
                }
                _ => {
                    self.arena.unlink(&mut self.lists[AOUT as usize], i);
                    self.arena.release(i);
                    self.map.remove(&a.page);
                    ghost = true;
                }
            }
        }
        if self.ain_max == 0 {
            // libCacheSim cannot admit a page larger than Ain.
            return false;
        }
        while self.len(AIN) + self.len(AM) + 1 > self.frames {
            self.evict();
        }
        if ghost {
            // An LRU "get" on Am: Am evicts for itself when it is full.
            while self.len(AM) + 1 > self.am_max {
                self.drop_tail(AM);
            }
            self.insert(a.page, AM);
        } else {
            self.insert(a.page, AIN);
        }
        false
    }
}
