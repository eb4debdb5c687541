//! The narrated failure timeline (issue: "T+0.000s primary lost ... T+30.0s failover ... first
//! write acknowledged by the new primary") and the failover figures, both built from the event log:
//! every line is an event that happened, in the order it happened, never a template.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use crate::edge::availability::RegionWrites;
use crate::edge::check::request::RequestRecord;
use crate::events::{Event, HarnessEvent, Record, RequestOp, RequestOutcome};
use crate::scenario::roles::EdgeRole;
use crate::scenario::{Action, CONTROL, PRIMARY};
use crate::units::Dur;

/// What losing the primary cost, in seconds from the loss (the fault that took it away:
/// `PrimaryLoss`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FailoverFigures {
    pub loss_at_s: f64,
    pub first_miss_s: Option<f64>,
    pub confirmed_s: Option<f64>,
    pub promoted_s: Option<f64>,
    /// When the last PoP learned the new route.
    pub routing_s: Option<f64>,
    /// First write acknowledged by a newer generation (the design's failover time).
    pub failover_s: Option<f64>,
    /// From the loss to the first acknowledged write of any generation, in any region (`None`:
    /// never). Each region's write unavailability is `EdgeReport::writes`.
    pub writes_resumed_s: Option<f64>,
    /// Reads answered / reads started between the loss and the resumption of writes (a read
    /// unanswered at the end counts as not answered); `None` when no read started then.
    pub read_availability: Option<f64>,
    pub reads_during: usize,
    pub promotion_impossible: Option<String>,
}

/// Promotions in the log: (time, generation).
pub(crate) fn promotions(events: &[Event]) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Node(NodeEvent::Promoted { generation, .. }) => Some((e.t_us, *generation)),
            _ => None,
        })
        .collect()
}

/// Follows the faults of a run to find the one that takes the initial primary away: a crash or
/// silent crash of it, or the partition or hold after which it is cut off (in either direction)
/// from the control plane and from at least one PoP, so neither the control plane nor those PoPs'
/// clients reach it. A fault that only names the primary (a latency change, a partition from the
/// control plane alone, a restart) does not take it away.
#[derive(Default)]
pub(crate) struct PrimaryLoss {
    /// Cut links from or to the primary, as (from, to).
    cut: BTreeSet<(String, String)>,
    lost: bool,
}

impl PrimaryLoss {
    /// A fault was applied; `true` when it is the one that takes the primary away (once per run).
    pub fn fault(&mut self, action: &Action) -> bool {
        let mut links = |a: &[String], b: &[String], both: bool, cut: bool| {
            for x in a {
                for y in b.iter().filter(|y| *y != x && (x == PRIMARY || *y == PRIMARY)) {
                    let mut pairs = vec![(x.clone(), y.clone())];
                    if both {
                        pairs.push((y.clone(), x.clone()));
                    }
                    for pair in pairs {
                        if cut {
                            self.cut.insert(pair);
                        } else {
                            self.cut.remove(&pair);
                        }
                    }
                }
            }
        };
        let away = match action {
            Action::Crash { host } | Action::SilentCrash { host } => host == PRIMARY,
            Action::Partition { a, b, oneway } => {
                links(a, b, !oneway, true);
                self.cut_off()
            }
            Action::Hold { a, b } => {
                links(a, b, true, true);
                self.cut_off()
            }
            Action::Repair { a, b, oneway } => {
                links(a, b, !oneway, false);
                false
            }
            Action::Release { a, b } => {
                links(a, b, true, false);
                false
            }
            Action::Heal => {
                self.cut.clear();
                false
            }
            Action::Restart { .. } | Action::Latency { .. } | Action::Loss { .. } => false,
        };
        let first = away && !self.lost;
        self.lost |= away;
        first
    }

    /// Whether the primary is cut off from the control plane and from some PoP.
    fn cut_off(&self) -> bool {
        let from =
            |host: &str| self.cut.iter().any(|(x, y)| (x == PRIMARY && y == host) || (y == PRIMARY && x == host));
        let pop = self.cut.iter().any(|(x, y)| EdgeRole::is_pop(x) || EdgeRole::is_pop(y));
        from(CONTROL) && pop
    }
}

/// The fault that took the initial primary away (`PrimaryLoss`): its index in `events` and time.
fn loss(events: &[Event]) -> Option<(usize, u64)> {
    let mut loss = PrimaryLoss::default();
    events.iter().enumerate().find_map(|(i, e)| match &e.record {
        Record::Harness(HarnessEvent::Fault { action, .. }) => loss.fault(action).then_some((i, e.t_us)),
        _ => None,
    })
}

fn secs(us: u64, from: u64) -> f64 {
    us.saturating_sub(from) as f64 / 1e6
}

/// Reads from the loss of the primary (`PrimaryLoss`) until the first write acknowledged after
/// it, folded as requests end: what `failover` needs of the reads. A read still unanswered when
/// the run ended counts as not answered.
#[derive(Default)]
pub struct ReadsAfterLoss {
    window: Option<ReadWindow>,
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
    /// The primary was taken away at `t_us`.
    pub fn lost(&mut self, t_us: u64) {
        let until_us = self.last_ack_us.filter(|&t| t >= t_us);
        self.window = Some(ReadWindow { from_us: t_us, until_us, reads: 0, answered: 0, latest: (t_us, 0, 0) });
    }

    /// A request ended (or was still unanswered at the end); requests end in time order.
    pub fn request(&mut self, r: &RequestRecord) {
        if matches!(r.outcome, RequestOutcome::Write { .. }) {
            self.last_ack_us = Some(r.end_us);
            if let Some(w) = self.window.as_mut().filter(|w| w.until_us.is_none() && r.end_us >= w.from_us) {
                w.until_us = Some(r.end_us);
                if w.latest.0 >= r.end_us {
                    w.reads -= w.latest.1;
                    w.answered -= w.latest.2;
                }
            }
        }
        if r.op != RequestOp::Read {
            return;
        }
        let answered = usize::from(matches!(r.outcome, RequestOutcome::Read { .. }));
        let Some(w) = self.window.as_mut().filter(|w| r.start_us >= w.from_us) else { return };
        if w.until_us.is_some_and(|until| r.start_us >= until) {
            return;
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

    /// Reads started from the loss until writes resumed, and those answered.
    fn counts(&self) -> (usize, usize) {
        self.window.as_ref().map_or((0, 0), |w| (w.reads, w.answered))
    }
}

/// `requests`: the acknowledged writes (and any other kept requests) in start order.
pub fn failover(
    events: &[Event],
    requests: &[RequestRecord],
    reads: &ReadsAfterLoss,
    pops: usize,
) -> Option<FailoverFigures> {
    let (_, t0) = loss(events)?;
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
                if *g == generation && EdgeRole::is_pop(&e.node) =>
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
            .filter(|r| matches!(r.outcome, RequestOutcome::Write { generation, .. } if generation >= min_generation))
            .map(|r| r.end_us)
            .min()
    };
    let resumed = acked_after(0);
    let (reads, answered) = reads.counts();
    Some(FailoverFigures {
        loss_at_s: t0 as f64 / 1e6,
        first_miss_s: first(&|n| matches!(n, NodeEvent::HealthMissed { .. })),
        confirmed_s: first(&|n| matches!(n, NodeEvent::FailureConfirmed { .. })),
        promoted_s: promoted.map(|(t, _)| secs(t, t0)),
        routing_s,
        failover_s: promoted.and_then(|(_, g)| acked_after(g)).map(|t| secs(t, t0)),
        writes_resumed_s: resumed.map(|t| secs(t, t0)),
        read_availability: (reads > 0).then(|| answered as f64 / reads as f64),
        reads_during: reads,
        promotion_impossible: events.iter().find_map(|e| match &e.record {
            Record::Node(NodeEvent::PromotionImpossible { reason }) => Some(reason.clone()),
            _ => None,
        }),
    })
}

/// The narrated lines, times from the loss of the primary (or from the start if it was not lost),
/// each with its time into the run beside it, and the steps of a failover with how long each took
/// after the one before and, where the scenario sets it, why (`failover_after`: the wait from
/// confirmation to failover). `events` need only be the kept ones (`Observed::kept`), `requests`
/// the acknowledged writes in start order (other requests are skipped): the line of a new
/// generation's first write goes before the first event no earlier than its acknowledgement and
/// every earlier-started write's.
pub(crate) fn narrate(
    events: &[Event],
    requests: &[RequestRecord],
    pops: usize,
    failover_after: Duration,
) -> Vec<String> {
    let mut story = Story::new(events, pops, failover_after);
    let mut lines = Vec::new();
    let mut said = BTreeSet::new();
    let mut acks = requests.iter().filter(|r| matches!(r.outcome, RequestOutcome::Write { .. })).peekable();
    for (i, e) in events.iter().enumerate() {
        while let Some(r) = acks.next_if(|r| r.end_us <= e.t_us) {
            lines.extend(story.first_ack(r));
        }
        let line = story.line(i, e);
        // A failover retried while nothing can be promoted is told once.
        let retold = line.as_ref().is_some_and(|l| {
            let retried =
                matches!(e.record, Record::Node(NodeEvent::PromotionImpossible { .. } | NodeEvent::Fenced { .. }));
            retried && !said.insert(l.clone())
        });
        if let Some(line) = line.filter(|_| !retold) {
            lines.push(format!("{} {line}", story.at(e.t_us)));
        }
    }
    lines.extend(acks.filter_map(|r| story.first_ack(r)));
    lines
}

/// What `narrate` knows so far of the failover it tells, event by event.
struct Story {
    /// The event that lost the primary, and when.
    lost: Option<(usize, u64)>,
    /// The time lines are told from: the loss, or the start.
    t0: u64,
    pops: usize,
    failover_after: Duration,
    misses: Vec<u64>,
    confirmed_at: Option<u64>,
    promoted_at: Option<u64>,
    routed_at: Option<u64>,
    generation: u64,
    fenced: Option<u64>,
    /// The PoPs told the new route.
    told: BTreeSet<Rc<str>>,
    routing_told: bool,
    /// The generation whose first acknowledged write was told.
    first_ack_of: Option<u64>,
}

impl Story {
    fn new(events: &[Event], pops: usize, failover_after: Duration) -> Story {
        let lost = loss(events);
        Story {
            lost,
            t0: lost.map_or(0, |(_, t)| t),
            pops,
            failover_after,
            misses: Vec::new(),
            confirmed_at: None,
            promoted_at: None,
            routed_at: None,
            generation: 1,
            fenced: None,
            told: BTreeSet::new(),
            routing_told: false,
            first_ack_of: None,
        }
    }

    /// A time as told: from the loss, with the time into the run beside it.
    fn at(&self, t: u64) -> String {
        let run = t as f64 / 1e6;
        if t >= self.t0 {
            format!("T+{:.3}s ({run:.3}s)", secs(t, self.t0))
        } else {
            format!("T-{:.3}s ({run:.3}s)", (self.t0 - t) as f64 / 1e6)
        }
    }

    /// The line of a new generation's first acknowledged write, if `r` is it.
    fn first_ack(&mut self, r: &RequestRecord) -> Option<String> {
        match r.outcome {
            RequestOutcome::Write { generation: g, .. } if g > 1 && self.first_ack_of != Some(g) => {
                self.first_ack_of = Some(g);
                let after =
                    self.routed_at.map_or(String::new(), |t| format!(", {:.3}s after routing", secs(r.end_us, t)));
                Some(format!(
                    "{} first write acknowledged by the new primary (generation {g}){after}",
                    self.at(r.end_us)
                ))
            }
            _ => None,
        }
    }

    /// The line event `i`, `e`, tells, without its time.
    fn line(&mut self, i: usize, e: &Event) -> Option<String> {
        let since =
            |t: u64, before: Option<u64>| before.map_or(String::new(), |b| format!(", {:.3}s later", secs(t, b)));
        match &e.record {
            Record::Harness(HarnessEvent::Fault { action, .. }) if self.lost.is_some_and(|(at, _)| at == i) => {
                Some(format!("primary lost: {}", action.narrated()))
            }
            Record::Harness(HarnessEvent::Fault { action, .. }) => Some(format!("fault: {}", action.narrated())),
            Record::Node(NodeEvent::HealthMissed { primary, misses: n, of, .. }) => {
                let gap = since(e.t_us, self.misses.last().copied());
                self.misses.push(e.t_us);
                Some(format!("health check of {primary} missed ({n}/{of}){gap}"))
            }
            Record::Node(NodeEvent::HealthRecovered { primary }) => {
                Some(format!("{primary} answers health checks again"))
            }
            Record::Node(NodeEvent::FailureConfirmed { primary }) => {
                self.confirmed_at = Some(e.t_us);
                Some(format!("failure of {primary} confirmed{}", self.why_confirmed()))
            }
            Record::Node(NodeEvent::StandbyLost { peer, reason, policy }) => {
                Some(format!("{} lost its synchronous standby {peer} ({reason}); policy {policy:?}", e.node))
            }
            Record::Node(NodeEvent::StandbyRestored { peer }) => {
                Some(format!("{} has its synchronous standby {peer} again", e.node))
            }
            Record::Node(NodeEvent::Fenced { generation: g, acknowledged, .. }) => {
                self.fenced = Some(*g);
                (!acknowledged)
                    .then(|| format!("generation {g} fenced (the old primary did not hear it; its lease fences it)"))
            }
            Record::Node(NodeEvent::Promoted { host, generation: g }) => {
                self.generation = *g;
                self.promoted_at = Some(e.t_us);
                let old = self.fenced.map_or(String::new(), |f| format!("generation {f} fenced, "));
                let why = self.confirmed_at.map_or(String::new(), |c| {
                    format!(
                        " ({:.3}s after the failure was confirmed: failover_after {}, then the fencing)",
                        secs(e.t_us, c),
                        Dur(self.failover_after)
                    )
                });
                Some(format!("failover: {old}{host} promoted as generation {g}{why}"))
            }
            Record::Node(NodeEvent::PromotionImpossible { reason }) => {
                Some(format!("failover impossible: {reason}; writes stay unavailable"))
            }
            Record::Node(NodeEvent::RouteChanged { generation: g, .. })
                if *g == self.generation && EdgeRole::is_pop(&e.node) =>
            {
                self.routing_updated(e)
            }
            Record::Node(NodeEvent::RoleChanged { role, generation: g, reason })
                if e.node.as_ref() == PRIMARY && self.lost.is_some() && e.t_us > self.t0 =>
            {
                Some(format!("{} becomes {role:?} (generation {g}): {reason}", e.node))
            }
            _ => None,
        }
    }

    /// Why the failure was confirmed when it was: the health checks missed since the loss.
    fn why_confirmed(&self) -> String {
        match (self.misses.first(), self.misses.len()) {
            (Some(&first), n) if self.lost.is_some() && first >= self.t0 => format!(
                " ({n} missed health checks: the first {:.3}s after the loss, the last {:.3}s after the first)",
                secs(first, self.t0),
                secs(*self.misses.last().expect("a miss"), first)
            ),
            _ => String::new(),
        }
    }

    /// A PoP learned the new primary's route: told once every PoP has.
    fn routing_updated(&mut self, e: &Event) -> Option<String> {
        self.told.insert(e.node.clone());
        (self.told.len() == self.pops && !self.routing_told).then(|| {
            self.routing_told = true;
            self.routed_at = Some(e.t_us);
            let after =
                self.promoted_at.map_or(String::new(), |p| format!(" ({:.3}s after the promotion)", secs(e.t_us, p)));
            format!("routing updated at {pops}/{pops} PoPs{after}", pops = self.pops)
        })
    }
}

/// The impact block printed under the timeline: `writes` per region, `lost` the acknowledged
/// writes lost or why that could not be judged.
pub(crate) struct Impact<'a> {
    pub failover: &'a FailoverFigures,
    pub writes: &'a BTreeMap<String, RegionWrites>,
    pub lost: Result<&'a [(u64, u64)], &'a str>,
}

impl fmt::Display for Impact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let failover = self.failover;
        match failover.read_availability {
            Some(a) => writeln!(
                f,
                "impact: reads answered {:.2}% of {} started from the loss until writes resumed",
                a * 100.0,
                failover.reads_during
            )?,
            None => writeln!(f, "impact: no read started from the loss until writes resumed")?,
        }
        match failover.writes_resumed_s {
            Some(s) => writeln!(f, "        first write acknowledged (any region) {s:.1}s after the loss")?,
            None => writeln!(f, "        no write acknowledged after the loss")?,
        }
        for (region, w) in self.writes {
            if let (Some(s), Some(from)) = (w.unavailable_s, w.unavailable_from_s) {
                writeln!(f, "        {region}: writes unavailable for {s:.1}s from {from:.1}s into the run")?;
            }
        }
        if let Some(s) = failover.failover_s {
            writeln!(f, "        failover time (first write on the new primary) {s:.1}s")?;
        }
        match self.lost {
            Ok([]) => writeln!(f, "        acknowledged writes lost: 0"),
            Ok(lost) => {
                let list: Vec<String> = lost.iter().map(|(s, q)| format!("s{s}#{q}")).collect();
                writeln!(f, "        acknowledged writes lost: {} ({})", lost.len(), list.join(", "))
            }
            Err(why) => writeln!(f, "        acknowledged writes lost: not judged: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};

    fn ended(mut r: RequestRecord, end_us: u64) -> RequestRecord {
        r.end_us = end_us;
        r
    }

    #[test]
    fn reads_count_from_a_loss_until_the_first_write_acknowledged_after_it() {
        let mut reads = ReadsAfterLoss::default();
        reads.request(&ended(read(1, 1, "k", &[], None, 50), 60));
        reads.lost(100);
        reads.request(&ended(read(2, 1, "k", &[], None, 110), 120));
        let mut failed = ended(read(3, 2, "k", &[], None, 130), 200);
        failed.outcome = RequestOutcome::Timeout;
        reads.request(&failed);
        reads.request(&ended(read(4, 3, "k", &[], None, 300), 300));
        // A write acknowledged at 300 closes the window: the read that started then is out of it.
        reads.request(&ended(write(5, 4, 1, 250, true), 300));
        reads.request(&ended(read(6, 5, "k", &[], None, 290), 310));
        reads.request(&ended(read(7, 1, "k", &[], None, 305), 315));
        assert_eq!(reads.counts(), (3, 2), "reads 2, 3 (unanswered) and 6");
    }

    fn fault(t_us: u64, action: Action) -> Event {
        Event { t_us, node: "harness".into(), record: Record::Harness(HarnessEvent::fault(1, &action)) }
    }

    #[test]
    fn only_a_fault_that_takes_the_primary_away_anchors_the_failover_and_no_read_is_no_availability() {
        // Issue 11, defects 2 and 9: any fault naming the primary anchored the failover figures
        // (a latency change, a partition from the control plane alone; a restart at 12 s after a
        // crash at 10 s moved the anchor to 12 s), and with no read in the window
        // `read_availability` read 1.0. Now the crash at 10 s anchors them and it has no value.
        let group = |h: &[&str]| h.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        let latency = Action::Latency { a: group(&["dist-a"]), b: group(&[PRIMARY]), latency: Default::default() };
        let to_control = Action::Partition { a: group(&[PRIMARY]), b: group(&[CONTROL]), oneway: false };
        let events = vec![
            fault(1_000_000, latency),
            fault(2_000_000, to_control),
            fault(10_000_000, Action::Crash { host: PRIMARY.into() }),
            fault(12_000_000, Action::Restart { host: PRIMARY.into() }),
        ];
        let f = failover(&events, &[], &ReadsAfterLoss::default(), 1).expect("the crash took the primary away");
        assert_eq!(f.loss_at_s, 10.0);
        assert_eq!(f.read_availability, None);
        let lines = narrate(&events, &[], 1, Duration::from_secs(15));
        assert_eq!(lines[2], "T+0.000s (10.000s) primary lost: crash of primary");
        assert_eq!(lines[3], "T+2.000s (12.000s) fault: restart of primary");
        assert!(
            failover(&events[..2], &[], &ReadsAfterLoss::default(), 1).is_none(),
            "{:?}",
            narrate(&events[..2], &[], 1, Duration::from_secs(15))
        );
    }

    #[test]
    fn a_cut_from_the_control_plane_and_a_pop_takes_the_primary_away() {
        // A partition from the control plane alone keeps clients' writes flowing; add a PoP
        // (as `split-brain-attempt` does) and the primary is taken away.
        let group = |h: &[&str]| h.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        let mut loss = PrimaryLoss::default();
        assert!(!loss.fault(&Action::Partition { a: group(&[PRIMARY]), b: group(&[CONTROL]), oneway: false }));
        assert!(loss.fault(&Action::Hold { a: group(&["pop-a-1"]), b: group(&[PRIMARY]) }));
        assert!(!loss.fault(&Action::Crash { host: PRIMARY.into() }), "once per run");
    }
}
