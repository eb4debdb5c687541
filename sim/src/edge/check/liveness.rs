//! Liveness (docs/SCENARIOS.md, `[liveness]`): after every fault heals, writes are acknowledged
//! again in every region by the deadline. A region none of whose writes started after the heal
//! was acknowledged by then has stalled; a run with no such write at all cannot show liveness, and
//! fails it too. Convergence after the heal is the `convergence` checker's, at the final audit.

use serde::Serialize;

use crate::edge::check::request::RequestRecord;
use crate::events::RequestOutcome;
use crate::scenario::Region;
use crate::scenario::swarm::Liveness;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivenessFinding {
    pub heal_s: f64,
    pub deadline_s: f64,
    /// Regions with no write started after the heal and acknowledged by the deadline.
    pub stalled: Vec<String>,
}

/// Judges the acknowledged writes among `requests` (each region's by its clients' host).
pub fn check(requests: &[RequestRecord], regions: &[Region], liveness: &Liveness) -> LivenessFinding {
    let (heal, deadline) = (liveness.heal.as_micros() as u64, liveness.deadline().as_micros() as u64);
    let resumed = |clients: &str| {
        requests.iter().any(|r| {
            r.client == clients
                && r.start_us >= heal
                && r.end_us <= deadline
                && matches!(r.outcome, RequestOutcome::Write { .. })
        })
    };
    LivenessFinding {
        heal_s: liveness.heal.as_secs_f64(),
        deadline_s: liveness.deadline().as_secs_f64(),
        stalled: regions.iter().filter(|r| !resumed(&r.clients)).map(|r| r.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::edge::check::request::fixtures::write;

    /// A region whose only acknowledged write started before the heal, or ended after the
    /// deadline, has stalled; one with a write acknowledged in between has not.
    #[test]
    fn a_region_stalls_without_a_write_acknowledged_between_heal_and_deadline() {
        let region = |name: &str| Region {
            name: name.into(),
            to_primary: Duration::ZERO,
            distributor: format!("dist-{name}"),
            pops: vec![],
            clients: format!("clients-{name}"),
        };
        let liveness = Liveness { heal: Duration::from_millis(10), within: Duration::from_millis(10), line: 0 };
        let mut acked = write(1, 1, 1, 12_000, true);
        acked.client = "clients-a".into();
        let mut early = write(2, 2, 1, 1_000, true);
        early.client = "clients-b".into();
        let v = check(&[acked, early], &[region("a"), region("b")], &liveness);
        assert_eq!(v.stalled, vec!["b".to_string()]);
    }
}
