//! The revalidation lock across a region (docs/DESIGN.md, ISR; `[isr] lock = "region"`): the
//! region's distributor holds it, so the PoPs coordinate by messages across their links to it,
//! never by shared memory. A PoP that took its own lock for a key asks the holder; the holder
//! grants the key to one PoP at a time, which renders and hands the page back, and answers every
//! other PoP of the region that asks within the revalidate interval with that page and its age, so
//! the origin renders a key once per region per interval. A grant lapses when its PoP neither
//! releases nor hangs up within the lease (a render's longest wait); a failed render frees the key
//! for the next PoP that asks. A PoP that cannot reach the holder, or hears nothing back in time,
//! renders on its own lock (`region_lock_missed`): pages keep coming, and the region-wide herd
//! that follows is what the harness's `region-revalidation-herd` checker sees.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::spawn_local;
use tokio::time::{Instant, timeout};

use super::config::EdgeConfig;
use super::node::{Ctx, reject};
use super::proto::{LockReply, LockRequest, Page, REGION_LOCK_PORT};
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire;

/// What the holder answers an acquire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The asking PoP renders the key: grant number `grant`.
    Granted(u64),
    /// The key's page rendered within the revalidate interval, `age` old.
    Page { page: Page, age: Duration },
    /// Another PoP holds the key: ask again when a grant ends.
    Wait,
}

#[derive(Default)]
struct Key {
    grant: Option<u64>,
    last: Option<(Page, Instant)>,
}

/// The holder's state, pure: its serving task hands it the time.
pub(crate) struct Holder {
    revalidate: Duration,
    keys: BTreeMap<String, Key>,
    grants: u64,
}

impl Holder {
    pub fn new(revalidate: Duration) -> Self {
        Holder { revalidate, keys: BTreeMap::new(), grants: 0 }
    }

    /// A PoP asks for `key` at `now`.
    pub(crate) fn acquire(&mut self, key: &str, now: Instant) -> Answer {
        let held = self.keys.entry(key.to_string()).or_default();
        if let Some((page, at)) = &held.last {
            let age = now.saturating_duration_since(*at);
            if age < self.revalidate {
                return Answer::Page { page: page.clone(), age };
            }
        }
        if held.grant.is_some() {
            return Answer::Wait;
        }
        self.grants += 1;
        held.grant = Some(self.grants);
        Answer::Granted(self.grants)
    }

    /// Grant `grant` of `key` ended at `now` with its page (`None`: the render failed, or the
    /// grant lapsed). A grant already superseded changes nothing.
    pub fn release(&mut self, key: &str, grant: u64, page: Option<Page>, now: Instant) {
        let Some(held) = self.keys.get_mut(key) else { return };
        if held.grant != Some(grant) {
            return;
        }
        held.grant = None;
        if let Some(page) = page {
            held.last = Some((page, now));
        }
    }
}

/// How long a grant lasts without a release: the longest a PoP's render at the origin waits (a
/// connection, then the request).
pub fn lease(config: &EdgeConfig) -> Duration {
    config.connect_timeout + config.request_timeout
}

/// Holds the region's lock on the distributor's host until it stops.
pub async fn serve<N: Net, T: Telemetry>(ctx: Ctx<N, T>) -> io::Result<()> {
    let mut listener = ctx.net.bind(REGION_LOCK_PORT).await?;
    let holder = Rc::new(RefCell::new(Holder::new(ctx.config.isr.revalidate)));
    let ended = Rc::new(watch::channel(0u64).0);
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn_local(answer(ctx.clone(), holder.clone(), ended.clone(), stream, peer));
    }
}

/// One PoP's acquire: answered with the page at once, or after the grant it waits for ended, or
/// granted and then held until the PoP releases, hangs up or the lease runs out.
async fn answer<N: Net, T: Telemetry>(
    ctx: Ctx<N, T>,
    holder: Rc<RefCell<Holder>>,
    ended: Rc<watch::Sender<u64>>,
    mut stream: N::Stream,
    peer: String,
) {
    let key = match wire::recv::<_, LockRequest>(&mut stream).await {
        Ok(LockRequest::Acquire { key }) => key,
        Ok(other) => {
            return ctx.emit(NodeEvent::Rejected { peer, problem: format!("{other:?} without an acquire") });
        }
        Err(e) => return reject(&ctx, &peer, e),
    };
    let mut changed = ended.subscribe();
    let grant = loop {
        let answer = holder.borrow_mut().acquire(&key, Instant::now());
        match answer {
            Answer::Granted(grant) => break grant,
            Answer::Page { page, age } => {
                let _ = wire::send(&mut stream, &LockReply::Page { page, age_us: age.as_micros() as u64 }).await;
                return;
            }
            Answer::Wait => {
                if changed.changed().await.is_err() {
                    return;
                }
            }
        }
    };
    let page = match wire::send(&mut stream, &LockReply::Granted).await {
        Ok(()) => match timeout(lease(&ctx.config), wire::recv::<_, LockRequest>(&mut stream)).await {
            Ok(Ok(LockRequest::Release { page })) => page,
            _ => None,
        },
        Err(_) => None,
    };
    holder.borrow_mut().release(&key, grant, page, Instant::now());
    ended.send_modify(|n| *n += 1);
}

/// A PoP's regeneration of `key` under the region's lock at `holder`: `render` (the origin's
/// render, not started unless awaited) when the holder grants the key, its page handed back; else
/// the page another PoP rendered, with its age. Without an answer from the holder in time the PoP
/// renders on its own lock.
pub async fn regenerate<N: Net, T: Telemetry>(
    ctx: &Ctx<N, T>,
    holder: &str,
    key: &str,
    render: impl Future<Output = Result<Page, String>>,
) -> Result<(Page, Duration), String> {
    let asked = async {
        let mut stream = ctx.connect(holder, REGION_LOCK_PORT).await.map_err(|e| e.to_string())?;
        wire::send(&mut stream, &LockRequest::Acquire { key: key.to_string() }).await.map_err(|e| e.to_string())?;
        let reply = wire::recv::<_, LockReply>(&mut stream).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((stream, reply))
    };
    let wait = 2 * lease(&ctx.config);
    let reason = match timeout(wait, asked).await {
        Ok(Ok((_, LockReply::Page { page, age_us }))) => return Ok((page, Duration::from_micros(age_us))),
        Ok(Ok((mut stream, LockReply::Granted))) => {
            let rendered = render.await;
            let _ = wire::send(&mut stream, &LockRequest::Release { page: rendered.as_ref().ok().cloned() }).await;
            return rendered.map(|page| (page, Duration::ZERO));
        }
        Ok(Err(reason)) => reason,
        Err(_) => format!("no answer within {wait:?}"),
    };
    ctx.emit(NodeEvent::RegionLockMissed { key: key.to_string(), holder: holder.to_string(), reason });
    render.await.map(|page| (page, Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVALIDATE: Duration = Duration::from_secs(10);

    fn page(render: u64) -> Page {
        Page { origin: "primary".into(), render, version: 0 }
    }

    /// Goal: of the PoPs asking for a key, one is granted and the others wait; once its page is
    /// released, every PoP asking within the revalidate interval gets that page with its age, and
    /// only after the interval is the key granted again.
    #[test]
    fn one_pop_renders_and_the_others_get_its_page() {
        let t0 = Instant::now();
        let mut h = Holder::new(REVALIDATE);
        assert_eq!(h.acquire("p1", t0), Answer::Granted(1));
        assert_eq!(h.acquire("p1", t0), Answer::Wait);
        assert_eq!(h.acquire("p2", t0), Answer::Granted(2));
        h.release("p1", 1, Some(page(7)), t0 + Duration::from_secs(1));
        let later = t0 + Duration::from_secs(4);
        assert_eq!(h.acquire("p1", later), Answer::Page { page: page(7), age: Duration::from_secs(3) });
        assert_eq!(h.acquire("p1", t0 + Duration::from_secs(11)), Answer::Granted(3));
    }

    /// Goal: a failed render (or a lapsed grant) keeps no page and frees the key for the next PoP
    /// that asks; a release of a superseded grant changes nothing.
    #[test]
    fn a_failed_render_frees_the_key_and_a_stale_release_is_ignored() {
        let t0 = Instant::now();
        let mut h = Holder::new(REVALIDATE);
        assert_eq!(h.acquire("p1", t0), Answer::Granted(1));
        h.release("p1", 1, None, t0);
        assert_eq!(h.acquire("p1", t0), Answer::Granted(2));
        h.release("p1", 1, Some(page(9)), t0);
        assert_eq!(h.acquire("p1", t0), Answer::Wait);
    }
}
