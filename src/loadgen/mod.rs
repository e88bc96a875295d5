//! Workload generation. Today: the content generator that seeding and tests share;
//! the open- and closed-model executors come with the load-generator issue.

pub mod content;
