//! Fault schedules drawn from the seed (docs/SCENARIOS.md, `[swarm]` and `[liveness]`), as
//! TigerBeetle's VOPR draws every fault parameter from its seed: a scenario declares what may go
//! wrong (fault kinds, how many, how long, which hosts by role, loss and latency ranges) and each
//! seed draws its own schedule from the `schedule` stream. The liveness phase comes after it: at
//! `heal` every fault heals, and the run must reach its end state within `within`.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::{CONTROL, FaultKind, PRIMARY, STANDBY, Scenario};
use crate::status::settings::{DNS, NOTIFIER, StatusSettings};
use crate::units::Dur;

/// A value or a range of values written `"LO..HI"` (both ends included); a single value is the
/// range of that value alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Between<T> {
    pub lo: T,
    pub hi: T,
}

/// What a range's ends can be.
pub trait RangeEnd: Copy + PartialOrd + Sized {
    fn parse(text: &str) -> Result<Self, String>;
    /// A TOML number as an end; `None` when this kind of end is not a number.
    fn from_number(n: f64) -> Option<Self>;
}

impl RangeEnd for Dur {
    fn parse(text: &str) -> Result<Dur, String> {
        Dur::parse(text)
    }
    fn from_number(_: f64) -> Option<Dur> {
        None
    }
}

impl RangeEnd for f64 {
    fn parse(text: &str) -> Result<f64, String> {
        text.trim().parse().map_err(|_| format!("`{text}` is not a number"))
    }
    fn from_number(n: f64) -> Option<f64> {
        Some(n)
    }
}

impl RangeEnd for u32 {
    fn parse(text: &str) -> Result<u32, String> {
        text.trim().parse().map_err(|_| format!("`{text}` is not a whole number"))
    }
    fn from_number(n: f64) -> Option<u32> {
        (n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n)).then_some(n as u32)
    }
}

impl<T: RangeEnd> Between<T> {
    pub fn parse(text: &str) -> Result<Between<T>, String> {
        let (lo, hi) = text.split_once("..").unwrap_or((text, text));
        let range = Between { lo: T::parse(lo)?, hi: T::parse(hi)? };
        if range.lo > range.hi {
            return Err(format!("`{text}` ends before it starts"));
        }
        Ok(range)
    }
}

impl<'de, T: RangeEnd> Deserialize<'de> for Between<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Between<T>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            Number(f64),
        }
        match Written::deserialize(d)? {
            Written::Text(text) => Between::parse(&text).map_err(de::Error::custom),
            Written::Number(n) => T::from_number(n)
                .map(|v| Between { lo: v, hi: v })
                .ok_or_else(|| de::Error::custom("expected a string such as \"1s..5s\"")),
        }
    }
}

impl Between<Dur> {
    pub fn durations(self) -> Between<Duration> {
        Between { lo: self.lo.0, hi: self.hi.0 }
    }
}

impl Between<Duration> {
    /// A duration drawn evenly from the range, in whole milliseconds when the range allows.
    pub fn draw(self, rng: &mut ChaCha8Rng) -> Duration {
        let (lo, hi) = (self.lo.as_micros() as u64, self.hi.as_micros() as u64);
        let us = rng.random_range(lo..=hi);
        let rounded = us / 1000 * 1000;
        Duration::from_micros(if rounded >= lo { rounded } else { us })
    }
}

/// Which hosts a swarm's faults may hit, by what they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRole {
    /// Edge platform: the primary, the standby, the control plane, each region's distributor,
    /// each PoP.
    Primary,
    Standby,
    Control,
    Distributor,
    Pop,
    /// Status page: each region's origin, each CDN, the DNS, the notifier.
    Origin,
    Cdn,
    Dns,
    Notifier,
    /// A whole region (`region:NAME`), cut or slowed as one from every other host.
    Region,
    /// Every link of the world (latency and loss only).
    Everyone,
}

impl TargetRole {
    fn written(self) -> &'static str {
        match self {
            TargetRole::Primary => "primary",
            TargetRole::Standby => "standby",
            TargetRole::Control => "control",
            TargetRole::Distributor => "distributor",
            TargetRole::Pop => "pop",
            TargetRole::Origin => "origin",
            TargetRole::Cdn => "cdn",
            TargetRole::Dns => "dns",
            TargetRole::Notifier => "notifier",
            TargetRole::Region => "region",
            TargetRole::Everyone => "everyone",
        }
    }

    /// Whether the role is a single node host (which can crash and restart).
    fn is_node(self) -> bool {
        !matches!(self, TargetRole::Region | TargetRole::Everyone)
    }

    /// The fault targets of the role in `scenario` (host names, `region:NAME` or `everyone`); an
    /// error when the role is of the other system.
    fn targets(self, scenario: &Scenario) -> Result<Vec<String>, String> {
        let status = scenario.status.as_ref();
        let other = |system: &str| Err(format!("role `{}` is of the {system}", self.written()));
        match (self, status) {
            (TargetRole::Primary, None) => Ok(vec![PRIMARY.into()]),
            (TargetRole::Standby, None) => Ok(vec![STANDBY.into()]),
            (TargetRole::Control, None) => Ok(vec![CONTROL.into()]),
            (TargetRole::Distributor, None) => Ok(scenario.regions.iter().map(|r| r.distributor.clone()).collect()),
            (TargetRole::Pop, None) => Ok(scenario.regions.iter().flat_map(|r| r.pops.clone()).collect()),
            (TargetRole::Region, None) => Ok(scenario.regions.iter().map(|r| format!("region:{}", r.name)).collect()),
            (TargetRole::Origin, Some(s)) => Ok(s.regions.iter().map(|r| StatusSettings::region_host(r)).collect()),
            (TargetRole::Cdn, Some(s)) => Ok(s.cdns.clone()),
            (TargetRole::Dns, Some(_)) => Ok(vec![DNS.into()]),
            (TargetRole::Notifier, Some(_)) => Ok(vec![NOTIFIER.into()]),
            (TargetRole::Region, Some(s)) => Ok(s.regions.iter().map(|r| format!("region:{r}")).collect()),
            (TargetRole::Everyone, _) => Ok(vec![EVERYONE.into()]),
            (TargetRole::Origin | TargetRole::Cdn | TargetRole::Dns | TargetRole::Notifier, None) => {
                other("status page")
            }
            (_, Some(_)) => other("edge platform"),
        }
    }
}

/// The fault target naming every host.
pub(crate) const EVERYONE: &str = "everyone";
/// The prefix of a fault target naming every host but those of the target after it.
pub(crate) const EXCEPT: &str = "except:";

/// The kinds a swarm may draw.
pub(crate) const SWARM_KINDS: &[FaultKind] = &[
    FaultKind::Crash,
    FaultKind::SilentCrash,
    FaultKind::Restart,
    FaultKind::Partition,
    FaultKind::Hold,
    FaultKind::Latency,
    FaultKind::Loss,
];

impl FaultKind {
    /// Whether a fault of this kind can hit a target of `role`.
    fn hits(self, role: TargetRole) -> bool {
        match self {
            FaultKind::Crash | FaultKind::SilentCrash | FaultKind::Restart => role.is_node(),
            FaultKind::Partition | FaultKind::Hold => role != TargetRole::Everyone,
            _ => true,
        }
    }
}

/// A `[swarm]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwarmFile {
    from: Dur,
    faults: Between<u32>,
    kinds: Vec<FaultKind>,
    roles: Vec<TargetRole>,
    lasting: Between<Dur>,
    loss: Option<Between<f64>>,
    latency: Option<Between<Dur>>,
}

/// A `[liveness]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LivenessFile {
    heal: Dur,
    within: Dur,
}

/// What may go wrong in a scenario, each seed drawing its own schedule.
#[derive(Clone, Debug)]
pub struct Swarm {
    /// The scenario line of the `[swarm]` table, which drawn faults carry.
    pub line: usize,
    pub from: Duration,
    pub faults: Between<u32>,
    pub kinds: Vec<FaultKind>,
    pub roles: Vec<TargetRole>,
    pub lasting: Between<Duration>,
    pub loss: Option<Between<f64>>,
    pub latency: Option<Between<Duration>>,
}

/// The liveness phase: every fault heals at `heal`; the end state is due by `heal + within`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Liveness {
    pub heal: Duration,
    pub within: Duration,
    /// The scenario line of the `[liveness]` table, which the heal carries.
    pub line: usize,
}

impl Liveness {
    pub fn deadline(&self) -> Duration {
        self.heal + self.within
    }

    pub(super) fn check(file: &LivenessFile, line: usize, duration: Duration) -> Result<Liveness, String> {
        let l = Liveness { heal: file.heal.0, within: file.within.0, line };
        if l.deadline() > duration {
            return Err(format!(
                "the liveness deadline (heal {} + within {}) is after the workload ends at {}: the end state \
                 must be reached while the workload runs",
                file.heal,
                file.within,
                Dur(duration)
            ));
        }
        Ok(l)
    }
}

/// A fault as a scenario file writes it, every value fixed: a drawn one, or one a shrunk
/// scenario file holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultStep {
    pub at: Dur,
    pub kind: FaultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// One drawn fault: it starts at `at` and, unless it is a restart (a bounce: a crash and a restart
/// at once) or a latency fault (which lasts until the heal), ends at `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub kind: FaultKind,
    /// A node host for crashes and restarts; else a host, `region:NAME` or `everyone`.
    pub target: String,
    pub at: Duration,
    pub until: Duration,
    pub rate: f64,
    pub latency: Duration,
}

impl Episode {
    /// Whether it ends before the heal (a restart is one event; a latency fault lasts until the
    /// heal).
    pub fn ends(&self) -> bool {
        !matches!(self.kind, FaultKind::Restart | FaultKind::Latency)
    }

    /// The faults that start it and, when it has one, end it.
    pub fn steps(&self) -> Vec<FaultStep> {
        let step = |at: Duration, kind: FaultKind| FaultStep {
            at: Dur(at),
            kind,
            a: None,
            b: None,
            host: None,
            latency: None,
            rate: None,
        };
        let host = |at, kind| FaultStep { host: Some(self.target.clone()), ..step(at, kind) };
        let (a, b) = if self.target == EVERYONE {
            (EVERYONE.to_string(), EVERYONE.to_string())
        } else {
            (self.target.clone(), format!("{EXCEPT}{}", self.target))
        };
        let link = |at, kind| FaultStep { a: Some(a.clone()), b: Some(b.clone()), ..step(at, kind) };
        match self.kind {
            FaultKind::Crash => vec![host(self.at, FaultKind::Crash), host(self.until, FaultKind::Restart)],
            FaultKind::SilentCrash => {
                vec![host(self.at, FaultKind::SilentCrash), host(self.until, FaultKind::Restart)]
            }
            FaultKind::Partition => vec![link(self.at, FaultKind::Partition), link(self.until, FaultKind::Repair)],
            FaultKind::Hold => vec![link(self.at, FaultKind::Hold), link(self.until, FaultKind::Release)],
            FaultKind::Latency => {
                vec![FaultStep { latency: Some(Dur(self.latency)), ..link(self.at, FaultKind::Latency) }]
            }
            FaultKind::Loss => vec![
                FaultStep { rate: Some(self.rate), ..link(self.at, FaultKind::Loss) },
                FaultStep { rate: Some(0.0), ..link(self.until, FaultKind::Loss) },
            ],
            // A restart of a running node is a bounce: killed and started at once, its memory
            // lost (a restart alone of a running host does nothing).
            FaultKind::Restart => vec![host(self.at, FaultKind::Crash), host(self.at, FaultKind::Restart)],
            _ => vec![host(self.at, self.kind)],
        }
    }
}

impl Swarm {
    /// Checks a `[swarm]` table against its scenario; the error names the key at fault.
    pub(super) fn check(
        file: &SwarmFile,
        line: usize,
        scenario: &Scenario,
        liveness: Option<&Liveness>,
    ) -> Result<Swarm, (&'static str, String)> {
        let Some(liveness) = liveness else {
            return Err(("", "a [swarm] needs a [liveness] table: its `heal` ends the fault phase".into()));
        };
        if file.from.0 >= liveness.heal {
            return Err((
                "from",
                format!("the fault phase starts at {} but heals at {} (liveness.heal)", file.from, Dur(liveness.heal)),
            ));
        }
        if file.kinds.is_empty() {
            return Err(("kinds", "a swarm needs at least one fault kind".into()));
        }
        if file.roles.is_empty() {
            return Err(("roles", "a swarm needs at least one role".into()));
        }
        for role in &file.roles {
            role.targets(scenario).map_err(|m| ("roles", m))?;
        }
        for kind in &file.kinds {
            if !SWARM_KINDS.contains(kind) {
                let kinds: Vec<_> = SWARM_KINDS.iter().map(|k| k.written()).collect();
                return Err((
                    "kinds",
                    format!("a swarm cannot draw `{}`; it draws {}", kind.written(), kinds.join(", ")),
                ));
            }
            if !file.roles.iter().any(|r| kind.hits(*r)) {
                return Err(("kinds", format!("no role of `roles` can take a {} fault", kind.written())));
            }
        }
        if file.kinds.contains(&FaultKind::Loss) && file.loss.is_none() {
            return Err(("kinds", "a swarm that draws loss faults needs `loss`".into()));
        }
        if file.kinds.contains(&FaultKind::Latency) && file.latency.is_none() {
            return Err(("kinds", "a swarm that draws latency faults needs `latency`".into()));
        }
        Ok(Swarm {
            line,
            from: file.from.0,
            faults: file.faults,
            kinds: file.kinds.clone(),
            roles: file.roles.clone(),
            lasting: file.lasting.durations(),
            loss: file.loss,
            latency: file.latency.map(Between::durations),
        })
    }

    /// The faults `rng` draws: how many, then each one's kind, role, target, start, length and
    /// rate or latency. Every fault ends by `heal`.
    pub fn draw(&self, scenario: &Scenario, heal: Duration, rng: &mut ChaCha8Rng) -> Vec<Episode> {
        let count = rng.random_range(self.faults.lo..=self.faults.hi);
        let mut drawn = Vec::new();
        for _ in 0..count {
            let kind = self.kinds[rng.random_range(0..self.kinds.len())];
            let roles: Vec<TargetRole> = self.roles.iter().copied().filter(|r| kind.hits(*r)).collect();
            let role = roles[rng.random_range(0..roles.len())];
            let targets = role.targets(scenario).expect("checked");
            let target = targets[rng.random_range(0..targets.len())].clone();
            let at =
                Between { lo: self.from, hi: heal.saturating_sub(Duration::from_millis(1)).max(self.from) }.draw(rng);
            let until = (at + self.lasting.draw(rng)).min(heal);
            let rate = self.loss.map_or(0.0, |l| (rng.random_range(l.lo..=l.hi) * 1e4).round() / 1e4);
            let latency = self.latency.map_or(Duration::ZERO, |l| l.draw(rng));
            drawn.push(Episode { kind, target, at, until, rate, latency });
        }
        drawn.sort_by_key(|e| e.at);
        drawn
    }
}
