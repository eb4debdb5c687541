//! The `edgesim` command line: its commands and flags as clap parses them (`Cli`), and one
//! function per command, in `run` (run, check-determinism, run-entry), `suite` (suite, explore,
//! shrink, merge) and `scenarios` (check, list, show); `main.rs` parses and calls `dispatch`.

mod files;
mod run;
mod scenarios;
mod suite;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::net::Backend;
use crate::scenario::compose::Override;
use crate::suite::run::RUN_ENTRY;
use crate::verdict::Verdict;

/// Bad input (scenario files, flags, summaries) exits as a harness error does.
pub const EXIT_INPUT: u8 = Verdict::Error.exit_code();

#[derive(Parser)]
#[command(
    name = "edgesim",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EDGESIM_COMMIT"), ")"),
    about = "Deterministic simulation of the edge platform and status page"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Exit codes of `run`, `suite` and `merge`: 0 every budget held, every correctness checker judged
/// and none fired; 1 a budget broke (one on a metric without samples breaks), or a checker could
/// not judge the run ("not judged"); 2 a correctness checker fired (wins over 1); 3 bad input or
/// harness error.
#[derive(Subcommand)]
pub enum Command {
    /// Run one scenario and print its report, its verdict and every budget. Exit 0: pass; 1: a
    /// budget broke, or a checker could not judge the run; 2: a correctness checker fired; 3: bad
    /// input or harness error.
    Run(run::RunArgs),
    /// Run scenario files, or every scenario of a directory, over seeds; print a table and write
    /// summary.json, junit.xml, report.md and report.html. Each run is a child process, so one
    /// that panics or dies is an `error` entry and the rest still report. Exit codes as `run`.
    Suite(suite::SuiteArgs),
    /// Run seeds 1..=N of scenarios whose seeds draw their fault schedules (`[swarm]`), each a
    /// child process as in `suite`; print the failures by checker, the simulated time and a
    /// replay line per failure; write summary.json, junit.xml, report.md and report.html. With
    /// `--shrink`, shrink the first failing seed of each scenario and checker. Exit codes as
    /// `suite`.
    Explore(suite::ExploreArgs),
    /// Shrink the fault schedule a failing seed drew to a smaller fixed one that fails the same
    /// checker, and write it as a scenario file. Exit 0: written, and a run of the file failed
    /// that checker again; 2: written but it did not; 3: bad input, or the seed does not fail.
    Shrink {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        /// The checker to keep failing, or `budget` (default: the first the seed fires).
        #[arg(long)]
        checker: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Merge shards' summary.json files into one summary, junit.xml, report.md and report.html, as
    /// if the suite had run unsharded. Refused (exit 3) unless they are every shard of one suite's
    /// runs on one build, each once. Exit code: the merged verdict's, as `suite`.
    Merge {
        #[arg(required = true, value_name = "SUMMARY.json")]
        summaries: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a scenario's seed twice in separate processes and compare the event logs. Exit 0:
    /// identical; 2: divergent; 3: bad input.
    CheckDeterminism {
        scenario: PathBuf,
        /// Seed of the runs (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Check scenario files, or every scenario of a directory, without running them: each is read
    /// and validated as `run` would. Prints every refusal. Exit 0: all valid; 3: any refused.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Override a key of every scenario, as `run` does: `--set duration=90s`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// List the scenarios of files or directories (default: scenarios/): name, system, file,
    /// description and budgets. Exit 3 if any file is refused.
    List {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Print a scenario file as it resolves: its includes spliced in and `--set` overrides applied,
    /// as TOML. Exit 3 if the file is refused.
    Show {
        scenario: PathBuf,
        /// Override a key of the scenario: `--set duration=90s --set workload.session_rate=2.0`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// Internal: the child process of a suite's run; prints the run's summary entry as JSON.
    #[command(name = RUN_ENTRY, hide = true)]
    RunEntry {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
}

/// `overrides` with `--backend NAME` as the override `backend=NAME` it stands for, so that it
/// shows in the report and the replay command as any other.
fn with_backend(mut overrides: Vec<Override>, backend: Option<Backend>) -> Vec<Override> {
    if let Some(backend) = backend {
        overrides.push(format!("backend={backend}").parse().expect("a backend name is a valid override"));
    }
    overrides
}

/// Runs `command`; its exit code, or the error that stopped it (exit `EXIT_INPUT`).
pub fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Suite(args) => suite::suite(args),
        Command::Explore(args) => suite::explore(args),
        Command::Shrink { scenario, seed, checker, out } => suite::shrink(&scenario, seed, checker.as_deref(), &out),
        Command::Merge { summaries, out } => suite::merge(&summaries, &out),
        Command::CheckDeterminism { scenario, seed } => run::check_determinism(&scenario, seed),
        Command::Check { paths, overrides } => scenarios::check(&paths, &overrides),
        Command::List { paths } => scenarios::list(&paths),
        Command::Show { scenario, overrides } => scenarios::show(&scenario, &overrides),
        Command::RunEntry { scenario, seed, overrides } => run::run_entry(&scenario, seed, &overrides),
    }
}
