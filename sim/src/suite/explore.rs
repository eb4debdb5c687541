//! Exploration (docs/SCENARIOS.md, Exploring and shrinking): many seeds of scenarios whose seeds
//! draw their fault schedules, counted by the checker each failure fired; and shrinking, which
//! searches for a smaller fixed schedule that still fails a seed's checker (dropping faults, a
//! crash made a plain restart, shortening them, moving them earlier, lowering loss rates) and writes it as an ordinary
//! scenario file. Every candidate is such a file, run as a suite's run is (`run`), so the file
//! written is one that was seen to fail.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::render::summary::Entry;
use crate::scenario::Scenario;
use crate::scenario::swarm::{Episode, FaultStep};
use crate::suite::run;
use crate::units::Dur;
use crate::verdict::Verdict;

/// What a set of explored runs found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Tally {
    pub runs: usize,
    pub failed: usize,
    /// Failed runs by what failed: each checker that fired, `budget` or `error`.
    pub by_checker: BTreeMap<String, usize>,
    /// Simulated seconds over the runs that completed (their charts' ends).
    pub sim_seconds: f64,
}

/// What failed in a run: its fired checkers, else `budget` or `error`; nothing when it passed.
pub fn failures(e: &Entry) -> Vec<String> {
    match e.verdict {
        Verdict::Pass => Vec::new(),
        Verdict::CheckerFired => e.fired_checkers.clone(),
        Verdict::BudgetBroken => vec!["budget".into()],
        Verdict::NotJudged => vec!["not judged".into()],
        Verdict::Error => vec!["error".into()],
    }
}

pub(crate) fn tally(entries: &[Entry]) -> Tally {
    let mut t = Tally { runs: entries.len(), ..Tally::default() };
    for e in entries {
        let failed = failures(e);
        t.failed += usize::from(!failed.is_empty());
        for f in failed {
            *t.by_checker.entry(f).or_default() += 1;
        }
        t.sim_seconds += e.charts.as_ref().map_or(0.0, |c| c.end_ms as f64 / 1e3);
    }
    t
}

/// The summary `explore` prints.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "explored {} runs, {:.0} simulated seconds: {} failed", self.runs, self.sim_seconds, self.failed)?;
        for (checker, n) in &self.by_checker {
            writeln!(f, "  {checker:<28} {n}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("{path} seed {seed} does not fail{}: nothing to shrink", checker.as_ref().map_or(String::new(), |c| format!(" `{c}`")))]
    Passes { path: String, seed: u64, checker: Option<String> },
    #[error("{0}: {1}")]
    File(String, String),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// A shrunk failure: the fixed schedule found, the checker it fails, the runs the search took.
#[derive(Debug)]
pub struct Shrunk {
    pub checker: String,
    /// The drawn faults at the start, and at the end of the search.
    pub drawn: usize,
    pub kept: Vec<Episode>,
    pub runs: usize,
    /// Whether a last run of the written file failed the same checker.
    pub reproduced: bool,
}

/// The most runs a shrink search takes, the seed's own run and the check of the file included.
pub(crate) const MAX_SHRINK_RUNS: usize = 60;
/// The wall-clock time a shrink's run may take before it is killed, as `suite --run-timeout`'s
/// default.
const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Shrinks the schedule `seed` draws for `scenario` to a smaller fixed one that fails the same
/// checker (`checker`, or the first the seed fires), written to `out` as a scenario file. Runs
/// are child processes of `exe`, one at a time.
pub fn shrink(
    exe: &Path,
    scenario: &Scenario,
    seed: u64,
    checker: Option<&str>,
    out: &Path,
) -> Result<Shrunk, ShrinkError> {
    let mut search = Search { exe, scenario, seed, out, runs: 0, checker: String::new() };
    let first = search.run(scenario);
    let fired = failures(&first);
    let checker = match checker {
        Some(c) if fired.iter().any(|f| f == c) => c.to_string(),
        None if !fired.is_empty() => fired[0].clone(),
        _ => {
            return Err(ShrinkError::Passes { path: scenario.path.clone(), seed, checker: checker.map(String::from) });
        }
    };
    search.checker = checker.clone();
    let drawn = scenario.episodes(seed);
    let mut kept = drawn.clone();
    search.minimise(&mut kept)?;
    let text = search.file(&kept)?;
    std::fs::write(out, &text).map_err(|source| ShrinkError::Write { path: out.to_path_buf(), source })?;
    let written = Scenario::load(out).map_err(|e| ShrinkError::File(out.display().to_string(), e.to_string()))?;
    let reproduced = failures(&search.run(&written)).contains(&checker);
    Ok(Shrunk { checker, drawn: drawn.len(), kept, runs: search.runs, reproduced })
}

struct Search<'a> {
    exe: &'a Path,
    scenario: &'a Scenario,
    seed: u64,
    out: &'a Path,
    runs: usize,
    checker: String,
}

impl Search<'_> {
    fn run(&mut self, scenario: &Scenario) -> Entry {
        self.runs += 1;
        let pace = run::Pace { jobs: 1, limit: RUN_LIMIT, stop_at_first: false };
        let mut outcomes = run::run(self.exe, vec![(scenario.clone(), self.seed)], pace, &|_| {});
        outcomes.pop().expect("one run").entry
    }

    /// Whether the fixed schedule `episodes` fails the checker; false once the runs are spent.
    fn fails(&mut self, episodes: &[Episode]) -> Result<bool, ShrinkError> {
        if self.runs + 1 >= MAX_SHRINK_RUNS {
            return Ok(false);
        }
        let candidate = self.out.with_extension("candidate.toml");
        std::fs::write(&candidate, self.file(episodes)?)
            .map_err(|source| ShrinkError::Write { path: candidate.clone(), source })?;
        let scenario = Scenario::load(&candidate)
            .map_err(|e| ShrinkError::File(candidate.display().to_string(), e.to_string()))?;
        let fired = failures(&self.run(&scenario)).contains(&self.checker);
        let _ = std::fs::remove_file(&candidate);
        Ok(fired)
    }

    /// Drops every fault it can (all at once first), then makes each kept one a plain restart
    /// where it was a crash, shortens it, moves it earlier and lowers its loss rate, while the
    /// checker still fires.
    fn minimise(&mut self, kept: &mut Vec<Episode>) -> Result<(), ShrinkError> {
        if !kept.is_empty() && self.fails(&[])? {
            kept.clear();
            return Ok(());
        }
        self.drop_each(kept)?;
        let from = self.scenario.swarm.as_ref().map_or(Duration::ZERO, |s| s.from);
        for i in 0..kept.len() {
            let tries: [fn(&Episode, Duration) -> Option<Episode>; 4] = [simpler, shorter, earlier, gentler];
            for smaller in tries {
                for _ in 0..4 {
                    let Some(e) = smaller(&kept[i], from) else { break };
                    let mut candidate = kept.clone();
                    candidate[i] = e;
                    if !self.fails(&candidate)? {
                        break;
                    }
                    *kept = candidate;
                }
            }
        }
        // A fault made smaller may leave another one unneeded.
        self.drop_each(kept)
    }

    /// Drops each fault, last first, that the checker fires without.
    fn drop_each(&mut self, kept: &mut Vec<Episode>) -> Result<(), ShrinkError> {
        let mut i = kept.len();
        while i > 0 {
            i -= 1;
            let mut fewer = kept.clone();
            fewer.remove(i);
            if self.fails(&fewer)? {
                *kept = fewer;
            }
        }
        Ok(())
    }

    /// The scenario file of a fixed schedule: the scenario's own file without its `[swarm]`, its
    /// seed set to the run's, and `episodes` as `[[fault]]`s after its own.
    fn file(&self, episodes: &[Episode]) -> Result<String, ShrinkError> {
        let path = &self.scenario.path;
        let bad = |m: String| ShrinkError::File(path.clone(), m);
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let steps: Vec<FaultStep> = episodes.iter().flat_map(Episode::steps).collect();
        let header = format!(
            "# Shrunk by `edgesim shrink` from {path} seed {}: {} drawn faults kept as fixed ones, failing `{}`.\n\n",
            self.seed,
            episodes.len(),
            self.checker
        );
        fixed_file(&text, self.seed, &steps).map(|body| header + &body).map_err(bad)
    }
}

/// `text`, a scenario file, with its `[swarm]` replaced by the fixed faults `steps` and its seed
/// set to `seed`.
pub(crate) fn fixed_file(text: &str, seed: u64, steps: &[FaultStep]) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    table.remove("swarm");
    table.insert("seed".into(), toml::Value::Integer(seed as i64));
    let mut faults = match table.remove("fault") {
        Some(toml::Value::Array(faults)) => faults,
        _ => Vec::new(),
    };
    for step in steps {
        faults.push(toml::Value::try_from(step).map_err(|e| e.to_string())?);
    }
    if !faults.is_empty() {
        table.insert("fault".into(), toml::Value::Array(faults));
    }
    toml::to_string(&table).map_err(|e| e.to_string())
}

/// A crash (silent or not) as just a bounce where it ended: a crash and a restart at once.
fn simpler(e: &Episode, _: Duration) -> Option<Episode> {
    use crate::scenario::FaultKind::{Crash, Restart, SilentCrash};
    matches!(e.kind, Crash | SilentCrash).then(|| Episode { kind: Restart, at: e.until, ..e.clone() })
}

/// Half as long, when it lasts and is longer than 100ms.
fn shorter(e: &Episode, _: Duration) -> Option<Episode> {
    let length = e.until.saturating_sub(e.at);
    let half = Duration::from_millis((length.as_millis() / 2) as u64);
    (e.ends() && half >= Duration::from_millis(100)).then(|| Episode { until: e.at + half, ..e.clone() })
}

/// Half way to the start of the fault phase, length kept, when that moves it by 100ms or more.
fn earlier(e: &Episode, from: Duration) -> Option<Episode> {
    let by = Duration::from_millis((e.at.saturating_sub(from).as_millis() / 2) as u64);
    (by >= Duration::from_millis(100)).then(|| Episode { at: e.at - by, until: e.until - by, ..e.clone() })
}

/// A loss fault at half its rate, while that is at least 0.0001.
fn gentler(e: &Episode, _: Duration) -> Option<Episode> {
    let rate = (e.rate / 2.0 * 1e4).round() / 1e4;
    (e.kind == crate::scenario::FaultKind::Loss && rate >= 1e-4 && rate < e.rate).then(|| Episode { rate, ..e.clone() })
}

/// One line per kept fault, for the shrink report.
pub(crate) fn describe(kept: &[Episode]) -> Vec<String> {
    kept.iter()
        .map(|e| {
            let what = match e.kind {
                crate::scenario::FaultKind::Loss => format!(" rate {}", e.rate),
                crate::scenario::FaultKind::Latency => format!(" latency {}", Dur(e.latency)),
                _ => String::new(),
            };
            let when = match e.kind {
                crate::scenario::FaultKind::Restart => format!("at {}", Dur(e.at)),
                crate::scenario::FaultKind::Latency => format!("from {} to the heal", Dur(e.at)),
                _ => format!("from {} to {}", Dur(e.at), Dur(e.until)),
            };
            format!("{} {} {when}{what}", e.kind.written(), e.target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FaultKind;

    /// A fixed file drops the swarm, sets the seed and writes each drawn fault as a `[[fault]]`
    /// that loads as a scenario again.
    #[test]
    fn a_fixed_file_loads_with_the_drawn_faults() {
        let text = "name = \"t\"\nduration = \"30s\"\nprimary_region = \"a\"\n[[region]]\nname = \"a\"\npops = 1\n\
                    to_primary = \"1ms\"\n[liveness]\nheal = \"20s\"\nwithin = \"5s\"\n[swarm]\nfrom = \"1s\"\n\
                    faults = \"1..2\"\nkinds = [\"hold\"]\nroles = [\"pop\"]\nlasting = \"1s..2s\"\n";
        let e = Episode {
            kind: FaultKind::Hold,
            target: "pop-a-1".into(),
            at: Duration::from_secs(2),
            until: Duration::from_secs(3),
            rate: 0.0,
            latency: Duration::ZERO,
        };
        let fixed = fixed_file(text, 7, &e.steps()).unwrap();
        let s = Scenario::parse("f.toml", &fixed).unwrap();
        assert!(s.swarm.is_none() && s.liveness.is_some());
        assert_eq!(s.seed, 7);
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].action.to_string().split(' ').next(), Some("hold"));
    }

    /// Each way of making a fault smaller stops at its floor.
    #[test]
    fn smaller_faults_stop_at_their_floor() {
        let e = Episode {
            kind: FaultKind::Loss,
            target: "everyone".into(),
            at: Duration::from_secs(10),
            until: Duration::from_secs(14),
            rate: 0.0002,
            latency: Duration::ZERO,
        };
        assert_eq!(shorter(&e, Duration::ZERO).unwrap().until, Duration::from_secs(12));
        assert_eq!(earlier(&e, Duration::from_secs(2)).unwrap().at, Duration::from_secs(6));
        assert_eq!(gentler(&e, Duration::ZERO).unwrap().rate, 0.0001);
        let floor = Episode { until: e.at + Duration::from_millis(150), rate: 0.0001, ..e.clone() };
        assert!(shorter(&floor, Duration::ZERO).is_none());
        assert!(earlier(&floor, Duration::from_secs(10)).is_none());
        assert!(gentler(&floor, Duration::ZERO).is_none());
        let crash = Episode { kind: FaultKind::Crash, ..e.clone() };
        let restart = simpler(&crash, Duration::ZERO).unwrap();
        assert_eq!((restart.kind, restart.at), (FaultKind::Restart, e.until));
        assert!(simpler(&restart, Duration::ZERO).is_none() && shorter(&restart, Duration::ZERO).is_none());
    }
}
