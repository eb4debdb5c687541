//! The control plane (docs/DESIGN.md, Primary loss: health checks every 5 s, failure confirmed at
//! 15 s, failover at 30 s: fence the old primary, promote the standby, announce the new route).
//! It runs on a host of its own and is the source of truth for the route.

use std::io;
use std::rc::Rc;

use tokio::task::spawn_local;
use tokio::time::{Instant, MissedTickBehavior, interval};

use super::node::Ctx;
use super::proto::{ControlMsg, ControlReply, Role, Route};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};

/// What the control plane believes about the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Healthy,
    /// Health checks are failing; `misses` in a row so far.
    Suspect {
        misses: u32,
    },
    /// Failure confirmed at `at`; failover is due `failover_after` later.
    Confirmed {
        at: Instant,
    },
    /// Failover was due but nothing could be promoted; it is retried at every check.
    Stuck,
}

/// Runs the control plane; `nodes` are told of every new route.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>, nodes: Vec<String>) -> io::Result<()> {
    ctx.emit(NodeEvent::Started { role: NodeRole::Control, lsn: 0 });
    let route = ctx.route.clone();
    spawn_local(ctx.clone().serve_control(move |msg| match msg {
        ControlMsg::GetRoute => ControlReply::Route(route.borrow().clone()),
        other => ControlReply::Refused(format!("the control plane does not handle {other:?}")),
    }));
    let f = &ctx.config.failover;
    let mut tick = interval(f.health_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut phase = Phase::Healthy;
    let mut unannounced: Vec<String> = Vec::new();
    loop {
        tick.tick().await;
        let route = ctx.route.borrow().clone();
        let health = ctx.control(&route.primary, &ControlMsg::Health(route.clone())).await;
        let healthy = matches!(health, Ok(ControlReply::Healthy { role: Role::Primary, .. }));
        // Failover is due once confirmation has aged, and retried while nothing could be promoted.
        let due = match phase {
            Phase::Confirmed { at } => at.elapsed() >= f.failover_after,
            Phase::Stuck => true,
            Phase::Healthy | Phase::Suspect { .. } => false,
        };
        phase = match (phase, healthy) {
            (Phase::Healthy, true) => Phase::Healthy,
            (_, true) => {
                ctx.emit(NodeEvent::HealthRecovered { primary: route.primary.clone() });
                Phase::Healthy
            }
            (Phase::Healthy | Phase::Suspect { .. }, false) => {
                let misses = if let Phase::Suspect { misses } = phase { misses + 1 } else { 1 };
                let reason = match health {
                    Ok(reply) => format!("answered {reply:?}"),
                    Err(e) => e,
                };
                ctx.emit(NodeEvent::HealthMissed {
                    primary: route.primary.clone(),
                    misses,
                    of: f.confirm_after,
                    reason,
                });
                if misses >= f.confirm_after {
                    ctx.emit(NodeEvent::FailureConfirmed { primary: route.primary.clone() });
                    Phase::Confirmed { at: Instant::now() }
                } else {
                    Phase::Suspect { misses }
                }
            }
            (_, false) if due => match fail_over(&ctx, &route).await {
                Some(new) => {
                    unannounced = nodes.clone();
                    ctx.route.send_replace(new);
                    Phase::Healthy
                }
                None => Phase::Stuck,
            },
            (phase, false) => phase,
        };
        if !unannounced.is_empty() {
            unannounced = announce(&ctx, unannounced, nodes.len()).await;
        }
    }
}

/// Fences the old primary, promotes the other database node, and returns the new route; `None` if
/// the candidate cannot be promoted.
async fn fail_over<N: Net, T: Telemetry>(ctx: &Ctx<N, T>, old: &Route) -> Option<Route> {
    let c = &ctx.config;
    let candidate = if old.primary == c.primary { c.standby.clone() } else { c.primary.clone() };
    let fenced = ctx.control(&old.primary, &ControlMsg::Fence { generation: old.generation }).await;
    ctx.emit(NodeEvent::Fenced {
        primary: old.primary.clone(),
        generation: old.generation,
        acknowledged: matches!(fenced, Ok(ControlReply::Done)),
    });
    let generation = old.generation + 1;
    match ctx.control(&candidate, &ControlMsg::Promote { generation }).await {
        Ok(ControlReply::Done) => {
            ctx.emit(NodeEvent::Promoted { host: candidate.clone(), generation });
            Some(Route { primary: candidate, generation })
        }
        Ok(reply) => {
            ctx.emit(NodeEvent::PromotionImpossible { reason: format!("{candidate} answered {reply:?}") });
            None
        }
        Err(e) => {
            ctx.emit(NodeEvent::PromotionImpossible { reason: format!("{candidate}: {e}") });
            None
        }
    }
}

/// Tells `pending` nodes the route, all at once; returns those that did not hear it, to retry.
/// Reports the first round and every round that reached someone new.
async fn announce<N: Net, T: Telemetry>(ctx: &Ctx<N, T>, pending: Vec<String>, of: usize) -> Vec<String> {
    let route = ctx.route.borrow().clone();
    let msg = Rc::new(ControlMsg::Route(route.clone()));
    let tasks: Vec<_> = pending
        .into_iter()
        .map(|node| {
            let (ctx, msg) = (ctx.clone(), msg.clone());
            spawn_local(async move {
                let reached = matches!(ctx.control(&node, &msg).await, Ok(ControlReply::Done));
                (node, reached)
            })
        })
        .collect();
    let before = tasks.len();
    let mut missed = Vec::new();
    for task in tasks {
        if let Ok((node, false)) = task.await {
            missed.push(node);
        }
    }
    if missed.len() < before || before == of {
        ctx.emit(NodeEvent::RouteAnnounced { generation: route.generation, reached: of - missed.len(), of });
    }
    missed
}
