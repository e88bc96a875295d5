//! The `[http]` section: how each op becomes a request to a deployment reached over
//! HTTP (`--systems http:NAME=BASE_URL`) — method, path template, body template,
//! expected status and where a create's id is — and the client's settings (pool,
//! HTTP version, timeout, headers). Ops it does not name use `archbench serve`'s API
//! (`schema/openapi.yaml`).
//!
//! Templates fill `${field}`: in a path, percent-encoded; in a body, as a JSON value
//! (strings quoted), so `{"title": ${title}}` is valid JSON for every title.
//! `${env:NAME}` (headers only) reads the environment when the run starts; header
//! values are never written to results.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Problem;
use super::model::HumanDuration;
use super::validate::problem;
use crate::arch::OpKind;

/// A value a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The user (tenant) id.
    User,
    /// The entity id (a UUID).
    Entity,
    /// A new entity's title.
    Title,
    /// A new entity's or version's body.
    Body,
    /// A search's query text.
    Query,
    /// A search's number of hits.
    K,
    /// A list's most rows.
    Limit,
    /// An activity window's start (RFC 3339).
    From,
    /// An activity window's end.
    To,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "user" => Field::User,
            "entity" => Field::Entity,
            "title" => Field::Title,
            "body" => Field::Body,
            "query" => Field::Query,
            "k" => Field::K,
            "limit" => Field::Limit,
            "from" => Field::From,
            "to" => Field::To,
            _ => return None,
        })
    }

    /// The fields an op has, in the order its docs list them.
    pub fn of(op: OpKind) -> &'static [(&'static str, Field)] {
        match op {
            OpKind::Create => &[
                ("user", Field::User),
                ("entity", Field::Entity),
                ("title", Field::Title),
                ("body", Field::Body),
            ],
            OpKind::Update => &[("entity", Field::Entity), ("body", Field::Body)],
            OpKind::Get | OpKind::History => &[("entity", Field::Entity)],
            OpKind::List => &[("user", Field::User), ("limit", Field::Limit)],
            OpKind::Search => &[
                ("user", Field::User),
                ("query", Field::Query),
                ("k", Field::K),
            ],
            OpKind::Activity => &[
                ("user", Field::User),
                ("from", Field::From),
                ("to", Field::To),
            ],
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Piece {
    /// Written as is.
    Text(String),
    /// Filled per request.
    Field(Field),
    /// `${env:NAME}`: the variable's value, read once.
    Env(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    /// Its pieces in order.
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; `fields` are the names allowed, `env` whether `${env:NAME}` is.
    /// Errors give the byte offset into `text` of the bad reference.
    fn parse(text: &str, fields: &[(&str, Field)], env: bool) -> Result<Template, (usize, String)> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find('$') {
            let after = &rest[start + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                push_text(&mut pieces, &rest[..=start]);
                offset += start + 2;
                rest = tail;
                continue;
            }
            push_text(&mut pieces, &rest[..start]);
            let at = offset + start;
            let Some(inner) = after.strip_prefix('{') else {
                return Err((
                    at,
                    "`$` starts `${field}`; write `$$` for a literal `$`".into(),
                ));
            };
            let Some(end) = inner.find('}') else {
                return Err((at, "`${` without its closing `}`".into()));
            };
            let name = &inner[..end];
            pieces.push(match (name.strip_prefix("env:"), env) {
                (Some(var), true) if !var.is_empty() => Piece::Env(var.to_string()),
                (Some(_), _) => {
                    return Err((at, "`${env:NAME}` is allowed in header values only".into()));
                }
                (None, _) => match fields.iter().find(|(n, _)| *n == name) {
                    Some((_, f)) => Piece::Field(*f),
                    None => {
                        let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                        let known = if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        };
                        let unknown = if Field::parse(name).is_some() {
                            "this op has no field"
                        } else {
                            "unknown field"
                        };
                        return Err((at, format!("{unknown} `{name}`; allowed here: {known}")));
                    }
                },
            });
            let used = start + 2 + end + 1;
            offset += used;
            rest = &rest[used..];
        }
        push_text(&mut pieces, rest);
        Ok(Template { pieces })
    }

    /// The template of a literal text (no fields).
    pub fn text(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(text.to_string())],
        }
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    match pieces.last_mut() {
        Some(Piece::Text(t)) => t.push_str(text),
        _ => pieces.push(Piece::Text(text.to_string())),
    }
}

/// HTTP methods a request can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// How one op is asked.
#[derive(Debug, Clone, Serialize)]
pub struct RequestTemplate {
    /// Method.
    pub method: Method,
    /// Path and query, after the base URL.
    pub path: Template,
    /// JSON body (`None`: no body).
    pub body: Option<Template>,
    /// The status an answer must have to count as a success.
    pub expect: u16,
    /// JSON pointer (RFC 6901) of the id in a create's answer; `None` for other ops.
    pub id: Option<String>,
}

/// HTTP version the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum HttpVersion {
    /// HTTP/1.1, one request per connection at a time.
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2 with prior knowledge (h2c on http://, ALPN on https://).
    #[serde(rename = "2")]
    Http2,
}

/// One request header; its value is never serialized.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// Name.
    pub name: String,
    /// Value template (text and `${env:NAME}`).
    #[serde(skip)]
    pub value: Template,
}

/// The validated `[http]` section.
#[derive(Debug, Clone, Serialize)]
pub struct HttpSettings {
    /// Most connections per target.
    pub pool: usize,
    /// HTTP version.
    pub version: HttpVersion,
    /// A request not answered within this fails (`timeout`).
    #[serde(serialize_with = "human")]
    pub timeout: Duration,
    /// Headers sent with every request.
    pub headers: Vec<Header>,
    /// Every op's request.
    pub ops: BTreeMap<OpKind, RequestTemplate>,
}

fn human<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

impl Default for HttpSettings {
    fn default() -> Self {
        let ops = OpKind::ALL
            .into_iter()
            .map(|op| (op, default_request(op)))
            .collect();
        Self {
            pool: 64,
            version: HttpVersion::Http1,
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            ops,
        }
    }
}

/// How `archbench serve` is asked for `op` (`schema/openapi.yaml`).
pub fn default_request(op: OpKind) -> RequestTemplate {
    use crate::arch::http::api;
    let (method, path, body, expect) = match op {
        OpKind::Create => (
            Method::Post,
            api::CREATE.replace("{user}", "${user}"),
            Some(r#"{"id": ${entity}, "title": ${title}, "body": ${body}}"#),
            201,
        ),
        OpKind::Update => (
            Method::Put,
            api::UPDATE.replace("{id}", "${entity}"),
            Some(r#"{"body": ${body}}"#),
            200,
        ),
        OpKind::Get => (
            Method::Get,
            api::GET.replace("{id}", "${entity}"),
            None,
            200,
        ),
        OpKind::List => (
            Method::Get,
            format!(
                "{}?limit=${{limit}}",
                api::LIST.replace("{user}", "${user}")
            ),
            None,
            200,
        ),
        OpKind::Search => (
            Method::Get,
            format!(
                "{}?q=${{query}}&k=${{k}}",
                api::SEARCH.replace("{user}", "${user}")
            ),
            None,
            200,
        ),
        OpKind::History => (
            Method::Get,
            api::HISTORY.replace("{id}", "${entity}"),
            None,
            200,
        ),
        OpKind::Activity => (
            Method::Get,
            format!(
                "{}?from=${{from}}&to=${{to}}",
                api::ACTIVITY.replace("{user}", "${user}")
            ),
            None,
            200,
        ),
    };
    let fields = Field::of(op);
    let parse = |t: &str| Template::parse(t, fields, false).expect("the built-in templates parse");
    RequestTemplate {
        method,
        path: parse(&path),
        body: body.map(parse),
        expect,
        id: (op == OpKind::Create).then(|| "/id".to_string()),
    }
}

/// `[http]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    #[serde(default)]
    pool: Option<Spanned<i64>>,
    #[serde(default)]
    version: Option<HttpVersion>,
    #[serde(default)]
    timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    ops: BTreeMap<String, Spanned<RawRequest>>,
}

/// `[http.ops.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    method: Method,
    path: Spanned<String>,
    #[serde(default)]
    body: Option<Spanned<String>>,
    expect: Spanned<i64>,
    #[serde(default)]
    id: Option<Spanned<String>>,
}

/// A problem inside a template string: the offset past the string's opening quote.
fn template_problem(s: &Spanned<String>, field: &str, (at, message): (usize, String)) -> Problem {
    let mut p = problem(s, field, message);
    // toml's span starts at the opening quote; a one-character quote is the common
    // case (a `'''` string's column is then off by two, its line still right).
    p.span.start += 1 + at;
    p
}

/// The validated `[http]` section (defaults for what it leaves out).
pub(crate) fn validate_http(
    raw: Option<&Spanned<RawHttp>>,
) -> Result<Option<HttpSettings>, Problem> {
    let Some(raw) = raw else { return Ok(None) };
    let r = raw.get_ref();
    let mut settings = HttpSettings::default();
    if let Some(pool) = &r.pool {
        let n = *pool.get_ref();
        if !(1..=10_000).contains(&n) {
            return Err(problem(
                pool,
                "http.pool",
                format!("must be 1..=10000 connections, got {n}"),
            ));
        }
        settings.pool = n as usize;
    }
    settings.version = r.version.unwrap_or_default();
    if let Some(t) = &r.timeout {
        let d = t.get_ref().0;
        if d.is_zero() || d > Duration::from_secs(3600) {
            return Err(problem(t, "http.timeout", "must be above 0 and at most 1h"));
        }
        settings.timeout = d;
    }
    for (name, value) in &r.headers {
        let field = format!("http.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(problem(
                value,
                field,
                format!("`{name}` is not a header name"),
            ));
        }
        let template = Template::parse(value.get_ref(), &[], true)
            .map_err(|e| template_problem(value, &field, e))?;
        settings.headers.push(Header {
            name: name.clone(),
            value: template,
        });
    }
    for (op_name, request) in &r.ops {
        let field = format!("http.ops.{op_name}");
        let op = OpKind::ALL
            .into_iter()
            .find(|op| op.name() == op_name)
            .ok_or_else(|| {
                let known: Vec<&str> = OpKind::ALL.iter().map(|o| o.name()).collect();
                problem(
                    request,
                    &field,
                    format!("no such op; ops: {}", known.join(", ")),
                )
            })?;
        settings
            .ops
            .insert(op, validate_request(op, request, &field)?);
    }
    Ok(Some(settings))
}

fn validate_request(
    op: OpKind,
    request: &Spanned<RawRequest>,
    field: &str,
) -> Result<RequestTemplate, Problem> {
    let r = request.get_ref();
    let fields = Field::of(op);
    if !r.path.get_ref().starts_with('/') {
        return Err(problem(
            &r.path,
            format!("{field}.path"),
            "must start with `/`",
        ));
    }
    let path = Template::parse(r.path.get_ref(), fields, false)
        .map_err(|e| template_problem(&r.path, &format!("{field}.path"), e))?;
    let body = match &r.body {
        None => None,
        Some(b) => Some(
            Template::parse(b.get_ref(), fields, false)
                .map_err(|e| template_problem(b, &format!("{field}.body"), e))?,
        ),
    };
    let expect = *r.expect.get_ref();
    if !(100..=599).contains(&expect) {
        return Err(problem(
            &r.expect,
            format!("{field}.expect"),
            format!("must be an HTTP status 100..=599, got {expect}"),
        ));
    }
    let id = match (&r.id, op) {
        (Some(p), OpKind::Create) if p.get_ref().is_empty() || p.get_ref().starts_with('/') => {
            Some(p.get_ref().clone())
        }
        (Some(p), OpKind::Create) => {
            return Err(problem(
                p,
                format!("{field}.id"),
                "must be a JSON pointer such as `/id` (or empty: the whole answer)",
            ));
        }
        (Some(p), _) => {
            return Err(problem(
                p,
                format!("{field}.id"),
                "only a create returns an id",
            ));
        }
        (None, OpKind::Create) => {
            return Err(problem(
                request,
                format!("{field}.id"),
                "a create needs `id`, the JSON pointer of the new entity's id in the answer (e.g. `/id`)",
            ));
        }
        (None, _) => None,
    };
    Ok(RequestTemplate {
        method: r.method,
        path,
        body,
        expect: expect as u16,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_fills_fields_and_keeps_text() {
        let t = Template::parse("/u/${user}/e?x=$$1", Field::of(OpKind::List), false).unwrap();
        assert_eq!(
            t.pieces,
            vec![
                Piece::Text("/u/".into()),
                Piece::Field(Field::User),
                Piece::Text("/e?x=$1".into()),
            ]
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_offset() {
        let (at, message) =
            Template::parse("/e/${entity}/${colour}", Field::of(OpKind::Get), false).unwrap_err();
        assert_eq!(at, 13);
        assert!(
            message.contains("unknown field `colour`") && message.contains("entity"),
            "{message}"
        );
        let (_, message) =
            Template::parse("/e/${title}", Field::of(OpKind::Get), false).unwrap_err();
        assert!(
            message.contains("this op has no field `title`"),
            "{message}"
        );
        let (_, message) = Template::parse("${env:TOKEN}", &[], false).unwrap_err();
        assert!(message.contains("header values only"), "{message}");
    }

    #[test]
    fn the_built_in_requests_are_serves_api() {
        let create = default_request(OpKind::Create);
        assert_eq!(create.method, Method::Post);
        assert_eq!(create.expect, 201);
        assert_eq!(create.id.as_deref(), Some("/id"));
        let search = default_request(OpKind::Search);
        assert!(search.path.pieces.contains(&Piece::Field(Field::Query)));
    }
}
