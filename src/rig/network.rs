//! Network profiles (`deployments/networks.toml`): the distance between the systems
//! and each store, played by a [`DelayProxy`](super::proxy::DelayProxy) per store.
//! `loopback` (no entry for any store) runs without proxies.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::proxy::{DelayProxy, Link, Overhead};
use crate::input::InputError;

/// The default profiles file.
pub const NETWORKS_FILE: &str = "deployments/networks.toml";

/// The stores a profile can put at a distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// The systems to PostgreSQL.
    Postgres,
    /// The systems to the S3-compatible store.
    ObjectStore,
    /// The app to the workflow service's API and the service back to the app's
    /// function endpoint (Inngest Cloud).
    Workflow,
}

impl Hop {
    /// Every hop.
    pub const ALL: [Hop; 3] = [Hop::Postgres, Hop::ObjectStore, Hop::Workflow];

    /// Its key in the profiles file.
    pub fn key(self) -> &'static str {
        match self {
            Hop::Postgres => "postgres",
            Hop::ObjectStore => "object_store",
            Hop::Workflow => "workflow",
        }
    }
}

/// One named profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkProfile {
    /// Its name (`same-region`).
    pub name: String,
    /// What it stands for.
    pub description: String,
    /// Where its figures come from.
    pub source: String,
    /// The hops it delays; a hop left out is loopback.
    pub links: BTreeMap<Hop, Link>,
}

impl NetworkProfile {
    /// No proxy anywhere.
    pub fn is_loopback(&self) -> bool {
        self.links.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    description: String,
    source: String,
    postgres: Option<Spanned<RawLink>>,
    object_store: Option<Spanned<RawLink>>,
    workflow: Option<Spanned<RawLink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    rtt_ms: f64,
    #[serde(default)]
    jitter_sigma: f64,
    bandwidth_bytes_per_s: Option<f64>,
}

/// Every profile of a file.
#[derive(Debug, Clone)]
pub struct Networks {
    profiles: BTreeMap<String, NetworkProfile>,
}

impl Networks {
    /// Reads and checks a profiles file: a bad figure is named by line, column and field.
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let src = InputError::read(path)?;
        let raw: BTreeMap<String, RawProfile> =
            toml::from_str(&src).map_err(|e| InputError::toml(&src, path, &e, "network"))?;
        let mut profiles = BTreeMap::new();
        for (name, p) in raw {
            let mut links = BTreeMap::new();
            for (hop, link) in [
                (Hop::Postgres, p.postgres),
                (Hop::ObjectStore, p.object_store),
                (Hop::Workflow, p.workflow),
            ] {
                let Some(link) = link else { continue };
                let span = link.span();
                let raw = link.into_inner();
                let link = Link {
                    rtt_ms: raw.rtt_ms,
                    jitter_sigma: raw.jitter_sigma,
                    bandwidth_bytes_per_s: raw.bandwidth_bytes_per_s,
                };
                link.check().map_err(|message| {
                    let (field, message) = message.split_once(": ").unwrap_or(("", &message));
                    InputError::at(
                        &src,
                        path,
                        span.start,
                        format!("{name}.{}.{field}", hop.key()),
                        message,
                    )
                })?;
                links.insert(hop, link);
            }
            profiles.insert(
                name.clone(),
                NetworkProfile {
                    name,
                    description: p.description,
                    source: p.source,
                    links,
                },
            );
        }
        Ok(Self { profiles })
    }

    /// The profile called `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&NetworkProfile, String> {
        self.profiles.get(name).ok_or_else(|| {
            format!(
                "unknown network `{name}`; known: {}",
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// A profile in play for one run: the proxies it started, kept until the run ends.
pub struct Network {
    profile: NetworkProfile,
    proxies: Mutex<Vec<(Hop, DelayProxy)>>,
}

/// What results record of the network: the profile and the proxies' own lateness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// The profile.
    pub profile: NetworkProfile,
    /// Per hop, how late the proxies delivered against their deadlines.
    pub proxy_overhead: BTreeMap<Hop, Overhead>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// A network for `profile`; no proxy runs until [`Network::proxied_url`] asks.
    pub fn new(profile: NetworkProfile) -> Arc<Self> {
        Arc::new(Self {
            profile,
            proxies: Mutex::new(Vec::new()),
        })
    }

    /// The profile.
    pub fn profile(&self) -> &NetworkProfile {
        &self.profile
    }

    /// `url` with its `host:port` replaced by a proxy's that plays `hop`'s link (the
    /// URL unchanged when the hop is on loopback).
    pub fn proxied_url(&self, hop: Hop, url: &str) -> std::io::Result<String> {
        let Some(link) = self.profile.links.get(&hop) else {
            return Ok(url.to_string());
        };
        let (start, end) = authority_span(url).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{}: no host:port in the URL", hop.key()),
            )
        })?;
        let upstream: SocketAddr = url[start..end]
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{}: no address", hop.key())))?;
        let proxy = DelayProxy::start(upstream, *link)?;
        let proxied = format!("{}{}{}", &url[..start], proxy.address(), &url[end..]);
        self.proxies.lock().expect("proxies").push((hop, proxy));
        Ok(proxied)
    }

    /// The profile and the proxies' lateness so far, per hop.
    pub fn info(&self) -> NetworkInfo {
        let mut by_hop: BTreeMap<Hop, Vec<Overhead>> = BTreeMap::new();
        for (hop, proxy) in self.proxies.lock().expect("proxies").iter() {
            by_hop.entry(*hop).or_default().push(proxy.overhead());
        }
        NetworkInfo {
            profile: self.profile.clone(),
            proxy_overhead: by_hop
                .into_iter()
                .map(|(hop, all)| (hop, Overhead::worst_of(&all)))
                .collect(),
        }
    }
}

/// Byte range of `host:port` in `scheme://[user[:password]@]host:port/...`.
fn authority_span(url: &str) -> Option<(usize, usize)> {
    let after_scheme = url.find("://")? + 3;
    let rest = &url[after_scheme..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let start = rest[..end].rfind('@').map_or(0, |at| at + 1);
    rest[start..end]
        .contains(':')
        .then_some((after_scheme + start, after_scheme + end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profiles_load() {
        let n = Networks::load(Path::new(NETWORKS_FILE)).unwrap();
        assert!(n.get("loopback").unwrap().is_loopback());
        let same = n.get("same-region").unwrap();
        assert_eq!(same.links.len(), 3);
        assert!(n.get("cross-cloud").is_ok());
        let e = n.get("moon").unwrap_err();
        assert!(
            e.contains("known: cross-cloud, loopback, same-region"),
            "{e}"
        );
    }

    #[test]
    fn the_authority_is_found_past_the_password() {
        let url = "postgres://u:p@ss@127.0.0.1:5432/db?sslmode=disable";
        let (a, b) = authority_span(url).unwrap();
        assert_eq!(&url[a..b], "127.0.0.1:5432");
        let url = "http://127.0.0.1:8333";
        let (a, b) = authority_span(url).unwrap();
        assert_eq!(&url[a..b], "127.0.0.1:8333");
        assert_eq!(authority_span("http://example/x"), None);
    }

    #[test]
    fn a_bad_figure_is_named_by_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n.toml");
        std::fs::write(
            &p,
            "[far]\ndescription = \"x\"\nsource = \"y\"\npostgres = { rtt_ms = -3 }\n",
        )
        .unwrap();
        let e = Networks::load(&p).unwrap_err().to_string();
        assert!(e.contains("n.toml:4:"), "{e}");
        assert!(e.contains("far.postgres.rtt_ms"), "{e}");
        std::fs::write(
            &p,
            "[far]\ndescription = \"x\"\nsource = \"y\"\npostgres = { rtt_ms = 3, latency = 2 }\n",
        )
        .unwrap();
        let e = Networks::load(&p).unwrap_err().to_string();
        assert!(e.contains("n.toml:4:") && e.contains("latency"), "{e}");
    }
}
