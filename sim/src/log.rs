//! The run's event log: every record (`events`) is hashed and written as a JSON Lines line as it is
//! pushed, then folded into what the analysis keeps (`observed`); and each host's telemetry sink,
//! which stamps its reports with the simulated time.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::telemetry::{NodeEvent, Telemetry};
use xxhash_rust::xxh3::Xxh3;

use crate::events::{Event, HarnessEvent, Record};
use crate::observed::Observed;

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

/// Simulated time of the running host.
pub fn now() -> Duration {
    crate::net::elapsed()
}

/// Simulated time of the running host, in microseconds.
pub(crate) fn now_us() -> u64 {
    now().as_micros() as u64
}
