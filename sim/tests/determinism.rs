//! Same scenario, seed and build give a byte-identical event log, in this process and in separate
//! processes; another seed gives another log.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use edgesim::log::EventLog;
use edgesim::scenario::Scenario;
use edgesim::world::{simulate, simulate_into};

fn short_steady() -> Scenario {
    let mut s = Scenario::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady.toml"))).unwrap();
    s.duration = Duration::from_secs(6);
    s.settle = Duration::from_secs(2);
    s
}

fn hash(scenario: &Scenario, seed: u64) -> String {
    simulate(scenario, seed, &mut |_| {}).unwrap().hash()
}

/// Runs `scenario` at `seed`, its event log streamed to a file named by `which`: the log and the
/// file's bytes.
fn logged(scenario: &Scenario, seed: u64, which: &str) -> (EventLog, Vec<u8>) {
    let path = std::env::temp_dir().join(format!("edgesim-determinism-test-{which}-{}.jsonl", std::process::id()));
    let file = BufWriter::new(File::create(&path).unwrap());
    let log = simulate_into(EventLog::writing(file), scenario, seed, &mut |_| {}).unwrap();
    log.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (log, bytes)
}

#[test]
fn same_seed_same_log_other_seed_other_log() {
    let s = short_steady();
    let (first, a) = logged(&s, 7, "first");
    let (second, b) = logged(&s, 7, "second");
    assert!(first.len() > 1000, "the run did work: {} events", first.len());
    assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), first.len(), "the file has every event");
    assert_eq!(first.hash(), second.hash());
    assert!(a == b, "the JSON Lines logs are byte-identical");
    assert_eq!(first.hash(), format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&a)), "the hash is the file's");
    assert_ne!(first.hash(), hash(&s, 8));
}

#[test]
fn separate_processes_print_the_same_hash() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady.toml");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(["run", scenario, "--seed", "3", "--quiet"])
            .output()
            .expect("edgesim runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 32, "a hash was printed: {a:?}");
    assert_eq!(a, b);
    let in_process = hash(&Scenario::load(Path::new(scenario)).unwrap(), 3);
    assert_eq!(a, in_process);
}
