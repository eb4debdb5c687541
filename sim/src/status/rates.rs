//! The providers' rate limits as the endpoints received, judged from the event log alone: per
//! channel, the deliveries its endpoints accepted (notifications and notices of unreachable
//! endpoints, each at the time the endpoint logged accepting it), the most of them within any one
//! second beside the provider's configured `per_second` limit. More than the limit within a second
//! anywhere fires the `provider-rate-limit` checker, whatever the provider or the notifier said
//! about throttling. [`judge`] is the pure judgement; [`accepted`] reads it from the log.

use serde::Serialize;

use crate::events::{Event, HarnessEvent, Record};

/// The window a provider's limit counts over.
const WINDOW_US: u64 = 1_000_000;

/// One channel's provider: its limit and the busiest second its endpoints had.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProviderRate {
    pub channel: String,
    /// The provider's configured limit a second; `None`: it has none.
    pub per_second: Option<u32>,
    /// Deliveries the channel's endpoints accepted.
    pub accepted: usize,
    /// The most accepted within one second (any window (t - 1 s, t]); 0 without an acceptance.
    pub worst_per_second: usize,
    /// When the first such busiest second ended, in seconds from the start; `None` without an
    /// acceptance.
    pub worst_at_s: Option<f64>,
}

impl ProviderRate {
    /// Whether the endpoints received more than the provider's limit within some second.
    pub fn over(&self) -> bool {
        self.per_second.is_some_and(|limit| self.worst_per_second > limit as usize)
    }
}

/// Per channel of `limits` (in that order, each with its provider's limit a second), what the
/// endpoints accepted: `accepted` holds each acceptance's time in microseconds and channel, in
/// any order.
pub fn judge(accepted: &[(u64, &str)], limits: &[(&str, Option<u32>)]) -> Vec<ProviderRate> {
    limits
        .iter()
        .map(|&(channel, per_second)| {
            let mut times: Vec<u64> = accepted.iter().filter(|(_, c)| *c == channel).map(|(t, _)| *t).collect();
            times.sort_unstable();
            let (worst_per_second, at) = busiest(&times, WINDOW_US);
            ProviderRate {
                channel: channel.to_string(),
                per_second,
                accepted: times.len(),
                worst_per_second,
                worst_at_s: at.map(|t| t as f64 / 1e6),
            }
        })
        .collect()
}

/// Why the limits could not be judged: some provider has a limit, but no delivery reached the
/// endpoints of any limited channel, so nothing was put to the test. `None` when one was, or when
/// no provider has a limit (there is nothing to hold).
pub fn unjudged(rates: &[ProviderRate]) -> Option<String> {
    let limited: Vec<&str> = rates.iter().filter(|r| r.per_second.is_some()).map(|r| r.channel.as_str()).collect();
    let tested = rates.iter().any(|r| r.per_second.is_some() && r.accepted > 0);
    (!limited.is_empty() && !tested)
        .then(|| format!("no delivery reached the endpoints of a limited channel ({})", limited.join(", ")))
}

/// The most of `times` (sorted) within one window of `window_us` (u in (t - window, t]), and the
/// first `t` that ends such a window; (0, `None`) without times. A window holding the most ends
/// at one of the times, so only those are tried.
pub fn busiest(times: &[u64], window_us: u64) -> (usize, Option<u64>) {
    let (mut most, mut at, mut oldest) = (0, None, 0);
    for (i, &t) in times.iter().enumerate() {
        while t - times[oldest] >= window_us {
            oldest += 1;
        }
        if i + 1 - oldest > most {
            (most, at) = (i + 1 - oldest, Some(t));
        }
    }
    (most, at)
}

/// Each acceptance the endpoints logged, with the channel it arrived on: a notification's own, a
/// notice's the channel it was sent by.
pub fn accepted(events: &[Event]) -> Vec<(u64, &str)> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::Delivered { channel, .. }) => Some((e.t_us, channel.as_str())),
            Record::Harness(HarnessEvent::ToldUnreachable { by, .. }) => Some((e.t_us, by.as_str())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    const MS: u64 = 1_000;

    #[test]
    fn the_busiest_second_is_found_wherever_it_lies_and_its_edge_is_exclusive() {
        // Goal: the window slides over every acceptance: four within 999 ms are four, but one
        // exactly a second after another no longer shares its window (as the provider counts).
        assert_eq!(busiest(&[], WINDOW_US), (0, None));
        assert_eq!(busiest(&[5 * MS], WINDOW_US), (1, Some(5 * MS)));
        let times = [0, 400 * MS, 1_000 * MS, 1_100 * MS, 1_300 * MS, 1_999 * MS, 5_000 * MS];
        assert_eq!(busiest(&times, WINDOW_US), (4, Some(1_300 * MS)));
        assert_eq!(busiest(&[0, 1_000 * MS, 2_000 * MS], WINDOW_US), (1, Some(0)));
        assert_eq!(busiest(&[0, 999 * MS, 1_998 * MS], WINDOW_US), (2, Some(999 * MS)));
    }

    #[test]
    fn a_channel_over_its_limit_in_one_second_is_over_and_one_without_a_limit_never_is() {
        // Goal: each channel is judged on its own acceptances against its own limit; three in a
        // second breaks a limit of 2 but not one of 3; a channel without a limit is never over,
        // and a channel with no acceptance shows 0 with no time.
        let accepted = [
            (10 * MS, "sms"),
            (500 * MS, "sms"),
            (900 * MS, "sms"),
            (950 * MS, "email"),
            (960 * MS, "email"),
            (970 * MS, "email"),
            (980 * MS, "email"),
        ];
        let limits = [("sms", Some(2)), ("email", None), ("slack", Some(1))];
        let judged = judge(&accepted, &limits);
        let sms = &judged[0];
        assert_eq!((sms.accepted, sms.worst_per_second, sms.worst_at_s, sms.over()), (3, 3, Some(0.9), true));
        assert_eq!((judged[1].worst_per_second, judged[1].over()), (4, false));
        assert_eq!((judged[2].accepted, judged[2].worst_per_second, judged[2].worst_at_s), (0, 0, None));
        assert!(!judged[2].over());
        let within = judge(&accepted, &[("sms", Some(3))]);
        assert!(!within[0].over(), "{within:?}");
    }

    #[test]
    fn limits_no_delivery_put_to_the_test_are_not_judged() {
        // Goal: missing evidence never reads as held: with deliveries only on channels without a
        // limit the limits are not judged; one delivery on a limited channel judges them, and
        // with no limit anywhere there is nothing to judge.
        let accepted = [(10 * MS, "email")];
        let why = unjudged(&judge(&accepted, &[("email", None), ("sms", Some(5))])).expect("not judged");
        assert!(why.contains("(sms)"), "{why}");
        assert_eq!(unjudged(&judge(&accepted, &[("email", Some(5)), ("sms", Some(5))])), None);
        assert_eq!(unjudged(&judge(&accepted, &[("email", None)])), None);
    }

    #[test]
    fn notifications_count_on_their_channel_and_notices_on_the_channel_they_were_sent_by() {
        // Goal: a notice that the webhook was unreachable, sent by email, loads the email
        // provider; nothing else in the log counts.
        let at = |t_us, record| Event { t_us, node: Rc::from("mail"), record: Record::Harness(record) };
        let events = [
            at(1, HarnessEvent::Delivered { key: "k".into(), event: "e".into(), subscriber: 1, channel: "sms".into() }),
            at(2, HarnessEvent::ToldUnreachable { subscriber: 1, channel: "webhook".into(), by: "email".into() }),
            at(3, HarnessEvent::SlowedDown { key: "k".into(), subscriber: 1, channel: "sms".into() }),
        ];
        assert_eq!(accepted(&events), [(1, "sms"), (2, "email")]);
    }
}
