//! Incremental static regeneration at a PoP (docs/DESIGN.md, ISR): rendered pages cached per key
//! with a revalidate interval. A page younger than the interval is fresh; an older one is stale
//! and still served at once, and its hit asks for one background regeneration. The revalidation
//! lock lets only the first stale hit of a key regenerate while that regeneration runs (without
//! it, every stale hit regenerates: the thundering herd). A key with no page yet is a miss: with
//! the lock, the first miss renders and the others wait for it. A failed regeneration keeps the
//! last good page. With the region lock (`region_lock`) the PoP's lock still comes first: only
//! the hit that takes it asks the region's holder. Pure: the PoP hands it the time.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Whether concurrent stale hits of a key share one regeneration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    /// One regeneration per key per PoP at a time.
    #[default]
    Pop,
    /// One regeneration per key per region at a time: a PoP's regeneration first takes the PoP's
    /// lock, then asks the region's holder (`region_lock`), which lets one PoP render and hands
    /// its page to the others.
    Region,
    /// Negative control: every stale hit (and every miss) regenerates.
    Off,
}

impl Lock {
    /// The lock as a scenario file names it.
    pub fn name(self) -> &'static str {
        match self {
            Lock::Pop => "pop",
            Lock::Region => "region",
            Lock::Off => "off",
        }
    }
}

/// What a request for a key finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lookup<P> {
    /// A page younger than the revalidate interval.
    Fresh { page: P, age: Duration },
    /// A page older than the interval, served as it is; `regenerate`: this hit starts the key's
    /// regeneration in the background.
    Stale { page: P, age: Duration, regenerate: bool },
    /// No page yet: `render` says this request renders it; otherwise one already renders it and
    /// the request waits for it.
    Miss { render: bool },
}

struct CachedPage<P> {
    page: Option<(P, Instant)>,
    regenerating: bool,
}

/// A PoP's rendered pages.
pub(crate) struct Cache<P> {
    revalidate: Duration,
    lock: Lock,
    entries: BTreeMap<String, CachedPage<P>>,
}

impl<P: Clone> Cache<P> {
    pub fn new(revalidate: Duration, lock: Lock) -> Self {
        Cache { revalidate, lock, entries: BTreeMap::new() }
    }

    /// Looks `key` up at `now`, and takes the key's regeneration for this request when the lock
    /// allows it.
    pub fn lookup(&mut self, key: &str, now: Instant) -> Lookup<P> {
        let entry = self.entries.entry(key.to_string()).or_insert(CachedPage { page: None, regenerating: false });
        let take = match self.lock {
            Lock::Pop | Lock::Region => !entry.regenerating,
            Lock::Off => true,
        };
        let Some((page, at)) = &entry.page else {
            entry.regenerating |= take;
            return Lookup::Miss { render: take };
        };
        let age = now.saturating_duration_since(*at);
        if age < self.revalidate {
            return Lookup::Fresh { page: page.clone(), age };
        }
        let page = page.clone();
        entry.regenerating |= take;
        Lookup::Stale { page, age, regenerate: take }
    }

    /// A regeneration of `key` succeeded with a page rendered at `now` (for a page another PoP
    /// rendered, `now` less the age its holder gave it): it replaces the last (unless a later
    /// render already did), and the key may regenerate again.
    pub fn rendered(&mut self, key: &str, page: P, now: Instant) {
        let entry = self.entries.entry(key.to_string()).or_insert(CachedPage { page: None, regenerating: false });
        entry.regenerating = false;
        if entry.page.as_ref().is_none_or(|(_, at)| *at <= now) {
            entry.page = Some((page, now));
        }
    }

    /// A regeneration of `key` failed: the last good page stays, and the next stale hit tries again.
    pub fn failed(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.regenerating = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVALIDATE: Duration = Duration::from_secs(10);

    /// Goal: with the lock, of many concurrent stale hits only the first regenerates, all are
    /// served the stale page at once, and once the regeneration lands the page is fresh again.
    #[test]
    fn the_lock_lets_one_stale_hit_regenerate() {
        let t0 = Instant::now();
        let mut cache = Cache::new(REVALIDATE, Lock::Pop);
        assert_eq!(cache.lookup("p1", t0), Lookup::Miss { render: true });
        assert_eq!(cache.lookup("p1", t0), Lookup::Miss { render: false });
        cache.rendered("p1", 1, t0);
        let later = t0 + Duration::from_secs(3);
        assert_eq!(cache.lookup("p1", later), Lookup::Fresh { page: 1, age: Duration::from_secs(3) });
        let stale = t0 + Duration::from_secs(12);
        let hits: Vec<_> = (0..5).map(|_| cache.lookup("p1", stale)).collect();
        assert_eq!(hits[0], Lookup::Stale { page: 1, age: Duration::from_secs(12), regenerate: true });
        assert!(
            hits[1..].iter().all(|h| *h == Lookup::Stale { page: 1, age: Duration::from_secs(12), regenerate: false })
        );
        cache.rendered("p1", 2, stale + Duration::from_secs(1));
        assert_eq!(
            cache.lookup("p1", stale + Duration::from_secs(2)),
            Lookup::Fresh { page: 2, age: Duration::from_secs(1) }
        );
    }

    /// Goal: without the lock (the negative control) every stale hit regenerates.
    #[test]
    fn without_the_lock_every_stale_hit_regenerates() {
        let t0 = Instant::now();
        let mut cache = Cache::new(REVALIDATE, Lock::Off);
        assert_eq!(cache.lookup("p1", t0), Lookup::Miss { render: true });
        assert_eq!(cache.lookup("p1", t0), Lookup::Miss { render: true });
        cache.rendered("p1", 1, t0);
        let stale = t0 + Duration::from_secs(11);
        for _ in 0..3 {
            assert!(matches!(cache.lookup("p1", stale), Lookup::Stale { regenerate: true, .. }));
        }
    }

    /// Goal: a failed regeneration keeps serving the last good page and lets the next stale hit
    /// try again; an older render landing after a newer one does not replace it.
    #[test]
    fn a_failed_regeneration_keeps_the_last_good_page() {
        let t0 = Instant::now();
        let mut cache = Cache::new(REVALIDATE, Lock::Pop);
        assert_eq!(cache.lookup("p1", t0), Lookup::Miss { render: true });
        cache.rendered("p1", 1, t0 + Duration::from_secs(1));
        let stale = t0 + Duration::from_secs(20);
        assert!(matches!(cache.lookup("p1", stale), Lookup::Stale { page: 1, regenerate: true, .. }));
        cache.failed("p1");
        assert!(matches!(cache.lookup("p1", stale), Lookup::Stale { page: 1, regenerate: true, .. }));
        cache.rendered("p1", 3, stale);
        cache.rendered("p1", 2, t0 + Duration::from_secs(2));
        assert!(matches!(cache.lookup("p1", stale), Lookup::Fresh { page: 3, .. }));
    }
}
