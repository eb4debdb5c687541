//! `edgesim check-determinism`: runs a scenario's seed twice, each in its own process, and compares
//! the two event logs line by line. The first differing line names the simulated time at which
//! the runs parted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where two event logs first differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// 1-based.
    pub line: usize,
    /// The simulated time of the earlier of the two events, when either has one.
    pub t_us: Option<u64>,
    /// The two lines; `None` where that log had already ended.
    pub first: Option<String>,
    pub second: Option<String>,
}

/// The first line at which two JSON Lines logs differ, if any.
pub fn compare(first: &str, second: &str) -> Option<Divergence> {
    let (mut a, mut b) = (first.lines(), second.lines());
    for line in 1.. {
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => continue,
            (x, y) => {
                let t_us = |l: Option<&str>| serde_json::from_str::<serde_json::Value>(l?).ok()?.get("t_us")?.as_u64();
                let t_us = [t_us(x), t_us(y)].into_iter().flatten().min();
                return Some(Divergence { line, t_us, first: x.map(String::from), second: y.map(String::from) });
            }
        }
    }
    unreachable!("lines are finite")
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DeterminismError {
    #[error("cannot start {}: {source}", exe.display())]
    Spawn { exe: PathBuf, source: std::io::Error },
    #[error("run {which} failed (exit {code:?}): {stderr}")]
    Run { which: usize, code: Option<i32>, stderr: String },
    #[error("{}: cannot read the event log: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
}

/// One run's event log and hash.
pub(crate) struct Log {
    pub hash: String,
    pub jsonl: String,
}

/// Runs `exe run SCENARIO --seed SEED --events TMP --quiet` twice at once and reads both logs.
/// Exit codes 0 to 2 are runs that completed (budgets and checkers do not matter here).
pub(crate) fn run_twice(exe: &Path, scenario: &Path, seed: u64) -> Result<[Log; 2], DeterminismError> {
    let events =
        |which: usize| std::env::temp_dir().join(format!("edgesim-determinism-{}-{which}.jsonl", std::process::id()));
    let spawn = |which: usize| -> Result<Child, DeterminismError> {
        Command::new(exe)
            .arg("run")
            .arg(scenario)
            .args(["--seed", &seed.to_string(), "--quiet", "--events"])
            .arg(events(which))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DeterminismError::Spawn { exe: exe.to_path_buf(), source })
    };
    let finish = |which: usize, child: Child| -> Result<Log, DeterminismError> {
        let out =
            child.wait_with_output().map_err(|source| DeterminismError::Spawn { exe: exe.to_path_buf(), source })?;
        let path = events(which);
        let read = std::fs::read_to_string(&path);
        let _ = std::fs::remove_file(&path);
        if !matches!(out.status.code(), Some(0..=2)) {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(DeterminismError::Run { which, code: out.status.code(), stderr });
        }
        let jsonl = read.map_err(|source| DeterminismError::Read { path, source })?;
        Ok(Log { hash: String::from_utf8_lossy(&out.stdout).trim().to_string(), jsonl })
    };
    let (first, second) = (spawn(1)?, spawn(2)?);
    Ok([finish(1, first)?, finish(2, second)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_differing_line_and_its_time() {
        let a = "{\"t_us\":1,\"x\":1}\n{\"t_us\":5,\"x\":2}\n{\"t_us\":9,\"x\":3}\n";
        assert_eq!(compare(a, a), None);
        let b = "{\"t_us\":1,\"x\":1}\n{\"t_us\":7,\"x\":2}\n";
        let d = compare(a, b).unwrap();
        assert_eq!((d.line, d.t_us), (2, Some(5)));
        assert_eq!(d.second.as_deref(), Some("{\"t_us\":7,\"x\":2}"));
        let d = compare(a, &a[..a.len() - 18]).unwrap();
        assert_eq!((d.line, d.t_us, d.second), (3, Some(9), None));
    }
}
