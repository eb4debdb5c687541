//! Personalized pages streamed with SSR (`[ssr]`), judged from the log as the clients saw them,
//! never from what a PoP claims: each view's times run from when it was due (`ssr_requested`,
//! open-loop, so a view that waited for a connection or an isolate counts that wait) to when its
//! shell reached the client (time to first byte), to when each boundary's chunk did (time to each
//! boundary, for chunks holding their data), and to when the last chunk did, for a view that got
//! every boundary's data (time to full page). A view is complete only then: one that ended with an
//! error, was shed, timed out, got a boundary's error fallback, or never ended before the run did
//! is counted as incomplete, never dropped.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::edge::metrics::{Recorder, Summary};
use crate::events::{ChunkOutcome, Event, HarnessEvent, Record, StreamOutcome};
use crate::scenario::ssr::DataKind;

/// One boundary's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundaryFigures {
    pub name: String,
    pub data: DataKind,
    /// The upstream service's mean service time for the boundary's call, for `upstream` data (the
    /// network to it and its queue come on top).
    pub service_ms: Option<f64>,
    /// Time from the view's due time to this boundary's chunk holding its data.
    pub time: Summary,
    /// Chunks that held the boundary's error fallback.
    pub failed: u64,
}

/// The figures of a run's streamed views.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SsrFigures {
    pub views: u64,
    /// Views that got their shell and every boundary's data.
    pub complete: u64,
    /// Views that did not: `views - complete`.
    pub incomplete: u64,
    /// Of those, views that got a boundary's error fallback, that ended in an error, that the
    /// PoP shed, that timed out, and that had not ended when the run did.
    pub fallback: u64,
    pub errors: u64,
    pub shed: u64,
    pub timeouts: u64,
    pub unanswered: u64,
    /// Time to the shell, the first byte.
    pub ttfb: Summary,
    pub boundaries: Vec<BoundaryFigures>,
    /// Time to the last chunk of each complete view.
    pub full_page: Summary,
}

/// A view under way: when it was due, when its latest chunk arrived, and how many chunks held
/// their data.
struct Open {
    due_us: u64,
    last_us: u64,
    filled: usize,
}

/// The streamed views' figures, folded as events stream past.
#[derive(Default)]
pub struct Streams {
    /// The page's boundaries: name, data, the upstream's mean service time (ms); `None` without
    /// `[ssr]`.
    page: Option<Vec<(String, DataKind, Option<f64>)>>,
    open: BTreeMap<u64, Open>,
    views: u64,
    complete: u64,
    fallback: u64,
    errors: u64,
    shed: u64,
    timeouts: u64,
    ttfb: Recorder,
    boundaries: Vec<(Recorder, u64)>,
    full_page: Recorder,
}

impl Streams {
    pub fn event(&mut self, e: &Event) {
        let Record::Harness(h) = &e.record else { return };
        match h {
            HarnessEvent::RunStarted { resolved, .. } => {
                let ssr = resolved.edge.as_ref().and_then(|e| e.ssr.as_ref());
                self.page = ssr.map(|s| {
                    let service = |b: &crate::scenario::ssr::SsrBoundary| b.service.map(|l| l.0.as_secs_f64() * 1e3);
                    s.boundaries.iter().map(|b| (b.name.clone(), b.data, service(b))).collect()
                });
                let n = self.page.as_ref().map_or(0, Vec::len);
                self.boundaries = (0..n).map(|_| (Recorder::default(), 0)).collect();
            }
            HarnessEvent::SsrRequested { view, .. } => {
                self.views += 1;
                self.open.insert(*view, Open { due_us: e.t_us, last_us: e.t_us, filled: 0 });
            }
            HarnessEvent::SsrShell { view } => {
                if let Some(o) = self.open.get(view) {
                    self.ttfb.record(e.t_us - o.due_us);
                }
            }
            HarnessEvent::SsrChunk { view, boundary, filled, .. } => {
                let (Some(o), Some((time, failed))) = (self.open.get_mut(view), self.boundaries.get_mut(*boundary))
                else {
                    return;
                };
                o.last_us = e.t_us;
                match filled {
                    ChunkOutcome::Failed { .. } => *failed += 1,
                    ChunkOutcome::Row { .. } | ChunkOutcome::Upstream => {
                        o.filled += 1;
                        time.record(e.t_us - o.due_us);
                    }
                }
            }
            HarnessEvent::SsrEnded { view, outcome } => {
                let Some(o) = self.open.remove(view) else { return };
                match outcome {
                    StreamOutcome::Streamed if o.filled == self.boundaries.len() => {
                        self.complete += 1;
                        self.full_page.record(o.last_us - o.due_us);
                    }
                    StreamOutcome::Streamed => self.fallback += 1,
                    StreamOutcome::Error { .. } => self.errors += 1,
                    StreamOutcome::Shed { .. } => self.shed += 1,
                    StreamOutcome::Timeout => self.timeouts += 1,
                }
            }
            _ => {}
        }
    }

    /// The figures; `None` for a run without `[ssr]`.
    pub fn summary(&self) -> Option<SsrFigures> {
        let page = self.page.as_ref()?;
        let boundaries = page
            .iter()
            .zip(&self.boundaries)
            .map(|((name, data, service_ms), (time, failed))| BoundaryFigures {
                name: name.clone(),
                data: *data,
                service_ms: *service_ms,
                time: time.summary(),
                failed: *failed,
            })
            .collect();
        Some(SsrFigures {
            views: self.views,
            complete: self.complete,
            incomplete: self.views - self.complete,
            fallback: self.fallback,
            errors: self.errors,
            shed: self.shed,
            timeouts: self.timeouts,
            unanswered: self.open.len() as u64,
            ttfb: self.ttfb.summary(),
            boundaries,
            full_page: self.full_page.summary(),
        })
    }
}

/// A distribution as the SSR figures write it: `no samples` when it has none.
fn distribution(s: &Summary) -> String {
    match s.count {
        0 => "no samples".into(),
        n => format!("p50 {:>7.1}  p99 {:>7.1}  max {:>7.1} ms  (n={n})", s.p50_ms, s.p99_ms, s.max_ms),
    }
}

impl BoundaryFigures {
    /// The boundary's data in words: `replica`, `read_your_writes`, `upstream, service 120ms`.
    pub(crate) fn data_text(&self) -> String {
        match (self.data, self.service_ms) {
            (DataKind::Upstream, Some(ms)) => format!("upstream, service {ms}ms"),
            (DataKind::Upstream, None) => "upstream".into(),
            (DataKind::Replica, _) => "replica".into(),
            (DataKind::ReadYourWrites, _) => "read_your_writes".into(),
        }
    }
}

impl SsrFigures {
    /// Each row a report shows: what it times, and its distribution in words.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![("shell (time to first byte)".to_string(), distribution(&self.ttfb))];
        for b in &self.boundaries {
            let failed = if b.failed > 0 { format!(", {} failed", b.failed) } else { String::new() };
            rows.push((format!("boundary {} ({}{failed})", b.name, b.data_text()), distribution(&b.time)));
        }
        rows.push(("full page".into(), distribution(&self.full_page)));
        rows
    }

    /// The views in words: how many, complete, and why the others were not.
    pub fn counts(&self) -> String {
        format!(
            "{} views, {} complete, {} incomplete ({} with a boundary's error fallback, {} errors, {} shed, {} timed \
             out, {} unanswered at the end)",
            self.views,
            self.complete,
            self.incomplete,
            self.fallback,
            self.errors,
            self.shed,
            self.timeouts,
            self.unanswered
        )
    }
}

/// The streamed views' part of the run's text.
impl fmt::Display for SsrFigures {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "\nstreaming SSR (as clients saw it, from when each view was due)")?;
        writeln!(f, "  {}", self.counts())?;
        for (what, figures) in self.rows() {
            writeln!(f, "  {what:<44} {figures}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn at(t_us: u64, record: HarnessEvent) -> Event {
        Event { t_us, node: Rc::from("clients-a"), record: Record::Harness(record) }
    }

    fn streams(boundaries: usize) -> Streams {
        let page = (0..boundaries).map(|i| (format!("b{i}"), DataKind::Replica, None)).collect();
        Streams {
            page: Some(page),
            boundaries: (0..boundaries).map(|_| (Recorder::default(), 0)).collect(),
            ..Streams::default()
        }
    }

    fn requested(t_us: u64, view: u64) -> Event {
        at(t_us, HarnessEvent::SsrRequested { view, session: 1, pop: "pop-a-1".into(), key: "k1".into() })
    }

    fn chunk(t_us: u64, view: u64, boundary: usize, filled: ChunkOutcome) -> Event {
        at(t_us, HarnessEvent::SsrChunk { view, boundary, name: format!("b{boundary}"), filled })
    }

    fn ended(t_us: u64, view: u64, outcome: StreamOutcome) -> Event {
        at(t_us, HarnessEvent::SsrEnded { view, outcome })
    }

    /// Goal: times run from when the view was due; a view is complete only with every boundary's
    /// data, and one with an error fallback, one timed out and one never ended are each counted
    /// as incomplete, not dropped.
    #[test]
    fn incomplete_views_are_counted_and_times_run_from_the_due_time() {
        let mut s = streams(2);
        for (view, due) in [(1, 0), (2, 10_000), (3, 20_000), (4, 30_000)] {
            s.event(&requested(due, view));
            s.event(&at(due + 5_000, HarnessEvent::SsrShell { view }));
        }
        s.event(&chunk(8_000, 1, 0, ChunkOutcome::Upstream));
        s.event(&chunk(40_000, 1, 1, ChunkOutcome::Upstream));
        s.event(&ended(40_000, 1, StreamOutcome::Streamed));
        s.event(&chunk(18_000, 2, 0, ChunkOutcome::Upstream));
        s.event(&chunk(19_000, 2, 1, ChunkOutcome::Failed { message: "primary unreachable".into() }));
        s.event(&ended(19_000, 2, StreamOutcome::Streamed));
        s.event(&ended(2_020_000, 3, StreamOutcome::Timeout));
        let f = s.summary().unwrap();
        assert_eq!((f.views, f.complete, f.incomplete), (4, 1, 3));
        assert_eq!((f.fallback, f.timeouts, f.unanswered, f.boundaries[1].failed), (1, 1, 1, 1));
        // hdrhistogram keeps three significant digits.
        let near = |s: &Summary, count: u64, max_ms: f64| s.count == count && (s.max_ms - max_ms).abs() < 0.05;
        assert!(near(&f.ttfb, 4, 5.0), "{:?}", f.ttfb);
        assert!(near(&f.boundaries[0].time, 2, 8.0), "{:?}", f.boundaries[0].time);
        assert!(near(&f.full_page, 1, 40.0), "{:?}", f.full_page);
    }

    /// Goal: without any view the figures say `no samples`, never a zero time.
    #[test]
    fn no_view_reads_as_no_samples() {
        let f = streams(1).summary().unwrap();
        assert!(f.rows().iter().all(|(_, figures)| figures == "no samples"), "{:?}", f.rows());
        assert_eq!(f.incomplete, 0);
    }
}
