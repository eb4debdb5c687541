//! Builds a scenario's world on turmoil and runs it: one host per node (primary, standby, control
//! plane, one distributor per region, one per PoP) and one client host per region carrying that region's
//! sessions. turmoil's step cost grows with hosts x links (docs/DESIGN.md, Simulation cost), so load
//! generators share a host per region and the harness adds no host of its own; the primary region's
//! client host also runs the final audit.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use edgesim_system::edge::node::Ctx;
use edgesim_system::edge::proto::Role;
use edgesim_system::edge::store::Store;
use edgesim_system::edge::{control, distributor, pop, primary};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use turmoil::Sim;

use crate::audit::audit;
use crate::events::{HarnessEvent, Record, SCHEMA_VERSION};
use crate::faults::FaultState;
use crate::log::{EventLog, HostTelemetry};
use crate::scenario::{CONTROL, PRIMARY, STANDBY, Scenario};
use crate::turmoil_net::{Cuts, TurmoilNet};
use crate::workload::{self, Clients, derive_seed};

#[derive(Debug, thiserror::Error)]
#[error("simulation failed at {at:?}: {message}")]
pub struct SimError {
    pub at: Duration,
    pub message: String,
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
    let mut state = FaultState::default();
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
        Record::Harness(HarnessEvent::RunStarted { schema: SCHEMA_VERSION, scenario: scenario.name.clone(), seed }),
    );
    match &scenario.status {
        Some(status) => crate::status::world::build(&mut sim, scenario, status, seed, &log, &state.cuts),
        None => {
            add_nodes(&mut sim, scenario, seed, &log, &state.cuts);
            add_clients(&mut sim, scenario, seed, &log, &state.cuts);
            set_latencies(&sim, scenario);
        }
    }

    let hosts = scenario.hosts();
    let mut faults = scenario.faults.iter().peekable();
    let mut next_progress = Duration::ZERO;
    loop {
        let now = sim.elapsed();
        while let Some(f) = faults.next_if(|f| f.at <= now) {
            state.apply(&mut sim, &f.action, &hosts);
            let event = HarnessEvent::Fault { line: f.line, fault: f.action.to_string(), hosts: f.action.hosts() };
            log.push(now.as_micros() as u64, &harness, Record::Harness(event));
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

fn telemetry(log: &EventLog, host: &str) -> HostTelemetry {
    HostTelemetry { node: host.into(), log: log.clone() }
}

/// Registers a node host. Its database outlives crashes (SQLite commits are durable); each boot
/// gets a fresh random stream derived from the seed, the host and the boot count.
fn add_node<F, Fut>(
    sim: &mut Sim<'_>,
    scenario: &Scenario,
    seed: u64,
    log: &EventLog,
    cuts: &Cuts,
    host: &str,
    start: F,
) where
    F: Fn(Ctx<TurmoilNet, HostTelemetry>) -> Fut + 'static,
    Fut: Future<Output = std::io::Result<()>> + 'static,
{
    let config = Rc::new(scenario.edge_config());
    let telemetry = telemetry(log, host);
    let boots = Cell::new(0u64);
    let stream = format!("node/{host}");
    let net = TurmoilNet::new(host, cuts);
    sim.host(host, move || {
        boots.set(boots.get() + 1);
        let rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, &stream, boots.get()));
        let run = start(Ctx::new(&telemetry.node, net.clone(), telemetry.clone(), config.clone(), rng));
        async move { run.await.map_err(Into::into) }
    });
}

fn disk(retain: u64) -> Rc<RefCell<Store>> {
    Rc::new(RefCell::new(Store::new(retain).expect("an empty in-memory database opens")))
}

fn add_nodes(sim: &mut Sim<'_>, scenario: &Scenario, seed: u64, log: &EventLog, cuts: &Cuts) {
    let retain = scenario.replication.retain_frames;
    let store = disk(retain);
    add_node(sim, scenario, seed, log, cuts, PRIMARY, move |ctx| primary::run(ctx, store.clone(), Role::Primary));
    let store = disk(retain);
    add_node(sim, scenario, seed, log, cuts, STANDBY, move |ctx| primary::run(ctx, store.clone(), Role::Standby));
    let told: Vec<String> = scenario.node_hosts().into_iter().filter(|h| h != CONTROL).collect();
    add_node(sim, scenario, seed, log, cuts, CONTROL, move |ctx| control::run(ctx, told.clone()));
    for region in &scenario.regions {
        add_node(sim, scenario, seed, log, cuts, &region.distributor, distributor::run);
        for p in &region.pops {
            let store = disk(0);
            let dist = region.distributor.clone();
            add_node(sim, scenario, seed, log, cuts, p, move |ctx| pop::run(ctx, store.clone(), dist.clone()));
        }
    }
}

fn add_clients(sim: &mut Sim<'_>, scenario: &Scenario, seed: u64, log: &EventLog, cuts: &Cuts) {
    let next_req = Rc::new(Cell::new(0));
    let per_region = scenario.workload.sessions_per_region as u64;
    let audited: Vec<String> = [PRIMARY.to_string(), STANDBY.to_string()]
        .into_iter()
        .chain(scenario.regions.iter().flat_map(|r| r.pops.iter().cloned()))
        .collect();
    for (i, region) in scenario.regions.iter().enumerate() {
        let sessions = (0..per_region)
            .map(|n| (i as u64 * per_region + n + 1, region.pops[n as usize % region.pops.len()].clone()))
            .collect();
        let clients = Rc::new(Clients {
            workload: scenario.workload.clone(),
            sessions,
            end: scenario.duration,
            seed,
            telemetry: telemetry(log, &region.clients),
            net: TurmoilNet::new(&region.clients, cuts),
            next_req: next_req.clone(),
        });
        let auditor =
            (region.name == scenario.primary_region).then(|| (audited.clone(), scenario.duration + scenario.settle));
        sim.client(region.clients.as_str(), async move {
            workload::run(clients.clone()).await?;
            if let Some((nodes, at)) = auditor {
                tokio::time::sleep(at.saturating_sub(turmoil::sim_elapsed().unwrap_or_default())).await;
                audit(&nodes, CONTROL, &clients.telemetry).await;
            }
            Ok(())
        });
    }
}

/// Sets the one-way latency of every pair of hosts that talk; turmoil draws each message's delay
/// between the latency and the latency plus the jitter.
fn set_latencies(sim: &Sim<'_>, s: &Scenario) {
    let n = &s.network;
    let link = |a: &str, b: &str, latency: Duration, jitter: Duration| {
        sim.set_link_latency(a, b, latency);
        sim.set_link_max_message_latency(a, b, latency + jitter);
    };
    link(PRIMARY, STANDBY, n.in_region.0, Duration::ZERO);
    link(CONTROL, PRIMARY, n.in_region.0, Duration::ZERO);
    link(CONTROL, STANDBY, n.in_region.0, Duration::ZERO);
    let primary_clients = &s.regions.iter().find(|r| r.name == s.primary_region).expect("validated").clients;
    for r in &s.regions {
        for core in [PRIMARY, STANDBY, CONTROL] {
            link(core, &r.distributor, r.to_primary, n.wan_jitter.0);
            link(core, &r.clients, r.to_primary, n.wan_jitter.0);
        }
        for p in &r.pops {
            link(&r.clients, p, n.last_mile.0, n.last_mile_jitter.0);
            link(&r.distributor, p, n.in_region.0, Duration::ZERO);
            for core in [PRIMARY, STANDBY, CONTROL] {
                link(core, p, r.to_primary, n.wan_jitter.0);
            }
            if &r.clients != primary_clients {
                link(primary_clients, p, r.to_primary, n.wan_jitter.0);
            }
        }
    }
}
