//! The run report's part for a status page scenario: its figures (`check`, `delivery`), which
//! `report` puts in a `RunReport` whose edge platform sections are empty, a readable block, and a
//! narrated timeline of faults and of what the DNS and the pipeline did about them.

use std::collections::BTreeMap;
use std::fmt;

use edgesim_system::telemetry::NodeEvent;

use super::charts::HEARTBEAT;
use super::check::{self, StatusReport};
use super::delivery::{Notifications, Sse};
use super::rates::ProviderRate;
use super::settings::StatusSettings;
use super::spike::Spike;
use crate::edge::charts::Charts;
use crate::edge::metrics::{Summary, fmt_summary};
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::Scenario;

/// The status page's figures and its narrated timeline; its charts are added to `charts`.
pub fn analyze(
    scenario: &Scenario,
    s: &StatusSettings,
    events: &[Event],
    charts: &mut Charts,
) -> (StatusReport, Vec<String>) {
    let edits = check::edits(events);
    let views = check::views(events, &edits);
    let status = check::analyze(scenario, s, events, &edits, &views);
    super::charts::add(charts, &s.cdns, events, &views);
    super::charts::add_judged(charts, &status.notifications, &status.provider_rates, &status.sse);
    let timeline = narrate(events, &status);
    (status, timeline)
}

fn at(t_us: u64) -> String {
    format!("T+{:.3}s", t_us as f64 / 1e6)
}

/// Faults, the DNS's health verdicts, and the figures that followed each fault.
fn narrate(events: &[Event], r: &StatusReport) -> Vec<String> {
    let mut lines = Vec::new();
    for e in events {
        match &e.record {
            Record::Harness(HarnessEvent::Fault { action, .. }) => {
                lines.push(format!("{} fault: {}", at(e.t_us), action.narrated()))
            }
            Record::Harness(HarnessEvent::CdnErrors { cdn, rate }) => {
                lines.push(format!("{} {}", at(e.t_us), check::errors_label(cdn, *rate)))
            }
            Record::Harness(HarnessEvent::PlatformHealth { up, .. }) => {
                let state = if *up { "reachable again" } else { "unreachable: the operators report it" };
                lines.push(format!("{} monitor: the platform is {state}", at(e.t_us)))
            }
            Record::Node(NodeEvent::CdnHealth { cdn, healthy }) => {
                let verdict = if *healthy { "healthy again" } else { "unhealthy: answers leave it out" };
                lines.push(format!("{} DNS marked {cdn} {verdict}", at(e.t_us)));
            }
            Record::Node(NodeEvent::OriginHealth { region, healthy }) => {
                let verdict =
                    if *healthy { "healthy again" } else { "unhealthy: its operators move to another region" };
                lines.push(format!("{} GeoDNS marked {region} {verdict}", at(e.t_us)));
            }
            Record::Node(NodeEvent::QueueRestored { jobs }) if e.t_us > 0 => {
                lines.push(format!("{} notifier restarted from its disk with {jobs} notifications queued", at(e.t_us)))
            }
            _ => {}
        }
    }
    for f in &r.dns_failovers {
        lines.push(match f.moved_after_s {
            None if f.views == 0 => format!(
                "{} {} lost; no page view began while it was out, so DNS failover cannot be judged",
                at((f.at_s * 1e6) as u64),
                f.cdn
            ),
            Some(s) => format!(
                "{} {} lost; the last view that tried it first began {s:.1}s later",
                at((f.at_s * 1e6) as u64),
                f.cdn
            ),
            None => format!(
                "{} {} lost; viewers' traffic never moved off it while it was out",
                at((f.at_s * 1e6) as u64),
                f.cdn
            ),
        });
    }
    for c in &r.convergence {
        let t = at((c.heal_at_s * 1e6) as u64);
        lines.push(match c.after_ms {
            Some(ms) => format!("{t} regions healed; all origins showed the same document {ms:.0} ms later"),
            None => format!(
                "{t} regions healed; origins still differed {}s later",
                super::probes::CONVERGENCE_WINDOW.as_secs()
            ),
        });
    }
    lines.sort_by(|a, b| {
        let t = |l: &str| l[2..].split('s').next().and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        t(a).total_cmp(&t(b))
    });
    lines
}

/// The status page block of `edgesim run`'s report.
impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let sc = &self.scale;
        writeln!(
            f,
            "\nscale: {} viewers, {} live viewers, {} subscribers (the design's 1M subscribers scaled down {}x); \
             SSE cap {} streams per edge (the design's 100,000 scaled down {}x)",
            sc.viewers, sc.live_viewers, sc.subscribers, sc.subscriber_factor, sc.sse_max_per_edge, sc.sse_factor
        )?;
        write_views(f, self)?;
        write_updates(f, self)?;
        write_notifications(f, &self.notifications)?;
        write_rates(f, &self.provider_rates)?;
        write_sse(f, &self.sse)?;
        if let Some(spike) = &self.spike {
            write_spike(f, spike)?;
        }
        write_checks(f, self)
    }
}

/// Page views as viewers saw them: in total, per window, DNS failovers and the platform's reports.
fn write_views(f: &mut fmt::Formatter, r: &StatusReport) -> fmt::Result {
    writeln!(f, "\npage views as viewers saw them")?;
    writeln!(f, "  answered {} of {} ({}); tiers: {}", r.answered, r.views, pct(r.availability_pct), tiers(&r.tiers))?;
    writeln!(f, "  time to first byte  {}", fmt_summary(&r.ttfb))?;
    writeln!(f, "  staleness           {}", fmt_summary(&r.staleness))?;
    for w in &r.windows {
        writeln!(
            f,
            "  {:>17} {:>6} views {:>9} answered  {}  [{}]",
            format!("{:.1}s-{:.1}s", w.from_s, w.to_s),
            w.views,
            pct(w.availability_pct),
            tiers(&w.tiers),
            w.label
        )?;
    }
    for d in &r.dns_failovers {
        let moved = match d.moved_after_s {
            Some(s) => format!("moved within {s:.1}s"),
            None if d.views == 0 => "not judged: no page view began while it was lost".into(),
            None => "never moved".into(),
        };
        writeln!(f, "  DNS failover off {} lost at {:.1}s: {moved}", d.cdn, d.at_s)?;
    }
    for p in &r.platform {
        let after = |x: Option<f64>| x.map_or("never".into(), |s| format!("after {s:.1}s"));
        writeln!(
            f,
            "  platform {} at {:.1}s (monitor): report acknowledged {}, first shown to a viewer {}",
            if p.up { "back up" } else { "down" },
            p.at_s,
            after(p.acked_after_s),
            after(p.shown_after_s)
        )?;
    }
    Ok(())
}

/// Views per tier, as `tier n, tier n`.
fn tiers(t: &BTreeMap<&str, u64>) -> String {
    t.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// Incident updates: edits, their propagation to the CDNs, convergence after each heal.
fn write_updates(f: &mut fmt::Formatter, r: &StatusReport) -> fmt::Result {
    writeln!(
        f,
        "\nincident updates ({} edits acknowledged, {} failed, {} updates retracted)",
        r.edits_acked, r.edit_errors, r.retracted
    )?;
    writeln!(f, "  propagation to every CDN edge  {}", fmt_summary(&r.propagation))?;
    if r.not_propagated > 0 {
        writeln!(f, "  updates some CDN never showed  {}", r.not_propagated)?;
    }
    for c in &r.convergence {
        let after = c.after_ms.map_or("not within the probe window".into(), |ms| format!("{ms:.0} ms"));
        writeln!(f, "  CRDT convergence after the heal at {:.1}s: {after}", c.heal_at_s)?;
    }
    Ok(())
}

/// Notifications as the subscriber endpoints recorded them, in total and per channel.
fn write_notifications(f: &mut fmt::Formatter, n: &Notifications) -> fmt::Result {
    writeln!(f, "\nnotifications (as the subscriber endpoints recorded them)")?;
    writeln!(
        f,
        "  {} expected, {} accepted; {} late, {} lost, {} within their deadline at the end, {} duplicates past \
         receiver dedup, {} redeliveries dropped by key",
        n.expected, n.delivered, n.late, n.lost, n.pending, n.duplicates, n.redeliveries
    )?;
    writeln!(
        f,
        "  {} excused by the rate limit, {} accepted beyond it, {} folded by the dedup-key window, {} retried, \
         {} given up",
        n.rate_limited, n.over_rate_limit, n.folded_by_dedup_window, n.retried, n.gave_up
    )?;
    writeln!(f, "  delivery latency  {}", fmt_summary(&n.latency))?;
    writeln!(f, "    critical        {}", fmt_summary(&n.latency_critical))?;
    writeln!(f, "    other           {}", fmt_summary(&n.latency_other))?;
    writeln!(
        f,
        "  per channel  delivered  lost  duplicates  pending  suppressed  slowed down  gave up  told unreachable  latency"
    )?;
    for (channel, c) in &n.channels {
        writeln!(
            f,
            "    {channel:<10} {:>9} {:>5} {:>11} {:>8} {:>11} {:>12} {:>8} {:>17}  {}",
            c.delivered,
            c.lost,
            c.duplicates,
            c.pending,
            c.suppressed,
            c.slowed_down,
            c.gave_up,
            c.told_unreachable,
            fmt_summary(&c.latency)
        )?;
    }
    for l in &n.lost_examples {
        writeln!(f, "    lost: {l}")?;
    }
    for l in &n.over_rate_limit_examples {
        writeln!(f, "    over the rate limit: {l}")?;
    }
    Ok(())
}

/// Each channel's busiest second at its endpoints, beside its provider's limit.
fn write_rates(f: &mut fmt::Formatter, rates: &[ProviderRate]) -> fmt::Result {
    writeln!(f, "  provider limits as received (the busiest second at each channel's endpoints)")?;
    for r in rates {
        let limit = r.per_second.map_or("no limit".to_string(), |l| format!("limit {l}/s"));
        let busiest = match r.worst_at_s {
            Some(at) => format!("busiest second {} (ending at {at:.3}s), {} accepted", r.worst_per_second, r.accepted),
            None => "nothing accepted".to_string(),
        };
        let over = if r.over() { "  OVER THE LIMIT" } else { "" };
        writeln!(f, "    {:<10} {limit:<12} {busiest}{over}", r.channel)?;
    }
    Ok(())
}

/// A distribution, or `no samples` without one.
fn sampled(s: &Summary) -> String {
    if s.count == 0 { "no samples".to_string() } else { fmt_summary(s) }
}

/// Live viewers: their streams, and each SSE event type's delivery.
fn write_sse(f: &mut fmt::Formatter, sse: &Sse) -> fmt::Result {
    writeln!(f, "\nlive viewers (SSE)")?;
    writeln!(
        f,
        "  {} viewers, {} connects ({} reconnects, {} resumed with Last-Event-ID), {} refused ({} at the edge's cap), \
         {} fell back to polling; {} events missed",
        sse.viewers,
        sse.connects,
        sse.reconnects,
        sse.resumed,
        sse.refused,
        sse.refused_edge_full,
        sse.fell_back,
        sse.missed
    )?;
    for (kind, k) in &sse.kinds {
        writeln!(
            f,
            "  {kind:<26} pushed {:>5}, received {:>5}; due {:>5}, on a stream {:>5}, missed {:>3}; delivery \
             (from the write's acknowledgement, on a stream or polled page)  {}",
            k.pushed,
            k.delivered,
            k.expected,
            k.streamed,
            k.missed,
            sampled(&k.latency)
        )?;
    }
    let beats = &sse.heartbeats;
    writeln!(
        f,
        "  {HEARTBEAT:<26} pushed {:>5}, received {:>5}; delivery (from the hub's push)  {}",
        beats.pushed,
        beats.delivered,
        sampled(&beats.latency)
    )?;
    for m in &sse.missed_examples {
        writeln!(f, "    missed: {m}")?;
    }
    Ok(())
}

/// What reached the origins during a viewer spike, next to what the CDNs absorbed.
fn write_spike(f: &mut fmt::Formatter, sp: &Spike) -> fmt::Result {
    writeln!(f, "\nviewer spike {:.0}s-{:.0}s: what reached the origins", sp.from_s, sp.to_s)?;
    let per = sp
        .views_per_origin_request
        .map_or("no origin request".to_string(), |v| format!("{v} views per origin request"));
    writeln!(
        f,
        "  page views {}/s ({}/s answered by the CDNs); origin requests {}/s; {per}",
        sp.views_per_s, sp.answered_per_s, sp.origin_requests_per_s
    )
}

/// The checkers' findings, what they could not judge, and the recovery figures.
fn write_checks(f: &mut fmt::Formatter, r: &StatusReport) -> fmt::Result {
    writeln!(f, "\nchecks (judged from what pages, viewers and endpoints received)")?;
    writeln!(f, "  lost acknowledged updates  {}", r.lost_updates.len())?;
    let listed = [("regions diverged          ", &r.diverged), ("status regressions        ", &r.status_regressions)];
    for (what, found) in listed {
        writeln!(f, "  {what} {}", found.len())?;
        for d in found {
            writeln!(f, "    {d}")?;
        }
    }
    writeln!(f, "  CDN pages behind           {}", r.cdn_pages_behind.len())?;
    let over: Vec<&str> = r.provider_rates.iter().filter(|p| p.over()).map(|p| p.channel.as_str()).collect();
    let over = if over.is_empty() { "none".to_string() } else { over.join(", ") };
    writeln!(f, "  providers over their limit {over}")?;
    let never = if r.sse.never_streamed.is_empty() { "none".to_string() } else { r.sse.never_streamed.join(", ") };
    writeln!(f, "  SSE event types never streamed  {never}")?;
    for d in &r.cdn_pages_behind {
        writeln!(f, "    {d}")?;
    }
    for n in &r.not_judged {
        writeln!(f, "  not judged: {n}")?;
    }
    if let Some(l) = &r.liveness {
        writeln!(
            f,
            "  liveness                   heal at {}s; by {}s every page shows the {} updates acknowledged before: {}",
            l.heal_s,
            l.deadline_s,
            l.due,
            if l.behind.is_empty() { "yes" } else { "NO" }
        )?;
        for b in &l.behind {
            writeln!(f, "    {b}")?;
        }
    }
    if !r.concurrent.is_empty() {
        write!(f, "  {}", r.concurrent)?;
    }
    if let Some(recovery) = &r.recovery {
        write!(f, "\n{recovery}")?;
    }
    Ok(())
}

/// A percentage as the report writes it; `no views` without a sample.
fn pct(p: Option<f64>) -> String {
    p.map_or("no views".into(), |p| format!("{p:.3}%"))
}
