//! The report's charts as inline SVG: lines over time, grouped bars, horizontal bars, and
//! the simulator's miss-ratio curves ([`harness::sim::plot`], adapted for inline use). Every
//! chart is an `<svg class="chart">` with a `<title>`, a drawn title, axis labels and (for
//! several series) a legend; its data marks are `<polyline>`s, `<circle>`s and
//! `<rect class="bar">`s, which the page's self-check looks for.

use super::esc;
use std::fmt::Write as _;

/// Series colours (a series past the last one repeats them, dashed).
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// Legend entries drawn at most; the rest are summarised in one line.
const MAX_LEGEND: usize = 16;

/// One named line of a [`line_chart`].
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's name for it.
    pub name: String,
    /// (x, y) points, in x order.
    pub points: Vec<(f64, f64)>,
}

fn color(k: usize) -> (&'static str, &'static str) {
    let dash = if k >= COLORS.len() {
        r#" stroke-dasharray="6 3""#
    } else {
        ""
    };
    (COLORS[k % COLORS.len()], dash)
}

/// The opening tag, `<title>` and drawn title of a chart `w`×`h` pixels.
fn open(s: &mut String, w: f64, h: f64, title: &str) {
    let t = esc(title);
    let _ = writeln!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12"><title>{t}</title>"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{w}" height="{h}" fill="white"/><text x="{:.1}" y="20" text-anchor="middle" font-size="15">{t}</text>"#,
        w / 2.0
    );
}

/// A step of 1, 2, 2.5 or 5 times a power of ten giving about `n` steps over `range`.
pub fn nice_step(range: f64, n: usize) -> f64 {
    if !(range.is_finite() && range > 0.0) {
        return 1.0;
    }
    let raw = range / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let m = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&m| raw / mag <= m + 1e-9)
        .unwrap_or(10.0);
    m * mag
}

/// A number for a tick or tooltip: `950`, `12.5k`, `3M`, `0.25`.
pub fn compact(v: f64) -> String {
    let trim = |x: f64, suffix: &str| {
        let t = format!("{x:.1}");
        format!("{}{suffix}", t.strip_suffix(".0").unwrap_or(&t))
    };
    let a = v.abs();
    if a >= 1e9 {
        trim(v / 1e9, "G")
    } else if a >= 1e6 {
        trim(v / 1e6, "M")
    } else if a >= 1e4 {
        trim(v / 1e3, "k")
    } else if a >= 10.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        let t = format!("{v:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// 0, step, 2·step, ... up to `max` (inclusive, allowing rounding).
fn ticks(max: f64, step: f64) -> Vec<f64> {
    let n = (max / step + 1e-6).floor() as usize;
    (0..=n.min(1000)).map(|i| i as f64 * step).collect()
}

/// An axis maximum: the data maximum rounded up to a whole step (at least one step).
fn axis_max(data_max: f64, n: usize) -> (f64, f64) {
    let m = if data_max.is_finite() && data_max > 0.0 {
        data_max
    } else {
        1.0
    };
    let step = nice_step(m, n);
    (((m / step) - 1e-9).ceil().max(1.0) * step, step)
}

fn legend(s: &mut String, x: f64, y: f64, names: &[&str]) {
    for (k, name) in names.iter().enumerate().take(MAX_LEGEND) {
        let (c, dash) = color(k);
        let ly = y + 18.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="{ly}" x2="{}" y2="{ly}" stroke="{c}" stroke-width="3"{dash}/><text x="{}" y="{}">{}</text>"#,
            x + 22.0,
            x + 28.0,
            ly + 4.0,
            esc(name)
        );
    }
    if names.len() > MAX_LEGEND {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}">… and {} more</text>"#,
            y + 18.0 * MAX_LEGEND as f64 + 4.0,
            names.len() - MAX_LEGEND
        );
    }
}

/// A line chart: one line (with a dot per point, or only dots where a series has one point)
/// per series, both axes from 0, x labelled `x_label` and y `y_label`, a legend of the
/// series' names.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 320.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 180.0;
    const TOP: f64 = 36.0;
    const BOTTOM: f64 = 50.0;
    let pts = || series.iter().flat_map(|s| s.points.iter().copied());
    let xmax_data = pts().map(|p| p.0).fold(0.0f64, f64::max);
    let ymax_data = pts().map(|p| p.1).fold(0.0f64, f64::max);
    // x ends at the last point (time axes rarely end on a round number); y is rounded up.
    let xmax = if xmax_data > 0.0 { xmax_data } else { 1.0 };
    let xstep = nice_step(xmax, 6);
    let (ymax, ystep) = axis_max(ymax_data * 1.05, 5);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let fx = |x: f64| LEFT + (x.max(0.0) / xmax) * pw;
    let fy = |y: f64| TOP + ph - (y.max(0.0) / ymax) * ph;

    let mut s = String::new();
    open(&mut s, W, H, title);
    for y in ticks(ymax, ystep) {
        let py = fy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            compact(y)
        );
    }
    for x in ticks(xmax, xstep) {
        let px = fx(x);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            compact(x)
        );
    }
    axes(&mut s, LEFT, TOP, pw, ph, H, x_label, y_label);
    for (k, se) in series.iter().enumerate() {
        let (c, dash) = color(k);
        let name = esc(&se.name);
        if se.points.len() > 1 {
            let p: Vec<String> = se
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", fx(x), fy(y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{}"><title>{name}</title></polyline>"#,
                p.join(" ")
            );
        }
        // A dot per point while they are few, else on the last one only.
        let skip = if se.points.len() <= 40 {
            0
        } else {
            se.points.len() - 1
        };
        for &(x, y) in &se.points[skip..] {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{name}: {} at {}</title></circle>"#,
                fx(x),
                fy(y),
                compact(y),
                compact(x)
            );
        }
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut s, LEFT + pw + 20.0, TOP + 8.0, &names);
    s.push_str("</svg>\n");
    s
}

/// The axis lines and their labels.
#[allow(clippy::too_many_arguments)]
fn axes(s: &mut String, left: f64, top: f64, pw: f64, ph: f64, h: f64, xl: &str, yl: &str) {
    let _ = writeln!(
        s,
        r#"<path d="M{left},{top} V{:.1} H{:.1}" fill="none" stroke="black"/>"#,
        top + ph,
        left + pw
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 10.0,
        esc(xl)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
        top + ph / 2.0,
        top + ph / 2.0,
        esc(yl)
    );
}

/// A grouped bar chart: a group per `groups` entry along x (labelled `x_label`), a bar per
/// series in each (`values[group][series]`, `None` for no bar), y from 0 labelled `y_label`,
/// a legend of `series` names.
pub fn bar_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<Option<f64>>],
) -> String {
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 200.0;
    const TOP: f64 = 36.0;
    const BOTTOM: f64 = 110.0;
    const PH: f64 = 240.0;
    let nser = series.len().max(1) as f64;
    let bar = (48.0 / nser).clamp(4.0, 14.0);
    let group_w = (bar * nser + 14.0).max(44.0);
    let pw = (group_w * groups.len() as f64).max(490.0);
    let w = LEFT + pw + RIGHT;
    let h = TOP + PH + BOTTOM;
    let group_w = pw / groups.len().max(1) as f64;
    let ymax_data = values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max);
    let (ymax, ystep) = axis_max(ymax_data * 1.05, 5);
    let fy = |y: f64| TOP + PH - (y.max(0.0) / ymax) * PH;

    let mut s = String::new();
    open(&mut s, w, h, title);
    for y in ticks(ymax, ystep) {
        let py = fy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            compact(y)
        );
    }
    for (g, name) in groups.iter().enumerate() {
        let gx = LEFT + g as f64 * group_w;
        let x0 = gx + (group_w - bar * nser) / 2.0;
        for (k, v) in values.get(g).into_iter().flatten().enumerate() {
            let Some(v) = *v else { continue };
            let (c, _) = color(k);
            let top = fy(v);
            // A zero still shows as a sliver, so every drawn value is visible.
            let bh = (TOP + PH - top).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{c}"><title>{} {}: {}</title></rect>"#,
                x0 + k as f64 * bar,
                TOP + PH - bh,
                (bar - 1.0).max(2.0),
                esc(name),
                esc(series.get(k).map_or("", String::as_str)),
                compact(v)
            );
        }
        let lx = gx + group_w / 2.0;
        let ly = TOP + PH + 14.0;
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-35 {lx:.1} {ly:.1})">{}</text>"#,
            esc(name)
        );
    }
    axes(&mut s, LEFT, TOP, pw, PH, h, x_label, y_label);
    let names: Vec<&str> = series.iter().map(String::as_str).collect();
    legend(&mut s, LEFT + pw + 20.0, TOP + 8.0, &names);
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars of fractions (0 to 1): a row per `(label, fraction, tooltip)`, the x
/// axis in percent labelled `x_label`.
pub fn hbar_chart(title: &str, x_label: &str, rows: &[(String, f64, String)]) -> String {
    const ROW: f64 = 20.0;
    const TOP: f64 = 36.0;
    const BOTTOM: f64 = 50.0;
    const PW: f64 = 420.0;
    let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let left = (longest as f64 * 6.8 + 16.0).clamp(80.0, 360.0);
    let w = left + PW + 70.0;
    let ph = ROW * rows.len().max(1) as f64;
    let h = TOP + ph + BOTTOM;
    let fx = |f: f64| left + f.clamp(0.0, 1.0) * PW;

    let mut s = String::new();
    open(&mut s, w, h, title);
    for p in (0..=100).step_by(20) {
        let px = fx(p as f64 / 100.0);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{p}%</text>"##,
            TOP + ph,
            TOP + ph + 16.0
        );
    }
    for (i, (label, f, tip)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let (c, _) = color(0);
        let bw = (fx(*f) - left).max(1.0);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar" x="{left:.1}" y="{:.1}" width="{bw:.1}" height="{:.1}" fill="{c}"><title>{}</title></rect><text x="{:.1}" y="{:.1}">{:.1}%</text>"#,
            left - 6.0,
            y + ROW / 2.0 + 4.0,
            esc(label),
            y + 3.0,
            ROW - 6.0,
            esc(tip),
            left + bw + 4.0,
            y + ROW / 2.0 + 4.0,
            100.0 * f
        );
    }
    let _ = writeln!(
        s,
        r#"<path d="M{left:.1},{TOP} V{:.1} H{:.1}" fill="none" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        TOP + ph,
        left + PW,
        left + PW / 2.0,
        h - 10.0,
        esc(x_label)
    );
    s.push_str("</svg>\n");
    s
}

/// Miss-ratio curves drawn by [`harness::sim::plot::svg`] (the one plotter of the
/// simulator's curves), made an inline chart: the `chart` class, and a `<title>`.
pub fn miss_ratio_chart(outcomes: &[harness::sim::Outcome], title: &str) -> String {
    let svg = harness::sim::plot::svg(outcomes, title);
    let t = esc(title);
    match svg.find("<svg ").zip(svg.find('>')) {
        Some((at, end)) if at < end => format!(
            "{}<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" {}><title>{t}</title>{}",
            &svg[..at],
            &svg[at + 5..end],
            &svg[end + 1..]
        ),
        // Never expected: plot's document always starts with its <svg> tag.
        _ => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_numbers_are_round() {
        assert_eq!(nice_step(100.0, 5), 20.0);
        assert_eq!(nice_step(12.0, 6), 2.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert_eq!(axis_max(93.0, 5), (100.0, 20.0));
        assert_eq!(axis_max(0.0, 5).0, 1.0);
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(3_000_000.0), "3M");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(2.5), "2.5");
    }

    #[test]
    fn charts_have_a_title_axis_labels_and_marks() {
        let l = line_chart(
            "execs/s <a&b>",
            "seconds",
            "execs/s",
            &[
                Series {
                    name: "run \"1\"".into(),
                    points: vec![(0.0, 1.0), (5.0, 3.0)],
                },
                Series {
                    name: "one".into(),
                    points: vec![(2.0, 2.0)],
                },
            ],
        );
        assert!(l.starts_with("<svg class=\"chart\""), "{l}");
        assert!(l.contains("<title>execs/s &lt;a&amp;b&gt;</title>"), "{l}");
        assert!(l.contains(">seconds</text>") && l.contains(">execs/s</text>"));
        assert_eq!(
            l.matches("<polyline").count(),
            1,
            "the one-point series has no line"
        );
        assert_eq!(l.matches("<circle").count(), 3);
        assert!(l.contains("run &quot;1&quot;") && !l.contains("run \"1\""));
        assert!(l.trim_end().ends_with("</svg>"));

        let many = Series {
            name: "long".into(),
            points: (0..100).map(|i| (i as f64, 5.0)).collect(),
        };
        let l = line_chart("t", "x", "y", &[many]);
        assert_eq!(l.matches("<polyline").count(), 1);
        assert_eq!(
            l.matches("<circle").count(),
            1,
            "a dot on the last point only"
        );

        let b = bar_chart(
            "final",
            "target",
            "execs/s",
            &["a".into(), "b".into()],
            &["r1".into(), "r2".into()],
            &[vec![Some(10.0), None], vec![Some(0.0), Some(5.0)]],
        );
        assert_eq!(b.matches("<rect class=\"bar\"").count(), 3, "{b}");
        assert!(!b.contains("height=\"0.0\""), "a zero is a sliver: {b}");

        let h = hbar_chart(
            "cov",
            "lines covered",
            &[("f.rs".into(), 0.5, "1/2".into())],
        );
        assert!(h.contains("50.0%") && h.contains("<rect class=\"bar\""));
    }

    #[test]
    fn miss_ratio_curves_come_from_the_simulator_plot() {
        let o = |policy: &str, frames, misses| harness::sim::Outcome {
            policy: policy.into(),
            frames,
            accesses: 100,
            misses,
        };
        let svg = miss_ratio_chart(&[o("lru", 10, 50), o("lru", 20, 30)], "zipf <x>");
        assert!(
            svg.starts_with("<svg class=\"chart\" role=\"img\""),
            "{svg}"
        );
        assert!(svg.contains("<title>zipf &lt;x&gt;</title>"));
        assert!(svg.contains("<polyline") && svg.contains("miss ratio"));
        assert_eq!(svg.matches("<svg").count(), 1);
    }
}
