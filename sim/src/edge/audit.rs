//! The final audit: after the workload and the settle period, the harness asks the control plane
//! which node is primary, and every database node for its replicated content and records a digest
//! it computes itself (over every row with the generation and LSN that wrote it, so the same values
//! written by different histories differ), plus the writes the node holds. Convergence and lost
//! writes are judged from these records.

use std::time::Duration;

use edgesim_system::edge::proto::{
    CONTROL_PORT, ControlMsg, ControlReply, POP_PORT, PRIMARY_PORT, Request, Response, Route,
};
use edgesim_system::edge::store::Content;
use edgesim_system::net::Net;
use edgesim_system::wire;
use tokio::time::timeout;

use crate::events::{FinalOutcome, HarnessEvent};
use crate::log::HostTelemetry;
use crate::scenario::roles::EdgeRole;

/// Records the control plane's route, then audits `nodes` (host names; the database nodes answer
/// on their request port), over the auditing host's sockets `net`.
pub async fn audit<N: Net>(net: &N, nodes: &[String], control: &str, telemetry: &HostTelemetry) {
    let route = match timeout(Duration::from_secs(3), route(net, control)).await {
        Ok(Ok(route)) => Some(route),
        _ => None,
    };
    telemetry.harness(HarnessEvent::FinalRoute { route });
    for node in nodes {
        let port = if EdgeRole::is_pop(node) { POP_PORT } else { PRIMARY_PORT };
        let outcome = match timeout(Duration::from_secs(3), dump(net, node, port)).await {
            Ok(Ok(o)) => o,
            Ok(Err(reason)) => FinalOutcome::Unreachable { reason },
            Err(_) => FinalOutcome::Unreachable { reason: "no answer within 3s".into() },
        };
        telemetry.harness(HarnessEvent::FinalState { of: node.clone(), outcome });
    }
}

async fn route<N: Net>(net: &N, control: &str) -> Result<Route, String> {
    let mut conn = net.connect(control, CONTROL_PORT).await.map_err(|e| e.to_string())?;
    wire::send(&mut conn, &ControlMsg::GetRoute).await.map_err(|e| e.to_string())?;
    match wire::recv(&mut conn).await.map_err(|e| e.to_string())? {
        ControlReply::Route(route) => Ok(route),
        other => Err(format!("unexpected answer to a route request: {other:?}")),
    }
}

async fn dump<N: Net>(net: &N, node: &str, port: u16) -> Result<FinalOutcome, String> {
    let mut conn = net.connect(node, port).await.map_err(|e| e.to_string())?;
    wire::send(&mut conn, &Request::Dump).await.map_err(|e| e.to_string())?;
    match wire::recv(&mut conn).await.map_err(|e| e.to_string())? {
        Response::Dump { content, position } => Ok(FinalOutcome::Audited {
            lsn: position.lsn,
            digest: digest(&content)?,
            rows: content.writes.len() + content.kv.len(),
            writes: content.writes.iter().map(|w| (w.0, w.1)).collect(),
        }),
        other => Err(format!("unexpected answer to dump: {other:?}")),
    }
}

/// The content's digest: xxh3 of its JSON, every row with its generation and LSN.
fn digest(content: &Content) -> Result<String, String> {
    let bytes = serde_json::to_vec(content).map_err(|e| e.to_string())?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_rows_written_by_different_histories_have_different_digests() {
        // Issue 11: the digest covered each row's values only, so a node whose write (1, 1) came
        // from generation 1 at LSN 1 and one that got the same write replayed by generation 2 at
        // LSN 5 were judged converged (equal digests before). The rows' generation and LSN are
        // now in the digest: different after, equal again for the same history.
        let content = |generation, lsn| Content {
            writes: vec![(1, 1, "k".into(), vec![7], generation, lsn)],
            kv: vec![("k".into(), 1, 1, 1, generation, lsn, vec![7])],
        };
        assert_ne!(digest(&content(1, 1)), digest(&content(2, 5)));
        assert_eq!(digest(&content(1, 1)), digest(&content(1, 1)));
    }
}
