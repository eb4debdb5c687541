//! Primary loss as a user runs it: failover timings, data loss by standby mode, split brain,
//! lineage, and the committed narrated timeline (checked with seed 1 of the failover timings).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{load, run, run_seed};
use edgesim::log::EventLog;
use edgesim::report::RunReport;
use edgesim::scenario::{Action, Scenario};
use edgesim_system::edge::config::{EdgeWrites, StandbyMode};
use serde_json::Value;

/// Runs a scenario at its seed, its event log streamed to a temporary file: the log's records
/// and the report computed from it.
fn simulate(s: &Scenario) -> (Vec<Value>, RunReport) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("edgesim-failover-{}-{n}.jsonl", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let log = edgesim::world::simulate_into(EventLog::writing(file), s, s.seed, &mut |_| {}).unwrap();
    log.finish().unwrap();
    let r = edgesim::report::analyze(s, s.seed, &log);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), r)
}

/// A request as its client saw it, from the log's records.
struct Request {
    session: u64,
    seq: u64,
    write: bool,
    start_us: u64,
    end_us: u64,
    /// The generation that acknowledged it, for an acknowledged write.
    acked_by: Option<u64>,
}

/// The requests that ended, in the order they started.
fn requests(log: &[Value]) -> Vec<Request> {
    let mut started = std::collections::BTreeMap::new();
    let mut done = Vec::new();
    for e in log {
        match e["type"].as_str() {
            Some("request_started") => {
                started.insert(e["req"].as_u64(), e);
            }
            Some("request_ended") => {
                let s = started.remove(&e["req"].as_u64()).expect("ends a started request");
                let acked = e["outcome"]["result"] == "write";
                done.push(Request {
                    session: s["session"].as_u64().unwrap(),
                    seq: s["seq"].as_u64().unwrap(),
                    write: s["op"] == "write",
                    start_us: s["t_us"].as_u64().unwrap(),
                    end_us: e["t_us"].as_u64().unwrap(),
                    acked_by: acked.then(|| e["outcome"]["generation"].as_u64().unwrap()),
                });
            }
            _ => {}
        }
    }
    done.sort_by_key(|r| r.start_us);
    done
}

#[test]
fn a_silent_crash_fails_over_at_the_configured_timings_without_losing_writes() {
    let s = load("primary-crash-sync");
    for seed in 1..=3 {
        let r = run_seed(&s, seed);
        assert!(r.edge().unwrap().checks.fired().is_empty(), "seed {seed}: {r}");
        let f = r.edge().unwrap().failover.as_ref().expect("the primary was lost");
        let failover = f.failover_s.expect("writes resumed on the new primary");
        // The loss comes just after a check, as in the design's timeline: the checks sent 5, 10 and
        // 15 s later go unanswered and each is missed when its 2 s timeout runs out, so the third
        // confirms the loss at 16.9 s; failover follows 15 s after that. (A silent crash used to
        // refuse connections at once, so each check was missed the instant it was sent and
        // confirmation came at 14.9 s, 2 s early: the timeout was never paid.)
        assert!((30.0..=60.0).contains(&failover), "seed {seed}: failover after {failover}s");
        let confirmed = f.confirmed_s.unwrap();
        assert!(confirmed > 16.0 && confirmed <= 17.0, "missed only after the 2 s timeout: {f:?}");
        assert!(f.first_miss_s.unwrap() > 6.0, "the first check is missed when its timeout runs out: {f:?}");
        assert_eq!(r.edge().unwrap().checks.lost_acked_writes.as_deref(), Some(&[][..]), "sync standby loses nothing");
        // Replicas serve reads throughout; only read-your-writes reads whose position had not
        // reached the replica fall back to the lost primary and fail.
        assert!(f.read_availability.unwrap() > 0.95, "reads are served throughout: {f:?}");
        if seed == s.seed {
            committed_timeline_is(&format!("{} seed {}\n{}", r.scenario, r.seed, r.narrated()));
        }
    }
}

/// The committed narrated timeline of `primary-crash-sync` is what the run narrates.
fn committed_timeline_is(text: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/timeline-primary-crash-sync-seed-1.txt");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(committed, text, "regenerate with: edgesim run scenarios/primary-crash-sync.toml --timeline > {path}");
}

#[test]
fn faster_health_checks_fail_over_faster() {
    let r = run(&load("primary-crash-fast-checks"));
    let failover = r.edge().unwrap().failover.as_ref().and_then(|f| f.failover_s).expect("failed over");
    assert!(failover < 10.0, "1 s checks fail over in under 10 s, took {failover}s");
    assert!(r.edge().unwrap().checks.fired().is_empty(), "{r}");
}

#[test]
fn an_async_standby_behind_the_primary_loses_the_writes_it_never_received_and_they_are_listed() {
    let r = run(&load("negative/primary-crash-async"));
    let lost = r.edge().unwrap().checks.lost_acked_writes.clone().expect("the new primary was audited");
    assert!(!lost.is_empty(), "{r}");
    assert!(r.to_string().contains(&format!("acknowledged writes lost: {}", lost.len())));
    assert!(r.edge().unwrap().checks.convergence.converged, "survivors still converge: {r}");
}

#[test]
fn lag_counts_the_frames_a_snapshot_delivered() {
    // Issue 11, defect 4: in `negative/primary-crash-async` seed 1 every replica rebuilds from a
    // snapshot after the failover, and the frames the snapshot brought were left out of the lag:
    // lag p99 was 98 ms before (frames applied one by one only); counted at the restore time it is
    // 5.8 s after, with 872 frames delivered by snapshot.
    let r = run(&load("negative/primary-crash-async"));
    let lag = &r.edge().unwrap().replication.lag;
    assert!(lag.p99_ms > 1000.0, "snapshot-delivered frames waited seconds: {lag:?}");
}

#[test]
fn read_your_writes_counts_a_read_missing_any_acknowledged_write_of_its_session() {
    // Issue 11, defect 5: in `negative/primary-crash-async` seed 1 the writes acknowledged by the
    // crashed primary are lost below the session's later writes; judged by the session's highest
    // write seen (`own_seq`) only 4 reads were reported before; judged against the whole set of the
    // session's acknowledged writes, every later read of those sessions misses one: 3,017 after.
    // The figure is re-derived here from the log alone, as docs/EVENTS.md says.
    let (log, r) = simulate(&load("negative/primary-crash-async"));
    let c = &r.edge().unwrap().checks;
    assert!(c.ryw_violations > 1000, "reads after a lost acknowledged write miss it: {}", c.ryw_violations);
    let mut started = std::collections::BTreeMap::new();
    let mut acked: Vec<(u64, u64, u64)> = Vec::new();
    let mut reads = Vec::new();
    for e in &log {
        match e["type"].as_str() {
            Some("request_started") => {
                started.insert(e["req"].as_u64().unwrap(), (e["t_us"].as_u64().unwrap(), e["seq"].as_u64().unwrap()));
            }
            Some("request_ended") => {
                let (start, seq) = started[&e["req"].as_u64().unwrap()];
                let session = e["session"].as_u64().unwrap();
                match e["outcome"]["result"].as_str() {
                    Some("write") => acked.push((session, seq, e["t_us"].as_u64().unwrap())),
                    Some("read") => reads.push((session, start, e["outcome"]["own"]["seqs"].clone())),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let holds = |seqs: &Value, seq: u64| {
        seqs.as_array().unwrap().iter().any(|r| r[0].as_u64().unwrap() <= seq && seq <= r[1].as_u64().unwrap())
    };
    let missed = reads
        .iter()
        .filter(|(session, start, seqs)| {
            acked.iter().any(|(s, seq, at)| s == session && at <= start && !holds(seqs, *seq))
        })
        .count();
    assert_eq!(missed, c.ryw_violations, "the log alone gives the same figure");
}

#[test]
fn fencing_prevents_split_brain_and_without_it_the_checker_fires() {
    // `split-brain-attempt` itself passes (no checker fires) in the reference suite (`sweep.rs`).
    let s = load("split-brain-attempt");
    // A synchronous standby that stops answering already keeps the cut-off primary from
    // acknowledging; with an asynchronous one only fencing does.
    let mut async_standby = s.clone();
    async_standby.replication.standby = StandbyMode::Async;
    let r = run(&async_standby);
    assert!(r.edge().unwrap().checks.split_brain.acked_by_fenced.is_empty(), "{r}");

    let mut unfenced = async_standby;
    unfenced.failover.fencing = false;
    let r = run(&unfenced);
    assert!(!r.edge().unwrap().checks.split_brain.acked_by_fenced.is_empty(), "{r}");
    assert!(r.edge().unwrap().checks.fired().contains(&"split-brain"));
}

#[test]
fn a_returning_primary_with_phantom_frames_rebuilds_and_without_the_lineage_check_diverges() {
    let mut s = load("negative/primary-crash-async");
    s.faults.push(edgesim::scenario::Fault {
        at: Duration::from_secs(55),
        latest: Duration::from_secs(55),
        action: Action::Restart { host: "primary".into() },
        line: 0,
    });
    let r = run(&s);
    assert!(r.edge().unwrap().checks.convergence.converged, "{r}");
    assert!(r.edge().unwrap().replication.snapshots_restored >= 1, "the old primary rebuilt: {r}");

    s.failover.lineage_check = false;
    let r = run(&s);
    assert!(!r.edge().unwrap().checks.convergence.converged, "{r}");
    assert!(
        r.edge().unwrap().checks.convergence.diverged.iter().any(|(node, _)| node == "primary"),
        "{:?}",
        r.edge().unwrap().checks.convergence
    );
}

#[test]
fn a_flap_shorter_than_confirmation_causes_no_failover() {
    // Issue 11, defect 2, `primary-flap` (a partition between the primary and the control plane
    // only): it was narrated "primary lost", anchored the failover figures and gave
    // `writes_unavailable` 0.0 s (from the partition to the first write acknowledged anywhere).
    // Now it is told as the partition it is, no failover figures are anchored on it, and
    // `writes_unavailable` is what clients saw: about 5 s of failed writes once the lease ran out.
    let r = run(&load("primary-flap"));
    let edge = r.edge().unwrap();
    assert!(edge.failover.is_none(), "the primary was never taken away: {:?}", edge.failover);
    assert!(!r.timeline.iter().any(|l| l.contains("primary lost")), "{:?}", r.timeline);
    assert!(r.timeline.iter().any(|l| l.contains("fault: partition between primary and control")), "{:?}", r.timeline);
    assert!(!r.timeline.iter().any(|l| l.contains("promoted")), "{r}");
    assert!(edge.checks.fired().is_empty(), "{r}");
    assert!(r.timeline.iter().any(|l| l.contains("answers health checks again")));
    let unavailable = edge.writes_unavailable_s.expect("writes were attempted");
    assert!((1.0..15.0).contains(&unavailable), "writes failed while the lease was out: {r}");
}

#[test]
fn write_unavailability_is_the_worst_region_as_its_clients_saw_it() {
    // Issue 11, defect 2, `primary-lost-during-partition`: ap-south is cut off from the primary's
    // region from 5 s to 60 s. `writes_unavailable` was 29.3 s (from the primary's crash to the
    // first write acknowledged anywhere); ap-south's clients saw no acknowledged write for 56.3 s.
    let r = run(&load("primary-lost-during-partition"));
    let edge = r.edge().unwrap();
    let ap = &edge.writes["ap-south"];
    assert!(ap.unavailable_s.unwrap() > 50.0, "{r}");
    assert_eq!(edge.writes_unavailable_s, ap.unavailable_s, "the worst region answers for the run");
    let f = edge.failover.as_ref().expect("the silent crash took the primary away");
    assert_eq!(f.loss_at_s, 10.0, "anchored on the crash, not on the partition at 5 s");
    assert!(
        r.timeline
            .iter()
            .any(|l| l == "T+0.000s (10.000s) primary lost: silent crash of primary (cut off, then stopped)")
    );
}

#[test]
fn a_run_that_cannot_judge_lost_writes_is_not_judged_and_its_log_carries_the_scenario() {
    // Issue 11, defect 9: `standby-then-primary-lost` without the standby's restart loses both;
    // no primary is audited at the end. The run exited 2 ("lost-acked-writes, convergence" fired);
    // now both are "not judged" with the reason, the verdict is NotJudged-or-budget (exit 1),
    // and `diverged_nodes` has no value rather than 0.
    // Defect 5: `run_started` carried only the name and seed; it now carries the resolved
    // scenario and the seed's stream families, and each fault event its typed kind.
    let mut s = load("standby-then-primary-lost");
    s.faults.retain(|f| !matches!(f.action, Action::Restart { .. }));
    let (log, r) = simulate(&s);
    let edge = r.edge().unwrap();
    assert!(edge.checks.fired().is_empty(), "{r}");
    let not_judged: Vec<_> = edge.checks.not_judged.iter().map(|n| n.checker.as_str()).collect();
    assert_eq!(not_judged, ["lost-acked-writes", "convergence"], "{r}");
    assert!(edge.checks.not_judged[0].why.contains("(primary) was down"), "{:?}", edge.checks.not_judged);
    let j = edgesim::verdict::judge(&s, &r);
    assert_eq!(j.exit_code, 1, "{j:?}");
    let diverged = j.budgets.iter().find(|b| b.metric == "diverged_nodes").unwrap();
    assert_eq!(diverged.value, None, "{j:?}");

    let started = &log[0];
    assert_eq!(started["type"], "run_started");
    assert_eq!(started["duration"], "80s");
    assert_eq!(started["edge"]["regions"][0]["pops"].as_array().unwrap().len(), 4);
    assert_eq!(started["edge"]["workload"]["sessions_per_region"], 16);
    assert_eq!(started["faults"].as_array().unwrap().len(), 2);
    assert_eq!(started["faults"][1]["kind"], "silent_crash");
    assert!(started["streams"].as_array().unwrap().iter().any(|f| f["name"] == "session/ID"));
    let fault = log.iter().find(|e| e["type"] == "fault").unwrap();
    assert_eq!((&fault["kind"], &fault["host"]), (&Value::from("crash"), &Value::from("standby")));
}

#[test]
fn with_no_standby_failover_is_impossible_and_said_plainly() {
    let r = run(&load("standby-then-primary-lost"));
    let f = r.edge().unwrap().failover.as_ref().unwrap();
    assert!(f.promotion_impossible.is_some());
    assert!(f.writes_resumed_s.unwrap() > 55.0, "writes wait for the standby's return: {f:?}");
    assert!(r.timeline.iter().any(|l| l.contains("failover impossible")));
    assert!(r.edge().unwrap().checks.fired().is_empty(), "replicas served only what the standby held: {r}");
}

/// Frames of generation 1 that a PoP replica applied before the standby held them (the standby
/// applies and acknowledges each frame; its `applied` events are the evidence).
fn applied_before_the_standby_held_them(log: &[Value]) -> usize {
    let mut standby_held = 0;
    let mut early = 0;
    for e in log.iter().filter(|e| e["type"] == "applied" && e["generation"] == 1) {
        let (node, lsn) = (e["node"].as_str().unwrap(), e["lsn"].as_u64().unwrap());
        if node == "standby" {
            standby_held = standby_held.max(lsn);
        } else if node.starts_with("pop-") && lsn > standby_held {
            early += 1;
        }
    }
    early
}

#[test]
fn in_sync_mode_replicas_get_only_frames_the_standby_holds_and_in_async_mode_they_do_not_wait() {
    let sync = load("standby-then-primary-lost");
    let (log, r) = simulate(&sync);
    assert_eq!(applied_before_the_standby_held_them(&log), 0);
    assert_eq!(r.edge().unwrap().checks.monotonic_violations, 0, "{r}");

    // Async mode streams at once (its documented weakness): replicas show rows the loss then takes.
    let mut unsafe_async = sync;
    unsafe_async.replication.standby = StandbyMode::Async;
    let (log, r) = simulate(&unsafe_async);
    assert!(applied_before_the_standby_held_them(&log) > 0);
    assert!(r.edge().unwrap().checks.monotonic_violations > 0, "{r}");
}

#[test]
fn writes_retried_through_a_failover_are_acknowledged_once_and_kept() {
    let (log, r) = simulate(&load("primary-crash-retry"));
    assert!(r.edge().unwrap().checks.fired().is_empty(), "{r}");
    let requests = requests(&log);
    let failed_then_acked = requests
        .iter()
        .filter(|w| w.acked_by == Some(2))
        .filter(|w| {
            requests.iter().any(|f| {
                f.write && (f.session, f.seq) == (w.session, w.seq) && f.end_us < w.start_us && f.acked_by.is_none()
            })
        })
        .count();
    assert!(
        failed_then_acked > 10,
        "writes that failed during the outage were acknowledged after it: {failed_then_acked}"
    );
}

/// Writes whose client got an error or a timeout, and the longest acknowledged write in seconds, as
/// clients saw them.
fn write_failures_and_longest(log: &[Value]) -> (usize, f64) {
    let requests = requests(log);
    let writes: Vec<_> = requests.iter().filter(|r| r.write).collect();
    let failed = writes.iter().filter(|w| w.acked_by.is_none()).count();
    let longest = writes
        .iter()
        .filter(|w| w.acked_by.is_some())
        .map(|w| (w.end_us - w.start_us) as f64 / 1e6)
        .fold(0.0, f64::max);
    (failed, longest)
}

#[test]
fn writes_queued_at_the_edge_ride_out_the_failover_where_fail_fast_writes_error() {
    let queue = load("primary-crash-queue");
    let (log, r) = simulate(&queue);
    assert!(r.edge().unwrap().checks.fired().is_empty(), "{r}");
    assert_eq!(r.edge().unwrap().checks.lost_acked_writes.as_deref(), Some(&[][..]), "{r}");
    let failover = r.edge().unwrap().failover.as_ref().and_then(|f| f.failover_s).expect("failed over");
    let (failed, longest) = write_failures_and_longest(&log);
    assert_eq!(failed, 0, "held writes were replayed, none waited past queue_timeout: {r}");
    // Held writes are replayed one at a time per PoP, each costing the PoP's and the primary's
    // service time (issue 14) on top of its round trip, so the last is answered up to 2 s after
    // the failover.
    assert!((failover - 5.0..=failover + 2.0).contains(&longest), "longest write {longest}s, failover {failover}s");

    let mut fail_fast = queue;
    fail_fast.failover.edge_writes = EdgeWrites::FailFast;
    let (log, r) = simulate(&fail_fast);
    let (failed, longest) = write_failures_and_longest(&log);
    assert!(failed > 20, "fail-fast writes error during the failover: {failed}");
    assert!(longest < 5.0, "no fail-fast write waits for the failover: {longest}s");
    assert_eq!(r.edge().unwrap().checks.lost_acked_writes.as_deref(), Some(&[][..]), "{r}");
}
