//! `edgesim check`, `list` and `show`: scenario files read, not run.

use std::path::{Path, PathBuf};

use crate::scenario::Scenario;
use crate::scenario::compose::{self, Override};
use crate::suite;
use crate::verdict::Verdict;

/// `edgesim check`: every file is loaded, so one run shows every refusal.
pub(super) fn check(paths: &[PathBuf], overrides: &[Override]) -> anyhow::Result<u8> {
    let files = suite::files(paths)?;
    let refused =
        files.iter().filter_map(|f| Scenario::load_with(f, overrides).err()).inspect(|e| eprintln!("{e}")).count();
    println!("{} of {} scenario files valid", files.len() - refused, files.len());
    Ok(if refused == 0 { 0 } else { Verdict::Error.exit_code() })
}

/// `edgesim list`.
pub(super) fn list(paths: &[PathBuf]) -> anyhow::Result<u8> {
    for s in suite::collect(paths, &[])? {
        let system = if s.status.is_some() { "status page" } else { "edge platform" };
        println!("{}  ({system}, {}, seed {})", s.name, s.path, s.seed);
        println!("    {}", s.description);
        let budgets: Vec<String> = s.budgets.iter().map(ToString::to_string).collect();
        println!("    budgets: {}", if budgets.is_empty() { "none".into() } else { budgets.join(", ") });
    }
    Ok(0)
}

/// `edgesim show`: the resolved scenario, once it is known to be valid.
pub(super) fn show(path: &Path, overrides: &[Override]) -> anyhow::Result<u8> {
    Scenario::load_with(path, overrides)?;
    let file = path.display().to_string();
    print!("{}", compose::apply(compose::resolve(path)?, &file, overrides)?.text);
    Ok(0)
}
