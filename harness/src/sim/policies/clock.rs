//! CLOCK with one reference bit, as libCacheSim's `Clock.c` with its defaults
//! (`n-bit-counter=1`, `init-freq=0`): a page is inserted with its bit clear, a hit sets it;
//! to evict, the hand clears set bits and passes on (libCacheSim moves such a page from the
//! tail to the head of its queue, which a ring with a hand does in the same order) and takes
//! the first page whose bit is clear, whose frame the new page then takes. No deviation.

use crate::sim::{page_map, Access, PageMap, Policy};

/// CLOCK (second chance).
pub struct Clock {
    frames: usize,
    map: PageMap<u32>,
    pages: Vec<u64>,
    referenced: Vec<bool>,
    hand: usize,
}

impl Clock {
    /// An empty CLOCK cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        Clock {
            frames,
            map: page_map(frames),
            pages: Vec::with_capacity(frames.min(1 << 20)),
            referenced: Vec::with_capacity(frames.min(1 << 20)),
            hand: 0,
        }
    }
}

impl Policy for Clock {
    fn name(&self) -> String {
        "clock".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        if let Some(&slot) = self.map.get(&a.page) {
            self.referenced[slot as usize] = true;
            return true;
        }
        if self.frames == 0 {
            return false;
        }
        if self.pages.len() < self.frames {
            self.map.insert(a.page, self.pages.len() as u32);
            self.pages.push(a.page);
            self.referenced.push(false);
            return false;
        }
        while self.referenced[self.hand] {
            self.referenced[self.hand] = false;
            self.hand = (self.hand + 1) % self.frames;
        }
        let old = std::mem::replace(&mut self.pages[self.hand], a.page);
        self.map.remove(&old);
        self.map.insert(a.page, self.hand as u32);
        self.hand = (self.hand + 1) % self.frames;
        false
    }
}
