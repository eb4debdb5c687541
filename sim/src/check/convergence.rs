//! Convergence (DESIGN.md: "at the end, after faults heal, every replica's content equals the
//! primary's"), compared by the digests the harness computed from each node's audited content.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::FinalOutcome;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub converged: bool,
    /// Nodes whose content differs from the primary's, with their LSN.
    pub diverged: Vec<(String, u64)>,
    /// Nodes the audit could not reach, with the reason.
    pub unreachable: Vec<(String, String)>,
}

/// Compares every audited node with `reference` (the primary).
pub fn check(finals: &BTreeMap<String, FinalOutcome>, reference: &str) -> Verdict {
    let Some(FinalOutcome::Audited { digest: truth, .. }) = finals.get(reference) else {
        return Verdict {
            converged: false,
            diverged: vec![],
            unreachable: vec![(reference.into(), "not audited".into())],
        };
    };
    let mut v = Verdict::default();
    for (node, outcome) in finals {
        match outcome {
            FinalOutcome::Audited { digest, lsn, .. } if digest != truth => v.diverged.push((node.clone(), *lsn)),
            FinalOutcome::Audited { .. } => {}
            FinalOutcome::Unreachable { reason } => v.unreachable.push((node.clone(), reason.clone())),
        }
    }
    v.converged = v.diverged.is_empty() && v.unreachable.is_empty();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audited(digest: &str) -> FinalOutcome {
        FinalOutcome::Audited { lsn: 1, digest: digest.into(), rows: 1, writes: vec![] }
    }

    #[test]
    fn a_differing_or_missing_node_breaks_convergence() {
        let mut finals = BTreeMap::from([("primary".to_string(), audited("a")), ("pop-1".to_string(), audited("a"))]);
        assert!(check(&finals, "primary").converged);
        finals.insert("pop-2".into(), audited("b"));
        finals.insert("pop-3".into(), FinalOutcome::Unreachable { reason: "down".into() });
        let v = check(&finals, "primary");
        assert!(!v.converged);
        assert_eq!(v.diverged, vec![("pop-2".to_string(), 1)]);
        assert_eq!(v.unreachable.len(), 1);
    }
}
