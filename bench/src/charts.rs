//! SVG bar charts for the report. A few rectangles and labels on a log axis are all the
//! report needs, and plain SVG renders on GitHub and in any browser without a plotting
//! stack.

use std::fmt::Write;

pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
}

pub struct Group {
    pub label: String,
    /// One value per series; None when the series has no value for this group.
    pub values: Vec<Option<f64>>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn human(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Horizontal grouped bars on a log10 axis (the values span five decades: discovery
/// answers ~10^4.7 times a second, a password login ~10^2).
pub fn bars(title: &str, unit: &str, series: &[Series], groups: &[Group]) -> String {
    let values = groups.iter().flat_map(|g| g.values.iter().flatten().copied());
    let (min, max) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = if min.is_finite() && min > 0.0 {
        min.log10().floor() - 0.3
    } else {
        0.0
    };
    let hi = if max.is_finite() && max > 0.0 {
        max.log10().ceil()
    } else {
        1.0
    };
    let (left, width, bar, gap) = (220.0, 520.0, 14.0, 12.0);
    let group_h = bar * series.len() as f64 + gap;
    let top = 56.0;
    let height = top + group_h * groups.len() as f64 + 40.0;
    let x = |v: f64| left + width * ((v.max(1e-9).log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">{title}</text>
"#,
        w = left + width + 90.0,
        title = escape(title)
    );
    for (i, s) in series.iter().enumerate() {
        let lx = left + i as f64 * 150.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="30" width="12" height="12" fill="{c}"/><text x="{tx}" y="40">{n}</text>"#,
            c = s.color,
            tx = lx + 16.0,
            n = escape(s.name)
        );
    }
    let mut decade = lo.ceil() as i32;
    while decade as f64 <= hi {
        let v = 10f64.powi(decade);
        let gx = x(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{gx}" y1="{top}" x2="{gx}" y2="{b}" stroke="#ddd"/><text x="{gx}" y="{ty}" text-anchor="middle" fill="#555">{l}</text>"##,
            b = height - 34.0,
            ty = height - 20.0,
            l = human(v)
        );
        decade += 1;
    }
    let _ = writeln!(
        svg,
        r##"<text x="{cx}" y="{y}" text-anchor="middle" fill="#555">{u} (log scale)</text>"##,
        cx = left + width / 2.0,
        y = height - 6.0,
        u = escape(unit)
    );
    for (gi, g) in groups.iter().enumerate() {
        let gy = top + gi as f64 * group_h;
        let _ = writeln!(
            svg,
            r#"<text x="{lx}" y="{y}" text-anchor="end">{l}</text>"#,
            lx = left - 8.0,
            y = gy + group_h / 2.0,
            l = escape(&g.label)
        );
        for (si, value) in g.values.iter().enumerate() {
            let Some(v) = value else { continue };
            let by = gy + si as f64 * bar;
            let bx = x(*v);
            let _ = writeln!(
                svg,
                r##"<rect x="{left}" y="{by}" width="{bw:.1}" height="{h}" fill="{c}"/><text x="{tx:.1}" y="{ty}" font-size="10">{l}</text>"##,
                bw = (bx - left).max(1.0),
                h = bar - 2.0,
                c = series[si].color,
                tx = bx + 4.0,
                ty = by + bar - 4.0,
                l = human(*v)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
