//! SVG drawings of a run's chart data (`charts`) for `report.html`: the timeline (a lane per host
//! that has something to show, spans and marks coloured by kind, a title on each for hovering, the
//! story's key moments labelled above it and its outages shaded across it), latency by percentile
//! per region, and figures over time aligned with the timeline: latency and replication lag for the
//! edge platform, and under anycast each PoP's share of the requests with the route changes; views by tier, time to first byte, staleness, the DNS's verdicts and
//! notifications per channel for the status page. Pure functions from data to markup; colours are
//! inline so a drawing needs no stylesheet, and are told apart by colour-blind viewers (Okabe-Ito
//! and Tol's palettes).

use std::collections::BTreeMap;
use std::fmt;

use crate::edge::charts::{AnycastChart, ChannelDeliveries, Charts, MarkKind, Moment, Outage, QUANTILES};
use crate::edge::load::LoadStep;
use crate::edge::metrics::Summary;
use crate::render::markup::escape;

/// Width of the timeline and the drawings over time, and the room left of their plots for lane
/// names.
const WIDE: f64 = 960.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 16.0;
/// Height of a row of moment labels above the timeline.
const ROW: f64 = 14.0;

/// Colours of series (regions, hosts), in order (Okabe-Ito).
const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#999933"];

/// The shade of an outage.
const OUTAGE: &str = "#D55E00";

pub(crate) fn color(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Down => "#D55E00",
        MarkKind::Up => "#117733",
        MarkKind::Cut => "#E69F00",
        MarkKind::Heal => "#88CCEE",
        MarkKind::Fault => "#999933",
        MarkKind::Health => "#DDCC77",
        MarkKind::Failover => "#000000",
        MarkKind::Role => "#0072B2",
        MarkKind::Repair => "#777777",
        MarkKind::Error => "#AA4499",
        MarkKind::Timeout => "#332288",
        MarkKind::Degraded => "#44AA99",
    }
}

/// The colour of a tier of the status page (or of views unanswered).
pub(crate) fn tier_color(tier: &str) -> &'static str {
    match tier {
        "edge_kv" => "#009E73",
        "origin" => "#56B4E9",
        "stale_cache" => "#E69F00",
        "fallback" => "#CC79A7",
        _ => "#D55E00",
    }
}

/// Seconds for an axis label or a hover title: `90s`, `1.5s`.
pub(crate) fn seconds(ms: u64) -> String {
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
    LEFT + ms.min(end_ms) as f64 / end_ms.max(1) as f64 * (WIDE - LEFT - RIGHT)
}

/// Vertical grid lines and labels of the time axis, from `top` to `bottom`.
fn time_axis(o: &mut fmt::Formatter, end_ms: u64, top: f64, bottom: f64) -> fmt::Result {
    let step = time_step_ms(end_ms);
    for t in (0..=end_ms).step_by(step as usize) {
        let x = x_of(t, end_ms);
        write!(
            o,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            bottom + 14.0,
            seconds(t)
        )?;
    }
    Ok(())
}

/// The outages shaded from `top` to `bottom`, each with a hover title.
fn outages(o: &mut fmt::Formatter, all: &[Outage], end_ms: u64, top: f64, bottom: f64) -> fmt::Result {
    for out in all {
        let (x1, x2) = (x_of(out.from_ms, end_ms), x_of(out.to_ms, end_ms));
        write!(
            o,
            r#"<rect class="outage" x="{x1:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{OUTAGE}" fill-opacity="0.1"><title>{} to {}: {}</title></rect>"#,
            (x2 - x1).max(1.0),
            bottom - top,
            seconds(out.from_ms),
            seconds(out.to_ms),
            escape(&out.label)
        )?;
    }
    Ok(())
}

/// The lanes that have a mark or a span; the others are folded (`quiet_lanes`).
fn busy_lanes(c: &Charts) -> Vec<&str> {
    let busy = |l: &str| c.marks.iter().any(|m| m.lane == l) || c.spans.iter().any(|s| s.lane == l);
    c.lanes.iter().map(String::as_str).filter(|l| busy(l)).collect()
}

/// The lanes with nothing to show, which the timeline leaves out.
pub(crate) fn quiet_lanes(c: &Charts) -> Vec<&str> {
    let busy = busy_lanes(c);
    c.lanes.iter().map(String::as_str).filter(|l| !busy.contains(l)).collect()
}

/// The kinds of mark and span a run's timeline shows, for its legend.
pub(crate) fn kinds(c: &Charts) -> Vec<MarkKind> {
    MarkKind::ALL
        .into_iter()
        .filter(|k| c.marks.iter().any(|m| m.kind == *k) || c.spans.iter().any(|s| s.kind == *k))
        .collect()
}

/// The width a label of `text` takes at font size 11.
fn text_width(text: &str) -> f64 {
    6.0 * text.chars().count() as f64
}

/// Rows for the moments' labels, so that none overlaps the one before it in its row: per moment,
/// its row, its x and whether its label runs left of it (near the right edge).
fn label_rows(c: &Charts) -> Vec<(usize, f64, bool)> {
    const ROWS: usize = 6;
    let mut ends: Vec<f64> = Vec::new();
    c.moments
        .iter()
        .map(|m| {
            let x = x_of(m.at_ms, c.end_ms);
            let w = text_width(&m.label);
            let left = x + w > WIDE - RIGHT;
            let (from, to) = if left { (x - w - 2.0, x) } else { (x, x + w + 2.0) };
            let row = ends.iter().position(|end| *end + 4.0 < from).unwrap_or(ends.len()).min(ROWS - 1);
            if row == ends.len() {
                ends.push(to);
            } else {
                ends[row] = ends[row].max(to);
            }
            (row, x, left)
        })
        .collect()
}

/// The timeline: a lane per host that has something to show, spans under marks, each with a hover
/// title; the key moments labelled above, and the outages shaded across every lane.
pub(crate) fn timeline(c: &Charts) -> impl fmt::Display {
    let lanes = busy_lanes(c);
    let rows = label_rows(c);
    let top = 6.0 + ROW * (rows.iter().map(|r| r.0 + 1).max().unwrap_or(0)) as f64;
    let bottom = top + LANE * lanes.len().max(1) as f64;
    let height = bottom + 24.0;
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{height}" viewBox="0 0 {WIDE} {height}" font-family="sans-serif">"#
        )?;
        let lane_y = |lane: &str| lanes.iter().position(|l| *l == lane).map(|i| top + LANE * i as f64);
        for (i, lane) in lanes.iter().enumerate() {
            let y = top + LANE * i as f64;
            let fill = if i % 2 == 0 { "#f6f6f6" } else { "#fff" };
            write!(
                o,
                r#"<rect x="{LEFT}" y="{y}" width="{}" height="{LANE}" fill="{fill}"/><text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
                WIDE - LEFT - RIGHT,
                LEFT - 6.0,
                y + LANE - 4.0,
                escape(lane)
            )?;
        }
        time_axis(o, c.end_ms, top, bottom)?;
        outages(o, &c.outages, c.end_ms, top, bottom)?;
        for s in &c.spans {
            let Some(y) = lane_y(&s.lane) else { continue };
            let (x1, x2) = (x_of(s.from_ms, c.end_ms), x_of(s.to_ms, c.end_ms));
            write!(
                o,
                r#"<rect class="span" x="{x1:.1}" y="{}" width="{:.1}" height="{}" fill="{}" fill-opacity="0.35"><title>{} to {}: {}</title></rect>"#,
                y + 2.0,
                (x2 - x1).max(1.0),
                LANE - 4.0,
                color(s.kind),
                seconds(s.from_ms),
                seconds(s.to_ms),
                escape(&s.label)
            )?;
        }
        for m in &c.marks {
            let Some(y) = lane_y(&m.lane) else { continue };
            write!(
                o,
                r#"<rect class="mark" x="{:.1}" y="{}" width="3" height="{}" fill="{}"><title>{} {}</title></rect>"#,
                x_of(m.at_ms, c.end_ms) - 1.5,
                y + 1.0,
                LANE - 2.0,
                color(m.kind),
                seconds(m.at_ms),
                escape(&m.label)
            )?;
        }
        for (m, &(row, x, left)) in c.moments.iter().zip(&rows) {
            let y = 6.0 + ROW * row as f64 + 10.0;
            let (tx, anchor) = if left { (x - 2.0, "end") } else { (x + 2.0, "start") };
            write!(
                o,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}" stroke="#333" stroke-dasharray="2,2"/><text class="moment" x="{tx:.1}" y="{y}" font-size="11" text-anchor="{anchor}">{}</text>"##,
                y - 9.0,
                escape(&m.label)
            )?;
        }
        o.write_str("</svg>")
    })
}

/// A log10 axis over whole decades covering the positive `values` (milliseconds, at least 0.1),
/// with a row of its own for 0 under the lowest decade when some value is 0.
struct LogAxis {
    lo: i32,
    hi: i32,
    zero: bool,
}

impl LogAxis {
    /// Room between the 0 row and the lowest decade.
    const ZERO: f64 = 16.0;

    fn covering(values: impl Iterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi, mut zero) = (0, 1, false);
        for v in values {
            if v <= 0.0 {
                zero = true;
                continue;
            }
            let e = v.max(0.1).log10();
            lo = lo.min(e.floor() as i32);
            hi = hi.max(e.ceil() as i32);
        }
        LogAxis { lo, hi: hi.max(lo + 1), zero }
    }

    /// Position from `from` (0, or the value 10^lo) to `to` (10^hi).
    fn at(&self, v: f64, from: f64, to: f64) -> f64 {
        let gap = if self.zero { LogAxis::ZERO * (to - from).signum() } else { 0.0 };
        if v <= 0.0 {
            return from;
        }
        let share = (v.max(0.1).log10() - self.lo as f64) / (self.hi - self.lo) as f64;
        from + gap + share * (to - from - gap)
    }

    fn label(e: i32) -> String {
        match e {
            ..0 => format!("{}ms", 10f64.powi(e)),
            0..3 => format!("{}ms", 10u64.pow(e as u32)),
            _ => format!("{}s", 10u64.pow(e as u32 - 3)),
        }
    }

    /// Horizontal grid lines and labels of a vertical axis from `bottom` (low) to `top`.
    fn draw_vertical(&self, o: &mut fmt::Formatter, left: f64, right: f64, bottom: f64, top: f64) -> fmt::Result {
        let mut line = |y: f64, label: &str| {
            write!(
                o,
                r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
                left - 4.0,
                y + 4.0,
            )
        };
        if self.zero {
            line(bottom, "0")?;
        }
        for e in self.lo..=self.hi {
            line(self.at(10f64.powi(e), bottom, top), &LogAxis::label(e))?;
        }
        Ok(())
    }
}

/// Names of series in their colours, in a row from `x`.
fn legend(o: &mut fmt::Formatter, names: &[(String, &str)], x: f64, y: f64) -> fmt::Result {
    let mut x = x;
    for (name, color) in names {
        write!(o, r#"<text x="{x:.1}" y="{y}" font-size="12" fill="{color}">&#9632; {}</text>"#, escape(name))?;
        x += 14.0 + 7.0 * name.len() as f64;
    }
    Ok(())
}

/// A line through `points`, with a dot on each so that a lone point shows.
fn series(o: &mut fmt::Formatter, color: &str, points: &[(f64, f64)], dash: bool) -> fmt::Result {
    let path: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dash = if dash { r#" stroke-dasharray="5,3""# } else { "" };
    write!(
        o,
        r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>"#,
        path.join(" ")
    )?;
    for (x, y) in points {
        write!(o, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="{color}"/>"#)?;
    }
    Ok(())
}

/// The horizontal position of a quantile on the percentile axis: 0, p90, p99, p99.9 equally
/// spaced, the maximum after them.
fn tail(q: f64) -> f64 {
    if q >= 1.0 { 3.5 } else { -(1.0 - q).log10() }
}

/// Latency by percentile: one line per series, solid for reads and dashed for writes.
pub(crate) fn percentiles(title: &str, series_of: &[(String, &[f64], bool)]) -> impl fmt::Display {
    let (w, h, left, right, top, bottom) = (360.0, 260.0, 60.0, 345.0, 36.0, 230.0);
    let axis = LogAxis::covering(series_of.iter().flat_map(|(_, v, _)| v.iter().copied()));
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif"><text x="{left}" y="14" font-size="13" font-weight="bold">{}</text>"#,
            escape(title)
        )?;
        axis.draw_vertical(o, left, right, bottom, top)?;
        let x = |q: f64| left + tail(q) / 3.5 * (right - left);
        for (q, label) in [(0.0, "p0"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (1.0, "max")] {
            write!(
                o,
                r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{label}</text>"#,
                x(q),
                bottom + 16.0
            )?;
        }
        let names: Vec<(String, &str)> =
            series_of.iter().enumerate().map(|(i, (n, _, _))| (n.clone(), PALETTE[i % PALETTE.len()])).collect();
        legend(o, &names, left, 30.0)?;
        for (i, (_, values, dash)) in series_of.iter().enumerate() {
            let points: Vec<(f64, f64)> =
                QUANTILES.iter().zip(values.iter()).map(|(q, v)| (x(*q), axis.at(*v, bottom, top))).collect();
            series(o, PALETTE[i % PALETTE.len()], &points, *dash)?;
        }
        o.write_str("</svg>")
    })
}

/// Latency under load: per load step (x: its traffic factor), the p99 of the reads and writes
/// answered (lines on the log axis, left) and the share of requests shed (bars, right axis).
pub(crate) fn load_steps(steps: &[LoadStep]) -> impl fmt::Display {
    let (w, h, left, right, top, bottom) = (WIDE, 280.0, LEFT, WIDE - 60.0, 40.0, 240.0);
    let answered = |s: &Summary| (s.count > 0).then_some(s.p99_ms);
    let axis = LogAxis::covering(steps.iter().flat_map(|s| [answered(&s.read), answered(&s.write)]).flatten());
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="load" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif"><text x="{left}" y="14" font-size="13" font-weight="bold">p99 latency per load step (lines, left) and requests shed (bars, right)</text>"#
        )?;
        axis.draw_vertical(o, left, right, bottom, top)?;
        let slot = (right - left) / steps.len() as f64;
        let x = |i: usize| left + slot * (i as f64 + 0.5);
        for (i, s) in steps.iter().enumerate() {
            let share = if s.requests == 0 { 0.0 } else { s.shed as f64 / s.requests as f64 };
            let y = bottom - share * (bottom - top);
            write!(
                o,
                r#"<rect class="shed" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{OUTAGE}" fill-opacity="0.25"/><text x="{:.1}" y="{}" font-size="11" text-anchor="middle">step {} x{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{} shed</text>"#,
                x(i) - slot * 0.3,
                slot * 0.6,
                bottom - y,
                x(i),
                bottom + 16.0,
                s.step,
                s.factor,
                x(i),
                y - 4.0,
                s.shed,
            )?;
        }
        for pct in [0, 50, 100] {
            let y = bottom - (bottom - top) * pct as f64 / 100.0;
            write!(o, r#"<text x="{}" y="{:.1}" font-size="11">{pct}%</text>"#, right + 6.0, y + 4.0)?;
        }
        let read: fn(&LoadStep) -> &Summary = |s| &s.read;
        let write: fn(&LoadStep) -> &Summary = |s| &s.write;
        let lines = [("read p99", PALETTE[0], false, read), ("write p99", PALETTE[1], true, write)];
        legend(o, &lines.map(|(name, color, _, _)| (name.to_string(), color)), left, 30.0)?;
        for (_, color, dash, of) in lines {
            let points: Vec<(f64, f64)> = steps
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((x(i), axis.at(answered(of(s))?, bottom, top))))
                .collect();
            series(o, color, &points, dash)?;
        }
        o.write_str("</svg>")
    })
}

/// Replication lag over time, one line per series, aligned with the timeline above it.
pub(crate) fn lag(c: &Charts) -> impl fmt::Display {
    let title = format!("replication lag, worst frame applied per {}", seconds(c.lag_bucket_ms));
    over_time("lag", title, c, &c.lag)
}

/// The worst latency of answered requests over time, a line per region and operation (dashed:
/// writes).
pub(crate) fn latency_over_time(c: &Charts) -> impl fmt::Display {
    let title = format!("latency as clients saw it, worst answered request per {}", seconds(c.lag_bucket_ms));
    over_time("latency-over-time", title, c, &c.latency_over_time)
}

/// How stale the pages viewers saw were over time, one line per viewer host.
pub(crate) fn staleness(c: &Charts) -> impl fmt::Display {
    let title = format!("staleness of the pages viewers saw, worst per {}", seconds(c.lag_bucket_ms));
    over_time("staleness", title, c, &c.staleness)
}

/// Time to first byte of the views answered, one line per viewer host.
pub(crate) fn ttfb(c: &Charts, lines: &BTreeMap<String, Vec<Option<f64>>>) -> impl fmt::Display {
    let title = format!("time to first byte of the views answered, worst per {}", seconds(c.lag_bucket_ms));
    over_time("ttfb", title, c, lines)
}

/// Milliseconds per time bucket (`c.lag_bucket_ms`), one line per series (dashed when its name
/// ends in `write`), aligned with the timeline, its outages shaded.
fn over_time(class: &str, title: String, c: &Charts, lines: &BTreeMap<String, Vec<Option<f64>>>) -> impl fmt::Display {
    let (h, top, bottom) = (240.0, 36.0, 210.0);
    let axis = LogAxis::covering(lines.values().flatten().flatten().copied());
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{h}" viewBox="0 0 {WIDE} {h}" font-family="sans-serif"><text x="{LEFT}" y="14" font-size="13" font-weight="bold">{}</text>"#,
            escape(&title)
        )?;
        axis.draw_vertical(o, LEFT, WIDE - RIGHT, bottom, top)?;
        time_axis(o, c.end_ms, top, bottom)?;
        outages(o, &c.outages, c.end_ms, top, bottom)?;
        let mut colors = BTreeMap::new();
        for name in lines.keys() {
            let n = colors.len();
            colors
                .entry(name.trim_end_matches(" write").trim_end_matches(" read"))
                .or_insert(PALETTE[n % PALETTE.len()]);
        }
        let color_of = |name: &str| colors[name.trim_end_matches(" write").trim_end_matches(" read")];
        let names: Vec<(String, &str)> = lines.keys().map(|n| (n.clone(), color_of(n))).collect();
        legend(o, &names, LEFT, 30.0)?;
        for (name, values) in lines {
            let (color, dash) = (color_of(name), name.ends_with(" write"));
            let mut run = Vec::new();
            for (j, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    let at = (j as u64 * c.lag_bucket_ms + c.lag_bucket_ms / 2).min(c.end_ms);
                    run.push((x_of(at, c.end_ms), axis.at(*v, bottom, top)));
                } else if !run.is_empty() {
                    series(o, color, &std::mem::take(&mut run), dash)?;
                }
            }
            if !run.is_empty() {
                series(o, color, &run, dash)?;
            }
        }
        o.write_str("</svg>")
    })
}

/// Views by the tier that answered them (or unanswered) per time bucket, as shares of the bucket's
/// views stacked to 100%, aligned with the timeline.
pub(crate) fn tiers(c: &Charts, tiers: &BTreeMap<String, Vec<u64>>) -> impl fmt::Display {
    let title = format!("page views by the tier that answered them, per {}", seconds(c.lag_bucket_ms));
    let order = ["edge_kv", "origin", "stale_cache", "fallback", crate::status::charts::UNANSWERED];
    let series: Vec<Share> =
        order.into_iter().filter_map(|t| Some((t.to_string(), tier_color(t), &tiers.get(t)?[..]))).collect();
    fmt::from_fn(move |o| stacked(o, c, "tiers", &title, "views", &series, &[]))
}

/// Where anycast sent the requests: per time bucket, each PoP's share of the requests that started,
/// stacked to 100%, with each route change marked (dashed, labelled on hover), aligned with the
/// timeline.
pub(crate) fn anycast(c: &Charts, a: &AnycastChart) -> impl fmt::Display {
    let title =
        format!("requests by the PoP anycast sent them to, per {} (dashed: route changes)", seconds(c.lag_bucket_ms));
    let series: Vec<Share> =
        a.requests.iter().enumerate().map(|(i, (pop, n))| (pop.clone(), PALETTE[i % PALETTE.len()], &n[..])).collect();
    fmt::from_fn(move |o| stacked(o, c, "anycast", &title, "requests", &series, &a.routes))
}

/// A stacked series: its name, its colour, its count per time bucket.
type Share<'a> = (String, &'a str, &'a [u64]);

/// Each bucket's counts as shares stacked to 100% in `series`' order, `noun` naming what is
/// counted in the hover titles, `moments` as dashed lines, aligned with the timeline.
fn stacked(
    o: &mut fmt::Formatter,
    c: &Charts,
    class: &str,
    title: &str,
    noun: &str,
    series: &[Share],
    moments: &[Moment],
) -> fmt::Result {
    let (h, top, bottom) = (220.0, 36.0, 190.0);
    write!(
        o,
        r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{h}" viewBox="0 0 {WIDE} {h}" font-family="sans-serif"><text x="{LEFT}" y="14" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    )?;
    for pct in [0, 50, 100] {
        let y = bottom - (bottom - top) * pct as f64 / 100.0;
        write!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{pct}%</text>"##,
            WIDE - RIGHT,
            LEFT - 4.0,
            y + 4.0
        )?;
    }
    time_axis(o, c.end_ms, top, bottom)?;
    let names: Vec<(String, &str)> = series.iter().map(|(name, color, _)| (name.clone(), *color)).collect();
    legend(o, &names, LEFT, 30.0)?;
    let buckets = series.iter().map(|(_, _, n)| n.len()).max().unwrap_or(0);
    let bucket_w = x_of(c.lag_bucket_ms, c.end_ms) - LEFT;
    for j in 0..buckets {
        let total: u64 = series.iter().filter_map(|(_, _, n)| n.get(j)).sum();
        if total == 0 {
            continue;
        }
        let x = x_of(j as u64 * c.lag_bucket_ms, c.end_ms);
        let mut y = bottom;
        for (name, color, counts) in series {
            let n = counts.get(j).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let hgt = (bottom - top) * n as f64 / total as f64;
            y -= hgt;
            write!(
                o,
                r#"<rect class="share" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{hgt:.1}" fill="{color}"><title>{}: {n} of {total} {noun} {}</title></rect>"#,
                bucket_w.min(WIDE - RIGHT - x).max(0.5),
                seconds(j as u64 * c.lag_bucket_ms),
                escape(name)
            )?;
        }
    }
    for m in moments {
        let x = x_of(m.at_ms, c.end_ms);
        write!(
            o,
            r##"<line class="change" x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#000" stroke-dasharray="4 3"><title>{}: {}</title></line>"##,
            seconds(m.at_ms),
            escape(&m.label)
        )?;
    }
    o.write_str("</svg>")
}

/// The DNS's verdicts: a lane per CDN, healthy unless a span says it was held unhealthy.
pub(crate) fn dns(c: &Charts, unhealthy: &BTreeMap<String, Vec<Outage>>, cdns: &[String]) -> impl fmt::Display {
    let top = 24.0;
    let bottom = top + LANE * cdns.len().max(1) as f64;
    let h = bottom + 24.0;
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="dns" xmlns="http://www.w3.org/2000/svg" width="{WIDE}" height="{h}" viewBox="0 0 {WIDE} {h}" font-family="sans-serif"><text x="{LEFT}" y="14" font-size="13" font-weight="bold">the DNS's verdicts per CDN (green: healthy, in answers; red: unhealthy, left out)</text>"#
        )?;
        for (i, cdn) in cdns.iter().enumerate() {
            let y = top + LANE * i as f64;
            write!(
                o,
                r#"<rect x="{LEFT}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.5"/><text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
                y + 2.0,
                WIDE - LEFT - RIGHT,
                LANE - 4.0,
                tier_color("edge_kv"),
                LEFT - 6.0,
                y + LANE - 4.0,
                escape(cdn)
            )?;
            for out in unhealthy.get(cdn).into_iter().flatten() {
                let (x1, x2) = (x_of(out.from_ms, c.end_ms), x_of(out.to_ms, c.end_ms));
                write!(
                    o,
                    r#"<rect class="verdict" x="{x1:.1}" y="{}" width="{:.1}" height="{}" fill="{OUTAGE}"><title>{} to {}: {}</title></rect>"#,
                    y + 2.0,
                    (x2 - x1).max(1.0),
                    LANE - 4.0,
                    seconds(out.from_ms),
                    seconds(out.to_ms),
                    escape(&out.label)
                )?;
            }
        }
        time_axis(o, c.end_ms, top, bottom)?;
        o.write_str("</svg>")
    })
}

/// A bar of the notifications chart: its name, its colour and its count on a channel.
type Bar = (&'static str, &'static str, fn(&ChannelDeliveries) -> u64);

/// Notifications per channel: a bar each for those accepted, the failed attempts, those given up
/// and those held back by the rate limit, with their counts.
pub(crate) fn notifications(channels: &BTreeMap<String, ChannelDeliveries>) -> impl fmt::Display {
    let bars: [Bar; 4] = [
        ("accepted", "#009E73", |d| d.accepted),
        ("failed attempts", "#AA4499", |d| d.failed_attempts),
        ("given up", "#D55E00", |d| d.given_up),
        ("rate limited", "#E69F00", |d| d.rate_limited),
    ];
    let (left, right, group) = (110.0, 420.0, 4.0 * 13.0 + 10.0);
    let h = 40.0 + group * channels.len().max(1) as f64;
    let most = channels.values().flat_map(|d| bars.map(|(_, _, f)| f(d))).max().unwrap_or(0).max(1);
    fmt::from_fn(move |o| {
        write!(
            o,
            r#"<svg class="notifications" xmlns="http://www.w3.org/2000/svg" width="480" height="{h}" viewBox="0 0 480 {h}" font-family="sans-serif"><text x="0" y="14" font-size="13" font-weight="bold">notifications per channel</text>"#
        )?;
        let names: Vec<(String, &str)> = bars.iter().map(|(n, c, _)| (n.to_string(), *c)).collect();
        legend(o, &names, 0.0, 30.0)?;
        for (i, (channel, d)) in channels.iter().enumerate() {
            let y0 = 40.0 + group * i as f64;
            write!(
                o,
                r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>"#,
                left - 6.0,
                y0 + 2.0 * 13.0,
                escape(channel)
            )?;
            for (j, (name, color, f)) in bars.iter().enumerate() {
                let (n, y) = (f(d), y0 + 13.0 * j as f64);
                let w = (right - left) * n as f64 / most as f64;
                write!(
                    o,
                    r#"<rect class="bar" x="{left}" y="{y:.1}" width="{:.1}" height="11" fill="{color}"><title>{}: {n} {name}</title></rect><text x="{:.1}" y="{:.1}" font-size="10">{n}</text>"#,
                    w.max(0.5),
                    escape(channel),
                    left + w + 3.0,
                    y + 9.5
                )?;
            }
        }
        o.write_str("</svg>")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::charts::{Distributions, Mark, Moment, Span};

    /// Goal (issue 14): the load chart draws a bar per step, higher where more was shed, and a
    /// point per step for each of read and write p99, none for a step with no answered write.
    #[test]
    fn the_load_chart_has_a_bar_per_step_and_a_point_per_answered_p99() {
        let step = |n: usize, shed: u64, write_count: u64| LoadStep {
            step: n,
            factor: (n + 1) as f64,
            from_s: n as f64 * 5.0,
            requests: 100,
            read: Summary { count: 90, p50_ms: 5.0, p99_ms: 10.0 * (n + 1) as f64, max_ms: 50.0 },
            write: Summary { count: write_count, p50_ms: 8.0, p99_ms: 20.0, max_ms: 30.0 },
            shed,
            shed_by_primary: 0,
            errors: 0,
            timeouts: 0,
        };
        let svg = load_steps(&[step(0, 0, 10), step(1, 50, 0)]).to_string();
        assert_eq!(svg.matches("class=\"shed\"").count(), 2, "{svg}");
        assert!(svg.contains("step 1 x2") && svg.contains("50 shed"), "{svg}");
        let heights: Vec<f64> = svg
            .split("class=\"shed\"")
            .skip(1)
            .map(|r| r.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(heights[0] == 0.0 && heights[1] > 0.0, "{heights:?}");
        assert_eq!(svg.matches("<circle").count(), 3, "two read points and one write point: {svg}");
    }

    fn charts() -> Charts {
        Charts {
            end_ms: 60_000,
            lanes: vec!["primary".into(), "pop-a-1".into(), "pop-a-2".into()],
            spans: vec![Span {
                from_ms: 10_000,
                to_ms: 40_000,
                lane: "primary".into(),
                kind: MarkKind::Down,
                label: "crash primary".into(),
            }],
            marks: vec![
                Mark { at_ms: 10_000, lane: "primary".into(), kind: MarkKind::Down, label: "crash <primary>".into() },
                Mark { at_ms: 5_000, lane: "nowhere".into(), kind: MarkKind::Error, label: "not drawn".into() },
                Mark {
                    at_ms: 20_000,
                    lane: "pop-a-2".into(),
                    kind: MarkKind::Timeout,
                    label: "1 timeout in 1s".into(),
                },
            ],
            latency: [("a".to_string(), Distributions { read: vec![5.0; 12], write: vec![80.0; 12] })].into(),
            lag_bucket_ms: 1000,
            lag: [("a".to_string(), vec![Some(20.0), None, Some(2000.0), Some(30.0)])].into(),
            staleness: [("viewers-a".to_string(), vec![Some(0.0), Some(65_000.0), None, Some(1.5)])].into(),
            moments: vec![
                Moment { at_ms: 10_000, label: "T+0.0s primary lost".into() },
                Moment { at_ms: 11_000, label: "T+1.0s failure confirmed".into() },
                Moment { at_ms: 59_000, label: "T+49.0s first write on the new primary".into() },
            ],
            outages: vec![Outage { from_ms: 10_000, to_ms: 59_000, label: "writes unavailable for 49.0s".into() }],
            ..Charts::default()
        }
    }

    #[test]
    fn the_timeline_draws_busy_lanes_folds_quiet_ones_and_labels_the_story() {
        let c = charts();
        let svg = timeline(&c).to_string();
        assert!(svg.starts_with("<svg class=\"timeline\""), "{svg}");
        assert!(svg.contains(">pop-a-2</text>") && !svg.contains(">pop-a-1</text>"), "{svg}");
        assert_eq!(quiet_lanes(&c), ["pop-a-1"]);
        assert_eq!(kinds(&c), [MarkKind::Down, MarkKind::Error, MarkKind::Timeout]);
        assert_eq!(svg.matches("class=\"mark\"").count(), 2);
        assert_eq!(svg.matches("class=\"span\"").count(), 1);
        assert_eq!(svg.matches("class=\"outage\"").count(), 1);
        assert!(svg.contains("<title>10s crash &lt;primary&gt;</title>"), "{svg}");
        assert!(svg.contains(">60s</text>") && svg.contains(">0s</text>"), "ticks every 5s: {svg}");
        // The crash at 10 s of 60 s sits a sixth of the way along the plot.
        assert!(svg.contains(&format!("x=\"{:.1}\"", LEFT + (WIDE - LEFT - RIGHT) / 6.0 - 1.5)), "{svg}");
        assert_eq!(svg.matches("class=\"moment\"").count(), 3);
        // The loss and its confirmation a second later would overlap: the second label takes a row
        // of its own; the last, near the right edge, runs left of its time.
        let rows: Vec<(usize, bool)> = label_rows(&c).into_iter().map(|(row, _, left)| (row, left)).collect();
        assert_eq!(rows, [(0, false), (1, false), (0, true)]);
        assert!(svg.contains("text-anchor=\"end\">T+49.0s first write on the new primary</text>"), "{svg}");
    }

    #[test]
    fn lag_lines_break_where_nothing_was_applied() {
        let svg = lag(&charts()).to_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">1ms</text>") && svg.contains(">10s</text>"), "decades cover 20 ms..2 s: {svg}");
        assert!(!svg.contains(">0</text>"), "no zero row without a zero: {svg}");
        assert_eq!(svg.matches("class=\"outage\"").count(), 1, "the outage is shaded under the lines too");
    }

    #[test]
    fn staleness_draws_zero_on_a_row_of_its_own_not_as_a_tenth_of_a_millisecond() {
        let svg = staleness(&charts()).to_string();
        assert!(svg.starts_with("<svg class=\"staleness\"") && svg.contains("&#9632; viewers-a</text>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains(">100s</text>"), "the axis reaches 65 s: {svg}");
        assert!(svg.contains(">0</text>") && svg.contains(">1ms</text>"), "{svg}");
        let axis = LogAxis::covering([0.0, 1.5, 65_000.0].into_iter());
        assert_eq!(axis.at(0.0, 210.0, 36.0), 210.0);
        assert_eq!(axis.at(1.0, 210.0, 36.0), 210.0 - LogAxis::ZERO, "the lowest decade sits above the zero row");
    }

    #[test]
    fn latency_over_time_gives_a_region_one_colour_and_dashes_its_writes() {
        let mut c = charts();
        c.latency_over_time = [
            ("a read".to_string(), vec![Some(5.0), Some(6.0)]),
            ("a write".to_string(), vec![Some(50.0), None]),
            ("b read".to_string(), vec![Some(7.0), Some(8.0)]),
        ]
        .into();
        let svg = latency_over_time(&c).to_string();
        assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
        assert_eq!(svg.matches("stroke-dasharray=\"5,3\"").count(), 1, "{svg}");
        assert_eq!(svg.matches(&format!("stroke=\"{}\"", PALETTE[0])).count(), 2, "{svg}");
        assert_eq!(svg.matches(&format!("stroke=\"{}\"", PALETTE[1])).count(), 1, "{svg}");
    }

    #[test]
    fn anycast_stacks_each_pops_share_of_the_requests_and_marks_the_route_changes() {
        // Goal: each bucket stacks the PoPs that got requests in it, and each route change is a
        // dashed line titled with what changed.
        let c = charts();
        let a = AnycastChart {
            requests: [("pop-a-1".to_string(), vec![4, 0]), ("pop-a-2".to_string(), vec![0, 2])].into(),
            routes: vec![Moment { at_ms: 1500, label: "pop-a-1 withdrawn".into() }],
        };
        let svg = anycast(&c, &a).to_string();
        assert_eq!(svg.matches("class=\"share\"").count(), 2, "{svg}");
        assert!(svg.contains("4 of 4 requests pop-a-1") && svg.contains("2 of 2 requests pop-a-2"), "{svg}");
        assert_eq!(svg.matches("class=\"change\"").count(), 1, "{svg}");
        assert!(svg.contains("<title>1.5s: pop-a-1 withdrawn</title>"), "{svg}");
    }

    #[test]
    fn status_figures_stack_tiers_and_draw_verdicts_and_channels() {
        let c = charts();
        let tiers_of: BTreeMap<String, Vec<u64>> =
            [("edge_kv".to_string(), vec![3, 0, 1]), ("unanswered".to_string(), vec![1, 0, 0])].into();
        let svg = tiers(&c, &tiers_of).to_string();
        assert_eq!(svg.matches("class=\"share\"").count(), 3, "{svg}");
        assert!(svg.contains("<title>0s: 1 of 4 views unanswered</title>"), "{svg}");
        let unhealthy = [(
            "cdn-a".to_string(),
            vec![Outage { from_ms: 20_000, to_ms: 30_000, label: "DNS held cdn-a unhealthy".into() }],
        )]
        .into();
        let svg = dns(&c, &unhealthy, &["cdn-a".into(), "cdn-b".into()]).to_string();
        assert_eq!(svg.matches("class=\"verdict\"").count(), 1, "{svg}");
        assert!(svg.contains(">cdn-b</text>"), "{svg}");
        let channels = [(
            "email".to_string(),
            ChannelDeliveries {
                accepted: 9,
                failed_attempts: 2,
                given_up: 1,
                rate_limited: 0,
                ..ChannelDeliveries::default()
            },
        )]
        .into();
        let svg = notifications(&channels).to_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), 4, "{svg}");
        assert!(svg.contains("<title>email: 2 failed attempts</title>"), "{svg}");
    }

    #[test]
    fn percentiles_draw_a_line_per_series_on_a_tail_axis() {
        let c = charts();
        let d = &c.latency["a"];
        let svg = percentiles("a", &[("read".into(), &d.read, false), ("write".into(), &d.write, true)]).to_string();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains(">p99.9</text>"));
        assert_eq!((tail(0.0), tail(0.9), tail(1.0)), (0.0, 1.0, 3.5));
        assert_eq!(LogAxis::label(-1), "0.1ms");
        assert_eq!(LogAxis::label(4), "10s");
    }

    #[test]
    fn down_error_and_timeout_have_distinct_colours() {
        let colours: Vec<&str> = MarkKind::ALL.iter().map(|k| color(*k)).collect();
        let mut unique = colours.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), colours.len(), "{colours:?}");
    }
}
