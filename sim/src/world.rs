//! One run of a scenario on turmoil, whichever system it simulates: the simulation's settings
//! (its RNG seeded from the run's seed, a fixed epoch, the step), the system's hosts and links
//! (`edge::world` or `status::world`), the fault schedule applied at its times (drawn from the
//! seed where the scenario says so, and logged in `run_started`), progress, and the records that
//! open and close the event log.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use crate::events::{HarnessEvent, Record, SCHEMA_VERSION};
use crate::faults::FaultState;
use crate::log::EventLog;
use crate::scenario::resolved::Resolved;
use crate::scenario::{Action, Scenario};
use crate::seed::Seed;
use crate::units::Dur;

#[derive(Debug, thiserror::Error)]
#[error("simulation failed at {at:?}: {message}")]
pub struct SimError {
    pub at: Duration,
    pub message: String,
}

/// The fault schedule a seed drew, one line per fault: `at`, what, the scenario line.
pub fn schedule(scenario: &Scenario) -> Vec<String> {
    scenario.faults.iter().map(|f| format!("{} {} (line {})", Dur(f.at), f.action, f.line)).collect()
}

/// Runs `scenario` with `seed` and returns its event log. `progress` is told the simulated time
/// about once per simulated second.
pub fn simulate(scenario: &Scenario, seed: u64, progress: &mut dyn FnMut(Duration)) -> Result<EventLog, SimError> {
    simulate_into(EventLog::default(), scenario, seed, progress)
}

/// `simulate`, logging into `log` (one that writes its JSON Lines somewhere: `EventLog::writing`).
pub fn simulate_into(
    log: EventLog,
    scenario: &Scenario,
    seed: u64,
    progress: &mut dyn FnMut(Duration),
) -> Result<EventLog, SimError> {
    let drawn = scenario.draws();
    let scenario = &scenario.for_seed(seed);
    let mut state = FaultState::new(Seed(seed));
    let harness: Rc<str> = "harness".into();
    let end = scenario.duration + scenario.settle;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(end + Duration::from_secs(30))
        .tick_duration(scenario.tick)
        .rng_seed(seed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        .min_message_latency(Duration::from_millis(50))
        .max_message_latency(Duration::from_millis(50))
        .repair_rate(0.5)
        .tcp_capacity(1 << 16)
        .build();
    log.push(
        0,
        &harness,
        Record::Harness(HarnessEvent::RunStarted {
            schema: SCHEMA_VERSION,
            scenario: scenario.name.clone(),
            seed,
            resolved: Box::new(Resolved::of(scenario)),
            schedule: drawn.then(|| schedule(scenario)),
        }),
    );
    match &scenario.status {
        Some(status) => crate::status::world::build(&mut sim, scenario, status, Seed(seed), &log, &state.cuts),
        None => crate::edge::world::build(&mut sim, scenario, Seed(seed), &log, &state.cuts),
    }

    let (hosts, nodes) = (scenario.hosts(), scenario.node_hosts());
    let mut faults = scenario.faults.iter().peekable();
    let mut next_progress = Duration::ZERO;
    loop {
        let now = sim.elapsed();
        while let Some(f) = faults.next_if(|f| f.at <= now) {
            state.apply(&mut sim, &f.action, &hosts, &nodes);
            if f.action == Action::Heal {
                match &scenario.status {
                    Some(status) => crate::status::world::set_latencies(&sim, status),
                    None => crate::edge::world::set_latencies(&sim, scenario),
                }
            }
            log.push(now.as_micros() as u64, &harness, Record::Harness(HarnessEvent::fault(f.line, &f.action)));
        }
        if now >= next_progress {
            progress(now);
            next_progress += Duration::from_secs(1);
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(SimError { at: sim.elapsed(), message: e.to_string() }),
        }
    }
    let sim_us = sim.elapsed().as_micros() as u64;
    let down = scenario.node_hosts().into_iter().filter(|h| !sim.is_host_running(h.as_str())).collect();
    log.push(sim_us, &harness, Record::Harness(HarnessEvent::RunEnded { sim_us, down }));
    Ok(log)
}
