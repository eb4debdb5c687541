//! The run's event log: one record per meaningful event, stamped with simulated time and node,
//! and hashed as it grows. Written as JSON Lines (`--events PATH`), schema in `docs/EVENTS.md`:
//! every line is `{"t_us": .., "node": .., "type": .., ...}`. Every figure edgesim reports is
//! computed from these records, folded as they are pushed (`observed`).

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use edgesim_system::edge::frame::{Lsn, Point};
use edgesim_system::edge::proto::{ReadPath, Route};
use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::ComponentStatus;
use edgesim_system::status::proto::Tier;
use edgesim_system::telemetry::{NodeEvent, Telemetry};
use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::observed::Observed;
use crate::status::shown::Shown;

/// Version of the JSON Lines schema; bump it when a record changes shape.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub t_us: u64,
    pub node: Rc<str>,
    #[serde(flatten)]
    pub record: Record,
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Record {
    Node(NodeEvent),
    Harness(HarnessEvent),
}

/// What the harness itself observes: the run, faults, and requests as clients saw them.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HarnessEvent {
    RunStarted {
        schema: u32,
        scenario: String,
        seed: u64,
    },
    /// A scheduled fault was applied; `hosts` are every host it names.
    Fault {
        line: usize,
        fault: String,
        hosts: Vec<String>,
    },
    RequestStarted {
        req: u64,
        session: u64,
        op: Op,
        key: String,
        seq: u64,
        /// The point of the session's last acknowledged write, carried with the request.
        min: Point,
    },
    RequestEnded {
        req: u64,
        session: u64,
        outcome: Outcome,
    },
    /// The audit of a node's database at the end of the run: a digest of its replicated content
    /// computed by the harness, and the (session, seq) of every write it holds.
    FinalState {
        of: String,
        outcome: FinalOutcome,
    },
    /// The control plane's route at the audit (`None`: it did not answer).
    FinalRoute {
        route: Option<Route>,
    },
    /// A status page operator's edit, when its region answered (`stamp`) or failed (`error`).
    /// For a status change, `seen` and `after` are the timestamps of the component's status the
    /// operator read from the region just before the edit and just after its acknowledgement.
    Edited {
        write: u64,
        region: String,
        component: Option<String>,
        status: Option<ComponentStatus>,
        critical: bool,
        stamp: Option<Timestamp>,
        seen: Option<Timestamp>,
        after: Option<Timestamp>,
        error: Option<String>,
    },
    /// A status page view: the CDNs tried in order, which one answered with which tier, and
    /// what the page showed. `started_us` is when the view began.
    PageViewed {
        viewer: u64,
        started_us: u64,
        tried: Vec<String>,
        cdn: Option<String>,
        tier: Option<Tier>,
        shown: Option<Shown>,
    },
    SseConnected {
        viewer: u64,
        cdn: String,
        resumed: bool,
    },
    SseDropped {
        viewer: u64,
        reason: String,
    },
    /// An SSE viewer received an update (`write`: the harness's id, if acknowledged yet).
    SseReceived {
        viewer: u64,
        event: String,
        write: Option<u64>,
    },
    /// An SSE viewer could not stream and polls instead.
    SseFallback {
        viewer: u64,
        reason: String,
    },
    /// The harness probed a CDN's page or a region's origin and it showed something new.
    Probed {
        of: String,
        shown: Shown,
    },
    /// A subscriber endpoint accepted a notification.
    Delivered {
        key: String,
        event: String,
        subscriber: u32,
        channel: String,
    },
    /// The audit of a status region's or CDN's document at the end of the run.
    FinalDoc {
        of: String,
        shown: Option<Shown>,
        error: Option<String>,
    },
    /// `down`: node hosts whose software was not running at the end.
    RunEnded {
        sim_us: u64,
        down: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Read,
    Write,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// `own_seq`: the session's highest write the read saw; `version`/`writer`: the key's row.
    Read {
        own_seq: u64,
        version: u64,
        writer: Option<(u64, u64)>,
        path: ReadPath,
        lsn: Lsn,
    },
    Write {
        lsn: Lsn,
        generation: u64,
    },
    Error {
        message: String,
    },
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FinalOutcome {
    Audited { lsn: Lsn, digest: String, rows: usize, writes: Vec<(u64, u64)> },
    Unreachable { reason: String },
}

/// The log of one run, shared by every host of the simulation (they all run on one thread). Each
/// event is written as a JSON Lines record to the sink (if any) and hashed as it is pushed, then
/// folded into what the analysis keeps (`Observed`) and dropped: memory does not grow with the
/// number of events, only with what the analysis must remember.
#[derive(Clone, Default)]
pub struct EventLog(Rc<RefCell<Inner>>);

#[derive(Default)]
struct Inner {
    sink: Option<Box<dyn Write>>,
    /// The sink's first write error, reported by `finish`.
    error: Option<std::io::Error>,
    hasher: Xxh3,
    line: Vec<u8>,
    len: usize,
    end_us: u64,
    observed: Observed,
}

impl EventLog {
    /// A log that also writes its JSON Lines to `sink` as events are pushed.
    pub fn writing(sink: impl Write + 'static) -> EventLog {
        EventLog(Rc::new(RefCell::new(Inner { sink: Some(Box::new(sink)), ..Inner::default() })))
    }

    pub fn push(&self, t_us: u64, node: &Rc<str>, record: Record) {
        let mut inner = self.0.borrow_mut();
        let event = Event { t_us, node: node.clone(), record };
        let Inner { sink, error, hasher, line, len, end_us, observed } = &mut *inner;
        line.clear();
        serde_json::to_writer(&mut *line, &event).expect("events serialize");
        line.push(b'\n');
        hasher.update(line);
        if let Some(out) = sink
            && error.is_none()
            && let Err(e) = out.write_all(line)
        {
            *error = Some(e);
        }
        *len += 1;
        *end_us = t_us;
        observed.event(event);
    }

    /// Flushes the sink; the first error writing to it, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        let mut inner = self.0.borrow_mut();
        if let Some(e) = inner.error.take() {
            return Err(e);
        }
        inner.sink.as_mut().map_or(Ok(()), |out| out.flush())
    }

    /// The hash of the JSON Lines form of everything logged so far.
    pub fn hash(&self) -> String {
        format!("{:032x}", self.0.borrow().hasher.digest128())
    }

    pub fn len(&self) -> usize {
        self.0.borrow().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The simulated time of the last event.
    pub fn end_us(&self) -> u64 {
        self.0.borrow().end_us
    }

    /// What the analysis kept of the events so far.
    pub fn observed(&self) -> std::cell::Ref<'_, Observed> {
        std::cell::Ref::map(self.0.borrow(), |i| &i.observed)
    }
}

/// A host's telemetry sink: stamps its node's reports with the simulated time.
#[derive(Clone)]
pub struct HostTelemetry {
    pub node: Rc<str>,
    pub log: EventLog,
}

impl HostTelemetry {
    pub fn harness(&self, event: HarnessEvent) {
        self.log.push(now_us(), &self.node, Record::Harness(event));
    }
}

impl Telemetry for HostTelemetry {
    fn emit(&self, event: NodeEvent) {
        self.log.push(now_us(), &self.node, Record::Node(event));
    }
}

/// Simulated time of the running host, in microseconds.
pub fn now_us() -> u64 {
    turmoil::sim_elapsed().unwrap_or_default().as_micros() as u64
}
