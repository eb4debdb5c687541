//! Test-only knobs that restore bugs exploration found in the simulated systems and that are fixed
//! since (scenarios/found/README.md), so that a test, or a person, can show `edgesim explore`
//! finding each again: `EDGESIM_TEST_BUG=NAME[,NAME...]`. Read only by the harness as it builds a
//! world and applies faults; unset (the default), every run is of the systems as they are.

/// The environment variable that restores bugs.
pub const TEST_BUG: &str = "EDGESIM_TEST_BUG";

/// A fixed bug the harness can restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bug {
    /// `loss-stalls` (issue 13, bug 1): message loss as turmoil's TCP applies it, a dropped
    /// segment never sent again so its stream stalls for good, and a primary that does not notice
    /// its synchronous standby's acknowledgements stop advancing while the stream looks alive.
    LossStalls,
    /// `origin-waits` (bug 3): a CDN's edge worker waits for the origins as long as a viewer waits
    /// for it, so with the origins crashed the stale-cache tier answers too late.
    OriginWaits,
    /// `regions-forget` (bug 4): a status region restarts with an empty document.
    RegionsForget,
}

impl Bug {
    /// The name `EDGESIM_TEST_BUG` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Bug::LossStalls => "loss-stalls",
            Bug::OriginWaits => "origin-waits",
            Bug::RegionsForget => "regions-forget",
        }
    }

    /// Whether `EDGESIM_TEST_BUG` restores this bug.
    pub fn restored(self) -> bool {
        std::env::var(TEST_BUG).is_ok_and(|asked| named(&asked, self))
    }
}

/// Whether the list `asked` (names separated by commas) names `bug`.
fn named(asked: &str, bug: Bug) -> bool {
    asked.split(',').any(|name| name.trim() == bug.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bug_is_restored_only_when_named() {
        // Goal: each knob answers to its own name in the list, and to nothing else.
        assert!(named("loss-stalls", Bug::LossStalls));
        assert!(named("origin-waits, regions-forget", Bug::RegionsForget));
        assert!(!named("origin-waits", Bug::LossStalls));
        assert!(!named("", Bug::OriginWaits));
        assert!(!named("regions", Bug::RegionsForget));
    }
}
