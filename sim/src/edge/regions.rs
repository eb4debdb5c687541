//! Figures per region of the PoPs: replication lag of the region's PoP replicas, latency of the
//! reads its PoPs answered, the read-your-writes violations among those reads, and the requests
//! that failed or timed out there. A request belongs to the region of the PoP its session was at
//! when it started: the client's own region without `[anycast]` (every session stays at a PoP of
//! its region), and under `[anycast]` the PoP the session was last placed at or moved to
//! (`session_placed`, `session_moved`). Folded as requests end, like every request figure.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::edge::check::request::RequestRecord;
use crate::edge::metrics::{Recorder, Summary, fmt_summary};
use crate::events::{Event, HarnessEvent, Record, RequestOutcome};
use crate::scenario::roles::EdgeRole;

/// One region's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFigures {
    /// Replication lag over the region's PoP replicas (every frame of the final history, as the
    /// overall lag counts it).
    pub lag: Summary,
    /// Reads answered by the region's PoPs, as clients saw them.
    pub read: Summary,
    /// Reads answered there that missed a write their session had acknowledged.
    pub ryw_violations: u64,
    /// Requests answered there with an error, shed ones included.
    pub errors: u64,
    pub timeouts: u64,
}

/// Every region's figures, by region name; its `Display` is the block `edgesim run` prints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Regions(pub BTreeMap<String, RegionFigures>);

/// The columns of `Regions::rows`.
pub(crate) const COLUMNS: [&str; 6] =
    ["region", "lag p99", "read p99", "read-your-writes violations", "errors", "timeouts"];

impl Regions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A row per region as the suite page's table shows it (`COLUMNS`); a figure without a sample
    /// reads `no samples`.
    pub fn rows(&self) -> impl Iterator<Item = [String; 6]> + '_ {
        let p99 = |s: &Summary| match s.count {
            0 => "no samples".to_string(),
            _ => format!("{:.1} ms", s.p99_ms),
        };
        self.0.iter().map(move |(region, r)| {
            [
                region.clone(),
                p99(&r.lag),
                p99(&r.read),
                r.ryw_violations.to_string(),
                r.errors.to_string(),
                r.timeouts.to_string(),
            ]
        })
    }
}

impl fmt::Display for Regions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(f, "\nper region of the PoPs (a request counts where its session's PoP is)")?;
        for (region, r) in &self.0 {
            writeln!(f, "  {region:<12} lag    {}", fmt_summary(&r.lag))?;
            writeln!(f, "  {:<12} read   {}", "", fmt_summary(&r.read))?;
            writeln!(
                f,
                "  {:<12} {} read-your-writes violations, {} errors, {} timeouts",
                "", r.ryw_violations, r.errors, r.timeouts
            )?;
        }
        Ok(())
    }
}

/// The fold: where each session is, where each request went, and each region's figures so far.
#[derive(Default)]
pub struct RegionFold {
    /// Under `[anycast]`: the region of the PoP each session is at now.
    session_at: BTreeMap<u64, Rc<str>>,
    /// The region of the PoP each request went to, from its start until it is judged.
    request_at: BTreeMap<u64, Rc<str>>,
    regions: BTreeMap<Rc<str>, (Recorder, RegionFigures)>,
}

impl RegionFold {
    /// Follows sessions' PoPs and notes where each request starts.
    pub fn event(&mut self, e: &Event) {
        let Record::Harness(h) = &e.record else { return };
        match h {
            HarnessEvent::SessionPlaced { session, pop, .. } | HarnessEvent::SessionMoved { session, to: pop, .. } => {
                if let Some(EdgeRole::Pop { region, .. }) = EdgeRole::of(pop) {
                    self.session_at.insert(*session, region.into());
                }
            }
            HarnessEvent::RequestStarted { req, session, .. } => {
                let region = match (self.session_at.get(session), EdgeRole::of(&e.node)) {
                    (Some(at), _) => at.clone(),
                    (None, Some(EdgeRole::Clients { region })) => region.into(),
                    (None, _) => e.node.clone(),
                };
                self.request_at.insert(*req, region);
            }
            _ => {}
        }
    }

    /// A request ended: its read latency, error or timeout counts where it went.
    pub fn ended(&mut self, r: &RequestRecord) {
        let Some((reads, figures)) = self.region_of(r.req) else { return };
        match r.outcome {
            RequestOutcome::Read { .. } => reads.record(r.end_us - r.start_us),
            RequestOutcome::Error { .. } | RequestOutcome::Shed { .. } => figures.errors += 1,
            RequestOutcome::Timeout => figures.timeouts += 1,
            RequestOutcome::Write { .. } => {}
        }
    }

    /// The read-your-writes checker judged `r` (`violated`: it missed an acknowledged write); the
    /// request is done with.
    pub fn judged(&mut self, r: &RequestRecord, violated: bool) {
        if violated && let Some((_, figures)) = self.region_of(r.req) {
            figures.ryw_violations += 1;
        }
        self.request_at.remove(&r.req);
    }

    fn region_of(&mut self, req: u64) -> Option<&mut (Recorder, RegionFigures)> {
        let region = self.request_at.get(&req)?;
        Some(self.regions.entry(region.clone()).or_default())
    }

    /// Every region's figures, with the lag of its PoP replicas from `lag` (by region); a region
    /// with replicas and no request has its lag only.
    pub fn figures(&self, lag: &BTreeMap<String, Recorder>) -> Regions {
        let mut out: BTreeMap<String, RegionFigures> = self
            .regions
            .iter()
            .map(|(region, (reads, figures))| {
                (region.to_string(), RegionFigures { read: reads.summary(), ..figures.clone() })
            })
            .collect();
        for (region, recorder) in lag {
            out.entry(region.clone()).or_default().lag = recorder.summary();
        }
        Regions(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::read;
    use crate::events::RequestOp;

    fn event(t_us: u64, node: &str, h: HarnessEvent) -> Event {
        Event { t_us, node: node.into(), record: Record::Harness(h) }
    }

    fn started(r: &RequestRecord) -> Event {
        let h = HarnessEvent::RequestStarted {
            req: r.req,
            session: r.session,
            op: RequestOp::Read,
            key: r.key.clone(),
            seq: 0,
            min: Default::default(),
        };
        event(r.start_us, &r.client, h)
    }

    #[test]
    fn requests_count_in_the_region_of_the_pop_their_session_was_at_when_they_started() {
        // Goal: without a placement a read counts in its client's region; once the session is
        // moved to another region's PoP its next read counts there, a violation with it, and a
        // region that only has replicas shows its lag alone. Counting by the client's region would
        // put all three reads in `a`.
        let mut fold = RegionFold::default();
        let first = read(1, 7, "k", &[], None, 10);
        fold.event(&started(&first));
        fold.ended(&first);
        fold.judged(&first, false);
        let moved = HarnessEvent::SessionMoved {
            session: 7,
            from: "pop-a-1".into(),
            to: "pop-b-2".into(),
            position: Default::default(),
            carried: true,
        };
        fold.event(&event(20, "clients-a", moved));
        let mut second = read(2, 7, "k", &[], None, 30);
        second.end_us = 50;
        fold.event(&started(&second));
        fold.ended(&second);
        fold.judged(&second, true);
        let mut lag = Recorder::default();
        lag.record(2_000);
        let regions = fold.figures(&BTreeMap::from([("c".to_string(), lag)]));
        assert_eq!(regions.0.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!((regions.0["a"].read.count, regions.0["a"].ryw_violations), (1, 0));
        assert_eq!((regions.0["b"].read.count, regions.0["b"].ryw_violations), (1, 1));
        assert_eq!(regions.0["b"].read.max_ms, 0.02);
        assert_eq!((regions.0["c"].read.count, regions.0["c"].lag.count), (0, 1));
        let text = regions.to_string();
        assert!(text.contains("  b            lag    -\n"), "{text}");
        assert!(text.contains("1 read-your-writes violations, 0 errors, 0 timeouts"), "{text}");
        assert!(text.contains("  c            lag    p50     2.0"), "{text}");
        let rows: Vec<[String; 6]> = regions.rows().collect();
        assert_eq!(rows[1], ["b", "no samples", "0.0 ms", "1", "0", "0"]);
        assert_eq!(rows[2][1], "2.0 ms");
    }
}
