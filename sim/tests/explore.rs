//! `edgesim explore` and `shrink` as a user runs them: a planted bug (the test-only knob
//! `EDGESIM_TEST_PLANT`, which makes `convergence` fire in a run where a hold was applied) is found
//! within a few seeds and shrunk to the one hold, written as a scenario file that fails again; the
//! liveness checker fires when writes cannot resume by the deadline; a swarm scenario's seed runs
//! the same twice.

use std::path::{Path, PathBuf};
use std::process::Command;

fn edgesim(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("edgesim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn temp(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgesim-explore-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A short swarm scenario (one region, two PoPs, 12 s, one to three drawn faults), into `dir`.
fn swarm(dir: &Path, within: &str) -> String {
    let text = format!(
        "name = \"small-swarm\"\nduration = \"12s\"\nsettle = \"2s\"\ntick = \"2ms\"\nprimary_region = \"r\"\n\n\
         [[region]]\nname = \"r\"\npops = 2\nto_primary = \"10ms\"\n\n[workload]\nsessions_per_region = 4\n\
         read_write_ratio = 2\n\n[liveness]\nheal = \"7s\"\nwithin = \"{within}\"\n\n[swarm]\nfrom = \"1s\"\n\
         faults = \"1..3\"\nkinds = [\"hold\", \"latency\", \"crash\"]\nroles = [\"pop\", \"distributor\"]\n\
         lasting = \"500ms..3s\"\nlatency = \"20ms..200ms\"\n"
    );
    let path = dir.join("small-swarm.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_planted_bug_is_found_and_shrunk_to_its_one_fault() {
    let dir = temp("planted");
    let scenario = swarm(&dir, "4s");
    let plant = [("EDGESIM_TEST_PLANT", "hold")];
    let out = dir.join("out");
    let (code, stdout, stderr) =
        edgesim(&plant, &["explore", &scenario, "--seeds", "4", "--stop-at-first", "--out", s(&out)]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("convergence"), "{stdout}");
    let seed = stdout
        .lines()
        .find_map(|l| l.split(" seed ").nth(1)?.split(':').next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no failing seed in {stdout}"));
    assert!(out.join("summary.json").exists() && out.join("junit.xml").exists());

    let shrunk = dir.join("shrunk.toml");
    let (code, stdout, stderr) = edgesim(
        &plant,
        &["shrink", &scenario, "--seed", &seed.to_string(), "--checker", "convergence", "--out", s(&shrunk)],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 of ") && stdout.contains("reproduced"), "{stdout}");
    let text = std::fs::read_to_string(&shrunk).unwrap();
    let kinds: Vec<&str> = text.lines().filter(|l| l.starts_with("kind = ")).collect();
    assert_eq!(kinds, ["kind = \"hold\"", "kind = \"release\""], "{text}");
    assert!(!text.contains("[swarm]") && text.contains("[liveness]"), "{text}");

    let again = dir.join("again");
    let (code, stdout, _) = edgesim(&plant, &["suite", s(&shrunk), "--out", s(&again)]);
    assert_eq!(code, 2, "{stdout}");
    let (code, stdout, _) = edgesim(&[], &["suite", s(&shrunk), "--out", s(&again)]);
    assert_eq!(code, 0, "without the planted bug the shrunk file passes: {stdout}");
}

#[test]
fn liveness_fires_when_writes_cannot_resume_by_the_deadline() {
    let dir = temp("liveness");
    let scenario = swarm(&dir, "1ms");
    let (code, stdout, _) = edgesim(&[], &["run", &scenario, "--seed", "1"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.starts_with("fault schedule drawn by seed 1:"), "{stdout}");
    assert!(stdout.contains("checkers fired: liveness"), "{stdout}");
    assert!(stdout.contains("regions stalled: r"), "{stdout}");
}

#[test]
fn a_swarm_scenario_is_deterministic() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/swarm/edge-swarm.toml");
    let (code, stdout, stderr) = edgesim(&[], &["check-determinism", scenario, "--seed", "3"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("identical"), "{stdout}");
}
