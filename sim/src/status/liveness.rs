//! Liveness of the status page (docs/SCENARIOS.md, `[liveness]`): after every fault heals, every
//! region's origin and every CDN's page shows every timeline update (a post; component status
//! changes are judged by `status-regression`) acknowledged before the heal by the
//! deadline, judged by the last thing the harness's probes saw of each at or before it. A region
//! or CDN the probes never saw by then fails it too: missing evidence is not a pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::records::AckedEdit;
use super::settings::StatusSettings;
use super::shown::parse;
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::swarm::Liveness;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusLivenessFinding {
    pub heal_s: f64,
    pub deadline_s: f64,
    /// Timeline updates acknowledged before the heal, which every page must show.
    pub due: usize,
    /// Each region origin or CDN that did not show them all by the deadline, and what it lacked.
    pub behind: Vec<String>,
}

pub fn check(events: &[Event], edits: &[AckedEdit], s: &StatusSettings, liveness: &Liveness) -> StatusLivenessFinding {
    let (heal, deadline) = (liveness.heal.as_micros() as u64, liveness.deadline().as_micros() as u64);
    let due: BTreeSet<u64> = edits.iter().filter(|e| e.component.is_none() && e.t_us < heal).map(|e| e.write).collect();
    let mut last: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for e in events.iter().take_while(|e| e.t_us <= deadline) {
        if let Record::Harness(HarnessEvent::Probed { of, shown }) = &e.record {
            last.insert(of.as_str(), parse(&shown.posts));
        }
    }
    let pages = s.regions.iter().map(|r| StatusSettings::region_host(r)).chain(s.cdns.iter().cloned());
    let behind = pages
        .filter_map(|host| match last.get(host.as_str()) {
            None => Some(format!("{host}: never probed by the deadline")),
            Some(shown) => {
                let missing = due.difference(shown).count();
                (missing > 0).then(|| format!("{host}: {missing} of {} updates missing", due.len()))
            }
        })
        .collect();
    StatusLivenessFinding {
        heal_s: liveness.heal.as_secs_f64(),
        deadline_s: liveness.deadline().as_secs_f64(),
        due: due.len(),
        behind,
    }
}
