//! `edgesim run` (one run, its report and verdict), `edgesim check-determinism` and the suite's
//! child, `edgesim run-entry`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::files::{create, writable};
use super::with_backend;
use crate::log::EventLog;
use crate::net::Backend;
use crate::render::html;
use crate::render::progress::Progress;
use crate::render::summary::{Entry, SuiteSummary, replay_of};
use crate::report::analyze;
use crate::scenario::Scenario;
use crate::scenario::compose::Override;
use crate::suite::{self, determinism, run as suite_run};
use crate::verdict::{COMMIT, JudgedReport, Verdict, judge, replay_at_build};
use crate::world::{schedule, simulate_into};

#[derive(Args)]
pub struct RunArgs {
    pub scenario: PathBuf,
    /// Seed of the run (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the event log as JSON Lines here (schema: docs/EVENTS.md).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Write the run's HTML report (timeline, latency, replication lag) here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print nothing but the event-log hash.
    #[arg(long)]
    pub quiet: bool,
    /// Print the narrated failure timeline and its impact instead of the full report.
    #[arg(long, conflicts_with = "quiet")]
    pub timeline: bool,
    /// Override a key of the scenario: `--set duration=90s --set workload.session_rate=2.0`; the
    /// overrides are in the report and the replay command.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// The simulated network: `net` (event-driven, the default) or `turmoil` (every host ticked each step);
    /// the same as `--set backend=NAME`.
    #[arg(long)]
    pub backend: Option<Backend>,
}

/// `edgesim run`.
pub(super) fn run(args: RunArgs) -> anyhow::Result<u8> {
    let RunArgs { scenario, seed, json, events, html, quiet, timeline, overrides, backend } = args;
    let overrides = with_backend(overrides, backend);
    let scenario = Scenario::load_with(&scenario, &overrides)?;
    for path in [&json, &events, &html].into_iter().flatten() {
        writable(path)?;
    }
    let seed = seed.unwrap_or(scenario.seed);
    if scenario.draws() && !quiet {
        println!("fault schedule drawn by seed {seed}:");
        for line in schedule(&scenario.for_seed(seed)) {
            println!("  {line}");
        }
    }
    let started = Instant::now();
    let mut progress = Progress::single(std::io::stderr().is_terminal() && !quiet);
    progress.started(0, &scenario.name, seed, (scenario.duration + scenario.settle).as_secs_f64());
    let log = match &events {
        Some(path) => EventLog::writing(std::io::BufWriter::new(create(path)?)),
        None => EventLog::default(),
    };
    let log = simulate_into(log, &scenario, seed, &mut |at| progress.at(0, at.as_secs_f64()))?;
    let wall = started.elapsed().as_secs_f64();
    if let Some(path) = events {
        log.finish().with_context(|| format!("cannot write {}", path.display()))?;
    }
    let report = analyze(&scenario, seed, &log);
    let judgement = judge(&scenario, &report);
    let entry = Entry::new(&scenario, seed, Ok(&report));
    progress.finished(0, &entry, wall);
    progress.finish();
    if let Some(path) = json {
        let judged = JudgedReport { report: &report, judgement: &judgement };
        create(&path)?.write_all((serde_json::to_string_pretty(&judged)? + "\n").as_bytes())?;
    }
    if let Some(path) = html {
        let plan = suite::plan(&[(scenario.clone(), seed)], None)?;
        let run = SuiteSummary::new(&scenario.name, plan, vec![entry]);
        create(&path)?.write_all(html::render(&run).as_bytes())?;
    }
    if quiet {
        println!("{}", report.event_log_hash);
    } else if timeline {
        println!("{} seed {}", report.scenario, report.seed);
        print!("{}", report.narrated());
    } else {
        if !scenario.overrides.is_empty() {
            println!("overrides: --set {}", scenario.overrides.join(" --set "));
        }
        print!("{report}");
        println!("wall {wall:.2}s, {:.1} simulated seconds per wall second", report.sim_seconds / wall.max(1e-9));
        print!("\n{judgement}");
        if judgement.verdict != Verdict::Pass {
            println!("replay: {}", replay_at_build(&replay_of(&scenario, seed), COMMIT));
        }
    }
    std::io::stdout().flush()?;
    Ok(judgement.verdict.exit_code())
}

/// `edgesim check-determinism`.
pub(super) fn check_determinism(scenario: &Path, seed: Option<u64>) -> anyhow::Result<u8> {
    let seed = seed.unwrap_or(Scenario::load(scenario)?.seed);
    let [first, second] = determinism::run_twice(&std::env::current_exe()?, scenario, seed)?;
    match determinism::compare(&first.jsonl, &second.jsonl) {
        None if first.hash == second.hash => {
            println!("identical (hash {})", first.hash);
            Ok(0)
        }
        None => anyhow::bail!("identical event logs but hashes {} and {}", first.hash, second.hash),
        Some(d) => {
            let at = d.t_us.map_or("the end of a log".into(), |t| format!("t_us {t}"));
            println!("divergent at line {} ({at})", d.line);
            println!("  first:  {}", d.first.as_deref().unwrap_or("(log ended)"));
            println!("  second: {}", d.second.as_deref().unwrap_or("(log ended)"));
            Ok(Verdict::CheckerFired.exit_code())
        }
    }
}

/// `edgesim run-entry`, a suite's child process: the run's summary entry on stdout, exit 0.
pub(super) fn run_entry(scenario: &Path, seed: u64, overrides: &[Override]) -> anyhow::Result<u8> {
    let entry = suite_run::run_entry(&Scenario::load_with(scenario, overrides)?, seed);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &entry)?;
    stdout.flush()?;
    Ok(0)
}
