//! What the analysis keeps of a run's events as they stream past (`EventLog::push`): requests and
//! the replication stream's per-frame records are folded into the checkers' and figures' state
//! (`check::Requests`, `metrics::ReplicationFold`), as are page views and renders (`pages::Pages`)
//! and streamed views (`ssr::Streams`), and dropped; every other event (faults, health,
//! failover, audits, the status page's records) is kept whole. The folds keep what the simulated
//! system itself remembers (a record per acknowledged write and per failed request, a timestamp
//! per committed frame, per session the writes it had acknowledged and saw, per key the newest
//! writer a session saw), and bounded figures (histograms,
//! counters, the first examples of each violation), so memory does not grow with the number of
//! reads nor with how long a healthy run lasts. A status page run keeps nearly all its events:
//! its page views, probes and deliveries are judged against each other at the end
//! (`status::check`).

use edgesim_system::telemetry::NodeEvent;

use crate::edge::check::Requests;
use crate::edge::metrics::ReplicationFold;
use crate::edge::pages::Pages;
use crate::edge::routes::Routes;
use crate::edge::ssr::Streams;
use crate::events::{Event, HarnessEvent, Record};

#[derive(Default)]
pub struct Observed {
    /// Every event but requests and per-frame replication records, in log order.
    pub kept: Vec<Event>,
    pub requests: Requests,
    pub replication: ReplicationFold,
    pub pages: Pages,
    pub ssr: Streams,
    pub routes: Routes,
}

impl Observed {
    pub fn event(&mut self, event: Event) {
        self.requests.event(&event);
        self.replication.event(&event);
        self.pages.event(&event);
        self.ssr.event(&event);
        self.routes.event(&event);
        let folded = matches!(
            event.record,
            Record::Harness(
                HarnessEvent::RequestStarted { .. }
                    | HarnessEvent::RequestEnded { .. }
                    | HarnessEvent::PageLoaded { .. }
                    | HarnessEvent::SsrRequested { .. }
                    | HarnessEvent::SsrShell { .. }
                    | HarnessEvent::SsrChunk { .. }
                    | HarnessEvent::SsrEnded { .. }
            ) | Record::Node(
                NodeEvent::Committed { .. }
                    | NodeEvent::Applied { .. }
                    | NodeEvent::BatchSent { .. }
                    | NodeEvent::ColdStart { .. }
                    | NodeEvent::PageRendered { .. }
                    | NodeEvent::RegenerationStarted { .. }
                    | NodeEvent::RegenerationEnded { .. }
            )
        );
        if !folded {
            self.kept.push(event);
        }
    }
}
