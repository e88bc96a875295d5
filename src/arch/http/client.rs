//! A deployment reached over HTTP (`--systems http:NAME=BASE_URL`): each op becomes
//! the request its `[http]` template describes, an answer with another status than
//! expected is an error counted by its status. Nothing inside the deployment can be
//! seen from here, so round trips, storage and executions are not measured: the
//! results say so (`external`), they never show zeros.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::arch::inngest::ExecutionCounts;
use crate::arch::{
    ActivityBucket, ArchError, BodyUpdate, Entity, EntityId, EntitySummary, Footprint, Harness,
    HistoryEvent, Locations, NewEntity, OpKind, OpResult, Operations, RoundTrips, SearchHit,
    UserId,
};
use crate::scenario::http::{
    Field, HttpSettings, HttpVersion, Method, Piece, RequestTemplate, Template,
};

/// What a request's template is filled with.
#[derive(Debug, Default)]
struct Values<'a> {
    user: Option<UserId>,
    entity: Option<EntityId>,
    title: Option<&'a str>,
    body: Option<&'a str>,
    query: Option<&'a str>,
    count: Option<i64>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// A field's value as text (`None`: the op has no such value, which validation rules out).
enum Value {
    Text(String),
    Number(i64),
}

impl Values<'_> {
    fn of(&self, field: Field) -> Option<Value> {
        let time = |t: DateTime<Utc>| Value::Text(t.to_rfc3339_opts(SecondsFormat::Micros, true));
        Some(match field {
            Field::User => Value::Number(self.user?.0),
            Field::Entity => Value::Text(self.entity?.0.to_string()),
            Field::Title => Value::Text(self.title?.to_string()),
            Field::Body => Value::Text(self.body?.to_string()),
            Field::Query => Value::Text(self.query?.to_string()),
            Field::K | Field::Limit => Value::Number(self.count?),
            Field::From => time(self.from?),
            Field::To => time(self.to?),
        })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where a template is filled: a path (percent-encoded) or a JSON body (JSON values).
#[derive(Clone, Copy)]
enum Context {
    Path,
    Json,
}

fn render(template: &Template, values: &Values, context: Context) -> String {
    let mut out = String::new();
    for piece in &template.pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Env(_) => {}
            Piece::Field(f) => match (values.of(*f), context) {
                (Some(Value::Number(n)), _) => out.push_str(&n.to_string()),
                (Some(Value::Text(t)), Context::Path) => out.push_str(&percent_encoded(&t)),
                (Some(Value::Text(t)), Context::Json) => {
                    out.push_str(&serde_json::Value::String(t).to_string())
                }
                (None, Context::Json) => out.push_str("null"),
                (None, Context::Path) => {}
            },
        }
    }
    out
}

/// Statuses counted under their own number; the rest by class.
const NAMED_STATUSES: [(u16, &str); 10] = [
    (400, "http_400"),
    (401, "http_401"),
    (403, "http_403"),
    (404, "http_404"),
    (409, "http_409"),
    (429, "http_429"),
    (500, "http_500"),
    (502, "http_502"),
    (503, "http_503"),
    (504, "http_504"),
];

/// The static kind of an unexpected status, so that results count errors by status.
fn status_kind(status: u16) -> &'static str {
    if let Some((_, kind)) = NAMED_STATUSES.iter().find(|(s, _)| *s == status) {
        return kind;
    }
    match status {
        400..=499 => "http_4xx",
        500..=599 => "http_5xx",
        _ => "http_unexpected",
    }
}

/// `base` without a `user:password@` part, for messages.
fn shown(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let host_start = rest.find('/').unwrap_or(rest.len());
            match rest[..host_start].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    }
}

/// A deployment driven over HTTP.
pub struct HttpTarget {
    name: &'static str,
    base: String,
    client: reqwest::Client,
    settings: HttpSettings,
    round_trips: RoundTrips,
}

/// Why an HTTP target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A header names an environment variable that is not set.
    #[error(
        "http.headers.{header}: environment variable `{variable}` is not set; export it before the run"
    )]
    MissingVariable {
        /// The header.
        header: String,
        /// The variable.
        variable: String,
    },
    /// A header's value is not a valid header value.
    #[error("http.headers.{0}: the value is not a valid header value")]
    BadHeader(String),
    /// The client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// The target did not answer its health check.
    #[error("{name} at {base}: not reachable ({detail}); start it, or check the URL")]
    Unreachable {
        /// Target name.
        name: String,
        /// Base URL.
        base: String,
        /// What failed.
        detail: String,
    },
}

impl TargetError {
    /// 2 for a header the scenario got wrong, 3 for the environment (a variable not
    /// set, a target not answering).
    pub fn exit_code(&self) -> u8 {
        match self {
            TargetError::BadHeader(_) => 2,
            _ => 3,
        }
    }
}

/// The headers of every request: `[http.headers]` with the environment filled in,
/// marked sensitive (never printed by the client). The client sends them itself, so
/// no request copies them.
fn request_headers(settings: &HttpSettings) -> Result<reqwest::header::HeaderMap, TargetError> {
    let mut headers = reqwest::header::HeaderMap::new();
    for h in &settings.headers {
        let mut value = String::new();
        for piece in &h.value.pieces {
            match piece {
                Piece::Text(t) => value.push_str(t),
                Piece::Env(var) => match std::env::var(var) {
                    Ok(v) => value.push_str(&v),
                    Err(_) => {
                        return Err(TargetError::MissingVariable {
                            header: h.name.clone(),
                            variable: var.clone(),
                        });
                    }
                },
                Piece::Field(_) => {}
            }
        }
        let name = reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| TargetError::BadHeader(h.name.clone()))?;
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| TargetError::BadHeader(h.name.clone()))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

impl HttpTarget {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`), with `settings`' pool,
    /// version, timeout and headers (environment read now).
    pub fn new(name: &str, base: &str, settings: HttpSettings) -> Result<HttpTarget, TargetError> {
        let mut builder = reqwest::Client::builder()
            .default_headers(request_headers(&settings)?)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(settings.pool)
            .tcp_nodelay(true);
        if settings.version == HttpVersion::Http2 {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder
            .build()
            .map_err(|e| TargetError::Client(e.to_string()))?;
        Ok(HttpTarget {
            name: Box::leak(format!("http:{name}").into_boxed_str()),
            base: base.trim_end_matches('/').to_string(),
            client,
            settings,
            round_trips: RoundTrips::default(),
        })
    }

    /// Whether the target answers at all (any status): before a run starts, so that an
    /// unreachable deployment fails at once (exit 3) rather than as errors.
    pub async fn check_reachable(&self) -> Result<(), TargetError> {
        let request = self.client.get(&self.base).timeout(Duration::from_secs(5));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(TargetError::Unreachable {
                name: self.name.to_string(),
                base: shown(&self.base),
                detail: crate::arch::http::error_chain(&e),
            }),
        }
    }

    async fn call(&self, op: OpKind, values: &Values<'_>) -> OpResult<serde_json::Value> {
        let template: &RequestTemplate = &self.settings.ops[&op];
        let url = format!(
            "{}{}",
            self.base,
            render(&template.path, values, Context::Path)
        );
        let method = match template.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self.client.request(method, url);
        if let Some(body) = &template.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(render(body, values, Context::Json));
        }
        let failed = |kind: &'static str, detail: String| ArchError::Http { op, kind, detail };
        let answer = request.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "http_timeout"
            } else {
                "http_connect"
            };
            failed(kind, crate::arch::http::error_chain(&e))
        })?;
        let status = answer.status().as_u16();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| failed("http_body", crate::arch::http::error_chain(&e)))?;
        if status != template.expect {
            let excerpt = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(failed(
                status_kind(status),
                format!("status {status}, expected {}: {excerpt}", template.expect),
            ));
        }
        self.round_trips.op_done(op);
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| failed("http_body", format!("not JSON: {e}")))
    }
}

/// The array at `key` of an answer of `archbench serve`'s shape, or the answer itself
/// when it is an array; anything else reads as empty (other APIs shape lists their way,
/// and only the latency of reads is measured against an external target).
fn items<T: serde::de::DeserializeOwned>(answer: serde_json::Value, key: &str) -> Vec<T> {
    let list = match answer {
        serde_json::Value::Array(a) => serde_json::Value::Array(a),
        serde_json::Value::Object(mut o) => o.remove(key).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    serde_json::from_value(list).unwrap_or_default()
}

#[async_trait::async_trait]
impl Operations for HttpTarget {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn create(&self, e: NewEntity) -> OpResult<EntityId> {
        let values = Values {
            user: Some(e.user),
            entity: Some(e.id),
            title: Some(&e.title),
            body: Some(&e.body),
            ..Values::default()
        };
        let answer = self.call(OpKind::Create, &values).await?;
        let pointer = self.settings.ops[&OpKind::Create]
            .id
            .as_deref()
            .unwrap_or("");
        let id = answer
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        id.map(EntityId).ok_or_else(|| ArchError::Http {
            op: OpKind::Create,
            kind: "http_body",
            detail: format!("no UUID at `{pointer}` of the answer"),
        })
    }

    async fn update(&self, u: BodyUpdate) -> OpResult<i32> {
        let values = Values {
            entity: Some(u.id),
            body: Some(&u.body),
            ..Values::default()
        };
        let answer = self.call(OpKind::Update, &values).await?;
        Ok(answer
            .pointer("/version")
            .and_then(|v| v.as_i64())
            .unwrap_or(0) as i32)
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        let values = Values {
            entity: Some(id),
            ..Values::default()
        };
        let answer = self.call(OpKind::Get, &values).await?;
        let body: Option<crate::arch::http::api::EntityBody> = serde_json::from_value(answer).ok();
        Ok(body.map(Entity::from).unwrap_or(Entity {
            id,
            user: UserId(0),
            title: String::new(),
            body: String::new(),
            version: 0,
        }))
    }

    async fn list(&self, user: UserId, limit: i64) -> OpResult<Vec<EntitySummary>> {
        let values = Values {
            user: Some(user),
            count: Some(limit),
            ..Values::default()
        };
        let answer = self.call(OpKind::List, &values).await?;
        Ok(items(answer, "entities"))
    }

    async fn search(&self, user: UserId, query: &str, k: i64) -> OpResult<Vec<SearchHit>> {
        let values = Values {
            user: Some(user),
            query: Some(query),
            count: Some(k),
            ..Values::default()
        };
        let answer = self.call(OpKind::Search, &values).await?;
        Ok(items(answer, "hits"))
    }

    async fn history(&self, id: EntityId) -> OpResult<Vec<HistoryEvent>> {
        let values = Values {
            entity: Some(id),
            ..Values::default()
        };
        let answer = self.call(OpKind::History, &values).await?;
        Ok(items(answer, "events"))
    }

    async fn activity(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>> {
        let values = Values {
            user: Some(user),
            from: Some(from),
            to: Some(to),
            ..Values::default()
        };
        let answer = self.call(OpKind::Activity, &values).await?;
        Ok(items(answer, "buckets"))
    }
}

#[async_trait::async_trait]
impl Harness for HttpTarget {
    async fn prepare(&self) -> OpResult<()> {
        Ok(())
    }

    async fn reset(&self) -> OpResult<()> {
        self.round_trips.clear();
        Ok(())
    }

    async fn settle(&self, _timeout: Duration) -> OpResult<()> {
        Ok(())
    }

    fn round_trips(&self) -> &RoundTrips {
        &self.round_trips
    }

    fn clear_counters(&self) {
        self.round_trips.clear();
    }

    fn inngest(&self) -> ExecutionCounts {
        ExecutionCounts::default()
    }

    async fn footprint(&self) -> OpResult<Footprint> {
        Err(ArchError::Setup(
            "an external target's storage is not measured".into(),
        ))
    }

    fn locations(&self) -> Locations {
        Locations {
            schema: "external",
            prefix: "external/",
        }
    }
}

/// Connects to `base` and checks it answers.
pub async fn connect(
    name: &str,
    base: &str,
    settings: HttpSettings,
) -> Result<Arc<HttpTarget>, TargetError> {
    let target = HttpTarget::new(name, base, settings)?;
    target.check_reachable().await?;
    Ok(Arc::new(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded_and_bodies_are_json() {
        let path = crate::scenario::http::default_request(OpKind::Search).path;
        let values = Values {
            user: Some(UserId(7)),
            query: Some("a b&c/\"d\""),
            count: Some(10),
            ..Values::default()
        };
        assert_eq!(
            render(&path, &values, Context::Path),
            "/v1/users/7/search?q=a%20b%26c%2F%22d%22&k=10"
        );
        let body = crate::scenario::http::default_request(OpKind::Update)
            .body
            .unwrap();
        let values = Values {
            body: Some("line \"one\"\n"),
            ..Values::default()
        };
        let json: serde_json::Value =
            serde_json::from_str(&render(&body, &values, Context::Json)).unwrap();
        assert_eq!(json["body"], "line \"one\"\n");
    }

    #[test]
    fn credentials_in_a_base_url_are_not_shown() {
        assert_eq!(shown("https://u:secret@host:1/x@y"), "https://host:1/x@y");
        assert_eq!(shown("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_header_from_an_unset_variable_is_refused_and_a_set_one_is_sensitive() {
        let mut settings = HttpSettings::default();
        let header = |var: &str| crate::scenario::http::Header {
            name: "authorization".into(),
            value: Template {
                pieces: vec![Piece::Text("Bearer ".into()), Piece::Env(var.into())],
            },
        };
        settings.headers = vec![header("ARCHBENCH_SURELY_UNSET_VARIABLE")];
        let e = HttpTarget::new("t", "http://127.0.0.1:1", settings.clone())
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.to_string().contains("ARCHBENCH_SURELY_UNSET_VARIABLE"),
            "{e}"
        );
        settings.headers = vec![header("PATH")];
        let headers = request_headers(&settings).unwrap();
        let value = &headers["authorization"];
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("/usr"), "{value:?}");
    }

    #[test]
    fn statuses_are_counted_by_kind() {
        assert_eq!(status_kind(503), "http_503");
        assert_eq!(status_kind(418), "http_4xx");
        assert_eq!(status_kind(302), "http_unexpected");
    }
}
