//! One builder per report section, in reading order: each appends its sections to
//! the document from the [`SectionContext`], reading nothing else and computing only
//! what it shows.

mod calibration;
mod checklist;
mod claims;
mod cost;
mod decision;
mod event_log;
mod faults;
mod growth;
mod lag;
mod latency;
mod migration;
mod prices;
mod round_trips;
mod search_quality;
mod sensitivity;
mod storage;
mod sweep;

use super::ReportError;
use super::document::{Section, SectionContext};

/// A section builder.
pub(super) type Builder = fn(&SectionContext, &mut Vec<Section>) -> Result<(), ReportError>;

/// Every section, in the order the report shows them.
pub(super) const ALL: [Builder; 17] = [
    // First: a faulted run says so before any verdict is read.
    faults::faults,
    claims::claims,
    latency::latency,
    storage::storage,
    growth::growth,
    sweep::sweep,
    event_log::event_log,
    search_quality::search_quality,
    round_trips::round_trips,
    cost::cost,
    calibration::calibration,
    decision::decision,
    sensitivity::sensitivity,
    lag::lag,
    migration::migration,
    checklist::checklist,
    prices::prices,
];
