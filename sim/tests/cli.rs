//! The command line as CI uses it: exit codes and error messages, and output paths refused before
//! anything runs.

use std::process::Command;

fn edgesim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgesim")).args(args).output().expect("edgesim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn bad_input_exits_3_naming_file_line_and_problem() {
    let dir = std::env::temp_dir().join(format!("edgesim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\nduration = \"10s\"\nprimary_region = \"a\"\n[[region]]\nname = \"a\"\npops = 1\nto_primary = \"5ms\"\n[[fault]]\nat = \"3s\"\nkind = \"crash\"\nhost = \"pop-b-9\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = edgesim(&["run", bad.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.is_empty(), "no report for a refused scenario: {stdout}");
    assert!(stderr.contains("bad.toml:11:8: `pop-b-9` is not a host"), "{stderr}");

    let (code, _, stderr) = edgesim(&["run", "--sed", "3", bad.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("--sed"), "{stderr}");

    let (code, _, stderr) = edgesim(&["suite", dir.join("missing").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("missing: cannot read"), "{stderr}");
}

#[test]
fn output_paths_that_cannot_be_written_are_refused_before_the_run() {
    let dir = std::env::temp_dir().join(format!("edgesim-cli-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("file");
    std::fs::write(&file, "not a directory").unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady.toml");
    let blocked = file.join("out.json");
    let blocked = blocked.to_str().unwrap();
    for flag in ["--json", "--events", "--html"] {
        let (code, stdout, stderr) = edgesim(&["run", scenario, flag, blocked]);
        assert_eq!(code, 3, "{flag}");
        assert!(stdout.is_empty(), "{flag}: refused before the run: {stdout}");
        assert!(stderr.contains(&format!("cannot create {}", file.display())), "{flag}: {stderr}");
    }
    let (code, stdout, stderr) = edgesim(&["run", scenario, "--json", dir.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.is_empty() && stderr.contains(&format!("cannot write {}", dir.display())), "{stderr}");

    let (code, stdout, stderr) = edgesim(&["suite", scenario, "--out", file.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&format!("cannot create {}", file.display())), "{stderr}");
    let summary = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/reference/summary.json");
    let (code, stdout, stderr) = edgesim(&["merge", summary, "--out", file.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&format!("cannot create {}", file.display())), "{stderr}");
}

/// `edgesim check` validates without running: every refusal printed with its position, exit 3 if
/// any file is refused, 0 when all are valid; `list` names each scenario with its system and
/// budgets; `--version` names the build's commit, as replay lines do.
#[test]
fn check_list_and_version_describe_without_running() {
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let (code, stdout, stderr) = edgesim(&["check", scenarios]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("scenario files valid"), "{stdout}");

    let dir = std::env::temp_dir().join(format!("edgesim-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("long.toml");
    std::fs::write(&bad, "name = \"x\"\nduration = \"2400h\"\n").unwrap();
    let steady = format!("{scenarios}/steady.toml");
    let (code, stdout, stderr) = edgesim(&["check", bad.to_str().unwrap(), &steady]);
    assert_eq!(code, 3);
    assert!(stderr.contains("long.toml:2:12: `duration` = \"2400h\" is out of range"), "{stderr}");
    assert!(stdout.contains("1 of 2 scenario files valid"), "{stdout}");

    let (code, stdout, _) = edgesim(&["list", scenarios]);
    assert_eq!(code, 0);
    assert!(stdout.contains("primary-crash-sync  (edge platform"), "{stdout}");
    assert!(stdout.contains("status-cdn-outage  (status page"), "{stdout}");
    assert!(stdout.contains("failover_time < 60s"), "{stdout}");

    let (code, stdout, _) = edgesim(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("(commit {})", edgesim::verdict::COMMIT)), "{stdout}");
}

#[test]
fn an_include_splices_a_shared_topology_and_its_problems_are_told_where_they_were_written() {
    // Goal: `include` lines give the scenario the included regions, `show` prints the resolved
    // scenario, and a problem inside the included file names that file and line.
    let dir = std::env::temp_dir().join(format!("edgesim-cli-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::write(
        dir.join("topologies/one.toml"),
        "# one region\n[[region]]\nname = \"a\"\npops = 1\nto_primary = \"5ms\"\n",
    )
    .unwrap();
    let file = dir.join("s.toml");
    let scenario = "name = \"s\"\nduration = \"2s\"\nprimary_region = \"a\"\ninclude = \"topologies/one.toml\"\n";
    std::fs::write(&file, scenario).unwrap();
    let (code, stdout, stderr) = edgesim(&["show", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "name = \"s\"\nduration = \"2s\"\nprimary_region = \"a\"\n[[region]]\nname = \"a\"\npops = 1\nto_primary = \"5ms\"\n"
    );
    let (code, stdout, stderr) = edgesim(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    std::fs::write(dir.join("topologies/one.toml"), "[[region]]\nname = \"a\"\npops = 0\nto_primary = \"5ms\"\n")
        .unwrap();
    let (code, _, stderr) = edgesim(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("one.toml:3:"), "the problem is told in the included file: {stderr}");

    std::fs::write(&file, scenario.replace("one.toml", "none.toml")).unwrap();
    let (code, _, stderr) = edgesim(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("s.toml:4:1: include `topologies/none.toml`:"), "{stderr}");
}

#[test]
fn set_overrides_a_key_for_show_and_run_and_is_in_the_replay_command() {
    // Goal: `--set KEY=VALUE` changes the resolved scenario, is refused with exit 3 when it cannot
    // apply, and a run made with it prints it and replays with it.
    let steady = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady.toml");
    let (code, stdout, stderr) =
        edgesim(&["show", steady, "--set", "duration=3s", "--set", "workload.session_rate=0.5"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("duration = \"3s\"") && stdout.contains("session_rate = 0.5"), "{stdout}");
    assert!(stdout.contains("[[region]]"), "the included regions are in the resolved scenario: {stdout}");

    let (code, _, stderr) = edgesim(&["show", steady, "--set", "duration=soon"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("`soon` is not a duration"), "{stderr}");
    let (code, _, stderr) = edgesim(&["show", steady, "--set", "duration"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("KEY=VALUE"), "{stderr}");

    let budget = "budgets=[\"read_p99 < 1us\"]";
    let (code, stdout, stderr) =
        edgesim(&["run", steady, "--seed", "2", "--set", "duration=2s", "--set", "settle=1s", "--set", budget]);
    assert_eq!(code, 1, "the tighter budget breaks: {stdout}{stderr}");
    assert!(stdout.contains("overrides: --set duration=2s --set settle=1s --set budgets="), "{stdout}");
    assert!(
        stdout.contains("replay: edgesim run ")
            && stdout.contains(" --seed 2 --set duration=2s --set settle=1s --set 'budgets="),
        "{stdout}"
    );
}

#[test]
fn set_overrides_every_scenario_of_a_suite_and_check_and_is_in_their_replay_commands() {
    // Goal: `suite` and `check` take `--set` as `run` does: `check` refuses an override that
    // cannot apply (exit 3) and passes one that can; a suite's runs (each a child process) run
    // with the overrides, which a broken tighter budget shows, and replay with them.
    let steady = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady.toml");
    let (code, _, stderr) = edgesim(&["check", steady, "--set", "duration=soon"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("`soon` is not a duration"), "{stderr}");
    let (code, stdout, stderr) = edgesim(&["check", steady, "--set", "duration=3s"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let dir = std::env::temp_dir().join(format!("edgesim-cli-set-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let budget = "budgets=[\"read_p99 < 1us\"]";
    let sets = ["--set", "duration=2s", "--set", "settle=1s", "--set", budget];
    let (code, stdout, stderr) = edgesim(&[&["suite", steady, "--out", dir.to_str().unwrap()][..], &sets].concat());
    assert_eq!(code, 1, "the tighter budget breaks in the child run: {stdout}{stderr}");
    let replay = " --seed 1 --set duration=2s --set settle=1s --set 'budgets=";
    assert!(stdout.contains(replay), "{stdout}");
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(summary.contains("--set duration=2s --set settle=1s"), "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}
