//! The status page's notification pipeline (docs/DESIGN.md, Notifications), as pure decisions: which offered
//! events become jobs, which job to send next, and when to retry a failed send. Notifications are
//! asynchronous and at-least-once: an event id is handled once (event-level dedup), an event whose
//! dedup key was accepted less than 5 minutes ago is folded into that one, a subscriber gets at most
//! 10 notifications an hour on each channel, critical incidents go first, and a failed send is
//! retried 8 times (30 s, 1 m, 2 m ... 60 m, each delay scaled by a jitter factor in [0.5, 1.5)).
//! An operator can suppress non-critical updates: they are not sent at all. A provider that answers
//! "slow down" has its job put back, the same try, for when the provider asked.
//! Every job carries an idempotency key, the same on each of its retries, so that receivers can drop
//! the duplicates at-least-once delivery makes.
//!
//! No I/O, clocks or randomness of its own: the caller passes its wall clock (`now_ms`) and jitter
//! draws from its seeded RNG. State lives in B-tree maps, so every order here is total. A pipeline
//! can be rebuilt from its [`Saved`] state (what `outbox` keeps on the notifier's disk).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// The pipeline's rules; `Default` gives the numbers of docs/DESIGN.md, Notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyConfig {
    /// Drops an event whose id was offered before. `false` is a negative control: a redelivered
    /// event is notified again under fresh idempotency keys, which the duplicate checker must catch.
    pub event_dedup: bool,
    /// An event whose dedup key another event was accepted under less than this long ago is folded.
    pub dedup_window_ms: u64,
    /// At most this many first sends per subscriber and channel in any `rate_window_ms`.
    pub rate_limit: u32,
    pub rate_window_ms: u64,
    /// The delay before each retry: a job is sent at most `1 + retry_delays_ms.len()` times.
    pub retry_delays_ms: Vec<u64>,
    /// Each retry delay is scaled by a factor in [1 - jitter, 1 + jitter); jitter lies in [0, 1].
    pub jitter: f64,
    /// The operators' suppression: a non-critical update is not notified.
    pub suppress_non_critical: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            event_dedup: true,
            dedup_window_ms: 300_000,
            rate_limit: 10,
            rate_window_ms: 3_600_000,
            retry_delays_ms: vec![30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000],
            jitter: 0.5,
            suppress_non_critical: false,
        }
    }
}

/// An incident update to notify subscribers of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NotifyEvent {
    /// Unique per incident update, e.g. "us-east/7"; a redelivery carries the same id.
    pub id: String,
    /// E.g. incident id and status: events sharing it within the dedup window are folded.
    pub dedup_key: String,
    pub critical: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subscriber {
    pub id: u32,
    /// E.g. "webhook", "email".
    pub channels: Vec<String>,
}

/// One notification to send to one subscriber on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Idempotency key: the same on every retry, so a receiver can drop what it already has.
    pub key: String,
    pub event_id: String,
    pub subscriber: u32,
    pub channel: String,
    pub critical: bool,
    /// 0 for the first try, n for the n-th retry.
    pub attempt: u32,
    pub due_ms: u64,
    /// When the event was offered (kept across retries, for delivery latency).
    pub enqueued_ms: u64,
}

/// What became of an offered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Offered {
    /// Accepted: a job for each subscriber and channel, except those over their rate limit.
    Queued { jobs: Vec<Job>, rate_limited: Vec<(u32, String)> },
    /// The event's id was offered before (only with `event_dedup`).
    DuplicateEvent,
    /// Another event was accepted under this dedup key less than `dedup_window_ms` ago.
    DedupWindow { key: String },
    /// A non-critical event under `suppress_non_critical`: nobody is notified.
    Suppressed,
}

/// What became of a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Retry {
    /// Re-queued as retry number `attempt`, due at `due_ms`.
    Scheduled { due_ms: u64, attempt: u32 },
    /// The last retry failed too: the job was sent `attempts` times and is dropped.
    GaveUp { attempts: u32 },
}

/// Counters since the pipeline started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stats {
    pub offered: u64,
    pub duplicate_events: u64,
    pub dedup_window: u64,
    pub suppressed: u64,
    /// Jobs created by accepted events (first tries).
    pub queued: u64,
    /// Subscriber-channel pairs skipped by the rate limit.
    pub rate_limited: u64,
    pub delivered: u64,
    pub retried: u64,
    pub gave_up: u64,
}

/// What a pipeline needs to carry on after a restart: the event ids seen, the dedup-key windows,
/// the first sends inside the rate window, the queued jobs (in the order to send them: due time,
/// then queue order) and how many events were offered.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Saved {
    pub seen: Vec<String>,
    /// Dedup key, when it was accepted, for which event id.
    pub windows: Vec<(String, u64, String)>,
    /// Subscriber, channel, time of a first send; oldest first per subscriber and channel.
    pub sent: Vec<(u32, String, u64)>,
    pub jobs: Vec<Job>,
    pub offered: u64,
}

/// The notification pipeline's state: what was seen, what was sent lately, and the queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    config: NotifyConfig,
    /// Subscriber id -> channels, so jobs are created in one order and a channel once.
    subscribers: BTreeMap<u32, BTreeSet<String>>,
    /// Event ids offered so far (with `event_dedup`).
    seen: BTreeSet<String>,
    /// Dedup key -> when it was last accepted, and for which event id.
    windows: BTreeMap<String, (u64, String)>,
    /// (subscriber, channel) -> times of first sends still inside the rate window, oldest first.
    sent: BTreeMap<(u32, String), VecDeque<u64>>,
    /// Queued jobs keyed by (due, enqueue sequence): lane 0 holds critical jobs, lane 1 the rest.
    lanes: [BTreeMap<(u64, u64), Job>; 2],
    next_seq: u64,
    stats: Stats,
}

impl Pipeline {
    pub fn new(config: NotifyConfig, subscribers: Vec<Subscriber>) -> Self {
        let mut by_id = BTreeMap::<u32, BTreeSet<String>>::new();
        for subscriber in subscribers {
            by_id.entry(subscriber.id).or_default().extend(subscriber.channels);
        }
        Self {
            config,
            subscribers: by_id,
            seen: BTreeSet::new(),
            windows: BTreeMap::new(),
            sent: BTreeMap::new(),
            lanes: Default::default(),
            next_seq: 0,
            stats: Stats::default(),
        }
    }

    /// The pipeline `saved` describes, as it was when that state was written; its other counters
    /// start again from 0.
    pub fn restore(config: NotifyConfig, subscribers: Vec<Subscriber>, saved: Saved) -> Self {
        let mut p = Pipeline::new(config, subscribers);
        p.seen = saved.seen.into_iter().collect();
        p.windows = saved.windows.into_iter().map(|(key, at, id)| (key, (at, id))).collect();
        for (subscriber, channel, at) in saved.sent {
            p.sent.entry((subscriber, channel)).or_default().push_back(at);
        }
        saved.jobs.into_iter().for_each(|job| p.enqueue(job));
        p.stats.offered = saved.offered;
        p
    }

    /// Applies event dedup, then the dedup-key window, then each subscriber-channel's rate limit,
    /// and queues a first try, due now, for each pair within its limit. The window folds other
    /// events only: a redelivery of the accepted event itself is event dedup's to catch, so with
    /// `event_dedup` off it is notified again.
    pub(crate) fn offer(&mut self, event: NotifyEvent, now_ms: u64) -> Offered {
        self.stats.offered += 1;
        if self.config.event_dedup && !self.seen.insert(event.id.clone()) {
            self.stats.duplicate_events += 1;
            return Offered::DuplicateEvent;
        }
        if self.config.suppress_non_critical && !event.critical {
            self.stats.suppressed += 1;
            return Offered::Suppressed;
        }
        if let Some((at, id)) = self.windows.get(&event.dedup_key)
            && now_ms.saturating_sub(*at) < self.config.dedup_window_ms
            && *id != event.id
        {
            self.stats.dedup_window += 1;
            return Offered::DedupWindow { key: event.dedup_key };
        }
        self.windows.insert(event.dedup_key, (now_ms, event.id.clone()));

        let (mut jobs, mut rate_limited) = (Vec::new(), Vec::new());
        for (&subscriber, channels) in &self.subscribers {
            for channel in channels {
                let times = self.sent.entry((subscriber, channel.clone())).or_default();
                while times.front().is_some_and(|&t| now_ms.saturating_sub(t) >= self.config.rate_window_ms) {
                    times.pop_front();
                }
                if times.len() >= self.config.rate_limit as usize {
                    rate_limited.push((subscriber, channel.clone()));
                    continue;
                }
                times.push_back(now_ms);
                // Debug-quoted strings keep the key unambiguous whatever the id and channel hold.
                let mut key = format!("{:?}/{subscriber}/{channel:?}", event.id);
                if !self.config.event_dedup {
                    key += &format!("/{}", self.stats.offered);
                }
                jobs.push(Job {
                    key,
                    event_id: event.id.clone(),
                    subscriber,
                    channel: channel.clone(),
                    critical: event.critical,
                    attempt: 0,
                    due_ms: now_ms,
                    enqueued_ms: now_ms,
                });
            }
        }
        self.stats.queued += jobs.len() as u64;
        self.stats.rate_limited += rate_limited.len() as u64;
        jobs.iter().for_each(|job| self.enqueue(job.clone()));
        Offered::Queued { jobs, rate_limited }
    }

    fn enqueue(&mut self, job: Job) {
        self.next_seq += 1;
        self.lanes[usize::from(!job.critical)].insert((job.due_ms, self.next_seq), job);
    }

    /// The earliest due time among queued jobs: when the caller should next call `take`.
    pub fn next_due(&self) -> Option<u64> {
        self.lanes.iter().filter_map(|lane| lane.keys().next()).map(|&(due, _)| due).min()
    }

    /// Removes the job to send now: among those due by `now_ms`, critical first, then earliest
    /// due, then first queued.
    pub fn take(&mut self, now_ms: u64) -> Option<Job> {
        let lane = self.lanes.iter_mut().find(|lane| lane.keys().next().is_some_and(|&(due, _)| due <= now_ms))?;
        lane.pop_first().map(|(_, job)| job)
    }

    /// Records a delivered job.
    pub(crate) fn succeeded(&mut self, _job: &Job) {
        self.stats.delivered += 1;
    }

    /// Re-queues a failed job after the next delay of the schedule, scaled by
    /// `1 - jitter + 2 * jitter * jitter_draw` (`jitter_draw` in [0, 1), from the caller's seeded
    /// RNG), or gives up if that was its last retry. The job keeps its idempotency key.
    pub fn failed(&mut self, mut job: Job, now_ms: u64, jitter_draw: f64) -> Retry {
        assert!((0.0..1.0).contains(&jitter_draw), "jitter draw {jitter_draw} outside [0, 1)");
        let Some(&base) = self.config.retry_delays_ms.get(job.attempt as usize) else {
            self.stats.gave_up += 1;
            return Retry::GaveUp { attempts: job.attempt + 1 };
        };
        job.attempt += 1;
        job.due_ms = now_ms + jittered(base, self.config.jitter, jitter_draw);
        let retry = Retry::Scheduled { due_ms: job.due_ms, attempt: job.attempt };
        self.stats.retried += 1;
        self.enqueue(job);
        retry
    }

    /// Puts back a job its provider answered "slow down" to: the same try, due at `until_ms`.
    pub(crate) fn throttled(&mut self, mut job: Job, until_ms: u64) -> Retry {
        job.due_ms = until_ms;
        let retry = Retry::Scheduled { due_ms: until_ms, attempt: job.attempt };
        self.enqueue(job);
        retry
    }

    #[cfg(test)]
    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    #[cfg(test)]
    /// Jobs queued, due or not.
    pub fn len(&self) -> usize {
        self.lanes.iter().map(BTreeMap::len).sum()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `base` scaled by a factor in [1 - jitter, 1 + jitter) picked by `draw`, in whole milliseconds
/// kept inside that range (when it holds one).
fn jittered(base: u64, jitter: f64, draw: f64) -> u64 {
    let (lo, hi) = (base as f64 * (1.0 - jitter), base as f64 * (1.0 + jitter));
    (lo + (hi - lo) * draw).floor().min(hi.ceil() - 1.0).max(lo.ceil()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(id: &str, key: &str, critical: bool) -> NotifyEvent {
        NotifyEvent { id: id.into(), dedup_key: key.into(), critical }
    }

    fn subscriber(id: u32, channels: &[&str]) -> Subscriber {
        Subscriber { id, channels: channels.iter().map(|c| c.to_string()).collect() }
    }

    fn queued(offered: Offered) -> Vec<Job> {
        match offered {
            Offered::Queued { jobs, .. } => jobs,
            other => panic!("expected jobs, got {other:?}"),
        }
    }

    fn keys(offered: Offered) -> Vec<String> {
        queued(offered).into_iter().map(|job| job.key).collect()
    }

    #[test]
    fn suppression_drops_non_critical_updates_only_and_remembers_them() {
        // Under the operators' suppression a non-critical update queues nothing (and a copy of it
        // is a duplicate, not a second chance); a critical one is notified as ever.
        let config = NotifyConfig { suppress_non_critical: true, ..NotifyConfig::default() };
        let mut p = Pipeline::new(config, vec![subscriber(1, &["email"])]);
        assert_eq!(p.offer(ev("a", "a", false), 0), Offered::Suppressed);
        assert_eq!(p.offer(ev("a", "a", false), 10), Offered::DuplicateEvent);
        assert_eq!(queued(p.offer(ev("b", "b", true), 20)).len(), 1);
        assert_eq!((p.stats().suppressed, p.len()), (1, 1));
    }

    #[test]
    fn a_throttled_job_comes_back_as_the_same_try_when_the_provider_asked() {
        // "Slow down" is not a failure: the job keeps its attempt and key and is due again only
        // at the time given.
        let mut p = Pipeline::new(NotifyConfig::default(), vec![subscriber(1, &["sms"])]);
        let key = keys(p.offer(ev("a", "a", false), 0)).remove(0);
        let job = p.take(0).unwrap();
        assert_eq!(p.throttled(job, 1_000), Retry::Scheduled { due_ms: 1_000, attempt: 0 });
        assert_eq!((p.take(999), p.next_due()), (None, Some(1_000)));
        let again = p.take(1_000).unwrap();
        assert_eq!((again.key, again.attempt, p.stats().retried), (key, 0, 0));
    }

    #[test]
    fn event_dedup_drops_a_redelivered_event() {
        let mut p = Pipeline::new(NotifyConfig::default(), vec![subscriber(1, &["webhook", "email"])]);
        assert_eq!(keys(p.offer(ev("us-east/7", "7:open", false), 0)).len(), 2);
        assert_eq!(p.offer(ev("us-east/7", "7:open", false), 600_000), Offered::DuplicateEvent);
        assert_eq!((p.stats().duplicate_events, p.len()), (1, 2));
    }

    #[test]
    fn without_event_dedup_a_redelivery_gets_fresh_keys() {
        let config = NotifyConfig { event_dedup: false, ..NotifyConfig::default() };
        let mut p = Pipeline::new(config, vec![subscriber(1, &["webhook", "email"])]);
        let first = keys(p.offer(ev("us-east/7", "7:open", false), 0));
        let again = keys(p.offer(ev("us-east/7", "7:open", false), 1_000));
        assert_eq!((first.len(), again.len()), (2, 2));
        assert!(again.iter().all(|key| !first.contains(key)), "{first:?} {again:?}");
    }

    #[test]
    fn a_dedup_key_folds_other_events_until_exactly_five_minutes() {
        let mut p = Pipeline::new(NotifyConfig::default(), vec![subscriber(1, &["email"])]);
        assert_eq!(queued(p.offer(ev("a", "k", false), 0)).len(), 1);
        assert_eq!(p.offer(ev("b", "k", false), 299_999), Offered::DedupWindow { key: "k".into() });
        assert_eq!(queued(p.offer(ev("c", "other", false), 299_999)).len(), 1);
        assert_eq!(queued(p.offer(ev("d", "k", false), 300_000)).len(), 1);
        // The window restarted when "d" was accepted.
        assert_eq!(p.offer(ev("e", "k", false), 599_999), Offered::DedupWindow { key: "k".into() });
        assert_eq!(p.stats().dedup_window, 2);
    }

    #[test]
    fn the_rate_limit_slides_over_the_last_hour() {
        let mut p = Pipeline::new(NotifyConfig::default(), vec![subscriber(1, &["email"])]);
        let mut offer = |i: u64, at: u64| p.offer(ev(&i.to_string(), &i.to_string(), false), at);
        for i in 0..10 {
            assert_eq!(queued(offer(i, i * 60_000)).len(), 1);
        }
        let limited = Offered::Queued { jobs: vec![], rate_limited: vec![(1, "email".into())] };
        assert_eq!(offer(10, 3_599_999), limited);
        // The send at 0 leaves the window at one hour; the one at 1 minute a minute later.
        assert_eq!(queued(offer(11, 3_600_000)).len(), 1);
        assert_eq!(offer(12, 3_659_999), limited);
        assert_eq!(queued(offer(13, 3_660_000)).len(), 1);
        assert_eq!(p.stats().rate_limited, 2);
    }

    #[test]
    fn critical_jobs_go_first_then_earliest_due_then_fifo() {
        let mut p = Pipeline::new(NotifyConfig::default(), vec![subscriber(1, &["email"]), subscriber(2, &["email"])]);
        p.offer(ev("n1", "n1", false), 0);
        p.offer(ev("c1", "c1", true), 5);
        let take = |p: &mut Pipeline, now| p.take(now).map(|job| (job.event_id, job.subscriber));
        assert_eq!(take(&mut p, 4), Some(("n1".into(), 1)));
        assert_eq!(take(&mut p, 5), Some(("c1".into(), 1)));
        assert_eq!(take(&mut p, 5), Some(("c1".into(), 2)));
        assert_eq!(take(&mut p, 5), Some(("n1".into(), 2)));
        assert_eq!((take(&mut p, 5), p.next_due()), (None, None));

        p.offer(ev("n2", "n2", false), 10);
        let job = p.take(10).unwrap();
        assert_eq!(p.failed(job, 10, 0.0), Retry::Scheduled { due_ms: 15_010, attempt: 1 });
        p.offer(ev("n3", "n3", false), 12_000);
        assert_eq!(p.next_due(), Some(10));
        let order: Vec<_> = std::iter::from_fn(|| take(&mut p, 30_000)).collect();
        let expected = [("n2", 2), ("n3", 1), ("n3", 2), ("n2", 1)].map(|(e, s)| (e.to_string(), s));
        assert_eq!(order, expected);
    }

    #[test]
    fn retries_follow_the_schedule_within_jitter_then_give_up_with_stable_keys() {
        let config = NotifyConfig::default();
        for draw in [0.0, 0.999] {
            let mut p = Pipeline::new(config.clone(), vec![subscriber(1, &["webhook"])]);
            let key = keys(p.offer(ev("e", "k", true), 0)).remove(0);
            let mut now = 0;
            for (attempt, &base) in (1..).zip(&config.retry_delays_ms) {
                let job = p.take(now).unwrap();
                assert_eq!((&job.key, job.attempt), (&key, attempt - 1));
                let Retry::Scheduled { due_ms, attempt: next } = p.failed(job, now, draw) else { panic!() };
                let delay = due_ms - now;
                let expected = if draw == 0.0 { base / 2 } else { base * 1_499 / 1_000 };
                assert!(delay.abs_diff(expected) <= 1 && delay < base * 3 / 2, "{delay} for {base} at {draw}");
                assert_eq!((next, p.take(due_ms - 1)), (attempt, None));
                now = due_ms;
            }
            let last = p.take(now).unwrap();
            assert_eq!(last.key, key);
            assert_eq!(p.failed(last, now, draw), Retry::GaveUp { attempts: 9 });
            assert!(p.is_empty());
            assert_eq!((p.stats().retried, p.stats().gave_up), (8, 1));
        }
    }

    #[derive(Clone, Debug)]
    enum PipelineOp {
        /// Offers an event: id, dedup key, critical.
        Offer(u8, u8, bool),
        Advance(u64),
        /// Takes the job to send now; it fails with this jitter draw, or succeeds.
        Take(Option<f64>),
    }

    fn op() -> impl Strategy<Value = PipelineOp> {
        prop_oneof![
            (0..12u8, 0..3u8, any::<bool>()).prop_map(|(id, key, critical)| PipelineOp::Offer(id, key, critical)),
            (0..20_000u64).prop_map(PipelineOp::Advance),
            prop::option::of(0.0..1.0f64).prop_map(PipelineOp::Take),
        ]
    }

    proptest! {
        #[test]
        fn taking_respects_due_times_priority_and_the_rate_limit(
            event_dedup in any::<bool>(),
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let config = NotifyConfig {
                event_dedup,
                dedup_window_ms: 5_000,
                rate_limit: 3,
                rate_window_ms: 60_000,
                retry_delays_ms: vec![1_000, 2_000, 4_000],
                jitter: 0.5,
                suppress_non_critical: false,
            };
            let mut p = Pipeline::new(config.clone(), vec![subscriber(1, &["email", "webhook"]), subscriber(2, &["email"])]);
            let (mut now, mut firsts) = (0, BTreeMap::<(u32, String), Vec<u64>>::new());
            for op in ops {
                match op {
                    PipelineOp::Offer(id, key, critical) => {
                        if let Offered::Queued { jobs, .. } = p.offer(ev(&id.to_string(), &key.to_string(), critical), now) {
                            jobs.into_iter().for_each(|job| firsts.entry((job.subscriber, job.channel)).or_default().push(now));
                        }
                    }
                    PipelineOp::Advance(ms) => now += ms,
                    PipelineOp::Take(fail) => {
                        let critical_due = p.lanes[0].keys().next().is_some_and(|&(due, _)| due <= now);
                        let Some(job) = p.take(now) else {
                            prop_assert!(p.next_due().is_none_or(|due| due > now));
                            continue;
                        };
                        prop_assert!(job.due_ms <= now);
                        prop_assert!(job.critical || !critical_due);
                        match fail {
                            Some(draw) => { p.failed(job, now, draw); }
                            None => p.succeeded(&job),
                        }
                    }
                }
                let s = p.stats();
                prop_assert_eq!(p.len() as u64, s.queued - s.delivered - s.gave_up);
            }
            for times in firsts.values() {
                for (i, &t) in times.iter().enumerate() {
                    let in_window = times[i..].iter().take_while(|&&u| u < t + config.rate_window_ms).count();
                    prop_assert!(in_window <= config.rate_limit as usize, "{:?}", times);
                }
            }
        }

        #[test]
        fn a_jobs_total_retry_delay_lies_within_the_jitter_bounds(draws in prop::collection::vec(0.0..1.0f64, 8)) {
            let config = NotifyConfig::default();
            let mut p = Pipeline::new(config.clone(), vec![subscriber(1, &["webhook"])]);
            let key = keys(p.offer(ev("e", "k", false), 0)).remove(0);
            let mut now = 0;
            for draw in draws {
                let job = p.take(now).unwrap();
                prop_assert_eq!(&job.key, &key);
                match p.failed(job, now, draw) {
                    Retry::Scheduled { due_ms, .. } => now = due_ms,
                    gave_up => prop_assert!(false, "{:?}", gave_up),
                }
            }
            let total = config.retry_delays_ms.iter().sum::<u64>() as f64;
            prop_assert!(0.5 * total <= now as f64 && (now as f64) < 1.5 * total, "{} of {}", now, total);
            let last = p.take(now).unwrap();
            prop_assert_eq!(p.failed(last, now, 0.5), Retry::GaveUp { attempts: 9 });
        }
    }
}
