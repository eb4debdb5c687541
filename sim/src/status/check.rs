//! The status page's figures and checkers, computed from the event log alone (docs/DESIGN.md, Status
//! page figures): viewer availability and tier mix per fault window, staleness of what
//! viewers saw, DNS failover, update propagation to every CDN edge, CRDT convergence after each
//! heal, and the correctness checks on what regions returned: acknowledged updates lost, regions
//! diverged, and status regressions (a status write that, read back at its region, lost to the
//! write its operator had read before making it; or a final status that such a later write
//! should have replaced). Notifications and SSE are judged in `delivery`, the providers' rate
//! limits as the endpoints received in `rates`.

use std::collections::{BTreeMap, BTreeSet};

use edgesim_system::status::proto::Tier;
use serde::Serialize;

use super::concurrent::{self, ADD_WINS, Concurrent, HLC_ORDER};
use super::delivery::{self, Notifications, Sse};
use super::liveness;
use super::rates::{self, ProviderRate};
use super::records::AckedEdit;
use super::recovery::{self, Recovery};
use super::settings::{CHANNELS, StatusSettings};
use super::shown::{Shown, parse};
use super::spike::{self, Spike};
use crate::edge::check::NotJudged;
use crate::edge::metrics::{Recorder, Summary};
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::{Action, Scenario};

/// The design's subscribers per page (docs/DESIGN.md, Status workload and scale: 1M+).
pub(crate) const DESIGN_SUBSCRIBERS: u64 = 1_000_000;
/// The design's SSE connections per edge (docs/DESIGN.md, Live updates).
pub(crate) const DESIGN_SSE_PER_EDGE: u64 = 100_000;

#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub scale: Scale,
    pub edits_acked: usize,
    pub edit_errors: usize,
    /// Acknowledged updates an acknowledged scripted retraction took off the timeline (no longer
    /// expected on any page).
    pub retracted: usize,
    pub views: u64,
    pub answered: u64,
    /// Views answered over views, in %; `None` when no page was viewed (no sample, not 100%).
    pub availability_pct: Option<f64>,
    pub tiers: BTreeMap<&'static str, u64>,
    /// Availability and tier mix between consecutive faults.
    pub windows: Vec<AvailabilityWindow>,
    /// Time to first byte of answered views.
    pub ttfb: Summary,
    /// How long the truth had moved on from what a view showed (0 when it showed everything).
    pub staleness: Summary,
    pub dns_failovers: Vec<DnsFailover>,
    /// Per update: until every CDN's page showed it.
    pub propagation: Summary,
    /// Updates some CDN never showed.
    pub not_propagated: usize,
    pub convergence: Vec<Convergence>,
    pub lost_updates: Vec<u64>,
    pub diverged: Vec<String>,
    /// CDN pages that had not caught up at the end: each misses an acknowledged update it had
    /// had time to show.
    pub cdn_pages_behind: Vec<String>,
    pub status_regressions: Vec<String>,
    /// Checkers that had nothing to judge (no region up at the end to audit, no CDN page that had
    /// had time to catch up), and why: neither fired nor passed.
    pub not_judged: Vec<NotJudged>,
    /// The platform's outages and recoveries as the monitor saw them, and the operators' reports.
    pub platform: Vec<PlatformReport>,
    pub notifications: Notifications,
    /// Per channel, the busiest second its endpoints had beside its provider's limit.
    pub provider_rates: Vec<ProviderRate>,
    /// Boxed, so that a status report stays about the size of an edge one in `SystemReport`.
    pub sse: Box<Sse>,
    /// The origins' load during a viewer spike (none without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spike: Option<Spike>,
    /// For a scenario with a liveness phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<liveness::StatusLivenessFinding>,
    /// Scripted concurrent edits and how they resolved.
    #[serde(skip_serializing_if = "Concurrent::is_empty")]
    pub concurrent: Concurrent,
    /// Recovery from the first fault (none without a fault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

/// How the simulated audience compares with the design's.
#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    pub viewers: u64,
    pub live_viewers: u64,
    /// SSE streams one CDN holds at once, and the live viewers each simulated stream stands for
    /// against the design's 100,000 per edge.
    pub sse_max_per_edge: u64,
    pub sse_factor: u64,
    pub subscribers: u64,
    /// The design's 1M subscribers over the simulated ones.
    pub subscriber_factor: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AvailabilityWindow {
    pub from_s: f64,
    pub to_s: f64,
    pub label: String,
    pub views: u64,
    /// `None` when no page was viewed in the window.
    pub availability_pct: Option<f64>,
    pub tiers: BTreeMap<&'static str, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DnsFailover {
    pub cdn: String,
    pub at_s: f64,
    /// Page views that began while it was lost.
    pub views: u64,
    /// The last view that still tried the lost CDN first, after the loss; `None`: traffic never
    /// moved while it was out, or no view began then (`views` 0: nothing to judge it by).
    pub moved_after_s: Option<f64>,
}

/// The monitor saw the platform go down (`up` false) or come back at `at_s`; the operators'
/// report of it was acknowledged, and first shown on a page a viewer loaded, this long after
/// (`None`: never).
#[derive(Clone, Debug, Serialize)]
pub struct PlatformReport {
    pub at_s: f64,
    pub up: bool,
    pub acked_after_s: Option<f64>,
    pub shown_after_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Convergence {
    pub heal_at_s: f64,
    /// `None`: not converged within the probe window.
    pub after_ms: Option<f64>,
}

impl StatusReport {
    /// The correctness checkers that fired, by name.
    pub fn fired(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.lost_updates.is_empty() {
            out.push("lost-status-updates");
        }
        if !self.diverged.is_empty() {
            out.push("status-divergence");
        }
        if !self.status_regressions.is_empty() {
            out.push("status-regression");
        }
        if !self.cdn_pages_behind.is_empty() {
            out.push("cdn-page-convergence");
        }
        if self.notifications.duplicates > 0 {
            out.push("duplicate-notifications");
        }
        if self.liveness.as_ref().is_some_and(|l| !l.behind.is_empty()) {
            out.push("liveness");
        }
        if !self.sse.never_streamed.is_empty() {
            out.push("sse-event-types");
        }
        if self.provider_rates.iter().any(ProviderRate::over) {
            out.push("provider-rate-limit");
        }
        if !self.concurrent.add_wins_broken.is_empty() {
            out.push(ADD_WINS);
        }
        if !self.concurrent.hlc_order_broken.is_empty() {
            out.push(HLC_ORDER);
        }
        out
    }

    /// Whether `checker` could judge the run (it is not among `not_judged`).
    pub fn judged(&self, checker: &str) -> bool {
        !self.not_judged.iter().any(|n| n.checker == checker)
    }

    /// Worst DNS failover, in ms; `None` when a lost CDN's traffic never moved or none was lost.
    pub fn dns_failover_ms(&self) -> Option<f64> {
        let moved: Option<Vec<f64>> = self.dns_failovers.iter().map(|f| f.moved_after_s).collect();
        moved?.into_iter().map(|s| s * 1e3).reduce(f64::max)
    }

    /// Slowest convergence after a heal, in ms; `None` when one did not converge or none healed.
    pub fn convergence_ms(&self) -> Option<f64> {
        let all: Option<Vec<f64>> = self.convergence.iter().map(|c| c.after_ms).collect();
        all?.into_iter().reduce(f64::max)
    }
}

/// The status report of a run, from its events, its acknowledged edits and its page views.
pub fn analyze(
    scenario: &Scenario,
    s: &StatusSettings,
    events: &[Event],
    edits: &[AckedEdit],
    all: &[View],
) -> StatusReport {
    let edit_errors = events
        .iter()
        .filter(|e| matches!(&e.record, Record::Harness(HarnessEvent::Edited { error: Some(_), .. })))
        .count();
    let end_us = events.last().map_or(0, |e| e.t_us);
    let retracted = retracted(events).len();
    let (views, answered, tiers, ttfb, staleness) = view_figures(all, |_| true);
    let (propagation, not_propagated) = propagation(events, edits, s);
    let (lost_updates, diverged, status_regressions, unaudited) = finals(events, edits, s);
    let (cdn_pages_behind, cdns_unjudged) = cdn_pages_behind(scenario, s, events, edits);
    let provider_rates = rates::judge(
        &rates::accepted(events),
        &CHANNELS.map(|(channel, _)| (channel, s.provider_of(channel).per_second)),
    );
    let rates_unjudged = rates::unjudged(&provider_rates);
    let not_judged = [
        ("lost-status-updates", &unaudited),
        ("status-divergence", &unaudited),
        ("cdn-page-convergence", &cdns_unjudged),
        ("provider-rate-limit", &rates_unjudged),
    ]
    .into_iter()
    .filter_map(|(checker, why)| Some(NotJudged { checker: checker.into(), why: why.clone()? }))
    .collect();
    let regions = s.regions.len() as u64;
    let down = down_at_end(events);
    let hosts: Vec<(String, String)> = s.regions.iter().map(|r| (StatusSettings::region_host(r), r.clone())).collect();
    let judge_views = |kept: &[AckedEdit], host: Option<&str>| {
        let of = |v: &&View| host.is_none_or(|h| v.host == h);
        self::views(events, kept).iter().filter(of).map(|v| (v.started_us, v.ended_us, v.tier, v.stale_us)).collect()
    };
    let scale = Scale {
        viewers: regions * u64::from(s.viewers_per_region),
        live_viewers: regions * u64::from(s.sse_viewers_per_region),
        sse_max_per_edge: s.sse_max_per_edge as u64,
        sse_factor: DESIGN_SSE_PER_EDGE / (s.sse_max_per_edge as u64).max(1),
        subscribers: u64::from(s.subscribers),
        subscriber_factor: DESIGN_SUBSCRIBERS / u64::from(s.subscribers).max(1),
    };
    StatusReport {
        scale,
        edits_acked: edits.len(),
        edit_errors,
        retracted,
        views,
        answered,
        availability_pct: pct(answered, views),
        tiers,
        windows: windows(scenario, events, all, end_us),
        ttfb,
        staleness,
        dns_failovers: dns_failovers(scenario, s, events, end_us),
        propagation,
        not_propagated,
        convergence: convergence(scenario, s, events),
        lost_updates,
        diverged,
        cdn_pages_behind,
        status_regressions,
        not_judged,
        platform: platform_reports(events, edits),
        notifications: delivery::notifications(events, edits, s),
        provider_rates,
        sse: Box::new(delivery::sse(scenario, events, edits)),
        spike: spike::spike(scenario, s, events),
        liveness: scenario.liveness.as_ref().map(|l| liveness::check(events, edits, s, l)),
        concurrent: concurrent::check(events, edits, &hosts, &down),
        recovery: recovery::recovery(events, edits, &down, &s.regions, judge_views),
    }
}

/// `part` of `whole` in %, rounded down to a thousandth; `None` without a `whole`.
fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1e5 / whole as f64).floor() / 1e3)
}

/// The acknowledged timeline updates and status changes: the truth pages are judged against (a
/// component list edit is judged by the `add-wins` checker alone; a retraction is no edit of its
/// own, and the updates an acknowledged one took off the timeline are no longer expected).
pub fn edits(events: &[Event]) -> Vec<AckedEdit> {
    let retracted = retracted(events);
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Edited {
                write,
                stamp: Some(stamp),
                seen,
                after,
                component,
                status,
                critical,
                listed: None,
                retracted: None,
                ..
            }) if !retracted.contains(write) => Some(AckedEdit {
                t_us: e.t_us,
                write: *write,
                stamp: *stamp,
                seen: *seen,
                after: *after,
                component: component.clone(),
                status: *status,
                critical: *critical,
            }),
            _ => None,
        })
        .collect()
}

/// The updates acknowledged retractions took off the timeline, by id.
fn retracted(events: &[Event]) -> BTreeSet<u64> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Edited { stamp: Some(_), retracted: Some(gone), .. }) => Some(gone),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// How long before `at_us` the truth (every edit acknowledged by then) first differed from
/// `shown`; 0 when `shown` reflects all of it.
fn staleness_us(shown: &Shown, at_us: u64, edits: &[AckedEdit]) -> u64 {
    let posts = parse(&shown.posts);
    let oldest_missing = edits
        .iter()
        .take_while(|e| e.t_us <= at_us)
        .filter(|e| match &e.component {
            None => !posts.contains(&e.write),
            Some(c) => !shown.statuses.iter().any(|(name, _, at)| name == c && *at >= e.stamp),
        })
        .map(|e| e.t_us)
        .next();
    oldest_missing.map_or(0, |t| at_us - t)
}

/// A page view as its viewer host logged it, with the staleness of what it showed (`None`: the
/// static fallback page or no answer).
pub struct View<'a> {
    pub host: &'a str,
    pub started_us: u64,
    pub ended_us: u64,
    pub tier: Option<Tier>,
    pub stale_us: Option<u64>,
}

/// Every page view, each judged once against the edits.
pub fn views<'a>(events: &'a [Event], edits: &[AckedEdit]) -> Vec<View<'a>> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::PageViewed { started_us, tier, shown, .. }) => Some(View {
                host: &e.node,
                started_us: *started_us,
                ended_us: e.t_us,
                tier: *tier,
                stale_us: shown.as_ref().map(|s| staleness_us(s, *started_us, edits)),
            }),
            _ => None,
        })
        .collect()
}

type ViewFigures = (u64, u64, BTreeMap<&'static str, u64>, Summary, Summary);

/// Views (whose start passes `keep`), answered views, tier mix, time to first byte, staleness.
fn view_figures(all: &[View], keep: impl Fn(u64) -> bool) -> ViewFigures {
    let (mut views, mut answered) = (0, 0);
    let mut tiers: BTreeMap<&'static str, u64> = Tier::ALL.iter().map(|t| (t.name(), 0)).collect();
    let (mut ttfb, mut stale) = (Recorder::default(), Recorder::default());
    for v in all.iter().filter(|v| keep(v.started_us)) {
        views += 1;
        if let Some(tier) = v.tier {
            answered += 1;
            *tiers.entry(tier.name()).or_default() += 1;
            ttfb.record(v.ended_us - v.started_us);
        }
        if let Some(s) = v.stale_us {
            stale.record(s);
        }
    }
    (views, answered, tiers, ttfb.summary(), stale.summary())
}

/// What changed the world, as window bounds: each fault, and each CDN's span of server errors
/// starting or ending.
fn changes(events: &[Event]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Fault { fault, .. }) => Some((e.t_us, fault.clone())),
            Record::Harness(HarnessEvent::CdnErrors { cdn, rate }) => Some((e.t_us, errors_label(cdn, *rate))),
            _ => None,
        })
        .collect()
}

/// A CDN's error span as the report tells it.
pub(crate) fn errors_label(cdn: &str, rate: f64) -> String {
    if rate > 0.0 {
        format!("{cdn} answers {}% of views with 503", rate * 100.0)
    } else {
        format!("{cdn} stops answering with errors")
    }
}

fn windows(scenario: &Scenario, events: &[Event], views: &[View], end_us: u64) -> Vec<AvailabilityWindow> {
    let end_us = end_us.min(scenario.duration.as_micros() as u64);
    let mut bounds: Vec<(u64, String)> = vec![(0, "before any fault".into())];
    bounds.extend(changes(events).into_iter().filter(|(t, _)| *t < end_us));
    (0..bounds.len())
        .filter(|&i| bounds.get(i + 1).is_none_or(|next| next.0 > bounds[i].0))
        .map(|i| {
            let (from, label) = bounds[i].clone();
            let to = bounds.get(i + 1).map_or(end_us, |b| b.0);
            let (views, answered, tiers, ..) = view_figures(views, |t| t >= from && t < to);
            let s = |us: u64| us as f64 / 1e6;
            AvailabilityWindow {
                from_s: s(from),
                to_s: s(to),
                label,
                views,
                availability_pct: pct(answered, views),
                tiers,
            }
        })
        .collect()
}

/// Whether `action` cuts `cdn` off from viewers (`lost`) or gives it back (`!lost`).
fn cdn_reach(action: &Action, cdn: &str, viewers: &[String], lost: bool) -> bool {
    let splits = |a: &[String], b: &[String]| {
        let has = |g: &[String], h: &str| g.iter().any(|x| x == h);
        (has(a, cdn) && b.iter().any(|h| viewers.contains(h))) || (has(b, cdn) && a.iter().any(|h| viewers.contains(h)))
    };
    match (action, lost) {
        (Action::Crash { host } | Action::SilentCrash { host }, true) | (Action::Restart { host }, false) => {
            host == cdn
        }
        (Action::Partition { a, b, .. }, true) | (Action::Repair { a, b, .. }, false) => splits(a, b),
        _ => false,
    }
}

/// Each loss of a CDN to viewers, as (CDN, from, to): a crash of it or a cut between it and the
/// viewers until the fault that gives it back, or a span of server errors from when the log says
/// it began until it ended; the end of the run when it never came back.
fn cdn_losses(scenario: &Scenario, s: &StatusSettings, events: &[Event], end_us: u64) -> Vec<(String, u64, u64)> {
    let viewers = s.viewer_hosts();
    let mut out = Vec::new();
    for f in &scenario.faults {
        for cdn in s.cdns.iter().filter(|c| cdn_reach(&f.action, c, &viewers, true)) {
            let back = scenario.faults.iter().find(|g| g.at > f.at && cdn_reach(&g.action, cdn, &viewers, false));
            let to = back.map_or(end_us, |g| g.at.as_micros() as u64);
            out.push((cdn.clone(), f.at.as_micros() as u64, to));
        }
    }
    let spans: Vec<(u64, &str, f64)> = events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::CdnErrors { cdn, rate }) => Some((e.t_us, cdn.as_str(), *rate)),
            _ => None,
        })
        .collect();
    for (i, (from, cdn, rate)) in spans.iter().enumerate() {
        if *rate > 0.0 {
            let end = spans[i + 1..].iter().find(|(_, c, r)| c == cdn && *r == 0.0);
            out.push((cdn.to_string(), *from, end.map_or(end_us, |(t, ..)| *t)));
        }
    }
    out.sort_by_key(|(_, from, _)| *from);
    out
}

/// For each loss of a CDN to viewers, until it is back: per resolver (viewer host) whose answers
/// put it first, the last view that still tried it first; traffic moved when every such resolver
/// later tried another CDN first.
fn dns_failovers(scenario: &Scenario, s: &StatusSettings, events: &[Event], end_us: u64) -> Vec<DnsFailover> {
    let mut out = Vec::new();
    for (cdn, from, to) in cdn_losses(scenario, s, events, end_us) {
        let mut per_host: BTreeMap<&str, Vec<(u64, bool)>> = BTreeMap::new();
        for e in events {
            if let Record::Harness(HarnessEvent::PageViewed { started_us, tried, .. }) = &e.record
                && *started_us >= from
                && *started_us < to
            {
                per_host.entry(&e.node).or_default().push((*started_us, tried.first() == Some(&cdn)));
            }
        }
        let views = per_host.values().map(|v| v.len() as u64).sum();
        let mut moved_after_s = (views > 0).then_some(0.0f64);
        for views in per_host.values() {
            let Some(last) = views.iter().filter(|(_, first)| *first).map(|(t, _)| *t).max() else { continue };
            let moved = views.iter().any(|(t, first)| !first && *t > last);
            moved_after_s = moved_after_s.zip(moved.then_some((last - from) as f64 / 1e6)).map(|(a, b)| a.max(b));
        }
        out.push(DnsFailover { cdn, at_s: from as f64 / 1e6, views, moved_after_s });
    }
    out
}

/// Each platform outage or recovery the monitor logged, with when its report was acknowledged and
/// when a viewer's page first showed it.
fn platform_reports(events: &[Event], edits: &[AckedEdit]) -> Vec<PlatformReport> {
    let mut out = Vec::new();
    for e in events {
        let Record::Harness(HarnessEvent::PlatformHealth { up, report }) = &e.record else { continue };
        let acked = edits.iter().find(|x| x.write == *report).map(|x| x.t_us);
        let shown = acked.and_then(|from| {
            events.iter().find_map(|v| match &v.record {
                Record::Harness(HarnessEvent::PageViewed { started_us, shown: Some(shown), .. })
                    if *started_us >= from && parse(&shown.posts).contains(report) =>
                {
                    Some(v.t_us)
                }
                _ => None,
            })
        });
        let after = |t: Option<u64>| t.map(|t| t.saturating_sub(e.t_us) as f64 / 1e6);
        out.push(PlatformReport {
            at_s: e.t_us as f64 / 1e6,
            up: *up,
            acked_after_s: after(acked),
            shown_after_s: after(shown),
        });
    }
    out
}

/// When each host's probes first showed each update.
fn first_shown(events: &[Event]) -> BTreeMap<(&str, u64), u64> {
    let mut first = BTreeMap::new();
    for e in events {
        if let Record::Harness(HarnessEvent::Probed { of, shown }) = &e.record {
            for id in parse(&shown.posts) {
                first.entry((of.as_str(), id)).or_insert(e.t_us);
            }
        }
    }
    first
}

fn propagation(events: &[Event], edits: &[AckedEdit], s: &StatusSettings) -> (Summary, usize) {
    let first = first_shown(events);
    let mut rec = Recorder::default();
    let mut missing = 0;
    for e in edits.iter().filter(|e| e.component.is_none()) {
        let at: Option<Vec<u64>> = s.cdns.iter().map(|c| first.get(&(c.as_str(), e.write)).copied()).collect();
        match at.and_then(|a| a.into_iter().max()) {
            Some(t) => rec.record(t.saturating_sub(e.t_us)),
            None => missing += 1,
        }
    }
    (rec.summary(), missing)
}

/// Whether `action` heals status regions: a repair or release between regions, or a region's
/// restart.
pub(crate) fn heals_regions(action: &Action, origins: &[String]) -> bool {
    let any = |hosts: &[String]| hosts.iter().any(|h| origins.contains(h));
    match action {
        Action::Repair { a, b, .. } | Action::Release { a, b } => any(a) && any(b),
        Action::Restart { host } => origins.contains(host),
        Action::Heal => true,
        _ => false,
    }
}

/// After each heal of a region (repair, release or restart naming it): how long until every
/// region's origin showed the same document, by the harness's probes.
fn convergence(scenario: &Scenario, s: &StatusSettings, events: &[Event]) -> Vec<Convergence> {
    let origins: Vec<String> = s.regions.iter().map(|r| StatusSettings::region_host(r)).collect();
    let mut out = Vec::new();
    for f in &scenario.faults {
        if !heals_regions(&f.action, &origins) {
            continue;
        }
        let from = f.at.as_micros() as u64;
        let until = from + super::probes::CONVERGENCE_WINDOW.as_micros() as u64;
        let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
        let mut after_ms = None;
        for e in events.iter().filter(|e| e.t_us >= from && e.t_us <= until) {
            let Record::Harness(HarnessEvent::Probed { of, shown }) = &e.record else { continue };
            if !origins.contains(of) {
                continue;
            }
            latest.insert(of.as_str(), shown.digest.as_str());
            let digests: BTreeSet<&str> = latest.values().copied().collect();
            if latest.len() == origins.len() && digests.len() == 1 {
                after_ms = Some((e.t_us - from) as f64 / 1e3);
                break;
            }
        }
        out.push(Convergence { heal_at_s: from as f64 / 1e6, after_ms });
    }
    out
}

/// The hosts down when the run ended.
fn down_at_end(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.record {
            Record::Harness(HarnessEvent::RunEnded { down, .. }) => Some(down.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Per CDN up at the end, the acknowledged updates its page did not show at the final audit though
/// it had had time to: the update was acknowledged, and the CDN last (re)started, at least a KV
/// refresh plus a propagation delay (and a second) before the audit, by when every region has
/// republished its whole document to every CDN. A CDN that cannot be audited counts as behind.
/// With no CDN judged (all down at the end, or restarted too late to have caught up), why.
fn cdn_pages_behind(
    scenario: &Scenario,
    s: &StatusSettings,
    events: &[Event],
    edits: &[AckedEdit],
) -> (Vec<String>, Option<String>) {
    let down = down_at_end(events);
    let catch_up = (s.kv_refresh.0 + s.kv_propagation.0 + std::time::Duration::from_secs(1)).as_micros() as u64;
    let (mut out, mut judged) = (Vec::new(), 0);
    for e in events {
        let Record::Harness(HarnessEvent::FinalDoc { of, shown, .. }) = &e.record else { continue };
        if !s.cdns.contains(of) || down.contains(of) {
            continue;
        }
        let started_us = scenario
            .faults
            .iter()
            .filter(|f| matches!(&f.action, Action::Restart { host } if host == of))
            .map(|f| f.at.as_micros() as u64)
            .max()
            .unwrap_or(0);
        if started_us + catch_up > e.t_us {
            continue;
        }
        judged += 1;
        let posts = shown.as_ref().map(|shown| parse(&shown.posts)).unwrap_or_default();
        let missing: Vec<String> = edits
            .iter()
            .filter(|u| u.component.is_none() && u.t_us + catch_up <= e.t_us && !posts.contains(&u.write))
            .map(|u| format!("#{}", u.write))
            .collect();
        if !missing.is_empty() {
            out.push(format!("{of} never showed update {}", missing.join(", ")));
        }
    }
    let why = (judged == 0).then(|| "no CDN was up at the final audit long enough to have caught up".to_string());
    (out, why)
}

/// Lost acknowledged updates, diverged regions and status regressions, from the final audit of
/// the regions that were up at the end; with no region up at the end, why lost updates and
/// divergence cannot be judged.
fn finals(events: &[Event], edits: &[AckedEdit], s: &StatusSettings) -> Finals {
    let down = down_at_end(events);
    let origins: Vec<String> =
        s.regions.iter().map(|r| StatusSettings::region_host(r)).filter(|h| !down.contains(h)).collect();
    let mut audited: BTreeMap<&str, Option<&Shown>> = BTreeMap::new();
    for e in events {
        if let Record::Harness(HarnessEvent::FinalDoc { of, shown, .. }) = &e.record
            && origins.contains(of)
        {
            audited.insert(of.as_str(), shown.as_ref());
        }
    }
    let mut lost = BTreeSet::new();
    let mut diverged = Vec::new();
    let reference = audited.values().flatten().next().copied();
    for host in &origins {
        match audited.get(host.as_str()).copied().flatten() {
            Some(shown) => {
                let posts = parse(&shown.posts);
                lost.extend(
                    edits.iter().filter(|e| e.component.is_none() && !posts.contains(&e.write)).map(|e| e.write),
                );
                if reference.is_some_and(|r| r.digest != shown.digest) {
                    diverged.push(format!("{host} differs from {}", audited.keys().next().unwrap_or(&"")));
                }
            }
            None => diverged.push(format!("{host} could not be audited")),
        }
    }
    let mut regressions: Vec<String> = edits
        .iter()
        .filter(|e| e.seen.is_some() && e.after == e.seen)
        .map(|e| {
            let before = edits.iter().find(|b| Some(b.stamp) == e.seen).map_or(0, |b| b.write);
            let component = e.component.as_deref().unwrap_or("?");
            format!(
                "{component}: write #{} was acknowledged, yet its region still showed write #{before} it followed",
                e.write
            )
        })
        .collect();
    for (component, _, won) in reference.map(|r| r.statuses.as_slice()).unwrap_or_default() {
        let later = edits.iter().find(|e| e.component.as_deref() == Some(component) && e.seen == Some(*won));
        if let Some(later) = later {
            let winner = edits.iter().find(|e| e.stamp == *won).map_or(0, |e| e.write);
            regressions.push(format!(
                "{component}: write #{winner} won, though write #{} was made after reading it",
                later.write
            ));
        }
    }
    let unaudited = origins.is_empty().then(|| "no status region was up at the end to audit".to_string());
    (lost.into_iter().collect(), diverged, regressions, unaudited)
}

/// Lost updates, diverged regions, status regressions, and why the first two could not be judged.
type Finals = (Vec<u64>, Vec<String>, Vec<String>, Option<String>);

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use edgesim_system::status::hlc::Timestamp;
    use edgesim_system::status::incident::ComponentStatus;

    use super::*;

    fn edit(write: u64, t_us: u64, component: Option<&str>) -> AckedEdit {
        let stamp = Timestamp { l: t_us / 1000, c: 0, node: 1 };
        AckedEdit {
            t_us,
            write,
            stamp,
            seen: None,
            after: None,
            component: component.map(String::from),
            status: None,
            critical: false,
        }
    }

    fn shown(posts: &str, statuses: Vec<(String, ComponentStatus, Timestamp)>) -> Shown {
        Shown { posts: posts.into(), unacked_posts: 0, statuses, digest: String::new() }
    }

    #[test]
    fn availability_without_views_has_no_value() {
        // Issue 11, defect 9: `page_availability` read 100% when no page was viewed, so a budget
        // `page_availability >= 99.9%` passed on no evidence; now it has no value (the budget
        // breaks with "no samples").
        assert_eq!(pct(0, 0), None);
        assert_eq!(pct(999, 1000), Some(99.9));
    }

    #[test]
    fn staleness_runs_from_the_oldest_acknowledged_edit_the_page_misses() {
        // Updates 1 and 2 acknowledged at 10 and 20; a page at 50 showing only 1 is 30 stale;
        // showing both, 0; an edit acknowledged after the view does not count.
        let edits = [edit(1, 10, None), edit(2, 20, None), edit(3, 60, None)];
        assert_eq!(staleness_us(&shown("1", vec![]), 50, &edits), 30);
        assert_eq!(staleness_us(&shown("1-2", vec![]), 50, &edits), 0);
    }

    #[test]
    fn a_status_counts_as_shown_only_at_or_after_the_edits_stamp() {
        // A component status edit at 10: a page with an older stamp for it is stale from 10.
        let edits = [edit(1, 10_000, Some("api"))];
        let older = Timestamp { l: 5, c: 0, node: 1 };
        let old = shown("", vec![("api".into(), ComponentStatus::Degraded, older)]);
        assert_eq!(staleness_us(&old, 50_000, &edits), 40_000);
        let new = shown("", vec![("api".into(), ComponentStatus::Degraded, edits[0].stamp)]);
        assert_eq!(staleness_us(&new, 50_000, &edits), 0);
    }

    #[test]
    fn only_acknowledged_edits_are_edits() {
        // An edit that failed (no stamp) is not part of the truth pages are judged against.
        let edited = |write, stamp| HarnessEvent::Edited {
            write,
            region: "us-east".into(),
            component: None,
            status: None,
            critical: false,
            stamp,
            seen: None,
            after: None,
            error: stamp.is_none().then(|| "timed out".to_string()),
            listed: None,
            history: None,
            retracted: None,
            moved_to: None,
        };
        let node: Rc<str> = Rc::from("users-us-east");
        let events: Vec<Event> = [edited(1, Some(Timestamp { l: 1, c: 0, node: 1 })), edited(2, None)]
            .into_iter()
            .map(|record| Event { t_us: 5, node: node.clone(), record: Record::Harness(record) })
            .collect();
        let e = edits(&events);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].write, e[0].t_us), (1, 5));
    }
}
