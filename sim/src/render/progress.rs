//! What a suite shows while its runs go. On a terminal, `indicatif` bars: the suite's (runs done of
//! all, how many failed, the estimated time left) and one per run in flight (its scenario, seed and
//! simulated time of its whole). Elsewhere (CI, a log), plain lines: one per finished run, and a
//! heartbeat line for a run still going every `HEARTBEAT` of wall time, so a long run is never
//! silent. `edgesim run` shows its one run the same way (`Progress::single`).

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::summary::Entry;
use crate::verdict::Verdict;

/// How often, in wall time, a plain heartbeat line tells of a run still going.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(30);

/// A run in flight.
struct Slot {
    name: String,
    seed: u64,
    total_s: f64,
    started: Instant,
    said: Instant,
    bar: Option<ProgressBar>,
}

/// The progress of a suite's runs, or of one run.
pub(crate) struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    /// The suite's bar on a terminal; `None`: plain lines.
    bars: Option<(MultiProgress, ProgressBar)>,
    /// Whether finished runs are told (a suite's; not `edgesim run`'s, which prints its report).
    tell_finished: bool,
    slots: Vec<Option<Slot>>,
}

impl Progress {
    /// The progress of a suite of `total` runs, `jobs` at a time; bars when `terminal`.
    pub fn suite(total: usize, jobs: usize, terminal: bool) -> Progress {
        let bars = terminal.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let bar = multi.add(ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template("[{bar:30}] {pos}/{len} runs, {msg}, eta {eta}")
                    .expect("a valid template")
                    .progress_chars("#>-"),
            );
            bar.set_message("0 failed");
            (multi, bar)
        });
        Progress { total, done: 0, failed: 0, bars, tell_finished: true, slots: (0..jobs).map(|_| None).collect() }
    }

    /// The progress of one run (`edgesim run`), which tells nothing when it finishes.
    pub fn single(terminal: bool) -> Progress {
        let mut p = Progress::suite(1, 1, terminal);
        if let Some((_, bar)) = &p.bars {
            bar.finish_and_clear();
        }
        p.tell_finished = false;
        p
    }

    /// Job `job` started a run of `name` at `seed` that simulates `total_s` seconds.
    pub fn started(&mut self, job: usize, name: &str, seed: u64, total_s: f64) {
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("  {spinner} {msg}").expect("a valid template"));
            bar
        });
        let now = Instant::now();
        let slot = Slot { name: name.to_string(), seed, total_s, started: now, said: now, bar };
        if let Some(bar) = &slot.bar {
            bar.set_message(in_flight(&slot.name, seed, 0.0, total_s));
        }
        if let Some(s) = self.slots.get_mut(job) {
            *s = Some(slot);
        }
    }

    /// Job `job`'s run reached `sim_s` simulated seconds.
    pub fn at(&mut self, job: usize, sim_s: f64) {
        let Some(Some(slot)) = self.slots.get_mut(job) else { return };
        match &slot.bar {
            Some(bar) => {
                bar.set_message(in_flight(&slot.name, slot.seed, sim_s, slot.total_s));
                bar.tick();
            }
            None if slot.said.elapsed() >= HEARTBEAT => {
                slot.said = Instant::now();
                let wall = slot.started.elapsed().as_secs_f64();
                eprintln!(
                    "  still running: {}, {wall:.0}s wall",
                    in_flight(&slot.name, slot.seed, sim_s, slot.total_s)
                );
            }
            None => {}
        }
    }

    /// Job `job`'s run ended with `entry` after `wall_s` seconds of wall time.
    pub(crate) fn finished(&mut self, job: usize, entry: &Entry, wall_s: f64) {
        if let Some(bar) = self.slots.get_mut(job).and_then(Option::take).and_then(|s| s.bar) {
            bar.finish_and_clear();
        }
        self.done += 1;
        self.failed += usize::from(entry.verdict != Verdict::Pass);
        if !self.tell_finished {
            return;
        }
        let line = finished_line(self.done, self.total, entry, wall_s);
        match &self.bars {
            Some((multi, bar)) => {
                bar.set_position(self.done as u64);
                bar.set_message(format!("{} failed", self.failed));
                if entry.verdict != Verdict::Pass {
                    let _ = multi.println(line);
                }
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bars.
    pub fn finish(self) {
        if let Some((_, bar)) = self.bars {
            bar.finish_and_clear();
        }
    }
}

/// A run in flight: `primary-crash-sync seed 1: 34s of 90s simulated`.
fn in_flight(name: &str, seed: u64, sim_s: f64, total_s: f64) -> String {
    format!("{name} seed {seed}: {sim_s:.0}s of {total_s:.0}s simulated")
}

/// A finished run: `[3/24] primary-crash-sync seed 1: pass (2.1s wall)`.
fn finished_line(done: usize, total: usize, e: &Entry, wall_s: f64) -> String {
    format!("[{done}/{total}] {} seed {}: {} ({wall_s:.1}s wall)", e.scenario, e.seed, e.verdict.label())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::summary::tests::entry;

    #[test]
    fn plain_lines_name_the_run_its_simulated_time_and_its_verdict() {
        assert_eq!(in_flight("steady", 3, 34.4, 90.0), "steady seed 3: 34s of 90s simulated");
        let e = entry("b.toml", 2, Verdict::CheckerFired);
        assert_eq!(finished_line(3, 24, &e, 2.06), "[3/24] b seed 2: checker fired (2.1s wall)");
    }

    #[test]
    fn counts_finished_and_failed_runs_and_frees_the_job() {
        let mut p = Progress::suite(2, 1, false);
        p.started(0, "a", 1, 10.0);
        assert!(p.slots[0].is_some());
        p.at(0, 5.0);
        p.finished(0, &entry("a.toml", 1, Verdict::BudgetBroken), 1.0);
        assert!(p.slots[0].is_none());
        assert_eq!((p.done, p.failed), (1, 1));
        p.at(0, 6.0);
        p.finish();
    }
}
