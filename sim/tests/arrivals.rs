//! Open-loop arrivals (issue 11, defect 1): a session's requests are sent when they are due,
//! whatever earlier ones are still waiting for, so an outage is met by the load a real population
//! sends. Closed-loop arrivals stay available as `[workload] arrivals = "closed"`.

use std::path::Path;

use edgesim::events::RequestOutcome;
use edgesim::scenario::{Action, Arrivals, Scenario};

fn load(name: &str) -> Scenario {
    Scenario::load(Path::new(&format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR")))).unwrap()
}

/// Requests that failed (error or timeout) among those sent during `pop-restart`'s outage of
/// `pop-us-east-2` (crash at 10 s, restart at 20 s) by the sessions pinned to it, and how many
/// those sessions were due to send then (rate x outage x sessions).
fn failed_during_outage(s: &Scenario) -> (usize, f64) {
    let log = edgesim::world::simulate(s, s.seed, &mut |_| {}).unwrap();
    let region = &s.regions[0];
    let pops = region.pops.len() as u64;
    let home = region.pops.iter().position(|p| p == "pop-us-east-2").unwrap() as u64;
    // Sessions of the first region are 1..=n, the n-th on PoP (n - 1) mod pops (sim/src/edge/world.rs).
    let pinned: Vec<u64> =
        (1..=u64::from(s.workload.sessions_per_region)).filter(|id| (id - 1) % pops == home).collect();
    let observed = log.observed();
    let failed = observed
        .requests
        .kept()
        .iter()
        .filter(|r| pinned.contains(&r.session) && (10_000_000..20_000_000).contains(&r.start_us))
        .filter(|r| matches!(r.outcome, RequestOutcome::Error { .. } | RequestOutcome::Timeout))
        .count();
    (failed, s.workload.session_rate * 10.0 * pinned.len() as f64)
}

#[test]
fn an_outage_meets_every_request_due_during_it() {
    // Scenario `pop-restart` (4 sessions at 5 requests/s pinned to the PoP that is down for 10 s,
    // so 200 requests due). Before, with closed-loop sessions only, about 12 requests failed
    // during the outage: each session waited out its 5 s timeout before its next request. After,
    // with open-loop arrivals by default, about 200 fail, within 20% of what was due.
    let s = load("pop-restart");
    assert_eq!(s.workload.arrivals, Arrivals::Open, "open-loop is the default");
    let (failed, due) = failed_during_outage(&s);
    assert!((failed as f64 - due).abs() <= 0.2 * due, "{failed} failed requests during the outage, {due} due");
}

#[test]
fn closed_loop_arrivals_stay_available_and_undercount_the_outage() {
    // The same outage with `arrivals = "closed"` (only the region holding the crashed PoP, to stay
    // fast), the PoP lost silently (a machine gone, so requests to it hang until their timeout
    // rather than being reset by a live kernel): sessions blocked on their timeouts send a
    // fraction of what was due.
    let mut s = load("pop-restart");
    s.regions.truncate(1);
    s.workload.arrivals = Arrivals::Closed;
    s.faults[0].action = Action::SilentCrash { host: "pop-us-east-2".to_string() };
    let (failed, due) = failed_during_outage(&s);
    assert!((failed as f64) < 0.25 * due, "{failed} failed requests during the outage, {due} due");
}
