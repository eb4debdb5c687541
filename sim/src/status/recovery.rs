//! Disaster recovery figures of a status run, from the event log (docs/DESIGN.md, Status page
//! figures): measured from the first fault the run applied, the recovery time (RTO: until viewers
//! are again shown a correct, current page and keep being shown one; when the fault is a status
//! region's loss, until that region's users, its viewers and its operators, succeed again, their
//! edits acknowledged as well as their views answered) and the recovery point (RPO: the
//! acknowledged edits that some host up at the end does not show, counted, and how long before
//! the fault the oldest of them was acknowledged).

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use edgesim_system::status::proto::Tier;
use serde::Serialize;

use super::records::AckedEdit;
use super::settings::StatusSettings;
use super::shown::{Shown, parse};
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::Action;

/// A page is current when it shows every edit acknowledged this long before the view (the
/// design's propagation target) that the disaster did not take.
pub(crate) const CURRENT_WITHIN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Serialize)]
pub struct Recovery {
    /// The first fault: what it was and when.
    pub fault: String,
    pub fault_at_s: f64,
    /// The status region the fault took, whose users the RTO judges; `None`: every viewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The later of the views' RTO and, for a region's loss, the edits' RTO; `None` when either
    /// has no value.
    pub rto_s: Option<f64>,
    /// From the fault until the first good view that started after the last bad one was answered;
    /// 0 when views started after the fault and none was bad; `None` when no good view followed
    /// the last bad one (not recovered by the end) or no view started after the fault (no
    /// samples: then `bad_views` is 0).
    pub views_rto_s: Option<f64>,
    /// Views that started after the fault and were not answered, got the static page, or showed
    /// a page missing an edit acknowledged more than `CURRENT_WITHIN` before.
    pub bad_views: u64,
    /// For a region's loss, its operators' edits after the fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edits: Option<EditRecovery>,
    /// The acknowledged edits that some host up at the end does not show, by id; `None` when no
    /// host could be audited.
    pub lost: Option<Vec<u64>>,
    /// From the acknowledgement of the oldest lost edit to the fault; 0 when none was lost or all
    /// were acknowledged after the fault.
    pub rpo_s: Option<f64>,
}

/// A lost region's operators' edits made after the fault.
#[derive(Clone, Debug, Serialize)]
pub struct EditRecovery {
    /// From the fault until the first edit acknowledged after the last failed one; 0 when edits
    /// were made and none failed; `None` when none was acknowledged after the last failure (not
    /// recovered) or none was made (no samples: then `failed` and `acked` are 0).
    pub rto_s: Option<f64>,
    pub failed: u64,
    pub acked: u64,
}

/// A span's recovery time as text.
fn rto_text(rto_s: Option<f64>, bad: u64, what: &str) -> String {
    match rto_s {
        Some(s) => format!("{s:.1}s"),
        None if bad == 0 => format!("no samples (no {what} after the fault)"),
        None => "not recovered by the end".into(),
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let rpo = match (&self.lost, self.rpo_s) {
            (Some(lost), Some(s)) => format!("{} edits ({s:.3}s of acknowledged edits)", lost.len()),
            _ => "cannot be judged: no host was audited".into(),
        };
        let views = rto_text(self.views_rto_s, self.bad_views, "page view started");
        let rto = match (&self.region, &self.edits) {
            (Some(region), Some(e)) => {
                let rto = match self.rto_s {
                    Some(s) => format!("{s:.1}s"),
                    None => "none".into(),
                };
                let edits = rto_text(e.rto_s, e.failed + e.acked, "edit made");
                format!(
                    "RTO {rto} for {region}'s users (views {views}, {} bad; edits {edits}, {} failed, {} acknowledged)",
                    self.bad_views, e.failed, e.acked
                )
            }
            _ => format!("RTO {views} ({} bad views)", self.bad_views),
        };
        writeln!(f, "recovery from {} at {:.1}s: {rto}, RPO {rpo}", self.fault, self.fault_at_s)
    }
}

/// A page view as recovery judges it: when it started and ended, the tier that answered (`None`:
/// no answer) and its staleness (`None`: no document shown).
pub(crate) type ViewSeen = (u64, u64, Option<Tier>, Option<u64>);

/// The status region (of `regions`) the faults applied at `at_us` take, when they crash exactly
/// one region's host (a region's loss; several regions lost at once are not one).
fn region_lost(events: &[Event], at_us: u64, regions: &[String]) -> Option<String> {
    let crashed: Vec<&String> = events
        .iter()
        .take_while(|e| e.t_us <= at_us)
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Fault {
                action: Action::Crash { host } | Action::SilentCrash { host },
                ..
            }) => regions.iter().find(|r| StatusSettings::region_host(r) == *host),
            _ => None,
        })
        .collect();
    match crashed[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The recovery time of samples (start, end, bad) after the fault at `at_us`: until the first
/// good sample started after the last bad one ended.
fn rto(samples: &[(u64, u64, bool)], at_us: u64) -> Option<f64> {
    match samples.iter().filter(|v| v.2).map(|(started, ..)| *started).max() {
        None if samples.is_empty() => None,
        None => Some(0.0),
        Some(last_bad) => samples
            .iter()
            .filter(|v| v.0 > last_bad && !v.2)
            .map(|(_, ended, _)| *ended)
            .min()
            .map(|t| (t - at_us) as f64 / 1e6),
    }
}

/// The recovery from the run's first fault; `None` without a fault. `down` are the hosts down at
/// the end; `regions` the status regions; `views` judges every page view (of one viewer host, if
/// named) against the edits it is given.
pub fn recovery(
    events: &[Event],
    edits: &[AckedEdit],
    down: &[String],
    regions: &[String],
    views: impl Fn(&[AckedEdit], Option<&str>) -> Vec<ViewSeen>,
) -> Option<Recovery> {
    let (at_us, fault) = events.iter().find_map(|e| match &e.record {
        Record::Harness(HarnessEvent::Fault { fault, .. }) => Some((e.t_us, fault.clone())),
        _ => None,
    })?;
    let region = region_lost(events, at_us, regions);
    let lost = lost(events, edits, down);
    let rpo_s = lost.as_ref().map(|lost| {
        let oldest = edits.iter().filter(|e| lost.contains(&e.write)).map(|e| e.t_us).min();
        oldest.map_or(0.0, |t| at_us.saturating_sub(t) as f64 / 1e6)
    });
    let kept: Vec<AckedEdit> =
        edits.iter().filter(|e| !lost.as_ref().is_some_and(|l| l.contains(&e.write))).cloned().collect();
    let viewers = region.as_deref().map(StatusSettings::viewer_host);
    let bad = |(_, _, tier, stale): &ViewSeen| match (tier, stale) {
        (Some(Tier::Fallback) | None, _) | (_, None) => true,
        (_, Some(stale)) => *stale > CURRENT_WITHIN.as_micros() as u64,
    };
    let after: Vec<(u64, u64, bool)> = views(&kept, viewers.as_deref())
        .into_iter()
        .filter(|(started, ..)| *started >= at_us)
        .map(|v| (v.0, v.1, bad(&v)))
        .collect();
    let bad_views = after.iter().filter(|v| v.2).count() as u64;
    let views_rto_s = rto(&after, at_us);
    let edits = region.as_ref().map(|r| edit_recovery(events, r, at_us));
    let rto_s = match &edits {
        Some(e) => views_rto_s.zip(e.rto_s).map(|(v, e)| v.max(e)),
        None => views_rto_s,
    };
    Some(Recovery {
        fault,
        fault_at_s: at_us as f64 / 1e6,
        region,
        rto_s,
        views_rto_s,
        bad_views,
        edits,
        lost: lost.map(|l| l.into_iter().collect()),
        rpo_s,
    })
}

/// The edits `region`'s operators made after the fault at `at_us` (each logged when it was
/// answered or given up on): a failed one is bad.
fn edit_recovery(events: &[Event], region: &str, at_us: u64) -> EditRecovery {
    let samples: Vec<(u64, u64, bool)> = events
        .iter()
        .filter(|e| e.t_us >= at_us)
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Edited { region: r, error, .. }) if r == region => {
                Some((e.t_us, e.t_us, error.is_some()))
            }
            _ => None,
        })
        .collect();
    let failed = samples.iter().filter(|v| v.2).count() as u64;
    EditRecovery { rto_s: rto(&samples, at_us), failed, acked: samples.len() as u64 - failed }
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

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use edgesim_system::status::hlc::Timestamp;

    use super::*;
    use crate::scenario::Action;

    const S: u64 = 1_000_000;

    fn at(t_us: u64, record: HarnessEvent) -> Event {
        Event { t_us, node: Rc::from("harness"), record: Record::Harness(record) }
    }

    fn crash(t_us: u64) -> Event {
        at(t_us, HarnessEvent::fault(3, &Action::Crash { host: "status-us-east".into() }))
    }

    /// The final audit of `of`, showing the updates `posts`.
    fn final_doc(of: &str, posts: &str) -> Event {
        let shown = Shown { posts: posts.into(), unacked_posts: 0, statuses: vec![], digest: String::new() };
        at(600 * S, HarnessEvent::FinalDoc { of: of.into(), shown: Some(shown), error: None, listed: vec![] })
    }

    fn update(write: u64, t_us: u64) -> AckedEdit {
        let stamp = Timestamp { l: t_us / 1000, c: 0, node: 1 };
        AckedEdit { t_us, write, stamp, seen: None, after: None, component: None, status: None, critical: false }
    }

    /// A view from `started` to `ended` seconds, answered from the origin, current.
    fn good(started: f64, ended: f64) -> ViewSeen {
        ((started * 1e6) as u64, (ended * 1e6) as u64, Some(Tier::Origin), Some(0))
    }

    /// Judges `events` with the page views `seen`, whatever edits they are judged against.
    fn judge(events: &[Event], edits: &[AckedEdit], seen: &[ViewSeen]) -> Option<Recovery> {
        recovery(events, edits, &[], &[], |_, _| seen.to_vec())
    }

    #[test]
    fn rto_runs_from_the_fault_to_the_first_good_view_after_the_last_bad_one() {
        // A crash at 10 s. Bad views (the static page at 12 s, no answer at 13 s, a page 31 s
        // stale at 13.5 s) come between good ones; the good view at 11 s and the one ending
        // at 14.5 s but started before the last bad view do not end the outage; the first good
        // view started after it ends at 15.5 s: RTO 5.5 s over 3 bad views. A bad view before
        // the fault does not count.
        let seen = [
            (5 * S, 6 * S, None, None),
            good(11.0, 11.2),
            (12 * S, 12 * S + 100, Some(Tier::Fallback), Some(0)),
            good(13.2, 14.5),
            (13 * S, 13 * S + 100, None, None),
            (13_500_000, 13_600_000, Some(Tier::EdgeKv), Some(31 * S)),
            good(15.0, 15.5),
            good(16.0, 16.1),
        ];
        let r = judge(&[crash(10 * S), final_doc("status-us-west", "")], &[], &seen).expect("a fault");
        assert_eq!((r.fault_at_s, r.rto_s, r.bad_views), (10.0, Some(5.5), 3));
        assert_eq!(r.fault, "crash status-us-east");
    }

    #[test]
    fn a_run_with_no_bad_view_recovers_at_once() {
        // Every view after the crash is answered, current: RTO 0 and no bad views; a view 29 s
        // stale is still current (within `CURRENT_WITHIN`).
        let seen = [good(11.0, 11.2), (12 * S, 12 * S + 100, Some(Tier::StaleCache), Some(29 * S))];
        let r = judge(&[crash(10 * S), final_doc("status-us-west", "")], &[], &seen).expect("a fault");
        assert_eq!((r.rto_s, r.bad_views), (Some(0.0), 0));
    }

    #[test]
    fn no_view_after_the_fault_has_no_rto_rather_than_zero() {
        // Missing evidence never reads as good: with views only before the crash, the RTO has
        // no samples (`None`, said so in the text), not 0.
        let r = judge(&[crash(10 * S), final_doc("status-us-west", "")], &[], &[good(5.0, 5.2)]).expect("a fault");
        assert_eq!((r.rto_s, r.bad_views), (None, 0));
        assert!(r.to_string().contains("RTO no samples"), "{r}");
    }

    #[test]
    fn an_acknowledged_edit_missing_from_the_final_audit_is_lost() {
        // Updates 1, 2 and 3 acknowledged at 2 s, 6 s and 12 s; the crash at 10 s. A host up
        // at the end shows 1 and 3: update 2 is lost, and the RPO runs from its acknowledgement
        // to the fault, 4 s. A host down at the end is not audited. Views are judged only
        // against the edits not lost. With no host audited, RPO has no value rather than 0.
        let edits = [update(1, 2 * S), update(2, 6 * S), update(3, 12 * S)];
        let down = ["status-eu-west".to_string()];
        let events = [crash(10 * S), final_doc("status-us-west", "1,3"), final_doc("status-eu-west", "")];
        let judged = |kept: &[AckedEdit], _: Option<&str>| {
            assert_eq!(kept.iter().map(|e| e.write).collect::<Vec<_>>(), [1, 3]);
            vec![good(11.0, 11.2)]
        };
        let r = recovery(&events, &edits, &down, &[], judged).expect("a fault");
        assert_eq!((&r.lost, r.rpo_s), (&Some(vec![2]), Some(4.0)));
        assert!(r.to_string().contains("RPO 1 edits (4.000s of acknowledged edits)"), "{r}");

        let r = recovery(&events[..1], &edits, &down, &[], |_, _| vec![]).expect("a fault");
        assert_eq!((r.lost, r.rpo_s), (None, None));
    }

    #[test]
    fn without_a_fault_there_are_no_recovery_figures() {
        // A run that applied no fault has nothing to recover from: no figures at all, not an
        // RTO or RPO of 0, even with bad views and a lost edit.
        let seen = [(12 * S, 12 * S + 100, None, None)];
        assert!(judge(&[final_doc("status-us-west", "")], &[update(1, 2 * S)], &seen).is_none());
    }

    /// An edit by `region`'s operator logged at `t` seconds, acknowledged or failed.
    fn edited(t: f64, region: &str, ok: bool) -> Event {
        let stamp = ok.then_some(Timestamp { l: 1, c: 0, node: 0 });
        let error = (!ok).then(|| "timed out".to_string());
        let record = HarnessEvent::Edited {
            write: 1,
            region: region.into(),
            component: None,
            status: None,
            critical: false,
            stamp,
            seen: None,
            after: None,
            error,
            listed: None,
            history: None,
            retracted: None,
            moved_to: None,
        };
        at((t * 1e6) as u64, record)
    }

    #[test]
    fn a_lost_regions_rto_waits_for_its_operators_edits_and_judges_its_own_viewers() {
        // us-east crashes at 10 s. Its viewers are answered at once (views RTO 0), but its
        // operator's edits fail at 11 s and 14 s and are acknowledged again at 17 s (GeoDNS moved
        // them): the RTO is 7 s, the later of the two. Another region's failed edit and another
        // host's bad view do not count; only us-east's viewer host is asked for.
        let regions = ["us-east".to_string(), "eu-west".to_string()];
        let events = [
            crash(10 * S),
            edited(11.0, "us-east", false),
            edited(12.0, "eu-west", false),
            edited(14.0, "us-east", false),
            edited(17.0, "us-east", true),
            edited(18.0, "us-east", true),
            final_doc("status-eu-west", ""),
        ];
        let judged = |_: &[AckedEdit], host: Option<&str>| match host {
            Some("viewers-us-east") => vec![good(11.0, 11.2), good(15.0, 15.1)],
            _ => vec![(12 * S, 12 * S + 100, None, None)],
        };
        let r = recovery(&events, &[], &[], &regions, judged).expect("a fault");
        let e = r.edits.clone().expect("a region was lost");
        assert_eq!((r.region.as_deref(), r.views_rto_s, r.bad_views), (Some("us-east"), Some(0.0), 0));
        assert_eq!((e.rto_s, e.failed, e.acked, r.rto_s), (Some(7.0), 2, 2, Some(7.0)));
        // Pinned operators whose edits never succeed again: no RTO, whatever the views say.
        let r = recovery(&events[..4], &[], &[], &regions, judged).expect("a fault");
        assert_eq!((r.views_rto_s, r.rto_s), (Some(0.0), None));
        assert!(r.to_string().contains("edits not recovered by the end"), "{r}");
    }
}
