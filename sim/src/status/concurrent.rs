//! The checkers of scripted concurrent edits (docs/DESIGN.md, Status page figures), judged on the
//! final audit of every region up at the end. `add-wins`: a component the page lists must be
//! listed exactly when some scripted add of it was observed by no scripted remove of it, so an
//! add concurrent with a remove survives. `hlc-order`: a component whose status two regions set
//! concurrently must end, in every region, on the acknowledged status write with the highest
//! timestamp (or one the harness never saw acknowledged, stamped later). Which edit observed which
//! comes from the causal history each region acknowledged a scripted edit with (`edited.history`):
//! an edit observed another when its region held that edit's write when it made its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::vclock::VClock;
use serde::Serialize;

use super::records::AckedEdit;
use super::shown::Shown;
use crate::edge::check::NotJudged;
use crate::events::{Event, HarnessEvent, Record};

pub(crate) const ADD_WINS: &str = "add-wins";
pub(crate) const HLC_ORDER: &str = "hlc-order";

#[derive(Clone, Debug, Default, Serialize)]
pub struct Concurrent {
    /// Pairs of a scripted add and remove of one component, neither of which observed the other.
    pub add_remove_pairs: usize,
    /// Where a region's final list broke add-wins.
    pub add_wins_broken: Vec<String>,
    /// Pairs of scripted status changes of one component in two regions, neither of which
    /// observed the other.
    pub status_pairs: usize,
    /// Where a region's final status is not the highest-stamped write.
    pub hlc_order_broken: Vec<String>,
    /// A checker with scripted edits of one component from two regions but no concurrent pair
    /// among them, or with no region to judge in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<NotJudged>,
}

/// A scripted edit as its region acknowledged it.
struct Scripted<'a> {
    write: u64,
    component: &'a str,
    /// `Some(true)`: an add, `Some(false)`: a remove, `None`: a status change.
    listed: Option<bool>,
    history: &'a VClock,
    /// The node id of the region that acknowledged it, and its own write's number among that
    /// region's writes.
    id: u32,
    own: u64,
    /// The node id of its operator's region (another than `id` when GeoDNS had moved it).
    operator: u32,
}

impl Scripted<'_> {
    /// Whether this edit's region held `other` when it made this one.
    fn observed(&self, other: &Scripted) -> bool {
        self.history.get(other.id) >= other.own
    }

    fn concurrent(&self, other: &Scripted) -> bool {
        !self.observed(other) && !other.observed(self)
    }
}

/// Each audited region's final document and list, by host.
type Audited<'a> = BTreeMap<&'a str, (&'a Shown, &'a [String])>;

impl Concurrent {
    pub fn is_empty(&self) -> bool {
        self.add_remove_pairs == 0 && self.status_pairs == 0 && self.not_judged.is_empty()
    }
}

impl fmt::Display for Concurrent {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(
            f,
            "concurrent scripted edits: {} add/remove pairs, {} status pairs",
            self.add_remove_pairs, self.status_pairs
        )?;
        for line in self.add_wins_broken.iter().chain(&self.hlc_order_broken) {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Judges the scripted edits of `regions` (status region hosts by node id, and their region
/// names) against the final audit of those up at the end.
pub fn check(events: &[Event], edits: &[AckedEdit], regions: &[(String, String)], down: &[String]) -> Concurrent {
    let scripted: Vec<Scripted> = events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Edited {
                write,
                region,
                component: Some(component),
                stamp: Some(_),
                listed,
                history: Some(history),
                moved_to,
                ..
            }) => {
                let id_of = |r: &String| regions.iter().position(|(_, name)| name == r).map(|i| i as u32);
                let (id, operator) = (id_of(moved_to.as_ref().unwrap_or(region))?, id_of(region)?);
                Some(Scripted {
                    write: *write,
                    component,
                    listed: *listed,
                    history,
                    id,
                    own: history.get(id),
                    operator,
                })
            }
            _ => None,
        })
        .collect();
    let mut audited: Audited = BTreeMap::new();
    for e in events {
        if let Record::Harness(HarnessEvent::FinalDoc { of, shown: Some(shown), listed, .. }) = &e.record
            && regions.iter().any(|(host, _)| host == of)
            && !down.contains(of)
        {
            audited.insert(of, (shown, listed));
        }
    }
    let mut out = Concurrent::default();
    add_wins(&scripted, &audited, &mut out);
    hlc_order(&scripted, edits, &audited, &mut out);
    out
}

fn not_judged(checker: &str, why: &str) -> NotJudged {
    NotJudged { checker: checker.into(), why: why.into() }
}

/// Why a checker of concurrent edits cannot judge: edits of one component came from two regions
/// (`across`) but none were concurrent (`none_concurrent`), or there were concurrent pairs and no
/// region to judge them in.
fn unjudged(across: bool, pairs: usize, audited: &Audited, none_concurrent: &'static str) -> Option<&'static str> {
    if across && pairs == 0 {
        Some(none_concurrent)
    } else if pairs > 0 && audited.is_empty() {
        Some("no region was up and audited at the end")
    } else {
        None
    }
}

fn add_wins(scripted: &[Scripted], audited: &Audited, out: &mut Concurrent) {
    let lists: Vec<&Scripted> = scripted.iter().filter(|e| e.listed.is_some()).collect();
    if lists.is_empty() {
        return;
    }
    let components: BTreeSet<&str> = lists.iter().map(|e| e.component).collect();
    let mut across = false;
    for c in components {
        let of = |listed: bool| lists.iter().copied().filter(move |e| e.component == c && e.listed == Some(listed));
        let removes: Vec<&Scripted> = of(false).collect();
        across |= of(true).any(|a| removes.iter().any(|r| r.operator != a.operator));
        out.add_remove_pairs += of(true).map(|a| removes.iter().filter(|r| r.concurrent(a)).count()).sum::<usize>();
        let surviving: Vec<String> =
            of(true).filter(|a| !removes.iter().any(|r| r.observed(a))).map(|a| format!("#{}", a.write)).collect();
        for (host, (_, listed)) in audited {
            let present = listed.iter().any(|l| l == c);
            if present && surviving.is_empty() {
                out.add_wins_broken.push(format!("{host} lists {c}, though a remove observed every add of it"));
            } else if !present && !surviving.is_empty() {
                out.add_wins_broken
                    .push(format!("{host} does not list {c}, though no remove observed add {}", surviving.join(", ")));
            }
        }
    }
    let why =
        unjudged(across, out.add_remove_pairs, audited, "no scripted add and remove of one component were concurrent");
    out.not_judged.extend(why.map(|why| not_judged(ADD_WINS, why)));
}

fn hlc_order(scripted: &[Scripted], edits: &[AckedEdit], audited: &Audited, out: &mut Concurrent) {
    let changes: Vec<&Scripted> = scripted.iter().filter(|e| e.listed.is_none()).collect();
    if changes.is_empty() {
        return;
    }
    let components: BTreeSet<&str> = changes.iter().map(|e| e.component).collect();
    let mut across = false;
    for c in components {
        let of: Vec<&Scripted> = changes.iter().copied().filter(|e| e.component == c).collect();
        across |= of.iter().any(|e| e.operator != of[0].operator);
        let pairs = (0..of.len()).map(|i| of[i + 1..].iter().filter(|f| f.concurrent(of[i])).count()).sum::<usize>();
        out.status_pairs += pairs;
        let latest = edits.iter().filter(|e| e.component.as_deref() == Some(c)).max_by_key(|e| e.stamp);
        let Some(latest) = latest.filter(|_| pairs > 0) else { continue };
        for (host, (shown, _)) in audited {
            let ended = shown.statuses.iter().find(|(name, ..)| name == c).map(|(_, _, at)| *at);
            if ended.is_none_or(|at| at < latest.stamp) {
                out.hlc_order_broken.push(format!(
                    "{host} ended {c} on {}, not on write #{} stamped {}, the highest",
                    ended.map_or("no status".into(), |at| format!("the write stamped {}", stamp(at))),
                    latest.write,
                    stamp(latest.stamp)
                ));
            }
        }
    }
    let why =
        unjudged(across, out.status_pairs, audited, "no scripted status changes of one component were concurrent");
    out.not_judged.extend(why.map(|why| not_judged(HLC_ORDER, why)));
}

/// A timestamp as `physical ms.counter@node`.
fn stamp(at: Timestamp) -> String {
    format!("{}.{}@{}", at.l, at.c, at.node)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use edgesim_system::status::incident::ComponentStatus;

    use super::*;

    const EAST: u32 = 0;
    const WEST: u32 = 1;

    /// Two status regions: us-east is region id 0, eu-west id 1.
    fn regions() -> Vec<(String, String)> {
        [("status-us-east", "us-east"), ("status-eu-west", "eu-west")]
            .map(|(host, name)| (host.into(), name.into()))
            .to_vec()
    }

    fn at(t_us: u64, record: HarnessEvent) -> Event {
        Event { t_us, node: Rc::from("harness"), record: Record::Harness(record) }
    }

    /// A causal history holding `held` writes of each region id.
    fn history(held: &[(u32, u64)]) -> VClock {
        let mut clock = VClock::new();
        for &(id, writes) in held {
            (0..writes).for_each(|_| {
                clock.increment(id);
            });
        }
        clock
    }

    fn stamp_of(l: u64, node: u32) -> Timestamp {
        Timestamp { l, c: 0, node }
    }

    /// A scripted edit of `api` made in region `id`: a list edit (`listed`) or a status change.
    fn edited(write: u64, id: u32, listed: Option<bool>, stamp: Timestamp, held: &[(u32, u64)]) -> Event {
        at(
            write,
            HarnessEvent::Edited {
                write,
                region: regions()[id as usize].1.clone(),
                component: Some("api".into()),
                status: listed.is_none().then_some(ComponentStatus::Degraded),
                critical: false,
                stamp: Some(stamp),
                seen: None,
                after: None,
                error: None,
                listed,
                history: Some(history(held)),
                retracted: None,
                moved_to: None,
            },
        )
    }

    /// The final audit of region `id`: `api` listed or not, its status stamped `status` if any.
    fn final_doc(id: u32, listed: bool, status: Option<Timestamp>) -> Event {
        let statuses = status.map(|at| ("api".to_string(), ComponentStatus::Degraded, at)).into_iter().collect();
        at(
            100,
            HarnessEvent::FinalDoc {
                of: regions()[id as usize].0.clone(),
                shown: Some(Shown { posts: String::new(), unacked_posts: 0, statuses, digest: String::new() }),
                error: None,
                listed: if listed { vec!["api".into()] } else { vec![] },
            },
        )
    }

    fn acked(write: u64, stamp: Timestamp) -> AckedEdit {
        AckedEdit {
            t_us: write,
            write,
            stamp,
            seen: None,
            after: None,
            component: Some("api".into()),
            status: None,
            critical: false,
        }
    }

    #[test]
    fn a_concurrent_add_survives_a_remove_only_where_the_final_list_keeps_it() {
        // us-east adds `api` while eu-west removes it, neither having seen the other: one
        // add/remove pair, and add-wins holds when both regions end listing `api` and fires
        // for the region that ends without it.
        let edits = vec![
            edited(1, EAST, Some(true), stamp_of(10, EAST), &[(EAST, 1)]),
            edited(2, WEST, Some(false), stamp_of(11, WEST), &[(WEST, 1)]),
        ];
        let mut events = edits.clone();
        events.extend([final_doc(EAST, true, None), final_doc(WEST, true, None)]);
        let holds = check(&events, &[], &regions(), &[]);
        assert_eq!(holds.add_remove_pairs, 1);
        assert!(holds.add_wins_broken.is_empty() && holds.not_judged.is_empty(), "{holds:?}");

        let mut events = edits;
        events.extend([final_doc(EAST, true, None), final_doc(WEST, false, None)]);
        let fires = check(&events, &[], &regions(), &[]);
        assert_eq!(fires.add_remove_pairs, 1);
        assert_eq!(fires.add_wins_broken, ["status-eu-west does not list api, though no remove observed add #1"]);
    }

    #[test]
    fn an_add_that_observed_the_remove_is_no_concurrent_pair() {
        // eu-west removes `api`, then us-east adds it holding that remove: the add follows the
        // remove, so there is no concurrent pair, add-wins is not judged (saying why), and a
        // final list keeping the later add is no breach.
        let events = vec![
            edited(1, WEST, Some(false), stamp_of(10, WEST), &[(WEST, 1)]),
            edited(2, EAST, Some(true), stamp_of(11, EAST), &[(EAST, 1), (WEST, 1)]),
            final_doc(EAST, true, None),
            final_doc(WEST, true, None),
        ];
        let c = check(&events, &[], &regions(), &[]);
        assert_eq!(c.add_remove_pairs, 0);
        assert!(c.add_wins_broken.is_empty(), "{c:?}");
        assert_eq!(c.not_judged, [not_judged(ADD_WINS, "no scripted add and remove of one component were concurrent")]);
    }

    #[test]
    fn concurrent_status_writes_end_on_the_higher_timestamp_everywhere() {
        // Both regions set `api`'s status without seeing each other; eu-west's write is stamped
        // later. hlc-order holds when every region ends on it and fires for a region that ends
        // on us-east's lower-stamped write.
        let (low, high) = (stamp_of(10, EAST), stamp_of(20, WEST));
        let writes = vec![edited(1, EAST, None, low, &[(EAST, 1)]), edited(2, WEST, None, high, &[(WEST, 1)])];
        let acked = [acked(1, low), acked(2, high)];
        let mut events = writes.clone();
        events.extend([final_doc(EAST, false, Some(high)), final_doc(WEST, false, Some(high))]);
        let holds = check(&events, &acked, &regions(), &[]);
        assert_eq!(holds.status_pairs, 1);
        assert!(holds.hlc_order_broken.is_empty() && holds.not_judged.is_empty(), "{holds:?}");

        let mut events = writes;
        events.extend([final_doc(EAST, false, Some(low)), final_doc(WEST, false, Some(high))]);
        let fires = check(&events, &acked, &regions(), &[]);
        assert_eq!(fires.status_pairs, 1);
        assert_eq!(
            fires.hlc_order_broken,
            ["status-us-east ended api on the write stamped 10.0@0, not on write #2 stamped 20.0@1, the highest"]
        );
    }

    #[test]
    fn edits_from_two_regions_with_none_concurrent_are_not_judged() {
        // us-east sets `api`'s status, then eu-west sets it again having seen that write: edits
        // of one component from two regions but no concurrent pair, so hlc-order says it was
        // not judged and why, rather than reading as held. Nor does it give a verdict: us-east
        // ending on the earlier write is not its breach (the lost-update check judges that).
        let (first, second) = (stamp_of(10, EAST), stamp_of(20, WEST));
        let events = vec![
            edited(1, EAST, None, first, &[(EAST, 1)]),
            edited(2, WEST, None, second, &[(EAST, 1), (WEST, 1)]),
            final_doc(EAST, false, Some(first)),
            final_doc(WEST, false, Some(second)),
        ];
        let c = check(&events, &[acked(1, first), acked(2, second)], &regions(), &[]);
        assert_eq!((c.status_pairs, c.hlc_order_broken.len()), (0, 0));
        assert!(!c.is_empty());
        assert_eq!(
            c.not_judged,
            [not_judged(HLC_ORDER, "no scripted status changes of one component were concurrent")]
        );
    }
}
