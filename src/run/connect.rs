//! Stage 1, connect: each named system connected to the stores (wrapped in its
//! injected faults), and the harness's own small pool for database time and sizes.

use std::sync::Arc;

use crate::arch::fault::{FaultSpec, Faulty};
use crate::arch::{SystemConfig, SystemKind, SystemUnderTest};
use crate::stores::{Stores, health};

/// One system of the run.
pub(super) struct System {
    /// Its name in the results.
    pub name: String,
    /// The system.
    pub sut: Arc<dyn SystemUnderTest>,
    /// Whether it keeps data in the stores (storage, copies and lag are measured).
    pub uses_stores: bool,
}

/// The connected systems and the harness's meter.
pub(super) struct Connected {
    /// In the order named.
    pub systems: Vec<System>,
    /// Database time and storage are read through this pool, apart from the systems'.
    pub meter: Option<sqlx::PgPool>,
}

/// Connects every system of `kinds`; `stores` is `None` when none of them uses stores.
pub(super) async fn connect(
    kinds: Vec<(String, SystemKind)>,
    faults: &[FaultSpec],
    stores: Option<&Stores>,
) -> anyhow::Result<Connected> {
    let config = SystemConfig::default();
    let endpoints = stores.map(|s| &s.endpoints);
    let mut systems = Vec::new();
    for (name, kind) in kinds {
        let mut sut = kind.connect(endpoints, &config).await?;
        for fault in faults.iter().filter(|f| f.system == name) {
            sut = Arc::new(Faulty::new(sut, fault.clone()));
        }
        systems.push(System {
            name,
            sut,
            uses_stores: kind.uses_stores(),
        });
    }
    let meter = match stores {
        Some(s) => Some(health::connect(&s.endpoints.postgres, 2).await?),
        None => None,
    };
    Ok(Connected { systems, meter })
}
