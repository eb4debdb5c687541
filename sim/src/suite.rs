//! Suites: many scenarios x seeds, reported as one summary (`summary`). Each (scenario, seed) runs
//! in a child process of the same binary (`edgesim run-entry`, which prints the run's summary
//! entry as JSON), `jobs` at a time, so a run that panics, aborts or runs out of memory becomes an
//! `error` entry with its replay command while every other run, and every output, still completes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xxhash_rust::xxh3::Xxh3;

use crate::report::analyze;
use crate::scenario::{Scenario, ScenarioError};
use crate::shard::{Shard, share};
use crate::summary::{COLUMNS, Entry, Plan, Run, SuiteSummary};
use crate::verdict::COMMIT;
use crate::world::simulate;

/// The hidden subcommand that runs one (scenario, seed) of a suite and prints its entry.
pub const RUN_ENTRY: &str = "run-entry";

/// Test only: `EDGESIM_TEST_CRASH=HOW:NAME[,HOW:NAME...]` makes the run of scenario `NAME` in a
/// suite die halfway through its duration, `HOW` being `panic` or `oom` (an allocation that fails,
/// which aborts the process as running out of memory does).
pub const TEST_CRASH: &str = "EDGESIM_TEST_CRASH";

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
/// order; a file named twice (by any spelling) is run once, where it is first named. Every one is
/// checked before any runs.
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
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
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
    share(all, shard).collect()
}

/// The plan of `shard` (the whole suite when `None`) of the suite whose runs are `all`.
pub fn plan(all: &[(Scenario, u64)], shard: Option<Shard>) -> Result<Plan, SuiteError> {
    let mut files = BTreeMap::new();
    let mut digest = Xxh3::new();
    for (scenario, seed) in all {
        let path = &scenario.path;
        if !files.contains_key(path) {
            let bytes = std::fs::read(path).map_err(|source| SuiteError::Read { path: path.into(), source })?;
            files.insert(path.clone(), xxhash_rust::xxh3::xxh3_64(&bytes));
        }
        digest.update(path.as_bytes());
        digest.update(&[0]);
        digest.update(&files[path].to_le_bytes());
        digest.update(&seed.to_le_bytes());
    }
    let mut runs: Vec<Run> = share(all, shard).map(|(s, seed)| Run { path: s.path.clone(), seed: *seed }).collect();
    runs.sort();
    Ok(Plan {
        build: COMMIT.to_string(),
        shard,
        suite_runs: all.len(),
        suite_digest: format!("{:016x}", digest.digest()),
        runs,
    })
}

/// One run of a suite, as the child process `edgesim run-entry` runs it: its summary entry. A
/// panic prints one line, `panicked at FILE:LINE:COLUMN: MESSAGE`, the same on every run, for the
/// suite to put in the run's `error` entry.
pub fn run_entry(scenario: &Scenario, seed: u64) -> Entry {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or(String::new(), |l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()));
        eprintln!("panicked{at}: {}", info.payload_as_str().unwrap_or("(no message)"));
    }));
    let crash = test_crash(&scenario.name);
    let halfway = scenario.duration / 2;
    let report = simulate(scenario, seed, &mut |at| {
        if let Some(how) = crash.filter(|_| at >= halfway) {
            how.now(&scenario.name, at);
        }
    })
    .map(|log| analyze(scenario, seed, &log))
    .map_err(|e| e.to_string());
    Entry::new(scenario, seed, report.as_ref())
}

/// How `EDGESIM_TEST_CRASH` makes a run die.
#[derive(Clone, Copy)]
enum Crash {
    Panic,
    OutOfMemory,
}

impl Crash {
    fn now(self, scenario: &str, at: Duration) {
        match self {
            Crash::Panic => panic!("{TEST_CRASH}: {scenario} panics at {}s (test only)", at.as_secs()),
            Crash::OutOfMemory => {
                std::alloc::handle_alloc_error(std::alloc::Layout::from_size_align(1 << 40, 8).expect("a layout"))
            }
        }
    }
}

/// What `EDGESIM_TEST_CRASH` asks of the runs of `scenario`.
fn test_crash(scenario: &str) -> Option<Crash> {
    let asked = std::env::var(TEST_CRASH).ok()?;
    asked.split(',').find_map(|item| match item.trim().split_once(':') {
        Some(("panic", name)) if name == scenario => Some(Crash::Panic),
        Some(("oom", name)) if name == scenario => Some(Crash::OutOfMemory),
        _ => None,
    })
}

/// One finished run of a suite.
pub struct Outcome {
    pub entry: Entry,
    pub wall_seconds: f64,
}

/// Runs every (scenario, seed), each in a child process of `exe`, `jobs` at a time; `done` hears
/// of each run as it finishes. A child that dies, or prints no entry of its run, gives an `error`
/// entry carrying how it ended and the end of its stderr (without a backtrace, so the same on
/// every run: replay the run for one).
pub fn run(exe: &Path, runs: Vec<(Scenario, u64)>, jobs: usize, done: &(dyn Fn(&Outcome) + Sync)) -> Vec<Outcome> {
    let queue = Mutex::new(runs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((i, (scenario, seed))) = next else { return };
                    let started = Instant::now();
                    let entry = Command::new(exe)
                        .arg(RUN_ENTRY)
                        .arg(&scenario.path)
                        .arg("--seed")
                        .arg(seed.to_string())
                        .env("RUST_BACKTRACE", "0")
                        .output()
                        .map_err(|e| format!("cannot start {}: {e}", exe.display()))
                        .and_then(|out| entry_of(&out, &scenario, seed))
                        .unwrap_or_else(|error| Entry::new(&scenario, seed, Err(&error)));
                    let outcome = Outcome { entry, wall_seconds: started.elapsed().as_secs_f64() };
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

/// The entry a child printed for (`scenario`, `seed`), or why there is none.
fn entry_of(out: &Output, scenario: &Scenario, seed: u64) -> Result<Entry, String> {
    let entry = serde_json::from_slice::<Entry>(&out.stdout).ok();
    match entry {
        Some(e) if out.status.success() && e.path == scenario.path && e.seed == seed => Ok(e),
        _ => {
            let ended = match (out.status.code(), signal(out)) {
                (Some(0), _) => "printed no entry of its run".to_string(),
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "was killed".to_string(),
            };
            Err(format!("the run's process {ended}; its stderr ends: {}", tail(&out.stderr)))
        }
    }
}

#[cfg(unix)]
fn signal(out: &Output) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&out.status)
}

#[cfg(not(unix))]
fn signal(_: &Output) -> Option<i32> {
    None
}

/// The last lines of a child's stderr, on one line, at most 600 characters.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    let skip = tail.chars().count().saturating_sub(600);
    match skip {
        0 if tail.is_empty() => "(nothing)".into(),
        0 => tail,
        _ => format!("...{}", tail.chars().skip(skip).collect::<String>()),
    }
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
    use super::{progress, tail};

    #[test]
    fn a_dead_runs_stderr_ends_on_one_line() {
        assert_eq!(tail(b"one\n\ntwo\nthree\nfour\n"), "two / three / four");
        assert_eq!(tail(b""), "(nothing)");
        let long = "x".repeat(700);
        assert_eq!(tail(long.as_bytes()), format!("...{}", "x".repeat(600)));
    }

    #[test]
    fn the_progress_bar_fills_and_estimates_what_is_left() {
        assert_eq!(progress(5, 20, 1, 10.0), "[#####---------------] 5/20 runs, 1 failed, eta 30s  ");
        assert_eq!(progress(20, 20, 0, 40.0), "[####################] 20/20 runs, 0 failed, eta 0s  ");
        assert_eq!(progress(0, 0, 0, 0.0), "[####################] 0/0 runs, 0 failed, eta 0s  ");
    }
}
