//! One run of a scenario, whichever system it simulates, on the backend the scenario names
//! (`net`): the simulation, the system's hosts and links
//! (`edge::world` or `status::world`), the fault schedule applied at its times (drawn from the
//! seed where the scenario says so, and logged in `run_started`), progress, and the records that
//! open and close the event log.

use std::rc::Rc;
use std::time::Duration;

use crate::events::{HarnessEvent, Record, SCHEMA_VERSION};
use crate::faults::FaultState;
use crate::log::EventLog;
use crate::net::stack::StackSim;
use crate::net::turmoil::TurmoilSim;
use crate::net::{Backend, SimError, Simulation};
use crate::scenario::resolved::Resolved;
use crate::scenario::{Action, Scenario};
use crate::seed::Seed;
use crate::units::Dur;

/// The fault schedule a seed drew, one line per fault: `at`, what, the scenario line.
pub fn schedule(scenario: &Scenario) -> Vec<String> {
    scenario.faults.iter().map(|f| format!("{} {} (line {})", Dur(f.at), f.action, f.line)).collect()
}

/// Runs `scenario` with `seed` and returns its event log. `progress` is told the simulated time
/// about once per simulated second.
pub fn simulate(scenario: &Scenario, seed: u64, progress: &mut dyn FnMut(Duration)) -> Result<EventLog, SimError> {
    simulate_into(EventLog::default(), scenario, seed, progress)
}

/// `simulate`, logging into `log` (one that writes its JSON Lines somewhere: `EventLog::writing`),
/// on the scenario's backend.
pub fn simulate_into(
    log: EventLog,
    scenario: &Scenario,
    seed: u64,
    progress: &mut dyn FnMut(Duration),
) -> Result<EventLog, SimError> {
    let drawn = scenario.draws();
    let scenario = &scenario.for_seed(seed);
    let end = scenario.duration + scenario.settle;
    let limit = end + Duration::from_secs(30);
    log.push(
        0,
        &"harness".into(),
        Record::Harness(HarnessEvent::RunStarted {
            schema: SCHEMA_VERSION,
            scenario: scenario.name.clone(),
            seed,
            resolved: Box::new(Resolved::of(scenario)),
            schedule: drawn.then(|| schedule(scenario)),
        }),
    );
    match scenario.backend {
        Backend::Turmoil => drive(TurmoilSim::new(Seed(seed), scenario.tick, limit), scenario, seed, log, progress),
        Backend::Net => drive(StackSim::new(Seed(seed), limit), scenario, seed, log, progress),
    }
}

/// Builds the system's world on `sim` and runs it to its end, applying the fault schedule at its
/// times.
fn drive<S: Simulation>(
    mut sim: S,
    scenario: &Scenario,
    seed: u64,
    log: EventLog,
    progress: &mut dyn FnMut(Duration),
) -> Result<EventLog, SimError> {
    match &scenario.status {
        Some(status) => crate::status::world::build(&mut sim, scenario, status, Seed(seed), &log),
        None => crate::edge::world::build(&mut sim, scenario, Seed(seed), &log),
    }
    let harness: Rc<str> = "harness".into();
    let mut state = FaultState::default();
    let (hosts, nodes) = (scenario.hosts(), scenario.node_hosts());
    let mut faults = scenario.faults.iter().peekable();
    let mut next_progress = Duration::ZERO;
    loop {
        let now = sim.elapsed();
        while let Some(f) = faults.next_if(|f| f.at <= now) {
            state.apply(&mut sim, &f.action, &hosts, &nodes);
            if f.action == Action::Heal {
                match &scenario.status {
                    Some(status) => crate::status::world::set_latencies(&mut sim, status),
                    None => crate::edge::world::set_latencies(&mut sim, scenario),
                }
            }
            log.push(now.as_micros() as u64, &harness, Record::Harness(HarnessEvent::fault(f.line, &f.action)));
        }
        if now >= next_progress {
            progress(now);
            while next_progress <= now {
                next_progress += Duration::from_secs(1);
            }
        }
        let until = faults.peek().map_or(next_progress, |f| f.at.min(next_progress));
        if sim.run_until(until)? {
            break;
        }
    }
    let sim_us = sim.elapsed().as_micros() as u64;
    let mut down = scenario.node_hosts();
    down.retain(|h| !sim.is_running(h));
    log.push(sim_us, &harness, Record::Harness(HarnessEvent::RunEnded { sim_us, down }));
    Ok(log)
}
