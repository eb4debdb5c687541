//! Handshakes a server answered and its peer has not completed, for one defect of turmoil-net
//! 0.1.0: a RST that reaches a connection still handshaking (`SynReceived`) marks it closed but
//! never removes it. It has no file descriptor to close, and its listener, when it closes, collects
//! only the connections still handshaking or waiting to be accepted. The leftover keeps the
//! listener's port bound for good, so a host restarted after it could never bind that port again.
//! It happens when a client gives up connecting (during a partition, say), drops its socket, and
//! its SYN reaches the server late: the client answers the server's SYN-ACK with a RST.
//!
//! The driver delivers such a RST right after an ACK that completes the handshake, so the
//! connection waits in its listener's accept queue, reset. A listener that accepts it hands its
//! software a connection that reads as reset (a real stack would drop it before accept); a
//! listener that closes collects it. Either way it leaves the socket table.

use std::collections::BTreeMap;
use std::net::IpAddr;

use turmoil_net::{TcpFlags, TcpSegment};

/// A connection one way: (source address and port, destination address and port).
pub(super) type Connection = (IpAddr, u16, IpAddr, u16);

/// The server sides of handshakes in progress, with the acknowledgement that completes each.
#[derive(Default)]
pub(super) struct Handshakes {
    open: BTreeMap<Connection, u32>,
}

impl Handshakes {
    /// Notes a segment a host sent on `connection`.
    pub(super) fn sent(&mut self, connection: Connection, segment: &TcpSegment) {
        let (src, src_port, dst, dst_port) = connection;
        if segment.flags.syn && segment.flags.ack {
            self.open.insert(connection, segment.seq.wrapping_add(1));
        } else if segment.flags.rst {
            // The server gave the handshake up itself.
            self.open.remove(&connection);
        } else if segment.flags.ack {
            // The client completed it.
            self.open.remove(&(dst, dst_port, src, src_port));
        }
    }

    /// The segment to deliver before `segment`, arriving on `connection`: the ACK completing the
    /// handshake a RST would otherwise abort half-way.
    pub(super) fn completing(&mut self, connection: Connection, segment: &TcpSegment) -> Option<TcpSegment> {
        if !segment.flags.rst {
            return None;
        }
        let (src, src_port, dst, dst_port) = connection;
        let ack = self.open.remove(&(dst, dst_port, src, src_port))?;
        Some(TcpSegment {
            src_port: segment.src_port,
            dst_port: segment.dst_port,
            seq: segment.seq,
            ack,
            flags: TcpFlags { ack: true, ..TcpFlags::default() },
            window: u16::MAX,
            payload: Default::default(),
        })
    }

    /// Forgets the handshakes `host` answered (it crashed or restarted).
    pub(super) fn forget(&mut self, host: IpAddr) {
        self.open.retain(|(server, ..), _| *server != host);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn segment(flags: TcpFlags, seq: u32) -> TcpSegment {
        TcpSegment { src_port: 0, dst_port: 0, seq, ack: 0, flags, window: 0, payload: Default::default() }
    }

    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const TO_CLIENT: Connection = (SERVER, 80, CLIENT, 5000);
    const TO_SERVER: Connection = (CLIENT, 5000, SERVER, 80);

    #[test]
    fn a_reset_of_an_answered_handshake_comes_after_the_ack_that_completes_it() {
        // Goal: only a RST for a handshake the server answered and the client never completed is
        // preceded by an ACK, and that ACK acknowledges the server's SYN-ACK.
        let (syn_ack, ack, rst) = (
            TcpFlags { syn: true, ack: true, ..TcpFlags::default() },
            TcpFlags { ack: true, ..TcpFlags::default() },
            TcpFlags { rst: true, ..TcpFlags::default() },
        );
        let mut h = Handshakes::default();
        assert!(h.completing(TO_SERVER, &segment(rst, 7)).is_none(), "no handshake answered");
        h.sent(TO_CLIENT, &segment(syn_ack, 41));
        assert!(h.completing(TO_SERVER, &segment(ack, 7)).is_none(), "not a reset");
        let before = h.completing(TO_SERVER, &segment(rst, 7)).expect("an ACK first");
        assert_eq!((before.seq, before.ack, before.flags), (7, 42, ack));
        assert!(h.completing(TO_SERVER, &segment(rst, 7)).is_none(), "once");

        h.sent(TO_CLIENT, &segment(syn_ack, 41));
        h.sent(TO_SERVER, &segment(rst, 7));
        assert!(h.completing(TO_SERVER, &segment(rst, 7)).is_some(), "the client's own reset is still to arrive");
        h.sent(TO_CLIENT, &segment(syn_ack, 41));
        h.sent(TO_SERVER, &segment(ack, 7));
        assert!(h.completing(TO_SERVER, &segment(rst, 8)).is_none(), "the client completed it");

        h.sent(TO_CLIENT, &segment(syn_ack, 41));
        h.forget(SERVER);
        assert!(h.completing(TO_SERVER, &segment(rst, 8)).is_none(), "the server restarted");
    }
}
