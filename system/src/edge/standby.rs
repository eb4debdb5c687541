//! The standby (DESIGN.md, System A: "a primary with a standby"): follows the primary's stream
//! directly and unbatched, acknowledging each frame it holds so a synchronous primary can
//! acknowledge the write. It keeps the primary's frame retention so it could serve followers if
//! promoted. It answers only the harness's audit on the request port.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use tokio::task::spawn_local;

use super::follower::Follower;
use super::node::{Ctx, dump, reject};
use super::proto::{PRIMARY_PORT, REPL_PORT, Request, Response};
use super::store::Store;
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire;

/// Runs the standby until its host stops.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>, store: Rc<RefCell<Store>>) -> io::Result<()> {
    let mut listener = ctx.net.bind(PRIMARY_PORT).await?;
    let follower = Follower::new(ctx.clone(), store, (ctx.config.primary.clone(), REPL_PORT), true);
    ctx.emit(NodeEvent::Started { role: "standby", lsn: *follower.applied.borrow() });
    spawn_local(follower.clone().run());
    loop {
        let (mut stream, peer) = listener.accept().await?;
        let follower = follower.clone();
        spawn_local(async move {
            loop {
                let response = match wire::recv::<_, Request>(&mut stream).await {
                    Ok(Request::Dump) => dump(&follower.store.borrow()),
                    Ok(_) => Response::Error("the standby does not serve requests".into()),
                    Err(e) => return reject(&follower.ctx, &peer, e),
                };
                if wire::send(&mut stream, &response).await.is_err() {
                    return;
                }
            }
        });
    }
}
