//! Stage 1, connect: each named system connected to the stores (wrapped in its
//! injected faults), and the harness's own small pool for database time and sizes.

use std::sync::Arc;

use crate::arch::fault::{FaultSpec, Faulty};
use crate::arch::{SystemConfig, SystemKind, SystemUnderTest};
use crate::rig::network::{Hop, Network};
use crate::stores::{Endpoints, PostgresEndpoint, Stores, health};

/// One system of the run.
pub(super) struct System {
    /// Its name in the results.
    pub name: String,
    /// The system.
    pub sut: Arc<dyn SystemUnderTest>,
    /// Whether it keeps data in the stores (storage, copies and lag are measured).
    pub uses_stores: bool,
    /// Whether it runs elsewhere (round trips and executions are not measured).
    pub external: bool,
}

/// The connected systems and the harness's meter.
pub(super) struct Connected {
    /// In the order named.
    pub systems: Vec<System>,
    /// Database time and storage are read through this pool, apart from the systems'.
    pub meter: Option<sqlx::PgPool>,
}

/// Connects every system of `kinds`; `stores` is `None` when none of them uses stores.
/// With a `network`, the systems reach the stores through its delay proxies; the
/// harness's meter connects directly.
pub(super) async fn connect(
    kinds: Vec<(String, SystemKind)>,
    faults: &[FaultSpec],
    stores: Option<&Stores>,
    network: Option<&Arc<Network>>,
    http: Option<&crate::scenario::http::HttpSettings>,
) -> anyhow::Result<Connected> {
    let config = SystemConfig {
        network: network.cloned(),
        http: http.cloned(),
        ..SystemConfig::default()
    };
    let endpoints = match (stores, network) {
        (Some(s), Some(n)) => Some(at_a_distance(&s.endpoints, n)?),
        (Some(s), None) => Some(s.endpoints.clone()),
        (None, _) => None,
    };
    let mut systems = Vec::new();
    for (name, kind) in kinds {
        let mut sut = kind.connect(endpoints.as_ref(), &config).await?;
        for fault in faults.iter().filter(|f| f.system == name) {
            sut = Arc::new(Faulty::new(sut, fault.clone()));
        }
        systems.push(System {
            name,
            sut,
            uses_stores: kind.uses_stores(),
            external: kind.external(),
        });
    }
    let meter = match stores {
        Some(s) => Some(health::connect(&s.endpoints.postgres, 2).await?),
        None => None,
    };
    Ok(Connected { systems, meter })
}

/// The endpoints as the systems see them: PostgreSQL and the object store behind the
/// network's proxies (one per hop, shared by the systems).
pub fn at_a_distance(endpoints: &Endpoints, network: &Network) -> anyhow::Result<Endpoints> {
    let mut seen = endpoints.clone();
    let url = network
        .proxied_url(Hop::Postgres, endpoints.postgres.url.expose())
        .map_err(|e| anyhow::anyhow!("PostgreSQL delay proxy: {e}"))?;
    seen.postgres = PostgresEndpoint::from_url(url);
    seen.s3.endpoint = network
        .proxied_url(Hop::ObjectStore, &endpoints.s3.endpoint)
        .map_err(|e| anyhow::anyhow!("object store delay proxy: {e}"))?;
    Ok(seen)
}
