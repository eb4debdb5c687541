//! Anycast across a PoP loss (`scenarios/pop-loss-anycast.toml` and its negative control
//! `scenarios/negative/anycast-drops-position.toml`): requests fail only from the loss until the
//! route is withdrawn (and while in flight then), the lost PoP's sessions move only after the
//! detection delay, and read-your-writes holds across the move only when the position travels
//! with the session.

mod common;

use std::time::Duration;

use common::load;
use edgesim::events::{HarnessEvent, Record, RequestOutcome};
use edgesim::report::analyze;
use edgesim::scenario::{Action, Scenario};
use edgesim::world::simulate;

/// The crash of the scenario's lost PoP and the detection delay, in microseconds.
fn loss(s: &Scenario) -> (String, u64, u64) {
    let (pop, at) = s
        .faults
        .iter()
        .find_map(|f| match &f.action {
            Action::Crash { host } => Some((host.clone(), f.at)),
            _ => None,
        })
        .expect("the scenario crashes a PoP");
    (pop, at.as_micros() as u64, s.anycast.expect("[anycast]").detection.0.as_micros() as u64)
}

#[test]
fn requests_fail_only_while_the_loss_is_detected_and_positions_travel_with_moved_sessions() {
    // Goal: every failed request was in flight between the PoP's loss and its route's withdrawal
    // (plus one tick of slack), some did fail, the 8 sessions of the lost PoP's place moved no
    // sooner than the withdrawal, and no read missed a write of its session.
    let s = load("pop-loss-anycast");
    let (pop, lost, detection) = loss(&s);
    let slack = Duration::from_millis(1).as_micros() as u64;
    let log = simulate(&s, s.seed, &mut |_| {}).unwrap();
    let observed = log.observed();
    let failed: Vec<_> = observed
        .requests
        .kept()
        .iter()
        .filter(|r| !matches!(r.outcome, RequestOutcome::Write { .. }))
        .chain(observed.requests.unanswered())
        .collect();
    assert!(failed.len() > 10, "the loss must cost some requests: {}", failed.len());
    for r in &failed {
        assert!(
            r.end_us >= lost && r.start_us <= lost + detection + slack,
            "request {} failed outside [{lost}, {}] us: {r:?}",
            r.req,
            lost + detection
        );
    }
    let moved_away: Vec<u64> = observed
        .kept
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::SessionMoved { from, carried, .. }) if *from == pop => {
                assert!(carried);
                Some(e.t_us)
            }
            _ => None,
        })
        .collect();
    assert_eq!(moved_away.len(), 8, "{moved_away:?}");
    assert!(moved_away.iter().all(|t| *t >= lost + detection), "moved before the withdrawal: {moved_away:?}");
    let r = analyze(&s, s.seed, &log);
    let edge = r.edge().unwrap();
    let figures = edge.anycast.as_ref().expect("anycast figures");
    assert_eq!(figures.failed_outside_detection, 0, "{r}");
    assert_eq!(figures.failed_while_detecting, failed.len(), "{r}");
    assert_eq!(edge.checks.ryw_violations, 0, "{r}");
    assert!(edge.latency["eu-west"].reads_primary > 0, "the lagging PoP sent reads to the primary: {r}");
    assert!(r.fired().is_empty(), "{r}");
}

#[test]
fn dropping_the_position_on_moves_breaks_read_your_writes() {
    // Goal: the negative control, the same loss with positions dropped on moves, must make the
    // read-your-writes checker fire on reads at the PoP the sessions moved to.
    let s = load("negative/anycast-drops-position");
    assert!(!s.anycast.unwrap().carry_position);
    let r = common::run(&s);
    let edge = r.edge().unwrap();
    assert!(edge.checks.ryw_violations > 0, "negative control must fire: {r}");
    let first = edge.checks.ryw_examples[0].at_us;
    let (_, lost, detection) = loss(&s);
    assert!(first >= lost + detection, "violations begin with the moves: {first}");
    assert!(r.fired().contains(&"read-your-writes"), "{r}");
}
