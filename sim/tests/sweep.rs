//! The reference suite (`scenarios/*.toml`) as one test per scenario and seed, so that
//! `cargo nextest run -p edgesim --test sweep --partition count:K/N` spreads it over machines.
//! Seeds: each scenario's own, or `1..=N` with `EDGESIM_SEEDS=N`. A test fails with the run's broken
//! budgets or fired checkers and its replay command; at a scenario's own seed it also fails when
//! its summary entry differs from the committed `reports/reference/summary.json`, so a change in
//! behaviour or a determinism leak shows on any machine. The test `reference/files` checks that the
//! committed junit.xml, report.md and report.html are what that summary renders, and that it holds
//! exactly the reference runs. Each scenario is simulated once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use edgesim::render::outputs::FILES;
use edgesim::render::summary::{Entry, SuiteSummary};
use edgesim::render::{html, junit, markdown};
use edgesim::report::analyze;
use edgesim::scenario::Scenario;
use edgesim::suite;
use edgesim::verdict::{COMMIT, Verdict};
use edgesim::world::simulate;
use libtest_mimic::{Arguments, Failed, Trial};

mod reference;

const REFERENCE: &str = "reports/reference";
const REGENERATE: &str = "cargo run --release -p edgesim -- suite scenarios/ --out reports/reference";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let scenarios = match reference::scenarios() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seeds = match std::env::var("EDGESIM_SEEDS").ok().map(|n| n.parse::<u64>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            eprintln!("EDGESIM_SEEDS must be a number of seeds, 1 or more");
            return ExitCode::from(3);
        }
    };
    let reference = SuiteSummary::load(&Path::new(REFERENCE).join(FILES[0]));
    let by_run: BTreeMap<(String, u64), Entry> = reference
        .as_ref()
        .map(|r| r.entries.iter().map(|e| ((e.path.clone(), e.seed), e.clone())).collect())
        .unwrap_or_default();
    let own: Vec<(String, u64)> = scenarios.iter().map(|s| (s.path.clone(), s.seed)).collect();
    let mut trials = vec![Trial::test("reference/files", move || files(reference.map_err(|e| e.to_string()), &own))];
    for (scenario, seed) in suite::runs(&scenarios, seeds, None) {
        let expected = (seed == scenario.seed).then(|| by_run.get(&(scenario.path.clone(), seed)).cloned());
        let name = format!("{}/seed-{seed}", scenario.name);
        trials.push(Trial::test(name, move || one(&scenario, seed, expected)));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// One run: it must pass, and at the scenario's own seed (`expected` is `Some`) equal the reference.
fn one(scenario: &Scenario, seed: u64, expected: Option<Option<Entry>>) -> Result<(), Failed> {
    let report = simulate(scenario, seed, &mut |_| {}).map(|log| analyze(scenario, seed, &log)).map_err(|e| {
        let replay = edgesim::verdict::replay_at_build(&edgesim::verdict::replay(&scenario.path, seed), COMMIT);
        format!("harness error: {e}\nreplay: {replay}")
    })?;
    let entry = Entry::new(scenario, seed, Ok(&report));
    if entry.verdict != Verdict::Pass {
        let replay = edgesim::verdict::replay_at_build(&entry.replay, COMMIT);
        return Err(format!("{}\nreplay: {replay}", entry.failures().join("\n")).into());
    }
    match expected {
        None => Ok(()),
        Some(None) => Err(format!("{} seed {seed} is not in {REFERENCE}/summary.json; regenerate: {REGENERATE}", scenario.path).into()),
        Some(Some(committed)) if committed == entry => Ok(()),
        Some(Some(committed)) => Err(format!(
            "differs from {REFERENCE}/summary.json (- committed, + now):\n{}\nif the change is meant, regenerate: {REGENERATE}",
            diff(&json(&committed), &json(&entry))
        )
        .into()),
    }
}

/// The committed files are what the committed summary renders, and it holds exactly the runs at
/// each scenario's own seed.
fn files(reference: Result<SuiteSummary, String>, own: &[(String, u64)]) -> Result<(), Failed> {
    let summary = reference.map_err(|e| format!("{e}\nregenerate: {REGENERATE}"))?;
    let runs: Vec<(String, u64)> = summary.entries.iter().map(|e| (e.path.clone(), e.seed)).collect();
    let mut own = own.to_vec();
    own.sort();
    if runs != own {
        return Err(format!("the reference runs {runs:?}, the suite is {own:?}; regenerate: {REGENERATE}").into());
    }
    let rendered = [summary.json(), junit::render(&summary), markdown::render(&summary), html::render(&summary)];
    for (name, text) in FILES.iter().zip(rendered) {
        let path = Path::new(REFERENCE).join(name);
        let committed = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if committed != text {
            return Err(format!(
                "{} is not what summary.json renders (- committed, + rendered):\n{}\nregenerate: {REGENERATE}\n\
                 (after a change of rendering only: edgesim merge {REFERENCE}/summary.json --out {REFERENCE})",
                path.display(),
                diff(&committed, &text)
            )
            .into());
        }
    }
    Ok(())
}

fn json(e: &Entry) -> String {
    serde_json::to_string_pretty(e).expect("an entry serializes")
}

/// The lines only one side has, in order, at most 30: enough to see what changed.
fn diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let gone = a.iter().filter(|l| !b.contains(l)).map(|l| format!("- {l}"));
    let came = b.iter().filter(|l| !a.contains(l)).map(|l| format!("+ {l}"));
    let lines: Vec<String> = gone.chain(came).collect();
    let more = lines.len().saturating_sub(30);
    let mut out = lines.into_iter().take(30).collect::<Vec<_>>().join("\n");
    if more > 0 {
        out.push_str(&format!("\n... and {more} more lines"));
    }
    out
}
