//! Where anycast sent the requests (`[anycast]`), for the report's chart: the PoP each session's
//! requests go to (`session_placed`, then each `session_moved`), each `request_started` counted at
//! that PoP per second as events stream past, and the route changes (`route_changed`) as the
//! moments the shares moved. Requests only, as in `moves`: page views are not counted.

use std::collections::BTreeMap;

use crate::edge::charts::{AnycastChart, Moment};
use crate::events::{Event, HarnessEvent, Record, RouteChange};
use crate::scenario::roles::EdgeRole;

/// Requests per PoP per second, folded.
#[derive(Default)]
pub struct Routes {
    /// The PoP each session's requests go to now.
    at: BTreeMap<u64, String>,
    /// Per PoP, the requests that started in each second of the run.
    per_second: BTreeMap<String, Vec<u64>>,
}

impl Routes {
    pub fn event(&mut self, e: &Event) {
        let Record::Harness(h) = &e.record else { return };
        match h {
            HarnessEvent::SessionPlaced { session, pop, .. } | HarnessEvent::SessionMoved { session, to: pop, .. } => {
                self.at.insert(*session, pop.clone());
            }
            HarnessEvent::RequestStarted { session, .. } => {
                let Some(pop) = self.at.get(session) else { return };
                let second = (e.t_us / 1_000_000) as usize;
                let counts = self.per_second.entry(pop.clone()).or_default();
                if counts.len() <= second {
                    counts.resize(second + 1, 0);
                }
                counts[second] += 1;
            }
            _ => {}
        }
    }

    /// The chart: requests per PoP per bucket of `bucket_ms` (whole seconds), and each route
    /// change among the kept `events`; `None` without anycast (no session was placed).
    pub(crate) fn chart(&self, events: &[Event], bucket_ms: u64) -> Option<AnycastChart> {
        if self.at.is_empty() {
            return None;
        }
        let per_bucket = (bucket_ms / 1000).max(1) as usize;
        let requests = self
            .per_second
            .iter()
            .map(|(pop, seconds)| (pop.clone(), seconds.chunks(per_bucket).map(|c| c.iter().sum()).collect()))
            .collect();
        let routes = events
            .iter()
            .filter_map(|e| match &e.record {
                Record::Harness(HarnessEvent::RouteChanged { pop, change }) => {
                    let region = match EdgeRole::of(&e.node) {
                        Some(EdgeRole::Clients { region }) => region,
                        _ => &e.node,
                    };
                    let what = match change {
                        RouteChange::Lost => "lost",
                        RouteChange::Withdrawn => "withdrawn",
                        RouteChange::Back => "back",
                        RouteChange::Announced => "announced",
                    };
                    Some(Moment { at_ms: e.t_us / 1000, label: format!("{pop} {what} ({region}'s places)") })
                }
                _ => None,
            })
            .collect();
        Some(AnycastChart { requests, routes })
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use edgesim_system::edge::frame::Point;

    use super::*;

    fn at(t_us: u64, h: HarnessEvent) -> Event {
        Event { t_us, node: Rc::from("clients-us"), record: Record::Harness(h) }
    }

    fn started(t_us: u64, session: u64) -> Event {
        let (op, key, seq, min) = (crate::events::RequestOp::Read, "k".to_string(), 0, Point::default());
        at(t_us, HarnessEvent::RequestStarted { req: t_us, session, op, key, seq, min })
    }

    /// Goal: a session's requests count at the PoP it was placed at until it moves, then at the
    /// PoP it moved to, per bucket; a route change is a moment; without a placed session, no chart.
    #[test]
    fn requests_count_where_the_session_was_routed_when_they_started() {
        let mut routes = Routes::default();
        assert_eq!(routes.chart(&[], 2000), None);
        let placed = HarnessEvent::SessionPlaced { session: 1, place: "pop-us-1".into(), pop: "pop-us-1".into() };
        let moved = HarnessEvent::SessionMoved {
            session: 1,
            from: "pop-us-1".into(),
            to: "pop-us-2".into(),
            position: Point::default(),
            carried: true,
        };
        let withdrawn =
            at(2_500_000, HarnessEvent::RouteChanged { pop: "pop-us-1".into(), change: RouteChange::Withdrawn });
        for e in [at(0, placed), started(100_000, 1), started(1_900_000, 1), withdrawn.clone(), at(2_500_000, moved)] {
            routes.event(&e);
        }
        routes.event(&started(3_000_000, 1));
        routes.event(&started(3_000_000, 9));
        let chart = routes.chart(&[withdrawn], 2000).unwrap();
        assert_eq!(chart.requests["pop-us-1"], [2]);
        assert_eq!(chart.requests["pop-us-2"], [0, 1]);
        assert_eq!(chart.routes, [Moment { at_ms: 2500, label: "pop-us-1 withdrawn (us's places)".into() }]);
    }
}
