//! Mutated scenario files: thousands of variants of the committed scenarios (values swapped for
//! extreme ones, lines dropped, repeated or moved, sections added, text cut off) are each either
//! accepted or refused with a position and no raw control character, never a panic; and a few
//! tens of accepted variants of small, short scenarios run to the end without a panic.

use std::path::Path;

use edgesim::report::analyze;
use edgesim::scenario::{Scenario, ScenarioError};
use edgesim::world::simulate;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// Every committed scenario's text.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut texts = Vec::new();
    for dir in [root.clone(), root.join("negative"), root.join("perf"), root.join("swarm")] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        texts.extend(paths.iter().map(|p| edgesim::scenario::compose::resolve(p).unwrap().text));
    }
    texts
}

/// The mutants start from valid files: every committed scenario is within the bounds.
#[test]
fn every_committed_scenario_is_accepted() {
    for text in corpus() {
        if let Err(e) = Scenario::parse("committed.toml", &text) {
            panic!("{e}\n{text}");
        }
    }
}

/// Values a mutation writes in place of a key's value.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "40",
    "70000",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "1.5",
    "0.0",
    "nan",
    "inf",
    "-0.5",
    "true",
    "\"0s\"",
    "\"0ms\"",
    "\"1ms\"",
    "\"2s\"",
    "\"2400h\"",
    "\"-5s\"",
    "\"5\"",
    "\"\"",
    "\"dns\"",
    "\"status-us-east\"",
    "\"primary\"",
    "\"ré\"",
    "\"\\u001b[31m\"",
    "\"region:us-east\"",
    "\"crash\"",
    "[]",
    "[\"a\", \"a\"]",
    "[\"dns\"]",
    "{}",
    "{ x = \"1s\" }",
];

/// Lines a mutation inserts.
const LINES: &[&str] = &[
    "[status]",
    "[workload]",
    "[network]",
    "[failover]",
    "[replication]",
    "[status.network]",
    "[[region]]",
    "[[fault]]",
    "name = \"x\"",
    "kind = \"loss\"",
    "budgets = [\"ttfb_p99 < 1s\"]",
    "budgets = [\"read_p99 < 1s\"]",
    "primary_region = \"us-east\"",
    "cdns = [\"dns\", \"cdn-a\"]",
    "pops = 4",
    "x = 1",
    "\"",
    "[",
];

/// One edit of a scenario's text; the numbers pick lines and values, modulo what there is.
#[derive(Clone, Debug)]
enum Edit {
    Value(usize, usize),
    Drop(usize),
    Repeat(usize),
    Move(usize, usize),
    Insert(usize, usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<usize>()).prop_map(|(l, v)| Edit::Value(l, v)),
        1 => any::<usize>().prop_map(Edit::Drop),
        1 => any::<usize>().prop_map(Edit::Repeat),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Move(a, b)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(l, v)| Edit::Insert(l, v)),
        1 => any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *e {
            Edit::Value(l, v) => {
                let line = &mut lines[l % n];
                if let Some(eq) = line.find(" = ") {
                    line.replace_range(eq + 3.., VALUES[v % VALUES.len()]);
                }
            }
            Edit::Drop(l) => {
                lines.remove(l % n);
            }
            Edit::Repeat(l) => lines.insert(l % n, lines[l % n].clone()),
            Edit::Move(a, b) => {
                let line = lines.remove(a % n);
                lines.insert(b % n, line);
            }
            Edit::Insert(l, v) => lines.insert(l % (n + 1), LINES[v % LINES.len()].to_string()),
            Edit::Cut(at) => {
                let mut joined = lines.join("\n");
                let mut at = at % (joined.len() + 1);
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                joined.truncate(at);
                lines = joined.lines().map(String::from).collect();
            }
        }
    }
    lines.join("\n") + "\n"
}

/// A refusal must say where (a line and column inside the file) and must not carry a raw control
/// character to the terminal.
fn well_formed(e: &ScenarioError, text: &str) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    prop_assert!(!shown.chars().any(char::is_control), "raw control character in {shown:?}");
    prop_assert!(e.line >= 1 && e.column >= 1, "no position: {shown}");
    prop_assert!(e.line <= text.lines().count() + 1, "position past the end: {shown}");
    Ok(())
}

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Parse only: no mutant panics, and every refusal says where.
    #[test]
    fn every_mutant_is_accepted_or_refused_with_a_position(
        pick in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let corpus = corpus();
        let text = apply(&corpus[pick % corpus.len()], &edits);
        if let Err(e) = Scenario::parse("mutant.toml", &text) {
            well_formed(&e, &text)?;
        }
    }
}

/// Small, short scenarios whose accepted mutants are cheap to run.
const SMALL: &[&str] = &[
    "name = \"small-edge\"\nduration = \"3s\"\nsettle = \"1s\"\nprimary_region = \"a\"\n[[region]]\nname = \"a\"\npops = 1\nto_primary = \"5ms\"\n[[region]]\nname = \"b\"\npops = 2\nto_primary = \"20ms\"\n[workload]\nwarmup = \"1s\"\nsessions_per_region = 2\nsession_rate = 5.0\nkeys = 4\nvalue_bytes = 8\nread_write_ratio = 3\n[replication]\nheartbeat = \"200ms\"\nretain_frames = 20\n[failover]\nhealth_interval = \"500ms\"\nconfirm_after = 2\n[[fault]]\nat = \"2s\"\nkind = \"crash\"\nhost = \"pop-b-1\"\n",
    "name = \"small-status\"\nduration = \"5s\"\nsettle = \"2s\"\ntick = \"10ms\"\n[status]\nregions = [\"us\", \"eu\"]\ncdns = [\"cdn-a\", \"cdn-b\"]\nedit_every = \"1s\"\nedits_from = \"1s\"\nviewers_per_region = 2\nview_every = \"1s\"\nsse_viewers_per_region = 1\nsubscribers = 2\ndns_check_interval = \"1s\"\nsync_interval = \"100ms\"\n[[fault]]\nat = \"2s\"\nkind = \"crash\"\nhost = \"cdn-a\"\n",
];

/// Values small enough that an accepted mutant stays cheap to run, by the kind of value they
/// replace: durations, whole numbers, numbers with a fraction.
const SMALL_VALUES: [&[&str]; 3] = [
    &["\"0s\"", "\"1ms\"", "\"10ms\"", "\"100ms\"", "\"1s\"", "\"3s\""],
    &["0", "1", "2", "3", "5"],
    &["0.5", "1.0", "2.0"],
];

/// `line` with its value replaced by one of the same kind, picked by `v`.
fn small_mutation(line: &mut String, v: usize) {
    let Some(eq) = line.find(" = ") else { return };
    let value = &line[eq + 3..];
    let kind = if value.ends_with("s\"") {
        0
    } else if value.parse::<u64>().is_ok() {
        1
    } else if value.parse::<f64>().is_ok() {
        2
    } else {
        return;
    };
    if !line.starts_with("duration") && !line.starts_with("settle") {
        line.replace_range(eq + 3.., SMALL_VALUES[kind][v % SMALL_VALUES[kind].len()]);
    }
}

proptest! {
    #![proptest_config(config(30))]

    /// Mutants keep their values small, so most are accepted; each accepted one runs to its end
    /// and is analysed without a panic.
    #[test]
    fn accepted_mutants_of_small_scenarios_run_to_the_end(
        pick in any::<usize>(),
        edits in prop::collection::vec((any::<usize>(), any::<usize>()), 1..4),
        seed in 1u64..1000,
    ) {
        let mut lines: Vec<String> = SMALL[pick % SMALL.len()].lines().map(String::from).collect();
        for (l, v) in edits {
            let n = lines.len();
            small_mutation(&mut lines[l % n], v);
        }
        let text = lines.join("\n") + "\n";
        match Scenario::parse("mutant.toml", &text) {
            Err(e) => well_formed(&e, &text)?,
            Ok(s) => {
                let log = simulate(&s, seed, &mut |_| {});
                if let Ok(log) = log {
                    analyze(&s, seed, &log);
                }
            }
        }
    }
}
