//! `junit.xml`: a suite summary as JUnit XML, which CI systems display. One testcase per scenario
//! and seed; a failure names the broken budgets, fired checkers or checkers that could not judge and carries the replay command.

use std::fmt;

use crate::render::markup::escape;
use crate::render::summary::SuiteSummary;
use crate::verdict::{Verdict, replay_at_build};

pub fn render(s: &SuiteSummary) -> String {
    fmt::from_fn(|o| suites(o, s)).to_string()
}

fn suites(o: &mut fmt::Formatter, s: &SuiteSummary) -> fmt::Result {
    let failures = s
        .totals
        .iter()
        .filter(|(v, _)| matches!(v, Verdict::NotJudged | Verdict::BudgetBroken | Verdict::CheckerFired));
    let failures: usize = failures.map(|(_, n)| n).sum();
    let errors = s.totals.get(&Verdict::Error).copied().unwrap_or(0);
    let counts = format!(r#"tests="{}" failures="{failures}" errors="{errors}""#, s.entries.len());
    let suite = escape(&s.suite);
    o.write_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    writeln!(o, r#"<testsuites name="{suite}" {counts}>"#)?;
    writeln!(o, r#"  <testsuite name="{suite}" {counts}>"#)?;
    for e in &s.entries {
        write!(
            o,
            r#"    <testcase classname="{}" name="{}" file="{}">"#,
            escape(&e.scenario),
            escape(&format!("{} seed {}", e.scenario, e.seed)),
            escape(&e.path)
        )?;
        let tag = match e.verdict {
            Verdict::Pass => {
                o.write_str("</testcase>\n")?;
                continue;
            }
            Verdict::Error => "error",
            Verdict::NotJudged | Verdict::BudgetBroken | Verdict::CheckerFired => "failure",
        };
        let failures = e.failures();
        writeln!(
            o,
            "\n      <{tag} type=\"{}\" message=\"{}\">{}\nreplay: {}</{tag}>\n    </testcase>",
            e.verdict.label(),
            escape(&failures.join("; ")),
            escape(&failures.join("\n")),
            escape(&replay_at_build(&e.replay, &s.plan.build))
        )?;
    }
    o.write_str("  </testsuite>\n</testsuites>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::summary::tests::{entry, summary};

    #[test]
    fn a_failure_names_the_budget_and_the_replay_command() {
        let s = summary("s&t", vec![entry("a.toml", 1, Verdict::Pass), entry("b.toml", 7, Verdict::BudgetBroken)]);
        let xml = render(&s);
        assert!(xml.contains(r#"<testsuites name="s&amp;t" tests="2" failures="1" errors="0">"#), "{xml}");
        assert!(xml.contains(r#"<testcase classname="a" name="a seed 1" file="a.toml"></testcase>"#), "{xml}");
        assert!(xml.contains(r#"message="budget broken: read_p99 &lt; 1ms (was 9.6ms)""#), "{xml}");
        assert!(xml.contains("replay: edgesim run b.toml --seed 7   # edgesim built from commit b</failure>"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), xml.matches("</testcase>").count());
    }
}
