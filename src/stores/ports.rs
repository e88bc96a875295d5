//! Free loopback ports for the servers archbench starts.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};

use super::StoreError;

/// Hands out distinct free ports on 127.0.0.1. A port is free when it can be bound;
/// another process may still take it before the server binds it, which is why every
/// server's start is verified afterwards (SeaweedFS refuses a taken explicit port,
/// PostgreSQL logs "could not bind").
#[derive(Default)]
pub struct PortPicker {
    given: HashSet<u16>,
}

impl PortPicker {
    /// A free port not handed out before by this picker.
    pub fn pick(&mut self) -> Result<u16, StoreError> {
        for _ in 0..64 {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(StoreError::io("binding a free loopback port"))?;
            let port = listener
                .local_addr()
                .map_err(StoreError::io("reading a bound port"))?
                .port();
            if self.given.insert(port) {
                return Ok(port);
            }
        }
        Err(StoreError::Usage(
            "could not find a free loopback port".into(),
        ))
    }

    /// The requested port if it is free, else [`StoreError::PortTaken`].
    pub fn require(&mut self, store: &str, port: u16) -> Result<u16, StoreError> {
        if self.given.contains(&port) || !is_free(port) {
            return Err(StoreError::PortTaken {
                store: store.into(),
                port,
            });
        }
        self.given.insert(port);
        Ok(port)
    }

    /// `requested` when given (and free), else a free port.
    pub fn pick_or_require(
        &mut self,
        store: &str,
        requested: Option<u16>,
    ) -> Result<u16, StoreError> {
        match requested {
            Some(p) => self.require(store, p),
            None => self.pick(),
        }
    }
}

/// Whether 127.0.0.1:`port` can be bound right now.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_bindable_ports() {
        let mut p = PortPicker::default();
        let ports: Vec<u16> = (0..12).map(|_| p.pick().unwrap()).collect();
        let unique: HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|&port| is_free(port)));
    }

    #[test]
    fn refuses_a_taken_port() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = PortPicker::default()
            .require("PostgreSQL", port)
            .unwrap_err();
        assert!(matches!(err, StoreError::PortTaken { port: p, .. } if p == port));
        assert!(err.to_string().contains(&format!("port {port}")));
    }
}
