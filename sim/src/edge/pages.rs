//! Product pages under ISR (`[isr]`), judged from the log rather than from what the PoPs claim:
//! the age of each page a client received is the time it was received minus the time the origin
//! logged rendering it (`page_rendered`, matched by its render number), and a page is stale when
//! that age is past the revalidate interval, whatever the PoP said. Renders are counted where the
//! origin logged them, per key, per PoP and per window of one revalidate interval (windows start at
//! the run's start): with the revalidation lock a PoP asks again for a key only after its page went
//! stale, so at most one render falls in each window; more is the thundering herd
//! (`revalidation-herd`). Renders are counted per key and region in the same windows too: with the
//! region lock (`lock = "region"`) the region asks the origin again only after the page its holder
//! last handed out went stale, so more than one there is the region-wide herd
//! (`region-revalidation-herd`, judged only under that lock). Regeneration time is the PoP's own
//! span from `regeneration_started` to `regeneration_ended`: only the PoP knows when it began.

use std::collections::BTreeMap;
use std::fmt;

use edgesim_system::edge::isr::Lock;
use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use crate::edge::metrics::{Recorder, Summary, fmt_summary};
use crate::events::{Event, HarnessEvent, PageOutcome, Record};
use crate::scenario::roles::EdgeRole;

/// How many herd windows a report lists.
const EXAMPLES: usize = 10;

/// More than one render of a key for one PoP (or one region) in one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Herd {
    pub key: String,
    /// The PoP, or for the region-wide herd the region.
    pub place: String,
    /// The window's start, seconds from the run's start.
    pub from_s: f64,
    pub renders: u32,
}

/// The figures of a run's pages.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PageFigures {
    pub revalidate_s: f64,
    /// Pages received, and of those past the revalidate interval.
    pub served: u64,
    pub stale: u64,
    /// Pages whose render the origin never logged: their age is unknown (never counted as fresh).
    pub unknown_age: u64,
    /// Time to first byte as clients saw it (a page is sent whole).
    pub ttfb: Summary,
    /// Age of the stale pages served.
    pub stale_age: Summary,
    pub failed: u64,
    /// Renders at the origin, and the most of one key for one PoP in one window.
    pub renders: u64,
    pub renders_per_key_window_max: u32,
    pub regenerations: u64,
    pub regenerations_failed: u64,
    pub regeneration_time: Summary,
    /// Windows with more than one render of a key for a PoP.
    pub herd_windows: usize,
    pub herd_examples: Vec<Herd>,
    /// The revalidation lock the run used.
    pub lock: Lock,
    /// The most renders of one key for one region's PoPs in one window, and the windows with more
    /// than one (the region-wide herd; a fault only under `lock = "region"`).
    pub renders_per_key_region_window_max: u32,
    pub region_herd_windows: usize,
    pub region_herd_examples: Vec<Herd>,
}

/// The pages' figures, folded as events stream past.
#[derive(Default)]
pub struct Pages {
    revalidate_us: Option<u64>,
    lock: Option<Lock>,
    /// When each render was logged, by (origin, render number).
    rendered: BTreeMap<(String, u64), u64>,
    /// Renders per (key, PoP, window) and per (key, region, window).
    windows: Windows,
    region_windows: Windows,
    /// Regenerations under way, by (PoP, id).
    regenerating: BTreeMap<(String, u64), u64>,
    served: u64,
    stale: u64,
    unknown_age: u64,
    failed: u64,
    regenerations_failed: u64,
    ttfb: Recorder,
    stale_age: Recorder,
    regeneration_time: Recorder,
}

impl Pages {
    pub fn event(&mut self, e: &Event) {
        match &e.record {
            Record::Harness(HarnessEvent::RunStarted { resolved, .. }) => {
                let isr = resolved.edge.as_ref().and_then(|e| e.isr);
                self.revalidate_us = isr.map(|i| i.revalidate.0.as_micros() as u64);
                self.lock = isr.map(|i| i.lock);
            }
            Record::Node(NodeEvent::PageRendered { key, pop, render }) => {
                self.rendered.insert((e.node.to_string(), *render), e.t_us);
                let window = e.t_us / self.revalidate_us.unwrap_or(u64::MAX).max(1);
                *self.windows.entry((key.clone(), pop.clone(), window)).or_default() += 1;
                let region = match EdgeRole::of(pop) {
                    Some(EdgeRole::Pop { region, .. }) => region,
                    _ => pop.as_str(),
                };
                *self.region_windows.entry((key.clone(), region.to_string(), window)).or_default() += 1;
            }
            Record::Node(NodeEvent::RegenerationStarted { id, .. }) => {
                self.regenerating.insert((e.node.to_string(), *id), e.t_us);
            }
            Record::Node(NodeEvent::RegenerationEnded { id, error, .. }) => {
                if let Some(start) = self.regenerating.remove(&(e.node.to_string(), *id)) {
                    self.regeneration_time.record(e.t_us - start);
                }
                self.regenerations_failed += u64::from(error.is_some());
            }
            Record::Harness(HarnessEvent::PageLoaded { started_us, outcome, .. }) => match outcome {
                PageOutcome::Page { origin, render, .. } => {
                    self.served += 1;
                    self.ttfb.record(e.t_us - started_us);
                    match self.rendered.get(&(origin.clone(), *render)) {
                        Some(at) => {
                            let age = e.t_us - at;
                            if self.revalidate_us.is_some_and(|r| age > r) {
                                self.stale += 1;
                                self.stale_age.record(age);
                            }
                        }
                        None => self.unknown_age += 1,
                    }
                }
                _ => self.failed += 1,
            },
            _ => {}
        }
    }

    /// The figures; `None` for a run without `[isr]`.
    pub fn summary(&self) -> Option<PageFigures> {
        let revalidate_us = self.revalidate_us?;
        let (herd_windows, herd_examples) = herds(&self.windows, revalidate_us);
        let (region_herd_windows, region_herd_examples) = herds(&self.region_windows, revalidate_us);
        let most = |windows: &Windows| windows.values().copied().max().unwrap_or(0);
        Some(PageFigures {
            revalidate_s: revalidate_us as f64 / 1e6,
            served: self.served,
            stale: self.stale,
            unknown_age: self.unknown_age,
            ttfb: self.ttfb.summary(),
            stale_age: self.stale_age.summary(),
            failed: self.failed,
            renders: self.windows.values().map(|n| u64::from(*n)).sum(),
            renders_per_key_window_max: most(&self.windows),
            regenerations: self.regeneration_time.summary().count + self.regenerating.len() as u64,
            regenerations_failed: self.regenerations_failed,
            regeneration_time: self.regeneration_time.summary(),
            herd_windows,
            herd_examples,
            lock: self.lock.unwrap_or_default(),
            renders_per_key_region_window_max: most(&self.region_windows),
            region_herd_windows,
            region_herd_examples,
        })
    }
}

/// Renders per (key, place, window): a place is a PoP or a region.
type Windows = BTreeMap<(String, String, u64), u32>;

/// The windows with more than one render, and the first of them by time.
fn herds(windows: &Windows, revalidate_us: u64) -> (usize, Vec<Herd>) {
    let mut herds: Vec<Herd> = windows
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((key, place, window), n)| Herd {
            key: key.clone(),
            place: place.clone(),
            from_s: (window * revalidate_us) as f64 / 1e6,
            renders: *n,
        })
        .collect();
    let count = herds.len();
    herds.sort_by(|a, b| a.from_s.total_cmp(&b.from_s).then_with(|| (&a.key, &a.place).cmp(&(&b.key, &b.place))));
    herds.truncate(EXAMPLES);
    (count, herds)
}

/// The pages' part of the run's text.
impl fmt::Display for PageFigures {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "\nproduct pages (ISR, revalidate {}s; ages from the origin's renders)", self.revalidate_s)?;
        writeln!(
            f,
            "  {} served, {} stale, {} of unknown age, {} failed",
            self.served, self.stale, self.unknown_age, self.failed
        )?;
        writeln!(f, "  time to first byte      {}", fmt_summary(&self.ttfb))?;
        writeln!(f, "  stale age served        {}", fmt_summary(&self.stale_age))?;
        writeln!(
            f,
            "  origin renders {}, at most {} per key per PoP per window; {} regenerations ({} failed)",
            self.renders, self.renders_per_key_window_max, self.regenerations, self.regenerations_failed
        )?;
        writeln!(
            f,
            "  at most {} per key per region per window (lock: {})",
            self.renders_per_key_region_window_max,
            self.lock.name()
        )?;
        writeln!(f, "  regeneration time       {}", fmt_summary(&self.regeneration_time))?;
        let region_herds = if self.lock == Lock::Region { &self.region_herd_examples[..] } else { &[] };
        for h in self.herd_examples.iter().take(3).chain(region_herds.iter().take(3)) {
            writeln!(
                f,
                "    herd: {} rendered {} times for {} in the window from T+{}s",
                h.key, h.renders, h.place, h.from_s
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn at(t_us: u64, node: &str, record: Record) -> Event {
        Event { t_us, node: Rc::from(node), record }
    }

    fn rendered(t_us: u64, key: &str, render: u64) -> Event {
        rendered_for(t_us, key, "pop-a-1", render)
    }

    fn rendered_for(t_us: u64, key: &str, pop: &str, render: u64) -> Event {
        at(t_us, "primary", Record::Node(NodeEvent::PageRendered { key: key.into(), pop: pop.into(), render }))
    }

    fn loaded(t_us: u64, render: u64) -> Event {
        let outcome = PageOutcome::Page { origin: "primary".into(), render, version: 0, stale: false };
        at(
            t_us,
            "clients-a",
            Record::Harness(HarnessEvent::PageLoaded {
                session: 1,
                key: "p1".into(),
                pop: "pop-a-1".into(),
                started_us: t_us - 1_000,
                outcome,
            }),
        )
    }

    fn pages(revalidate_s: u64) -> Pages {
        Pages { revalidate_us: Some(revalidate_s * 1_000_000), ..Pages::default() }
    }

    /// Goal: a page's age is the harness's (received minus the origin's logged render), not the
    /// PoP's `stale` flag: a page the PoP called fresh but older than the interval is stale.
    #[test]
    fn stale_age_is_judged_from_the_origins_render_time() {
        let mut p = pages(10);
        p.event(&rendered(1_000_000, "p1", 7));
        p.event(&loaded(5_000_000, 7));
        p.event(&loaded(14_000_000, 7));
        p.event(&loaded(15_000_000, 99));
        let f = p.summary().unwrap();
        assert_eq!((f.served, f.stale, f.unknown_age), (3, 1, 1));
        // hdrhistogram keeps three significant digits.
        assert!((f.stale_age.max_ms - 13_000.0).abs() < 20.0, "{:?}", f.stale_age);
    }

    /// Goal: two renders of one key for one PoP in one window are a herd; one per window is not,
    /// however close across a window's edge.
    #[test]
    fn two_renders_in_a_window_are_a_herd() {
        let mut p = pages(10);
        p.event(&rendered(9_000_000, "p1", 1));
        p.event(&rendered(11_000_000, "p1", 2));
        assert_eq!(p.summary().unwrap().herd_windows, 0);
        p.event(&rendered(12_000_000, "p1", 3));
        let f = p.summary().unwrap();
        assert_eq!((f.herd_windows, f.renders_per_key_window_max, f.renders), (1, 2, 3));
        assert_eq!(f.herd_examples[0].from_s, 10.0);
    }

    /// Goal: renders of one key for two PoPs of a region in one window are no herd per PoP but a
    /// region-wide herd, counted in that region's window; a PoP of another region is apart.
    #[test]
    fn renders_for_two_pops_of_a_region_in_a_window_are_a_region_herd() {
        let mut p = pages(10);
        p.event(&rendered_for(1_000_000, "p1", "pop-a-1", 1));
        p.event(&rendered_for(2_000_000, "p1", "pop-b-1", 2));
        assert_eq!(p.summary().unwrap().region_herd_windows, 0);
        p.event(&rendered_for(3_000_000, "p1", "pop-a-2", 3));
        let f = p.summary().unwrap();
        assert_eq!((f.herd_windows, f.renders_per_key_window_max), (0, 1));
        assert_eq!((f.region_herd_windows, f.renders_per_key_region_window_max), (1, 2));
        assert_eq!(f.region_herd_examples[0].place, "a");
    }
}
