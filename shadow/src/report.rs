//! Reports in KMSAN's format, and where they go.
//!
//! A report reads like the kernel's:
//!
//! ```text
//! =====================================================
//! BUG: KMSAN: uninit-value in my_crate::parse
//!  my_crate::parse at src/parse.rs:40:13
//!
//! Uninit was stored to memory at:
//!  my_crate::copy_in at src/parse.rs:12:5
//!
//! Uninit was created at:
//!  my_crate::alloc_buf at src/parse.rs:5:9
//!  (allocation)
//!
//! Bytes 4-7 of 8 are uninitialized
//! Memory access of size 8 starts at 0x1000
//! =====================================================
//! ```
//!
//! Sinks ([`Mode`]): `Panic` (fuzzing: the panic message starts with the title line, which
//! the harness turns into the title `KMSAN: uninit-value in <function>`) and `Collect`
//! (tests and the CLI: reports accumulate and [`take_reports`] returns them).

use crate::origin::{Origin, Site};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// The kind of bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BugKind {
    /// An uninitialized value was used.
    UninitValue,
    /// Freed memory was used (KASAN's report, which KMSAN does not make).
    UseAfterFree,
}

impl BugKind {
    /// `uninit-value` or `use-after-free`.
    pub fn as_str(self) -> &'static str {
        match self {
            BugKind::UninitValue => "uninit-value",
            BugKind::UseAfterFree => "use-after-free",
        }
    }
}

/// One report: one maximal run of poisoned bytes with one origin, or one poisoned value.
#[derive(Debug, Clone)]
pub struct Report {
    /// What went wrong.
    pub kind: BugKind,
    /// Where the value was used.
    pub site: Site,
    /// Where the bytes came from.
    pub origin: Option<Origin>,
    /// `(first, last, size)`: the poisoned run within the access, inclusive.
    pub bytes: Option<(usize, usize, usize)>,
    /// The address of the access, if it was a memory access.
    pub addr: Option<usize>,
}

impl Report {
    /// The dedup title: `KMSAN: <kind> in <function>`.
    pub fn title(&self) -> String {
        format!("KMSAN: {} in {}", self.kind.as_str(), self.site.name())
    }

    /// The report text, starting with its `BUG:` line.
    pub fn body(&self) -> String {
        let mut s = format!("BUG: {}\n", self.title());
        s.push_str(&self.site.frames());
        s.push('\n');
        if let Some(o) = self.origin {
            s.push_str(&o.render());
        }
        if let Some((first, last, size)) = self.bytes {
            s.push('\n');
            if first == last {
                let _ = writeln!(s, "Byte {first} of {size} is uninitialized");
            } else {
                let _ = writeln!(s, "Bytes {first}-{last} of {size} are uninitialized");
            }
            if let Some(a) = self.addr {
                let _ = writeln!(s, "Memory access of size {size} starts at {a:#x}");
            }
        }
        s
    }

    /// The full report with KMSAN's separators.
    pub fn render(&self) -> String {
        let sep = "=====================================================\n";
        format!("{sep}{}{sep}", self.body())
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// Where reports go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Panic with the report (the default; what fuzzing wants).
    Panic,
    /// Keep the report for [`take_reports`].
    Collect,
}

static MODE: AtomicU8 = AtomicU8::new(0);
static COLLECTED: Mutex<Vec<Report>> = Mutex::new(Vec::new());

/// Sets where reports go (process-wide).
pub fn set_mode(m: Mode) {
    MODE.store(
        match m {
            Mode::Panic => 0,
            Mode::Collect => 1,
        },
        Ordering::SeqCst,
    );
}

/// Where reports go now.
pub fn mode() -> Mode {
    if MODE.load(Ordering::SeqCst) == 1 {
        Mode::Collect
    } else {
        Mode::Panic
    }
}

/// Takes the collected reports.
pub fn take_reports() -> Vec<Report> {
    std::mem::take(&mut *COLLECTED.lock().unwrap_or_else(|e| e.into_inner()))
}

std::thread_local! {
    static SCOPED: std::cell::RefCell<Option<Vec<Report>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the reports of this OS thread collected instead of sent to the global sink,
/// and returns them. (Model executions under loom and shuttle run on one OS thread, so this
/// also collects from every model thread of an execution run inside `f`.)
pub fn collect<R>(f: impl FnOnce() -> R) -> (R, Vec<Report>) {
    /// Restores the enclosing scope even if `f` unwinds, so a panic inside a scope never
    /// leaves this thread's later reports swallowed.
    struct Scope(Option<Option<Vec<Report>>>);
    impl Scope {
        fn close(&mut self) -> Vec<Report> {
            let prev = self.0.take().unwrap_or_default();
            SCOPED
                .with(|s| std::mem::replace(&mut *s.borrow_mut(), prev))
                .unwrap_or_default()
        }
    }
    impl Drop for Scope {
        fn drop(&mut self) {
            if self.0.is_some() {
                self.close();
            }
        }
    }
    let mut scope = Scope(Some(SCOPED.with(|s| s.borrow_mut().replace(Vec::new()))));
    let r = f();
    let got = scope.close();
    (r, got)
}

/// Files a report: nothing while the runtime is disabled on this thread or already
/// reporting (the reentrancy guard); into the innermost [`collect`] scope of this thread if
/// there is one; else panic or collect per [`mode`].
pub fn emit(r: Report) {
    if !crate::runtime::reporting_allowed() {
        return;
    }
    let _guard = crate::runtime::enter();
    let r = match SCOPED.with(|s| match s.borrow_mut().as_mut() {
        Some(v) => {
            v.push(r);
            None
        }
        None => Some(r),
    }) {
        None => return,
        Some(r) => r,
    };
    match mode() {
        Mode::Collect => COLLECTED.lock().unwrap_or_else(|e| e.into_inner()).push(r),
        Mode::Panic => {
            let body = r.body();
            drop(_guard);
            panic!("{body}");
        }
    }
}
