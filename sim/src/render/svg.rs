//! SVG drawings of a run's chart data (`charts`) for `report.html`: the timeline (a lane per host,
//! spans and marks coloured by kind, a title on each for hovering), latency by percentile per
//! region, and replication lag over time. Pure functions from data to markup; colours are inline so
//! a drawing needs no stylesheet.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::edge::charts::{Charts, Kind, QUANTILES};
use crate::render::markup::escape;

/// Width of the timeline and lag drawings, and the room left of their plots for lane names.
const WIDE: f64 = 1100.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 16.0;

/// Colours of series (regions), in order.
const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

pub(crate) fn color(kind: Kind) -> &'static str {
    match kind {
        Kind::Down => "#c0392b",
        Kind::Up => "#27ae60",
        Kind::Cut => "#e67e22",
        Kind::Heal => "#16a085",
        Kind::Fault => "#8e44ad",
        Kind::Health => "#f1c40f",
        Kind::Failover => "#2c3e50",
        Kind::Role => "#2980b9",
        Kind::Repair => "#7f8c8d",
        Kind::Error => "#e74c3c",
        Kind::Timeout => "#d35400",
    }
}

/// Seconds for an axis label: `90s`, `1.5s`.
fn seconds(ms: u64) -> String {
    format!("{}s", ms as f64 / 1000.0)
}

/// A time axis step giving at most about 12 ticks.
fn time_step_ms(end_ms: u64) -> u64 {
    [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]
        .map(|s| s * 1000)
        .into_iter()
        .find(|s| end_ms / s <= 12)
        .unwrap_or(1_800_000)
}

/// The x position of a time on the wide drawings.
fn x_of(ms: u64, end_ms: u64) -> f64 {
    LEFT + ms as f64 / end_ms.max(1) as f64 * (WIDE - LEFT - RIGHT)
}

/// Vertical grid lines and labels of the time axis, from `top` to `bottom`.
fn time_axis(o: &mut String, end_ms: u64, top: f64, bottom: f64) {
    let step = time_step_ms(end_ms);
    for t in (0..=end_ms).step_by(step as usize) {
        let x = x_of(t, end_ms);
        let _ = write!(
            o,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            bottom + 14.0,
            seconds(t)
        );
    }
}

/// The timeline: one lane per host, spans under marks, each with a hover title.
pub(crate) fn timeline(c: &Charts) -> String {
    let bottom = 10.0 + LANE * c.lanes.len() as f64;
    let height = bottom + 24.0;
    let mut o = format!(
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{height}" viewBox="0 0 {WIDE} {height}" font-family="sans-serif">"#
    );
    let lane_y = |lane: &str| c.lanes.iter().position(|l| l == lane).map(|i| 10.0 + LANE * i as f64);
    for (i, lane) in c.lanes.iter().enumerate() {
        let y = 10.0 + LANE * i as f64;
        let fill = if i % 2 == 0 { "#f6f6f6" } else { "#fff" };
        let _ = write!(
            o,
            r#"<rect x="{LEFT}" y="{y}" width="{}" height="{LANE}" fill="{fill}"/><text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
            WIDE - LEFT - RIGHT,
            LEFT - 6.0,
            y + LANE - 4.0,
            escape(lane)
        );
    }
    time_axis(&mut o, c.end_ms, 10.0, bottom);
    for s in &c.spans {
        let Some(y) = lane_y(&s.lane) else { continue };
        let (x1, x2) = (x_of(s.from_ms, c.end_ms), x_of(s.to_ms, c.end_ms));
        let _ = write!(
            o,
            r#"<rect class="span" x="{x1:.1}" y="{}" width="{:.1}" height="{}" fill="{}" fill-opacity="0.3"><title>{} to {}: {}</title></rect>"#,
            y + 2.0,
            (x2 - x1).max(1.0),
            LANE - 4.0,
            color(s.kind),
            seconds(s.from_ms),
            seconds(s.to_ms),
            escape(&s.label)
        );
    }
    for m in &c.marks {
        let Some(y) = lane_y(&m.lane) else { continue };
        let _ = write!(
            o,
            r#"<rect class="mark" x="{:.1}" y="{}" width="3" height="{}" fill="{}"><title>{} {}</title></rect>"#,
            x_of(m.at_ms, c.end_ms) - 1.5,
            y + 1.0,
            LANE - 2.0,
            color(m.kind),
            seconds(m.at_ms),
            escape(&m.label)
        );
    }
    o.push_str("</svg>");
    o
}

/// A log10 axis over whole decades covering `values` (milliseconds, at least 0.1).
struct LogAxis {
    lo: i32,
    hi: i32,
}

impl LogAxis {
    fn covering(values: impl Iterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (0, 1);
        for v in values {
            let e = v.max(0.1).log10();
            lo = lo.min(e.floor() as i32);
            hi = hi.max(e.ceil() as i32);
        }
        LogAxis { lo, hi: hi.max(lo + 1) }
    }

    /// Position from `from` (the value 10^lo) to `to` (10^hi).
    fn at(&self, v: f64, from: f64, to: f64) -> f64 {
        from + (v.max(0.1).log10() - self.lo as f64) / (self.hi - self.lo) as f64 * (to - from)
    }

    fn label(e: i32) -> String {
        match e {
            ..0 => format!("{}ms", 10f64.powi(e)),
            0..3 => format!("{}ms", 10u64.pow(e as u32)),
            _ => format!("{}s", 10u64.pow(e as u32 - 3)),
        }
    }

    /// Horizontal grid lines and labels of a vertical axis from `bottom` (low) to `top`.
    fn draw_vertical(&self, o: &mut String, left: f64, right: f64, bottom: f64, top: f64) {
        for e in self.lo..=self.hi {
            let y = self.at(10f64.powi(e), bottom, top);
            let _ = write!(
                o,
                r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                left - 4.0,
                y + 4.0,
                LogAxis::label(e)
            );
        }
    }
}

/// Names of series in their colours, in a row from `x`.
fn legend(o: &mut String, names: &[String], x: f64, y: f64) {
    let mut x = x;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{y}" font-size="12" fill="{}">&#9632; {}</text>"#,
            PALETTE[i % PALETTE.len()],
            escape(name)
        );
        x += 14.0 + 7.0 * name.len() as f64;
    }
}

/// A line through `points`, with a dot on each so that a lone point shows.
fn series(o: &mut String, i: usize, points: &[(f64, f64)], dash: bool) {
    let color = PALETTE[i % PALETTE.len()];
    let path: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dash = if dash { r#" stroke-dasharray="5,3""# } else { "" };
    let _ = write!(
        o,
        r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>"#,
        path.join(" ")
    );
    for (x, y) in points {
        let _ = write!(o, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="{color}"/>"#);
    }
}

/// The horizontal position of a quantile on the percentile axis: 0, p90, p99, p99.9 equally
/// spaced, the maximum after them.
fn tail(q: f64) -> f64 {
    if q >= 1.0 { 3.5 } else { -(1.0 - q).log10() }
}

/// Latency by percentile: one line per series, solid for reads and dashed for writes.
pub(crate) fn percentiles(title: &str, series_of: &[(String, &[f64], bool)]) -> String {
    let (w, h, left, right, top, bottom) = (360.0, 260.0, 60.0, 345.0, 36.0, 230.0);
    let axis = LogAxis::covering(series_of.iter().flat_map(|(_, v, _)| v.iter().copied()));
    let mut o = format!(
        r#"<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif"><text x="{left}" y="14" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    );
    axis.draw_vertical(&mut o, left, right, bottom, top);
    let x = |q: f64| left + tail(q) / 3.5 * (right - left);
    for (q, label) in [(0.0, "p0"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (1.0, "max")] {
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{label}</text>"#,
            x(q),
            bottom + 16.0
        );
    }
    let names: Vec<String> = series_of.iter().map(|(n, _, _)| n.clone()).collect();
    legend(&mut o, &names, left, 30.0);
    for (i, (_, values, dash)) in series_of.iter().enumerate() {
        let points: Vec<(f64, f64)> =
            QUANTILES.iter().zip(values.iter()).map(|(q, v)| (x(*q), axis.at(*v, bottom, top))).collect();
        series(&mut o, i, &points, *dash);
    }
    o.push_str("</svg>");
    o
}

/// Replication lag over time, one line per series, aligned with the timeline above it.
pub(crate) fn lag(c: &Charts) -> String {
    let title = format!("replication lag, worst frame applied per {}", seconds(c.lag_bucket_ms));
    over_time("lag", &title, c, &c.lag)
}

/// How stale the pages viewers saw were over time, one line per viewer host.
pub(crate) fn staleness(c: &Charts) -> String {
    let title = format!("staleness of the pages viewers saw, worst per {}", seconds(c.lag_bucket_ms));
    over_time("staleness", &title, c, &c.staleness)
}

/// Milliseconds per time bucket (`c.lag_bucket_ms`), one line per series, aligned with the timeline.
fn over_time(class: &str, title: &str, c: &Charts, lines: &BTreeMap<String, Vec<Option<f64>>>) -> String {
    let (h, top, bottom) = (240.0, 36.0, 210.0);
    let axis = LogAxis::covering(lines.values().flatten().flatten().copied());
    let mut o = format!(
        r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{h}" viewBox="0 0 {WIDE} {h}" font-family="sans-serif"><text x="{LEFT}" y="14" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    );
    axis.draw_vertical(&mut o, LEFT, WIDE - RIGHT, bottom, top);
    time_axis(&mut o, c.end_ms, top, bottom);
    let names: Vec<String> = lines.keys().cloned().collect();
    legend(&mut o, &names, LEFT, 30.0);
    for (i, values) in lines.values().enumerate() {
        let mut run = Vec::new();
        for (j, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let at = (j as u64 * c.lag_bucket_ms + c.lag_bucket_ms / 2).min(c.end_ms);
                run.push((x_of(at, c.end_ms), axis.at(*v, bottom, top)));
            } else if !run.is_empty() {
                series(&mut o, i, &std::mem::take(&mut run), false);
            }
        }
        if !run.is_empty() {
            series(&mut o, i, &run, false);
        }
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::charts::{Distributions, Mark, Span};

    fn charts() -> Charts {
        Charts {
            end_ms: 60_000,
            lanes: vec!["primary".into(), "pop-a-1".into()],
            spans: vec![Span {
                from_ms: 10_000,
                to_ms: 40_000,
                lane: "primary".into(),
                kind: Kind::Down,
                label: "crash primary".into(),
            }],
            marks: vec![
                Mark { at_ms: 10_000, lane: "primary".into(), kind: Kind::Down, label: "crash <primary>".into() },
                Mark { at_ms: 5_000, lane: "nowhere".into(), kind: Kind::Error, label: "not drawn".into() },
            ],
            latency: [("a".to_string(), Distributions { read: vec![5.0; 12], write: vec![80.0; 12] })].into(),
            lag_bucket_ms: 1000,
            lag: [("a".to_string(), vec![Some(20.0), None, Some(2000.0), Some(30.0)])].into(),
            staleness: [("viewers-a".to_string(), vec![Some(0.0), Some(65_000.0), None, Some(1.5)])].into(),
        }
    }

    #[test]
    fn the_timeline_has_a_lane_per_host_and_draws_marks_on_known_lanes_only() {
        let svg = timeline(&charts());
        assert!(svg.starts_with("<svg class=\"timeline\""), "{svg}");
        assert!(svg.contains(">pop-a-1</text>"));
        assert_eq!(svg.matches("class=\"mark\"").count(), 1);
        assert_eq!(svg.matches("class=\"span\"").count(), 1);
        assert!(svg.contains("<title>10s crash &lt;primary&gt;</title>"), "{svg}");
        assert!(svg.contains(">60s</text>") && svg.contains(">0s</text>"), "ticks every 5s: {svg}");
        // The crash at 10 s of 60 s sits a sixth of the way along the plot.
        assert!(svg.contains(&format!("x=\"{:.1}\"", LEFT + (WIDE - LEFT - RIGHT) / 6.0 - 1.5)), "{svg}");
    }

    #[test]
    fn lag_lines_break_where_nothing_was_applied() {
        let svg = lag(&charts());
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">1ms</text>") && svg.contains(">10s</text>"), "decades cover 20 ms..2 s: {svg}");
    }

    #[test]
    fn staleness_is_drawn_like_lag_on_its_own_series() {
        let svg = staleness(&charts());
        assert!(svg.starts_with("<svg class=\"staleness\"") && svg.contains("&#9632; viewers-a</text>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains(">100s</text>"), "the axis reaches 65 s: {svg}");
    }

    #[test]
    fn percentiles_draw_a_line_per_series_on_a_tail_axis() {
        let c = charts();
        let d = &c.latency["a"];
        let svg = percentiles("a", &[("read".into(), &d.read, false), ("write".into(), &d.write, true)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains(">p99.9</text>"));
        assert_eq!((tail(0.0), tail(0.9), tail(1.0)), (0.0, 1.0, 3.5));
        assert_eq!(LogAxis::label(-1), "0.1ms");
        assert_eq!(LogAxis::label(4), "10s");
    }
}
