//! LRU, as libCacheSim's `LRU.c`: a hit moves the page to the head of one list, a miss inserts
//! it at the head after evicting the tail if the cache is full. No deviation.

use super::{Arena, List};
use crate::sim::{page_map, Access, PageMap, Policy};

/// Least recently used.
pub struct Lru {
    frames: usize,
    map: PageMap<u32>,
    arena: Arena<()>,
    list: List,
}

impl Lru {
    /// An empty LRU cache of `frames` page frames.
    pub fn new(frames: usize) -> Self {
        Lru {
            frames,
            map: page_map(frames),
            arena: Arena::with_capacity(frames),
            list: List::default(),
        }
    }
}

impl Policy for Lru {
    fn name(&self) -> String {
        "lru".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        if let Some(&i) = self.map.get(&a.page) {
            self.arena.move_to_head(&mut self.list, i);
            return true;
        }
        if self.frames == 0 {
            return false;
        }
        let i = if self.list.len() >= self.frames {
            // Reuse the evicted tail's node for the new page.
            let t = self
                .arena
                .pop_tail(&mut self.list)
                .expect("a full cache has a tail");
            self.map.remove(&self.arena.page(t));
            self.arena.node_mut(t).page = a.page;
            t
        } else {
            self.arena.alloc(a.page, ())
        };
        self.arena.push_head(&mut self.list, i);
        self.map.insert(a.page, i);
        false
    }
}
