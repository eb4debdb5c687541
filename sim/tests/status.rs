//! The status page's scenarios as a user runs them: the design's claims as budgets that hold, and
//! the negative controls that show each checker and budget can fail.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{load, run};
use edgesim::events::{HarnessEvent, Record};
use edgesim::status::check::StatusReport;
use edgesim::status::settings::QueueStore;
use edgesim::verdict::{Verdict, judge};
use edgesim_system::status::sse::SseEventKind;
use edgesim_system::telemetry::NodeEvent;

fn status(r: &edgesim::report::RunReport) -> &StatusReport {
    r.status().expect("a status page run")
}

#[test]
fn a_cdn_outage_keeps_the_page_up_and_dns_moves_traffic_in_25_to_85s() {
    let s = load("status-cdn-outage");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(st.availability_pct.unwrap() >= 99.9, "{r}");
    let moved = st.dns_failover_ms().expect("traffic moved off the lost CDN") / 1e3;
    assert!((25.0..=85.0).contains(&moved), "DNS failover {moved}s\n{r}");
    let outage = st.windows.iter().find(|w| w.label.starts_with("crash cdn-a")).unwrap();
    assert!(outage.views > 100 && outage.availability_pct.unwrap() >= 99.9, "{outage:?}");
    assert!(st.sse.resumed > 0 && st.sse.missed == 0, "{:?}", st.sse);
}

#[test]
fn a_cdn_answering_errors_while_up_is_failed_over_by_dns_in_25_to_85s() {
    // Goal: a CDN that is up but answers every page view with a 503 is taken out of the DNS's
    // answers by its content health checks, and the page stays up through the other two CDNs.
    let s = load("status-cdn-errors");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert_eq!(s.status.as_ref().unwrap().cdns.len(), 3, "three CDNs by default");
    assert_eq!(st.dns_failovers.len(), 1, "the error span is one loss of cdn-a: {:?}", st.dns_failovers);
    let moved = st.dns_failover_ms().expect("traffic moved off the failing CDN") / 1e3;
    assert!((25.0..=85.0).contains(&moved), "DNS failover {moved}s\n{r}");
    let errors = st.windows.iter().find(|w| w.label == "cdn-a answers 100% of views with 503").unwrap();
    assert!(errors.views > 100 && errors.availability_pct.unwrap() >= 99.9, "{errors:?}");
}

#[test]
fn with_liveness_only_health_checks_a_failing_cdn_keeps_its_traffic() {
    // Goal: the negative control of `status-cdn-errors`. Checks that ask only whether the edge
    // answers never take the failing CDN out, so traffic never moves and the budget breaks.
    let s = load("negative/status-cdn-errors-liveness-check");
    let r = run(&s);
    let j = judge(&s, &r);
    assert_eq!(j.verdict, Verdict::BudgetBroken, "{r}");
    assert!(j.failed_budgets.iter().any(|b| b.starts_with("dns_failover <= 85s")), "{:?}", j.failed_budgets);
    assert!(status(&r).dns_failovers[0].moved_after_s.is_none(), "{:?}", status(&r).dns_failovers);
}

#[test]
fn an_independent_page_stays_up_through_the_platforms_outage_and_a_shared_one_goes_down_with_it() {
    // Goal: the defining requirement. The same CDN provider outage cuts the platform off; with no
    // shared infrastructure the page keeps >= 99.99% and viewers see the operators' report within
    // seconds; with the page's CDNs on the platform's provider (negative control) it goes down too.
    let s = load("status-independent");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(st.availability_pct.unwrap() >= 99.99, "{r}");
    let down = st.platform.iter().find(|p| !p.up).expect("the monitor saw the platform down");
    assert!(down.shown_after_s.is_some_and(|s| s < 10.0), "{down:?}");
    let shared = load("negative/status-shared-infra");
    let r = run(&shared);
    let j = judge(&shared, &r);
    assert_eq!(j.verdict, Verdict::BudgetBroken, "{r}");
    assert!(j.failed_budgets[0].starts_with("page_availability >= 99.99% (was "), "{:?}", j.failed_budgets);
    let down = status(&r).platform.iter().find(|p| !p.up).expect("the monitor saw the platform down");
    assert!(down.shown_after_s.is_none_or(|s| s > 100.0), "no viewer saw the report while the page was down: {down:?}");
}

#[test]
fn with_a_single_cdn_the_outage_breaks_the_availability_budget() {
    let s = load("negative/status-single-cdn");
    let r = run(&s);
    let j = judge(&s, &r);
    assert_eq!(j.verdict, Verdict::BudgetBroken, "{r}");
    assert!(j.failed_budgets[0].starts_with("page_availability >= 99.9% (was "), "{:?}", j.failed_budgets);
    assert!(status(&r).dns_failovers[0].moved_after_s.is_none(), "nowhere to move");
    // Every live viewer fell back to polling: before, `sse_propagation_p99` read 0.0 ms over n=0
    // while a viewer saw an update 251.8 s late; now they count, with the delay their pages showed.
    let sse = &status(&r).sse;
    let updates = sse.latency(SseEventKind::TimelineUpdate).unwrap();
    assert!(sse.fell_back > 0 && updates.count > 0, "{sse:?}");
    assert!(updates.max_ms > 60_000.0, "the outage delayed what polling viewers saw: {sse:?}");
}

#[test]
fn all_origins_lost_the_page_stays_up_from_cache_and_fallback_and_staleness_grows() {
    let s = load("status-origins-lost");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(st.tiers["stale_cache"] > 0 && st.tiers["fallback"] > 0, "{:?}", st.tiers);
    assert!(st.staleness.max_ms > 60_000.0, "{:?}", st.staleness);
}

#[test]
fn split_brain_edits_survive_and_converge_within_500ms_after_the_heal() {
    let s = load("status-split-brain-edit");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    let ms = st.convergence_ms().expect("converged after the heal");
    assert!(ms < 500.0, "{ms} ms");
    assert!(st.edits_acked > 20 && st.lost_updates.is_empty() && st.status_regressions.is_empty());
}

#[test]
fn wall_clock_lww_on_a_skewed_region_regresses_statuses_where_hlc_does_not() {
    let s = load("negative/status-wall-clock");
    let r = run(&s);
    assert_eq!(judge(&s, &r).verdict, Verdict::CheckerFired, "{r}");
    assert!(r.fired().contains(&"status-regression"));
    let mut hlc = s.clone();
    hlc.status.as_mut().unwrap().clock = edgesim_system::status::config::ClockMode::Hlc;
    let r = run(&hlc);
    assert!(status(&r).status_regressions.is_empty(), "{r}");
}

#[test]
fn without_event_dedup_the_duplicate_checker_fires() {
    let s = load("negative/status-dedup-off");
    let r = run(&s);
    assert_eq!(judge(&s, &r).verdict, Verdict::CheckerFired, "{r}");
    assert!(status(&r).notifications.duplicates > 0);
    let mut on = s.clone();
    on.status.as_mut().unwrap().event_dedup = true;
    let r = run(&on);
    let n = &status(&r).notifications;
    assert_eq!((n.duplicates, n.lost), (0, 0), "{r}");
}

#[test]
fn a_notifier_crash_loses_nothing_with_its_queue_in_sqlite_and_its_queue_and_rate_limit_in_memory() {
    // Goal: `status-notifier-crash` (queue in SQLite, the default) crashes the notifier with
    // retries queued during a burst and loses nothing, duplicates nothing past receiver dedup and
    // keeps the rate limit as the endpoints received, on every channel; its negative control,
    // the same run with `queue = "memory"`, loses the queue (30 notifications) and forgets the
    // hour's sends (hundreds accepted beyond the limit), so both budgets break.
    let s = load("status-notifier-crash");
    let r = run(&s);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    let n = &status(&r).notifications;
    assert!(n.retried > 0 && n.rate_limited > 0, "the burst exercises retries and the limit: {n:?}");
    assert_eq!((n.lost, n.duplicates, n.over_rate_limit, n.pending), (0, 0, 0, 0), "{r}");
    let channels: Vec<&str> = n.channels.keys().map(String::as_str).collect();
    assert_eq!(channels, ["email", "slack", "sms", "webhook"]);
    assert!(n.channels.values().all(|c| c.delivered > 0 && c.lost == 0 && c.latency.count > 0), "{n:?}");

    let memory = load("negative/status-notifier-crash");
    let same = |s: &edgesim::scenario::Scenario| s.faults.iter().map(|f| (f.at, f.action.clone())).collect::<Vec<_>>();
    assert_eq!(same(&memory), same(&s), "the negative control differs only in where the queue lives");
    assert_eq!(memory.status.as_ref().unwrap().queue, QueueStore::Memory);
    let r = run(&memory);
    let j = judge(&memory, &r);
    assert_eq!(j.verdict, Verdict::BudgetBroken, "{r}");
    let broken: Vec<&str> = j.failed_budgets.iter().map(|b| b.split(" (was").next().unwrap()).collect();
    assert_eq!(broken, ["notifications_lost == 0", "notifications_over_rate_limit == 0"], "{r}");
    let n = &status(&r).notifications;
    assert!(n.lost > 0 && n.over_rate_limit > 0, "{n:?}");
    let mut twin = memory.clone();
    twin.faults.retain(|f| f.at.as_secs() < 70);
    let r = run(&twin);
    assert_eq!(judge(&twin, &r).verdict, Verdict::Pass, "without the crash the memory queue holds: {r}");
}

#[test]
fn a_provider_limit_held_as_received_passes_and_one_only_on_paper_fires_the_checker() {
    // Goal: `provider-rate-limit` judges from the endpoints' acceptances alone. In
    // `status-notifier-crash` the SMS and Slack providers enforce 5 and 10 a second: through the
    // burst and the crash the busiest second stays within each, the SMS provider having had to
    // say "slow down". Its twin with the limits on paper only (`enforce = false`) lets the
    // notifier's 8 workers through at their own pace: the SMS endpoints accept more than 5 within
    // a second and the checker fires.
    let s = load("status-notifier-crash");
    let r = run(&s);
    let st = status(&r);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{}", r);
    let sms = st.provider_rates.iter().find(|p| p.channel == "sms").unwrap();
    assert_eq!(sms.per_second, Some(5));
    assert!(sms.worst_per_second == 5 && sms.accepted > 100, "{sms:?}");
    assert!(st.notifications.channels["sms"].slowed_down > 0, "the limit was reached: {:?}", st.notifications);
    assert!(r.to_string().contains("provider limits as received"), "{r}");

    let paper = load("negative/status-provider-limit-paper");
    let r = run(&paper);
    let j = judge(&paper, &r);
    assert_eq!(j.verdict, Verdict::CheckerFired, "{}", r);
    assert_eq!(j.fired_checkers, ["provider-rate-limit"], "{}", r);
    let st = status(&r);
    let sms = st.provider_rates.iter().find(|p| p.channel == "sms").unwrap();
    assert!(sms.worst_per_second > 5 && sms.worst_at_s.is_some(), "{sms:?}");
    assert_eq!(st.notifications.channels["sms"].slowed_down, 0, "{:?}", st.notifications);
}

#[test]
fn a_notice_of_an_unreachable_endpoint_survives_a_notifier_crash_and_is_sent_once() {
    // Goal: the subscriber's notice that its endpoint is unreachable is durable. Every webhook
    // delivery fails and is given up after one retry (at 12.5-17.5 s); the notice goes by email,
    // whose endpoints the notifier cannot reach from 12 s, and the notifier crashes at 25 s with
    // the notice still unsent. Restarted at 35 s from its disk (email reachable again), it sends
    // the notice, accepted exactly once. With the queue in memory the notice is lost.
    let text = r#"
name = "notice-crash"
duration = "90s"
settle = "10s"
tick = "10ms"
[status]
subscribers = 1
edit_every = "24h"
edits_until = "1s"
viewers_per_region = 1
sse_viewers_per_region = 0
retry_delays = ["5s"]
[[status.provider]]
channel = "webhook"
fail_rate = 1.0
[[status.action]]
at = "10s"
region = "us-east"
kind = "post"
text = "Investigating"
[[fault]]
at = "12s"
kind = "partition"
a = "notifier"
b = "mail"
[[fault]]
at = "25s"
kind = "crash"
host = "notifier"
[[fault]]
at = "30s"
kind = "repair"
a = "notifier"
b = "mail"
[[fault]]
at = "35s"
kind = "restart"
host = "notifier"
"#;
    let s = edgesim::scenario::Scenario::parse("notice-crash.toml", text).unwrap();
    let run_with = |queue: QueueStore| {
        let mut s = s.clone();
        s.status.as_mut().unwrap().queue = queue;
        let log = edgesim::world::simulate(&s, s.seed, &mut |_| {}).unwrap();
        let text = edgesim::report::analyze(&s, s.seed, &log).to_string();
        let events = &log.observed().kept;
        let gave_up: Vec<u64> = events
            .iter()
            .filter_map(|e| match &e.record {
                Record::Node(NodeEvent::DeliveryFailed { retry_in_ms: None, channel, .. }) if channel == "webhook" => {
                    Some(e.t_us)
                }
                _ => None,
            })
            .collect();
        let told: Vec<u64> = events
            .iter()
            .filter_map(|e| match &e.record {
                Record::Harness(HarnessEvent::ToldUnreachable { channel, by, .. }) if channel == "webhook" => {
                    assert_eq!(by, "email");
                    Some(e.t_us)
                }
                _ => None,
            })
            .collect();
        (gave_up, told, text)
    };
    let (gave_up, told, text) = run_with(QueueStore::Sqlite);
    assert_eq!(gave_up.len(), 1, "one webhook job given up: {gave_up:?}\n{text}");
    assert!(gave_up[0] > 12_000_000 && gave_up[0] < 25_000_000, "before the crash: {gave_up:?}");
    assert_eq!(told.len(), 1, "the notice accepted once: {told:?}\n{text}");
    assert!(told[0] >= 35_000_000, "after the restart: {told:?}");
    let (_, told, text) = run_with(QueueStore::Memory);
    assert!(told.is_empty(), "the memory queue loses the notice: {told:?}\n{text}");
}

#[test]
fn a_flapping_receiver_gets_every_notification_once_by_key() {
    let s = load("status-notification-burst");
    let r = run(&s);
    let n = &status(&r).notifications;
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(n.expected > 1000 && n.retried > 100 && n.rate_limited > 0, "{n:?}");
    // Critical updates are queued first, which shows in their delivery times while the workers are
    // free. While the receiver is cut off, each attempt to reach it holds a worker for the whole
    // 10 s delivery timeout (a cut link answers with silence), and the critical jobs, taken first,
    // are the ones that meet the silence first: so the queue's effect is checked on the same
    // burst without the cuts.
    let mut free = s.clone();
    free.faults.clear();
    let r = run(&free);
    let n = &status(&r).notifications;
    assert!(n.latency_critical.p50_ms < n.latency_other.p50_ms, "critical updates are queued first: {n:?}");
}

#[test]
fn each_channels_provider_shows_its_throttling_suppression_and_unreachable_endpoints() {
    // Goal: per channel, in the report and its JSON: the SMS provider's "slow down" answers are
    // counted and the notifier backs off (SMS still delivered, no duplicates); suppressed
    // non-critical updates are counted on every channel and never as lost; the webhook jobs given
    // up after the last retry each end with the subscriber told, and only they are lost.
    let s = load("status-providers");
    let r = run(&s);
    let n = &status(&r).notifications;
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    let (sms, webhook, email) = (&n.channels["sms"], &n.channels["webhook"], &n.channels["email"]);
    assert!(sms.slowed_down > 0 && sms.lost == 0 && sms.delivered > 0, "{sms:?}");
    assert!(n.channels.values().all(|c| c.suppressed > 0 && c.suppressed == email.suppressed), "{n:?}");
    assert!(webhook.gave_up > 0 && webhook.told_unreachable == webhook.gave_up, "{webhook:?}");
    assert_eq!((n.lost, n.duplicates), (webhook.lost, 0), "{n:?}");
    let json = serde_json::to_value(status(&r)).unwrap();
    let channel = &json["notifications"]["channels"]["sms"];
    for figure in ["slowed_down", "suppressed", "gave_up", "told_unreachable"] {
        assert!(channel[figure].is_u64(), "{figure} in the JSON: {channel}");
    }
    assert!(r.to_string().contains("told unreachable"), "{r}");
}

#[test]
fn a_receiver_down_for_an_hour_loses_nothing_within_the_retry_window() {
    let s = load("status-receiver-down-hour");
    let r = run(&s);
    let n = &status(&r).notifications;
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(n.retried > 0 && n.lost == 0 && n.pending == 0 && n.gave_up == 0, "{n:?}");
    assert!(n.latency.max_ms > 3_600_000.0, "some waited out the hour: {n:?}");
}

#[test]
fn sse_viewers_resume_through_a_cdn_failover_and_miss_nothing_but_not_without_last_event_id() {
    let s = load("status-sse-failover");
    let r = run(&s);
    let sse = &status(&r).sse;
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(sse.viewers == 30 && sse.resumed >= 10 && sse.missed == 0, "{sse:?}");
    let mut crowded = s.clone();
    let c = crowded.status.as_mut().unwrap();
    c.sse_viewers_per_region = 12;
    c.cdns.truncate(2);
    let r = run(&crowded);
    let sse = &status(&r).sse;
    assert!(sse.fell_back >= 6, "with cdn-a cut off, 2 per region over cdn-b's 10-per-IP limit poll: {sse:?}");
    let mut forgetful = s.clone();
    forgetful.status.as_mut().unwrap().sse_resume = false;
    let r = run(&forgetful);
    assert!(status(&r).sse.missed > 0, "without Last-Event-ID updates are missed: {r}");
}

#[test]
fn a_spike_with_flapping_dns_health_and_a_lost_region_keeps_the_page_up() {
    let s = load("status-spike-flapping-dns");
    let r = run(&s);
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    let spike = status(&r).windows.iter().map(|w| w.views).max().unwrap();
    assert!(spike > 10_000, "the spike happened: {spike} views in a window");
}

#[test]
fn hubs_push_every_event_type_and_the_checker_fires_when_they_push_timeline_updates_only() {
    // Goal: a scripted outage and its resolution reach every live viewer as
    // `component_status_changed` and `incident_resolved` over SSE; the negative control's hubs
    // push timeline updates only, and the `sse-event-types` checker names both missing types.
    let s = load("negative/status-sse-timeline-only");
    let r = run(&s);
    assert_eq!(judge(&s, &r).verdict, Verdict::CheckerFired, "{r}");
    assert_eq!(status(&r).sse.never_streamed, ["component_status_changed", "incident_resolved"], "{r}");
    let mut twin = s.clone();
    twin.status.as_mut().unwrap().sse_status_events = true;
    let r = run(&twin);
    let sse = &status(&r).sse;
    assert_eq!(judge(&twin, &r).verdict, Verdict::Pass, "{r}");
    assert!(sse.never_streamed.is_empty() && sse.missed == 0, "{sse:?}");
    for kind in SseEventKind::ALL {
        assert_eq!(sse.kinds[kind.name()].streamed, sse.kinds[kind.name()].expected, "{kind:?}: {sse:?}");
        assert!(sse.kinds[kind.name()].expected >= 9, "every viewer is due each type: {sse:?}");
    }
}

#[test]
fn without_coalescing_a_viewer_spike_breaks_the_origin_budget() {
    // Goal: the design's request coalescing is what holds the origins' load in a 100x spike with
    // the edge KV untrusted: `status-spike-origin` keeps `origin_requests_per_s` within budget
    // (sweep.rs), and with coalescing off every stale hit sends its own refresh and breaks it.
    let s = load("negative/status-spike-no-coalescing");
    let r = run(&s);
    let j = judge(&s, &r);
    assert_eq!(j.verdict, Verdict::BudgetBroken, "{r}");
    assert_eq!(j.failed_budgets.len(), 1, "{:?}", j.failed_budgets);
    assert!(j.failed_budgets[0].starts_with("origin_requests_per_s < "), "{:?}", j.failed_budgets);
}

#[test]
fn a_status_run_is_deterministic_in_process_and_across_processes() {
    let mut s = load("status-split-brain-edit");
    s.duration = Duration::from_secs(200);
    let (a, b) = (common::run_seed(&s, 4), common::run_seed(&s, 4));
    assert_eq!(a.event_log_hash, b.event_log_hash);
    assert_ne!(a.event_log_hash, common::run_seed(&s, 5).event_log_hash);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/status-split-brain-edit.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim")).args(["check-determinism", scenario]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("identical (hash "), "{stdout}");
}

#[test]
fn a_region_cut_off_until_the_end_fires_lost_updates_and_divergence_and_its_twin_passes() {
    // Goal: the negative control of `lost-status-updates` and `status-divergence`, which had none.
    // `negative/status-regions-cut`: us-east is cut off from the other regions from 40 s to the
    // end while both sides edit, so each side lacks the other's updates at the final audit: both
    // checkers fire, and only they (exit 2). Its twin, repaired at 100 s, passes (exit 0).
    let s = load("negative/status-regions-cut");
    let r = run(&s);
    let j = judge(&s, &r);
    assert_eq!((j.verdict, j.exit_code), (Verdict::CheckerFired, 2), "{r}");
    assert_eq!(r.fired(), ["lost-status-updates", "status-divergence"], "{r}");
    assert!(!status(&r).lost_updates.is_empty() && !status(&r).diverged.is_empty(), "{r}");
    let mut twin = s.clone();
    let mut repair = twin.faults[0].clone();
    repair.at = Duration::from_secs(100);
    repair.latest = repair.at;
    let edgesim::scenario::Action::Partition { a, b, .. } = &twin.faults[0].action else { panic!("a partition") };
    repair.action = edgesim::scenario::Action::Repair { a: a.clone(), b: b.clone(), oneway: false };
    twin.faults.push(repair);
    let r = run(&twin);
    assert_eq!(judge(&twin, &r).verdict, Verdict::Pass, "{r}");
}

#[test]
fn with_every_region_and_cdn_down_at_the_end_the_audited_checkers_are_not_judged() {
    // Goal (issue 11, defect 9): a status checker with nothing to judge says so. Every status
    // region and every CDN crashes at 100 s and stays down, so the final audit reads no region
    // and no CDN page: before, `lost_updates` read 0, no region "diverged", no CDN page was
    // behind and the run passed (exit 0); now `lost-status-updates`, `status-divergence` and
    // `cdn-page-convergence` are not judged, each with why, and the budget `lost_updates == 0`
    // breaks with no samples (exit 1).
    let mut s = load("negative/status-regions-cut");
    s.faults.clear();
    let hosts = ["status-us-east", "status-eu-west", "status-ap-south", "cdn-a", "cdn-b", "cdn-c"];
    for host in hosts {
        s.faults.push(edgesim::scenario::Fault {
            at: Duration::from_secs(100),
            latest: Duration::from_secs(100),
            action: edgesim::scenario::Action::Crash { host: host.to_string() },
            line: 0,
        });
    }
    let r = run(&s);
    let j = judge(&s, &r);
    assert!(r.fired().is_empty(), "{r}");
    let not_judged: Vec<&str> = j.not_judged.iter().map(|n| n.checker.as_str()).collect();
    assert_eq!(not_judged, ["lost-status-updates", "status-divergence", "cdn-page-convergence"], "{r}");
    assert!(j.not_judged[0].why.contains("no status region was up at the end"), "{:?}", j.not_judged);
    assert!(j.not_judged[2].why.contains("no CDN was up at the final audit"), "{:?}", j.not_judged);
    assert_eq!(j.budgets[0].outcome, edgesim::verdict::BudgetOutcome::NoSamples, "{:?}", j.budgets);
    assert_eq!((j.verdict, j.exit_code), (Verdict::BudgetBroken, 1), "{r}");
    assert!(r.to_string().contains("not judged: lost-status-updates: no status region was up at the end"), "{r}");
}

#[test]
fn a_cdn_lost_while_nobody_viewed_the_page_has_no_dns_failover_figure() {
    // Goal (issue 11, defect 9): missing evidence never reads as good. `status-cdn-outage` cut to
    // 150 s with no viewers at all: no page view began while cdn-a was down, yet DNS failover
    // read 0.0 s and `dns_failover <= 85s` held (before); now the loss has no figure, says why,
    // and both DNS failover budgets break with no samples (after).
    let mut s = load("status-cdn-outage");
    s.duration = Duration::from_secs(150);
    s.faults.retain(|f| f.at < s.duration);
    let st = s.status.as_mut().unwrap();
    (st.viewers_per_region, st.sse_viewers_per_region) = (0, 0);
    let r = run(&s);
    let lost = &status(&r).dns_failovers;
    assert!(lost.len() == 1 && lost[0].views == 0 && lost[0].moved_after_s.is_none(), "{lost:?}");
    let j = judge(&s, &r);
    let dns: Vec<_> = j.budgets.iter().filter(|b| b.metric == "dns_failover").map(|b| b.outcome).collect();
    assert_eq!(dns, [edgesim::verdict::BudgetOutcome::NoSamples; 2], "{:?}", j.budgets);
    assert!(r.to_string().contains("not judged: no page view began while it was lost"), "{r}");
}

#[test]
fn page_views_still_in_flight_at_the_end_are_waited_for_and_counted() {
    // Goal (issue 11): work that never completed is counted, not dropped. With no settle time and
    // the links from the viewers to every CDN held (messages wait, unanswered) for the last 3 s,
    // views begun then are still waiting on the CDNs when the scenario's time is up. The run ends only once every viewer's last view has
    // (each is bounded by `view_timeout` per CDN), so those views are logged after the nominal end
    // and counted, unanswered: before and after the same, at least one view ending past the end,
    // every logged view counted in `views`.
    let mut s = load("negative/status-regions-cut");
    s.faults.clear();
    s.settle = Duration::ZERO;
    s.status.as_mut().unwrap().viewers_per_region = 20;
    let viewers: Vec<String> = ["us-east", "eu-west", "ap-south"].iter().map(|r| format!("viewers-{r}")).collect();
    let cdns: Vec<String> = s.status.as_ref().unwrap().cdns.clone();
    s.faults.push(edgesim::scenario::Fault {
        at: s.duration - Duration::from_secs(3),
        latest: s.duration - Duration::from_secs(3),
        action: edgesim::scenario::Action::Hold { a: viewers, b: cdns },
        line: 0,
    });
    let log = edgesim::world::simulate(&s, s.seed, &mut |_| {}).unwrap();
    let r = edgesim::report::analyze(&s, s.seed, &log);
    let end_us = s.duration.as_micros() as u64;
    let views: Vec<(u64, bool)> = log
        .observed()
        .kept
        .iter()
        .filter_map(|e| match &e.record {
            edgesim::events::Record::Harness(edgesim::events::HarnessEvent::PageViewed { tier, .. }) => {
                Some((e.t_us, tier.is_some()))
            }
            _ => None,
        })
        .collect();
    let late = views.iter().filter(|(t, answered)| *t > end_us && !answered).count();
    assert!(late > 0, "some views were in flight at the end: {r}");
    assert_eq!(status(&r).views, views.len() as u64, "every logged view is counted");
    assert!(status(&r).answered + late as u64 <= status(&r).views, "{r}");
}

#[test]
fn regions_that_forget_fail_the_liveness_phase_and_durable_ones_pass_it() {
    // Goal: the negative control of the status page's `liveness` checker, which had none.
    // `negative/status-liveness-forget`: every region crashes at 30 s and, restarted empty by the
    // heal at 45 s, never shows again the updates acknowledged before: `liveness` fires (exit 2).
    // Its twin with durable regions passes (exit 0).
    let s = load("negative/status-liveness-forget");
    let r = run(&s);
    let j = judge(&s, &r);
    assert_eq!((j.verdict, j.exit_code), (Verdict::CheckerFired, 2), "{r}");
    assert!(r.fired().contains(&"liveness"), "{r}");
    let behind = &status(&r).liveness.as_ref().unwrap().behind;
    assert!(behind.iter().any(|b| b.starts_with("status-")), "the regions' origins forgot: {behind:?}");
    let mut durable = s.clone();
    durable.status.as_mut().unwrap().durable_regions = true;
    let r = run(&durable);
    assert_eq!(judge(&durable, &r).verdict, Verdict::Pass, "{r}");
}
