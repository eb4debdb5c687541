//! The replication lag chart's raw points, folded as frames are applied: per series (a region's
//! PoP replicas, or the standby), the highest lag in each millisecond.

use std::collections::BTreeMap;

use crate::scenario::roles::EdgeRole;
use crate::units::ms;

/// The series a follower's lag belongs to: its region for a PoP replica (`pop-REGION-N`), else
/// `standby` (the standby, or a former primary following again).
fn series(node: &str) -> String {
    match EdgeRole::of(node) {
        Some(EdgeRole::Pop { region, .. }) => region.to_string(),
        _ => "standby".into(),
    }
}

/// The replication lag of applied frames, per series: the highest lag in each millisecond, so it
/// can be bucketed once the run's length is known.
#[derive(Default)]
pub struct Lag(BTreeMap<String, Vec<(u64, f64)>>);

impl Lag {
    /// `node` applied a frame at `t_us`, `took_us` after its commit.
    pub fn applied(&mut self, node: &str, t_us: u64, took_us: u64) {
        let (at_ms, lag) = (t_us / 1000, ms(took_us));
        let line = self.0.entry(series(node)).or_default();
        match line.last_mut() {
            Some((last, worst)) if *last == at_ms => *worst = worst.max(lag),
            _ => line.push((at_ms, lag)),
        }
    }

    pub(crate) fn buckets(&self, bucket_ms: u64, end_us: u64) -> BTreeMap<String, Vec<Option<f64>>> {
        let buckets = (end_us / 1000 / bucket_ms + 1) as usize;
        let bucketed = |line: &Vec<(u64, f64)>| {
            let mut out = vec![None; buckets];
            for (at_ms, lag) in line {
                let slot: &mut Option<f64> = &mut out[(at_ms / bucket_ms) as usize];
                *slot = Some(slot.map_or(*lag, |was| was.max(*lag)));
            }
            out
        };
        self.0.iter().map(|(series, line)| (series.clone(), bucketed(line))).collect()
    }
}
