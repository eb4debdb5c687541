//! Inter-host packet routing.
//!
//! `Fabric` is a pure router: it owns the host registry and exposes
//! `egress_all` / `deliver` as primitives.

use std::io::{Error, ErrorKind};
use std::net::IpAddr;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use crate::kernel::{Kernel, KernelConfig, Packet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostId(u32);

#[derive(Debug)]
pub struct Host {
    #[allow(dead_code)]
    pub addrs: Vec<IpAddr>,
    pub kernel: Kernel,
}

#[derive(Debug)]
pub struct Fabric {
    hosts: IndexMap<HostId, Host, FxBuildHasher>,
    ip_to_host: IndexMap<IpAddr, HostId, FxBuildHasher>,
    next_id: u32,
    default_cfg: KernelConfig,
}

impl Fabric {
    pub fn new(cfg: KernelConfig) -> Self {
        Self {
            hosts: IndexMap::default(),
            ip_to_host: IndexMap::default(),
            next_id: 0,
            default_cfg: cfg,
        }
    }

    /// Loopback is implicit; passing it explicitly panics. Panics
    /// if any address is already claimed.
    pub fn add_host(&mut self, addrs: Vec<IpAddr>) -> HostId {
        self.try_add_host(addrs)
            .expect("add_host validation failed")
    }

    fn try_add_host(&mut self, addrs: Vec<IpAddr>) -> std::io::Result<HostId> {
        for a in &addrs {
            if a.is_loopback() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "loopback is implicit; do not register it explicitly",
                ));
            }
            if self.ip_to_host.contains_key(a) {
                return Err(Error::from(ErrorKind::AddrInUse));
            }
        }

        let id = HostId(self.next_id);
        self.next_id += 1;

        let mut kernel = Kernel::with_config(self.default_cfg.clone());
        for a in &addrs {
            kernel.add_address(*a);
        }
        for a in &addrs {
            self.ip_to_host.insert(*a, id);
        }
        self.hosts.insert(id, Host { addrs, kernel });
        Ok(id)
    }

    pub fn host_ids(&self) -> impl Iterator<Item = HostId> + '_ {
        self.hosts.keys().copied()
    }

    pub fn kernel_mut(&mut self, id: HostId) -> &mut Kernel {
        &mut self
            .hosts
            .get_mut(&id)
            .expect("HostId points at a live host")
            .kernel
    }

    pub fn kernel(&self, id: HostId) -> &Kernel {
        &self
            .hosts
            .get(&id)
            .expect("HostId points at a live host")
            .kernel
    }

    /// Reverse the IP→host mapping. Returns `None` for loopback (which
    /// every host implicitly owns) and for unclaimed IPs.
    pub fn host_for_ip(&self, ip: IpAddr) -> Option<HostId> {
        self.ip_to_host.get(&ip).copied()
    }

    /// Drain outbound packets from every host, in host-insertion order,
    /// appending to `out`. The caller decides what happens to each
    /// packet — deliver, drop, schedule for later — and reuses the
    /// buffer across ticks. Loopback packets fold back through the
    /// source host's `deliver` inline (inside `Kernel::egress`) and
    /// never appear in `out`.
    pub fn egress_all(&mut self, out: &mut Vec<Packet>) {
        for host in self.hosts.values_mut() {
            host.kernel.egress(out);
        }
    }

    /// Drain one host's outbound packets, appending to `out`: what
    /// `egress_all` does for that host alone. A harness that knows
    /// which hosts ran or received packets drains only those, so the
    /// cost follows traffic rather than every socket of every host.
    pub fn egress(&mut self, id: HostId, out: &mut Vec<Packet>) {
        self.hosts
            .get_mut(&id)
            .expect("HostId points at a live host")
            .kernel
            .egress(out);
    }

    /// Route a packet to the host bound to its destination IP. Drops
    /// silently if the destination isn't registered — matches real-
    /// world "packet hit an unreachable address" behavior, and keeps
    /// the harness free of routing concerns.
    pub fn deliver(&mut self, pkt: Packet) {
        if let Some(&dst) = self.ip_to_host.get(&pkt.dst) {
            self.hosts.get_mut(&dst).unwrap().kernel.deliver(pkt);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::task::{Context, Waker};

    use super::*;
    use crate::kernel::{Addr, Type};

    #[test]
    fn one_hosts_egress_drains_only_that_host() {
        let a_ip: IpAddr = "10.0.0.1".parse().unwrap();
        let b_ip: IpAddr = "10.0.0.2".parse().unwrap();
        let mut fabric = Fabric::new(KernelConfig::default());
        let a = fabric.add_host(vec![a_ip]);
        let b = fabric.add_host(vec![b_ip]);
        let kernel = fabric.kernel_mut(a);
        let fd = kernel
            .bind(&Addr::Inet(SocketAddr::new(a_ip, 5000)), Type::Dgram)
            .unwrap();
        let to = Addr::Inet(SocketAddr::new(b_ip, 6000));
        let sent = kernel.poll_send_to(fd, &mut Context::from_waker(Waker::noop()), b"hi", &to);
        assert!(matches!(sent, std::task::Poll::Ready(Ok(2))));

        let mut out = Vec::new();
        fabric.egress(b, &mut out);
        assert!(out.is_empty(), "b sent nothing");
        fabric.egress(a, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].src, out[0].dst), (a_ip, b_ip));
        fabric.egress_all(&mut out);
        assert_eq!(out.len(), 1, "a's packet left once");
    }
}
