//! The notification pipeline's node (docs/DESIGN.md, Notifications): takes timeline updates from every
//! region (so several copies of each arrive), decides with [`Pipeline`] what to send to whom, and
//! runs asynchronous workers that deliver to subscribers' endpoints, critical updates first,
//! retrying failures on the design's schedule with seeded jitter. Deliveries carry idempotency keys.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use rand::Rng;
use tokio::sync::Notify;
use tokio::task::spawn_local;
use tokio::time::{Duration, Instant, sleep_until};

use super::node::Node;
use super::notify::{Event, Offered, Pipeline, Retry, Subscriber};
use super::proto::{Delivery, DeliveryReply, NOTIFY_PORT, Notice, RECEIVER_PORT, event_id};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, NoticeOutcome, Telemetry};
use crate::wire;

/// Runs the pipeline for `subscribers` (each on every configured channel) until the host stops.
pub async fn run<N: Net, T: Telemetry>(node: Node<N, T>, subscribers: u32) -> io::Result<()> {
    let channels: Vec<String> = node.config.channels.iter().map(|(c, _)| c.clone()).collect();
    let subscribers = (1..=subscribers).map(|id| Subscriber { id, channels: channels.clone() }).collect();
    let pipeline = Rc::new(RefCell::new(Pipeline::new(node.config.notify.clone(), subscribers)));
    let work = Rc::new(Notify::new());
    let started = Instant::now();
    node.emit(NodeEvent::Started { role: NodeRole::Notifier, lsn: 0 });
    for _ in 0..node.config.notify_workers.max(1) {
        spawn_local(worker(node.clone(), pipeline.clone(), work.clone(), started));
    }
    let serving = node.clone();
    serving
        .serve(NOTIFY_PORT, move |notice: Notice, mut stream, _| {
            let (node, pipeline, work) = (node.clone(), pipeline.clone(), work.clone());
            async move {
                let update = notice.update;
                let event =
                    Event { id: event_id(&update.at), dedup_key: update.text.clone(), critical: update.critical };
                let offered = pipeline.borrow_mut().offer(event.clone(), ms_since(started));
                report(&node, &event.id, &offered);
                work.notify_waiters();
                let _ = wire::send(&mut stream, &true).await;
            }
        })
        .await
}

fn ms_since(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
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
    };
    node.emit(NodeEvent::NoticeTaken { event: event.to_string(), outcome });
}

/// Takes the most urgent due job, delivers it, and reschedules it on failure.
async fn worker<N: Net, T: Telemetry>(
    node: Node<N, T>,
    pipeline: Rc<RefCell<Pipeline>>,
    work: Rc<Notify>,
    started: Instant,
) {
    loop {
        let job = pipeline.borrow_mut().take(ms_since(started));
        let Some(job) = job else {
            let next = pipeline.borrow().next_due();
            let wake =
                next.map_or(Instant::now() + Duration::from_secs(3600), |ms| started + Duration::from_millis(ms));
            tokio::select! {
                biased;
                _ = work.notified() => {}
                _ = sleep_until(wake) => {}
            }
            continue;
        };
        let host = node.config.channels.iter().find(|(c, _)| *c == job.channel).map(|(_, h)| h.clone());
        let delivery = Delivery {
            idempotency_key: job.key.clone(),
            event: job.event_id.clone(),
            subscriber: job.subscriber,
            channel: job.channel.clone(),
        };
        let reply = match host {
            Some(host) => node.exchange(&host, RECEIVER_PORT, &delivery, node.config.peer_timeout * 10).await,
            None => Err(format!("no endpoint for channel {}", job.channel)),
        };
        let failure = match reply {
            Ok(DeliveryReply::Accepted) => None,
            Ok(DeliveryReply::Failed(reason)) => Some(reason),
            Err(reason) => Some(reason),
        };
        match failure {
            None => pipeline.borrow_mut().succeeded(&job),
            Some(reason) => {
                let draw = node.rng.borrow_mut().random::<f64>();
                let (key, event, subscriber, channel, attempt) =
                    (job.key.clone(), job.event_id.clone(), job.subscriber, job.channel.clone(), job.attempt);
                let retry = pipeline.borrow_mut().failed(job, ms_since(started), draw);
                let retry_in_ms = match retry {
                    Retry::Scheduled { due_ms, .. } => Some(due_ms.saturating_sub(ms_since(started))),
                    Retry::GaveUp { .. } => None,
                };
                node.emit(NodeEvent::DeliveryFailed { key, event, subscriber, channel, attempt, reason, retry_in_ms });
                work.notify_waiters();
            }
        }
    }
}
