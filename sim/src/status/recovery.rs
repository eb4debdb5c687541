//! Disaster recovery figures of a status run, from the event log (docs/DESIGN.md, Status page
//! figures): measured from the first fault the run applied, the recovery time (RTO: until viewers
//! are again shown a correct, current page and keep being shown one) and the recovery point (RPO:
//! the acknowledged edits that some host up at the end does not show, counted, and how long before
//! the fault the oldest of them was acknowledged).

use std::collections::BTreeSet;
use std::time::Duration;

use edgesim_system::status::proto::Tier;
use serde::Serialize;

use super::records::AckedEdit;
use super::shown::{Shown, parse};
use crate::events::{Event, HarnessEvent, Record};

/// A page is current when it shows every edit acknowledged this long before the view (the
/// design's propagation target) that the disaster did not take.
pub const CURRENT_WITHIN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Serialize)]
pub struct Recovery {
    /// The first fault: what it was and when.
    pub fault: String,
    pub fault_at_s: f64,
    /// From the fault until the first good view that started after the last bad one was answered;
    /// 0 when no view after the fault was bad; `None` when none did (not recovered by the end).
    pub rto_s: Option<f64>,
    /// Views that started after the fault and were not answered, got the static page, or showed
    /// a page missing an edit acknowledged more than `CURRENT_WITHIN` before.
    pub bad_views: u64,
    /// The acknowledged edits that some host up at the end does not show, by id; `None` when no
    /// host could be audited.
    pub lost: Option<Vec<u64>>,
    /// From the acknowledgement of the oldest lost edit to the fault; 0 when none was lost or all
    /// were acknowledged after the fault.
    pub rpo_s: Option<f64>,
}

impl Recovery {
    pub fn text(&self) -> String {
        let rto = self.rto_s.map_or("not recovered by the end".into(), |s| format!("{s:.1}s"));
        let rpo = match (&self.lost, self.rpo_s) {
            (Some(lost), Some(s)) => format!("{} edits ({s:.3}s of acknowledged edits)", lost.len()),
            _ => "cannot be judged: no host was audited".into(),
        };
        format!(
            "recovery from {} at {:.1}s: RTO {rto} ({} bad views), RPO {rpo}\n",
            self.fault, self.fault_at_s, self.bad_views
        )
    }
}

/// A page view as recovery judges it: when it started and ended, the tier that answered (`None`:
/// no answer) and its staleness (`None`: no document shown).
pub type ViewSeen = (u64, u64, Option<Tier>, Option<u64>);

/// The recovery from the run's first fault; `None` without a fault. `down` are the hosts down at
/// the end; `views` judges every page view against the edits it is given.
pub fn recovery(
    events: &[Event],
    edits: &[AckedEdit],
    down: &[String],
    views: impl Fn(&[AckedEdit]) -> Vec<ViewSeen>,
) -> Option<Recovery> {
    let (at_us, fault) = events.iter().find_map(|e| match &e.record {
        Record::Harness(HarnessEvent::Fault { fault, .. }) => Some((e.t_us, fault.clone())),
        _ => None,
    })?;
    let lost = lost(events, edits, down);
    let rpo_s = lost.as_ref().map(|lost| {
        let oldest = edits.iter().filter(|e| lost.contains(&e.write)).map(|e| e.t_us).min();
        oldest.map_or(0.0, |t| at_us.saturating_sub(t) as f64 / 1e6)
    });
    let kept: Vec<AckedEdit> =
        edits.iter().filter(|e| !lost.as_ref().is_some_and(|l| l.contains(&e.write))).cloned().collect();
    let after: Vec<ViewSeen> = views(&kept).into_iter().filter(|(started, ..)| *started >= at_us).collect();
    let bad = |(_, _, tier, stale): &ViewSeen| match (tier, stale) {
        (Some(Tier::Fallback) | None, _) | (_, None) => true,
        (_, Some(stale)) => *stale > CURRENT_WITHIN.as_micros() as u64,
    };
    let bad_views = after.iter().filter(|v| bad(v)).count() as u64;
    let rto_s = match after.iter().filter(|v| bad(v)).map(|(started, ..)| *started).max() {
        None => Some(0.0),
        Some(last_bad) => after
            .iter()
            .filter(|v| v.0 > last_bad && !bad(v))
            .map(|(_, ended, ..)| *ended)
            .min()
            .map(|t| (t - at_us) as f64 / 1e6),
    };
    Some(Recovery {
        fault,
        fault_at_s: at_us as f64 / 1e6,
        rto_s,
        bad_views,
        lost: lost.map(|l| l.into_iter().collect()),
        rpo_s,
    })
}

/// The acknowledged edits that some host up at the end does not show at the final audit (a region's document or a CDN's page: what is left on one CDN's edge KV after its region
/// is gone is not kept); a status change counts as shown where its component's status carries its
/// stamp or a later one.
fn lost(events: &[Event], edits: &[AckedEdit], down: &[String]) -> Option<BTreeSet<u64>> {
    let audited: Vec<(&Shown, BTreeSet<u64>)> = events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::FinalDoc { of, shown: Some(shown), .. }) if !down.contains(of) => {
                Some((shown, parse(&shown.posts)))
            }
            _ => None,
        })
        .collect();
    if audited.is_empty() {
        return None;
    }
    let shows = |(shown, posts): &(&Shown, BTreeSet<u64>), e: &AckedEdit| match &e.component {
        None => posts.contains(&e.write),
        Some(c) => shown.statuses.iter().any(|(name, _, at)| name == c && *at >= e.stamp),
    };
    let lost = edits.iter().filter(|e| !audited.iter().all(|s| shows(s, e))).map(|e| e.write);
    Some(lost.collect())
}
