//! The `[status]` table of a scenario file: the status page's world (regions, CDNs, the hosts
//! around them), its settings (defaults: docs/DESIGN.md, System B) and its workload (operators,
//! viewers, SSE viewers, subscribers). `docs/SCENARIOS.md` documents each key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use edgesim_system::status::config::{ClockMode, DnsCheck, StatusConfig};
use edgesim_system::status::incident::{ComponentStatus, MergeRules};
use edgesim_system::status::lww::LwwOrder;
use edgesim_system::status::notify::NotifyConfig;
use edgesim_system::status::or_set::SetRule;
use serde::{Deserialize, Serialize};

use crate::scenario::limits::host_name_problem;
use crate::units::Dur;

pub const DNS: &str = "dns";
pub(crate) const NOTIFIER: &str = "notifier";
/// Live viewers each simulated one stands for, in the default SSE cap per edge (**project**).
pub(crate) const SSE_SCALE: usize = 5_000;
/// Notification channels and the host of each one's endpoints.
pub(crate) const CHANNELS: [(&str, &str); 4] =
    [("webhook", "hooks"), ("email", "mail"), ("sms", "sms"), ("slack", "slack")];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSettings {
    /// Status regions; each accepts edits and syncs with the others.
    pub regions: Vec<String>,
    /// CDN host names, in the DNS's default preference order.
    pub cdns: Vec<String>,
    pub sync_interval: Dur,
    pub clock: ClockMode,
    /// Negative control only: `remove_wins` makes a remove beat an add it had not observed.
    pub set_rule: SetRule,
    /// Negative control only: `physical` orders status writes by physical time and node, the
    /// hybrid clock's counter ignored.
    pub lww_order: LwwOrder,
    /// Regions ship their document to off-site storage this often; with it set, a crash loses a
    /// region's disk and its restart rebuilds it from the latest backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_every: Option<Dur>,
    /// Operators' edits scripted at a time and region, beside the random ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub action: Vec<ScriptedAction>,
    /// How far ahead of true time each region's wall clock runs.
    pub skew: BTreeMap<String, Dur>,
    pub max_drift: Dur,
    pub kv_propagation: Dur,
    pub kv_refresh: Dur,
    pub kv_max_age: Dur,
    /// What the DNS's health checks ask of a CDN: its page (`content`) or only an answer
    /// (`liveness`, a negative control).
    pub dns_check: DnsCheck,
    pub dns_check_interval: Dur,
    pub dns_unhealthy_after: u32,
    pub dns_ttl: Dur,
    /// Operators find their origin through GeoDNS (their own region while it is healthy, else
    /// another); `false` (negative control only) pins them to their region.
    pub geo_dns: bool,
    /// GeoDNS checks every region's origin this often; its answers carry `geo_ttl`.
    pub geo_check_interval: Dur,
    pub geo_ttl: Dur,
    pub sse_heartbeat: Dur,
    pub sse_max_per_ip: usize,
    /// Streams one CDN's SSE hub holds at once; the default is the design's 100,000 per edge at
    /// [`SSE_SCALE`] live viewers per simulated one.
    pub sse_max_per_edge: usize,
    /// Negative control only: `false` makes the hubs push timeline updates only.
    pub sse_status_events: bool,
    /// An edge serves a page it got from the origins for this long without asking them again.
    pub page_ttl: Dur,
    /// `false` (negative control): concurrent misses at an edge each send their own origin request.
    pub coalescing: bool,
    /// Past `page_ttl`, an edge serves its cached page at once and refreshes it in the background.
    pub stale_while_revalidate: bool,
    /// Negative control only: `false` makes the notification pipeline treat every copy of an
    /// update as a new event.
    pub event_dedup: bool,
    pub subscribers: u32,
    /// A notification accepted later than this after its update's acknowledgement is late; one
    /// not accepted by then is lost if the run ends later, pending otherwise.
    pub notification_deadline: Dur,
    /// Probability that a subscriber endpoint answers a delivery with an error (a channel's
    /// `[[status.provider]]` may set its own).
    pub receiver_fail_rate: f64,
    /// Each channel's provider, where it differs from an instant one that never throttles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider: Vec<ChannelProvider>,
    /// The operators suppress non-critical updates: none is notified.
    pub suppress_non_critical: bool,
    /// The delays before each retry of a failed delivery (the design's 30 s to 60 m by default).
    pub retry_delays: Vec<Dur>,
    /// Operators edit the incident at exponential intervals of this mean, between `edits_from` and
    /// `edits_until` (default: the whole duration), at a region drawn from the seed.
    pub edit_every: Dur,
    pub edits_from: Dur,
    pub edits_until: Option<Dur>,
    pub viewers_per_region: u32,
    /// Each viewer loads the page at exponential intervals of this mean.
    pub view_every: Dur,
    /// A viewer gives up on a CDN after this and tries the next in the DNS answer.
    pub view_timeout: Dur,
    /// An edge worker whose KV is stale gives up on the origins after this and serves its stale
    /// cached page; it must be shorter than `view_timeout`.
    pub origin_timeout: Dur,
    pub sse_viewers_per_region: u32,
    /// SSE viewers of one region share this many client IPs.
    pub sse_ips_per_region: u32,
    /// Negative control only: `false` reconnects SSE viewers without Last-Event-ID.
    pub sse_resume: bool,
    /// Negative control only: `false` restarts a crashed region with an empty disk.
    pub durable_regions: bool,
    /// Where the notifier keeps its queue and the hour's sends: `sqlite` on its disk, which
    /// outlives a crash, or `memory` (negative control: a crash loses them).
    pub queue: QueueStore,
    /// Page views multiply by `spike_factor` between `spike_from` and `spike_until`.
    pub spike_from: Option<Dur>,
    pub spike_until: Option<Dur>,
    pub spike_factor: f64,
    /// The harness probes every CDN's page this often (update propagation to the edges).
    pub probe_every: Dur,
    /// Spans in which a CDN, though up, answers a share of page views with server errors.
    pub cdn_errors: Vec<CdnErrors>,
    /// The platform the page reports on, and what infrastructure the page shares with it.
    pub platform: Option<Platform>,
    pub network: StatusNetwork,
}

/// One scripted operator action (`[[status.action]]`): at `at`, the operator of `region` makes
/// the edit `kind` says; with `every`, again every `every` until `until` (inclusive).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedAction {
    pub at: Dur,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Dur>,
    pub region: String,
    pub kind: ActionKind,
    /// The component a status change or a list edit names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The status a `set_status` sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The text a `post` posts, or the updates a `retract` takes off the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub critical: bool,
}

/// What a scripted action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Posts a timeline update (`text`, `critical`).
    Post,
    /// Sets `component`'s status.
    SetStatus,
    /// Lists `component` on the page.
    AddComponent,
    /// Takes `component` off the page.
    RemoveComponent,
    /// Takes the timeline updates with `text` off the timeline (those its region holds).
    Retract,
}

impl ScriptedAction {
    /// When this action is made: at `at`, then every `every` until `until`.
    pub fn times(&self) -> Vec<Duration> {
        match (self.every, self.until) {
            (Some(every), Some(until)) if !every.0.is_zero() => {
                std::iter::successors(Some(self.at.0), |t| Some(*t + every.0)).take_while(|t| *t <= until.0).collect()
            }
            _ => vec![self.at.0],
        }
    }
}

/// A component status as a scenario file writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
}

impl From<Status> for ComponentStatus {
    fn from(s: Status) -> ComponentStatus {
        match s {
            Status::Operational => ComponentStatus::Operational,
            Status::Degraded => ComponentStatus::Degraded,
            Status::PartialOutage => ComponentStatus::PartialOutage,
            Status::MajorOutage => ComponentStatus::MajorOutage,
        }
    }
}

/// The longest component name or posted text a scripted action may carry.
pub(crate) const MAX_ACTION_TEXT: usize = 200;
/// How many times the scripted actions of a run may be made in all, repeats included.
pub(crate) const MAX_ACTIONS_MADE: usize = 10_000;

/// Where the notifier keeps its queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStore {
    Memory,
    #[default]
    Sqlite,
}

/// The monitored platform: its own hosts `platform-1` .. `platform-N`, which the operators'
/// monitor checks every second, and the providers whose outage takes the status page's hosts on
/// them down with it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub hosts: u32,
    #[serde(default)]
    pub shares: Vec<Provider>,
}

/// Infrastructure the status page can share with the platform (fault target `provider:NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// The cloud the platform runs on: shared, the status regions and the notifier run there too.
    Cloud,
    /// The platform's CDN: shared, every CDN of the status page is that provider's.
    Cdn,
    /// The platform's DNS: shared, the status page's DNS is that provider's.
    Dns,
}

/// A notification channel's provider (`[[status.provider]]`): how long it takes to answer a
/// delivery, how many it takes a second before answering "slow down", and the share it fails.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelProvider {
    pub channel: String,
    #[serde(default)]
    pub latency: Dur,
    /// Deliveries it takes in any second; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<u32>,
    /// `None`: `receiver_fail_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_rate: Option<f64>,
    /// `false` (negative control): the provider's limit is on paper only; it takes every delivery
    /// and never answers "slow down", so what the notifier sends shows at the endpoints.
    #[serde(default = "enforced", skip_serializing_if = "is_enforced")]
    pub enforce: bool,
}

fn enforced() -> bool {
    true
}

/// Left out of the resolved scenario when it is the default, so that runs logged before the knob
/// existed read the same.
fn is_enforced(enforce: &bool) -> bool {
    *enforce
}

/// How long a provider over its limit asks the notifier to wait.
pub(crate) const SLOW_DOWN: Duration = Duration::from_secs(1);
/// The most retry delays a scenario may set.
pub(crate) const MAX_RETRIES: usize = 16;

/// A CDN answering `rate` of its page views and SSE subscriptions with a 503 from `from` until
/// `until` (the end of the run if absent), its host up all along.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CdnErrors {
    pub cdn: String,
    pub from: Dur,
    pub until: Option<Dur>,
    #[serde(default = "all")]
    pub rate: f64,
}

fn all() -> f64 {
    1.0
}

/// One-way latencies of the status world.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusNetwork {
    /// Viewers to CDN edges.
    pub edge: Dur,
    /// CDN edges to the regions' origins, and the harness's probes of them.
    pub origin: Dur,
    pub between_regions: Dur,
    /// DNS, notifier and subscriber endpoints to everything they talk to.
    pub internal: Dur,
    pub jitter: Dur,
}

impl Default for StatusNetwork {
    fn default() -> Self {
        let ms = |n| Dur(Duration::from_millis(n));
        StatusNetwork { edge: ms(10), origin: ms(40), between_regions: ms(60), internal: ms(30), jitter: ms(10) }
    }
}

impl Default for StatusSettings {
    fn default() -> Self {
        let c = StatusConfig::default();
        let n = NotifyConfig::default();
        StatusSettings {
            regions: ["us-east", "eu-west", "ap-south"].map(String::from).into(),
            cdns: ["cdn-a", "cdn-b", "cdn-c"].map(String::from).into(),
            sync_interval: Dur(c.sync_interval),
            clock: c.clock,
            set_rule: c.merge.set,
            lww_order: c.merge.lww,
            backup_every: c.backup_every.map(Dur),
            action: Vec::new(),
            skew: BTreeMap::new(),
            max_drift: Dur(c.max_drift),
            kv_propagation: Dur(c.kv_propagation),
            kv_refresh: Dur(c.kv_refresh),
            kv_max_age: Dur(c.kv_max_age),
            dns_check: c.dns_check,
            dns_check_interval: Dur(c.dns_check_interval),
            dns_unhealthy_after: c.dns_unhealthy_after,
            dns_ttl: Dur(c.dns_ttl),
            geo_dns: true,
            geo_check_interval: Dur(c.geo_check_interval),
            geo_ttl: Dur(c.geo_ttl),
            sse_heartbeat: Dur(c.sse_heartbeat),
            sse_max_per_ip: c.sse_max_per_ip,
            sse_max_per_edge: c.sse_max_per_edge / SSE_SCALE,
            sse_status_events: c.sse_status_events,
            page_ttl: Dur(c.page_ttl),
            coalescing: c.coalescing,
            stale_while_revalidate: c.stale_while_revalidate,
            event_dedup: n.event_dedup,
            subscribers: 20,
            notification_deadline: Dur(Duration::from_secs(120)),
            receiver_fail_rate: 0.0,
            provider: Vec::new(),
            suppress_non_critical: false,
            retry_delays: n.retry_delays_ms.iter().map(|&ms| Dur(Duration::from_millis(ms))).collect(),
            edit_every: Dur(Duration::from_secs(30)),
            edits_from: Dur(Duration::from_secs(5)),
            edits_until: None,
            viewers_per_region: 10,
            view_every: Dur(Duration::from_secs(10)),
            view_timeout: Dur(Duration::from_secs(2)),
            origin_timeout: Dur(c.origin_timeout),
            sse_viewers_per_region: 3,
            sse_ips_per_region: 3,
            sse_resume: true,
            durable_regions: true,
            queue: QueueStore::Sqlite,
            spike_from: None,
            spike_until: None,
            spike_factor: 1.0,
            probe_every: Dur(Duration::from_secs(1)),
            cdn_errors: Vec::new(),
            platform: None,
            network: StatusNetwork::default(),
        }
    }
}

impl StatusSettings {
    pub(crate) fn region_host(region: &str) -> String {
        format!("status-{region}")
    }

    pub(crate) fn viewer_host(region: &str) -> String {
        format!("viewers-{region}")
    }

    /// A problem a scenario file can have in this table, checked before anything runs (the
    /// number and duration bounds are checked earlier, by `limits`): the key and what is wrong.
    pub fn problems(&self) -> Option<(&'static str, String)> {
        if self.regions.is_empty() {
            return Some(("regions", "a status page needs at least one region".into()));
        }
        if self.cdns.is_empty() {
            return Some(("cdns", "a status page needs at least one CDN".into()));
        }
        for (key, names) in [("regions", &self.regions), ("cdns", &self.cdns)] {
            if let Some((bad, problem)) = names.iter().find_map(|n| Some((n, host_name_problem(n)?))) {
                return Some((key, format!("`{bad}` {problem}")));
            }
        }
        let mut hosts: Vec<(String, &'static str)> =
            self.regions.iter().map(|r| (Self::region_host(r), "regions")).collect();
        hosts.extend(self.viewer_hosts().into_iter().map(|h| (h, "regions")));
        hosts.extend([DNS, NOTIFIER].map(|h| (h.to_string(), "cdns")));
        hosts.extend(CHANNELS.map(|(_, h)| (h.to_string(), "cdns")));
        hosts.extend(self.cdns.iter().map(|c| (c.clone(), "cdns")));
        hosts.extend(self.platform_hosts().into_iter().map(|h| (h, "platform")));
        let mut seen = BTreeSet::new();
        if let Some((host, key)) = hosts.iter().find(|(h, _)| !seen.insert(h.as_str())) {
            return Some((*key, format!("host `{host}` is named twice; hosts are {}", self.hosts_named())));
        }
        if let Some(r) = self.skew.keys().find(|r| !self.regions.contains(r)) {
            return Some(("skew", format!("`{r}` is not a status region")));
        }
        if self.origin_timeout >= self.view_timeout {
            let problem = format!(
                "{} is not shorter than `view_timeout` ({}): with the origins down, a viewer would give up before the stale-cache tier answers",
                self.origin_timeout, self.view_timeout
            );
            return Some(("origin_timeout", problem));
        }
        if self.sse_viewers_per_region > 0 && self.sse_ips_per_region == 0 {
            return Some(("sse_ips_per_region", "must be at least 1 when there are live viewers".into()));
        }
        None
    }

    /// A channel's provider: the one `[[status.provider]]` names (an instant one that never
    /// throttles, failing `receiver_fail_rate`, when none does).
    pub(crate) fn provider_of(&self, channel: &str) -> ChannelProvider {
        self.provider.iter().find(|p| p.channel == channel).cloned().unwrap_or(ChannelProvider {
            channel: channel.to_string(),
            latency: Dur(Duration::ZERO),
            per_second: None,
            fail_rate: None,
            enforce: true,
        })
    }

    /// A problem of one `[[status.provider]]` entry or of `retry_delays`: the key, which entry
    /// has it, and what is wrong.
    pub(crate) fn notify_problem(&self) -> Option<(&'static str, usize, String)> {
        for (i, p) in self.provider.iter().enumerate() {
            if !CHANNELS.iter().any(|(c, _)| *c == p.channel) {
                let names: Vec<&str> = CHANNELS.iter().map(|(c, _)| *c).collect();
                return Some((
                    "provider.channel",
                    i,
                    format!("`{}` is not a channel; channels are {}", p.channel, names.join(", ")),
                ));
            }
            if self.provider[..i].iter().any(|q| q.channel == p.channel) {
                return Some(("provider.channel", i, format!("`{}` has a provider already", p.channel)));
            }
        }
        if self.retry_delays.len() > MAX_RETRIES {
            return Some(("retry_delays", 0, format!("at most {MAX_RETRIES} retries")));
        }
        None
    }

    /// A problem of one `[[status.cdn_errors]]` entry: the key, which entry has it (from 0, among
    /// those that set the key), and what is wrong.
    pub(crate) fn cdn_errors_problem(&self) -> Option<(&'static str, usize, String)> {
        for (i, e) in self.cdn_errors.iter().enumerate() {
            if !self.cdns.contains(&e.cdn) {
                let problem = format!("`{}` is not a CDN; CDNs are {}", e.cdn, self.cdns.join(", "));
                return Some(("cdn_errors.cdn", i, problem));
            }
            if e.until.is_some_and(|u| u <= e.from) {
                let nth = self.cdn_errors[..i].iter().filter(|e| e.until.is_some()).count();
                return Some(("cdn_errors.until", nth, format!("{} is not after `from` ({})", e.until?, e.from)));
            }
        }
        None
    }

    /// A problem of one `[[status.action]]` entry in a run of `duration`: the key, which entry has
    /// it (from 0, among those that set the key), and what is wrong.
    pub(crate) fn action_problem(&self, duration: Duration) -> Option<(&'static str, usize, String)> {
        let nth = |i: usize, set: fn(&ScriptedAction) -> bool| self.action[..i].iter().filter(|a| set(a)).count();
        for (i, a) in self.action.iter().enumerate() {
            if !self.regions.contains(&a.region) {
                let problem = format!("`{}` is not a status region; regions are {}", a.region, self.regions.join(", "));
                return Some(("action.region", i, problem));
            }
            if a.at.0 >= duration {
                return Some((
                    "action.at",
                    i,
                    format!("{} is not before the end of the run ({})", a.at, Dur(duration)),
                ));
            }
            match (a.every, a.until) {
                (Some(_), None) => {
                    return Some(("action.every", nth(i, |a| a.every.is_some()), "needs `until`".into()));
                }
                (None, Some(_)) => {
                    return Some(("action.until", nth(i, |a| a.until.is_some()), "needs `every`".into()));
                }
                (Some(_), Some(until)) if until <= a.at || until.0 >= duration => {
                    let problem = format!(
                        "{until} is not after `at` ({}) and before the end of the run ({})",
                        a.at,
                        Dur(duration)
                    );
                    return Some(("action.until", nth(i, |a| a.until.is_some()), problem));
                }
                _ => {}
            }
            let (needs, missing) = match a.kind {
                ActionKind::Post | ActionKind::Retract => ("text", a.text.is_none()),
                ActionKind::SetStatus => ("component and status", a.component.is_none() || a.status.is_none()),
                ActionKind::AddComponent | ActionKind::RemoveComponent => ("component", a.component.is_none()),
            };
            if missing {
                return Some(("action.kind", i, format!("this kind of action needs {needs}")));
            }
            let texts = [
                ("action.component", &a.component, nth(i, |a| a.component.is_some())),
                ("action.text", &a.text, nth(i, |a| a.text.is_some())),
            ];
            for (key, text, n) in texts {
                let Some(text) = text else { continue };
                if text.is_empty() || text.chars().count() > MAX_ACTION_TEXT || text.chars().any(char::is_control) {
                    let problem = format!("must be 1 to {MAX_ACTION_TEXT} characters, none a control character");
                    return Some((key, n, problem));
                }
            }
        }
        let made: usize = self.action.iter().map(|a| a.times().len()).sum();
        if made > MAX_ACTIONS_MADE {
            let problem = format!("the actions are made {made} times in all; at most {MAX_ACTIONS_MADE}");
            return Some(("action.every", 0, problem));
        }
        None
    }

    /// Every host name of the world, for error messages.
    fn hosts_named(&self) -> String {
        let mut hosts = self.node_hosts();
        hosts.extend(self.viewer_hosts());
        hosts.join(", ")
    }

    /// Hosts running system nodes (they can crash and restart), then the harness's hosts.
    pub(crate) fn node_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.regions.iter().map(|r| Self::region_host(r)).collect();
        hosts.extend(self.cdns.iter().cloned());
        hosts.extend([DNS.to_string(), NOTIFIER.to_string()]);
        hosts.extend(CHANNELS.iter().map(|(_, h)| h.to_string()));
        hosts.extend(self.platform_hosts());
        hosts
    }

    /// The monitored platform's hosts (none without a platform).
    pub(crate) fn platform_hosts(&self) -> Vec<String> {
        let n = self.platform.as_ref().map_or(0, |p| p.hosts);
        (1..=n).map(|i| format!("platform-{i}")).collect()
    }

    /// The hosts a `provider:NAME` fault target names: the platform's, and the status page's
    /// hosts on that provider when the page shares it.
    pub(crate) fn provider_hosts(&self, name: &str) -> Result<Vec<String>, String> {
        let provider = match name {
            "cloud" => Provider::Cloud,
            "cdn" => Provider::Cdn,
            "dns" => Provider::Dns,
            _ => return Err(format!("`{name}` is not a provider; providers are cloud, cdn, dns")),
        };
        let platform = self.platform.as_ref().ok_or("`provider:` needs a [status.platform] table")?;
        let mut hosts = self.platform_hosts();
        if platform.shares.contains(&provider) {
            match provider {
                Provider::Cloud => {
                    hosts.extend(self.regions.iter().map(|r| Self::region_host(r)));
                    hosts.push(NOTIFIER.to_string());
                }
                Provider::Cdn => hosts.extend(self.cdns.iter().cloned()),
                Provider::Dns => hosts.push(DNS.to_string()),
            }
        }
        Ok(hosts)
    }

    pub(crate) fn viewer_hosts(&self) -> Vec<String> {
        self.regions.iter().map(|r| Self::viewer_host(r)).collect()
    }

    /// The nodes' settings.
    pub fn config(&self) -> StatusConfig {
        let notify = NotifyConfig {
            event_dedup: self.event_dedup,
            suppress_non_critical: self.suppress_non_critical,
            retry_delays_ms: self.retry_delays.iter().map(|d| d.0.as_millis() as u64).collect(),
            ..NotifyConfig::default()
        };
        let merge = MergeRules { set: self.set_rule, lww: self.lww_order };
        StatusConfig {
            regions: self.regions.iter().map(|r| Self::region_host(r)).collect(),
            cdns: self.cdns.clone(),
            notifier: NOTIFIER.into(),
            channels: CHANNELS.iter().map(|(c, h)| (c.to_string(), h.to_string())).collect(),
            sync_interval: self.sync_interval.0,
            clock: self.clock,
            merge,
            backup_every: self.backup_every.map(|d| d.0),
            max_drift: self.max_drift.0,
            kv_refresh: self.kv_refresh.0,
            kv_propagation: self.kv_propagation.0,
            kv_max_age: self.kv_max_age.0,
            dns_check: self.dns_check,
            dns_check_interval: self.dns_check_interval.0,
            dns_unhealthy_after: self.dns_unhealthy_after,
            dns_ttl: self.dns_ttl.0,
            geo_check_interval: self.geo_check_interval.0,
            geo_ttl: self.geo_ttl.0,
            sse_heartbeat: self.sse_heartbeat.0,
            sse_max_per_ip: self.sse_max_per_ip,
            sse_max_per_edge: self.sse_max_per_edge,
            sse_status_events: self.sse_status_events,
            page_ttl: self.page_ttl.0,
            coalescing: self.coalescing,
            stale_while_revalidate: self.stale_while_revalidate,
            origin_timeout: self.origin_timeout.0,
            notify,
            ..StatusConfig::default()
        }
    }

    /// The page-view rate multiplier at `t`.
    pub(crate) fn spike_at(&self, t: Duration) -> f64 {
        match (self.spike_from, self.spike_until) {
            (Some(from), Some(until)) if t >= from.0 && t < until.0 => self.spike_factor,
            (Some(from), None) if t >= from.0 => self.spike_factor,
            _ => 1.0,
        }
    }
}
