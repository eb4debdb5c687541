//! What the tests that run the reference suite share: entering the workspace, where the
//! reference names its scenarios by paths relative to it (as `edgesim suite scenarios/` run there
//! does), and the reference scenarios themselves.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use edgesim::scenario::Scenario;
use edgesim::suite;

/// Enters the workspace and reads every scenario of `scenarios/`; a problem is printed and
/// returned as the exit code of bad input.
pub fn scenarios() -> Result<Vec<Scenario>, ExitCode> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).map_err(|e| {
        eprintln!("{}: cannot enter the workspace: {e}", root.display());
        ExitCode::from(3)
    })?;
    suite::collect(&[PathBuf::from("scenarios/")], &[]).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(3)
    })
}
