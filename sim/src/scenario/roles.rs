//! The edge platform's hosts by what they are: the one place that names a region's hosts
//! (`Scenario::parse`) and reads what a host is back from its name (in events, fault targets and
//! the final audit).

pub const PRIMARY: &str = "primary";
pub const STANDBY: &str = "standby";
pub const CONTROL: &str = "control";
/// The upstream service streamed pages call (`[ssr.upstream]`).
pub const UPSTREAM: &str = "upstream";

/// What an edge platform host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EdgeRole<'a> {
    Primary,
    Standby,
    Control,
    /// The upstream service, one for the world.
    Upstream,
    /// A region's distributor, `dist-REGION`.
    Distributor {
        region: &'a str,
    },
    /// A region's `n`-th PoP, `pop-REGION-N`.
    Pop {
        region: &'a str,
        n: u32,
    },
    /// A region's client host, `clients-REGION`.
    Clients {
        region: &'a str,
    },
}

impl<'a> EdgeRole<'a> {
    /// What the host named `host` is; `None`: no host of the edge platform.
    pub fn of(host: &'a str) -> Option<EdgeRole<'a>> {
        let pop = |rest: &'a str| {
            let (region, n) = rest.rsplit_once('-')?;
            Some(EdgeRole::Pop { region, n: n.parse().ok()? })
        };
        match host {
            PRIMARY => Some(EdgeRole::Primary),
            STANDBY => Some(EdgeRole::Standby),
            CONTROL => Some(EdgeRole::Control),
            UPSTREAM => Some(EdgeRole::Upstream),
            _ => {
                if let Some(region) = host.strip_prefix("dist-") {
                    Some(EdgeRole::Distributor { region })
                } else if let Some(region) = host.strip_prefix("clients-") {
                    Some(EdgeRole::Clients { region })
                } else {
                    host.strip_prefix("pop-").and_then(pop)
                }
            }
        }
    }

    /// Whether `host` is a PoP (a replica that answers clients).
    pub(crate) fn is_pop(host: &str) -> bool {
        matches!(EdgeRole::of(host), Some(EdgeRole::Pop { .. }))
    }

    /// The host's name.
    pub fn host(self) -> String {
        match self {
            EdgeRole::Primary => PRIMARY.into(),
            EdgeRole::Standby => STANDBY.into(),
            EdgeRole::Control => CONTROL.into(),
            EdgeRole::Upstream => UPSTREAM.into(),
            EdgeRole::Distributor { region } => format!("dist-{region}"),
            EdgeRole::Pop { region, n } => format!("pop-{region}-{n}"),
            EdgeRole::Clients { region } => format!("clients-{region}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every role's host name reads back as that role, regions with dashes included, and a
    /// name no region makes is no edge host.
    #[test]
    fn a_host_name_reads_back_as_its_role() {
        for role in [
            EdgeRole::Primary,
            EdgeRole::Standby,
            EdgeRole::Control,
            EdgeRole::Upstream,
            EdgeRole::Distributor { region: "eu-west" },
            EdgeRole::Pop { region: "eu-west", n: 12 },
            EdgeRole::Clients { region: "pop-a" },
        ] {
            assert_eq!(EdgeRole::of(&role.host()), Some(role));
        }
        assert_eq!(EdgeRole::of("pop-a"), None);
        assert_eq!(EdgeRole::of("dns"), None);
        assert!(EdgeRole::is_pop("pop-us-1") && !EdgeRole::is_pop("dist-pop-1"));
    }
}
