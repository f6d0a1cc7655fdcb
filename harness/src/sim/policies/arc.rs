//! ARC (Megiddo and Modha, FAST '03), as libCacheSim's `ARC.c`.
//!
//! Four lists share one arena: T1 and T2 hold resident pages (seen once, seen twice or
//! more), B1 and B2 the ghosts they evicted. libCacheSim's details, all kept:
//!
//! - the target size `p` of T1 is a float: a B1 hit adds `max(|B2| / |B1|, 1)` (a float
//!   division, sizes taken before the ghost is removed), capped at the cache size; a B2 hit
//!   subtracts `max(|B1| / |B2|, 1)`, floored at 0;
//! - REPLACE evicts T1's tail to B1 when `|T1| > 0 and (|T1| > p or (|T1| = p and the request
//!   hit B2))`, **or when T2 is empty**; otherwise T2's tail to B2;
//! - on a miss that hit no ghost: if `|T1| + |B1| + 1 > c`, then B1's tail is dropped and
//!   REPLACE runs if B1 is not empty, else T1's tail is dropped without a ghost; otherwise,
//!   if `|T1| + |B1| + |T2| + |B2| >= 2c`, B2's tail is dropped (if any), and REPLACE runs;
//! - a ghost hit removes the ghost, runs REPLACE only if the cache is full, and inserts the
//!   page at T2's head; other misses insert at T1's head.

use super::{Arena, List};
use crate::sim::{page_map, Access, PageMap, Policy};

const T1: u8 = 0;
const T2: u8 = 1;
const B1: u8 = 2;
const B2: u8 = 3;

/// Adaptive replacement cache.
pub struct Arc {
    frames: usize,
    map: PageMap<u32>,
    arena: Arena<u8>,
    /// T1, T2, B1, B2, indexed by the constants above.
    lists: [List; 4],
    p: f64,
}

impl Arc {
    /// An empty ARC cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        Arc {
            frames,
            map: page_map(2 * frames),
            arena: Arena::with_capacity(2 * frames),
            lists: [List::default(); 4],
            p: 0.0,
        }
    }

    fn len(&self, l: u8) -> usize {
        self.lists[l as usize].len()
    }

    /// Moves node `i` from list `from` to the head of list `to`.
    fn shift(&mut self, i: u32, from: u8, to: u8) {
        self.arena.unlink(&mut self.lists[from as usize], i);
        self.arena.push_head(&mut self.lists[to as usize], i);
        self.arena.node_mut(i).data = to;
    }

    /// Drops the tail of list `l` entirely (page forgotten).
    fn drop_tail(&mut self, l: u8) {
        if let Some(t) = self.arena.pop_tail(&mut self.lists[l as usize]) {
            self.map.remove(&self.arena.page(t));
            self.arena.release(t);
        }
    }

    /// The paper's REPLACE: demotes T1's or T2's tail to its ghost list.
    fn replace(&mut self, hit_b2: bool) {
        let t1 = self.len(T1);
        let t1f = t1 as f64;
        let from_t1 = (t1 > 0 && (t1f > self.p || (t1f == self.p && hit_b2))) || self.len(T2) == 0;
        let (from, to) = if from_t1 { (T1, B1) } else { (T2, B2) };
        if let Some(t) = self.lists[from as usize].tail() {
            self.shift(t, from, to);
        }
    }

    /// One eviction for a miss that hit no ghost (the paper's case IV).
    fn evict_cold(&mut self) {
        let (t1, b1) = (self.len(T1), self.len(B1));
        if t1 + b1 + 1 > self.frames {
            if b1 > 0 {
                self.drop_tail(B1);
                self.replace(false);
            } else {
                self.drop_tail(T1);
            }
        } else {
            if t1 + b1 + self.len(T2) + self.len(B2) >= 2 * self.frames && self.len(B2) > 0 {
                self.drop_tail(B2);
            }
            self.replace(false);
        }
    }
}

impl Policy for Arc {
    fn name(&self) -> String {
        "arc".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        let mut ghost = None;
        if let Some(&i) = self.map.get(&a.page) {
            match self.arena.node(i).data {
                T1 => {
                    self.shift(i, T1, T2);
                    return true;
                }
                T2 => {
                    self.arena.move_to_head(&mut self.lists[T2 as usize], i);
                    return true;
                }
                g => {
                    let (b1, b2) = (self.len(B1) as f64, self.len(B2) as f64);
                    if g == B1 {
                        self.p = (self.p + (b2 / b1).max(1.0)).min(self.frames as f64);
                    } else {
                        self.p = (self.p - (b1 / b2).max(1.0)).max(0.0);
                    }
                    self.arena.unlink(&mut self.lists[g as usize], i);
                    self.arena.release(i);
                    self.map.remove(&a.page);
                    ghost = Some(g);
                }
            }
        }
        if self.frames == 0 {
            return false;
        }
        while self.len(T1) + self.len(T2) + 1 > self.frames {
            match ghost {
                Some(g) => self.replace(g == B2),
                None => self.evict_cold(),
            }
        }
        let to = if ghost.is_some() { T2 } else { T1 };
        let i = self.arena.alloc(a.page, to);
        self.arena.push_head(&mut self.lists[to as usize], i);
        self.map.insert(a.page, i);
        false
    }
}
