//! Failure reports: a syzkaller-style title, the decoded input, a Lincheck-style table of
//! operations per thread, the schedule, and a ready-to-paste `#[test]`.

use std::fmt::Write as _;

/// How to reproduce a failure through exactly the code path that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repro {
    /// Bytes for the target's fuzz entry ([`crate::registry::run`]); also what a corpus file
    /// holds.
    Input(Vec<u8>),
    /// The op chunks of a proptest case ([`crate::engine::proptest::replay`]).
    Chunks(Vec<Vec<u8>>),
}

/// A bug found by an engine.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The checker that fired: `DIFF`, `INVARIANT`, `VALIDATE`, `LINEARIZABILITY`, `PANIC`,
    /// or whatever a `BUG: <CHECKER>: ...` panic of the code under test names (`RCU`).
    pub checker: String,
    /// What went wrong (`result mismatch`, `use-after-free`, ...).
    pub kind: String,
    /// Where: an operation name or a source location.
    pub function: String,
    /// The target's registry name.
    pub target: String,
    /// The details (model vs. real, panic message).
    pub details: String,
    /// The decoded input (`Debug`).
    pub decoded: String,
    /// The per-thread table of operations and results, if the engine recorded one.
    pub table: Option<String>,
    /// The schedule that exposes the bug, if a schedule engine found it (hex bytes).
    pub schedule: Option<String>,
    /// The failing interleaving rendered per thread, if a schedule engine found it.
    pub interleaving: Option<String>,
    /// How to reproduce it.
    pub repro: Option<Repro>,
    /// The reproducer as typed Rust (`use` lines, then an expression building the input, or
    /// for a schedule target a `(Scenario, schedule bytes)` pair): the regression test that
    /// survives changes to the byte decoder.
    pub typed: Option<(String, String)>,
}

/// The variable parts of a panic message taken out of its title, so that one bug found at
/// another address, on another CPU or with other counts gets the same title (the dedup
/// key): hexadecimal numbers become `0x?`, other numbers standing alone become `N`.
/// Numbers inside identifiers (`u64`, `free_llist2`) and the message's details are kept.
pub fn normalize_title(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !word_before && b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            if j > i + 2 {
                out.push_str("0x?");
                i = j;
                continue;
            }
        }
        if !word_before && b[i].is_ascii_digit() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == b.len() || !(b[j].is_ascii_alphabetic() || b[j] == b'_') {
                out.push('N');
                i = j;
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

impl Failure {
    /// A failure with the given title parts and details; the rest is filled in by engines.
    pub fn new(
        checker: impl Into<String>,
        kind: impl Into<String>,
        function: impl Into<String>,
        details: impl Into<String>,
    ) -> Self {
        Failure {
            checker: checker.into(),
            kind: kind.into(),
            function: function.into(),
            target: String::new(),
            details: details.into(),
            decoded: String::new(),
            table: None,
            schedule: None,
            interleaving: None,
            repro: None,
            typed: None,
        }
    }

    /// A failure from a panic message. A message of the form `BUG: <CHECKER>: <kind> in
    /// <function>` (the sanitizer's and model RCU's reports) keeps its title, its kind
    /// normalized as [`normalize_title`] does (a check that names tasks, locks or counts
    /// in its first line gives one title for one bug); any other panic becomes
    /// `PANIC: <first line> in <location>`, normalized likewise. The message, numbers and
    /// all, is the report's details.
    pub fn from_panic(msg: &str, location: &str) -> Self {
        let first = msg.lines().next().unwrap_or("");
        if let Some(rest) = first.strip_prefix("BUG: ") {
            if let Some((checker, tail)) = rest.split_once(": ") {
                let (kind, func) = tail.rsplit_once(" in ").unwrap_or((tail, location));
                return Failure::new(checker, normalize_title(kind), func, msg);
            }
        }
        let mut head: String = normalize_title(first).chars().take(80).collect();
        if head.is_empty() {
            head = "panic".into();
        }
        Failure::new("PANIC", head, location, msg)
    }

    /// The dedup key: `<CHECKER>: <kind> in <function>`.
    pub fn title(&self) -> String {
        format!("{}: {} in {}", self.checker, self.kind, self.function)
    }

    /// A stable short hash of the title, used for crash directory names.
    pub fn title_hash(&self) -> String {
        format!("{:016x}", fnv1a(self.title().as_bytes()))
    }

    /// The `#[test]` that reproduces this failure, ready to paste into `harness/tests/integration/regressions.rs`.
    pub fn repro_test(&self) -> Option<String> {
        let name = format!("repro_{}_{}", self.target, &self.title_hash()[..8]);
        let body = match self.repro.as_ref()? {
            Repro::Input(bytes) => format!(
                "    let input: &[u8] = &{};\n    harness::registry::expect_pass({:?}, input);\n",
                hex_array(bytes),
                self.target
            ),
            Repro::Chunks(chunks) => {
                let mut s = String::from("    let chunks: Vec<Vec<u8>> = vec![\n");
                for c in chunks {
                    let _ = writeln!(s, "        {}.to_vec(),", hex_array(c));
                }
                let _ = writeln!(
                    s,
                    "    ];\n    harness::registry::expect_pass_chunks({:?}, &chunks);",
                    self.target
                );
                s
            }
        };
        let mut out = format!(
            "// {}\n#[test]\nfn {}() {{\n{}}}\n",
            self.title(),
            name.replace('-', "_"),
            body
        );
        if let Some((imports, expr)) = &self.typed {
            let _ = write!(
                out,
                "\n// The same input, typed: survives changes to the byte decoder.\n#[test]\nfn {}_typed() {{\n{imports}    let input = {expr};\n    harness::registry::expect_pass_typed({:?}, input);\n}}\n",
                name.replace('-', "_"),
                self.target
            );
        }
        Some(out)
    }

    /// The whole report as text. Its first line is the title, prefixed so tools can find it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "MMCHECK-TITLE: {}", self.title());
        let _ = writeln!(s, "target: {}", self.target);
        let _ = writeln!(s, "\n{}", self.details.trim_end());
        if !self.decoded.is_empty() {
            let _ = writeln!(s, "\ninput (decoded):\n{}", self.decoded.trim_end());
        }
        if let Some(t) = &self.table {
            let _ = writeln!(s, "\n{}", t.trim_end());
        }
        if let Some(il) = &self.interleaving {
            let _ = writeln!(s, "\n{}", il.trim_end());
        }
        if let Some(sch) = &self.schedule {
            let _ = writeln!(s, "\nschedule (hex, replayable): {sch}");
        }
        if let Some(Repro::Input(b)) = &self.repro {
            let _ = writeln!(s, "\nreproducer input (hex): {}", hex(b));
        }
        if let Some(t) = self.repro_test() {
            let _ = writeln!(s, "\nregression test:\n{t}");
        }
        s
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Failure {}

/// One row of a trace table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Column: `init`, `post`, or the thread number.
    pub column: String,
    /// The operation and its result, e.g. `Pop -> Some(3)`.
    pub text: String,
    /// Logical time of the call.
    pub call: u64,
    /// Logical time of the return.
    pub ret_at: u64,
    /// Marked rows are the ones the checker could not place.
    pub marked: bool,
}

/// Renders a Lincheck-style table: one column per thread, rows in call order, each cell
/// `[call..ret] op -> result`; `!` marks the operations the checker got stuck on.
pub fn table(rows: &[Row]) -> String {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        if !cols.contains(&r.column) {
            cols.push(r.column.clone());
        }
    }
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| r.call);
    let cells: Vec<(usize, String)> = sorted
        .iter()
        .map(|r| {
            let c = cols.iter().position(|c| *c == r.column).unwrap_or(0);
            let mark = if r.marked { "!" } else { " " };
            (
                c,
                format!("{mark}[{:>3}..{:<3}] {}", r.call, r.ret_at, r.text),
            )
        })
        .collect();
    let width = cells
        .iter()
        .map(|(_, s)| s.chars().count())
        .chain(cols.iter().map(|c| c.len()))
        .max()
        .unwrap_or(8)
        .min(60);
    let mut s = String::new();
    let line = |s: &mut String| {
        for _ in &cols {
            let _ = write!(s, "+{}", "-".repeat(width + 2));
        }
        s.push_str("+\n");
    };
    line(&mut s);
    for c in &cols {
        let _ = write!(s, "| {c:width$} ");
    }
    s.push_str("|\n");
    line(&mut s);
    for (ci, text) in &cells {
        for i in 0..cols.len() {
            let t: String = if i == *ci {
                text.chars().take(width).collect()
            } else {
                String::new()
            };
            let _ = write!(s, "| {t:width$} ");
        }
        s.push_str("|\n");
    }
    line(&mut s);
    s
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses lower- or upper-case hex.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("bad hex at offset {i}")))
        .collect()
}

fn hex_array(b: &[u8]) -> String {
    let mut s = String::from("[");
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "0x{x:02x}");
    }
    s.push(']');
    s
}

/// FNV-1a, for stable short hashes.
pub fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

std::thread_local! {
    /// The first panic seen on this OS thread while capture was on: message and location.
    /// Per OS thread, so engines running side by side (parallel tests) do not see each
    /// other's panics; a model execution runs on one OS thread.
    static CAPTURED: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
    static QUIET: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Installs (once) a panic hook that records the first panic's message and location for the
/// engines, and keeps the default printing when no engine is capturing.
pub fn install_panic_capture() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "non-string panic payload".to_string()
            };
            let loc = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_else(|| "<unknown>".into());
            let quiet = QUIET.with(|q| q.get()) > 0;
            if quiet {
                CAPTURED.with(|c| {
                    let mut c = c.borrow_mut();
                    match c.as_ref() {
                        None => *c = Some((msg, loc)),
                        // A panic while the first one unwinds (a destructor checking a
                        // structure the first panic left broken) aborts the process before
                        // any report: print the first one's title now, so triage still
                        // knows the bug. Triage takes the last title printed, so a full
                        // report printed later wins.
                        Some((m0, l0)) if std::thread::panicking() => eprintln!(
                            "MMCHECK-TITLE: {}\n{m0}\n(the report is cut short: a second panic while unwinding from this one, {msg} at {loc}, may abort the process)",
                            Failure::from_panic(m0, l0).title()
                        ),
                        Some(_) => {}
                    }
                });
            } else {
                default(info);
            }
        }));
    });
}

/// While alive, panics are captured silently instead of printed.
pub struct Capture(());

impl Capture {
    /// Starts capturing (and clears what an earlier capture left).
    pub fn start() -> Self {
        install_panic_capture();
        QUIET.with(|q| q.set(q.get() + 1));
        CAPTURED.with(|c| c.borrow_mut().take());
        Capture(())
    }

    /// Takes the first captured panic, if any.
    pub fn take(&self) -> Option<(String, String)> {
        CAPTURED.with(|c| c.borrow_mut().take())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(q.get() - 1));
    }
}

/// Converts a caught panic into a failure, preferring the captured message.
pub fn failure_from_panic(cap: &Capture, payload: &(dyn std::any::Any + Send)) -> Failure {
    if let Some((msg, loc)) = cap.take() {
        return Failure::from_panic(&msg, &loc);
    }
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    Failure::from_panic(&msg, "<unknown>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bug_panics_keep_their_title() {
        let f = Failure::from_panic("BUG: RCU: use-after-free in src/x.rs:10\nmore", "y.rs:1");
        assert_eq!(f.title(), "RCU: use-after-free in src/x.rs:10");
        let g = Failure::from_panic("index out of bounds", "src/a.rs:3");
        assert_eq!(g.title(), "PANIC: index out of bounds in src/a.rs:3");
    }

    #[test]
    fn panic_titles_drop_addresses_and_counts() {
        let a = Failure::from_panic(
            "WARNING: bpf_mem_alloc: object 0x558cec25c618 is not allocated from this allocator (header 0x0)",
            "algos/src/percpu/mod.rs:775",
        );
        let b = Failure::from_panic(
            "WARNING: bpf_mem_alloc: object 0x7f00aa is not allocated from this allocator (header 0x10)",
            "algos/src/percpu/mod.rs:775",
        );
        assert_eq!(a.title(), b.title(), "one bug, one title");
        assert!(
            a.title().contains("object 0x? is not allocated"),
            "{}",
            a.title()
        );
        assert_eq!(
            normalize_title("refill re-entered a busy cache on cpu 3"),
            "refill re-entered a busy cache on cpu N"
        );
        assert_eq!(
            normalize_title("free_cnt 12 but free_llist2 holds 7 u64s"),
            "free_cnt N but free_llist2 holds N u64s",
            "numbers in words stay"
        );
        assert_eq!(normalize_title("0x"), "0x");
        // The location keeps its line: another line is another site.
        assert!(a.title().ends_with("in algos/src/percpu/mod.rs:775"));
        // `BUG:` reports keep their checker and function; their kind is normalized too.
        let w = |task: u32, r: u32| {
            Failure::from_panic(
                &format!("BUG: reader-writer exclusion: task {task} got the write lock with {r} reader(s)\nmore"),
                "harness/src/targets/rt/rwbase_sched.rs:175",
            )
        };
        assert_eq!(w(4, 1).title(), w(2, 3).title(), "one bug, one title");
        assert_eq!(
            w(4, 1).title(),
            "reader-writer exclusion: task N got the write lock with N reader(s) in harness/src/targets/rt/rwbase_sched.rs:175"
        );
        assert!(
            w(4, 1).details.contains("task 4"),
            "the details keep the numbers"
        );
        let k = Failure::from_panic("BUG: KMSAN: use-after-free in maple::node_free", "x.rs:1");
        assert_eq!(k.title(), "KMSAN: use-after-free in maple::node_free");
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab])).unwrap(), vec![0, 1, 0xab]);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }

    #[test]
    fn table_has_one_column_per_thread() {
        let rows = vec![
            Row {
                column: "init".into(),
                text: "Inc -> ()".into(),
                call: 0,
                ret_at: 1,
                marked: false,
            },
            Row {
                column: "thread 1".into(),
                text: "Get -> 0".into(),
                call: 2,
                ret_at: 3,
                marked: true,
            },
        ];
        let t = table(&rows);
        assert!(t.contains("| init"), "{t}");
        assert!(t.contains("thread 1"), "{t}");
        assert!(t.contains("![  2..3  ] Get -> 0"), "{t}");
    }
}
