//! Output files of the commands: checked before anything runs, created with their directories.

use std::path::Path;

use anyhow::Context;

/// Refuses an output path that cannot be written before anything runs: creates its directory and
/// the file, then removes the file, so no output of an earlier run is left to pass for this one's.
pub(super) fn writable(path: &Path) -> anyhow::Result<()> {
    drop(create(path)?);
    std::fs::remove_file(path).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates an output file, and the directories above it.
pub(super) fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))
}
