//! How a command ends: the one place that knows which errors are the user's (exit 2),
//! the machine's (3), a signal (130) or anything else (1), and how an error chain is
//! printed.

use crate::input::InputError;
use crate::report::ReportError;
use crate::results::ResultsError;
use crate::stores::StoreError;

/// Bad command-line arguments (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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
/// binaries, ports), 130 when interrupted, 1 otherwise. The outermost cause that is
/// classified decides.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain().find_map(classify).unwrap_or(1)
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(e) = cause.downcast_ref::<StoreError>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<crate::rig::cgroup::CgroupError>() {
        return Some(e.exit_code());
    }
    if let Some(crate::arch::ArchError::Target(e)) = cause.downcast_ref() {
        return Some(e.exit_code());
    }
    if cause.is::<super::serve::ListenError>() {
        return Some(3);
    }
    if cause.is::<crate::shutdown::Interrupted>() {
        return Some(130);
    }
    let usage = cause.is::<clap::Error>()
        || cause.is::<UsageError>()
        || cause.is::<crate::arch::SystemChoiceError>()
        || cause.is::<crate::run::OptionError>()
        || cause.is::<crate::migrate::MigrateRefused>()
        || cause.is::<ResultsError>()
        || cause.is::<crate::gate::GateError>()
        || cause.is::<InputError>();
    if usage {
        return Some(2);
    }
    if let Some(e) = cause.downcast_ref::<ReportError>() {
        return Some(match e {
            ReportError::Io { .. } => 1,
            _ => 2,
        });
    }
    if cause.is::<super::gate::GateFailed>() {
        return Some(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_prints_each_cause_once() {
        let e = InputError::read(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
        let e = anyhow::Error::from(e).context("loading the scenario");
        let m = error_message(&e);
        assert_eq!(m.matches("No such file").count(), 1, "{m}");
        assert!(
            m.starts_with("loading the scenario: /nonexistent/x.toml: "),
            "{m}"
        );
    }

    #[test]
    fn each_kind_of_error_has_its_exit_code() {
        let code = |e: anyhow::Error| exit_code(&e);
        assert_eq!(code(UsageError("x".into()).into()), 2);
        assert_eq!(code(crate::shutdown::Interrupted.into()), 130);
        assert_eq!(
            code(anyhow::Error::from(UsageError("x".into())).context("outer")),
            2
        );
        assert_eq!(code(anyhow::anyhow!("anything else")), 1);
        assert_eq!(code(super::super::gate::GateFailed("r".into()).into()), 1);
    }
}
