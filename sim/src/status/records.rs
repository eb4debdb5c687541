//! Records the status page's figures share, read once from the event log by `check` and judged
//! again by `delivery`: an acknowledged edit.

use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::ComponentStatus;

/// An acknowledged edit.
#[derive(Clone)]
pub struct AckedEdit {
    pub t_us: u64,
    pub write: u64,
    pub stamp: Timestamp,
    pub seen: Option<Timestamp>,
    pub after: Option<Timestamp>,
    pub component: Option<String>,
    /// The status a status change set.
    pub status: Option<ComponentStatus>,
    pub critical: bool,
}
