//! Miss-ratio curves as one self-contained SVG: frames on the x axis (logarithmic when the
//! sizes span a factor of 20 or more), miss ratio on the y axis, one `<polyline>` (with a
//! marker per point) per policy, in the order the policies first appear, and a legend. Plain
//! SVG text, no scripts or external resources, so it opens in any browser.

use super::Outcome;
use std::fmt::Write as _;

const W: f64 = 760.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// The SVG document of the miss-ratio curves of `outcomes`, titled `title`.
pub fn svg(outcomes: &[Outcome], title: &str) -> String {
    let mut series: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
    for o in outcomes {
        let pt = (o.frames as f64, o.miss_ratio());
        match series.iter_mut().find(|(p, _)| *p == o.policy) {
            Some((_, pts)) => pts.push(pt),
            None => series.push((&o.policy, vec![pt])),
        }
    }
    for (_, pts) in &mut series {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let xs = || series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let (mut xmin, mut xmax) = xs().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    if xmin > xmax {
        (xmin, xmax) = (1.0, 10.0);
    }
    let log = xmin > 0.0 && xmax / xmin >= 20.0;
    if xmin == xmax {
        (xmin, xmax) = (xmin * 0.5, xmax * 1.5 + 1.0);
    }
    let ymax_data = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0f64, f64::max);
    let ystep = nice_step(ymax_data.max(0.01) * 1.05, 5);
    let ymax = ((ymax_data.max(0.01) * 1.05 / ystep).ceil() * ystep)
        .min(1.0)
        .max(ystep);

    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let fx = |x: f64| -> f64 {
        let t = if log {
            (x.ln() - xmin.ln()) / (xmax.ln() - xmin.ln())
        } else {
            (x - xmin) / (xmax - xmin)
        };
        LEFT + t * pw
    };
    let fy = |y: f64| -> f64 { TOP + ph - (y / ymax) * ph };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        LEFT + pw / 2.0,
        xml(title)
    );
    // Grid, ticks and tick labels.
    let mut y = 0.0;
    while y <= ymax + ystep * 1e-6 {
        let py = fy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            percent(y, ystep)
        );
        y += ystep;
    }
    for x in x_ticks(xmin, xmax, log) {
        let px = fx(x);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 18.0,
            compact(x)
        );
    }
    // Axes and their labels.
    let _ = writeln!(
        s,
        r#"<path d="M{LEFT},{TOP} V{:.1} H{:.1}" fill="none" stroke="black"/>"#,
        TOP + ph,
        LEFT + pw
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">frames (pages){}</text>"#,
        LEFT + pw / 2.0,
        H - 16.0,
        if log { ", log scale" } else { "" }
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">miss ratio</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // One curve per policy, and the legend.
    for (k, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let dash = if k >= COLORS.len() {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let points: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", fx(x), fy(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            xml(name)
        );
        for &(x, y) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}: {} frames, {:.4}</title></circle>"#,
                fx(x),
                fy(y),
                xml(name),
                x,
                y
            );
        }
        let ly = TOP + 10.0 + 20.0 * k as f64;
        let lx = LEFT + pw + 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            xml(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes [`svg`] of `outcomes` to `path`.
pub fn write_svg(path: &std::path::Path, outcomes: &[Outcome], title: &str) -> Result<(), String> {
    std::fs::write(path, svg(outcomes, title))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A step of 1, 2, 2.5 or 5 times a power of ten giving about `n` steps over `range`.
fn nice_step(range: f64, n: usize) -> f64 {
    let raw = range / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&m| norm <= m)
        .unwrap_or(10.0);
    m * mag
}

fn x_ticks(xmin: f64, xmax: f64, log: bool) -> Vec<f64> {
    let mut out = Vec::new();
    if log {
        let mut d = 10f64.powf(xmin.log10().floor());
        while d <= xmax * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = d * m;
                if v >= xmin * 0.9999 && v <= xmax * 1.0001 {
                    out.push(v);
                }
            }
            d *= 10.0;
        }
    } else {
        let step = nice_step(xmax - xmin, 6);
        let mut v = (xmin / step).ceil() * step;
        while v <= xmax + step * 1e-6 {
            out.push(v);
            v += step;
        }
    }
    out
}

fn compact(v: f64) -> String {
    let trim = |x: f64, suffix: &str| {
        let t = format!("{x:.1}");
        format!("{}{suffix}", t.strip_suffix(".0").unwrap_or(&t))
    };
    if v >= 1e6 {
        trim(v / 1e6, "M")
    } else if v >= 1e4 {
        trim(v / 1e3, "k")
    } else {
        trim(v, "")
    }
}

fn percent(y: f64, step: f64) -> String {
    if step * 100.0 >= 1.0 && (step * 100.0).fract() == 0.0 {
        format!("{:.0}%", y * 100.0)
    } else {
        format!("{:.1}%", y * 100.0)
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
