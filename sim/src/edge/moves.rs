//! Sessions moved by anycast (`[anycast]`), judged from the log: each loss of a PoP to a region's
//! places (`route_changed`: from `lost` until `withdrawn`, or `back` if it returned first), the PoP
//! each session's requests went to (`session_placed`, then each `session_moved`), the requests that
//! failed (an error, a shed, a timeout, or no answer by the end) while the PoP they went to was lost
//! and not yet withdrawn, those that failed outside any such window, and the time from a loss to
//! each session's move away from the lost PoP.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::edge::check::request::RequestRecord;
use crate::events::{Event, HarnessEvent, Record, RequestOutcome, RouteChange};
use crate::scenario::Anycast;
use crate::scenario::roles::EdgeRole;

/// What anycast did in a run.
#[derive(Clone, Debug, Serialize)]
pub struct MoveFigures {
    pub detection_s: f64,
    pub carry_position: bool,
    /// Each loss of a PoP to a region's places, in the order they happened.
    pub losses: Vec<Loss>,
    pub sessions_moved: usize,
    pub moves: usize,
    /// Requests that failed while the PoP they went to was lost and its route not yet withdrawn
    /// (in flight at any time of that window).
    pub failed_while_detecting: usize,
    /// Requests that failed outside every such window.
    pub failed_outside_detection: usize,
    /// From a PoP's loss to each move of one of its sessions away from it; `None` without one.
    pub time_to_move_p50_s: Option<f64>,
    pub time_to_move_max_s: Option<f64>,
}

/// A PoP lost to a region's places.
#[derive(Clone, Debug, Serialize)]
pub struct Loss {
    pub region: String,
    pub pop: String,
    pub lost_s: f64,
    pub withdrawn_s: Option<f64>,
    pub back_s: Option<f64>,
    /// Sessions that moved away from it while it was lost.
    pub moved: usize,
    /// Requests to it that failed while it was lost and not yet withdrawn.
    pub failed: usize,
}

/// A loss as folded: its figures and the client host whose places it concerns, in microseconds.
struct LossWindow {
    clients: String,
    lost_us: u64,
    withdrawn_us: Option<u64>,
    back_us: Option<u64>,
    loss: Loss,
}

impl LossWindow {
    /// When failures stopped counting as the loss's: its withdrawal, its return, or the end.
    fn detected_us(&self, end_us: u64) -> u64 {
        self.withdrawn_us.or(self.back_us).unwrap_or(end_us)
    }
}

/// The anycast figures of a run from its kept `events` and its `failed` and `unanswered`
/// requests; `end_us` is when the run ended.
pub fn figures(
    settings: &Anycast,
    events: &[Event],
    failed: &[RequestRecord],
    unanswered: &[RequestRecord],
    end_us: u64,
) -> MoveFigures {
    let mut folded = AnycastFold::default();
    for e in events {
        folded.event(e);
    }
    let failures =
        failed.iter().filter(|r| !matches!(r.outcome, RequestOutcome::Write { .. })).chain(unanswered.iter());
    let outside = folded.count_failures(failures, end_us);
    let AnycastFold { windows, mut times, moved, moves, .. } = folded;
    times.sort_unstable();
    let losses: Vec<Loss> = windows
        .into_iter()
        .map(|w| Loss { withdrawn_s: w.withdrawn_us.map(secs), back_s: w.back_us.map(secs), ..w.loss })
        .collect();
    MoveFigures {
        detection_s: settings.detection.0.as_secs_f64(),
        carry_position: settings.carry_position,
        failed_while_detecting: losses.iter().map(|l| l.failed).sum(),
        losses,
        sessions_moved: moved.len(),
        moves,
        failed_outside_detection: outside,
        time_to_move_p50_s: times.get(times.len().saturating_sub(1) / 2).copied().map(secs),
        time_to_move_max_s: times.last().copied().map(secs),
    }
}

/// The losses, where each session's requests went, and the moves, folded from the kept events.
#[derive(Default)]
struct AnycastFold {
    windows: Vec<LossWindow>,
    /// Each session's PoP from each time on.
    pops: BTreeMap<u64, Vec<(u64, String)>>,
    /// From a loss to each move of one of its sessions away from its PoP.
    times: Vec<u64>,
    moved: BTreeSet<u64>,
    moves: usize,
}

impl AnycastFold {
    fn event(&mut self, e: &Event) {
        let Record::Harness(h) = &e.record else { return };
        let clients = e.node.to_string();
        match h {
            HarnessEvent::RouteChanged { pop, change } => {
                let open = self.windows.iter_mut().rev().find(|w| w.clients == clients && w.loss.pop == *pop);
                match (change, open) {
                    (RouteChange::Lost, _) => self.windows.push(LossWindow {
                        loss: Loss {
                            region: region_of(&clients),
                            pop: pop.clone(),
                            lost_s: secs(e.t_us),
                            withdrawn_s: None,
                            back_s: None,
                            moved: 0,
                            failed: 0,
                        },
                        clients,
                        lost_us: e.t_us,
                        withdrawn_us: None,
                        back_us: None,
                    }),
                    (RouteChange::Withdrawn, Some(w)) => w.withdrawn_us = Some(e.t_us),
                    (RouteChange::Back, Some(w)) => w.back_us = Some(e.t_us),
                    _ => {}
                }
            }
            HarnessEvent::SessionPlaced { session, pop, .. } => {
                self.pops.entry(*session).or_default().push((e.t_us, pop.clone()))
            }
            HarnessEvent::SessionMoved { session, from, to, .. } => {
                self.pops.entry(*session).or_default().push((e.t_us, to.clone()));
                self.moved.insert(*session);
                self.moves += 1;
                let away = self.windows.iter_mut().rev().find(|w| {
                    w.clients == clients
                        && w.loss.pop == *from
                        && w.withdrawn_us.is_some_and(|at| at <= e.t_us)
                        && w.back_us.is_none_or(|at| at > e.t_us)
                });
                if let Some(w) = away {
                    w.loss.moved += 1;
                    self.times.push(e.t_us - w.lost_us);
                }
            }
            _ => {}
        }
    }

    /// The PoP a session's request went to when it started.
    fn pop_at(&self, r: &RequestRecord) -> Option<String> {
        let route = self.pops.get(&r.session)?;
        let i = route.partition_point(|(at, _)| *at <= r.start_us);
        Some(route[i.checked_sub(1)?].1.clone())
    }

    /// Counts each failed request against the loss of the PoP it went to, if it was in flight
    /// while that PoP was lost and not yet withdrawn; returns how many fell outside every loss.
    fn count_failures<'a>(&mut self, failures: impl Iterator<Item = &'a RequestRecord>, end_us: u64) -> usize {
        let mut outside = 0;
        for r in failures {
            let pop = self.pop_at(r);
            let window = self.windows.iter_mut().find(|w| {
                Some(&w.loss.pop) == pop.as_ref()
                    && w.clients == r.client
                    && r.start_us <= w.detected_us(end_us)
                    && r.end_us >= w.lost_us
            });
            match window {
                Some(w) => w.loss.failed += 1,
                None => outside += 1,
            }
        }
        outside
    }
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

fn region_of(clients: &str) -> String {
    match EdgeRole::of(clients) {
        Some(EdgeRole::Clients { region }) => region.to_string(),
        _ => clients.to_string(),
    }
}

/// The figures as `edgesim run` prints them.
impl fmt::Display for MoveFigures {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let carried = if self.carry_position { "carried" } else { "DROPPED (negative control)" };
        writeln!(
            f,
            "\nanycast (a lost PoP's route withdrawn {:.1}s after its loss; positions {carried} on moves)",
            self.detection_s
        )?;
        for l in &self.losses {
            let at = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.3}s"));
            writeln!(
                f,
                "  {} lost to {} at {:.3}s, withdrawn at {}, back at {}: {} sessions moved away, {} requests failed",
                l.pop,
                l.region,
                l.lost_s,
                at(l.withdrawn_s),
                at(l.back_s),
                l.moved,
                l.failed
            )?;
        }
        writeln!(
            f,
            "  sessions moved {} ({} moves); requests failed while detecting {}, outside detection {}",
            self.sessions_moved, self.moves, self.failed_while_detecting, self.failed_outside_detection
        )?;
        if let (Some(p50), Some(max)) = (self.time_to_move_p50_s, self.time_to_move_max_s) {
            writeln!(f, "  time to move (loss to a session's move away) p50 {p50:.3}s, max {max:.3}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};
    use crate::units::Dur;
    use edgesim_system::edge::frame::Point;
    use std::time::Duration;

    fn event(t_us: u64, node: &str, h: HarnessEvent) -> Event {
        Event { t_us, node: node.into(), record: Record::Harness(h) }
    }

    fn route(t_us: u64, pop: &str, change: RouteChange) -> Event {
        event(t_us, "clients-a", HarnessEvent::RouteChanged { pop: pop.into(), change })
    }

    fn failed(req: u64, session: u64, start_us: u64, end_us: u64) -> RequestRecord {
        let mut r = write(req, session, req, start_us, false);
        r.end_us = end_us;
        r
    }

    /// Failures at the lost PoP during its window count as detecting, others as outside; a move
    /// away after the withdrawal is timed from the loss.
    #[test]
    fn failures_are_judged_by_the_pop_they_went_to_and_its_window() {
        let settings = Anycast { detection: Dur(Duration::from_secs(2)), ..Anycast::default() };
        let placed = |s: u64, pop: &str| {
            event(0, "clients-a", HarnessEvent::SessionPlaced { session: s, place: pop.into(), pop: pop.into() })
        };
        let events = vec![
            placed(1, "pop-a-1"),
            placed(2, "pop-a-2"),
            route(100, "pop-a-1", RouteChange::Lost),
            route(300, "pop-a-1", RouteChange::Withdrawn),
            event(
                350,
                "clients-a",
                HarnessEvent::SessionMoved {
                    session: 1,
                    from: "pop-a-1".into(),
                    to: "pop-a-2".into(),
                    position: Point::default(),
                    carried: true,
                },
            ),
        ];
        let failures = [
            failed(1, 1, 50, 150),  // in flight at the loss
            failed(2, 1, 290, 400), // started before the withdrawal
            failed(3, 2, 200, 210), // another PoP
            failed(4, 1, 360, 370), // after the move
            write(5, 1, 5, 200, true),
        ];
        let unanswered = [read(6, 1, "k", &[], None, 250)];
        let f = figures(&settings, &events, &failures, &unanswered, 1000);
        assert_eq!((f.failed_while_detecting, f.failed_outside_detection), (3, 2));
        assert_eq!((f.sessions_moved, f.moves, f.losses[0].moved), (1, 1, 1));
        assert_eq!(f.time_to_move_max_s, Some(250e-6));
        assert_eq!(f.losses[0].withdrawn_s, Some(300e-6));
    }
}
