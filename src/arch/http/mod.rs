//! The app over HTTP, both ways: `server` serves a reference system's ops
//! (`archbench serve`), `client` drives a deployment's (`--systems http:NAME=URL`),
//! and `api` is the wire form they share with `schema/openapi.yaml`.

pub mod api;
pub mod client;
pub mod server;

/// An error with its causes, `: `-joined (reqwest's own message hides the cause, e.g.
/// "error sending request" for a refused connection).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
