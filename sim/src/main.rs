//! The `edgesim` command line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use edgesim::log::EventLog;
use edgesim::render::outputs::{self, FILES};
use edgesim::render::progress::Progress;
use edgesim::render::summary::{Entry, SuiteSummary, replay_of};
use edgesim::render::{html, table::table};
use edgesim::report::analyze;
use edgesim::scenario::Scenario;
use edgesim::scenario::compose::{self, Override};
use edgesim::suite::run::{self, Heard, Pace, RUN_ENTRY};
use edgesim::suite::shard::Shard;
use edgesim::suite::{self, determinism, explore};
use edgesim::units::Dur;
use edgesim::verdict::{COMMIT, JudgedReport, Verdict, judge, replay_at_build};
use edgesim::world::{schedule, simulate_into};

/// Bad input (scenario files, flags, summaries) exits as a harness error does.
const EXIT_INPUT: u8 = Verdict::Error.exit_code();

#[derive(Parser)]
#[command(
    name = "edgesim",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EDGESIM_COMMIT"), ")"),
    about = "Deterministic simulation of the edge platform and status page"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Exit codes of `run`, `suite` and `merge`: 0 every budget held, every correctness checker judged
/// and none fired; 1 a budget broke (one on a metric without samples breaks), or a checker could
/// not judge the run ("not judged"); 2 a correctness checker fired (wins over 1); 3 bad input or
/// harness error.
#[derive(Subcommand)]
enum Command {
    /// Run one scenario and print its report, its verdict and every budget. Exit 0: pass; 1: a
    /// budget broke, or a checker could not judge the run; 2: a correctness checker fired; 3: bad
    /// input or harness error.
    Run(RunArgs),
    /// Run scenario files, or every scenario of a directory, over seeds; print a table and write
    /// summary.json, junit.xml, report.md and report.html. Each run is a child process, so one
    /// that panics or dies is an `error` entry and the rest still report. Exit codes as `run`.
    Suite(SuiteArgs),
    /// Run seeds 1..=N of scenarios whose seeds draw their fault schedules (`[swarm]`), each a
    /// child process as in `suite`; print the failures by checker, the simulated time and a
    /// replay line per failure; write summary.json, junit.xml, report.md and report.html. With
    /// `--shrink`, shrink the first failing seed of each scenario and checker. Exit codes as
    /// `suite`.
    Explore(ExploreArgs),
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
    },
}

#[derive(Args)]
struct RunArgs {
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
    /// Write the run's HTML report (timeline, latency, replication lag) here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Print nothing but the event-log hash.
    #[arg(long)]
    quiet: bool,
    /// Print the narrated failure timeline and its impact instead of the full report.
    #[arg(long, conflicts_with = "quiet")]
    timeline: bool,
    /// Override a key of the scenario: `--set duration=90s --set workload.session_rate=2.0`; the
    /// overrides are in the report and the replay command.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
}

#[derive(Args)]
struct SuiteArgs {
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Run seeds 1..=N of each scenario (default: each scenario's own `seed`).
    #[arg(long, value_name = "N", value_parser = at_least_one::<u64>)]
    seeds: Option<u64>,
    /// Simulations run at once.
    #[arg(long, default_value_t = 2, value_parser = at_least_one::<usize>)]
    jobs: usize,
    /// Output directory (default: reports/runs/NAME, NAME the directory's name or `suite`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only the K-th of N shares of the (scenario, seed) list (K from 1).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Wall-clock time one run may take before it is killed and reported as an `error` (a hung
    /// run); e.g. `90s`, `30m`.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = wall_limit)]
    run_timeout: Dur,
}

#[derive(Args)]
struct ExploreArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Start no more runs once one fails.
    #[arg(long)]
    stop_at_first: bool,
    /// Shrink the first failing seed of each scenario and checker (or broken budget) into
    /// OUT/shrunk/.
    #[arg(long)]
    shrink: bool,
}

/// A count of 1 or more: `--seeds 0` would run nothing, and `--jobs 0` nothing at a time.
fn at_least_one<T: FromStr + PartialEq + From<u8>>(text: &str) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n == T::from(0) => Err("0 would run nothing: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a count: give 1 or more")),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_INPUT } else { 0 });
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Suite(args) => run_suite(args),
        Command::Explore(args) => explore(args),
        Command::Shrink { scenario, seed, checker, out } => shrink(&scenario, seed, checker.as_deref(), &out),
        Command::Merge { summaries, out } => merge(&summaries, &out),
        Command::CheckDeterminism { scenario, seed } => check_determinism(&scenario, seed),
        Command::Check { paths } => check(&paths),
        Command::List { paths } => list(&paths),
        Command::Show { scenario, overrides } => show(&scenario, &overrides),
        Command::RunEntry { scenario, seed } => run_entry(&scenario, seed),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}

/// `edgesim run`.
fn run(args: RunArgs) -> anyhow::Result<u8> {
    let RunArgs { scenario, seed, json, events, html, quiet, timeline, overrides } = args;
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
        print!("{}", report.timeline_text());
    } else {
        if !scenario.overrides.is_empty() {
            println!("overrides: --set {}", scenario.overrides.join(" --set "));
        }
        print!("{}", report.text());
        println!("wall {wall:.2}s, {:.1} simulated seconds per wall second", report.sim_seconds / wall.max(1e-9));
        print!("\n{}", judgement.text());
        if judgement.verdict != Verdict::Pass {
            println!("replay: {}", replay_at_build(&replay_of(&scenario, seed), COMMIT));
        }
    }
    std::io::stdout().flush()?;
    Ok(judgement.verdict.exit_code())
}

/// A wall-clock limit above zero.
fn wall_limit(text: &str) -> Result<Dur, String> {
    match Dur::parse(text) {
        Ok(d) if d.0.is_zero() => Err("0s would kill every run: give a duration above 0, e.g. 30m".into()),
        other => other,
    }
}

/// `edgesim suite`.
fn run_suite(args: SuiteArgs) -> anyhow::Result<u8> {
    let (summary, out) = run_runs(args, "", false)?;
    finish(summary, &out, true)
}

/// `edgesim explore`: a suite's runs, its table replaced by what failed by checker.
fn explore(args: ExploreArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(args.suite.seeds.is_some(), "explore needs --seeds N: the seeds 1..=N of each scenario");
    let (summary, out) = run_runs(args.suite, "explore-", args.stop_at_first)?;
    print!("{}", explore::tally(&summary.entries).text());
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
fn shrink(scenario: &Path, seed: u64, checker: Option<&str>, out: &Path) -> anyhow::Result<u8> {
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
    let SuiteArgs { paths, seeds, jobs, out, shard, run_timeout } = args;
    let name = suite::name(&paths);
    let out = out.unwrap_or_else(|| PathBuf::from("reports/runs").join(format!("{prefix}{name}")));
    for file in FILES {
        writable(&out.join(file))?;
    }
    let scenarios = suite::collect(&paths)?;
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
fn merge(summaries: &[PathBuf], out: &Path) -> anyhow::Result<u8> {
    let parts = summaries.iter().map(|p| SuiteSummary::load(p)).collect::<Result<_, _>>()?;
    let merged = SuiteSummary::merge(parts)?;
    for file in FILES {
        writable(&out.join(file))?;
    }
    finish(merged, out, true)
}

/// `edgesim check`: every file is loaded, so one run shows every refusal.
fn check(paths: &[PathBuf]) -> anyhow::Result<u8> {
    let files = suite::files(paths)?;
    let refused = files.iter().filter_map(|f| Scenario::load(f).err()).inspect(|e| eprintln!("{e}")).count();
    println!("{} of {} scenario files valid", files.len() - refused, files.len());
    Ok(if refused == 0 { 0 } else { EXIT_INPUT })
}

/// `edgesim list`.
fn list(paths: &[PathBuf]) -> anyhow::Result<u8> {
    for s in suite::collect(paths)? {
        let system = if s.status.is_some() { "status page" } else { "edge platform" };
        println!("{}  ({system}, {}, seed {})", s.name, s.path, s.seed);
        println!("    {}", s.description);
        let budgets: Vec<String> = s.budgets.iter().map(ToString::to_string).collect();
        println!("    budgets: {}", if budgets.is_empty() { "none".into() } else { budgets.join(", ") });
    }
    Ok(0)
}

/// `edgesim show`: the resolved scenario, once it is known to be valid.
fn show(path: &Path, overrides: &[Override]) -> anyhow::Result<u8> {
    Scenario::load_with(path, overrides)?;
    let file = path.display().to_string();
    print!("{}", compose::apply(compose::resolve(path)?, &file, overrides)?.text);
    Ok(0)
}

/// `edgesim check-determinism`.
fn check_determinism(scenario: &Path, seed: Option<u64>) -> anyhow::Result<u8> {
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
fn run_entry(scenario: &Path, seed: u64) -> anyhow::Result<u8> {
    let entry = run::run_entry(&Scenario::load(scenario)?, seed);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &entry)?;
    stdout.flush()?;
    Ok(0)
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

/// Refuses an output path that cannot be written before anything runs: creates its directory and
/// the file, then removes the file, so no output of an earlier run is left to pass for this one's.
fn writable(path: &Path) -> anyhow::Result<()> {
    drop(create(path)?);
    std::fs::remove_file(path).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates an output file, and the directories above it.
fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))
}
