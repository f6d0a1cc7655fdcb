//! Origins: where uninitialized memory was created, and the chain of stores it went through.
//!
//! KMSAN keeps one 4-byte origin per 4 aligned bytes of memory: a stack-depot handle of the
//! allocation (or free) that created the poison, or of a *chain* record saying "this value
//! was stored to memory here, and before that came from origin X". Chains are at most
//! [`MAX_ORIGIN_DEPTH`] deep; once a chain is that deep new stores no longer extend it, and
//! the report says that stacks were dropped. A use-after-free bit travels along the chain.
//!
//! Here an origin is an index into a process-wide, append-only table. A "stack" is the
//! `#[track_caller]` location, the function name when the caller gave one, and a captured
//! backtrace when `MMCHECK_BACKTRACE=1`.

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::panic::Location;
use std::sync::{Arc, OnceLock, RwLock};

/// KMSAN's cap on origin chain depth (`KMSAN_MAX_ORIGIN_DEPTH`).
pub const MAX_ORIGIN_DEPTH: u8 = 7;

/// What created the uninitialized bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Created {
    /// An allocation that was not zeroed.
    Alloc,
    /// An explicit poison (`kmsan_poison_memory`).
    Poison,
    /// A free: the memory is dead (reported as use-after-free).
    Free,
    /// A local variable or value created uninitialized.
    Local,
}

/// Where something happened: a source location, an optional function name, an optional
/// backtrace.
#[derive(Debug, Clone)]
pub struct Site {
    /// The `#[track_caller]` location.
    pub location: &'static Location<'static>,
    /// The function, when the caller named it (the checking macros do).
    pub function: Option<&'static str>,
    /// A captured backtrace (`MMCHECK_BACKTRACE=1`).
    pub backtrace: Option<Arc<str>>,
}

impl Site {
    /// A site at `location`, capturing a backtrace if `MMCHECK_BACKTRACE=1`.
    pub fn new(location: &'static Location<'static>, function: Option<&'static str>) -> Self {
        let backtrace = backtraces_enabled()
            .then(|| Arc::from(std::backtrace::Backtrace::force_capture().to_string()));
        Site {
            location,
            function,
            backtrace,
        }
    }

    /// The caller's site.
    #[track_caller]
    pub fn here() -> Self {
        Site::new(Location::caller(), None)
    }

    /// The name a report uses for this site: the function if known, else `file:line`.
    pub fn name(&self) -> String {
        match self.function {
            Some(f) => f.to_string(),
            None => format!("{}:{}", self.location.file(), self.location.line()),
        }
    }

    /// The indented frame lines of a report block.
    pub fn frames(&self) -> String {
        let mut s = format!(
            " {} at {}:{}:{}\n",
            self.function.unwrap_or("<fn>"),
            self.location.file(),
            self.location.line(),
            self.location.column()
        );
        if let Some(bt) = &self.backtrace {
            for l in bt.lines() {
                let _ = writeln!(s, "  {}", l.trim_end());
            }
        }
        s
    }
}

fn backtraces_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("MMCHECK_BACKTRACE").is_ok_and(|v| v == "1"))
}

#[derive(Debug, Clone)]
enum Link {
    Created(Created, Site),
    Stored { at: Site, prev: Origin },
}

#[derive(Debug, Clone)]
struct Entry {
    link: Link,
    depth: u8,
    uaf: bool,
}

fn table() -> &'static RwLock<Vec<Entry>> {
    static T: OnceLock<RwLock<Vec<Entry>>> = OnceLock::new();
    T.get_or_init(|| RwLock::new(Vec::new()))
}

fn push(e: Entry) -> Origin {
    let mut t = table().write().unwrap_or_else(|e| e.into_inner());
    t.push(e);
    let id = u32::try_from(t.len()).expect("fewer than 2^32 origins");
    Origin(NonZeroU32::new(id).expect("ids start at 1"))
}

fn entry(o: Origin) -> Entry {
    let t = table().read().unwrap_or_else(|e| e.into_inner());
    t[o.0.get() as usize - 1].clone()
}

/// A handle to an origin record. Copy it freely; the record lives for the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin(NonZeroU32);

impl Origin {
    /// A new root origin created at the caller.
    #[track_caller]
    pub fn new(what: Created) -> Origin {
        Origin::new_at(what, Site::new(Location::caller(), None))
    }

    /// A new root origin created at `site`.
    pub fn new_at(what: Created, site: Site) -> Origin {
        push(Entry {
            link: Link::Created(what, site),
            depth: 0,
            uaf: what == Created::Free,
        })
    }

    /// A root origin of kind `what` at `location`, deduplicated the way KMSAN's stack depot
    /// deduplicates identical stacks: without backtraces (`MMCHECK_BACKTRACE` unset) every
    /// call with the same kind and location returns the same origin, so an allocation site
    /// that runs millions of times adds one record to the (append-only) origin table, not
    /// millions; with backtraces each call records its own, as the stacks may differ.
    pub fn depot(what: Created, location: &'static Location<'static>) -> Origin {
        type Depot = std::sync::Mutex<std::collections::HashMap<(Created, usize), Origin>>;
        static DEPOT: OnceLock<Depot> = OnceLock::new();
        std::thread_local! {
            /// The last lookup of this thread: a site that allocates in a loop skips the lock.
            static LAST: std::cell::Cell<Option<(Created, usize, Origin)>> =
                const { std::cell::Cell::new(None) };
        }
        if backtraces_enabled() {
            return Origin::new_at(what, Site::new(location, None));
        }
        let key = (what, std::ptr::from_ref(location) as usize);
        if let Some((w, l, o)) = LAST.with(std::cell::Cell::get) {
            if (w, l) == key {
                return o;
            }
        }
        let mut d = DEPOT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let o = *d
            .entry(key)
            .or_insert_with(|| Origin::new_at(what, Site::new(location, None)));
        LAST.with(|c| c.set(Some((what, key.1, o))));
        o
    }

    /// The raw id (never 0), as stored in origin slots.
    pub fn raw(self) -> u32 {
        self.0.get()
    }

    /// The origin with raw id `raw`, if it is not 0.
    pub fn from_raw(raw: u32) -> Option<Origin> {
        NonZeroU32::new(raw).map(Origin)
    }

    /// Adds a "stored to memory at `at`" link in front of this origin, unless the chain is
    /// already [`MAX_ORIGIN_DEPTH`] deep, in which case it is returned unchanged.
    pub fn chain(self, at: Site) -> Origin {
        let e = entry(self);
        if e.depth >= MAX_ORIGIN_DEPTH {
            return self;
        }
        push(Entry {
            link: Link::Stored { at, prev: self },
            depth: e.depth + 1,
            uaf: e.uaf,
        })
    }

    /// Chain depth: 0 for a root origin.
    pub fn depth(self) -> u8 {
        entry(self).depth
    }

    /// Whether the chain ends in a free (the bytes are dead, not merely uninitialized).
    pub fn is_uaf(self) -> bool {
        entry(self).uaf
    }

    /// What created the bytes, and where (the root of the chain).
    pub fn root(self) -> (Created, Site) {
        let mut o = self;
        loop {
            match entry(o).link {
                Link::Created(c, s) => return (c, s),
                Link::Stored { prev, .. } => o = prev,
            }
        }
    }

    /// The store sites of the chain, most recent first.
    pub fn stores(self) -> Vec<Site> {
        let mut v = Vec::new();
        let mut o = self;
        loop {
            match entry(o).link {
                Link::Created(..) => return v,
                Link::Stored { at, prev } => {
                    v.push(at);
                    o = prev;
                }
            }
        }
    }

    /// The origin part of a KMSAN report: one `Uninit was stored to memory at:` block per
    /// link, most recent first, then `Uninit was created at:`.
    pub fn render(self) -> String {
        let mut s = String::new();
        if self.depth() >= MAX_ORIGIN_DEPTH {
            s.push_str("<Zero or more stacks not recorded to save memory>\n\n");
        }
        for at in self.stores() {
            s.push_str("Uninit was stored to memory at:\n");
            s.push_str(&at.frames());
            s.push('\n');
        }
        let (what, site) = self.root();
        let label = match what {
            Created::Alloc => "allocation",
            Created::Poison => "poison",
            Created::Free => "free",
            Created::Local => "local",
        };
        s.push_str("Uninit was created at:\n");
        s.push_str(&site.frames());
        let _ = writeln!(s, " ({label})");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_stop_at_the_max_depth() {
        let mut o = Origin::new(Created::Alloc);
        for i in 1..=10u8 {
            let n = o.chain(Site::here());
            if i <= MAX_ORIGIN_DEPTH {
                assert_ne!(n, o);
                assert_eq!(n.depth(), i);
            } else {
                assert_eq!(n, o, "chain extended past the max depth");
            }
            o = n;
        }
        assert_eq!(o.stores().len(), usize::from(MAX_ORIGIN_DEPTH));
        let r = o.render();
        assert!(
            r.starts_with("<Zero or more stacks not recorded to save memory>"),
            "{r}"
        );
        assert_eq!(r.matches("Uninit was stored to memory at:").count(), 7);
        assert!(r.contains("Uninit was created at:"));
    }

    #[test]
    fn depot_keeps_one_origin_per_site() {
        let at = |l: &'static Location<'static>| Origin::depot(Created::Alloc, l);
        let (a, b) = (Location::caller(), Location::caller());
        assert_eq!(at(a), at(a));
        assert_eq!(at(a).root().0, Created::Alloc);
        assert_eq!(at(a).root().1.location, a);
        assert_ne!(at(a), Origin::depot(Created::Poison, a));
        if a != b {
            assert_ne!(at(a), at(b));
        }
    }

    #[test]
    fn uaf_bit_travels_along_the_chain() {
        let f = Origin::new(Created::Free);
        assert!(f.is_uaf());
        assert!(f.chain(Site::here()).is_uaf());
        assert!(!Origin::new(Created::Alloc).is_uaf());
        assert_eq!(f.root().0, Created::Free);
    }
}
