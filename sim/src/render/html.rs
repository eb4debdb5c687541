//! `report.html`: a suite summary as one self-contained page (no external resource, no script
//! needed to draw it): the table of runs, then per run its verdict, its headline figures,
//! streaming SSR's figures (`[ssr]`), p99 latency and shedding per load step (`load_steps`), an
//! edge run's figures per region of the PoPs (`edge::regions`), each budget with its value and whether it held, what broke and its replay command, the timeline (a
//! lane per host with something to show, the key moments labelled, the outages shaded) beside the
//! narrated story, then for an edge platform run latency and replication lag over time and latency
//! by percentile per region, for a status page run the views by tier, time to first byte and
//! staleness over time, the DNS's verdicts and notifications per channel (a chart and a table of
//! each channel's delivered, lost, duplicates, pending and latency, and its provider's limit beside
//! the busiest second its endpoints had) and a table of each SSE message type's pushed, delivered
//! and delivery latency; drawn from the chart
//! data each summary entry carries (`charts`, `status::charts`, `svg`). A small inline script only
//! counts what the browser drew, for the browser test, and says so in `data-rendered`.

use std::collections::BTreeMap;
use std::fmt;

use crate::edge::charts::{ChannelDeliveries, Charts, SseDeliveries};
use crate::edge::regions::{COLUMNS, Regions};
use crate::edge::ssr::SsrFigures;
use crate::render::markup::escape;
use crate::render::summary::{Entry, SuiteSummary};
use crate::render::svg;
use crate::render::table::columns;
use crate::verdict::Verdict;

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1480px}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.pass{color:#117733}.fail{color:#b00020;font-weight:bold}\
section{border-top:2px solid #ddd;margin-top:28px}code{background:#f3f3f3;padding:1px 4px}\
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}.legend>span{margin-right:14px;font-size:12px;white-space:nowrap}\
.none,.quiet{color:#777;font-style:italic;font-size:12px}\
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.figure{border:1px solid #ccc;border-radius:4px;padding:6px 10px;min-width:110px}\
.figure b{display:block;font-size:20px}.figure span{font-size:12px;color:#555}\
.story{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.story>div{width:960px}\
.narrative{font-family:monospace;font-size:12px;max-height:420px;overflow:auto;margin:0;padding:6px 10px 6px 28px;\
border:1px solid #ddd;background:#fafafa;width:400px}";

/// Sets `data-rendered` on the page to how many drawings it has, how many have no size, how many
/// timeline marks, labelled moments and budget rows show.
const CHECK: &str = "(function(){var s=document.querySelectorAll('svg'),blank=0;\
for(var i=0;i<s.length;i++){var r=s[i].getBoundingClientRect();if(!(r.width>0&&r.height>0))blank++;}\
var n=function(q){return document.querySelectorAll(q).length;};\
document.body.setAttribute('data-rendered','svgs='+s.length+' blank='+blank+' marks='+n('svg.timeline .mark')\
+' moments='+n('svg.timeline .moment')+' budgets='+n('table.budgets tr.budget'));})();";

/// The figures a person opens a run's section for, in this order, where the run has them.
const HEADLINES: [&str; 24] = [
    "failover_time",
    "writes_unavailable",
    "failure_confirmed",
    "read_p99",
    "write_p99",
    "lag_p99",
    "ssr_ttfb_p99",
    "ssr_full_page_p99",
    "errors",
    "timeouts",
    "lost_acked_writes",
    "page_availability",
    "ttfb_p99",
    "staleness_p99",
    "dns_failover",
    "propagation_p99",
    "notification_p99",
    "notifications_lost",
    "sse_missed",
    "sse_status_p99",
    "sse_resolved_p99",
    "sse_refused",
    "spike_views_per_s",
    "origin_requests_per_s",
];

fn verdict_class(v: Verdict) -> &'static str {
    if v == Verdict::Pass { "pass" } else { "fail" }
}

/// The title of a suite's reports: `edgesim suite NAME: VERDICT (N runs)`, the name left out when
/// it says nothing more than `suite`.
pub(crate) fn title(s: &SuiteSummary) -> String {
    let runs = if s.entries.len() == 1 { "run" } else { "runs" };
    let name = if s.suite == "suite" { String::new() } else { format!(" {}", s.suite) };
    format!("edgesim suite{name}: {} ({} {runs})", s.verdict.label(), s.entries.len())
}

pub fn render(s: &SuiteSummary) -> String {
    fmt::from_fn(|o| page(o, s)).to_string()
}

fn page(o: &mut fmt::Formatter, s: &SuiteSummary) -> fmt::Result {
    let title = escape(&title(s));
    writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>"
    )?;
    o.write_str(
        "<p>Every time is simulated time; every figure comes from the run's event log. \
         Hover a mark or a span of a timeline for what happened.</p>\n",
    )?;
    table(o, s)?;
    for (i, e) in s.entries.iter().enumerate() {
        run(o, i, e)?;
    }
    writeln!(o, "<script>{CHECK}</script>\n</body>\n</html>")
}

fn table(o: &mut fmt::Formatter, s: &SuiteSummary) -> fmt::Result {
    let columns = columns(s);
    o.write_str("<table>\n<tr><th>scenario</th><th>seed</th>")?;
    for (header, _) in &columns {
        write!(o, "<th>{header}</th>")?;
    }
    o.write_str("<th>verdict</th></tr>\n")?;
    for (i, e) in s.entries.iter().enumerate() {
        write!(o, "<tr><td><a href=\"#run-{i}\">{}</a></td><td>{}</td>", escape(&e.scenario), e.seed)?;
        for (_, metric) in &columns {
            write!(o, "<td>{}</td>", escape(&e.cell(metric)))?;
        }
        writeln!(o, "<td class=\"{}\">{}</td></tr>", verdict_class(e.verdict), e.verdict.label())?;
    }
    o.write_str("</table>\n")
}

fn run(o: &mut fmt::Formatter, i: usize, e: &Entry) -> fmt::Result {
    writeln!(
        o,
        "<section id=\"run-{i}\">\n<h2>{} seed {}: <span class=\"{}\">{}</span></h2>",
        escape(&e.scenario),
        e.seed,
        verdict_class(e.verdict),
        e.verdict.label()
    )?;
    figures(o, e)?;
    if let Some(ssr) = &e.ssr {
        streamed(o, ssr)?;
    }
    if !e.load.is_empty() {
        writeln!(o, "<h3>latency under load</h3>\n{}", svg::load_steps(&e.load))?;
    }
    if !e.regions.is_empty() {
        per_region(o, &e.regions)?;
    }
    budgets(o, e)?;
    let failures = e.failures();
    if !failures.is_empty() {
        o.write_str("<ul>\n")?;
        for f in failures {
            writeln!(o, "<li>{}</li>", escape(&f))?;
        }
        o.write_str("</ul>\n")?;
    }
    writeln!(o, "<p>replay: <code>{}</code></p>", escape(&e.replay))?;
    match &e.charts {
        Some(c) => charts(o, c, &e.timeline)?,
        None => o.write_str("<p class=\"none\">no chart data: the run did not complete</p>\n")?,
    }
    o.write_str("</section>\n")
}

/// The headline figures the run has, each large with its name under it.
fn figures(o: &mut fmt::Formatter, e: &Entry) -> fmt::Result {
    let shown: Vec<(&str, String)> =
        HEADLINES.iter().filter(|m| e.metrics.contains_key(**m)).map(|m| (*m, e.cell(m))).collect();
    if shown.is_empty() {
        return Ok(());
    }
    o.write_str("<div class=\"figures\">")?;
    for (metric, value) in shown {
        write!(o, "<div class=\"figure\"><b>{}</b><span>{}</span></div>", escape(&value), metric.replace('_', " "))?;
    }
    o.write_str("</div>\n")
}

/// Streaming SSR as the clients saw it: the views, then time to the shell, to each boundary and
/// to the full page.
fn streamed(o: &mut fmt::Formatter, ssr: &SsrFigures) -> fmt::Result {
    writeln!(o, "<h3>streaming SSR</h3>\n<p>{}</p>", escape(&ssr.counts()))?;
    o.write_str(
        "<table class=\"ssr\">\n<tr><th>from when the view was due, to</th><th>as the client saw it</th></tr>\n",
    )?;
    for (what, figures) in ssr.rows() {
        writeln!(o, "<tr><td>{}</td><td>{}</td></tr>", escape(&what), escape(&figures))?;
    }
    o.write_str("</table>\n")
}

/// Per region of the PoPs: lag and read p99, read-your-writes violations, errors, timeouts.
fn per_region(o: &mut fmt::Formatter, regions: &Regions) -> fmt::Result {
    o.write_str("<h3>per region of the PoPs</h3>\n<table class=\"regions\">\n<tr>")?;
    for c in COLUMNS {
        write!(o, "<th>{c}</th>")?;
    }
    o.write_str("</tr>\n")?;
    for row in regions.rows() {
        let cells: String = row.iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
        writeln!(o, "<tr>{cells}</tr>")?;
    }
    o.write_str("</table>\n")
}

/// Each budget of the scenario with the run's value and whether it held.
fn budgets(o: &mut fmt::Formatter, e: &Entry) -> fmt::Result {
    if e.budgets.is_empty() {
        return o.write_str("<p class=\"none\">no budgets judged</p>\n");
    }
    o.write_str("<table class=\"budgets\">\n<tr><th>budget</th><th>value</th><th>result</th></tr>\n")?;
    for b in &e.budgets {
        let (class, result) = if b.held { ("pass", "held") } else { ("fail", "broken") };
        let value = b.value.as_deref().unwrap_or("no samples");
        writeln!(
            o,
            "<tr class=\"budget\"><td>{}</td><td>{}</td><td class=\"{class}\">{result}</td></tr>",
            escape(&b.budget),
            escape(value)
        )?;
    }
    o.write_str("</table>\n")
}

fn charts(o: &mut fmt::Formatter, c: &Charts, story: &[String]) -> fmt::Result {
    o.write_str("<h3>timeline</h3>\n<p class=\"legend\">")?;
    for kind in svg::kinds(c) {
        write!(o, "<span><span style=\"color:{}\">&#9632;</span> {}</span>", svg::color(kind), kind.name())?;
    }
    if !c.outages.is_empty() {
        o.write_str("<span><span style=\"color:#D55E00;opacity:0.3\">&#9632;</span> outage (shaded)</span>")?;
    }
    if !c.moments.is_empty() {
        o.write_str("<span>- - key moment</span>")?;
    }
    writeln!(o, "</p>\n<div class=\"story\">\n<div>{}", svg::timeline(c))?;
    let quiet = svg::quiet_lanes(c);
    if !quiet.is_empty() {
        writeln!(
            o,
            "<p class=\"quiet\">{} hosts with nothing to show, folded: {}</p>",
            quiet.len(),
            escape(&quiet.join(", "))
        )?;
    }
    o.write_str("</div>\n")?;
    if story.is_empty() {
        o.write_str("<p class=\"none\">nothing to narrate: no fault and no failover</p>\n")?;
    } else {
        o.write_str("<ol class=\"narrative\">\n")?;
        for line in story {
            writeln!(o, "<li>{}</li>", escape(line))?;
        }
        o.write_str("</ol>\n")?;
    }
    o.write_str("</div>\n")?;
    match &c.status {
        Some(status) => {
            writeln!(
                o,
                "<h3>what viewers saw</h3>\n{}\n{}\n{}\n<h3>DNS and notifications</h3>\n<div class=\"row\">\n{}\n{}\n</div>\n{}\n<h3>live viewers (SSE)</h3>\n{}",
                svg::tiers(c, &status.tiers),
                svg::ttfb(c, &status.ttfb),
                svg::staleness(c),
                svg::dns(c, &status.dns_unhealthy, &status.cdns),
                svg::notifications(&status.notifications),
                channels(&status.notifications),
                sse(&status.sse)
            )?;
        }
        None => {
            writeln!(o, "<h3>over time</h3>\n{}\n{}", svg::latency_over_time(c), svg::lag(c))?;
            if let Some(a) = &c.anycast {
                writeln!(o, "<h3>anycast</h3>\n{}", svg::anycast(c, a))?;
            }
            o.write_str("<h3>latency by percentile (solid: reads, dashed: writes)</h3>\n<div class=\"row\">\n")?;
            for (region, d) in &c.latency {
                let lines = [("read".to_string(), &d.read[..], false), ("write".to_string(), &d.write[..], true)];
                writeln!(o, "{}", svg::percentiles(region, &lines))?;
            }
            o.write_str("</div>\n")?;
        }
    }
    Ok(())
}

/// A latency in milliseconds, or `no samples`.
fn ms(v: Option<f64>) -> String {
    v.map_or("no samples".to_string(), |v| format!("{v:.0} ms"))
}

/// Each notification channel's delivery figures, as judged at its endpoints, and its provider's
/// limit beside the busiest second its endpoints had.
fn channels(channels: &BTreeMap<String, ChannelDeliveries>) -> impl fmt::Display {
    fmt::from_fn(move |o| {
        o.write_str(
            "<table class=\"channels\">\n<tr><th>channel</th><th>delivered</th><th>lost</th><th>duplicates</th>\
             <th>pending at the end</th><th>suppressed</th><th>slowed down</th><th>given up</th>\
             <th>told unreachable</th><th>latency p50</th><th>latency p99</th>\
             <th>provider limit</th><th>busiest second received</th></tr>\n",
        )?;
        for (channel, d) in channels {
            let limit = d.per_second_limit.map_or("none".to_string(), |l| format!("{l}/s"));
            let over = d.per_second_limit.is_some_and(|l| d.worst_per_second > l);
            writeln!(
                o,
                "<tr class=\"channel\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{limit}</td><td{}>{}</td></tr>",
                escape(channel),
                d.accepted,
                d.lost,
                d.duplicates,
                d.pending,
                d.suppressed,
                d.slowed_down,
                d.given_up,
                d.told_unreachable,
                ms(d.latency_p50_ms),
                ms(d.latency_p99_ms),
                if over { " class=\"fail\"" } else { "" },
                d.worst_per_second
            )?;
        }
        o.write_str("</table>")
    })
}

/// Each SSE message type: pushed by the hubs, received by live viewers, delivery latency (an
/// event's from its write's acknowledgement, a heartbeat's from the hub's push).
fn sse(rows: &[SseDeliveries]) -> impl fmt::Display {
    fmt::from_fn(move |o| {
        o.write_str(
            "<table class=\"sse\">\n<tr><th>type</th><th>pushed</th><th>delivered</th><th>latency p50</th>\
             <th>latency p99</th><th>latency max</th></tr>\n",
        )?;
        for r in rows {
            writeln!(
                o,
                "<tr class=\"sse-kind\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.kind),
                r.pushed,
                r.delivered,
                ms(r.latency_p50_ms),
                ms(r.latency_p99_ms),
                ms(r.latency_max_ms)
            )?;
        }
        o.write_str(
            "</table>\n<p class=\"quiet\">latency of an event: from its write's acknowledgement to its first \
             receipt (on a stream, or on a page a viewer polled while it could not stream); of a heartbeat: \
             from the hub's push to its receipt</p>",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::charts::{Mark, MarkKind, Moment};
    use crate::render::summary::BudgetResult;
    use crate::render::summary::tests::{entry, summary};

    #[test]
    fn a_page_has_the_table_each_run_its_budgets_story_and_drawings_and_no_external_resource() {
        let mut failed = entry("b.toml", 2, Verdict::CheckerFired);
        failed.charts = Some(Charts {
            end_ms: 10_000,
            lanes: vec!["primary".into(), "quiet".into()],
            marks: vec![Mark { at_ms: 1, lane: "primary".into(), kind: MarkKind::Down, label: "crash primary".into() }],
            moments: vec![Moment { at_ms: 1, label: "T+0.0s primary lost".into() }],
            lag_bucket_ms: 1000,
            ..Charts::default()
        });
        failed.budgets = vec![
            BudgetResult {
                budget: "read_p99 < 1ms".into(),
                metric: "read_p99".into(),
                value: Some("9.6ms".into()),
                held: false,
            },
            BudgetResult { budget: "errors == 0".into(), metric: "errors".into(), value: None, held: false },
        ];
        failed.timeline = vec!["T+0.000s primary lost (fault: crash primary)".into()];
        let page = render(&summary("s<1>", vec![entry("a.toml", 1, Verdict::Pass), failed]));
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("<title>edgesim suite s&lt;1&gt;: checker fired (2 runs)</title>"), "{page}");
        assert!(page.contains("<td><a href=\"#run-1\">b</a></td><td>2</td><td>9.6ms</td>"), "{page}");
        assert!(page.contains("<li>checker fired: read-your-writes</li>"), "{page}");
        assert!(page.contains("replay: <code>edgesim run b.toml --seed 2</code>"), "{page}");
        assert!(page.contains("no chart data: the run did not complete"), "the entry without charts says so");
        assert!(page.contains("<div class=\"figure\"><b>9.6ms</b><span>read p99</span></div>"), "{page}");
        assert!(
            page.contains(
                "<tr class=\"budget\"><td>read_p99 &lt; 1ms</td><td>9.6ms</td><td class=\"fail\">broken</td></tr>"
            ),
            "{page}"
        );
        assert!(page.contains("<td>no samples</td><td class=\"fail\">broken</td>"), "{page}");
        assert!(page.contains("<li>T+0.000s primary lost (fault: crash primary)</li>"), "{page}");
        assert!(page.contains("1 hosts with nothing to show, folded: quiet"), "{page}");
        assert!(page.contains("class=\"moment\""), "{page}");
        assert_eq!(page.matches("<svg class=\"timeline\"").count(), 1);
        assert_eq!(page.matches("<svg class=\"lag\"").count(), 1);
        assert_eq!(page.matches("<svg class=\"latency-over-time\"").count(), 1);
        assert!(!page.contains("src=") && !page.contains("href=\"http"), "self-contained");
    }

    /// Goal: a run with `[ssr]` shows its streamed views' figures, a figure without a sample as
    /// `no samples`, and a run without `[ssr]` shows no such section.
    #[test]
    fn a_streamed_run_shows_its_ssr_figures_and_no_samples_where_it_has_none() {
        use crate::edge::metrics::Summary;
        use crate::edge::ssr::{BoundaryFigures, SsrFigures};
        use crate::scenario::ssr::DataKind;
        let mut streamed = entry("ssr.toml", 1, Verdict::Pass);
        streamed.ssr = Some(SsrFigures {
            views: 3,
            complete: 2,
            incomplete: 1,
            timeouts: 1,
            ttfb: Summary { count: 3, p50_ms: 9.0, p99_ms: 12.0, max_ms: 12.0 },
            boundaries: vec![BoundaryFigures {
                name: "reviews".into(),
                data: DataKind::Upstream,
                service_ms: Some(150.0),
                time: Summary::default(),
                failed: 0,
            }],
            ..SsrFigures::default()
        });
        let page = render(&summary("s", vec![entry("a.toml", 1, Verdict::Pass), streamed]));
        assert_eq!(page.matches("<h3>streaming SSR</h3>").count(), 1, "{page}");
        assert!(page.contains("3 views, 2 complete, 1 incomplete"), "{page}");
        assert!(page.contains("<td>shell (time to first byte)</td><td>p50     9.0  p99    12.0"), "{page}");
        assert!(page.contains("<td>boundary reviews (upstream, service 150ms)</td><td>no samples</td>"), "{page}");
        assert!(page.contains("<td>full page</td><td>no samples</td>"), "{page}");
    }

    #[test]
    fn a_suite_named_suite_is_not_called_suite_suite() {
        assert_eq!(title(&summary("suite", vec![])), "edgesim suite: pass (0 runs)");
        assert_eq!(title(&summary("ci", vec![entry("a.toml", 1, Verdict::Pass)])), "edgesim suite ci: pass (1 run)");
    }

    #[test]
    fn each_channel_has_a_row_of_its_figures_and_no_latency_reads_no_samples() {
        // Goal: the channel table shows every channel's delivered, lost, duplicates, pending,
        // suppressed, slowed down, given up, told unreachable and latency, and a channel without a
        // delivery says it has no samples rather than 0 ms.
        let sms = ChannelDeliveries {
            accepted: 7,
            lost: 2,
            pending: 1,
            suppressed: 3,
            slowed_down: 4,
            given_up: 2,
            told_unreachable: 1,
            latency_p50_ms: Some(812.4),
            latency_p99_ms: Some(61_000.0),
            ..ChannelDeliveries::default()
        };
        let all = [("slack".to_string(), ChannelDeliveries::default()), ("sms".to_string(), sms)].into();
        let table = channels(&all).to_string();
        assert_eq!(table.matches("<tr class=\"channel\">").count(), 2, "{table}");
        assert!(
            table.contains(
                "<td>sms</td><td>7</td><td>2</td><td>0</td><td>1</td><td>3</td><td>4</td><td>2</td><td>1</td><td>812 ms</td><td>61000 ms</td>"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "<td>slack</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>no samples</td><td>no samples</td><td>none</td><td>0</td>"
            ),
            "{table}"
        );
    }

    #[test]
    fn a_provider_limit_sits_beside_the_busiest_second_and_one_over_it_is_marked() {
        // Goal: the channel table shows each provider's limit next to the most its endpoints
        // accepted within a second, and marks a second over the limit as failing.
        let over = ChannelDeliveries { per_second_limit: Some(5), worst_per_second: 9, ..ChannelDeliveries::default() };
        let held =
            ChannelDeliveries { per_second_limit: Some(10), worst_per_second: 10, ..ChannelDeliveries::default() };
        let all = [("sms".to_string(), over), ("slack".to_string(), held)].into();
        let table = channels(&all).to_string();
        assert!(table.contains("<td>5/s</td><td class=\"fail\">9</td>"), "{table}");
        assert!(table.contains("<td>10/s</td><td>10</td>"), "{table}");
    }

    #[test]
    fn each_sse_type_has_a_row_and_one_without_a_sample_reads_no_samples() {
        // Goal: the SSE table has a row per type with pushed, delivered and latency quantiles, and
        // a type nobody received says "no samples" rather than 0 ms.
        let rows = [
            SseDeliveries {
                kind: "timeline_update".into(),
                pushed: 12,
                delivered: 11,
                latency_p50_ms: Some(105.2),
                latency_p99_ms: Some(230.0),
                latency_max_ms: Some(231.0),
            },
            SseDeliveries { kind: "incident_resolved".into(), ..SseDeliveries::default() },
        ];
        let table = sse(&rows).to_string();
        assert_eq!(table.matches("<tr class=\"sse-kind\">").count(), 2, "{table}");
        assert!(
            table.contains(
                "<td>timeline_update</td><td>12</td><td>11</td><td>105 ms</td><td>230 ms</td><td>231 ms</td>"
            ),
            "{table}"
        );
        let none =
            "<td>incident_resolved</td><td>0</td><td>0</td><td>no samples</td><td>no samples</td><td>no samples</td>";
        assert!(table.contains(none), "{table}");
    }
}
