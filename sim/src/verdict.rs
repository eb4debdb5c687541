//! The verdict of a run, and the exit code CI gates on: 0 every budget held and no correctness
//! checker fired; 1 a budget broke; 2 a correctness checker fired (it wins over a budget); 3 bad
//! input or a harness error.

use serde::{Deserialize, Serialize};

use crate::report::RunReport;
use crate::scenario::Scenario;

/// Worst first is the highest: the verdict of many runs is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass = 0,
    BudgetBroken = 1,
    CheckerFired = 2,
    Error = 3,
}

impl Verdict {
    pub const fn exit_code(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::BudgetBroken => "budget broken",
            Verdict::CheckerFired => "checker fired",
            Verdict::Error => "harness error",
        }
    }
}

/// What a run broke.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Each broken budget with the run's value.
    pub failed_budgets: Vec<String>,
    pub fired_checkers: Vec<String>,
}

pub fn judge(scenario: &Scenario, report: &RunReport) -> Judgement {
    let failed_budgets: Vec<String> =
        scenario.budgets.iter().filter_map(|b| b.check(report)).map(|b| b.to_string()).collect();
    let fired_checkers: Vec<String> = report.fired().into_iter().map(String::from).collect();
    let verdict = if !fired_checkers.is_empty() {
        Verdict::CheckerFired
    } else if !failed_budgets.is_empty() {
        Verdict::BudgetBroken
    } else {
        Verdict::Pass
    };
    Judgement { verdict, failed_budgets, fired_checkers }
}

/// The commit this edgesim was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("EDGESIM_COMMIT");

/// The command that runs one seed of a scenario again.
pub fn replay(path: &str, seed: u64) -> String {
    format!("edgesim run {path} --seed {seed}")
}

/// A replay command as printed with a failure: with the build it needs (`COMMIT`, or the build a
/// summary records).
pub fn replay_at_build(replay: &str, build: &str) -> String {
    format!("{replay}   # edgesim built from commit {build}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_rank_the_verdicts() {
        let codes: Vec<u8> = [Verdict::Pass, Verdict::BudgetBroken, Verdict::CheckerFired, Verdict::Error]
            .map(Verdict::exit_code)
            .into();
        assert_eq!(codes, vec![0, 1, 2, 3]);
        assert_eq!([Verdict::BudgetBroken, Verdict::CheckerFired].into_iter().max(), Some(Verdict::CheckerFired));
    }
}
