//! Builds the status page's world on turmoil: a host per status region (with `backup_every`, a
//! restart rebuilds it from its off-site backup, its disk lost), per CDN, the DNS server,
//! the notifier and each channel's subscriber endpoints (all of which can crash), and one user
//! host per region (operators, viewers, live viewers); the first region's user host also runs
//! the probes, the CDNs' scheduled error spans, the monitor of the platform (if any; its hosts run
//! the platform's application) and the final audit. 3 regions, 3 CDNs and 4 channels make 15 hosts (docs/DESIGN.md, Simulation cost:
//! turmoil's cost grows with the cube of the host count).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::Net;
use edgesim_system::status::node::Node;
use edgesim_system::status::outbox::Outbox;
use edgesim_system::status::{cdn, dns, notifier, origin};

use super::check::heals_regions;
use super::probes::{self, CONVERGENCE_PROBE, CONVERGENCE_WINDOW};
use super::settings::{CHANNELS, DNS, NOTIFIER, QueueStore, StatusSettings};
use super::users::{self, Users};
use crate::events::HarnessEvent;
use crate::hosts::{NodeHost, telemetry};
use crate::knobs::Bug;
use crate::log::{EventLog, HostTelemetry, now};
use crate::net::Simulation;
use crate::scenario::{Action, Scenario};
use crate::seed::Seed;

/// The wall clock every node's skew is added to: 2027-01-15, in milliseconds.
const EPOCH_MS: u64 = 1_800_000_000_000;

/// Adds the status page's hosts, its users and their links to `sim`.
pub fn build<S: Simulation>(sim: &mut S, scenario: &Scenario, settings: &StatusSettings, seed: Seed, log: &EventLog) {
    let mut config = settings.config();
    if Bug::OriginWaits.restored() {
        config.origin_timeout = settings.view_timeout.0;
    }
    let config = Rc::new(config);
    let node = |host: &str, net: S::Net, skew: Duration| {
        let (config, node) = (config.clone(), NodeHost::new(host, seed, log, net));
        move || {
            let rng = node.boot();
            let skew_ms = skew.as_millis() as u64;
            Node {
                host: node.telemetry.node.clone(),
                net: node.net.clone(),
                telemetry: node.telemetry.clone(),
                config: config.clone(),
                rng: Rc::new(RefCell::new(rng)),
                clock: Rc::new(move || EPOCH_MS + skew_ms + now().as_millis() as u64),
            }
        }
    };
    for (i, region) in settings.regions.iter().enumerate() {
        let host = StatusSettings::region_host(region);
        let make = node(&host, sim.net(&host), settings.skew.get(region).map_or(Duration::ZERO, |d| d.0));
        let (disk, backup) = (origin::RegionDisk::default(), origin::RegionDisk::default());
        let durable = settings.durable_regions && !Bug::RegionsForget.restored();
        let restores = settings.backup_every.is_some();
        sim.host(&host, move || {
            let node = make();
            let disk = if durable { disk.clone() } else { origin::RegionDisk::default() };
            if restores {
                disk.replace(backup.borrow().clone());
            }
            let backup = backup.clone();
            async move { origin::run(node, i as u32, disk, backup).await.map_err(Into::into) }
        });
    }
    let mut errors = Vec::new();
    for c in &settings.cdns {
        let make = node(c, sim.net(c), Duration::ZERO);
        let rate = cdn::ErrorRate::default();
        errors.push((c.clone(), rate.clone()));
        sim.host(c, move || {
            let (node, rate) = (make(), rate.clone());
            async move { cdn::run(node, rate).await.map_err(Into::into) }
        });
    }
    let make = node(DNS, sim.net(DNS), Duration::ZERO);
    sim.host(DNS, move || {
        let node = make();
        async move { dns::run(node).await.map_err(Into::into) }
    });
    let make = node(NOTIFIER, sim.net(NOTIFIER), Duration::ZERO);
    let subscribers = settings.subscribers;
    let disk = (settings.queue == QueueStore::Sqlite)
        .then(|| Rc::new(RefCell::new(Outbox::new().expect("an empty in-memory database opens"))));
    sim.host(NOTIFIER, move || {
        let (node, disk) = (make(), disk.clone());
        async move { notifier::run(node, subscribers, disk).await.map_err(Into::into) }
    });
    let shared = Rc::new(settings.clone());
    for (_, host) in CHANNELS {
        let telemetry = telemetry(log, host);
        let settings = shared.clone();
        let net = sim.plain_net(host);
        sim.host(host, move || {
            probes::receiver(net.clone(), settings.clone(), seed, host.to_string(), telemetry.clone())
        });
    }
    for host in settings.platform_hosts() {
        let net = sim.plain_net(&host);
        sim.host(&host, move || super::platform::app(net.clone()));
    }
    add_users(sim, scenario, shared, seed, log, errors);
    set_latencies(sim, settings);
}

/// Each CDN's error rate, which the harness sets as `[[status.cdn_errors]]` schedules.
type ErrorRates = Vec<(String, cdn::ErrorRate)>;

fn add_users<S: Simulation>(
    sim: &mut S,
    scenario: &Scenario,
    settings: Rc<StatusSettings>,
    seed: Seed,
    log: &EventLog,
    errors: ErrorRates,
) {
    let next_id = Rc::new(RefCell::new(0));
    let ids = super::shown::Ids::default();
    let end = scenario.duration;
    for (i, region) in settings.regions.iter().enumerate() {
        let host = StatusSettings::viewer_host(region);
        let telemetry = telemetry(log, &host);
        let net = sim.plain_net(&host);
        let users = Rc::new(Users {
            settings: settings.clone(),
            region: i,
            end,
            seed,
            telemetry: telemetry.clone(),
            ids: ids.clone(),
            next_id: next_id.clone(),
            resolver: RefCell::new(None),
            geo: RefCell::new(None),
            net: net.clone(),
        });
        let mut instruments = (i == 0).then(|| instruments(&net, scenario, &settings, &ids, &telemetry, &errors));
        if let Some(instruments) = instruments.as_mut().filter(|_| settings.platform.is_some()) {
            instruments.push(Box::pin(super::platform::monitor(users.clone(), settings.platform_hosts())));
        }
        sim.client(&host, async move {
            let probes: Vec<_> = instruments.into_iter().flatten().map(tokio::task::spawn_local).collect();
            users::run(users).await?;
            for p in probes {
                p.await?;
            }
            Ok(())
        });
    }
}

type Instrument = std::pin::Pin<Box<dyn Future<Output = ()>>>;

/// The probes of the CDNs for the whole run, of the origins after each heal, the CDNs' error
/// spans, and the audit.
fn instruments<N: Net>(
    net: &N,
    scenario: &Scenario,
    s: &StatusSettings,
    ids: &super::shown::Ids,
    telemetry: &HostTelemetry,
    errors: &ErrorRates,
) -> Vec<Instrument> {
    let origins: Vec<(String, bool)> = s.regions.iter().map(|r| (StatusSettings::region_host(r), false)).collect();
    let cdns: Vec<(String, bool)> = s.cdns.iter().map(|c| (c.clone(), true)).collect();
    let end = scenario.duration + scenario.settle;
    let mut out: Vec<Instrument> = vec![Box::pin(probes::probe(
        net.clone(),
        cdns.clone(),
        s.probe_every.0,
        Duration::ZERO,
        end.saturating_sub(Duration::from_secs(5)),
        ids.clone(),
        telemetry.clone(),
    ))];
    for f in &scenario.faults {
        let hosts: Vec<String> = origins.iter().map(|(h, _)| h.clone()).collect();
        if heals_regions(&f.action, &hosts) {
            let window = match (&f.action, &scenario.liveness) {
                (Action::Heal, Some(l)) => CONVERGENCE_WINDOW.max(l.within),
                _ => CONVERGENCE_WINDOW,
            };
            let until = (f.at + window).min(end);
            let probe = probes::probe(
                net.clone(),
                origins.clone(),
                CONVERGENCE_PROBE,
                f.at,
                until,
                ids.clone(),
                telemetry.clone(),
            );
            out.push(Box::pin(probe));
        }
    }
    for span in &s.cdn_errors {
        let Some((_, rate)) = errors.iter().find(|(c, _)| *c == span.cdn) else { continue };
        let (span, rate, telemetry) = (span.clone(), rate.clone(), telemetry.clone());
        out.push(Box::pin(async move {
            let set = |to: f64| {
                rate.set(to);
                telemetry.harness(HarnessEvent::CdnErrors { cdn: span.cdn.clone(), rate: to });
            };
            tokio::time::sleep(span.from.0.saturating_sub(now())).await;
            set(span.rate);
            if let Some(until) = span.until {
                tokio::time::sleep(until.0.saturating_sub(now())).await;
                set(0.0);
            }
        }));
    }
    let audited: Vec<(String, bool)> = origins.into_iter().chain(cdns).collect();
    let (ids, telemetry, net) = (ids.clone(), telemetry.clone(), net.clone());
    out.push(Box::pin(async move {
        tokio::time::sleep(end.saturating_sub(Duration::from_secs(3)).saturating_sub(now())).await;
        probes::audit(net, audited, ids, telemetry).await;
    }));
    out
}

pub(crate) fn set_latencies<S: Simulation>(sim: &mut S, s: &StatusSettings) {
    let n = &s.network;
    let mut link = |a: &str, b: &str, latency: Duration| sim.link(a, b, latency, n.jitter.0);
    let regions: Vec<String> = s.regions.iter().map(|r| StatusSettings::region_host(r)).collect();
    for (i, r) in regions.iter().enumerate() {
        for other in &regions[i + 1..] {
            link(r, other, n.between_regions.0);
        }
        for c in &s.cdns {
            link(r, c, n.origin.0);
        }
        link(r, NOTIFIER, n.internal.0);
        link(r, DNS, n.internal.0);
    }
    for v in s.viewer_hosts() {
        for c in &s.cdns {
            link(&v, c, n.edge.0);
        }
        for r in &regions {
            link(&v, r, n.origin.0);
        }
        link(&v, DNS, n.internal.0);
    }
    for c in &s.cdns {
        link(DNS, c, n.internal.0);
    }
    if let Some(v) = s.viewer_hosts().first() {
        for p in s.platform_hosts() {
            link(v, &p, n.origin.0);
        }
    }
    for (_, h) in CHANNELS {
        link(NOTIFIER, h, n.internal.0);
    }
}
