//! A suite's summary (`summary.json`): one entry per scenario x seed with its verdict, what it
//! broke, its key metrics, its event-log hash and its replay command. It holds no wall-clock
//! figure, so the same suite on the same build writes the same bytes; entries are sorted by
//! (path, seed), so shards' summaries merge into exactly the unsharded one. `junit.xml` and
//! `report.md` are rendered from it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::budget::METRICS;
use crate::charts::Charts;
use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::suite::Outcome;
use crate::verdict::{Verdict, judge, replay};
use crate::{html, junit, markdown};

/// Version of `summary.json`; bump it when its shape changes.
pub const SCHEMA: u32 = 2;

/// The files a suite writes into its output directory.
pub const FILES: [&str; 4] = ["summary.json", "junit.xml", "report.md", "report.html"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSummary {
    pub schema: u32,
    pub suite: String,
    /// The worst entry's verdict, and the exit code it gives.
    pub verdict: Verdict,
    pub exit_code: u8,
    /// How many entries have each verdict.
    pub totals: BTreeMap<Verdict, usize>,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub verdict: Verdict,
    pub failed_budgets: Vec<String>,
    pub fired_checkers: Vec<String>,
    /// The harness error, when the run could not complete.
    pub error: Option<String>,
    /// Every budget metric the run could tell (`docs/SCENARIOS.md`), durations in milliseconds.
    pub metrics: BTreeMap<String, f64>,
    pub event_log_hash: Option<String>,
    pub replay: String,
    /// What `report.html` draws of the run (`charts`); `None` when the run could not complete.
    pub charts: Option<Charts>,
}

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: not a suite summary: {source}", path.display())]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{}: summary schema {found}, this edgesim reads schema {SCHEMA}", path.display())]
    Schema { path: PathBuf, found: u32 },
    #[error("cannot merge summaries of different suites: `{0}` and `{1}`")]
    Suites(String, String),
    #[error("{path} seed {seed} is in more than one summary")]
    Duplicate { path: String, seed: u64 },
    #[error("nothing to merge")]
    Empty,
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl Entry {
    pub fn of(o: &Outcome) -> Entry {
        Entry::new(&o.scenario, o.seed, o.report.as_ref())
    }

    /// The entry of one run of `scenario`: its report, or the harness error that stopped it.
    pub fn new(scenario: &Scenario, seed: u64, report: Result<&RunReport, &String>) -> Entry {
        let judgement = report.ok().map(|r| judge(scenario, r));
        Entry {
            scenario: scenario.name.clone(),
            path: scenario.path.clone(),
            seed,
            verdict: judgement.as_ref().map_or(Verdict::Error, |j| j.verdict),
            failed_budgets: judgement.as_ref().map_or(vec![], |j| j.failed_budgets.clone()),
            fired_checkers: judgement.map_or(vec![], |j| j.fired_checkers),
            error: report.err().cloned(),
            metrics: report.map_or(BTreeMap::new(), |r| {
                METRICS.iter().filter_map(|m| Some((m.name.to_string(), m.value(r)?))).collect()
            }),
            event_log_hash: report.ok().map(|r| r.event_log_hash.clone()),
            replay: replay(&scenario.path, seed),
            charts: report.ok().map(|r| r.charts.clone()),
        }
    }

    /// A metric for a table: `-` when the run could not tell.
    pub fn cell(&self, metric: &str) -> String {
        let (Some(m), Some(v)) = (METRICS.iter().find(|m| m.name == metric), self.metrics.get(metric)) else {
            return "-".into();
        };
        m.show((v * 10.0).round() / 10.0)
    }

    /// What went wrong, one item per line; empty for a pass.
    pub fn failures(&self) -> Vec<String> {
        let fired = self.fired_checkers.iter().map(|c| format!("checker fired: {c}"));
        let broken = self.failed_budgets.iter().map(|b| format!("budget broken: {b}"));
        let error = self.error.iter().map(|e| format!("harness error: {e}"));
        fired.chain(broken).chain(error).collect()
    }
}

/// The columns of the suite tables: header and metric.
pub const COLUMNS: [(&str, &str); 9] = [
    ("read p99", "read_p99"),
    ("write p99", "write_p99"),
    ("lag p99", "lag_p99"),
    ("ryw", "ryw_violations"),
    ("lost", "lost_acked_writes"),
    ("diverged", "diverged_nodes"),
    ("page avail", "page_availability"),
    ("stale p99", "staleness_p99"),
    ("notif lost", "notifications_lost"),
];

impl SuiteSummary {
    pub fn new(suite: &str, mut entries: Vec<Entry>) -> SuiteSummary {
        entries.sort_by(|a, b| (&a.path, a.seed).cmp(&(&b.path, b.seed)));
        let mut totals: BTreeMap<Verdict, usize> =
            [Verdict::Pass, Verdict::BudgetBroken, Verdict::CheckerFired, Verdict::Error].map(|v| (v, 0)).into();
        for e in &entries {
            *totals.entry(e.verdict).or_default() += 1;
        }
        let verdict = entries.iter().map(|e| e.verdict).max().unwrap_or(Verdict::Pass);
        SuiteSummary {
            schema: SCHEMA,
            suite: suite.to_string(),
            verdict,
            exit_code: verdict.exit_code(),
            totals,
            entries,
        }
    }

    /// Shards' summaries as one, as if the suite had run unsharded.
    pub fn merge(parts: Vec<SuiteSummary>) -> Result<SuiteSummary, SummaryError> {
        let suite = parts.first().ok_or(SummaryError::Empty)?.suite.clone();
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        for part in parts {
            if part.suite != suite {
                return Err(SummaryError::Suites(suite, part.suite));
            }
            for e in part.entries {
                if !seen.insert((e.path.clone(), e.seed)) {
                    return Err(SummaryError::Duplicate { path: e.path, seed: e.seed });
                }
                entries.push(e);
            }
        }
        Ok(SuiteSummary::new(&suite, entries))
    }

    pub fn load(path: &Path) -> Result<SuiteSummary, SummaryError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SummaryError::Read { path: path.to_path_buf(), source })?;
        let parse = |source| SummaryError::Parse { path: path.to_path_buf(), source };
        #[derive(Deserialize)]
        struct Head {
            schema: u32,
        }
        let head: Head = serde_json::from_str(&text).map_err(parse)?;
        if head.schema != SCHEMA {
            return Err(SummaryError::Schema { path: path.to_path_buf(), found: head.schema });
        }
        serde_json::from_str(&text).map_err(parse)
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes") + "\n"
    }

    /// Writes `summary.json`, `junit.xml`, `report.md` and `report.html` into `dir`, creating it.
    pub fn write(&self, dir: &Path) -> Result<(), SummaryError> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(&path, text))
                .map_err(|source| SummaryError::Write { path, source })
        };
        write(FILES[0], self.json())?;
        write(FILES[1], junit::render(self))?;
        write(FILES[2], markdown::render(self))?;
        write(FILES[3], html::render(self))
    }
}

/// Removes the outputs an earlier suite left in `dir`, so a failed run leaves nothing that looks
/// like a pass.
pub fn clear(dir: &Path) -> Result<(), SummaryError> {
    for name in FILES {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(SummaryError::Write { path, source: e });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn entry(path: &str, seed: u64, verdict: Verdict) -> Entry {
        Entry {
            scenario: path.trim_end_matches(".toml").into(),
            path: path.into(),
            seed,
            verdict,
            failed_budgets: if verdict == Verdict::BudgetBroken {
                vec!["read_p99 < 1ms (was 9.6ms)".into()]
            } else {
                vec![]
            },
            fired_checkers: if verdict == Verdict::CheckerFired { vec!["read-your-writes".into()] } else { vec![] },
            error: None,
            metrics: [("read_p99".to_string(), 9.583), ("ryw_violations".to_string(), 0.0)].into(),
            event_log_hash: Some("00ff".into()),
            replay: replay(path, seed),
            charts: None,
        }
    }

    #[test]
    fn entries_sort_by_path_and_seed_and_the_worst_verdict_wins() {
        let s = SuiteSummary::new(
            "s",
            vec![
                entry("b.toml", 1, Verdict::Pass),
                entry("a.toml", 2, Verdict::BudgetBroken),
                entry("a.toml", 1, Verdict::Pass),
            ],
        );
        let order: Vec<_> = s.entries.iter().map(|e| (e.path.as_str(), e.seed)).collect();
        assert_eq!(order, vec![("a.toml", 1), ("a.toml", 2), ("b.toml", 1)]);
        assert_eq!((s.verdict, s.exit_code), (Verdict::BudgetBroken, 1));
        assert_eq!(s.totals[&Verdict::Pass], 2);
    }

    #[test]
    fn merging_shards_gives_the_whole_and_refuses_overlaps() {
        let all = vec![
            entry("a.toml", 1, Verdict::Pass),
            entry("a.toml", 2, Verdict::CheckerFired),
            entry("b.toml", 1, Verdict::Pass),
        ];
        let whole = SuiteSummary::new("s", all.clone());
        let one = SuiteSummary::new("s", vec![all[0].clone(), all[2].clone()]);
        let two = SuiteSummary::new("s", vec![all[1].clone()]);
        assert_eq!(SuiteSummary::merge(vec![two.clone(), one.clone()]).unwrap().json(), whole.json());
        assert!(matches!(SuiteSummary::merge(vec![one.clone(), one]), Err(SummaryError::Duplicate { .. })));
        let other = SuiteSummary::new("t", vec![]);
        assert!(matches!(SuiteSummary::merge(vec![two, other]), Err(SummaryError::Suites(..))));
    }

    #[test]
    fn the_json_round_trips_byte_for_byte() {
        let s = SuiteSummary::new("s", vec![entry("a.toml", 1, Verdict::Pass)]);
        let back: SuiteSummary = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(back.json(), s.json());
        assert_eq!(s.entries[0].cell("read_p99"), "9.6ms");
        assert_eq!(s.entries[0].cell("lost_acked_writes"), "-");
    }
}
