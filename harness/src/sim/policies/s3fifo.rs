//! S3-FIFO (Yang et al., SOSP '23), as libCacheSim's `S3FIFO.c` in its October 2024 form with
//! its defaults (`small-size-ratio=0.10`, `ghost-size-ratio=0.90`, `move-to-main-threshold=2`).
//!
//! A small FIFO `S` of `trunc(0.1 c)` frames, a main FIFO `M` of the other frames and a ghost
//! FIFO `G` of `trunc(0.9 c)` entries; each resident page has a hit counter. libCacheSim's
//! behaviour, kept:
//!
//! - a hit adds one to the page's counter (unbounded while in `S`);
//! - a miss removes the page from `G` if it is there; while `|S| + |M| + 1 > c` one eviction
//!   runs (below); then the page goes to `M` if it was in `G`, otherwise to `S` — except that
//!   until the first eviction ever, a full `S` sends new pages to `M`; inserted counters are 0;
//! - an eviction evicts from `M` if `|M|` exceeds its share or `S` is empty, else from `S`;
//!   from `S`: the oldest page moves to `M` (counter 0) if its counter is at least 2, else it
//!   leaves with a ghost entry in `G` (evicting `G`'s oldest when `G` is full), until one page
//!   has left or `S` is empty; from `M`: the oldest page with a counter `f >= 1` is reinserted
//!   with `min(f, 3) - 1`, until one with 0 leaves;
//! - libCacheSim admits no page of size `>= |S|` frames to `S`, so with fewer than 20 frames
//!   (`S` of 0 or 1 frame) nothing is ever inserted and every access misses. (Below 10 frames
//!   libCacheSim refuses the configuration and aborts; this model keeps running, all misses.)

use super::{Arena, List};
use crate::sim::{page_map, Access, PageMap, Policy};

const SMALL: u8 = 0;
const MAIN: u8 = 1;
const GHOST: u8 = 2;

/// Per-node data: the queue and the hit counter.
#[derive(Clone, Copy, Debug)]
struct Meta {
    queue: u8,
    freq: u32,
}

/// S3-FIFO.
pub struct S3Fifo {
    frames: usize,
    small_max: usize,
    main_max: usize,
    ghost_max: usize,
    has_evicted: bool,
    map: PageMap<u32>,
    arena: Arena<Meta>,
    /// S, M, G, indexed by the constants above.
    lists: [List; 3],
}

impl S3Fifo {
    /// An empty S3-FIFO cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        let small_max = (frames as f64 * 0.10) as usize;
        let ghost_max = (frames as f64 * 0.90) as usize;
        S3Fifo {
            frames,
            small_max,
            main_max: frames - small_max,
            ghost_max,
            has_evicted: false,
            map: page_map(frames + ghost_max),
            arena: Arena::with_capacity(frames + ghost_max),
            lists: [List::default(); 3],
        }
    }

    fn len(&self, q: u8) -> usize {
        self.lists[q as usize].len()
    }

    fn push(&mut self, i: u32, q: u8, freq: u32) {
        self.arena.node_mut(i).data = Meta { queue: q, freq };
        self.arena.push_head(&mut self.lists[q as usize], i);
    }

    fn insert(&mut self, page: u64, q: u8) {
        let i = self.arena.alloc(page, Meta { queue: q, freq: 0 });
        self.push(i, q, 0);
        self.map.insert(page, i);
    }

    fn forget(&mut self, i: u32) {
        self.map.remove(&self.arena.page(i));
        self.arena.release(i);
    }

    fn evict_small(&mut self) {
        while let Some(t) = self.arena.pop_tail(&mut self.lists[SMALL as usize]) {
            if self.arena.node(t).data.freq >= 2 {
                self.push(t, MAIN, 0);
                continue;
            }
            if self.ghost_max == 0 {
                self.forget(t);
            } else {
                if self.len(GHOST) + 1 > self.ghost_max {
                    if let Some(g) = self.arena.pop_tail(&mut self.lists[GHOST as usize]) {
                        self.forget(g);
                    }
                }
                self.push(t, GHOST, 0);
            }
            return;
        }
    }

    fn evict_main(&mut self) {
        while let Some(t) = self.arena.pop_tail(&mut self.lists[MAIN as usize]) {
            let f = self.arena.node(t).data.freq;
            if f >= 1 {
                self.push(t, MAIN, f.min(3) - 1);
            } else {
                self.forget(t);
                return;
            }
        }
    }

    fn evict(&mut self) {
        self.has_evicted = true;
        if self.len(MAIN) > self.main_max || self.len(SMALL) == 0 {
            self.evict_main();
        } else {
            self.evict_small();
        }
    }
}

impl Policy for S3Fifo {
    fn name(&self) -> String {
        "s3fifo".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        let mut ghost = false;
        if let Some(&i) = self.map.get(&a.page) {
            let m = &mut self.arena.node_mut(i).data;
            if m.queue != GHOST {
                m.freq = m.freq.saturating_add(1);
                return true;
            }
            self.arena.unlink(&mut self.lists[GHOST as usize], i);
            self.forget(i);
            ghost = true;
        }
        if self.small_max == 0 {
            // libCacheSim's can_insert: no page larger than S.
            return false;
        }
        while self.len(SMALL) + self.len(MAIN) + 1 > self.frames {
            self.evict();
        }
        if ghost {
            self.insert(a.page, MAIN);
        } else if self.small_max <= 1 {
            // libCacheSim's insert: no page of size >= |S| goes to S.
        } else if !self.has_evicted && self.len(SMALL) >= self.small_max {
            self.insert(a.page, MAIN);
        } else {
            self.insert(a.page, SMALL);
        }
        false
    }
}
