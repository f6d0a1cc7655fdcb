//! Belady's MIN, as libCacheSim's `Belady.c` over an `oracleGeneral` trace (which carries each
//! request's next-access time): on a miss with a full cache, the resident page whose next use
//! lies farthest in the future (or never comes) is evicted, and the missed page is always
//! inserted. Pages never used again tie; which of them goes does not change the miss count.
//!
//! The next-use times are computed from the trace when the policy is built, so the policy
//! must then be fed exactly that trace, in order (a hit on a page not due at that position
//! panics). The resident pages sit in a max-heap indexed by frame, keyed by next use: an
//! access costs `O(log frames)` and memory is 4 bytes per trace access plus the frames.

use crate::sim::{page_map, Access, PageMap, Policy, Trace};

const NEVER: u32 = u32::MAX;

/// Belady's MIN (the optimal offline policy for a demand-paged cache).
pub struct Opt {
    frames: usize,
    /// The position of the next access to the page accessed at each position.
    next: Vec<u32>,
    /// The next trace position to be accessed.
    pos: usize,
    map: PageMap<u32>,
    /// Per frame: its page and that page's next use.
    page: Vec<u64>,
    key: Vec<u32>,
    /// A max-heap of frames by `key`, and each frame's position in it.
    heap: Vec<u32>,
    heap_pos: Vec<u32>,
}

impl Opt {
    /// Belady's MIN with `frames` page frames for `trace`; errors if the trace has 2^32 - 1
    /// accesses or more.
    pub fn new(frames: usize, trace: &Trace) -> Result<Self, String> {
        let n = trace.len();
        if n >= NEVER as usize {
            return Err(format!(
                "opt handles fewer than {NEVER} accesses, the trace has {n}"
            ));
        }
        let mut next = vec![NEVER; n];
        let mut last: PageMap<u32> = page_map(n / 2);
        for (i, &p) in trace.pages().iter().enumerate().rev() {
            if let Some(j) = last.insert(p, i as u32) {
                next[i] = j;
            }
        }
        let cap = frames.min(n).min(1 << 20);
        Ok(Opt {
            frames,
            next,
            pos: 0,
            map: page_map(cap),
            page: Vec::with_capacity(cap),
            key: Vec::with_capacity(cap),
            heap: Vec::with_capacity(cap),
            heap_pos: Vec::with_capacity(cap),
        })
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.heap_pos[self.heap[a] as usize] = a as u32;
        self.heap_pos[self.heap[b] as usize] = b as u32;
    }

    fn k(&self, h: usize) -> u32 {
        self.key[self.heap[h] as usize]
    }

    fn sift_up(&mut self, mut h: usize) {
        while h > 0 {
            let parent = (h - 1) / 2;
            if self.k(parent) >= self.k(h) {
                break;
            }
            self.swap(parent, h);
            h = parent;
        }
    }

    fn sift_down(&mut self, mut h: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * h + 1, 2 * h + 2);
            let mut big = h;
            if l < n && self.k(l) > self.k(big) {
                big = l;
            }
            if r < n && self.k(r) > self.k(big) {
                big = r;
            }
            if big == h {
                return;
            }
            self.swap(h, big);
            h = big;
        }
    }
}

impl Policy for Opt {
    fn name(&self) -> String {
        "opt".to_string()
    }

    fn access(&mut self, a: Access) -> bool {
        let i = self.pos;
        assert!(
            i < self.next.len(),
            "opt fed more accesses than its trace has"
        );
        self.pos += 1;
        let nx = self.next[i];
        if let Some(&f) = self.map.get(&a.page) {
            let f = f as usize;
            assert_eq!(
                self.key[f], i as u32,
                "opt fed an access out of its trace's order"
            );
            self.key[f] = nx;
            self.sift_up(self.heap_pos[f] as usize);
            return true;
        }
        if self.frames == 0 {
            return false;
        }
        let f = if self.page.len() < self.frames {
            let f = self.page.len() as u32;
            self.page.push(a.page);
            self.key.push(nx);
            self.heap_pos.push(self.heap.len() as u32);
            self.heap.push(f);
            self.sift_up(self.heap.len() - 1);
            f
        } else {
            let f = self.heap[0];
            let old = std::mem::replace(&mut self.page[f as usize], a.page);
            self.map.remove(&old);
            self.key[f as usize] = nx;
            self.sift_down(0);
            f
        };
        self.map.insert(a.page, f);
        false
    }
}
