//! Goal: the two backends tell the same story. Every reference scenario (`scenarios/*.toml`, own
//! seed) that runs on the default backend runs on the other one, one test each, and is compared
//! with its run on the default as committed in `reports/reference/summary.json` (which the `sweep`
//! test keeps equal to this build's runs). A scenario whose file names its backend (one too large
//! for turmoil) is left out.
//! - the same verdict, the same broken budgets (not the values they broke with), the same fired
//!   checkers and the same checkers not judged: identical outcomes;
//! - in the scenarios without faults, the median read, write and replication-lag latencies within
//!   3 ms or 5 %, whichever is larger: both serve timers and arrivals on a 1 ms grid (each hop
//!   rounds) and draw link delays from the same distribution, though not the same draws, and a
//!   loaded run's median moves with its queues.
//!
//! Tails are not compared: they differ for a reason the backends' TCP explains. turmoil-net
//! completes a handshake in a full round trip before the first byte (turmoil sooner), so a request
//! on a fresh connection, rare in a steady run, costs one more round trip on `net`; and a
//! connection stalled by a partition resumes with TCP's next retransmission after the repair
//! (turmoil drops what was in flight). docs/DESIGN.md, Simulation cost, gives the figures.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use edgesim::net::Backend;
use edgesim::render::summary::{Entry, SuiteSummary};
use edgesim::report::analyze;
use edgesim::scenario::Scenario;
use edgesim::world::simulate;
use libtest_mimic::{Arguments, Failed, Trial};

mod reference;

const REFERENCE: &str = "reports/reference/summary.json";
/// The medians compared in runs without faults, and how far apart they may be: 3 ms (three 1 ms
/// steps) or 5 % of the larger, whichever is more.
const MEDIANS: [&str; 3] = ["read_p50", "write_p50", "lag_p50"];
const APART_MS: f64 = 3.0;
const APART_SHARE: f64 = 0.05;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let scenarios = match reference::scenarios() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let reference = match SuiteSummary::load(Path::new(REFERENCE)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{REFERENCE}: {e}");
            return ExitCode::from(3);
        }
    };
    let default: BTreeMap<String, Entry> = reference.entries.into_iter().map(|e| (e.path.clone(), e)).collect();
    let other = Backend::ALL.into_iter().find(|b| !b.is_default()).expect("two backends");
    let trials = scenarios
        .into_iter()
        .filter(|s| !names_its_backend(&s.path))
        .map(|mut scenario| {
            scenario.backend = other;
            let expected = default.get(&scenario.path).cloned();
            Trial::test(scenario.name.clone(), move || compare(&scenario, expected))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Whether the scenario file sets `backend` itself (a world too large for the other backend).
fn names_its_backend(path: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.lines().any(|l| l.trim_start().starts_with("backend")))
}

/// `scenario`'s run on the other backend against `reference`, its run on the default.
fn compare(scenario: &Scenario, reference: Option<Entry>) -> Result<(), Failed> {
    let reference = reference.ok_or_else(|| format!("{} has no run in {REFERENCE}", scenario.path))?;
    let seed = scenario.seed;
    let report = simulate(scenario, seed, &mut |_| {})
        .map(|log| analyze(scenario, seed, &log))
        .map_err(|e| format!("harness error on {}: {e}", scenario.backend))?;
    let other = Entry::new(scenario, seed, Ok(&report));
    // A broken budget as the file writes it, without the value it broke with ("... (was 512ms)").
    let broken = |e: &Entry| -> Vec<String> {
        e.failed_budgets.iter().map(|b| b.split(" (was ").next().unwrap_or(b).to_string()).collect()
    };
    let outcome = |e: &Entry| (e.verdict, broken(e), e.fired_checkers.clone(), e.not_judged.clone());
    let backends = format!("{} (reference) and {}", Backend::default(), scenario.backend);
    if outcome(&other) != outcome(&reference) {
        return Err(format!(
            "outcomes on {backends} differ (verdict, broken budgets, fired checkers, not judged):\n  {:?}\n  {:?}",
            outcome(&reference),
            outcome(&other)
        )
        .into());
    }
    if scenario.faults.is_empty() && scenario.swarm.is_none() {
        for name in MEDIANS {
            match (reference.metrics.get(name), other.metrics.get(name)) {
                (Some(a), Some(b)) => {
                    let bound = APART_MS.max(APART_SHARE * a.max(*b));
                    if (a - b).abs() > bound {
                        return Err(
                            format!("{name} on {backends}: {a} ms and {b} ms, more than {bound} ms apart").into()
                        );
                    }
                }
                (None, None) => {}
                (a, b) => return Err(format!("{name} on {backends}: samples on one side only ({a:?}, {b:?})").into()),
            }
        }
    }
    Ok(())
}
