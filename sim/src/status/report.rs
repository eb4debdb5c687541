//! The run report's part for a status page scenario: its figures (`check`, `delivery`), which
//! `report` puts in a `RunReport` whose edge platform sections are empty, a readable block, and a
//! narrated timeline of faults and of what the DNS and the pipeline did about them.

use std::fmt::Write;

use edgesim_system::telemetry::NodeEvent;

use super::check::{self, StatusReport};
use super::settings::StatusSettings;
use crate::edge::charts::Charts;
use crate::edge::metrics::fmt_summary;
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
    super::charts::add_judged(charts, &status.notifications);
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
pub fn text(r: &StatusReport) -> String {
    let mut o = String::new();
    let tiers = |t: &std::collections::BTreeMap<&str, u64>| {
        t.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    let sc = &r.scale;
    let _ = writeln!(
        o,
        "\nscale: {} viewers, {} live viewers, {} subscribers (the design's 1M subscribers scaled down {}x); \
         SSE cap {} streams per edge (the design's 100,000 scaled down {}x)",
        sc.viewers, sc.live_viewers, sc.subscribers, sc.subscriber_factor, sc.sse_max_per_edge, sc.sse_factor
    );
    let _ = writeln!(o, "\npage views as viewers saw them");
    let _ = writeln!(
        o,
        "  answered {} of {} ({}); tiers: {}",
        r.answered,
        r.views,
        pct(r.availability_pct),
        tiers(&r.tiers)
    );
    let _ = writeln!(o, "  time to first byte  {}", fmt_summary(&r.ttfb));
    let _ = writeln!(o, "  staleness           {}", fmt_summary(&r.staleness));
    for w in &r.windows {
        let _ = writeln!(
            o,
            "  {:>17} {:>6} views {:>9} answered  {}  [{}]",
            format!("{:.1}s-{:.1}s", w.from_s, w.to_s),
            w.views,
            pct(w.availability_pct),
            tiers(&w.tiers),
            w.label
        );
    }
    for f in &r.dns_failovers {
        let moved = match f.moved_after_s {
            Some(s) => format!("moved within {s:.1}s"),
            None if f.views == 0 => "not judged: no page view began while it was lost".into(),
            None => "never moved".into(),
        };
        let _ = writeln!(o, "  DNS failover off {} lost at {:.1}s: {moved}", f.cdn, f.at_s);
    }
    for p in &r.platform {
        let after = |x: Option<f64>| x.map_or("never".into(), |s| format!("after {s:.1}s"));
        let _ = writeln!(
            o,
            "  platform {} at {:.1}s (monitor): report acknowledged {}, first shown to a viewer {}",
            if p.up { "back up" } else { "down" },
            p.at_s,
            after(p.acked_after_s),
            after(p.shown_after_s)
        );
    }
    let _ = writeln!(
        o,
        "\nincident updates ({} edits acknowledged, {} failed, {} updates retracted)",
        r.edits_acked, r.edit_errors, r.retracted
    );
    let _ = writeln!(o, "  propagation to every CDN edge  {}", fmt_summary(&r.propagation));
    if r.not_propagated > 0 {
        let _ = writeln!(o, "  updates some CDN never showed  {}", r.not_propagated);
    }
    for c in &r.convergence {
        let after = c.after_ms.map_or("not within the probe window".into(), |ms| format!("{ms:.0} ms"));
        let _ = writeln!(o, "  CRDT convergence after the heal at {:.1}s: {after}", c.heal_at_s);
    }
    let n = &r.notifications;
    let _ = writeln!(o, "\nnotifications (as the subscriber endpoints recorded them)");
    let _ = writeln!(
        o,
        "  {} expected, {} accepted; {} late, {} lost, {} within their deadline at the end, {} duplicates past \
         receiver dedup, {} redeliveries dropped by key",
        n.expected, n.delivered, n.late, n.lost, n.pending, n.duplicates, n.redeliveries
    );
    let _ = writeln!(
        o,
        "  {} excused by the rate limit, {} accepted beyond it, {} folded by the dedup-key window, {} retried, \
         {} given up",
        n.rate_limited, n.over_rate_limit, n.folded_by_dedup_window, n.retried, n.gave_up
    );
    let _ = writeln!(o, "  delivery latency  {}", fmt_summary(&n.latency));
    let _ = writeln!(o, "    critical        {}", fmt_summary(&n.latency_critical));
    let _ = writeln!(o, "    other           {}", fmt_summary(&n.latency_other));
    let _ = writeln!(
        o,
        "  per channel  delivered  lost  duplicates  pending  suppressed  slowed down  gave up  told unreachable  latency"
    );
    for (channel, c) in &n.channels {
        let _ = writeln!(
            o,
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
        );
    }
    for l in &n.lost_examples {
        let _ = writeln!(o, "    lost: {l}");
    }
    for l in &n.over_rate_limit_examples {
        let _ = writeln!(o, "    over the rate limit: {l}");
    }
    let sse = &r.sse;
    let _ = writeln!(o, "\nlive viewers (SSE)");
    let _ = writeln!(
        o,
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
    );
    for (kind, k) in &sse.kinds {
        let _ = writeln!(
            o,
            "  {kind:<26} due {:>5}, on a stream {:>5}, missed {:>3}; delivery (stream or polled page)  {}",
            k.expected,
            k.streamed,
            k.missed,
            fmt_summary(&k.latency)
        );
    }
    for m in &sse.missed_examples {
        let _ = writeln!(o, "    missed: {m}");
    }
    if let Some(sp) = &r.spike {
        let _ = writeln!(o, "\nviewer spike {:.0}s-{:.0}s: what reached the origins", sp.from_s, sp.to_s);
        let per = sp
            .views_per_origin_request
            .map_or("no origin request".to_string(), |v| format!("{v} views per origin request"));
        let _ = writeln!(
            o,
            "  page views {}/s ({}/s answered by the CDNs); origin requests {}/s; {per}",
            sp.views_per_s, sp.answered_per_s, sp.origin_requests_per_s
        );
    }
    let _ = writeln!(o, "\nchecks (judged from what pages, viewers and endpoints received)");
    let _ = writeln!(o, "  lost acknowledged updates  {}", r.lost_updates.len());
    let _ = writeln!(o, "  regions diverged           {}", r.diverged.len());
    for d in &r.diverged {
        let _ = writeln!(o, "    {d}");
    }
    let _ = writeln!(o, "  status regressions         {}", r.status_regressions.len());
    for d in &r.status_regressions {
        let _ = writeln!(o, "    {d}");
    }
    let _ = writeln!(o, "  CDN pages behind           {}", r.cdn_pages_behind.len());
    let never = if r.sse.never_streamed.is_empty() { "none".to_string() } else { r.sse.never_streamed.join(", ") };
    let _ = writeln!(o, "  SSE event types never streamed  {never}");
    for d in &r.cdn_pages_behind {
        let _ = writeln!(o, "    {d}");
    }
    for n in &r.not_judged {
        let _ = writeln!(o, "  not judged: {n}");
    }
    if let Some(l) = &r.liveness {
        let _ = writeln!(
            o,
            "  liveness                   heal at {}s; by {}s every page shows the {} updates acknowledged before: {}",
            l.heal_s,
            l.deadline_s,
            l.due,
            if l.behind.is_empty() { "yes" } else { "NO" }
        );
        for b in &l.behind {
            let _ = writeln!(o, "    {b}");
        }
    }
    if !r.concurrent.is_empty() {
        o.push_str(&format!("  {}", r.concurrent.text()));
    }
    if let Some(recovery) = &r.recovery {
        o.push_str(&format!("\n{}", recovery.text()));
    }
    o
}

/// A percentage as the report writes it; `no views` without a sample.
fn pct(p: Option<f64>) -> String {
    p.map_or("no views".into(), |p| format!("{p:.3}%"))
}
