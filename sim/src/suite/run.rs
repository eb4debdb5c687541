//! Running a suite's runs: each (scenario, seed) in a child process of the same binary
//! (`edgesim run-entry`, which prints the run's summary entry as JSON, and a line on stderr for each
//! simulated second, which the suite reads to show the run's progress), `jobs` at a time, so a run
//! that panics, aborts, runs out of memory or outlives its wall-clock limit becomes an `error` entry
//! with its replay command while every other run, and every output, still completes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::{FinalOutcome, HarnessEvent, Record};
use crate::log::EventLog;
use crate::render::summary::Entry;
use crate::report::analyze;
use crate::scenario::Scenario;
use crate::verdict::Verdict;
use crate::world::simulate;

/// The hidden subcommand that runs one (scenario, seed) of a suite and prints its entry.
pub(crate) const RUN_ENTRY: &str = "run-entry";

/// The start of the line a run's child prints on stderr as its simulated time advances:
/// `edgesim-progress MS`.
const PROGRESS: &str = "edgesim-progress ";

/// Test only: `EDGESIM_TEST_CRASH=HOW:NAME[,HOW:NAME...]` makes the run of scenario `NAME` in a
/// suite die halfway through its duration, `HOW` being `panic`, `oom` (an allocation that fails,
/// which aborts the process as running out of memory does) or `hang` (it never finishes, as a node
/// stuck in a loop that never yields would).
const TEST_CRASH: &str = "EDGESIM_TEST_CRASH";

/// Test only: `EDGESIM_TEST_PLANT=KIND` plants a bug for exploration to find: in a run of the
/// edge platform where a fault of that kind (`crash`, `hold`, `loss`...: the first word of the
/// fault as the log writes it) was applied, the final audit of the first PoP reads a wrong digest,
/// so the `convergence` checker fires.
const TEST_PLANT: &str = "EDGESIM_TEST_PLANT";

/// One run of a suite, as the child process `edgesim run-entry` runs it: its summary entry. A
/// panic prints one line, `panicked at FILE:LINE:COLUMN: MESSAGE`, the same on every run, for the
/// suite to put in the run's `error` entry.
pub(crate) fn run_entry(scenario: &Scenario, seed: u64) -> Entry {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or(String::new(), |l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()));
        eprintln!("panicked{at}: {}", info.payload_as_str().unwrap_or("(no message)"));
    }));
    let crash = test_crash(&scenario.name);
    let halfway = scenario.duration / 2;
    let report = simulate(scenario, seed, &mut |at| {
        eprintln!("{PROGRESS}{}", at.as_millis());
        if let Some(how) = crash.filter(|_| at >= halfway) {
            how.now(&scenario.name, at);
        }
    })
    .map(|log| {
        plant(scenario, &log);
        analyze(scenario, seed, &log)
    })
    .map_err(|e| e.to_string());
    Entry::new(scenario, seed, report.as_ref())
}

/// The bug `EDGESIM_TEST_PLANT` asks for, planted in `log` when its fault kind was applied.
fn plant(scenario: &Scenario, log: &EventLog) {
    let Ok(kind) = std::env::var(TEST_PLANT) else { return };
    let Some(pop) = scenario.regions.first().and_then(|r| r.pops.first()) else { return };
    let applied = log.observed().kept.iter().any(|e| {
        matches!(&e.record, Record::Harness(HarnessEvent::Fault { fault, .. })
            if fault.strip_prefix(kind.as_str()).is_some_and(|rest| rest.starts_with(' ')))
    });
    if applied {
        let outcome =
            FinalOutcome::Audited { lsn: 0, digest: format!("{TEST_PLANT}={kind}"), rows: 0, writes: Vec::new() };
        log.push(
            log.end_us(),
            &"harness".into(),
            Record::Harness(HarnessEvent::FinalState { of: pop.clone(), outcome }),
        );
    }
}

/// How `EDGESIM_TEST_CRASH` makes a run die.
#[derive(Clone, Copy)]
enum Crash {
    Panic,
    OutOfMemory,
    Hang,
}

impl Crash {
    fn now(self, scenario: &str, at: Duration) {
        match self {
            Crash::Panic => panic!("{TEST_CRASH}: {scenario} panics at {}s (test only)", at.as_secs()),
            Crash::OutOfMemory => {
                std::alloc::handle_alloc_error(std::alloc::Layout::from_size_align(1 << 40, 8).expect("a layout"))
            }
            Crash::Hang => loop {
                std::thread::park();
            },
        }
    }
}

/// What `EDGESIM_TEST_CRASH` asks of the runs of `scenario`.
fn test_crash(scenario: &str) -> Option<Crash> {
    let asked = std::env::var(TEST_CRASH).ok()?;
    asked.split(',').find_map(|item| match item.trim().split_once(':') {
        Some(("panic", name)) if name == scenario => Some(Crash::Panic),
        Some(("oom", name)) if name == scenario => Some(Crash::OutOfMemory),
        Some(("hang", name)) if name == scenario => Some(Crash::Hang),
        _ => None,
    })
}

/// One finished run of a suite.
pub struct FinishedRun {
    pub entry: Entry,
    pub wall_seconds: f64,
}

/// What a suite hears of its runs as they go; `job` is the worker running them (from 0).
pub enum Heard<'a> {
    Started {
        job: usize,
        scenario: &'a Scenario,
        seed: u64,
    },
    /// The run has simulated this long.
    At {
        job: usize,
        at: Duration,
    },
    Finished {
        job: usize,
        outcome: &'a FinishedRun,
    },
}

/// How a suite's runs are run: `jobs` at a time, each killed once it has run `limit` of wall-clock
/// time; with `stop_at_first`, no run starts once one has failed (runs already started finish).
#[derive(Clone, Copy)]
pub struct Pace {
    pub jobs: usize,
    pub limit: Duration,
    pub stop_at_first: bool,
}

/// Runs every (scenario, seed), each in a child process of `exe`, as `pace` says; `hear` is told
/// of each run as it starts, advances and finishes. A child that dies, outlives its limit or
/// prints no entry of its run gives an `error` entry carrying how it ended and the end of its
/// stderr (without a backtrace, so the same on every run: replay the run for one).
pub fn run(exe: &Path, runs: Vec<(Scenario, u64)>, pace: Pace, hear: &(dyn Fn(Heard) + Sync)) -> Vec<FinishedRun> {
    let queue = Mutex::new(runs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for job in 0..pace.jobs.max(1) {
            let (queue, results) = (&queue, &results);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((i, (scenario, seed))) = next else { return };
                    hear(Heard::Started { job, scenario: &scenario, seed });
                    let started = Instant::now();
                    let entry = child(exe, &scenario, seed, pace.limit, &|at| hear(Heard::At { job, at }))
                        .and_then(|(ended, stdout, stderr)| entry_of(&ended, &stdout, &stderr, &scenario, seed))
                        .unwrap_or_else(|error| Entry::new(&scenario, seed, Err(&error)));
                    let outcome = FinishedRun { entry, wall_seconds: started.elapsed().as_secs_f64() };
                    hear(Heard::Finished { job, outcome: &outcome });
                    if pace.stop_at_first && outcome.entry.verdict != Verdict::Pass {
                        queue.lock().expect("queue").clear();
                    }
                    results.lock().expect("results").push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}

/// How a child process ended.
enum Ended {
    Exited(ExitStatus),
    OutOfTime(Duration),
}

/// Runs the child of (`scenario`, `seed`), killed past `limit`: how it ended, its stdout, and its
/// stderr without the progress lines, which go to `at` as they come.
fn child(
    exe: &Path,
    scenario: &Scenario,
    seed: u64,
    limit: Duration,
    at: &(dyn Fn(Duration) + Sync),
) -> Result<(Ended, Vec<u8>, Vec<u8>), String> {
    let mut child = Command::new(exe)
        .arg(RUN_ENTRY)
        .arg(&scenario.path)
        .arg("--seed")
        .arg(seed.to_string())
        .args(scenario.overrides.iter().flat_map(|o| ["--set", o.as_str()]))
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let (mut stdout, stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let (ended, out, err) = std::thread::scope(|scope| {
        let out = scope.spawn(move || {
            let mut bytes = Vec::new();
            // A pipe that breaks leaves what was read, which is all there is to show.
            let _ = stdout.read_to_end(&mut bytes);
            bytes
        });
        let err = scope.spawn(move || {
            let mut kept = Vec::new();
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                match std::str::from_utf8(&line).ok().and_then(|l| l.strip_prefix(PROGRESS)?.parse().ok()) {
                    Some(ms) => at(Duration::from_millis(ms)),
                    None => kept.extend(line.into_iter().chain([b'\n'])),
                }
            }
            kept
        });
        let ended = wait(&mut child, limit);
        (ended, out.join().expect("the stdout reader"), err.join().expect("the stderr reader"))
    });
    let ended = ended.map_err(|e| format!("cannot wait for the run's process: {e}"))?;
    Ok((ended, out, err))
}

/// Waits for `child` to exit, killing it once it has run `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::io::Result<Ended> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ended::Exited(status));
        }
        if started.elapsed() >= limit {
            child.kill()?;
            child.wait()?;
            return Ok(Ended::OutOfTime(limit));
        }
        std::thread::sleep(Duration::from_millis(20).min(limit));
    }
}

/// The entry a child printed for (`scenario`, `seed`), or why there is none.
fn entry_of(ended: &Ended, stdout: &[u8], stderr: &[u8], scenario: &Scenario, seed: u64) -> Result<Entry, String> {
    let entry = serde_json::from_slice::<Entry>(stdout).ok();
    let status = match ended {
        Ended::Exited(status) => status,
        Ended::OutOfTime(limit) => {
            return Err(format!(
                "the run's process did not finish within its wall-clock limit of {} (--run-timeout) and was \
                 killed; its stderr ends: {}",
                crate::units::Dur(*limit),
                tail(stderr)
            ));
        }
    };
    match entry {
        Some(e) if status.success() && e.path == scenario.path && e.seed == seed => Ok(e),
        _ => {
            let ended = match (status.code(), signal(status)) {
                (Some(0), _) => "printed no entry of its run".to_string(),
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "was killed".to_string(),
            };
            Err(format!("the run's process {ended}; its stderr ends: {}", tail(stderr)))
        }
    }
}

#[cfg(unix)]
fn signal(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal(_: &ExitStatus) -> Option<i32> {
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

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn a_dead_runs_stderr_ends_on_one_line() {
        assert_eq!(tail(b"one\n\ntwo\nthree\nfour\n"), "two / three / four");
        assert_eq!(tail(b""), "(nothing)");
        let long = "x".repeat(700);
        assert_eq!(tail(long.as_bytes()), format!("...{}", "x".repeat(600)));
    }
}
