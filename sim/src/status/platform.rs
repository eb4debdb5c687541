//! The platform the status page reports on (docs/DESIGN.md, Independence): its own hosts, each an
//! application server that answers a health request, and the operators' monitor, run on the first
//! region's user host, which checks them every second. When no platform host answers the platform
//! is down: the monitor logs `platform_health` and the region's operator posts a critical incident
//! update about it; when one answers again, another saying it recovered.

use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::{Listener, Net};
use edgesim_system::status::proto::Edit;
use edgesim_system::wire;
use tokio::task::spawn_local;
use tokio::time::sleep;

use super::users::{Users, call, submit};
use crate::events::HarnessEvent;
use crate::log::now;
use crate::net::HostResult;

/// The platform's application port.
pub(crate) const APP_PORT: u16 = 7000;
/// How often, and within how long, the monitor checks each platform host.
pub(crate) const MONITOR_EVERY: Duration = Duration::from_secs(1);

/// A health request and its answer.
const PING: &str = "health";
const PONG: &str = "ok";

/// A platform host: answers every health request until the host stops.
pub(crate) async fn app<N: Net>(net: N) -> HostResult {
    let mut listener = net.bind(APP_PORT).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        spawn_local(async move {
            if let Ok(request) = wire::recv::<_, String>(&mut stream).await
                && request == PING
            {
                let _ = wire::send(&mut stream, &PONG.to_string()).await;
            }
        });
    }
}

/// The operators' monitor: checks every platform host each second until the end, and reports the
/// platform down (no host answered) or up again through this region's operator.
pub async fn monitor<N: Net>(users: Rc<Users<N>>, hosts: Vec<String>) {
    let mut up = true;
    while now() < users.end {
        let mut answered = false;
        for host in &hosts {
            answered |= call::<_, _, String>(&users.net, host, APP_PORT, &PING.to_string(), MONITOR_EVERY)
                .await
                .is_ok_and(|r| r == PONG);
        }
        if answered != up {
            up = answered;
            let report = users.next_id();
            users.telemetry.harness(HarnessEvent::PlatformHealth { up, report });
            let text = if up {
                "Resolved: the platform is reachable again"
            } else {
                "Investigating: the platform is unreachable"
            };
            let host = users.origin().await;
            submit(&users, &host, report, Edit::Post { text: text.into(), critical: true }, None, false).await;
        }
        sleep(MONITOR_EVERY).await;
    }
}
