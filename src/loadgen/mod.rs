//! The load generator: seeded op sequences ([`plan`]), open- and closed-model
//! executors with coordinated-omission-corrected timing ([`executor`]), HdrHistogram
//! recording and interval logs ([`record`]), the interval-log reader
//! ([`interval_log`]), seeding ([`seed`]) and the generated
//! content both systems store ([`content`]); an agent's share of a run spread over
//! machines ([`agent`]).

pub mod agent;
pub mod content;
pub mod executor;
pub mod interval_log;
pub mod plan;
pub mod record;
pub mod seed;
