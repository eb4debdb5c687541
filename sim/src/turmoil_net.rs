//! The turmoil backend of the network seam: node code's sockets are turmoil's simulated TCP.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use edgesim_system::net::{Listener, Net};
use turmoil::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilNet;

pub struct TurmoilListener(TcpListener);

impl Listener for TurmoilListener {
    type Stream = TcpStream;
    async fn accept(&mut self) -> io::Result<(TcpStream, String)> {
        let (stream, addr) = self.0.accept().await?;
        let peer = turmoil::reverse_lookup(addr.ip()).unwrap_or_else(|| addr.ip().to_string());
        Ok((stream, peer))
    }
}

impl Net for TurmoilNet {
    type Stream = TcpStream;
    type Listener = TurmoilListener;
    async fn bind(&self, port: u16) -> io::Result<TurmoilListener> {
        Ok(TurmoilListener(TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).await?))
    }
    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect((host, port)).await
    }
}
