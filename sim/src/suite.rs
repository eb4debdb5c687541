//! Suites: many scenarios x seeds, each its own simulation, run on a pool of worker threads (one
//! simulation per thread; nothing inside a simulation is threaded), reported as one summary (`summary`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use crate::report::{RunReport, analyze};
use crate::scenario::{Scenario, ScenarioError};
use crate::shard::Shard;
use crate::summary::{COLUMNS, SuiteSummary};
use crate::world::simulate;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: no scenario files (*.toml) in this directory", .0.display())]
    Empty(PathBuf),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// The scenarios named by `paths`: files, or every `.toml` directly inside a directory, in name
/// order. Every one is checked before any runs.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Scenario>, SuiteError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| SuiteError::Read { path: p.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(SuiteError::Empty(p.clone()));
            }
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files.iter().map(|f| Scenario::load(f)).collect::<Result<_, _>>()?)
}

/// The suite's name: the directory's when it is one directory, else `suite`.
pub fn name(paths: &[PathBuf]) -> String {
    match paths {
        [dir] if dir.is_dir() => {
            dir.canonicalize().ok().and_then(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
        }
        _ => None,
    }
    .unwrap_or_else(|| "suite".into())
}

/// Every (scenario, seed) of the suite, seeds `1..=seeds` or each scenario's own, in order; only
/// the shard's share when sharded.
pub fn runs(scenarios: &[Scenario], seeds: Option<u64>, shard: Option<Shard>) -> Vec<(Scenario, u64)> {
    let all = scenarios.iter().flat_map(|s| {
        let seeds: Vec<u64> = seeds.map_or(vec![s.seed], |n| (1..=n).collect());
        seeds.into_iter().map(move |seed| (s.clone(), seed))
    });
    all.enumerate().filter(|(i, _)| shard.is_none_or(|s| s.keeps(*i))).map(|(_, run)| run).collect()
}

/// One finished run of a suite.
pub struct Outcome {
    pub scenario: Scenario,
    pub seed: u64,
    pub report: Result<RunReport, String>,
    pub wall_seconds: f64,
}

/// Runs every (scenario, seed) on `jobs` threads; `done` hears of each run as it finishes.
pub fn run(runs: Vec<(Scenario, u64)>, jobs: usize, done: &(dyn Fn(&Outcome) + Sync)) -> Vec<Outcome> {
    let queue = Mutex::new(runs.into_iter().enumerate().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((i, (scenario, seed))) = next else { return };
                    let started = Instant::now();
                    let report = simulate(&scenario, seed, &mut |_| {})
                        .map(|log| analyze(&scenario, seed, &log))
                        .map_err(|e| e.to_string());
                    let outcome = Outcome { scenario, seed, report, wall_seconds: started.elapsed().as_secs_f64() };
                    done(&outcome);
                    results.lock().expect("results").push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}

/// The progress bar of a suite on a terminal: `[#####-----] 12/24 runs, 3 failed, eta 40s`, the
/// estimate from the wall time the finished runs took.
pub fn progress(done: usize, total: usize, failed: usize, elapsed_s: f64) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let eta = if done == 0 { 0.0 } else { elapsed_s / done as f64 * total.saturating_sub(done) as f64 };
    format!(
        "[{}{}] {done}/{total} runs, {failed} failed, eta {eta:.0}s  ",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

/// The suite's table, one line per run.
pub fn table(summary: &SuiteSummary) -> String {
    let mut out = format!("{:<30} {:>6}", "scenario", "seed");
    for (header, _) in COLUMNS {
        out.push_str(&format!(" {header:>10}"));
    }
    out.push_str("  verdict\n");
    for e in &summary.entries {
        out.push_str(&format!("{:<30} {:>6}", e.scenario, e.seed));
        for (_, metric) in COLUMNS {
            out.push_str(&format!(" {:>10}", e.cell(metric)));
        }
        out.push_str(&format!("  {}\n", e.verdict.label()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::progress;

    #[test]
    fn the_progress_bar_fills_and_estimates_what_is_left() {
        assert_eq!(progress(5, 20, 1, 10.0), "[#####---------------] 5/20 runs, 1 failed, eta 30s  ");
        assert_eq!(progress(20, 20, 0, 40.0), "[####################] 20/20 runs, 0 failed, eta 0s  ");
        assert_eq!(progress(0, 0, 0, 0.0), "[####################] 0/0 runs, 0 failed, eta 0s  ");
    }
}
