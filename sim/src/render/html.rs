//! `report.html`: a suite summary as one self-contained page (no external resource, no script
//! needed to draw it): the table of runs, then per run what broke, its replay command, the timeline
//! with a lane per host, then for an edge platform run latency by percentile per region and
//! replication lag over time, for a status page run the staleness of the pages viewers saw over
//! time; drawn from the chart data each summary entry carries (`charts`, `status::charts`, `svg`). A small inline script only
//! checks that the drawings have a size, for the browser test, and says so in `data-rendered`.

use std::fmt::Write;

use crate::edge::charts::{Charts, Kind};
use crate::render::markup::escape;
use crate::render::summary::{Entry, SuiteSummary};
use crate::render::svg;
use crate::render::table::COLUMNS;
use crate::verdict::Verdict;

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.pass{color:#1e7e34}.fail{color:#b00020;font-weight:bold}\
section{border-top:2px solid #ddd;margin-top:28px}code{background:#f3f3f3;padding:1px 4px}\
.row{display:flex;flex-wrap:wrap;gap:8px}.legend>span{margin-right:14px;font-size:12px;white-space:nowrap}\
.none{color:#777;font-style:italic}";

/// Sets `data-rendered` on the page to how many drawings it has, how many have no size, and how
/// many timeline marks show.
const CHECK: &str = "(function(){var s=document.querySelectorAll('svg'),blank=0;\
for(var i=0;i<s.length;i++){var r=s[i].getBoundingClientRect();if(!(r.width>0&&r.height>0))blank++;}\
var m=document.querySelectorAll('svg.timeline .mark').length;\
document.body.setAttribute('data-rendered','svgs='+s.length+' blank='+blank+' marks='+m);})();";

fn verdict_class(v: Verdict) -> &'static str {
    if v == Verdict::Pass { "pass" } else { "fail" }
}

pub fn render(s: &SuiteSummary) -> String {
    let runs = if s.entries.len() == 1 { "run" } else { "runs" };
    let title = format!("edgesim suite {}: {} ({} {runs})", s.suite, s.verdict.label(), s.entries.len());
    let mut o = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    o.push_str(
        "<p>Every time is simulated time; every figure comes from the run's event log. \
         Hover a mark or a span of a timeline for what happened.</p>\n",
    );
    table(&mut o, s);
    for (i, e) in s.entries.iter().enumerate() {
        run(&mut o, i, e);
    }
    let _ = write!(o, "<script>{CHECK}</script>\n</body>\n</html>\n");
    o
}

fn table(o: &mut String, s: &SuiteSummary) {
    o.push_str("<table>\n<tr><th>scenario</th><th>seed</th>");
    for (header, _) in COLUMNS {
        let _ = write!(o, "<th>{header}</th>");
    }
    o.push_str("<th>verdict</th></tr>\n");
    for (i, e) in s.entries.iter().enumerate() {
        let _ = write!(o, "<tr><td><a href=\"#run-{i}\">{}</a></td><td>{}</td>", escape(&e.scenario), e.seed);
        for (_, metric) in COLUMNS {
            let _ = write!(o, "<td>{}</td>", escape(&e.cell(metric)));
        }
        let _ = writeln!(o, "<td class=\"{}\">{}</td></tr>", verdict_class(e.verdict), e.verdict.label());
    }
    o.push_str("</table>\n");
}

fn run(o: &mut String, i: usize, e: &Entry) {
    let _ = writeln!(
        o,
        "<section id=\"run-{i}\">\n<h2>{} seed {}: <span class=\"{}\">{}</span></h2>",
        escape(&e.scenario),
        e.seed,
        verdict_class(e.verdict),
        e.verdict.label()
    );
    let failures = e.failures();
    if !failures.is_empty() {
        o.push_str("<ul>\n");
        for f in failures {
            let _ = writeln!(o, "<li>{}</li>", escape(&f));
        }
        o.push_str("</ul>\n");
    }
    let _ = writeln!(o, "<p>replay: <code>{}</code></p>", escape(&e.replay));
    match &e.charts {
        Some(c) => charts(o, c),
        None => o.push_str("<p class=\"none\">no chart data: the run did not complete</p>\n"),
    }
    o.push_str("</section>\n");
}

fn charts(o: &mut String, c: &Charts) {
    o.push_str("<h3>timeline</h3>\n<p class=\"legend\">");
    for kind in Kind::ALL {
        let _ = write!(o, "<span><span style=\"color:{}\">&#9632;</span> {}</span>", svg::color(kind), kind.name());
    }
    let _ = writeln!(o, "</p>\n{}", svg::timeline(c));
    if c.staleness.is_empty() {
        o.push_str("<h3>latency as clients saw it (solid: reads, dashed: writes)</h3>\n<div class=\"row\">\n");
        for (region, d) in &c.latency {
            let lines = [("read".to_string(), &d.read[..], false), ("write".to_string(), &d.write[..], true)];
            let _ = writeln!(o, "{}", svg::percentiles(region, &lines));
        }
        let _ = writeln!(o, "</div>\n<h3>replication lag</h3>\n{}", svg::lag(c));
    } else {
        let _ = writeln!(o, "<h3>staleness</h3>\n{}", svg::staleness(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::charts::Mark;
    use crate::render::summary::tests::{entry, summary};

    #[test]
    fn a_page_has_the_table_each_run_its_drawings_and_no_external_resource() {
        let mut failed = entry("b.toml", 2, Verdict::CheckerFired);
        failed.charts = Some(Charts {
            end_ms: 10_000,
            lanes: vec!["primary".into()],
            marks: vec![Mark { at_ms: 1, lane: "primary".into(), kind: Kind::Down, label: "crash primary".into() }],
            lag_bucket_ms: 1000,
            ..Charts::default()
        });
        let page = render(&summary("s<1>", vec![entry("a.toml", 1, Verdict::Pass), failed]));
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("<title>edgesim suite s&lt;1&gt;: checker fired (2 runs)</title>"), "{page}");
        assert!(page.contains("<td><a href=\"#run-1\">b</a></td><td>2</td><td>9.6ms</td>"), "{page}");
        assert!(page.contains("<li>checker fired: read-your-writes</li>"), "{page}");
        assert!(page.contains("replay: <code>edgesim run b.toml --seed 2</code>"), "{page}");
        assert!(page.contains("no chart data: the run did not complete"), "the entry without charts says so");
        assert_eq!(page.matches("<svg class=\"timeline\"").count(), 1);
        assert_eq!(page.matches("<svg class=\"lag\"").count(), 1);
        assert!(!page.contains("src=") && !page.contains("href=\"http"), "self-contained");
    }
}
