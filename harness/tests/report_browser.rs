//! `mmcheck report` as a person sees it: a scratch repository with sample data in every
//! input format (two campaign runs, crashes with and without `meta.json`, coverage, the
//! planted-bug matrix, a saved simulator result), the real `mmcheck report` run on it, and
//! the page opened in headless Chromium: a screenshot that must not be blank, every section
//! title in the rendered DOM, the page's own self-check saying every chart has a size and
//! drawn marks, and no console message (a probe page first proves that a console error would
//! be seen). Where no Chromium can be found or installed, the browser part prints
//! `SKIP: <reason>` and the test passes on the checks of the HTML alone.
//!
//! The screenshot is kept at `<target dir>/report-test/report.png` for people to look at,
//! beside the page (`report.html`) and its sample repository (`repo/`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mmcheck");

/// The section titles the page must show (`report::SECTIONS` in the binary).
const SECTIONS: &[&str] = &[
    "Campaign runs",
    "Execs/s and coverage over time",
    "Final execs/s and corpus size",
    "Crashes",
    "Planted-bug matrix",
    "Coverage per algorithm file",
    "Miss-ratio curves (page-cache simulator)",
];

/// The sample's targets (each has samples in at least one run).
const TARGETS: &[&str] = &["percpu_ops", "maple_ops", "mglru_sched"];

/// Charts the sample gives: execs/s and coverage per target, the two bar charts, the
/// coverage bars, two generated workloads and one saved simulator result.
const CHARTS: usize = 2 * 3 + 2 + 1 + 2 + 1;

/// A title with every character that needs escaping.
const NASTY_TITLE: &str = r#"KASAN: use-after-free in <percpu::free> & "cache" 'x'"#;
const NASTY_HASH: &str = "a1b2c3d4e5f60718";
const OLD_TITLE: &str = "DIFF: result mismatch in maple_ops::Store";
const OLD_HASH: &str = "0f1e2d3c4b5a6978";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "mmcheck-report-browser-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir scratch");
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One campaign run log: samples every 5 s of `secs` per target, rates scaled by `speed`.
fn run_log(id: &str, start: u64, secs: u32, speed: f64, finished: bool) -> String {
    let mut s = format!(
        r#"{{"kind":"start","run":"{id}","time":{start},"jobs":1,"parallel":1,"sanitizer":"none","targets":["percpu_ops","maple_ops","mglru_sched"],"secs_per_target":{secs}}}"#
    ) + "\n";
    for (k, t) in TARGETS.iter().enumerate() {
        let base = 900.0 * (k + 1) as f64 * speed;
        let mut execs = 0u64;
        for step in 0..=secs / 5 {
            let time = f64::from(step * 5) + 0.25;
            let exec_s = (base * (1.0 + 0.3 * (f64::from(step) * 0.7).sin())) as u64;
            execs += exec_s * 5;
            let cov = 400
                + (k as u64 + 1) * 150
                + (f64::from(step) * 40.0 * speed) as u64 / (u64::from(step) / 4 + 1);
            s += &format!(
                r#"{{"kind":"sample","run":"{id}","target":"{t}","t":{time},"execs":{execs},"exec_s":{exec_s},"cov":{cov},"corpus":{},"crashes":0}}"#,
                20 + (f64::from(step) * 3.0 * speed) as u32
            );
            s.push('\n');
        }
        s += &format!(
            r#"{{"kind":"target","run":"{id}","target":"{t}","secs":{secs}.4,"execs":{execs},"exec_s":{},"cov":{},"corpus":{},"jobs":1,"crashes":[],"error":null,"extra":"ignored"}}"#,
            execs / u64::from(secs),
            700 + k * 100,
            20 + (f64::from(secs / 5) * 3.0 * speed) as u32
        );
        s.push('\n');
    }
    s += &format!(
        r#"{{"kind":"crash","run":"{id}","target":"percpu_ops","title":"{}","hash":"{NASTY_HASH}","new":true}}"#,
        NASTY_TITLE.replace('"', "\\\"")
    );
    s.push('\n');
    s += &format!(r#"{{"kind":"heartbeat","run":"{id}","unknown":[1,2]}}"#);
    s.push('\n');
    if finished {
        s += &format!(
            r#"{{"kind":"end","run":"{id}","time":{}}}"#,
            start + 3 * u64::from(secs) + 7
        );
        s.push('\n');
    } else {
        // A run cut short: its last line half written.
        s += &format!(r#"{{"kind":"sample","run":"{id}","target":"mglru_sch"#);
    }
    s
}

/// A repository root (`[workspace]` Cargo.toml, corpus/) holding sample data of every kind.
fn sample_root(root: &Path) {
    write(&root.join("Cargo.toml"), "[workspace]\nmembers = []\n");
    std::fs::create_dir_all(root.join("corpus")).expect("mkdir corpus");
    // Two runs two days apart; the later one faster and unfinished.
    write(
        &root.join("campaigns/runs/20261128-093000-1111.jsonl"),
        &run_log("20261128-093000-1111", 1_795_800_600, 60, 1.0, true),
    );
    write(
        &root.join("campaigns/runs/20261130-104512-1234.jsonl"),
        &run_log("20261130-104512-1234", 1_795_985_112, 60, 1.4, false),
    );
    // A crash with meta.json, and an older one without.
    let c = root.join("crashes").join(NASTY_HASH);
    write(
        &c.join("meta.json"),
        &format!(
            r#"{{"title":"{}","hash":"{NASTY_HASH}","targets":["percpu_ops"],"count":4,"first_seen":1795800700,"last_seen":1795985200,"reproducers":["input-00aa"],"minimized":"minimized-00aa"}}"#,
            NASTY_TITLE.replace('"', "\\\"")
        ),
    );
    let mut report = format!("MMCHECK-TITLE: {NASTY_TITLE}\n");
    for i in 0..45 {
        report += &format!("  #{i} frame <percpu::free> & more\n");
    }
    write(&c.join("report.txt"), &report);
    write(&c.join("input-00aa"), "\u{1}\u{2}\u{3}");
    write(&c.join("minimized-00aa"), "\u{1}");
    write(&c.join("target"), "percpu_ops\n");
    let o = root.join("crashes").join(OLD_HASH);
    write(
        &o.join("report.txt"),
        &format!("MMCHECK-TITLE: {OLD_TITLE}\nops: Store(3..5)\n"),
    );
    write(&o.join("target"), "maple_ops\n");
    write(&o.join("input-1234"), "xyz");
    write(&o.join("chunks-5678.hex"), "0a0b\n");
    // Campaign raw artifacts are not crashes.
    write(&root.join("crashes/raw/maple_ops/crash-99"), "raw");
    // Coverage of two targets sharing a file.
    write(
        &root.join("campaigns/coverage/percpu_ops.json"),
        r#"{"target":"percpu_ops","time":1795985300,"files":[{"file":"algos/src/percpu/mod.rs","lines":1200,"covered":950},{"file":"algos/src/percpu/cache.rs","lines":300,"covered":120},{"file":"algos/src/sync/mod.rs","lines":200,"covered":60}]}"#,
    );
    write(
        &root.join("campaigns/coverage/maple_ops.json"),
        r#"{"target":"maple_ops","time":1795985400,"files":[{"file":"algos/src/maple/mod.rs","lines":2400,"covered":2100},{"file":"algos/src/sync/mod.rs","lines":200,"covered":150}]}"#,
    );
    // The planted-bug matrix, with an error cell and a line re-run later.
    write(
        &root.join("mutants/matrix.jsonl"),
        concat!(
            r#"{"algo":"maple","mutant":"gap_one_short","engine":"fuzz:maple_ops","caught":true,"secs":3.1,"title":"VALIDATE: invalid <structure>"}"#,
            "\n",
            r#"{"algo":"maple","mutant":"gap_one_short","engine":"test","caught":true,"secs":0.8,"title":"test failed"}"#,
            "\n",
            r#"{"algo":"maple","mutant":"gap_one_short","engine":"loom","caught":false,"secs":0.4}"#,
            "\n",
            r#"{"algo":"maple","mutant":"slot_off_by_one","engine":"fuzz:maple_ops","caught":false,"secs":61.5}"#,
            "\n",
            r#"{"algo":"maple","mutant":"slot_off_by_one","engine":"test","caught":false,"secs":0.9}"#,
            "\n",
            r#"{"algo":"percpu","mutant":"missing_local_dec","engine":"fuzz:percpu_ops","caught":false,"secs":60.0}"#,
            "\n",
            r#"{"algo":"percpu","mutant":"missing_local_dec","engine":"fuzz:percpu_ops","caught":true,"secs":7.5,"title":"DIFF"}"#,
            "\n",
            r#"{"algo":"percpu","mutant":"missing_local_dec","engine":"sched-pct:percpu_sched","caught":false,"secs":0,"error":"patch does not apply"}"#,
            "\n",
        ),
    );
    // A saved simulator result.
    let mut sim = String::new();
    for (policy, base) in [("lru", 0.8), ("mglru", 0.7), ("opt", 0.5)] {
        for (i, frames) in [64u64, 128, 256, 512].into_iter().enumerate() {
            let misses = (100_000.0 * base / (i + 1) as f64) as u64;
            sim += &format!(
                "{{\"policy\":\"{policy}\",\"frames\":{frames},\"accesses\":100000,\"misses\":{misses}}}\n"
            );
        }
    }
    write(&root.join("campaigns/sim/oltp-trace.jsonl"), &sim);
}

fn mmcheck_in(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root)
        .env("MMCHECK_ROOT", root)
        .output()
        .expect("run mmcheck")
}

/// The workspace's target directory (`CARGO_TARGET_DIR` if set, else `<workspace>/target`).
fn target_dir() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => ws.join(d),
        None => ws.join("target"),
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

const BROWSERS: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

fn find_browser() -> Option<PathBuf> {
    BROWSERS.iter().find_map(|b| on_path(b))
}

/// A Chromium: found on PATH, or installed with apt-get where this runs as root with apt;
/// else why not.
fn chromium() -> Result<PathBuf, String> {
    if let Some(b) = find_browser() {
        return Ok(b);
    }
    // The real uid: /proc/self/status's `Uid:` line (first field), else `id -u`.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        })
        .or_else(|| {
            Command::new("id")
                .arg("-u")
                .output()
                .ok()
                .map(|o| text(&o.stdout).trim().to_string())
        })
        .unwrap_or_default();
    if uid != "0" {
        return Err(format!(
            "no Chromium on PATH ({}) and not root, so cannot apt-get install chromium",
            BROWSERS.join(", ")
        ));
    }
    if on_path("apt-get").is_none() {
        return Err("no Chromium on PATH and no apt-get to install it with".to_string());
    }
    println!("no Chromium on PATH: running `apt-get update && apt-get install -y chromium`");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))
    };
    let st = apt(&["update"])?;
    if !st.success() {
        return Err(format!("`apt-get update` failed ({st})"));
    }
    let st = apt(&["install", "-y", "chromium"])?;
    if !st.success() {
        return Err(format!("`apt-get install -y chromium` failed ({st})"));
    }
    find_browser().ok_or_else(|| "chromium installed but not found on PATH".to_string())
}

/// What one headless Chromium run gave: the dumped DOM and the console messages.
struct Rendered {
    dom: String,
    console: Vec<String>,
    secs: f64,
}

/// Opens `page` in headless Chromium, saves a `1400×4000` screenshot to `png` and dumps the
/// DOM after the page's scripts ran; fails after `timeout`.
fn render(browser: &Path, page: &Path, png: &Path, scratch: &Path) -> Rendered {
    let profile = scratch.join("chromium-profile");
    let (out_path, err_path) = (scratch.join("chromium.out"), scratch.join("chromium.err"));
    let out = std::fs::File::create(&out_path).expect("create stdout file");
    let err = std::fs::File::create(&err_path).expect("create stderr file");
    let url = format!("file://{}", page.display());
    let start = Instant::now();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,4000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", png.display()))
    .arg("--dump-dom")
    .arg(&url)
    .stdin(Stdio::null())
    .stdout(out)
    .stderr(err);
    if std::env::var_os("HOME").is_none() {
        cmd.env("HOME", scratch);
    }
    let mut child = cmd.spawn().expect("start chromium");
    let timeout = Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(st) => {
                assert!(
                    st.success(),
                    "chromium failed ({st}) on {url}: {}",
                    std::fs::read_to_string(&err_path).unwrap_or_default()
                );
                break;
            }
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish within {timeout:?} on {url}: {}",
                    std::fs::read_to_string(&err_path).unwrap_or_default()
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    Rendered {
        dom: std::fs::read_to_string(&out_path).unwrap_or_default(),
        console: console_messages(&stderr),
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Console messages in Chromium's stderr log: `[...:INFO:CONSOLE:12] "text", source: ...`
/// (Chromium 156; older ones write `CONSOLE(12)`). The level is not shown, so every console
/// message counts: a valid report logs none.
fn console_messages(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE:") || l.contains(":CONSOLE("))
        .map(str::to_string)
        .collect()
}

/// An attribute of the first tag holding `id="<id>"` in `dom`.
fn attr_of(dom: &str, id: &str, attr: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let open = dom[..at].rfind('<')?;
    let tag = &dom[open..open + dom[open..].find('>')?];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

/// Decodes a PNG into (width, height, RGB pixels).
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).expect("open screenshot");
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("frame size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let bytes = &buf[..info.buffer_size()];
    let px: Vec<[u8; 3]> = match info.color_type {
        png::ColorType::Rgb => bytes.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
        png::ColorType::Rgba => bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2]]).collect(),
        png::ColorType::Grayscale => bytes.iter().map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => bytes.chunks_exact(2).map(|c| [c[0]; 3]).collect(),
        png::ColorType::Indexed => panic!("indexed colour left after expansion"),
    };
    (info.width, info.height, px)
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let scratch = Scratch::new("page");
    // The sample repository and the page stay under the target directory, beside the
    // screenshot, for people to look at (made anew by every run).
    let keep = target_dir().join("report-test");
    let root = keep.join("repo");
    let _ = std::fs::remove_dir_all(&root);
    sample_root(&root);
    let out = keep.join("report.html");
    let _ = std::fs::remove_file(&out);

    let t0 = Instant::now();
    let o = mmcheck_in(
        &root,
        &["report", "--out", out.to_str().expect("utf-8 path")],
    );
    let report_secs = t0.elapsed().as_secs_f64();
    assert!(
        o.status.success(),
        "mmcheck report failed: {}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout).trim(), out.display().to_string());
    println!("mmcheck report took {report_secs:.1} s");
    let html = std::fs::read_to_string(&out).expect("the report");

    // The HTML itself: self-contained, every section, text escaped, links that resolve.
    for s in SECTIONS {
        assert!(html.contains(&format!("{s}</h2>")), "section `{s}` missing");
    }
    for fetch in [
        "src=",
        "<link rel=\"stylesheet\"",
        "@import",
        "url(",
        "href=\"http",
    ] {
        assert!(
            !html.contains(fetch),
            "the page fetches something: `{fetch}`"
        );
    }
    assert!(
        html.contains(
            "KASAN: use-after-free in &lt;percpu::free&gt; &amp; &quot;cache&quot; &#39;x&#39;"
        ),
        "the crash title, escaped"
    );
    assert!(
        !html.contains("<percpu::free>"),
        "unescaped text from a file"
    );
    assert!(html.contains(OLD_TITLE) && html.contains(OLD_HASH));
    assert!(html.contains("(older directory)"));
    assert!(!html.contains("crash-99"), "crashes/raw is not a crash");
    for link in [
        format!("repo/crashes/{NASTY_HASH}/input-00aa"),
        format!("repo/crashes/{NASTY_HASH}/minimized-00aa"),
        format!("repo/crashes/{OLD_HASH}/chunks-5678.hex"),
        format!("repo/crashes/{OLD_HASH}/input-1234"),
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "link {link}");
        assert!(
            out.parent().unwrap().join(&link).is_file(),
            "{link} resolves"
        );
    }
    for t in TARGETS {
        assert!(
            html.contains(&format!("{t}: execs/s over time</h3>")),
            "{t}"
        );
        assert!(
            html.contains(&format!("{t}: coverage over time</h3>")),
            "{t}"
        );
    }
    assert!(html.contains("20261128-093000-1111") && html.contains("20261130-104512-1234"));
    assert!(html.contains("missed") && html.contains("class=\"caught best\""));
    assert!(
        html.contains("<td class=\"num\">1 / 2</td>"),
        "percpu: 1 of 2 cells caught (the re-run replaced the miss)"
    );
    assert!(
        html.contains("<td class=\"num\">2 / 5</td>"),
        "maple: 2 of 5"
    );
    assert!(html.contains("title=\"patch does not apply\">error</td>"));
    assert!(html.contains("miss ratio: oltp-trace.jsonl"));
    assert!(html.contains("largest fraction any one target covered"));
    assert_eq!(html.matches("<svg class=\"chart\"").count(), CHARTS);
    assert!(html.contains(&format!("data-expected=\"{CHARTS}\"")));

    // The browser.
    let browser = match chromium() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIP: the browser checks: {why} (the HTML checks above passed)");
            return;
        }
    };
    println!("browser: {}", browser.display());

    // First prove that a console error and an uncaught exception would be seen.
    let probe = scratch.0.join("probe.html");
    write(
        &probe,
        "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body><p>probe</p>\
         <script>console.error(\"mmcheck-probe-error\"); undefinedProbeFunction();</script></body></html>",
    );
    let pr = render(&browser, &probe, &scratch.0.join("probe.png"), &scratch.0);
    let seen = pr.console.join("\n");
    assert!(
        seen.contains("mmcheck-probe-error") && seen.contains("undefinedProbeFunction"),
        "the console detection cannot see a console error or an exception: {seen:?}"
    );

    let png_path = keep.join("report.png");
    let _ = std::fs::remove_file(&png_path);
    let r = render(&browser, &out, &png_path, &scratch.0);
    println!("chromium took {:.1} s", r.secs);
    println!("screenshot: {}", png_path.display());
    println!("page: {}", out.display());
    assert!(
        r.console.is_empty(),
        "console messages:\n{}",
        r.console.join("\n")
    );
    for s in SECTIONS {
        assert!(
            r.dom.contains(&format!("{s}</h2>")),
            "section `{s}` not in the rendered DOM"
        );
    }
    assert!(r
        .dom
        .contains(&format!("{}: coverage over time</h3>", TARGETS[2])));
    let charts = attr_of(&r.dom, "selfcheck", "data-charts");
    let ok = attr_of(&r.dom, "selfcheck", "data-ok");
    assert_eq!(
        (charts.as_deref(), ok.as_deref()),
        (Some(&*CHARTS.to_string()), Some(&*CHARTS.to_string())),
        "self-check: {}",
        r.dom
            .find("id=\"selfcheck\"")
            .map_or("missing", |i| &r.dom[i..(i + 300).min(r.dom.len())])
    );
    assert_eq!(attr_of(&r.dom, "selfcheck", "class").as_deref(), Some("ok"));

    // The screenshot: a PNG of the window, not blank.
    assert!(
        png_path.is_file(),
        "no screenshot at {}",
        png_path.display()
    );
    let (w, h, px) = decode_png(&png_path);
    assert_eq!((w, h), (1400, 4000), "the window's size");
    let colours: HashSet<[u8; 3]> = px.iter().copied().collect();
    let inked = px.iter().filter(|p| p.iter().any(|&c| c < 235)).count();
    let coloured = px
        .iter()
        .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 60)
        .count();
    println!(
        "screenshot: {} colours, {:.1}% inked, {:.2}% strongly coloured",
        colours.len(),
        100.0 * inked as f64 / px.len() as f64,
        100.0 * coloured as f64 / px.len() as f64
    );
    assert!(colours.len() >= 64, "{} colours only", colours.len());
    assert!(
        inked * 100 >= px.len() * 2,
        "only {inked} of {} pixels are not near white",
        px.len()
    );
    assert!(
        coloured * 1000 >= px.len(),
        "almost no coloured pixels ({coloured}): the charts' lines and bars are missing"
    );
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let scratch = Scratch::new("errors");
    let root = scratch.0.join("repo");
    write(&root.join("Cargo.toml"), "[workspace]\n");
    std::fs::create_dir_all(root.join("corpus")).expect("mkdir");
    let blocker = scratch.0.join("a-file");
    write(&blocker, "not a directory");
    let under_file = blocker.join("report.html");
    for args in [
        vec!["report", "--runs", "many"],
        vec!["report", "--runs", "0"],
        vec!["report", "--no-sim", "--out", under_file.to_str().unwrap()],
        vec!["report", "--no-sim", "--out", scratch.0.to_str().unwrap()],
    ] {
        let o = mmcheck_in(&root, &args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("mmcheck: error: "), "{args:?}: {err}");
    }
    // An empty repository is no error: the default path, every section saying what is missing.
    let o = mmcheck_in(&root, &["report", "--no-sim"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let path = root.join("campaigns/report.html");
    assert_eq!(text(&o.stdout).trim(), path.display().to_string());
    let html = std::fs::read_to_string(&path).expect("the default report");
    assert!(html.contains("No campaign runs yet"));
    assert!(html.contains("No crashes saved"));
    assert!(html.contains("No coverage summaries"));
    assert!(html.contains("No planted-bug matrix"));
    assert!(html.contains("Simulations skipped"));
}
