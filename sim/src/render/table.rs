//! The suite's table, one line per run, as the terminal shows it; its columns are also those of
//! `report.md` and `report.html`.

use crate::render::summary::SuiteSummary;

/// The columns of the suite tables: header and metric.
pub(crate) const COLUMNS: [(&str, &str); 9] = [
    ("read p99", "read_p99"),
    ("write p99", "write_p99"),
    ("lag p99", "lag_p99"),
    ("ryw", "ryw_violations"),
    ("lost", "lost_acked_writes"),
    ("diverged", "diverged_nodes"),
    ("page avail", "page_availability"),
    ("stale p99", "staleness_p99"),
    ("notif lost", "notifications_lost"),
];

/// The suite's table, one line per run.
pub fn table(summary: &SuiteSummary) -> String {
    let mut out = format!("{:<30} {:>6}", "scenario", "seed");
    for (header, _) in COLUMNS {
        out.push_str(&format!(" {header:>10}"));
    }
    out.push_str("  verdict\n");
    for e in &summary.entries {
        out.push_str(&format!("{:<30} {:>6}", e.scenario, e.seed));
        for (_, metric) in COLUMNS {
            out.push_str(&format!(" {:>10}", e.cell(metric)));
        }
        out.push_str(&format!("  {}\n", e.verdict.label()));
    }
    out
}
