//! The files a suite writes into its output directory, each rendered from its summary.

use std::path::{Path, PathBuf};

use crate::render::summary::SuiteSummary;
use crate::render::{html, junit, markdown};

/// The files a suite writes into its output directory.
pub const FILES: [&str; 4] = ["summary.json", "junit.xml", "report.md", "report.html"];

#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct WriteError {
    path: PathBuf,
    source: std::io::Error,
}

/// Writes `summary`'s `summary.json`, `junit.xml`, `report.md` and `report.html` into `dir`,
/// creating it.
pub fn write(summary: &SuiteSummary, dir: &Path) -> Result<(), WriteError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&path, text))
            .map_err(|source| WriteError { path, source })
    };
    write(FILES[0], summary.json())?;
    write(FILES[1], junit::render(summary))?;
    write(FILES[2], markdown::render(summary))?;
    write(FILES[3], html::render(summary))
}
