//! What a page showed, in the compact form the event log keeps: the harness's ids of the timeline
//! updates on it (as ranges, `1-5,7`), the component statuses with the timestamps of the writes
//! that set them, and a digest of the whole document. The harness learns which update is which
//! from the timestamps its edits were acknowledged with (`Ids`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::{ComponentStatus, Incident};
use serde::Serialize;

/// The harness's id of each acknowledged edit, by the timestamp it was written under.
#[derive(Clone, Default)]
pub struct Ids(Rc<RefCell<BTreeMap<Timestamp, u64>>>);

impl Ids {
    pub(crate) fn learn(&self, at: Timestamp, write: u64) {
        self.0.borrow_mut().insert(at, write);
    }

    pub fn of(&self, at: &Timestamp) -> Option<u64> {
        self.0.borrow().get(at).copied()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shown {
    /// Ids of the acknowledged updates on the page, as ranges.
    pub posts: String,
    /// Updates on the page whose edit the harness has not seen acknowledged (yet).
    pub unacked_posts: usize,
    pub statuses: Vec<(String, ComponentStatus, Timestamp)>,
    /// xxh3 of the document's timeline and statuses, to compare replicas.
    pub digest: String,
}

impl Shown {
    pub fn of(doc: &Incident, ids: &Ids) -> Shown {
        let mut known = BTreeSet::new();
        let mut unacked = 0;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for u in doc.timeline() {
            hasher.update(format!("{}.{}.{}:{}\n", u.at.node, u.at.l, u.at.c, u.text).as_bytes());
            match ids.of(&u.at) {
                Some(id) => {
                    known.insert(id);
                }
                None => unacked += 1,
            }
        }
        let statuses: Vec<_> = doc.statuses().map(|(c, s, at)| (c.to_string(), s, at)).collect();
        for (c, s, at) in &statuses {
            hasher.update(format!("{c}={s:?}@{}.{}.{}\n", at.node, at.l, at.c).as_bytes());
        }
        for c in doc.listed() {
            hasher.update(format!("+{c}\n").as_bytes());
        }
        Shown { posts: ranges(&known), unacked_posts: unacked, statuses, digest: format!("{:016x}", hasher.digest()) }
    }
}

/// `1-3,5` for {1, 2, 3, 5}.
pub(crate) fn ranges(ids: &BTreeSet<u64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    for &id in ids {
        run = match run {
            Some((from, to)) if id == to + 1 => Some((from, id)),
            Some(done) => {
                out.push(show(done));
                Some((id, id))
            }
            None => Some((id, id)),
        };
    }
    out.extend(run.map(show));
    out.join(",")
}

fn show((from, to): (u64, u64)) -> String {
    if from == to { from.to_string() } else { format!("{from}-{to}") }
}

/// The ids in `ranges`; the log is the harness's own output, so a malformed range is a bug.
pub fn parse(ranges: &str) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
    for part in ranges.split(',').filter(|p| !p.is_empty()) {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        let (from, to): (u64, u64) = (from.parse().expect("harness-written range"), to.parse().expect("range"));
        ids.extend(from..=to);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        for ids in [vec![], vec![1], vec![1, 2, 3, 5], vec![2, 4, 6, 7, 8, 10]] {
            let set: BTreeSet<u64> = ids.into_iter().collect();
            assert_eq!(parse(&ranges(&set)), set);
        }
        assert_eq!(ranges(&[1, 2, 3, 5].into()), "1-3,5");
    }
}
