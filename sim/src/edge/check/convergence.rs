//! Convergence (docs/DESIGN.md, Convergence: after faults heal, every running node's content equals
//! the primary's), compared by the digests the harness computed from each node's audited content.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::FinalOutcome;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConvergenceFinding {
    pub converged: bool,
    /// Nodes whose content differs from the primary's, with their LSN.
    pub diverged: Vec<(String, u64)>,
    /// Running nodes the audit could not reach, with the reason.
    pub unreachable: Vec<(String, String)>,
    /// Nodes that were down at the end (crashed and not restarted): not judged.
    pub down: Vec<String>,
    /// Why the run could not be judged at all (the primary at the end was not audited, so there
    /// is no content to compare with); `converged` is then false, but the checker did not fire.
    pub not_judged: Option<String>,
}

/// Compares every audited node with `reference` (the primary at the end); nodes in `down` are
/// listed but not judged. `unaudited`: why the reference was not audited, when it was not.
pub fn check(
    finals: &BTreeMap<String, FinalOutcome>,
    reference: &str,
    down: &[String],
    unaudited: Option<&String>,
) -> ConvergenceFinding {
    let mut v = ConvergenceFinding { down: down.to_vec(), ..ConvergenceFinding::default() };
    let Some(FinalOutcome::Audited { digest: truth, .. }) = finals.get(reference) else {
        v.not_judged = unaudited.cloned();
        return v;
    };
    for (node, outcome) in finals.iter().filter(|(node, _)| !down.contains(node)) {
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
        assert!(check(&finals, "primary", &[], None).converged);
        finals.insert("pop-2".into(), audited("b"));
        finals.insert("pop-3".into(), FinalOutcome::Unreachable { reason: "down".into() });
        let v = check(&finals, "primary", &[], None);
        assert!(!v.converged);
        assert_eq!(v.diverged, vec![("pop-2".to_string(), 1)]);
        assert_eq!(v.unreachable.len(), 1);
        finals.remove("pop-2");
        let v = check(&finals, "primary", &["pop-3".to_string()], None);
        assert!(v.converged, "a node down at the end is not judged: {v:?}");
    }

    #[test]
    fn without_the_primary_audited_convergence_is_not_judged() {
        // Issue 11, defect 9: with the primary and standby both lost, convergence "fired" (exit 2)
        // though no content could be compared; now it says why it did not judge.
        let finals = BTreeMap::from([("pop-1".to_string(), audited("a"))]);
        let why = "the primary at the end (standby) was not audited: down".to_string();
        let v = check(&finals, "standby", &["standby".to_string()], Some(&why));
        assert!(!v.converged && v.diverged.is_empty() && v.unreachable.is_empty(), "{v:?}");
        assert_eq!(v.not_judged, Some(why));
    }
}
