//! archbench: runs the current (V0.2) and the proposed (V0.3) architecture of the
//! decision document side by side on real stores, measures them, and checks the
//! document's claims against what it measured.
//!
//! Data flows one way: scenario -> stores -> seed -> load -> measurements -> results
//! JSON -> cost & verdict -> report / gate. Each module owns one step.

pub mod arch;
pub mod atomic;
pub mod cost;
pub mod gate;
pub mod input;
pub mod loadgen;
pub mod measure;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stores;
pub mod verdict;

/// The error chain as one line, outermost first; a cause whose text an outer message
/// already carries (errors that print their source, like `path: io error`) is not
/// repeated.
pub fn error_message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// Exit code for an error chain: 2 for usage errors, 3 for the environment (stores,
/// binaries, ports), 130 when interrupted, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<stores::StoreError>() {
            return e.exit_code();
        }
        if cause
            .downcast_ref::<stores::commands::Interrupted>()
            .is_some()
        {
            return 130;
        }
        if cause.downcast_ref::<clap::Error>().is_some()
            || cause.downcast_ref::<run::UsageError>().is_some()
            || cause
                .downcast_ref::<report::results::ResultsError>()
                .is_some()
            || cause.downcast_ref::<gate::GateError>().is_some()
        {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<report::ReportError>() {
            return match e {
                report::ReportError::Io { .. } => 1,
                _ => 2,
            };
        }
        if cause.downcast_ref::<gate::GateFailed>().is_some() {
            return 1;
        }
        if let Some(e) = cause.downcast_ref::<scenario::ScenarioError>() {
            return e.exit_code();
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_prints_each_cause_once() {
        let e = input::InputError::read(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
        let e = anyhow::Error::from(e).context("loading the scenario");
        let m = error_message(&e);
        assert_eq!(m.matches("No such file").count(), 1, "{m}");
        assert!(
            m.starts_with("loading the scenario: /nonexistent/x.toml: "),
            "{m}"
        );
    }
}
