//! Suites: many scenarios x seeds, each its own simulation, run on a pool of worker threads (one
//! simulation per thread; nothing inside a simulation is threaded), reported as one table.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;

use crate::report::{RunReport, analyze};
use crate::scenario::Scenario;
use crate::world::simulate;

/// The scenarios named by `paths`: files, or every `.toml` directly inside a directory, in name
/// order.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<Scenario>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            inside.sort();
            if inside.is_empty() {
                anyhow::bail!("{}: no scenario files (*.toml) in this directory", p.display());
            }
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    files.iter().map(|f| Scenario::load(Path::new(f)).map_err(Into::into)).collect()
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

/// The suite's table, one line per run.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "{:<22} {:>6} {:>10} {:>11} {:>10} {:>6} {:>6} {:>9}  {}\n",
        "scenario", "seed", "read p99", "write p99", "lag p99", "ryw", "lost", "converged", "verdict"
    );
    for o in outcomes {
        let line = match &o.report {
            Ok(r) => {
                let worst =
                    |f: &dyn Fn(&crate::metrics::RegionLatency) -> f64| r.latency.values().map(f).fold(0.0, f64::max);
                let lost = r.checks.lost_acked_writes.as_ref().map_or("?".to_string(), |l| l.len().to_string());
                let fired = r.checks.fired();
                let verdict = if fired.is_empty() { "ok".to_string() } else { format!("FIRED {}", fired.join(",")) };
                format!(
                    "{:<22} {:>6} {:>8.1}ms {:>9.1}ms {:>8.1}ms {:>6} {:>6} {:>9}  {verdict}",
                    o.scenario.name,
                    o.seed,
                    worst(&|l| l.read.p99_ms),
                    worst(&|l| l.write.p99_ms),
                    r.replication.lag.p99_ms,
                    r.checks.ryw_violations,
                    lost,
                    if r.checks.convergence.converged { "yes" } else { "NO" },
                )
            }
            Err(e) => format!("{:<22} {:>6}  HARNESS ERROR: {e}", o.scenario.name, o.seed),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
