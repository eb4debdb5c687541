//! The edge platform's hosts and links, on either backend: one host per node (primary, standby, control
//! plane, one distributor per region, one per PoP, and the upstream service when a streamed page
//! calls it, linked to every PoP) and one client host per region carrying that
//! region's sessions. turmoil's step cost grows with hosts x links (docs/DESIGN.md, Simulation
//! cost), so load generators share a host per region and the harness adds no host of its own; the
//! primary region's client host also runs the final audit.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::edge::node::Ctx;
use edgesim_system::edge::proto::Role;
use edgesim_system::edge::store::Store;
use edgesim_system::edge::{control, distributor, pop, primary, upstream};

use crate::edge::anycast::Routing;
use crate::edge::audit::audit;
use crate::edge::workload::{self, Clients};
use crate::hosts::{NodeHost, telemetry};
use crate::knobs::Bug;
use crate::log::{EventLog, HostTelemetry};
use crate::net::Simulation;
use crate::scenario::ssr::Ssr;
use crate::scenario::{CONTROL, PRIMARY, STANDBY, Scenario, UPSTREAM};
use crate::seed::Seed;

/// Adds the platform's nodes, its clients and their links to `sim`.
pub fn build<S: Simulation>(sim: &mut S, scenario: &Scenario, seed: Seed, log: &EventLog) {
    add_nodes(sim, scenario, seed, log);
    add_clients(sim, scenario, seed, log);
    set_latencies(sim, scenario);
}

/// Registers a node host. Its database outlives crashes (SQLite commits are durable); each boot
/// gets a fresh random stream derived from the seed, the host and the boot count.
fn add_node<S: Simulation, F, Fut>(sim: &mut S, scenario: &Scenario, seed: Seed, log: &EventLog, host: &str, start: F)
where
    F: Fn(Ctx<S::Net, HostTelemetry>) -> Fut + 'static,
    Fut: Future<Output = std::io::Result<()>> + 'static,
{
    let mut config = scenario.edge_config();
    config.failover.standby_ack_check &= !Bug::LossStalls.restored();
    let config = Rc::new(config);
    let node = NodeHost::new(host, seed, log, sim.net(host));
    sim.host(host, move || {
        let rng = node.boot();
        let ctx = Ctx::new(
            &node.telemetry.node,
            node.net.clone(),
            node.telemetry.clone(),
            config.clone(),
            rng,
            node.service(),
        );
        let run = start(ctx);
        async move { run.await.map_err(Into::into) }
    });
}

fn disk(retain: u64) -> Rc<RefCell<Store>> {
    Rc::new(RefCell::new(Store::new(retain).expect("an empty in-memory database opens")))
}

fn add_nodes<S: Simulation>(sim: &mut S, scenario: &Scenario, seed: Seed, log: &EventLog) {
    let retain = scenario.replication.retain_frames;
    let store = disk(retain);
    add_node(sim, scenario, seed, log, PRIMARY, move |ctx| primary::run(ctx, store.clone(), Role::Primary));
    let store = disk(retain);
    add_node(sim, scenario, seed, log, STANDBY, move |ctx| primary::run(ctx, store.clone(), Role::Standby));
    let told: Vec<String> = scenario.node_hosts().into_iter().filter(|h| h != CONTROL && h != UPSTREAM).collect();
    add_node(sim, scenario, seed, log, CONTROL, move |ctx| control::run(ctx, told.clone()));
    if scenario.ssr.as_ref().is_some_and(Ssr::calls_upstream) {
        add_node(sim, scenario, seed, log, UPSTREAM, upstream::run);
    }
    for region in &scenario.regions {
        add_node(sim, scenario, seed, log, &region.distributor, distributor::run);
        for p in &region.pops {
            let store = disk(0);
            let dist = region.distributor.clone();
            add_node(sim, scenario, seed, log, p, move |ctx| pop::run(ctx, store.clone(), dist.clone()));
        }
    }
}

fn add_clients<S: Simulation>(sim: &mut S, scenario: &Scenario, seed: Seed, log: &EventLog) {
    let next_req = Rc::new(Cell::new(0));
    let routing = scenario.anycast.map(|a| Rc::new(Routing::new(scenario, a)));
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
            net: sim.net(&region.clients),
            next_req: next_req.clone(),
            announces_steps: region.name == scenario.primary_region,
            pages: scenario.isr.is_some(),
            routing: routing.clone(),
            ssr: scenario.ssr.clone(),
        });
        let auditor =
            (region.name == scenario.primary_region).then(|| (audited.clone(), scenario.duration + scenario.settle));
        sim.client(&region.clients, async move {
            workload::run(clients.clone()).await?;
            if let Some((nodes, at)) = auditor {
                tokio::time::sleep(at.saturating_sub(crate::log::now())).await;
                audit(&clients.net, &nodes, CONTROL, &clients.telemetry).await;
            }
            Ok(())
        });
    }
}

/// Sets the one-way latency of every pair of hosts that talk.
pub(crate) fn set_latencies<S: Simulation>(sim: &mut S, s: &Scenario) {
    let n = &s.network;
    let mut link = |a: &str, b: &str, latency: Duration, jitter: Duration| sim.link(a, b, latency, jitter);
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
    if let Some(ssr) = s.ssr.as_ref().filter(|ssr| ssr.calls_upstream()) {
        for p in s.regions.iter().flat_map(|r| &r.pops) {
            link(UPSTREAM, p, ssr.upstream().latency.0, n.wan_jitter.0);
        }
    }
    // Under anycast every client host reaches every PoP over its last mile; a session adds its
    // place's distance beyond it (`anycast::Routing::beyond_last_mile`).
    if s.anycast.is_some() {
        for (r, other) in s.regions.iter().flat_map(|r| s.regions.iter().map(move |o| (r, o))) {
            for p in other.pops.iter().filter(|_| r.name != other.name) {
                link(&r.clients, p, n.last_mile.0, n.last_mile_jitter.0);
            }
        }
    }
}
