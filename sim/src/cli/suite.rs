//! `edgesim suite`, `explore`, `shrink` and `merge`: runs in child processes, their summary and
//! its outputs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;

use super::files::writable;
use super::with_backend;
use crate::net::Backend;
use crate::render::outputs::{self, FILES};
use crate::render::progress::Progress;
use crate::render::summary::{Entry, SuiteSummary};
use crate::render::table::table;
use crate::scenario::Scenario;
use crate::scenario::compose::Override;
use crate::suite::run::{self, Heard, Pace};
use crate::suite::shard::Shard;
use crate::suite::{self, explore};
use crate::units::Dur;
use crate::verdict::{Verdict, replay_at_build};

#[derive(Args)]
pub struct SuiteArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run seeds 1..=N of each scenario (default: each scenario's own `seed`).
    #[arg(long, value_name = "N", value_parser = at_least_one::<u64>)]
    pub seeds: Option<u64>,
    /// Simulations run at once.
    #[arg(long, default_value_t = 2, value_parser = at_least_one::<usize>)]
    pub jobs: usize,
    /// Output directory (default: reports/runs/NAME, NAME the directory's name or `suite`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the K-th of N shares of the (scenario, seed) list (K from 1).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Wall-clock time one run may take before it is killed and reported as an `error` (a hung
    /// run); e.g. `90s`, `30m`.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = wall_limit)]
    pub run_timeout: Dur,
    /// Override a key of every scenario: `--set duration=90s --set workload.session_rate=2.0`;
    /// the overrides are in each run's report and replay command.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// The simulated network of every run: `net` (the default) or `turmoil`; the same as
    /// `--set backend=NAME`.
    #[arg(long)]
    pub backend: Option<Backend>,
}

#[derive(Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub suite: SuiteArgs,
    /// Start no more runs once one fails.
    #[arg(long)]
    pub stop_at_first: bool,
    /// Shrink the first failing seed of each scenario and checker (or broken budget) into
    /// OUT/shrunk/.
    #[arg(long)]
    pub shrink: bool,
}

/// A count of 1 or more: `--seeds 0` would run nothing, and `--jobs 0` nothing at a time.
fn at_least_one<T: FromStr + PartialEq + From<u8>>(text: &str) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n == T::from(0) => Err("0 would run nothing: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a count: give 1 or more")),
    }
}

/// A wall-clock limit above zero.
fn wall_limit(text: &str) -> Result<Dur, String> {
    match Dur::parse(text) {
        Ok(d) if d.0.is_zero() => Err("0s would kill every run: give a duration above 0, e.g. 30m".into()),
        other => other,
    }
}

/// `edgesim suite`.
pub(super) fn suite(args: SuiteArgs) -> anyhow::Result<u8> {
    let (summary, out) = run_runs(args, "", false)?;
    finish(summary, &out, true)
}

/// `edgesim explore`: a suite's runs, its table replaced by what failed by checker.
pub(super) fn explore(args: ExploreArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(args.suite.seeds.is_some(), "explore needs --seeds N: the seeds 1..=N of each scenario");
    anyhow::ensure!(
        !args.shrink || (args.suite.overrides.is_empty() && args.suite.backend.is_none()),
        "--shrink writes the scenario file without --set overrides: explore without --set, or apply them in the file"
    );
    let (summary, out) = run_runs(args.suite, "explore-", args.stop_at_first)?;
    print!("{}", explore::tally(&summary.entries));
    if args.shrink {
        let mut first: BTreeMap<(String, String), &Entry> = BTreeMap::new();
        for e in &summary.entries {
            for checker in explore::failures(e).into_iter().filter(|c| c != "error" && c != "not judged") {
                first.entry((e.path.clone(), checker)).or_insert(e);
            }
        }
        for ((path, checker), e) in first {
            let stem = Path::new(&path).file_stem().map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
            let file = out.join("shrunk").join(format!("{stem}-seed-{}-{checker}.toml", e.seed));
            shrink(Path::new(&path), e.seed, Some(&checker), &file)?;
        }
    }
    finish(summary, &out, false)
}

/// `edgesim shrink`.
pub(super) fn shrink(scenario: &Path, seed: u64, checker: Option<&str>, out: &Path) -> anyhow::Result<u8> {
    let scenario = Scenario::load(scenario)?;
    writable(out)?;
    let exe = std::env::current_exe().context("cannot find the edgesim binary to run the shrink's runs")?;
    println!("shrinking {} seed {seed}", scenario.path);
    let s = explore::shrink(&exe, &scenario, seed, checker, out)?;
    println!(
        "  {} of {} drawn faults kept, failing `{}`, in {} runs; wrote {}",
        s.kept.len(),
        s.drawn,
        s.checker,
        s.runs,
        out.display()
    );
    for line in explore::describe(&s.kept) {
        println!("    {line}");
    }
    println!("  {}", if s.reproduced { "reproduced: a run of the file fails it again" } else { "NOT reproduced" });
    Ok(if s.reproduced { 0 } else { Verdict::CheckerFired.exit_code() })
}

/// The runs of a suite or an exploration: every output path is checked, and every scenario file,
/// before anything runs; a suite, or a shard, with nothing to run is refused. With
/// `stop_at_first`, no run starts once one has failed.
fn run_runs(args: SuiteArgs, prefix: &str, stop_at_first: bool) -> anyhow::Result<(SuiteSummary, PathBuf)> {
    let SuiteArgs { paths, seeds, jobs, out, shard, run_timeout, overrides, backend } = args;
    let overrides = with_backend(overrides, backend);
    let name = suite::name(&paths);
    let out = out.unwrap_or_else(|| PathBuf::from("reports/runs").join(format!("{prefix}{name}")));
    for file in FILES {
        writable(&out.join(file))?;
    }
    let scenarios = suite::collect(&paths, &overrides)?;
    let all = suite::runs(&scenarios, seeds, None);
    let plan = suite::plan(&all, shard)?;
    let runs = suite::runs(&scenarios, seeds, shard);
    if runs.is_empty() {
        let split =
            shard.map_or(String::new(), |s| format!(" in shard {s} (split it into at most {} shards)", all.len()));
        anyhow::bail!("the suite's {} runs leave nothing to run{split}", all.len());
    }
    let progress = Mutex::new(Progress::suite(runs.len(), jobs, std::io::stderr().is_terminal()));
    let exe = std::env::current_exe().context("cannot find the edgesim binary to run the suite's runs")?;
    let pace = Pace { jobs, limit: run_timeout.0, stop_at_first };
    let outcomes = run::run(&exe, runs, pace, &|heard| {
        let mut p = progress.lock().expect("progress");
        match heard {
            Heard::Started { job, scenario, seed } => {
                p.started(job, &scenario.name, seed, (scenario.duration + scenario.settle).as_secs_f64())
            }
            Heard::At { job, at } => p.at(job, at.as_secs_f64()),
            Heard::Finished { job, outcome } => p.finished(job, &outcome.entry, outcome.wall_seconds),
        }
    });
    progress.into_inner().expect("progress").finish();
    Ok((SuiteSummary::new(&name, plan, outcomes.into_iter().map(|o| o.entry).collect()), out))
}

/// `edgesim merge`.
pub(super) fn merge(summaries: &[PathBuf], out: &Path) -> anyhow::Result<u8> {
    let parts = summaries.iter().map(|p| SuiteSummary::load(p)).collect::<Result<_, _>>()?;
    let merged = SuiteSummary::merge(parts)?;
    for file in FILES {
        writable(&out.join(file))?;
    }
    finish(merged, out, true)
}

/// Prints a suite's table (when asked) and failures, writes its outputs, and gives its exit code.
fn finish(summary: SuiteSummary, out: &Path, show_table: bool) -> anyhow::Result<u8> {
    if show_table {
        print!("{}", table(&summary));
    }
    for e in summary.entries.iter().filter(|e| e.verdict != Verdict::Pass) {
        println!(
            "{} seed {}: {}; replay: {}",
            e.scenario,
            e.seed,
            e.failures().join("; "),
            replay_at_build(&e.replay, &summary.plan.build)
        );
    }
    outputs::write(&summary, out)?;
    println!("{}: wrote {} in {}", summary.verdict.label(), FILES.join(", "), out.display());
    Ok(summary.exit_code)
}
