//! `shadow`: a KMSAN-like shadow-poison sanitizer for the algorithms of mmcheck.
//!
//! Kernel reference: `mm/kmsan/` (core.c, shadow.c, report.c, hooks.c),
//! `include/linux/kmsan.h`, `Documentation/dev-tools/kmsan.rst`, `mm/kmsan/kmsan_test.c`.
//!
//! What is faithful: bit-precise shadow (one shadow bit per data bit, set = uninitialized);
//! one origin per 4 aligned bytes; origin chains with a "stored to memory at" link per store
//! of an uninitialized value, capped at depth 7 with deeper stores summarized; memmove of
//! metadata byte by byte in the direction that reads an overlapping source first; a check
//! reports one report per maximal run of poisoned bytes with one origin; copying an
//! uninitialized value is silent and *using* it reports; KMSAN's report format.
//!
//! What differs: there is no compiler instrumentation. Code opts in: it keeps values read
//! from checked memory as [`Tainted`] (whose operators propagate shadow by KMSAN's rules) and
//! checks where it uses them, or checks memory ranges explicitly. A stack is the
//! `#[track_caller]` location (plus a backtrace with `MMCHECK_BACKTRACE=1`). Beyond KMSAN,
//! accesses to freed memory are reported as `use-after-free`, as KASAN would.
//!
//! Three memories: [`Sandbox`] owns its bytes (tests, the fuzz target, fast paths),
//! [`registry`] keys shadow by real address for memory the algorithms own, and [`words`] is
//! a direct shadow (address arithmetic, one load) for allocator-managed objects accessed in
//! whole words, such as the maple tree's nodes. The per-access entry points of [`words`] are
//! exported as `__sanitizer_*` symbols, which SanitizerCoverage leaves uninstrumented, so
//! fuzz builds do not trace the runtime's own comparisons (as KMSAN's runtime is not
//! instrumented).
//! Reports go to a panic or a collector ([`report`]); [`runtime::disable`] silences the
//! current thread as `kmsan_disable_current()` does; the runtime never reports on itself.

pub mod meta;
pub mod origin;
pub mod registry;
pub mod report;
pub mod runtime;
pub mod sandbox;
pub mod value;
pub mod words;

pub use meta::{Meta, Run};
pub use origin::{Created, Origin, Site, MAX_ORIGIN_DEPTH};
pub use report::{collect, BugKind, Mode, Report};
pub use runtime::disable;
pub use sandbox::{Sandbox, SandboxError, Window};
pub use value::{Prim, Tainted, TaintedBool};

/// The path of the enclosing function, for naming the use site in reports:
/// `shadow::function!()` inside `fn parse` of `my_crate::io` gives `"my_crate::io::parse"`,
/// also from inside a closure in `parse`.
#[macro_export]
macro_rules! function {
    () => {{
        fn f() {}
        let name = ::std::any::type_name_of_val(&f);
        let mut name = &name[..name.len() - 3];
        // Inside closures the path ends in `::{{closure}}`: name the enclosing function.
        while let Some(outer) = name.strip_suffix("::{{closure}}") {
            name = outer;
        }
        name
    }};
}

/// Uses a [`Tainted`] value, reporting if it is uninitialized, with the enclosing function
/// named in the report: `check!(v)` is `v.check_in(Some(function!()))`.
#[macro_export]
macro_rules! check {
    ($v:expr) => {
        $v.check_in(::core::option::Option::Some($crate::function!()))
    };
}
