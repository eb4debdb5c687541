//! Scripted operators and disaster recovery on the status page, as a user runs them: concurrent
//! scripted edits resolve add-wins and by hybrid timestamp, each checker firing on its negative
//! control, and a scripted retraction takes an update off every page; the four disaster recovery
//! scenarios hold their RTO and RPO budgets, each negative control breaking one, the region's
//! RTO waiting for its operators, whom GeoDNS moves; and a bad scripted action is refused at its
//! key.

mod common;

use common::{load, run};
use edgesim::scenario::Scenario;
use edgesim::status::check::StatusReport;
use edgesim::verdict::{Verdict, judge};

fn status(r: &edgesim::report::RunReport) -> &StatusReport {
    r.status().expect("a status page run")
}

#[test]
fn concurrent_scripted_edits_resolve_add_wins_and_by_hlc_and_each_control_fires_its_checker() {
    // Goal: the positive scenario exercises one concurrent add/remove and one concurrent pair of
    // status changes and passes; remove-wins sets fire `add-wins` alone, physical-time LWW fires
    // `hlc-order` alone.
    let s = load("status-concurrent-ops");
    let r = run(&s);
    let c = &status(&r).concurrent;
    assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{r}");
    assert!(c.add_remove_pairs >= 1 && c.status_pairs >= 1, "{c:?}");
    assert!(c.not_judged.is_empty(), "{c:?}");
    assert_eq!(status(&r).retracted, 1, "the maintenance notice is retracted\n{r}");
    for (control, checker) in
        [("negative/status-remove-wins", "add-wins"), ("negative/status-lww-physical", "hlc-order")]
    {
        let s = load(control);
        let r = run(&s);
        let j = judge(&s, &r);
        assert_eq!((j.verdict, j.exit_code), (Verdict::CheckerFired, 2), "{control}\n{r}");
        assert_eq!(j.fired_checkers, [checker], "{control}\n{r}");
    }
}

#[test]
fn the_four_disaster_recovery_scenarios_hold_their_budgets_and_each_control_breaks_one() {
    // Goal: each DR case of the design passes its RTO/RPO budgets with the figures measured, and
    // its negative control breaks the budget it is there for.
    let cases = [
        ("status-dr-cdn", "negative/status-dr-one-cdn", "rto < 30s"),
        ("status-dr-region", "negative/status-dr-region-slow-sync", "rpo < 500ms"),
        ("status-dr-region", "negative/status-dr-region-pinned", "rto < 10s"),
        ("status-dr-origins", "negative/status-dr-origins-cdn-restart", "rto < 1s"),
        ("status-dr-total", "negative/status-dr-total-no-backup", "rpo < 5m"),
    ];
    for (scenario, control, budget) in cases {
        let s = load(scenario);
        let r = run(&s);
        assert_eq!(judge(&s, &r).verdict, Verdict::Pass, "{scenario}\n{r}");
        let recovery = status(&r).recovery.as_ref().expect("a fault to recover from");
        assert!(recovery.rto_s.is_some() && recovery.lost.is_some(), "{scenario}: {recovery:?}");
        if scenario == "status-dr-region" {
            let edits = recovery.edits.as_ref().expect("a region's loss judges its operators' edits");
            assert!(edits.acked > 0 && edits.rto_s.is_some(), "{recovery:?}");
        }
        let s = load(control);
        let r = run(&s);
        let j = judge(&s, &r);
        assert!(j.failed_budgets.iter().any(|b| b.starts_with(budget)), "{control}: {:?}\n{}", j.failed_budgets, r);
    }
}

#[test]
fn the_total_loss_loses_exactly_what_the_last_backup_missed() {
    // Goal: the rebuilt regions hold everything up to the 4 m backup; the one status change made
    // after it (at 6 m 30 s, 30 s before the loss) is the whole RPO.
    let s = load("status-dr-total");
    let r = run(&s);
    let recovery = status(&r).recovery.clone().unwrap();
    assert_eq!(recovery.lost.as_ref().map(Vec::len), Some(1), "{recovery:?}");
    let rpo = recovery.rpo_s.unwrap();
    assert!((29.0..31.0).contains(&rpo), "RPO {rpo}s");
    let rto = recovery.rto_s.unwrap();
    assert!((180.0..200.0).contains(&rto), "RTO {rto}s: the rebuild takes 3 minutes");
}

#[test]
fn a_bad_scripted_action_is_refused_at_its_key() {
    // Goal: every problem of a `[[status.action]]` entry is reported at the line and column of the
    // offending key of that entry, in the user's words.
    let head = "name = \"s\"\nduration = \"1m\"\ntick = \"10ms\"\n[status]\n";
    let action = |body: &str| {
        format!(
            "{head}[[status.action]]\nat = \"1s\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"a\"\n[[status.action]]\n{body}"
        )
    };
    let cases = [
        (
            "at = \"1s\"\nregion = \"mars\"\nkind = \"post\"\ntext = \"x\"\n",
            "12:10: status.action.region: `mars` is not a status region",
        ),
        (
            "at = \"2m\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"x\"\n",
            "11:6: status.action.at: 120s is not before the end of the run (60s)",
        ),
        (
            "at = \"1s\"\nregion = \"us-east\"\nkind = \"set_status\"\ncomponent = \"api\"\n",
            "13:8: status.action.kind: this kind of action needs component and status",
        ),
        (
            "at = \"1s\"\nregion = \"us-east\"\nkind = \"add_component\"\ncomponent = \"\"\n",
            "14:13: status.action.component: must be 1 to 200 characters",
        ),
        ("at = \"1s\"\nregion = \"us-east\"\nkind = \"jump\"\n", "13:8: unknown variant `jump`"),
        (
            "at = \"1s\"\nevery = \"1s\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"x\"\n",
            "12:9: status.action.every: needs `until`",
        ),
        (
            "at = \"5s\"\nevery = \"1s\"\nuntil = \"2s\"\nregion = \"us-east\"\nkind = \"retract\"\ntext = \"x\"\n",
            "13:9: status.action.until: 2s is not after `at` (5s)",
        ),
        (
            "at = \"1s\"\nevery = \"1ms\"\nuntil = \"2s\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"x\"\n",
            "12:9: `status.action.every` = \"1ms\" is out of range",
        ),
        (
            "at = \"1s\"\nregion = \"us-east\"\nkind = \"retract\"\n",
            "13:8: status.action.kind: this kind of action needs text",
        ),
    ];
    for (body, expected) in cases {
        let err = Scenario::parse("bad.toml", &action(body)).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}\nexpected {expected}");
    }
}

#[test]
fn a_repeated_action_is_made_at_each_of_its_times() {
    // Goal: `every` and `until` repeat an action from `at` to `until` inclusive; without them it
    // is made once.
    let text = "name = \"s\"\nduration = \"1m\"\ntick = \"10ms\"\n[status]\n[[status.action]]\nat = \"10s\"\nevery = \"2500ms\"\nuntil = \"20s\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"a\"\n[[status.action]]\nat = \"3s\"\nregion = \"us-east\"\nkind = \"post\"\ntext = \"b\"\n";
    let s = Scenario::parse("repeat.toml", text).expect("a valid scenario");
    let status = s.status.as_ref().expect("a status page scenario");
    let secs = |i: usize| status.action[i].times().iter().map(|t| t.as_secs_f64()).collect::<Vec<_>>();
    assert_eq!(secs(0), [10.0, 12.5, 15.0, 17.5, 20.0]);
    assert_eq!(secs(1), [3.0]);
}
