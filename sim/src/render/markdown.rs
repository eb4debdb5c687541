//! `report.md`: a suite summary for people: the table of runs, then each failure with what broke
//! and how to replay it.

use std::fmt;

use crate::render::summary::SuiteSummary;
use crate::render::table;
use crate::verdict::{Verdict, replay_at_build};

/// Text that cannot break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn render(s: &SuiteSummary) -> String {
    fmt::from_fn(|o| report(o, s)).to_string()
}

fn report(o: &mut fmt::Formatter, s: &SuiteSummary) -> fmt::Result {
    write!(o, "# {}\n\n{}", cell(&crate::render::html::title(s)), table::markdown(s))?;
    let failed: Vec<_> = s.entries.iter().filter(|e| e.verdict != Verdict::Pass).collect();
    if !failed.is_empty() {
        o.write_str("\n## Failures\n")?;
    }
    for e in failed {
        writeln!(o, "\n### {} seed {}: {}\n", e.scenario, e.seed, e.verdict.label())?;
        for f in e.failures() {
            writeln!(o, "- {f}")?;
        }
        writeln!(o, "- replay: `{}`", replay_at_build(&e.replay, &s.plan.build))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::summary::tests::{entry, summary};

    #[test]
    fn lists_every_run_then_each_failure_with_its_replay() {
        let s = summary("s", vec![entry("a.toml", 1, Verdict::Pass), entry("b.toml", 2, Verdict::CheckerFired)]);
        let md = render(&s);
        assert!(md.starts_with("# edgesim suite s: checker fired (2 runs)\n"), "{md}");
        assert!(
            md.contains("| a        |    1 |    9.6ms |         - |       - |   0 |    - |        - | pass          |"),
            "{md}"
        );
        assert!(md.contains("### b seed 2: checker fired\n\n- checker fired: read-your-writes\n"), "{md}");
        assert!(md.contains("- replay: `edgesim run b.toml --seed 2   # edgesim built from commit b`"), "{md}");
    }
}
