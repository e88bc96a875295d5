//! The components of a monthly bill, and the groups the report's charts stack them in.

use serde::Serialize;

use super::catalogue::Unit;

/// One kind of line on a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// Database compute hours.
    PostgresCompute,
    /// Database storage held.
    PostgresStorage,
    /// Object bytes held.
    ObjectStorage,
    /// R2 Class A operations (writes).
    ObjectWritesClassA,
    /// R2 Class B operations (reads).
    ObjectReadsClassB,
    /// S3 PUT requests.
    ObjectWritesPut,
    /// S3 GET requests.
    ObjectReadsGet,
    /// Bytes served from the object store to users.
    ObjectEgress,
    /// Inngest's plan fee.
    InngestPlan,
    /// Inngest executions beyond the plan.
    InngestExecutions,
    /// Qdrant Cloud for vector search.
    VectorSearchQdrant,
    /// Kurrent Cloud as the event store.
    EventStoreKurrent,
}

/// Components stacked together in the cost charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentGroup {
    /// Database compute.
    DatabaseCompute,
    /// Database storage.
    DatabaseStorage,
    /// Object storage.
    ObjectStorage,
    /// Object operations and egress.
    ObjectTraffic,
    /// Inngest.
    Inngest,
    /// Anything else (managed vector or event stores).
    Other,
}

impl Component {
    /// Every component, in bill order.
    pub const ALL: [Component; 12] = [
        Component::PostgresCompute,
        Component::PostgresStorage,
        Component::ObjectStorage,
        Component::ObjectWritesClassA,
        Component::ObjectReadsClassB,
        Component::ObjectWritesPut,
        Component::ObjectReadsGet,
        Component::ObjectEgress,
        Component::InngestPlan,
        Component::InngestExecutions,
        Component::VectorSearchQdrant,
        Component::EventStoreKurrent,
    ];

    /// The id an actuals file names it by.
    pub fn id(self) -> &'static str {
        match self {
            Component::PostgresCompute => "postgres_compute",
            Component::PostgresStorage => "postgres_storage",
            Component::ObjectStorage => "object_storage",
            Component::ObjectWritesClassA => "object_writes_class_a",
            Component::ObjectReadsClassB => "object_reads_class_b",
            Component::ObjectWritesPut => "object_writes_put",
            Component::ObjectReadsGet => "object_reads_get",
            Component::ObjectEgress => "object_egress",
            Component::InngestPlan => "inngest_plan",
            Component::InngestExecutions => "inngest_executions",
            Component::VectorSearchQdrant => "vector_search_qdrant",
            Component::EventStoreKurrent => "event_store_kurrent",
        }
    }

    /// The units its usage is counted in on a bill (as the catalogue prices it).
    pub fn usage_units(self) -> &'static [Unit] {
        match self {
            Component::PostgresCompute => &[Unit::CuHour, Unit::Hour],
            Component::PostgresStorage | Component::ObjectStorage => &[Unit::GbMonth],
            Component::ObjectWritesClassA | Component::ObjectReadsClassB => {
                &[Unit::MillionRequests]
            }
            Component::ObjectWritesPut | Component::ObjectReadsGet => &[Unit::ThousandRequests],
            Component::ObjectEgress => &[Unit::Gb],
            Component::InngestPlan
            | Component::VectorSearchQdrant
            | Component::EventStoreKurrent => &[Unit::Month],
            Component::InngestExecutions => &[Unit::MillionExecutions],
        }
    }

    /// The label a bill shows.
    pub fn label(self) -> &'static str {
        match self {
            Component::PostgresCompute => "PostgreSQL compute",
            Component::PostgresStorage => "PostgreSQL storage",
            Component::ObjectStorage => "Object storage",
            Component::ObjectWritesClassA => "Object writes (Class A)",
            Component::ObjectReadsClassB => "Object reads (Class B)",
            Component::ObjectWritesPut => "Object writes (PUT)",
            Component::ObjectReadsGet => "Object reads (GET)",
            Component::ObjectEgress => "Object egress",
            Component::InngestPlan => "Inngest plan",
            Component::InngestExecutions => "Inngest executions",
            Component::VectorSearchQdrant => "Vector search (Qdrant Cloud)",
            Component::EventStoreKurrent => "Event store (Kurrent Cloud)",
        }
    }

    /// The chart group it is stacked in.
    pub fn group(self) -> ComponentGroup {
        match self {
            Component::PostgresCompute => ComponentGroup::DatabaseCompute,
            Component::PostgresStorage => ComponentGroup::DatabaseStorage,
            Component::ObjectStorage => ComponentGroup::ObjectStorage,
            Component::ObjectWritesClassA
            | Component::ObjectReadsClassB
            | Component::ObjectWritesPut
            | Component::ObjectReadsGet
            | Component::ObjectEgress => ComponentGroup::ObjectTraffic,
            Component::InngestPlan | Component::InngestExecutions => ComponentGroup::Inngest,
            Component::VectorSearchQdrant | Component::EventStoreKurrent => ComponentGroup::Other,
        }
    }
}

impl ComponentGroup {
    /// The label a chart's legend shows.
    pub fn label(self) -> &'static str {
        match self {
            ComponentGroup::DatabaseCompute => "DB compute",
            ComponentGroup::DatabaseStorage => "DB storage",
            ComponentGroup::ObjectStorage => "object storage",
            ComponentGroup::ObjectTraffic => "object ops + egress",
            ComponentGroup::Inngest => "Inngest",
            ComponentGroup::Other => "other",
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Written as its label, as report.json has always had it.
impl Serialize for Component {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}
