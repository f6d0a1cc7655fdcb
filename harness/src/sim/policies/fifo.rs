//! FIFO, as libCacheSim's `FIFO.c`: a hit changes nothing, a miss evicts the oldest page if
//! the cache is full and inserts the new one. Kept as a ring of frames (the oldest page sits
//! at the hand), which evicts in exactly the queue's order. No deviation.

use crate::sim::{Access, PageSet, Policy};

/// First in, first out.
pub struct Fifo {
    frames: usize,
    set: PageSet,
    ring: Vec<u64>,
    hand: usize,
}

impl Fifo {
    /// An empty FIFO cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        Fifo {
            frames,
            set: PageSet::with_capacity_and_hasher(frames.min(1 << 20), Default::default()),
            ring: Vec::with_capacity(frames.min(1 << 20)),
            hand: 0,
        }
    }
}

impl Policy for Fifo {
    fn name(&self) -> String {
        "fifo".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        if self.set.contains(&a.page) {
            return true;
        }
        if self.frames == 0 {
            return false;
        }
        if self.ring.len() < self.frames {
            self.ring.push(a.page);
        } else {
            let old = std::mem::replace(&mut self.ring[self.hand], a.page);
            self.set.remove(&old);
            self.hand = (self.hand + 1) % self.frames;
        }
        self.set.insert(a.page);
        false
    }
}
