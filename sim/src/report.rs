//! The report of one run: the header every run shares (scenario, seed, size, the event log's
//! hash), the report of the system it simulated (`SystemReport`: the edge platform's or the status
//! page's figures and checkers, each computed from the event log as it was folded), the narrated
//! timeline and the chart data. Its JSON form (`--json`) is versioned with the event schema.

use std::fmt;

use serde::Serialize;

use crate::edge::charts::{self, Charts};
use crate::edge::check::NotJudged;
use crate::edge::report::EdgeReport;
use crate::events::SCHEMA_VERSION;
use crate::log::EventLog;
use crate::scenario::Scenario;
use crate::status::check::StatusReport;

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub schema: u32,
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub sim_seconds: f64,
    pub hosts: usize,
    pub links: usize,
    pub events: usize,
    pub event_log_hash: String,
    pub timeline: Vec<String>,
    /// The simulated system's figures, as `"edge": {...}` or `"status": {...}` in JSON.
    #[serde(flatten)]
    pub system: SystemReport,
    /// What `report.html` draws (`charts`).
    pub charts: Charts,
}

/// The figures and checkers of the system a run simulated.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemReport {
    Edge(EdgeReport),
    Status(StatusReport),
}

impl RunReport {
    /// The edge platform's report, for an edge platform run.
    pub fn edge(&self) -> Option<&EdgeReport> {
        match &self.system {
            SystemReport::Edge(edge) => Some(edge),
            SystemReport::Status(_) => None,
        }
    }

    /// The status page's report, for a status page run.
    pub fn status(&self) -> Option<&StatusReport> {
        match &self.system {
            SystemReport::Status(status) => Some(status),
            SystemReport::Edge(_) => None,
        }
    }

    /// Every correctness checker that fired, by name.
    pub fn fired(&self) -> Vec<&'static str> {
        match &self.system {
            SystemReport::Edge(edge) => edge.checks.fired(),
            SystemReport::Status(status) => status.fired(),
        }
    }

    /// Every correctness checker that could not judge the run, and why.
    pub fn not_judged(&self) -> Vec<NotJudged> {
        match &self.system {
            SystemReport::Edge(edge) => edge.checks.not_judged.clone(),
            SystemReport::Status(status) => {
                status.not_judged.iter().chain(&status.concurrent.not_judged).cloned().collect()
            }
        }
    }

    /// The narrated timeline and, when the edge platform lost its primary, its impact block.
    pub fn narrated(&self) -> Narrated<'_> {
        Narrated(self)
    }
}

/// The readable summary `edgesim run` prints.
impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "scenario {} ({}), seed {}", self.scenario, self.path, self.seed)?;
        writeln!(
            f,
            "simulated {:.1}s on {} hosts / {} links, {} events",
            self.sim_seconds, self.hosts, self.links, self.events
        )?;
        let timeline = match &self.system {
            SystemReport::Edge(edge) => {
                write!(f, "{edge}")?;
                edge.failover.is_some()
            }
            SystemReport::Status(status) => {
                write!(f, "{status}")?;
                true
            }
        };
        if timeline {
            writeln!(f, "\ntimeline\n{}", self.narrated())?;
        }
        writeln!(f, "\nevent log hash {}", self.event_log_hash)
    }
}

/// A run's narrated timeline, a line each, and the edge platform's impact block (`RunReport::narrated`).
pub struct Narrated<'a>(&'a RunReport);

impl fmt::Display for Narrated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for line in &self.0.timeline {
            writeln!(f, "  {line}")?;
        }
        match self.0.edge().and_then(EdgeReport::impact) {
            Some(impact) => write!(f, "{impact}"),
            None => Ok(()),
        }
    }
}

/// The report of a run, from what its log kept (`EventLog::observed`).
pub fn analyze(scenario: &Scenario, seed: u64, log: &EventLog) -> RunReport {
    let scenario = &scenario.for_seed(seed);
    let observed = log.observed();
    let end_us = log.end_us();
    let (system, timeline, charts) = match &scenario.status {
        Some(settings) => {
            let r = &observed.requests;
            let mut charts =
                charts::of(scenario.hosts(), &observed.kept, end_us, &[], &r.latency, &observed.replication.chart);
            let (status, timeline) = crate::status::report::analyze(scenario, settings, &observed.kept, &mut charts);
            (SystemReport::Status(status), timeline, charts)
        }
        None => {
            let (edge, timeline, charts) = crate::edge::report::analyze(scenario, &observed, end_us);
            (SystemReport::Edge(edge), timeline, charts)
        }
    };
    let hosts = scenario.hosts().len();
    RunReport {
        schema: SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        path: scenario.path.clone(),
        seed,
        sim_seconds: end_us as f64 / 1e6,
        hosts,
        links: hosts * (hosts - 1) / 2,
        events: log.len(),
        event_log_hash: log.hash(),
        timeline,
        system,
        charts,
    }
}
