//! Bad scenario files as a user would hand them to `edgesim run`: each is refused before the run
//! with exit code 3, `file:line:column` at the offending key and the problem in the user's words
//! (the bound it broke, the key it repeated, the type it expected), and nothing else is printed.

use std::process::Command;

/// An edge platform scenario; line 6 is `pops`.
const EDGE: &str = "name = \"t\"\nduration = \"10s\"\nprimary_region = \"a\"\n[[region]]\nname = \"a\"\npops = 1\nto_primary = \"5ms\"\n";

/// A status page scenario; line 5 is the first key of `[status]`.
const STATUS: &str = "name = \"s\"\nduration = \"10s\"\ntick = \"10ms\"\n[status]\n";

/// A refusal: the scenario, then what stderr must hold after the file name.
struct Case {
    name: &'static str,
    text: String,
    error: &'static str,
}

fn edge(extra: &str) -> String {
    format!("{EDGE}{extra}")
}

fn status(extra: &str) -> String {
    format!("{STATUS}{extra}")
}

fn cases() -> Vec<Case> {
    let case = |name, text: String, error| Case { name, text, error };
    vec![
        // Upper limits.
        case(
            "pops",
            EDGE.replace("pops = 1", "pops = 10000"),
            "6:8: `region.pops` = 10000 is out of range: expected a whole number from 1 to 32",
        ),
        case(
            "hosts",
            edge(
                &(0..13)
                    .map(|i| format!("[[region]]\nname = \"r{i}\"\npops = 32\nto_primary = \"5ms\"\n"))
                    .collect::<String>(),
            ),
            "54:8: the world has more than 400 hosts",
        ),
        case(
            "regions",
            edge(
                &(0..40)
                    .map(|i| format!("[[region]]\nname = \"r{i}\"\npops = 1\nto_primary = \"5ms\"\n"))
                    .collect::<String>(),
            ),
            "164:1: `region` has more than 40 entries",
        ),
        case(
            "sessions",
            edge("[workload]\nsessions_per_region = 70000\n"),
            "9:23: `workload.sessions_per_region` = 70000 is out of range: expected a whole number from 1 to 1000",
        ),
        case(
            "keys-u32-max",
            edge("[workload]\nkeys = 4294967295\n"),
            "9:8: `workload.keys` = 4294967295 is out of range: expected a whole number from 1 to 1000000",
        ),
        case(
            "value-bytes",
            edge("[workload]\nvalue_bytes = 1048576\n"),
            "9:15: `workload.value_bytes` = 1048576 is out of range: expected a whole number from 0 to 65536",
        ),
        case(
            "session-rate",
            edge("[workload]\nsession_rate = 0.0\n"),
            "9:16: `workload.session_rate` = 0.0 is out of range: expected a number from 0.001 to 1000",
        ),
        case(
            "request-rate",
            edge("[workload]\nsessions_per_region = 1000\nsession_rate = 10.0\n"),
            "9:23: the workload asks 10000 requests per second",
        ),
        case(
            "requests-over-the-run",
            edge("[workload]\nsessions_per_region = 100\n").replace("\"10s\"", "\"6h\""),
            "2:12: the workload asks 10799500 requests over the run; the most is 2000000",
        ),
        case(
            "duration",
            EDGE.replace("\"10s\"", "\"2400h\""),
            "2:12: `duration` = \"2400h\" is out of range: expected a duration from 1ms to 6h",
        ),
        case(
            "tick",
            format!("tick = \"1s\"\n{EDGE}"),
            "1:8: `tick` = \"1s\" is out of range: expected a duration from 100us to 10ms",
        ),
        case(
            "subscribers",
            status("subscribers = 4294967295\n"),
            "5:15: `status.subscribers` = 4294967295 is out of range: expected a whole number from 0 to 10000",
        ),
        case(
            "viewers",
            status("viewers_per_region = 100000\n"),
            "5:22: `status.viewers_per_region` = 100000 is out of range",
        ),
        case(
            "view-rate",
            status("viewers_per_region = 1000\nview_every = \"1s\"\n"),
            "5:22: 3000 page views per second at a spike's height",
        ),
        case(
            "views-over-the-run",
            status("viewers_per_region = 1000\nview_every = \"5s\"\n").replace("\"10s\"", "\"6h\""),
            "5:22: about 12960000 page views over the run; the most is 2000000",
        ),
        case(
            "edits",
            status("edit_every = \"100ms\"\n").replace("\"10s\"", "\"6h\""),
            "5:14: about 215950 edits over the run (from edits_from to edits_until, one per edit_every); the most is 100000",
        ),
        case(
            "notifications",
            status("subscribers = 10000\nedit_every = \"10ms\"\n"),
            "5:15: about 20000000 notifications over the run (subscribers x 4 channels x edits)",
        ),
        case(
            "status-regions",
            status("regions = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\"]\n"),
            "5:52: `status.regions` has more than 8 entries",
        ),
        // Zero intervals and counts.
        case(
            "heartbeat",
            edge("[replication]\nheartbeat = \"0s\"\n"),
            "9:13: `replication.heartbeat` = \"0s\" is out of range: expected a duration from 1ms to 1h",
        ),
        case(
            "health-interval",
            edge("[failover]\nhealth_interval = \"0s\"\n"),
            "9:19: `failover.health_interval` = \"0s\" is out of range: expected a duration from 1ms to 1h",
        ),
        case(
            "sync-interval",
            status("sync_interval = \"0ms\"\n"),
            "5:17: `status.sync_interval` = \"0ms\" is out of range: expected a duration from 1ms to 1h",
        ),
        case(
            "confirm-after",
            edge("[failover]\nconfirm_after = 0\n"),
            "9:17: `failover.confirm_after` = 0 is out of range: expected a whole number from 1 to 100",
        ),
        case(
            "dns-unhealthy-after",
            status("dns_unhealthy_after = 0\n"),
            "5:23: `status.dns_unhealthy_after` = 0 is out of range: expected a whole number from 1 to 100",
        ),
        case(
            "retain-frames",
            edge("[replication]\nretain_frames = 0\n"),
            "9:17: `replication.retain_frames` = 0 is out of range: expected a whole number from 1 to 1000000",
        ),
        // Host-name clashes.
        case("cdn-named-dns", status("cdns = [\"cdn-a\", \"dns\"]\n"), "5:8: status.cdns: host `dns` is named twice"),
        case(
            "cdn-named-like-a-region",
            status("regions = [\"us\"]\ncdns = [\"status-us\"]\n"),
            "6:8: status.cdns: host `status-us` is named twice",
        ),
        case(
            "cdn-errors-unknown-cdn",
            status("[[status.cdn_errors]]\ncdn = \"cdn-z\"\nfrom = \"1s\"\n"),
            "6:7: status.cdn_errors.cdn: `cdn-z` is not a CDN; CDNs are cdn-a, cdn-b, cdn-c",
        ),
        case(
            "cdn-errors-until-before-from",
            status(
                "[[status.cdn_errors]]\ncdn = \"cdn-a\"\nfrom = \"1s\"\n[[status.cdn_errors]]\ncdn = \"cdn-b\"\nfrom = \"9s\"\nuntil = \"2s\"\n",
            ),
            "11:9: status.cdn_errors.until: 2s is not after `from` (9s)",
        ),
        case(
            "cdn-errors-rate",
            status("[[status.cdn_errors]]\ncdn = \"cdn-a\"\nfrom = \"1s\"\nrate = 2.0\n"),
            "8:8: `status.cdn_errors.rate` = 2.0 is out of range: expected a number from 0 to 1",
        ),
        case(
            "provider-without-platform",
            status(
                "[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhost = \"cdn-a\"\n[[fault]]\nat = \"2s\"\nkind = \"partition\"\na = \"provider:cdn\"\nb = \"dns\"\n",
            ),
            "12:5: `provider:` needs a [status.platform] table",
        ),
        // Sections and budgets of the other system.
        case(
            "status-with-network",
            status("edit_every = \"5s\"\n[network]\nlast_mile = \"1ms\"\n"),
            "6:2: a status page scenario has no [network]",
        ),
        case("status-with-workload", status("[workload]\nkeys = 3\n"), "5:2: a status page scenario has no [workload]"),
        case(
            "status-with-failover",
            status("[failover]\nlease = \"1s\"\n"),
            "5:2: a status page scenario has no [failover]",
        ),
        case(
            "status-with-replication",
            status("[replication]\nheartbeat = \"1s\"\n"),
            "5:2: a status page scenario has no [replication]",
        ),
        case(
            "status-with-primary-region",
            format!("primary_region = \"a\"\n{STATUS}"),
            "1:1: a status page scenario has no `primary_region`",
        ),
        case(
            "status-budget-on-edge",
            format!("budgets = [\"read_p99 < 15ms\",\n  \"ttfb_p99 < 1s\"]\n{EDGE}"),
            "2:3: `ttfb_p99` is a status page metric; this scenario is of the edge platform",
        ),
        case(
            "edge-budget-on-status",
            format!("budgets = [\"read_p99 < 15ms\"]\n{STATUS}"),
            "1:12: `read_p99` is an edge platform metric; this scenario is of the status page",
        ),
        case(
            "budget-on-an-unknown-channel",
            format!("budgets = [\"notifications_lost == 0\",\n  \"notification_p99.fax < 2m\"]\n{STATUS}"),
            "2:3: unknown channel `fax` in `notification_p99.fax < 2m`; channels are webhook, email, sms, slack",
        ),
        case(
            "fault-key-of-another-kind",
            edge("[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhost = \"primary\"\nlatency = \"5ms\"\n"),
            "12:11: a crash fault has no `latency`; it takes host",
        ),
        case(
            "restart-of-a-running-host",
            edge(
                "[[fault]]\nat = \"2s\"\nkind = \"crash\"\nhost = \"standby\"\n[[fault]]\nat = \"3s\"\nkind = \"restart\"\nhost = \"primary\"\n",
            ),
            "15:8: restart of `primary` at 3s, which is running then: no crash or silent_crash of it comes before",
        ),
        case(
            "origin-timeout-not-below-view-timeout",
            status("origin_timeout = \"2s\"\n"),
            "5:18: status.origin_timeout: 2s is not shorter than `view_timeout` (2s)",
        ),
        // The edge runtime (issue 14).
        case(
            "isolates",
            edge("[runtime]\nisolates = 0\n"),
            "9:12: `runtime.isolates` = 0 is out of range: expected a whole number from 1 to 10000",
        ),
        case(
            "load-step",
            edge("[workload]\nload_steps = [1, 2, 500]\n"),
            "9:21: `workload.load_steps.*` = 500 is out of range: expected a number from 0.01 to 100",
        ),
        case(
            "load-steps-rate",
            edge("[workload]\nsessions_per_region = 1000\nload_steps = [1, 2]\n"),
            "9:23: the workload asks 10000 requests per second",
        ),
        case("runtime-in-status", status("[runtime]\nisolates = 2\n"), "5:2: a status page scenario has no [runtime]"),
        case("anycast-in-status", status("[anycast]\n"), "5:2: a status page scenario has no [anycast]"),
        case(
            "anycast-detection",
            edge("[anycast]\ndetection = \"1h\"\n"),
            "9:13: `anycast.detection` = \"1h\" is out of range: expected a duration from 0s to 10m",
        ),
        // Streaming SSR (issue 14).
        case(
            "ssr-share",
            edge("[ssr]\nshare = 2\n[[ssr.boundary]]\nname = \"p\"\ndata = \"replica\"\n"),
            "9:9: `ssr.share` = 2 is out of range: expected a number from 0 to 1",
        ),
        case(
            "ssr-upstream-without-service",
            edge("[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\n"),
            "11:8: boundary `recs`: `upstream` data needs a `service`",
        ),
        case(
            "ssr-boundary-latency",
            edge("[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\nlatency = \"50ms\"\n"),
            "13:1: unknown field `latency`, expected one of `name`, `data`, `service`",
        ),
        case(
            "ssr-replica-with-service",
            edge("[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"p\"\ndata = \"replica\"\nservice = \"5ms\"\n"),
            "11:8: boundary `p`: only `upstream` data has a `service`",
        ),
        case(
            "ssr-upstream-workers",
            edge(
                "[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\nservice = \"50ms\"\n[ssr.upstream]\nworkers = 0\n",
            ),
            "15:11: `ssr.upstream.workers` = 0 is out of range: expected a whole number from 1 to 10000",
        ),
        case(
            "ssr-upstream-latency",
            edge(
                "[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\nservice = \"50ms\"\n[ssr.upstream]\nlatency = \"1m\"\n",
            ),
            "15:11: `ssr.upstream.latency` = \"1m\" is out of range: expected a duration from 0s to 10s",
        ),
        case(
            "ssr-upstream-unknown-key",
            edge(
                "[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\nservice = \"50ms\"\n[ssr.upstream]\nregion = \"a\"\n",
            ),
            "15:1: unknown field `region`",
        ),
        case(
            "ssr-upstream-without-upstream-boundary",
            edge(
                "[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"p\"\ndata = \"replica\"\n[ssr.upstream]\nworkers = 2\n",
            ),
            "8:1: [ssr.upstream] is set, but no [[ssr.boundary]] has `upstream` data",
        ),
        case(
            "ssr-upstream-timeout-not-below-request-timeout",
            edge(
                "[workload]\nrequest_timeout = \"2s\"\n[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"recs\"\ndata = \"upstream\"\nservice = \"50ms\"\n[ssr.upstream]\ntimeout = \"2s\"\n",
            ),
            "17:11: `ssr.upstream.timeout` (2s) is not shorter than `workload.request_timeout` (2s)",
        ),
        case(
            "ssr-upstream-crash-without-upstream",
            edge("[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhost = \"upstream\"\n"),
            "11:8: `upstream` is not a host that can crash",
        ),
        case("ssr-no-boundary", edge("[ssr]\nshare = 0.5\n"), "8:1: [ssr] needs at least one [[ssr.boundary]]"),
        case(
            "ssr-boundary-twice",
            edge(
                "[ssr]\nshare = 0.5\n[[ssr.boundary]]\nname = \"p\"\ndata = \"replica\"\n[[ssr.boundary]]\nname = \"p\"\ndata = \"replica\"\n",
            ),
            "14:8: boundary `p` is defined twice",
        ),
        // Errors in the user's words, at the key's line.
        case("duplicate-key", edge("name = \"u\"\n"), "8:1: duplicate key `name`"),
        case(
            "wrong-type",
            edge("[workload]\nkeys = \"many\"\n"),
            "9:8: `workload.keys` expects a whole number from 1 to 1000000, not a string",
        ),
        case(
            "fraction-for-a-count",
            EDGE.replace("pops = 1", "pops = 1.5"),
            "6:8: `region.pops` expects a whole number from 1 to 32, not a number with a fraction",
        ),
        case(
            "negative",
            edge("[workload]\nwrite_retries = -1\n"),
            "9:17: `workload.write_retries` = -1 is out of range: expected a whole number from 0 to 100",
        ),
        case("duration-without-unit", edge("[workload]\nwarmup = \"5\"\n"), "9:10: `workload.warmup`: `5` has no unit"),
        case(
            "workload-not-a-table",
            format!("workload = 3\n{EDGE}"),
            "1:12: invalid type: integer `3`, expected a table",
        ),
        // Names.
        case(
            "non-ascii-region",
            EDGE.replace("name = \"a\"", "name = \"ré\"").replace("primary_region = \"a\"", "primary_region = \"ré\""),
            "5:8: region name `ré` must be ASCII letters, digits and dashes",
        ),
        case(
            "non-ascii-cdn",
            status("cdns = [\"cdn-ä\"]\n"),
            "5:8: status.cdns: `cdn-ä` must be ASCII letters, digits and dashes",
        ),
        case(
            "control-character-in-a-host",
            edge("[[fault]]\nat = \"1s\"\nkind = \"crash\"\nhost = \"\\u001b[2J\"\n"),
            "11:8: `\\u{1b}[2J` is not a host that can crash",
        ),
        case(
            "control-character-in-the-name",
            EDGE.replace("name = \"t\"", "name = \"t\\u0007\""),
            "1:8: `name` has a control character",
        ),
    ]
}

/// Each case is refused by the binary with exit code 3, no report, its position and message, and
/// no raw control character on the terminal.
#[test]
fn each_bad_scenario_is_refused_with_exit_3_at_its_key() {
    let dir = std::env::temp_dir().join(format!("edgesim-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let path = dir.join(format!("{}.toml", case.name));
        std::fs::write(&path, &case.text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_edgesim"))
            .args(["run", "--quiet", path.to_str().unwrap()])
            .output()
            .expect("edgesim runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("{}.toml:{}", case.name, case.error);
        let raw_control = stderr.chars().any(|c| c.is_control() && c != '\n');
        if out.status.code() != Some(3) || !out.stdout.is_empty() || !stderr.contains(&expected) || raw_control {
            failures.push(format!(
                "{}: exit {:?}, stdout {:?}\n  stderr: {stderr:?}\n  wanted: {expected}",
                case.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases().len(), failures.join("\n"));
}
