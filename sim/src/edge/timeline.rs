//! The narrated failure timeline (issue: "T+0.000s primary lost ... T+30.0s failover ... first
//! write acknowledged by the new primary") and the failover figures, both built from the event log:
//! every line is an event that happened, in the order it happened, never a template.

use std::collections::BTreeSet;
use std::fmt::Write;

use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use crate::edge::check::request::Request;
use crate::events::{Event, HarnessEvent, Op, Outcome, Record};
use crate::scenario::PRIMARY;

/// What losing the primary cost, in seconds from the loss.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Failover {
    pub loss_at_s: f64,
    pub first_miss_s: Option<f64>,
    pub confirmed_s: Option<f64>,
    pub promoted_s: Option<f64>,
    /// When the last PoP learned the new route.
    pub routing_s: Option<f64>,
    /// First write acknowledged by a newer generation (the design's failover time).
    pub failover_s: Option<f64>,
    /// From the loss to the first acknowledged write of any generation (`None`: never).
    pub writes_resumed_s: Option<f64>,
    /// Reads answered / reads started between the loss and the resumption of writes.
    pub read_availability: f64,
    pub reads_during: usize,
    pub promotion_impossible: Option<String>,
}

/// Promotions in the log: (time, generation).
pub fn promotions(events: &[Event]) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Node(NodeEvent::Promoted { generation, .. }) => Some((e.t_us, *generation)),
            _ => None,
        })
        .collect()
}

/// The moment the initial primary was lost: the last fault naming it at or before the control
/// plane's first missed health check (or, without a miss, the first fault naming it).
fn loss(events: &[Event]) -> Option<(u64, String)> {
    let first_miss = events.iter().find_map(|e| match &e.record {
        Record::Node(NodeEvent::HealthMissed { .. }) => Some(e.t_us),
        _ => None,
    });
    let naming = events.iter().filter_map(|e| match &e.record {
        Record::Harness(HarnessEvent::Fault { fault, hosts, .. }) if hosts.iter().any(|h| h == PRIMARY) => {
            Some((e.t_us, fault.clone()))
        }
        _ => None,
    });
    match first_miss {
        Some(miss) => naming.take_while(|(t, _)| *t <= miss).last(),
        None => naming.take(1).last(),
    }
}

fn secs(us: u64, from: u64) -> f64 {
    us.saturating_sub(from) as f64 / 1e6
}

/// Reads from each fault that names the primary (a possible moment of its loss) until the first
/// write acknowledged after it, folded as requests end: what `failover` needs of the reads.
#[derive(Default)]
pub struct ReadsAfterLoss {
    windows: Vec<ReadWindow>,
    /// When the last acknowledged write ended.
    last_ack_us: Option<u64>,
}

struct ReadWindow {
    from_us: u64,
    /// The end of the first write acknowledged at or after `from_us`, once one was.
    until_us: Option<u64>,
    reads: usize,
    answered: usize,
    /// Reads counted that started at the latest start time counted: those a write acknowledged at
    /// that very time takes back out of the window.
    latest: (u64, usize, usize),
}

impl ReadsAfterLoss {
    /// A fault named the primary at `t_us`.
    pub fn fault(&mut self, t_us: u64) {
        if self.windows.iter().all(|w| w.from_us != t_us) {
            let until_us = self.last_ack_us.filter(|&t| t >= t_us);
            self.windows.push(ReadWindow { from_us: t_us, until_us, reads: 0, answered: 0, latest: (t_us, 0, 0) });
        }
    }

    /// A request ended; requests end in time order.
    pub fn request(&mut self, r: &Request) {
        if matches!(r.outcome, Outcome::Write { .. }) {
            self.last_ack_us = Some(r.end_us);
            for w in self.windows.iter_mut().filter(|w| w.until_us.is_none() && r.end_us >= w.from_us) {
                w.until_us = Some(r.end_us);
                if w.latest.0 >= r.end_us {
                    w.reads -= w.latest.1;
                    w.answered -= w.latest.2;
                }
            }
        }
        if r.op != Op::Read {
            return;
        }
        let answered = usize::from(matches!(r.outcome, Outcome::Read { .. }));
        for w in self.windows.iter_mut().filter(|w| r.start_us >= w.from_us) {
            if w.until_us.is_some_and(|until| r.start_us >= until) {
                continue;
            }
            w.reads += 1;
            w.answered += answered;
            if r.start_us > w.latest.0 {
                w.latest = (r.start_us, 0, 0);
            }
            if r.start_us == w.latest.0 {
                w.latest.1 += 1;
                w.latest.2 += answered;
            }
        }
    }

    /// Reads started from `from_us` until writes resumed, and those answered.
    fn from(&self, from_us: u64) -> (usize, usize) {
        self.windows.iter().find(|w| w.from_us == from_us).map_or((0, 0), |w| (w.reads, w.answered))
    }
}

/// `requests`: the acknowledged writes (and any other kept requests) in start order.
pub fn failover(events: &[Event], requests: &[Request], reads: &ReadsAfterLoss, pops: usize) -> Option<Failover> {
    let (t0, _) = loss(events)?;
    let after = |e: &&Event| e.t_us >= t0;
    let first = |f: &dyn Fn(&NodeEvent) -> bool| {
        events.iter().filter(after).find(|e| matches!(&e.record, Record::Node(n) if f(n))).map(|e| secs(e.t_us, t0))
    };
    let promoted = events.iter().filter(after).find_map(|e| match &e.record {
        Record::Node(NodeEvent::Promoted { generation, .. }) => Some((e.t_us, *generation)),
        _ => None,
    });
    let routing_s = promoted.and_then(|(_, generation)| {
        let mut told = BTreeSet::new();
        events.iter().filter(after).find_map(|e| match &e.record {
            Record::Node(NodeEvent::RouteChanged { generation: g, .. })
                if *g == generation && e.node.starts_with("pop-") =>
            {
                told.insert(e.node.clone());
                (told.len() == pops).then(|| secs(e.t_us, t0))
            }
            _ => None,
        })
    });
    let acked_after = |min_generation: u64| {
        requests
            .iter()
            .filter(|r| r.end_us >= t0)
            .filter(|r| matches!(r.outcome, Outcome::Write { generation, .. } if generation >= min_generation))
            .map(|r| r.end_us)
            .min()
    };
    let resumed = acked_after(0);
    let (reads, answered) = reads.from(t0);
    Some(Failover {
        loss_at_s: t0 as f64 / 1e6,
        first_miss_s: first(&|n| matches!(n, NodeEvent::HealthMissed { .. })),
        confirmed_s: first(&|n| matches!(n, NodeEvent::FailureConfirmed { .. })),
        promoted_s: promoted.map(|(t, _)| secs(t, t0)),
        routing_s,
        failover_s: promoted.and_then(|(_, g)| acked_after(g)).map(|t| secs(t, t0)),
        writes_resumed_s: resumed.map(|t| secs(t, t0)),
        read_availability: if reads == 0 { 1.0 } else { answered as f64 / reads as f64 },
        reads_during: reads,
        promotion_impossible: events.iter().find_map(|e| match &e.record {
            Record::Node(NodeEvent::PromotionImpossible { reason }) => Some(reason.clone()),
            _ => None,
        }),
    })
}

/// The narrated lines, times from the loss of the primary (or from the start if it was not lost).
/// `events` need only be the kept ones (`Observed::kept`), `requests` the acknowledged writes in
/// start order (other requests are skipped): the line of a new generation's first write goes
/// before the first event no earlier than its acknowledgement and every earlier-started write's.
pub fn narrate(events: &[Event], requests: &[Request], pops: usize) -> Vec<String> {
    let t0 = loss(events).map_or(0, |(t, _)| t);
    let at = |t: u64| {
        if t >= t0 { format!("T+{:.3}s", secs(t, t0)) } else { format!("T-{:.3}s", (t0 - t) as f64 / 1e6) }
    };
    let mut lines = Vec::new();
    let mut generation = 1;
    let mut fenced: Option<u64> = None;
    let mut told = BTreeSet::new();
    let mut routing_told = false;
    let mut said = BTreeSet::new();
    let mut first_ack_of: Option<u64> = None;
    let mut first_ack = |r: &Request| match r.outcome {
        Outcome::Write { generation: g, .. } if g > 1 && first_ack_of != Some(g) => {
            first_ack_of = Some(g);
            Some(format!("{} first write acknowledged by the new primary (generation {g})", at(r.end_us)))
        }
        _ => None,
    };
    let mut acks = requests.iter().filter(|r| matches!(r.outcome, Outcome::Write { .. })).peekable();
    for e in events {
        while let Some(r) = acks.next_if(|r| r.end_us <= e.t_us) {
            lines.extend(first_ack(r));
        }
        let line = match &e.record {
            Record::Harness(HarnessEvent::Fault { fault, hosts, .. })
                if hosts.iter().any(|h| h == PRIMARY) && e.t_us == t0 =>
            {
                Some(format!("primary lost (fault: {fault})"))
            }
            Record::Harness(HarnessEvent::Fault { fault, .. }) => Some(format!("fault: {fault}")),
            Record::Node(NodeEvent::HealthMissed { primary, misses, of, .. }) => {
                Some(format!("health check of {primary} missed ({misses}/{of})"))
            }
            Record::Node(NodeEvent::HealthRecovered { primary }) => {
                Some(format!("{primary} answers health checks again"))
            }
            Record::Node(NodeEvent::FailureConfirmed { primary }) => Some(format!("failure of {primary} confirmed")),
            Record::Node(NodeEvent::StandbyLost { peer, reason, policy }) => {
                Some(format!("{} lost its synchronous standby {peer} ({reason}); policy {policy:?}", e.node))
            }
            Record::Node(NodeEvent::StandbyRestored { peer }) => {
                Some(format!("{} has its synchronous standby {peer} again", e.node))
            }
            Record::Node(NodeEvent::Fenced { generation: g, acknowledged, .. }) => {
                fenced = Some(*g);
                (!acknowledged)
                    .then(|| format!("generation {g} fenced (the old primary did not hear it; its lease fences it)"))
            }
            Record::Node(NodeEvent::Promoted { host, generation: g }) => {
                generation = *g;
                let old = fenced.map_or(String::new(), |f| format!("generation {f} fenced, "));
                Some(format!("failover: {old}{host} promoted as generation {g}"))
            }
            Record::Node(NodeEvent::PromotionImpossible { reason }) => {
                Some(format!("failover impossible: {reason}; writes stay unavailable"))
            }
            Record::Node(NodeEvent::RouteChanged { generation: g, .. })
                if *g == generation && e.node.starts_with("pop-") =>
            {
                told.insert(e.node.clone());
                (told.len() == pops && !routing_told).then(|| {
                    routing_told = true;
                    format!("routing updated at {pops}/{pops} PoPs")
                })
            }
            Record::Node(NodeEvent::RoleChanged { role, generation: g, reason })
                if e.node.as_ref() == PRIMARY && t0 > 0 && e.t_us > t0 =>
            {
                Some(format!("{} becomes {role:?} (generation {g}): {reason}", e.node))
            }
            _ => None,
        };
        // A failover retried while nothing can be promoted is told once.
        let retold = line.as_ref().is_some_and(|l| {
            let retried =
                matches!(e.record, Record::Node(NodeEvent::PromotionImpossible { .. } | NodeEvent::Fenced { .. }));
            retried && !said.insert(l.clone())
        });
        if let Some(line) = line.filter(|_| !retold) {
            lines.push(format!("{} {line}", at(e.t_us)));
        }
    }
    lines.extend(acks.filter_map(first_ack));
    lines
}

/// The impact block printed under the timeline.
pub fn impact(f: &Failover, lost: Option<&[(u64, u64)]>) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "impact: reads answered {:.2}% of {} while writes were unavailable",
        f.read_availability * 100.0,
        f.reads_during
    );
    let _ = match f.writes_resumed_s {
        Some(s) => writeln!(o, "        writes unavailable for {s:.1}s"),
        None => writeln!(o, "        writes never resumed"),
    };
    if let Some(s) = f.failover_s {
        let _ = writeln!(o, "        failover time (first write on the new primary) {s:.1}s");
    }
    let _ = match lost {
        Some([]) => writeln!(o, "        acknowledged writes lost: 0"),
        Some(lost) => {
            let list: Vec<String> = lost.iter().map(|(s, q)| format!("s{s}#{q}")).collect();
            writeln!(o, "        acknowledged writes lost: {} ({})", lost.len(), list.join(", "))
        }
        None => writeln!(o, "        acknowledged writes lost: cannot judge (the primary was not audited)"),
    };
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};

    fn ended(mut r: Request, end_us: u64) -> Request {
        r.end_us = end_us;
        r
    }

    #[test]
    fn reads_count_from_a_loss_until_the_first_write_acknowledged_after_it() {
        let mut reads = ReadsAfterLoss::default();
        reads.request(&ended(read(1, 1, "k", &[], None, 50), 60));
        reads.fault(100);
        reads.request(&ended(read(2, 1, "k", &[], None, 110), 120));
        let mut failed = ended(read(3, 2, "k", &[], None, 130), 200);
        failed.outcome = Outcome::Timeout;
        reads.request(&failed);
        reads.request(&ended(read(4, 3, "k", &[], None, 300), 300));
        // A write acknowledged at 300 closes the window: the read that started then is out of it.
        reads.request(&ended(write(5, 4, 1, 250, true), 300));
        reads.request(&ended(read(6, 5, "k", &[], None, 290), 310));
        reads.request(&ended(read(7, 1, "k", &[], None, 305), 315));
        assert_eq!(reads.from(100), (3, 2), "reads 2, 3 (unanswered) and 6");
        assert_eq!(reads.from(50), (0, 0), "no fault then");
    }
}
