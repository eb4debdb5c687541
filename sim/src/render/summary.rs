//! A suite's summary (`summary.json`): what it was asked to run (its plan: build, shard, the whole
//! suite's size and digest, its runs), then one entry per scenario x seed with its verdict, what
//! it broke, its key metrics, its event-log hash and its replay command. It holds no wall-clock
//! figure, so the same suite on the same build writes the same bytes; entries are sorted by
//! (path, seed), so a complete set of shards' summaries merges into exactly the unsharded one, and
//! any other set is refused. The suite's other outputs are rendered from it (`render`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::edge::charts::Charts;
use crate::edge::check::NotJudged;
use crate::edge::load::LoadStep;
use crate::edge::regions::Regions;
use crate::edge::ssr::SsrFigures;
use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::scenario::budget::{Budget, METRICS, Metric, MetricKind};
use crate::suite::shard::Shard;
use crate::verdict::{Verdict, budget_value, check, judge, replay, value};

/// Version of `summary.json`; bump it when its shape changes.
const SCHEMA: u32 = 7;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSummary {
    pub schema: u32,
    pub suite: String,
    pub plan: Plan,
    /// The worst entry's verdict, and the exit code it gives.
    pub verdict: Verdict,
    pub exit_code: u8,
    /// How many entries have each verdict.
    pub totals: BTreeMap<Verdict, usize>,
    /// The unit of each metric of the entries' `metrics`: `ms`, `count` (written as a whole
    /// number) or `percent`; a summary is read without it, as `merge` writes it again.
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    pub entries: Vec<Entry>,
}

/// What a summary was asked to run: `merge` joins only a complete set of shards of one suite and
/// build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The commit edgesim was built from (`verdict::COMMIT`).
    pub build: String,
    /// `K/N` for a shard; `None` for the whole suite.
    pub shard: Option<Shard>,
    /// How many runs the whole suite has, over all its shards.
    pub suite_runs: usize,
    /// A hash of the whole suite's runs: every scenario file's path and bytes, and every seed.
    pub suite_digest: String,
    /// The runs this summary was asked for, sorted by path, then seed.
    pub runs: Vec<Run>,
}

/// One scenario file at one seed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub path: String,
    pub seed: u64,
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
    /// Checkers that could not judge the run, and why.
    pub not_judged: Vec<NotJudged>,
    /// The harness error, when the run could not complete.
    pub error: Option<String>,
    /// Every budget metric the run could tell (`docs/SCENARIOS.md`), in the summary's `units`:
    /// durations in milliseconds, counts as whole numbers.
    #[serde(serialize_with = "counts_whole")]
    pub metrics: BTreeMap<String, f64>,
    pub event_log_hash: Option<String>,
    pub replay: String,
    /// What `report.html` draws of the run (`charts`); `None` when the run could not complete.
    pub charts: Option<Charts>,
    /// Each of the scenario's budgets, judged; empty when the run could not complete.
    pub budgets: Vec<BudgetResult>,
    /// The run's narrated timeline (`RunReport::timeline`).
    pub timeline: Vec<String>,
    /// Streaming SSR's figures, for a run with `[ssr]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssr: Option<SsrFigures>,
    /// Latency and shedding per load step, for a run with `load_steps`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadStep>,
    /// Lag, read latency, read-your-writes violations and failures per region of the PoPs, for
    /// an edge run.
    #[serde(default, skip_serializing_if = "Regions::is_empty")]
    pub regions: Regions,
}

/// One budget of a scenario, judged against a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetResult {
    /// As written in the scenario file.
    pub budget: String,
    pub metric: String,
    /// The run's value with its unit (`readable`); `None` when the run cannot tell, which breaks
    /// the budget.
    pub value: Option<String>,
    pub held: bool,
}

/// The unit a metric's value is in, as `summary.json`'s `units` names it.
fn unit(metric: Metric) -> &'static str {
    match metric.kind() {
        MetricKind::Duration => "ms",
        MetricKind::Count => "count",
        MetricKind::Percent => "percent",
    }
}

/// Metrics with each count written as a whole number.
fn counts_whole<S: serde::Serializer>(metrics: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(metrics.len()))?;
    for (name, v) in metrics {
        let count = METRICS.iter().any(|m| m.name() == name && m.kind() == MetricKind::Count);
        match count && v.fract() == 0.0 && *v >= 0.0 && *v < u64::MAX as f64 {
            true => map.serialize_entry(name, &(*v as u64))?,
            false => map.serialize_entry(name, v)?,
        }
    }
    map.end()
}

/// The command that replays a run of `scenario` at `seed`, with the `--set` overrides it was
/// loaded with.
pub(crate) fn replay_of(scenario: &Scenario, seed: u64) -> String {
    let quoted = |o: &String| match o.contains(|c: char| !(c.is_ascii_alphanumeric() || "._-=%/".contains(c))) {
        true => format!("'{}'", o.replace('\'', r"'\''")),
        false => o.clone(),
    };
    let sets: String = scenario.overrides.iter().map(|o| format!(" --set {}", quoted(o))).collect();
    replay(&scenario.path, seed) + &sets
}

/// A metric's value as a person reads it: durations in ms below a second and in s above, counts
/// whole, percentages to three decimals.
pub(crate) fn readable(metric: Metric, value: f64) -> String {
    match metric.kind() {
        MetricKind::Duration if value.abs() >= 1000.0 => format!("{:.1}s", value / 1000.0),
        MetricKind::Duration => format!("{value:.1}ms"),
        MetricKind::Count => format!("{value:.0}"),
        MetricKind::Percent => format!("{value:.3}%"),
    }
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
    #[error(
        "cannot merge summaries of different runs of suite `{suite}` ({first} and {second} runs, or other scenario files or seeds)"
    )]
    Runs { suite: String, first: usize, second: usize },
    #[error("cannot merge summaries of different builds: commit {0} and commit {1}")]
    Builds(String, String),
    #[error("cannot merge shards of a split into {0} with shards of a split into {1}")]
    Splits(usize, usize),
    #[error("shard {0} is given more than once")]
    Overlap(String),
    #[error("incomplete set of shards: {} missing", .0.join(", "))]
    Incomplete(Vec<String>),
    #[error("shard {shard}: its entries are not the runs it was asked for")]
    Unfinished { shard: String },
    #[error("{path} seed {seed} is in more than one summary")]
    Duplicate { path: String, seed: u64 },
    #[error("nothing to merge")]
    Empty,
}

impl Entry {
    /// The entry of one run of `scenario`: its report, or the harness error that stopped it.
    pub fn new(scenario: &Scenario, seed: u64, report: Result<&RunReport, &String>) -> Entry {
        let judgement = report.ok().map(|r| judge(scenario, r));
        Entry {
            scenario: scenario.name.clone(),
            path: scenario.path.clone(),
            seed,
            verdict: judgement.as_ref().map_or(Verdict::Error, |j| j.verdict),
            failed_budgets: judgement.as_ref().map_or(vec![], |j| j.failed_budgets.clone()),
            fired_checkers: judgement.as_ref().map_or(vec![], |j| j.fired_checkers.clone()),
            not_judged: judgement.map_or(vec![], |j| j.not_judged),
            error: report.err().cloned(),
            metrics: report.map_or(BTreeMap::new(), |r| {
                METRICS.iter().filter_map(|m| Some((m.name().to_string(), value(*m, r)?))).collect()
            }),
            event_log_hash: report.ok().map(|r| r.event_log_hash.clone()),
            replay: replay_of(scenario, seed),
            charts: report.ok().map(|r| r.charts.clone()),
            budgets: report.map_or(vec![], |r| {
                let judged = |b: &Budget| BudgetResult {
                    budget: b.text.clone(),
                    metric: b.metric.name().into(),
                    value: budget_value(b, r).map(|v| readable(b.metric, v)),
                    held: check(b, r).is_none(),
                };
                scenario.budgets.iter().map(judged).collect()
            }),
            timeline: report.map_or(vec![], |r| r.timeline.clone()),
            ssr: report.ok().and_then(|r| r.edge()?.ssr.as_deref().cloned()),
            load: report.ok().and_then(|r| Some(r.edge()?.load.clone())).unwrap_or_default(),
            regions: report.ok().and_then(|r| Some(r.edge()?.regions.clone())).unwrap_or_default(),
        }
    }

    fn run(&self) -> Run {
        Run { path: self.path.clone(), seed: self.seed }
    }

    /// A metric for a table: `-` when the run could not tell.
    pub(crate) fn cell(&self, metric: &str) -> String {
        let (Some(m), Some(v)) = (METRICS.iter().find(|m| m.name() == metric), self.metrics.get(metric)) else {
            return "-".into();
        };
        readable(*m, *v)
    }

    /// What went wrong, one item per line; empty for a pass.
    pub fn failures(&self) -> Vec<String> {
        let fired = self.fired_checkers.iter().map(|c| format!("checker fired: {c}"));
        let broken = self.failed_budgets.iter().map(|b| format!("budget broken: {b}"));
        let not_judged = self.not_judged.iter().map(|n| format!("not judged: {n}"));
        let error = self.error.iter().map(|e| format!("harness error: {e}"));
        fired.chain(broken).chain(not_judged).chain(error).collect()
    }
}

impl SuiteSummary {
    pub fn new(suite: &str, plan: Plan, mut entries: Vec<Entry>) -> SuiteSummary {
        entries.sort_by(|a, b| (&a.path, a.seed).cmp(&(&b.path, b.seed)));
        let mut totals: BTreeMap<Verdict, usize> =
            [Verdict::Pass, Verdict::NotJudged, Verdict::BudgetBroken, Verdict::CheckerFired, Verdict::Error]
                .map(|v| (v, 0))
                .into();
        for e in &entries {
            *totals.entry(e.verdict).or_default() += 1;
        }
        let verdict = entries.iter().map(|e| e.verdict).max().unwrap_or(Verdict::Pass);
        SuiteSummary {
            schema: SCHEMA,
            suite: suite.to_string(),
            plan,
            verdict,
            exit_code: verdict.exit_code(),
            totals,
            units: METRICS.iter().map(|m| (m.name().to_string(), unit(*m).to_string())).collect(),
            entries,
        }
    }

    /// The shard this summary is (1/1 for a whole suite).
    fn shard(&self) -> Shard {
        self.plan.shard.unwrap_or(Shard { k: 1, n: 1 })
    }

    /// Shards' summaries as one, as if the suite had run unsharded. Refused unless they are every
    /// shard of one split of the same runs of one suite, on one build, each once, and each holds
    /// an entry for exactly the runs it was asked for.
    pub fn merge(parts: Vec<SuiteSummary>) -> Result<SuiteSummary, SummaryError> {
        let first = parts.first().ok_or(SummaryError::Empty)?;
        let (suite, plan, n) = (first.suite.clone(), first.plan.clone(), first.shard().n);
        let mut shards = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let (mut runs, mut entries) = (Vec::new(), Vec::new());
        for part in parts {
            let shard = part.shard();
            if part.suite != suite {
                return Err(SummaryError::Suites(suite, part.suite));
            }
            if part.plan.build != plan.build {
                return Err(SummaryError::Builds(plan.build, part.plan.build));
            }
            if (&part.plan.suite_digest, part.plan.suite_runs) != (&plan.suite_digest, plan.suite_runs) {
                return Err(SummaryError::Runs { suite, first: plan.suite_runs, second: part.plan.suite_runs });
            }
            if shard.n != n {
                return Err(SummaryError::Splits(n, shard.n));
            }
            if !shards.insert(shard.k) {
                return Err(SummaryError::Overlap(shard.to_string()));
            }
            let asked: BTreeSet<Run> = part.plan.runs.iter().cloned().collect();
            let done: BTreeSet<Run> = part.entries.iter().map(Entry::run).collect();
            if asked != done || done.len() != part.entries.len() {
                return Err(SummaryError::Unfinished { shard: shard.to_string() });
            }
            for e in part.entries {
                if !seen.insert(e.run()) {
                    return Err(SummaryError::Duplicate { path: e.path, seed: e.seed });
                }
                entries.push(e);
            }
            runs.extend(part.plan.runs);
        }
        let missing: Vec<String> =
            (1..=n).filter(|k| !shards.contains(k)).map(|k| Shard { k, n }.to_string()).collect();
        if !missing.is_empty() {
            return Err(SummaryError::Incomplete(missing));
        }
        runs.sort();
        Ok(SuiteSummary::new(&suite, Plan { shard: None, runs, ..plan }, entries))
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
            not_judged: vec![],
            error: None,
            metrics: [("read_p99".to_string(), 9.583), ("ryw_violations".to_string(), 0.0)].into(),
            event_log_hash: Some("00ff".into()),
            replay: replay(path, seed),
            charts: None,
            budgets: vec![],
            timeline: vec![],
            ssr: None,
            load: vec![],
            regions: Default::default(),
        }
    }

    /// The summary of a whole suite that ran `entries`.
    pub fn summary(suite: &str, entries: Vec<Entry>) -> SuiteSummary {
        SuiteSummary::new(suite, plan(None, &entries), entries)
    }

    /// The plan of a suite's `shard` whose runs are `entries`' and whose whole has 3 runs.
    fn plan(shard: Option<Shard>, entries: &[Entry]) -> Plan {
        let mut runs: Vec<Run> = entries.iter().map(Entry::run).collect();
        runs.sort();
        Plan { build: "b".into(), shard, suite_runs: 3, suite_digest: "d".into(), runs }
    }

    #[test]
    fn entries_sort_by_path_and_seed_and_the_worst_verdict_wins() {
        let s = summary(
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
    fn merging_shards_gives_the_whole_and_refuses_any_other_set() {
        let all = vec![
            entry("a.toml", 1, Verdict::Pass),
            entry("a.toml", 2, Verdict::CheckerFired),
            entry("b.toml", 1, Verdict::Pass),
        ];
        let shard = |k: usize, n: usize, entries: Vec<Entry>| {
            let shard = Some(Shard { k, n });
            SuiteSummary::new("s", plan(shard, &entries), entries)
        };
        let whole = summary("s", all.clone());
        let one = shard(1, 2, vec![all[0].clone(), all[2].clone()]);
        let two = shard(2, 2, vec![all[1].clone()]);
        assert_eq!(SuiteSummary::merge(vec![two.clone(), one.clone()]).unwrap().json(), whole.json());
        assert_eq!(SuiteSummary::merge(vec![whole.clone()]).unwrap().json(), whole.json());

        let refused = |parts: Vec<SuiteSummary>| SuiteSummary::merge(parts).unwrap_err().to_string();
        assert_eq!(refused(vec![one.clone()]), "incomplete set of shards: 2/2 missing");
        assert_eq!(refused(vec![one.clone(), two.clone(), one.clone()]), "shard 1/2 is given more than once");
        assert_eq!(
            refused(vec![one.clone(), whole.clone()]),
            "cannot merge shards of a split into 2 with shards of a split into 1"
        );
        let mut other = two.clone();
        other.suite = "t".into();
        assert_eq!(refused(vec![one.clone(), other]), "cannot merge summaries of different suites: `s` and `t`");
        let mut other = two.clone();
        other.plan.build = "c".into();
        assert_eq!(
            refused(vec![one.clone(), other]),
            "cannot merge summaries of different builds: commit b and commit c"
        );
        let mut other = two.clone();
        other.plan.suite_digest = "e".into();
        assert!(refused(vec![one.clone(), other]).starts_with("cannot merge summaries of different runs of suite `s`"));
        let mut unfinished = two.clone();
        unfinished.entries.clear();
        assert_eq!(refused(vec![one.clone(), unfinished]), "shard 2/2: its entries are not the runs it was asked for");
        let mut overlapping = two;
        overlapping.plan.runs.push(all[0].run());
        overlapping.entries.push(all[0].clone());
        assert_eq!(refused(vec![one, overlapping]), "a.toml seed 1 is in more than one summary");
    }

    #[test]
    fn the_json_round_trips_byte_for_byte() {
        let s = summary("s", vec![entry("a.toml", 1, Verdict::Pass)]);
        let back: SuiteSummary = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(back.json(), s.json());
        assert_eq!(s.entries[0].cell("read_p99"), "9.6ms");
        assert_eq!(s.entries[0].cell("lost_acked_writes"), "-");
        let json = s.json();
        assert!(json.contains("\"ryw_violations\": 0\n") && json.contains("\"read_p99\": 9.583"), "{json}");
        assert!(json.contains("\"read_p99\": \"ms\"") && json.contains("\"ryw_violations\": \"count\""), "{json}");
    }
}
