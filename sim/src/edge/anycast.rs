//! The network's model of anycast routing (docs/DESIGN.md, Anycast), under `[anycast]`: users
//! belong to places, a place being the site of a PoP, and every PoP announces the same address, so
//! a request from a place goes to the nearest PoP whose route the network announces. One way, a
//! place is `last_mile` plus `spacing` per site between them from a PoP of its own region, and
//! `last_mile` plus both regions' `to_primary` from a PoP of another region. A PoP is lost to a
//! region's places while its host is down (a crash or silent crash) or a partition cuts it from
//! the region's client host; the network withdraws its route once the loss has lasted `detection`
//! (health checks, then BGP withdrawal) and announces it again once its return has lasted as long.
//! The PoP claims nothing: routes follow the run's fault schedule, the same for every client host.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::events::RouteChange;
use crate::scenario::{Action, Anycast, Fault, Region, Scenario};

/// A change of a PoP's route from a region's places.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub at: Duration,
    pub pop: String,
    pub change: RouteChange,
}

/// The routes of a run: per region, every change of every PoP's route from its places.
pub struct Routing {
    pub settings: Anycast,
    regions: Vec<Region>,
    last_mile: Duration,
    /// Per region (as `regions`), its route changes in time order.
    changes: Vec<Vec<Change>>,
}

impl Routing {
    /// The routes of `scenario` as resolved for a seed (its fault schedule fixed).
    pub fn new(scenario: &Scenario, settings: Anycast) -> Routing {
        let regions = scenario.regions.clone();
        let pops: Vec<&String> = regions.iter().flat_map(|r| &r.pops).collect();
        let changes = regions
            .iter()
            .map(|r| {
                let mut changes: Vec<Change> = pops
                    .iter()
                    .flat_map(|pop| route_changes(&reachability(&scenario.faults, &r.clients, pop), pop, settings))
                    .collect();
                changes.sort_by_key(|c| c.at);
                changes
            })
            .collect();
        Routing { settings, regions, last_mile: scenario.network.last_mile.0, changes }
    }

    /// The route changes the places of client host `clients`'s region see, in time order.
    pub fn changes(&self, clients: &str) -> &[Change] {
        self.regions.iter().position(|r| r.clients == clients).map_or(&[], |i| &self.changes[i])
    }

    /// The nearest PoP whose route is announced to `place` at `at`; `None` when every route is
    /// withdrawn. Of PoPs equally near, the first in the scenario's order.
    pub fn route(&self, place: &str, at: Duration) -> Option<&str> {
        let (region, _) = self.site(place);
        let mut withdrawn = BTreeSet::new();
        for c in self.changes[region].iter().take_while(|c| c.at <= at) {
            match c.change {
                RouteChange::Withdrawn => withdrawn.insert(c.pop.as_str()),
                RouteChange::Announced => withdrawn.remove(c.pop.as_str()),
                RouteChange::Lost | RouteChange::Back => false,
            };
        }
        self.regions
            .iter()
            .flat_map(|r| &r.pops)
            .filter(|p| !withdrawn.contains(p.as_str()))
            .min_by_key(|p| self.distance(place, p))
            .map(String::as_str)
    }

    /// The one-way distance from `place` to `pop`.
    pub(crate) fn distance(&self, place: &str, pop: &str) -> Duration {
        let ((from, a), (to, b)) = (self.site(place), self.site(pop));
        if from == to {
            self.last_mile + self.settings.spacing.0 * a.abs_diff(b) as u32
        } else {
            self.last_mile + self.regions[from].to_primary + self.regions[to].to_primary
        }
    }

    /// What a session at `place` adds, each way, to its client host's last-mile link to `pop`.
    pub(crate) fn beyond_last_mile(&self, place: &str, pop: &str) -> Duration {
        self.distance(place, pop) - self.last_mile
    }

    /// The region (index) and site (the PoP's index in it) of a PoP.
    fn site(&self, pop: &str) -> (usize, usize) {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, r)| Some((i, r.pops.iter().position(|p| p == pop)?)))
            .expect("places and routes name the scenario's own PoPs")
    }
}

/// When `pop` becomes unreachable from client host `clients` and reachable again, under
/// `faults` (in time order): (time, reachable), from reachable at the start.
fn reachability(faults: &[Fault], clients: &str, pop: &str) -> Vec<(Duration, bool)> {
    let (mut down, mut cut_to, mut cut_from) = (false, false, false);
    let mut reachable = true;
    let mut out = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        match &f.action {
            Action::Crash { host } | Action::SilentCrash { host } if host == pop => down = true,
            Action::Restart { host } if host == pop => down = false,
            Action::Partition { a, b, oneway } | Action::Repair { a, b, oneway } => {
                let cut = matches!(f.action, Action::Partition { .. });
                let across = |x: &str, y: &str| a.iter().any(|h| h == x) && b.iter().any(|h| h == y);
                if across(clients, pop) {
                    cut_to = cut;
                    cut_from = if *oneway { cut_from } else { cut };
                }
                if across(pop, clients) {
                    cut_from = cut;
                    cut_to = if *oneway { cut_to } else { cut };
                }
            }
            Action::Heal => (down, cut_to, cut_from) = (false, false, false),
            _ => {}
        }
        let last_at_this_time = faults.get(i + 1).is_none_or(|next| next.at != f.at);
        let now = !down && !cut_to && !cut_from;
        if last_at_this_time && now != reachable {
            reachable = now;
            out.push((f.at, now));
        }
    }
    out
}

/// The route changes of `pop` from its reachability: each loss and return as it happens, and the
/// withdrawal or announcement `detection` later if nothing changed meanwhile.
fn route_changes(reachability: &[(Duration, bool)], pop: &str, settings: Anycast) -> Vec<Change> {
    let detection = settings.detection.0;
    let change = |at, change| Change { at, pop: pop.to_string(), change };
    let mut announced = true;
    let mut out = Vec::new();
    for (i, &(at, reachable)) in reachability.iter().enumerate() {
        out.push(change(at, if reachable { RouteChange::Back } else { RouteChange::Lost }));
        let lasts = reachability.get(i + 1).is_none_or(|(next, _)| *next > at + detection);
        if lasts && reachable != announced {
            announced = reachable;
            out.push(change(at + detection, if reachable { RouteChange::Announced } else { RouteChange::Withdrawn }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Dur;

    const SCENARIO: &str = r#"
name = "t"
duration = "30s"
primary_region = "a"
[[region]]
name = "a"
pops = 3
to_primary = "10ms"
[[region]]
name = "b"
pops = 1
to_primary = "40ms"
[anycast]
detection = "2s"
spacing = "5ms"
"#;

    fn routing(faults: &str) -> Routing {
        let s = Scenario::parse("t.toml", &format!("{SCENARIO}{faults}")).unwrap();
        Routing::new(&s, s.anycast.unwrap())
    }

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Each place goes to its own PoP while all are up, and to the next nearest while its own
    /// route is withdrawn: from `detection` after the crash to `detection` after the restart.
    #[test]
    fn a_lost_pops_places_go_to_the_next_nearest_after_detection() {
        let r = routing(
            "[[fault]]\nat = \"5s\"\nkind = \"crash\"\nhost = \"pop-a-2\"\n\
             [[fault]]\nat = \"15s\"\nkind = \"restart\"\nhost = \"pop-a-2\"\n",
        );
        assert_eq!(r.route("pop-a-2", s(4)), Some("pop-a-2"));
        assert_eq!(r.route("pop-a-2", s(6)), Some("pop-a-2"), "not withdrawn before detection");
        assert_eq!(r.route("pop-a-2", s(7)), Some("pop-a-1"), "equally near: the first");
        assert_eq!(r.route("pop-a-3", s(7)), Some("pop-a-3"));
        assert_eq!(r.route("pop-a-2", s(16)), Some("pop-a-1"));
        assert_eq!(r.route("pop-a-2", s(17)), Some("pop-a-2"));
        assert_eq!(r.distance("pop-a-1", "pop-a-3"), Duration::from_millis(13));
        assert_eq!(r.distance("pop-b-1", "pop-a-3"), Duration::from_millis(53));
        let kinds: Vec<_> = r.changes("clients-b").iter().map(|c| (c.at, c.change)).collect();
        assert_eq!(
            kinds,
            vec![
                (s(5), RouteChange::Lost),
                (s(7), RouteChange::Withdrawn),
                (s(15), RouteChange::Back),
                (s(17), RouteChange::Announced)
            ]
        );
    }

    /// A loss shorter than `detection` withdraws nothing; a partition from one region's client
    /// host withdraws the route for that region only, and with every route withdrawn there is none.
    #[test]
    fn short_losses_and_other_regions_keep_their_routes() {
        let r = routing(
            "[[fault]]\nat = \"5s\"\nkind = \"crash\"\nhost = \"pop-b-1\"\n\
             [[fault]]\nat = \"6s\"\nkind = \"restart\"\nhost = \"pop-b-1\"\n\
             [[fault]]\nat = \"10s\"\nkind = \"partition\"\na = \"clients-b\"\nb = \"pop-b-1\"\n",
        );
        assert_eq!(r.route("pop-b-1", s(6)), Some("pop-b-1"));
        assert_eq!(r.route("pop-b-1", s(13)), Some("pop-a-1"));
        assert!(r.changes("clients-a").iter().all(|c| c.change != RouteChange::Withdrawn));
        let lonely = routing("[[fault]]\nat = \"5s\"\nkind = \"partition\"\na = \"clients-b\"\nb = \"everyone\"\n");
        assert_eq!(lonely.route("pop-b-1", s(8)), None);
        assert_eq!(lonely.settings.detection, Dur(s(2)));
    }
}
