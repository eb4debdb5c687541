//! The `edgesim` command line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use edgesim::report::analyze;
use edgesim::scenario::Scenario;
use edgesim::suite;
use edgesim::world::simulate;

/// Exit codes, for CI.
const EXIT_CHECKER: u8 = 2;
const EXIT_INPUT: u8 = 3;

#[derive(Parser)]
#[command(name = "edgesim", version, about = "Deterministic simulation of the edge platform and status page")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario and print its report. Exit 0: every checker passed; 2: a correctness
    /// checker fired; 3: bad input or harness error.
    Run {
        scenario: PathBuf,
        /// Seed of the run (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the event log as JSON Lines here (schema: docs/EVENTS.md).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Print nothing but the event-log hash.
        #[arg(long)]
        quiet: bool,
        /// Print the narrated failure timeline and its impact instead of the full report.
        #[arg(long, conflicts_with = "quiet")]
        timeline: bool,
    },
    /// Run scenario files, or every scenario of a directory, over seeds; print a table. Exit 0:
    /// every checker passed; 2: a correctness checker fired; 3: bad input or harness error.
    Suite {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run seeds 1..=N of each scenario (default: each scenario's own `seed`).
        #[arg(long)]
        seeds: Option<u64>,
        /// Simulations run at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_INPUT } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run { scenario, seed, json, events, quiet, timeline } => {
            let scenario = Scenario::load(&scenario)?;
            let seed = seed.unwrap_or(scenario.seed);
            let total = scenario.duration + scenario.settle;
            let started = Instant::now();
            let tty = std::io::stderr().is_terminal() && !quiet;
            let log = simulate(&scenario, seed, &mut |at| {
                if tty {
                    eprint!(
                        "\r  simulating {}: {:>5.0}s of {:.0}s",
                        scenario.name,
                        at.as_secs_f64(),
                        total.as_secs_f64()
                    );
                }
            })?;
            let wall = started.elapsed().as_secs_f64();
            if tty {
                eprintln!();
            }
            let report = analyze(&scenario, seed, &log);
            if let Some(path) = events {
                let mut out = std::io::BufWriter::new(create(&path)?);
                log.write_jsonl(&mut out)?;
            }
            if let Some(path) = json {
                create(&path)?.write_all((serde_json::to_string_pretty(&report)? + "\n").as_bytes())?;
            }
            let fired = report.checks.fired();
            if quiet {
                println!("{}", report.event_log_hash);
            } else if timeline {
                println!("{} seed {}", report.scenario, report.seed);
                print!("{}", report.timeline_text());
            } else {
                print!("{}", report.text());
                println!(
                    "wall {wall:.2}s, {:.1} simulated seconds per wall second",
                    report.sim_seconds / wall.max(1e-9)
                );
                if !fired.is_empty() {
                    println!("checkers fired: {}", fired.join(", "));
                    println!("replay: edgesim run {} --seed {seed}", scenario.path);
                }
            }
            std::io::stdout().flush()?;
            Ok(if fired.is_empty() { 0 } else { EXIT_CHECKER })
        }
        Command::Suite { paths, seeds, jobs } => {
            let scenarios = suite::collect(&paths)?;
            let runs: Vec<_> = scenarios
                .into_iter()
                .flat_map(|s| {
                    let seeds: Vec<u64> = seeds.map_or(vec![s.seed], |n| (1..=n).collect());
                    seeds.into_iter().map(move |seed| (s.clone(), seed))
                })
                .collect();
            let total = runs.len();
            let finished = std::sync::atomic::AtomicUsize::new(0);
            let outcomes = suite::run(runs, jobs, &|o| {
                let n = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                eprintln!("[{n}/{total}] {} seed {} ({:.1}s wall)", o.scenario.name, o.seed, o.wall_seconds);
            });
            print!("{}", suite::table(&outcomes));
            let mut code = 0;
            for o in &outcomes {
                let fired = match &o.report {
                    Ok(r) => r.checks.fired(),
                    Err(_) => {
                        code = EXIT_INPUT;
                        vec!["harness error"]
                    }
                };
                if !fired.is_empty() {
                    code = code.max(EXIT_CHECKER);
                    println!("replay ({}): edgesim run {} --seed {}", fired.join(", "), o.scenario.path, o.seed);
                }
            }
            Ok(code)
        }
    }
}

/// Creates an output file, and the directories above it.
fn create(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))
}
