//! The notification pipeline's node (docs/DESIGN.md, Notifications): takes timeline updates from every
//! region (so several copies of each arrive), decides with [`Pipeline`] what to send to whom, and
//! runs asynchronous workers that deliver to subscribers' endpoints, critical updates first,
//! retrying failures on the design's schedule with seeded jitter. Deliveries carry idempotency keys.
//! A provider that answers "slow down" gets nothing more on its channel until the time it gave
//! (the job put back as the same try); a job whose last retry failed ends with a notice to its
//! subscriber, on another channel, that the endpoint is unreachable.
//! With an [`Outbox`] (its disk) every decision is committed there before it is acted on, and a
//! restart carries on from it (the notices of unreachable endpoints not yet accepted among it);
//! without one the queue, the hour's sends and the notices live in memory and a crash loses them
//! (the negative control).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

use rand::Rng;
use tokio::sync::Notify;
use tokio::task::spawn_local;
use tokio::time::{Duration, Instant, sleep_until};

use super::node::Node;
use super::notify::{Job, NotifyEvent, Offered, Pipeline, Retry, Subscriber};
use super::outbox::{Outbox, Unreachable};
use super::proto::{Delivery, DeliveryReply, NOTIFY_PORT, Notice, RECEIVER_PORT, event_id};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, NoticeOutcome, Telemetry};
use crate::wire;

/// The notifier's disk, if it has one: it outlives the node's crashes.
pub(crate) type NotifierDisk = Option<Rc<RefCell<Outbox>>>;

/// Runs the pipeline for `subscribers` (each on every configured channel) until the host stops,
/// from the state on `disk` if there is one.
pub async fn run<N: Net, T: Telemetry>(node: Node<N, T>, subscribers: u32, disk: NotifierDisk) -> io::Result<()> {
    let channels: Vec<String> = node.config.channels.iter().map(|(c, _)| c.clone()).collect();
    let subscribers: Vec<Subscriber> =
        (1..=subscribers).map(|id| Subscriber { id, channels: channels.clone() }).collect();
    let config = node.config.notify.clone();
    let (pipeline, notices) = match &disk {
        Some(outbox) => {
            let (saved, notices) = {
                let outbox = outbox.borrow();
                (outbox.saved().map_err(io::Error::other)?, outbox.notices().map_err(io::Error::other)?)
            };
            let jobs = saved.jobs.len() as u64;
            let pipeline = Pipeline::restore(config, subscribers, saved);
            node.emit(NodeEvent::QueueRestored { jobs });
            (pipeline, notices)
        }
        None => (Pipeline::new(config, subscribers), Vec::new()),
    };
    let notifier = Rc::new(Notifier {
        node: node.clone(),
        pipeline: RefCell::new(pipeline),
        disk,
        work: Notify::new(),
        paused: RefCell::new(BTreeMap::new()),
    });
    node.emit(NodeEvent::Started { role: NodeRole::Notifier, lsn: 0 });
    for notice in notices {
        spawn_local(tell_unreachable(notifier.clone(), notice));
    }
    for _ in 0..node.config.notify_workers.max(1) {
        spawn_local(worker(notifier.clone()));
    }
    node.serve(NOTIFY_PORT, move |notice: Notice, mut stream, _| {
        let notifier = notifier.clone();
        async move {
            if notifier.take(notice).is_ok() {
                let _ = wire::send(&mut stream, &true).await;
            }
        }
    })
    .await
}

/// The node's shared state: its pipeline, its disk, the workers' wake-up, and until when each
/// throttled channel's provider asked to be left alone.
struct Notifier<N, T> {
    node: Node<N, T>,
    pipeline: RefCell<Pipeline>,
    disk: NotifierDisk,
    work: Notify,
    paused: RefCell<BTreeMap<String, u64>>,
}

impl<N: Net, T: Telemetry> Notifier<N, T> {
    /// The notifier's wall clock: the time base of the pipeline, which a restart keeps.
    fn now_ms(&self) -> u64 {
        (self.node.clock)()
    }

    /// Offers a region's notice to the pipeline and commits the outcome; the region is told the
    /// notice was taken only once it is (an error leaves it to send the notice again).
    fn take(&self, notice: Notice) -> rusqlite::Result<()> {
        let update = notice.update;
        let event = NotifyEvent { id: event_id(&update.at), dedup_key: update.text.clone(), critical: update.critical };
        let now = self.now_ms();
        let offered = self.pipeline.borrow_mut().offer(event.clone(), now);
        if let Some(outbox) = &self.disk {
            let c = &self.node.config.notify;
            outbox.borrow_mut().offered(&event, now, &offered, c.event_dedup, c.rate_window_ms)?;
        }
        report(&self.node, &event.id, &offered);
        self.work.notify_waiters();
        Ok(())
    }
}

impl<N: Net, T: Telemetry> Notifier<N, T> {
    /// Puts `job` back for when its channel's provider asked to be sent to again, on disk too.
    fn put_back(&self, job: Job, until: u64) {
        let retry = self.pipeline.borrow_mut().throttled(job.clone(), until);
        if let Some(outbox) = &self.disk {
            let _ = outbox.borrow_mut().failed(&job, retry);
        }
    }
}

/// How many times, and how far apart, the notice of an unreachable endpoint is sent.
const NOTICE_TRIES: u32 = 3;
const NOTICE_GAP: Duration = Duration::from_secs(10);

/// Tells the subscriber that its endpoint was unreachable through the last retry, on its
/// account's contact channel (email, or the first other channel when email is the one lost); the
/// notice leaves the disk once accepted or once its tries are spent (a restart tries it afresh).
async fn tell_unreachable<N: Net, T: Telemetry>(n: Rc<Notifier<N, T>>, notice: Unreachable) {
    let node = &n.node;
    let Unreachable { key, subscriber, channel } = notice;
    let channels = &node.config.channels;
    let by = channels
        .iter()
        .find(|(c, _)| c == "email" && *c != channel)
        .or_else(|| channels.iter().find(|(c, _)| *c != channel));
    if let Some((by, host)) = by.cloned() {
        let delivery = Delivery {
            idempotency_key: format!("{subscriber}/{channel:?}/unreachable"),
            event: "unreachable".into(),
            subscriber,
            channel: by,
            unreachable: Some(channel),
        };
        for _ in 0..NOTICE_TRIES {
            let reply = node.exchange(&host, RECEIVER_PORT, &delivery, node.config.peer_timeout * 10).await;
            if matches!(reply, Ok(DeliveryReply::Accepted)) {
                break;
            }
            tokio::time::sleep(NOTICE_GAP).await;
        }
    }
    if let Some(outbox) = &n.disk {
        let _ = outbox.borrow_mut().told(&key);
    }
}

fn report<N: Net, T: Telemetry>(node: &Node<N, T>, event: &str, offered: &Offered) {
    let outcome = match offered {
        Offered::Queued { rate_limited, .. } => {
            for (subscriber, channel) in rate_limited {
                node.emit(NodeEvent::RateLimited {
                    event: event.to_string(),
                    subscriber: *subscriber,
                    channel: channel.clone(),
                });
            }
            NoticeOutcome::Queued
        }
        Offered::DuplicateEvent => NoticeOutcome::Duplicate,
        Offered::DedupWindow { .. } => NoticeOutcome::DedupWindow,
        Offered::Suppressed => NoticeOutcome::Suppressed,
    };
    node.emit(NodeEvent::NoticeTaken { event: event.to_string(), outcome });
}

/// Takes the most urgent due job, delivers it, and reschedules it on failure.
async fn worker<N: Net, T: Telemetry>(n: Rc<Notifier<N, T>>) {
    let node = &n.node;
    loop {
        let now = n.now_ms();
        let job = n.pipeline.borrow_mut().take(now);
        let Some(job) = job else {
            let wait = n
                .pipeline
                .borrow()
                .next_due()
                .map_or(Duration::from_secs(3600), |due| Duration::from_millis(due.saturating_sub(now)));
            tokio::select! {
                biased;
                _ = n.work.notified() => {}
                _ = sleep_until(Instant::now() + wait) => {}
            }
            continue;
        };
        if let Some(&until) = n.paused.borrow().get(&job.channel).filter(|&&until| until > now) {
            n.put_back(job, until);
            continue;
        }
        let host = node.config.channels.iter().find(|(c, _)| *c == job.channel).map(|(_, h)| h.clone());
        let delivery = Delivery {
            idempotency_key: job.key.clone(),
            event: job.event_id.clone(),
            subscriber: job.subscriber,
            channel: job.channel.clone(),
            unreachable: None,
        };
        let reply = match host {
            Some(host) => node.exchange(&host, RECEIVER_PORT, &delivery, node.config.peer_timeout * 10).await,
            None => Err(format!("no endpoint for channel {}", job.channel)),
        };
        let failure = match reply {
            Ok(DeliveryReply::Accepted) => None,
            Ok(DeliveryReply::SlowDown { retry_after_ms }) => {
                let until = n.now_ms() + retry_after_ms;
                n.paused.borrow_mut().insert(job.channel.clone(), until);
                node.emit(NodeEvent::Throttled { channel: job.channel.clone(), retry_in_ms: retry_after_ms });
                n.put_back(job, until);
                continue;
            }
            Ok(DeliveryReply::Failed(reason)) => Some(reason),
            Err(reason) => Some(reason),
        };
        let Some(reason) = failure else {
            n.pipeline.borrow_mut().succeeded(&job);
            // A delivery the disk does not record is sent again after a restart, under its key.
            if let Some(outbox) = &n.disk {
                let _ = outbox.borrow_mut().delivered(&job);
            }
            continue;
        };
        let draw = node.rng.borrow_mut().random::<f64>();
        let now = n.now_ms();
        let retry = n.pipeline.borrow_mut().failed(job.clone(), now, draw);
        if let Some(outbox) = &n.disk {
            let _ = outbox.borrow_mut().failed(&job, retry);
        }
        let retry_in_ms = match retry {
            Retry::Scheduled { due_ms, .. } => Some(due_ms.saturating_sub(now)),
            Retry::GaveUp { .. } => {
                spawn_local(tell_unreachable(n.clone(), Unreachable::of(&job)));
                None
            }
        };
        let Job { key, event_id: event, subscriber, channel, attempt, .. } = job;
        node.emit(NodeEvent::DeliveryFailed { key, event, subscriber, channel, attempt, reason, retry_in_ms });
        n.work.notify_waiters();
    }
}
