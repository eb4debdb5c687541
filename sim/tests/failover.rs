//! Primary loss as a user runs it: failover timings, data loss by standby mode, split brain,
//! lineage, and the committed narrated timeline (checked with seed 1 of the failover timings).

mod common;

use std::time::Duration;

use common::{load, run, run_seed};
use edgesim::scenario::Action;
use edgesim_system::edge::config::StandbyMode;

#[test]
fn a_silent_crash_fails_over_at_the_configured_timings_without_losing_writes() {
    let s = load("primary-crash-sync");
    for seed in 1..=3 {
        let r = run_seed(&s, seed);
        assert!(r.checks.fired().is_empty(), "seed {seed}: {}", r.text());
        let f = r.failover.as_ref().expect("the primary was lost");
        let failover = f.failover_s.expect("writes resumed on the new primary");
        // The loss comes just after a check, as in the design's timeline: missed checks 5, 10 and
        // 15 s later confirm it, failover follows 15 s after that.
        assert!((30.0..=60.0).contains(&failover), "seed {seed}: failover after {failover}s");
        assert!(f.confirmed_s.unwrap() > 14.0 && f.confirmed_s.unwrap() <= 15.0, "{f:?}");
        assert_eq!(r.checks.lost_acked_writes.as_deref(), Some(&[][..]), "sync standby loses nothing");
        // Replicas serve reads throughout; only read-your-writes reads whose position had not
        // reached the replica fall back to the lost primary and fail.
        assert!(f.read_availability > 0.95, "reads are served throughout: {f:?}");
        if seed == s.seed {
            committed_timeline_is(&format!("{} seed {}\n{}", r.scenario, r.seed, r.timeline_text()));
        }
    }
}

/// The committed narrated timeline of `primary-crash-sync` is what the run narrates.
fn committed_timeline_is(text: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/timeline-primary-crash-sync-seed-1.txt");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(committed, text, "regenerate with: edgesim run scenarios/primary-crash-sync.toml --timeline > {path}");
}

#[test]
fn faster_health_checks_fail_over_faster() {
    let mut s = load("primary-crash-sync");
    s.failover.health_interval.0 = Duration::from_secs(1);
    s.failover.health_timeout.0 = Duration::from_millis(500);
    s.failover.failover_after.0 = Duration::from_secs(3);
    s.failover.lease.0 = Duration::from_secs(2);
    let r = run(&s);
    let failover = r.failover.as_ref().and_then(|f| f.failover_s).expect("failed over");
    assert!(failover < 10.0, "1 s checks fail over in under 10 s, took {failover}s");
    assert!(r.checks.fired().is_empty(), "{}", r.text());
}

#[test]
fn an_async_standby_behind_the_primary_loses_the_writes_it_never_received_and_they_are_listed() {
    let r = run(&load("negative/primary-crash-async"));
    let lost = r.checks.lost_acked_writes.clone().expect("the new primary was audited");
    assert!(!lost.is_empty(), "{}", r.text());
    assert!(r.text().contains(&format!("acknowledged writes lost: {}", lost.len())));
    assert!(r.checks.convergence.converged, "survivors still converge: {}", r.text());
}

#[test]
fn fencing_prevents_split_brain_and_without_it_the_checker_fires() {
    // `split-brain-attempt` itself passes (no checker fires) in the reference suite (`sweep.rs`).
    let s = load("split-brain-attempt");
    // A synchronous standby that stops answering already keeps the cut-off primary from
    // acknowledging; with an asynchronous one only fencing does.
    let mut async_standby = s.clone();
    async_standby.replication.standby = StandbyMode::Async;
    let r = run(&async_standby);
    assert!(r.checks.split_brain.acked_by_fenced.is_empty(), "{}", r.text());

    let mut unfenced = async_standby;
    unfenced.failover.fencing = false;
    let r = run(&unfenced);
    assert!(!r.checks.split_brain.acked_by_fenced.is_empty(), "{}", r.text());
    assert!(r.checks.fired().contains(&"split-brain"));
}

#[test]
fn a_returning_primary_with_phantom_frames_rebuilds_and_without_the_lineage_check_diverges() {
    let mut s = load("negative/primary-crash-async");
    s.faults.push(edgesim::scenario::Fault {
        at: Duration::from_secs(55),
        action: Action::Restart { host: "primary".into() },
        line: 0,
    });
    let r = run(&s);
    assert!(r.checks.convergence.converged, "{}", r.text());
    assert!(r.replication.snapshots_restored >= 1, "the old primary rebuilt: {}", r.text());

    s.failover.lineage_check = false;
    let r = run(&s);
    assert!(!r.checks.convergence.converged, "{}", r.text());
    assert!(r.checks.convergence.diverged.iter().any(|(node, _)| node == "primary"), "{:?}", r.checks.convergence);
}

#[test]
fn a_flap_shorter_than_confirmation_causes_no_failover() {
    let r = run(&load("primary-flap"));
    let f = r.failover.as_ref().expect("the primary was cut off");
    assert_eq!(f.promoted_s, None, "{}", r.text());
    assert!(r.checks.fired().is_empty(), "{}", r.text());
    assert!(r.timeline.iter().any(|l| l.contains("answers health checks again")));
}

#[test]
fn with_no_standby_failover_is_impossible_and_said_plainly() {
    let r = run(&load("negative/standby-then-primary-lost"));
    let f = r.failover.as_ref().unwrap();
    assert!(f.promotion_impossible.is_some());
    assert!(f.writes_resumed_s.unwrap() > 55.0, "writes wait for the standby's return: {f:?}");
    assert!(r.timeline.iter().any(|l| l.contains("failover impossible")));
}

#[test]
fn writes_retried_through_a_failover_are_acknowledged_once_and_kept() {
    use edgesim::events::Outcome;
    let s = load("primary-crash-retry");
    let log = edgesim::world::simulate(&s, s.seed, &mut |_| {}).unwrap();
    let r = edgesim::report::analyze(&s, s.seed, &log);
    assert!(r.checks.fired().is_empty(), "{}", r.text());
    let requests = edgesim::check::requests(&log.events());
    let failed_then_acked = requests
        .iter()
        .filter(|w| matches!(w.outcome, Outcome::Write { generation: 2, .. }))
        .filter(|w| {
            requests.iter().any(|f| {
                (f.session, f.seq) == (w.session, w.seq)
                    && f.end_us < w.start_us
                    && !matches!(f.outcome, Outcome::Write { .. })
            })
        })
        .count();
    assert!(
        failed_then_acked > 10,
        "writes that failed during the outage were acknowledged after it: {failed_then_acked}"
    );
}
