//! Health-checked DNS for the CDNs (docs/DESIGN.md, DNS failover): the authoritative server checks every
//! CDN's page every 10 s (a server error or the static fallback page fails it; `DnsCheck::Liveness`
//! asks only whether the edge answers); 2 consecutive failures mark it unhealthy, one success healthy again. Answers
//! list the healthy CDNs, preferred first (a preference that rotates with the resolver's region),
//! with a TTL resolvers honour. With none healthy it answers every CDN rather than nothing.
//!
//! The same server is GeoDNS for the origin API: it checks every region's origin every
//! `geo_check_interval` (a document read within `geo_check_timeout`), and answers an operator's
//! query with the healthy regions, its own region first, under `geo_ttl`. An operator whose region
//! is lost moves to another once the checks have failed `dns_unhealthy_after` times and its cached
//! answer has expired: at most that many check intervals, a check timeout and the TTL.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use tokio::task::spawn_local;
use tokio::time::{MissedTickBehavior, interval};

use super::config::DnsCheck;
use super::node::Node;
use super::proto::{
    DNS_PORT, DnsAnswer, DnsName, DnsQuery, EDGE_PORT, EdgeReply, EdgeRequest, ORIGIN_PORT, OriginReply, OriginRequest,
    Tier,
};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

/// The health of each CDN (or region) as the checks saw it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Board {
    cdns: Vec<(String, u32, bool)>,
    unhealthy_after: u32,
}

impl Board {
    /// Every CDN starts healthy.
    pub fn new(cdns: &[String], unhealthy_after: u32) -> Board {
        Board { cdns: cdns.iter().map(|c| (c.clone(), 0, true)).collect(), unhealthy_after: unhealthy_after.max(1) }
    }

    /// Records a check of `cdn`; returns its new health when it changed.
    pub fn record(&mut self, cdn: &str, ok: bool) -> Option<bool> {
        let (_, failures, healthy) = self.cdns.iter_mut().find(|(c, _, _)| c == cdn)?;
        let was = *healthy;
        *failures = if ok { 0 } else { *failures + 1 };
        *healthy = ok || (*healthy && *failures < self.unhealthy_after);
        (*healthy != was).then_some(*healthy)
    }

    /// The answer for a resolver in `region`: healthy hosts, the preference rotated by region.
    pub fn answer(&self, region: usize) -> Vec<String> {
        let n = self.cdns.len().max(1);
        let rotated = (0..self.cdns.len()).map(|i| &self.cdns[(i + region) % n]);
        let healthy: Vec<String> = rotated.clone().filter(|(_, _, h)| *h).map(|(c, _, _)| c.clone()).collect();
        if healthy.is_empty() { rotated.map(|(c, _, _)| c.clone()).collect() } else { healthy }
    }
}

/// One health check of `cdn`: under [`DnsCheck::Content`] its page, which must be a page and not
/// the static fallback (a CDN answering 5xx, or with nothing to show, is out like a dead one);
/// under [`DnsCheck::Liveness`] only that its edge answers.
async fn check<N: Net, T: Telemetry>(node: &Node<N, T>, cdn: &str) -> bool {
    let limit = node.config.dns_check_timeout;
    match node.config.dns_check {
        DnsCheck::Content => {
            let reply = node.exchange::<_, EdgeReply>(cdn, EDGE_PORT, &EdgeRequest::Page, limit).await;
            matches!(reply, Ok(EdgeReply::Page { tier, .. }) if tier != Tier::Fallback)
        }
        DnsCheck::Liveness => {
            let reply = node.exchange::<_, EdgeReply>(cdn, EDGE_PORT, &EdgeRequest::Health, limit).await;
            matches!(reply, Ok(EdgeReply::Healthy))
        }
    }
}

/// One GeoDNS check of a region's origin: it answers with its document in time.
async fn check_origin<N: Net, T: Telemetry>(node: &Node<N, T>, region: &str) -> bool {
    let limit = node.config.geo_check_timeout;
    let reply = node.exchange::<_, OriginReply>(region, ORIGIN_PORT, &OriginRequest::Get, limit).await;
    matches!(reply, Ok(OriginReply::Doc(_)))
}

/// Checks `host` every `every` for as long as the server runs, recording each verdict on `board`
/// and reporting each change of health as `report` makes it.
fn watch<N: Net, T: Telemetry, F: Future<Output = bool>>(
    node: &Node<N, T>,
    board: &Rc<RefCell<Board>>,
    host: String,
    every: std::time::Duration,
    probe: impl Fn(Node<N, T>, String) -> F + 'static,
    report: fn(String, bool) -> NodeEvent,
) {
    let (node, board) = (node.clone(), board.clone());
    spawn_local(async move {
        let mut tick = interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ok = probe(node.clone(), host.clone()).await;
            let changed = board.borrow_mut().record(&host, ok);
            if let Some(healthy) = changed {
                node.emit(report(host.clone(), healthy));
            }
        }
    });
}

/// Runs the DNS server and its health checks until the host stops.
pub async fn run<N: Net, T: Telemetry>(node: Node<N, T>) -> io::Result<()> {
    let config = node.config.clone();
    let cdns = Rc::new(RefCell::new(Board::new(&config.cdns, config.dns_unhealthy_after)));
    let regions = Rc::new(RefCell::new(Board::new(&config.regions, config.dns_unhealthy_after)));
    node.emit(NodeEvent::Started { role: NodeRole::Dns, lsn: 0 });
    for cdn in config.cdns.clone() {
        let probe = |node: Node<N, T>, cdn: String| async move { check(&node, &cdn).await };
        let report = |cdn, healthy| NodeEvent::CdnHealth { cdn, healthy };
        watch(&node, &cdns, cdn, config.dns_check_interval, probe, report);
    }
    for region in config.regions.clone() {
        let probe = |node: Node<N, T>, region: String| async move { check_origin(&node, &region).await };
        let report = |region, healthy| NodeEvent::OriginHealth { region, healthy };
        watch(&node, &regions, region, config.geo_check_interval, probe, report);
    }
    let (ttl_ms, geo_ttl_ms) = (config.dns_ttl.as_millis() as u64, config.geo_ttl.as_millis() as u64);
    node.serve(DNS_PORT, move |query: DnsQuery, mut stream, _| {
        let answer = match query.name {
            DnsName::Page => DnsAnswer { hosts: cdns.borrow().answer(query.region), ttl_ms },
            DnsName::Origin => DnsAnswer { hosts: regions.borrow().answer(query.region), ttl_ms: geo_ttl_ms },
        };
        async move {
            let _ = wire::send(&mut stream, &answer).await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_failures_mark_unhealthy_and_one_success_recovers() {
        let cdns = vec!["cdn-a".to_string(), "cdn-b".to_string()];
        let mut b = Board::new(&cdns, 2);
        assert_eq!(b.answer(0), cdns);
        assert_eq!(b.answer(1), vec!["cdn-b", "cdn-a"]);
        assert_eq!(b.record("cdn-a", false), None);
        assert_eq!(b.answer(0), cdns, "one failure is not enough");
        assert_eq!(b.record("cdn-a", false), Some(false));
        assert_eq!(b.answer(0), vec!["cdn-b"]);
        assert_eq!(b.record("cdn-a", false), None);
        assert_eq!(b.record("cdn-a", true), Some(true));
        assert_eq!(b.answer(0), cdns);
    }

    #[test]
    fn with_none_healthy_every_cdn_is_answered() {
        let mut b = Board::new(&["cdn-a".to_string()], 2);
        b.record("cdn-a", false);
        b.record("cdn-a", false);
        assert_eq!(b.answer(0), vec!["cdn-a"]);
        assert_eq!(b.record("nope", false), None);
    }
}
