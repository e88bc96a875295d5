//! Results JSON, the source of truth every report and gate is computed from.
//! (Markdown, HTML and charts come with the report issue.)

pub mod results;
