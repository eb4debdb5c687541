//! The suite's table, one line per run, sized to its content (`comfy-table`) and showing only the
//! columns of the systems its runs simulated: as the terminal shows it (`table`) and as `report.md`
//! writes it (`markdown`); `report.html` shows the same columns (`columns`).

use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::{CellAlignment, LineStyle, Table, TableStyle};

use crate::render::summary::{Entry, SuiteSummary};
use crate::scenario::budget::METRICS;

/// The columns of the suite tables: header and metric.
const COLUMNS: [(&str, &str); 9] = [
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

/// The terminal's table: a line under the header, nothing else.
const TERMINAL: TableStyle = TableStyle::new().header_separator(LineStyle::none().fill('─').junction(' '));

/// Whether a run simulated the status page, by its metrics; a run that could not complete has
/// none and brings no column.
fn simulated(e: &Entry, status: bool) -> bool {
    METRICS.iter().any(|m| m.is_status() == status && e.metrics.contains_key(m.name()))
}

/// The columns of the systems `summary`'s runs simulated: header and metric.
pub(crate) fn columns(summary: &SuiteSummary) -> Vec<(&'static str, &'static str)> {
    let present = |status: bool| summary.entries.iter().any(|e| simulated(e, status));
    let is_status = |metric: &str| METRICS.iter().any(|m| m.name() == metric && m.is_status());
    COLUMNS.into_iter().filter(|(_, metric)| present(is_status(metric))).collect()
}

/// The table in `style`'s lines, each cell passed through `text`.
fn grid(summary: &SuiteSummary, style: TableStyle, text: fn(&str) -> String) -> String {
    let columns = columns(summary);
    let mut t = Table::new();
    t.load_style(style);
    let headers = ["scenario", "seed"].into_iter().chain(columns.iter().map(|(h, _)| *h)).chain(["verdict"]);
    t.set_header(headers);
    for e in &summary.entries {
        let metrics = columns.iter().map(|(_, m)| e.cell(m));
        let row = [text(&e.scenario), e.seed.to_string()].into_iter().chain(metrics).chain([e.verdict.label().into()]);
        t.add_row(row);
    }
    for i in 1..=columns.len() + 1 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string() + "\n"
}

/// The suite's table as the terminal shows it.
pub fn table(summary: &SuiteSummary) -> String {
    grid(summary, TERMINAL, str::to_string)
}

/// The suite's table in Markdown, for `report.md`.
pub(crate) fn markdown(summary: &SuiteSummary) -> String {
    grid(summary, ASCII_MARKDOWN, |text| text.replace('|', "\\|").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::summary::tests::{entry, summary};
    use crate::verdict::Verdict;

    #[test]
    fn shows_only_the_columns_of_the_systems_present_sized_to_content() {
        let edge = summary("s", vec![entry("a.toml", 1, Verdict::Pass)]);
        let headers: Vec<&str> = columns(&edge).iter().map(|(h, _)| *h).collect();
        assert_eq!(headers, ["read p99", "write p99", "lag p99", "ryw", "lost", "diverged"]);
        let mut status = entry("status-x.toml", 2, Verdict::Pass);
        status.metrics = [("page_availability".to_string(), 99.95)].into();
        assert_eq!(columns(&summary("s", vec![status.clone()])).len(), 3);
        assert_eq!(columns(&summary("s", vec![entry("a.toml", 1, Verdict::Pass), status])).len(), 9);
        let mut broken = entry("c.toml", 1, Verdict::Error);
        broken.metrics.clear();
        assert!(columns(&summary("s", vec![broken])).is_empty(), "a run that did not complete brings no column");

        let text = table(&edge);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 90, "sized to its content, not 144 wide: {text}");
        assert!(text.contains("9.6ms") && !text.contains("page avail"), "{text}");
        let md = markdown(&edge);
        assert!(md.starts_with("| scenario | seed | read p99 |"), "{md}");
        assert!(md.contains("| a        |    1 |    9.6ms |"), "{md}");
    }
}
