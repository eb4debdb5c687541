//! A suite's list of runs: its scenario files, its name, every (scenario, seed) it runs, and its
//! plan (`render::summary::Plan`), which lets `merge` refuse an incomplete or mixed set of shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::render::summary::{Plan, Run};
use crate::scenario::{Scenario, ScenarioError, compose};
use crate::suite::shard::{Shard, share};
use crate::verdict::COMMIT;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: no scenario files (*.toml) in this directory", .0.display())]
    Empty(PathBuf),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// The scenario files named by `paths`: files, or every `.toml` directly inside a directory, in
/// name order; a file named twice (by any spelling) is kept once, where it is first named.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| SuiteError::Read { path: p.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(SuiteError::Empty(p.clone()));
            }
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    Ok(files)
}

/// The scenarios named by `paths` (as [`files`]), every one checked before any runs.
pub fn collect(paths: &[PathBuf], overrides: &[compose::Override]) -> Result<Vec<Scenario>, SuiteError> {
    Ok(files(paths)?.iter().map(|f| Scenario::load_with(f, overrides)).collect::<Result<_, _>>()?)
}

/// The suite's name: the directory's when it is one directory, else `suite`.
pub fn name(paths: &[PathBuf]) -> String {
    match paths {
        [dir] if dir.is_dir() => {
            dir.canonicalize().ok().and_then(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
        }
        _ => None,
    }
    .unwrap_or_else(|| "suite".into())
}

/// Every (scenario, seed) of the suite, seeds `1..=seeds` or each scenario's own, in order; only
/// the shard's share when sharded.
pub fn runs(scenarios: &[Scenario], seeds: Option<u64>, shard: Option<Shard>) -> Vec<(Scenario, u64)> {
    let all = scenarios.iter().flat_map(|s| {
        let seeds: Vec<u64> = seeds.map_or(vec![s.seed], |n| (1..=n).collect());
        seeds.into_iter().map(move |seed| (s.clone(), seed))
    });
    share(all, shard).collect()
}

/// The plan of `shard` (the whole suite when `None`) of the suite whose runs are `all`.
pub fn plan(all: &[(Scenario, u64)], shard: Option<Shard>) -> Result<Plan, SuiteError> {
    let mut files = BTreeMap::new();
    let mut digest = Xxh3::new();
    for (scenario, seed) in all {
        let path = &scenario.path;
        if !files.contains_key(path) {
            let resolved = compose::resolve(Path::new(path))?;
            files.insert(path.clone(), xxhash_rust::xxh3::xxh3_64(resolved.text.as_bytes()));
        }
        digest.update(path.as_bytes());
        digest.update(&[0]);
        digest.update(&files[path].to_le_bytes());
        for o in &scenario.overrides {
            digest.update(o.as_bytes());
            digest.update(&[0]);
        }
        digest.update(&seed.to_le_bytes());
    }
    let mut runs: Vec<Run> = share(all, shard).map(|(s, seed)| Run { path: s.path.clone(), seed: *seed }).collect();
    runs.sort();
    Ok(Plan {
        build: COMMIT.to_string(),
        shard,
        suite_runs: all.len(),
        suite_digest: format!("{:016x}", digest.digest()),
        runs,
    })
}
