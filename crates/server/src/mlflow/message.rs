//! Request decoding and search answers of the MLflow REST API.
//!
//! MLflow's client sends GET parameters as a query string (repeated keys
//! for lists) and everything else as a JSON body; both are decoded into
//! the same typed request, so one handler serves either. A decoding error
//! names the field at fault and is an `INVALID_PARAMETER_VALUE`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use retrain_registry::StoreError;
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};

/// A request message decoded from the query string (GET, DELETE without
/// body) or the JSON body.
pub(crate) struct Message<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Message<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_owned);
        let method = req.method().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("cannot read the request body: {e}")))?;
        if method == Method::GET || body.iter().all(u8::is_ascii_whitespace) {
            return decode_query(query.as_deref().unwrap_or("")).map(Message);
        }
        let malformed =
            |e: serde_json::Error| ApiError::invalid(format!("malformed JSON in the request body: {e}"));
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(match serde_json::from_slice::<IgnoredAny>(&body) {
                Err(e) => malformed(e),
                Ok(_) => ApiError::invalid("the request body must be a JSON object"),
            });
        }
        // Straight from the bytes, without a JSON tree in between (a batch
        // of metrics is thousands of values) and without tracking the path
        // to each value, which costs as much again. A message that fails
        // is decoded again through a JSON tree (whose errors, unlike the
        // streaming decoder's, carry no line and column) by `decode`, which
        // names the field at fault.
        match serde_json::from_slice(&body) {
            Ok(message) => Ok(Message(message)),
            Err(e) if e.is_syntax() || e.is_eof() => Err(malformed(e)),
            Err(_) => serde_json::from_slice::<Value>(&body).map_err(malformed).and_then(decode).map(Message),
        }
    }
}

/// Decodes a request message from `deserializer` (a JSON tree or a query
/// string), naming the field at fault.
fn decode<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> ApiResult<T> {
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(field) = inner.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
            return ApiError::invalid(format!("Missing value for required parameter '{field}'."));
        }
        if path == "." {
            ApiError::invalid(format!("Invalid request: {inner}"))
        } else {
            ApiError::invalid(format!("Invalid value for parameter '{path}': {inner}"))
        }
    })
}

/// Decodes a query string (`a=1&b=x&b=y`) into a request message: a key
/// given more than once, or once for a list field, fills a list; values
/// are text, and the lenient field decoders below accept numbers and
/// booleans written as text.
///
/// A list field must not sit beside a `#[serde(flatten)]` field in a
/// message decoded from a query: flattening collects the values before
/// their types are known, and a list given once would arrive as one
/// string. The search messages therefore spell out their paging fields.
pub(crate) fn decode_query<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    decode(serde_html_form::Deserializer::from_bytes(query.as_bytes()))
}

/// Field decoders that accept a JSON number or a number in a string
/// (query strings and proto3 JSON's int64 encoding).
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn to_i64(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            }
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => to_i64(&v)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, got {v}"))),
        }
    }

    pub(crate) use retrain_registry::entities::proto_float::deserialize as f64;

    pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(serde::de::Error::custom(format!("expected true or false, got {v}"))),
        }
    }
}

/// A search answer: `{"<field>": [...], "next_page_token": "..."}`, the
/// token only when there is a next page. Serialized straight from the
/// items: a page of runs is large, and an intermediate JSON tree of it
/// cost as much as writing it out.
pub(crate) struct Paged<T> {
    field: &'static str,
    items: Vec<T>,
    next: Option<String>,
}

impl<T: Serialize> Serialize for Paged<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(self.field, &self.items)?;
        if let Some(token) = &self.next {
            map.serialize_entry("next_page_token", token)?;
        }
        map.end()
    }
}

/// Bytes a page's buffer starts with per item (a run with a handful of
/// metrics, params and tags takes about 800), up to a mebibyte: past that
/// it grows by doubling, and a history page of 25,000 points (about 70
/// bytes each) does not reserve 25 MB first.
const PAGE_BYTES_PER_ITEM: usize = 1024;
const PAGE_BUFFER_MAX: usize = 1 << 20;

/// A page is written into one buffer sized for it up front: axum's `Json`
/// starts from 128 bytes and grows through a `BufMut` writer, which a page
/// of 100 runs (about 80 KB) paid for in copies and calls.
impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity((64 + PAGE_BYTES_PER_ITEM * self.items.len()).min(PAGE_BUFFER_MAX));
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => ApiError(StoreError::internal(format!("cannot write the answer: {e}"))).into_response(),
        }
    }
}

/// The answer of a search endpoint whose items are listed under `field`.
pub(crate) fn paged<T>(field: &'static str, (items, next): (Vec<T>, Option<String>)) -> Paged<T> {
    Paged { field, items, next }
}

/// The JSON answer `{}` of mutations with nothing to return.
pub(crate) fn empty() -> Json<Value> {
    Json(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Search {
        run_id: String,
        #[serde(default)]
        experiment_ids: Vec<String>,
        #[serde(default)]
        order_by: Vec<String>,
        filter: Option<String>,
        x: String,
        #[serde(default, deserialize_with = "lenient::opt_i64")]
        max_results: Option<i64>,
        #[serde(default, deserialize_with = "lenient::opt_bool")]
        archived: Option<bool>,
    }

    #[test]
    fn query_strings_become_typed_messages() {
        let query = "run_id=abc&experiment_ids=1&experiment_ids=2&order_by=name&filter=metrics.a%20%3E%200.5\
                     &x=a+b&max_results=7&archived=TRUE&unknown=ignored";
        let Ok(m) = decode_query::<Search>(query) else { panic!("decodes") };
        assert_eq!(m.run_id, "abc");
        assert_eq!(m.experiment_ids, ["1", "2"]);
        // A list field given once is a list of one.
        assert_eq!(m.order_by, ["name"]);
        assert_eq!(m.filter.as_deref(), Some("metrics.a > 0.5"));
        assert_eq!(m.x, "a b");
        assert_eq!((m.max_results, m.archived), (Some(7), Some(true)));
    }

    #[test]
    fn query_string_mistakes_name_the_parameter() {
        let message = |query: &str| decode_query::<Search>(query).err().map(|e| e.0.message);
        assert_eq!(message("x=1").as_deref(), Some("Missing value for required parameter 'run_id'."));
        for (query, parameter) in [
            ("run_id=a&run_id=b&x=1", "'run_id'"),
            ("run_id=a&x=1&max_results=many", "'max_results'"),
            ("run_id=a&x=1&archived=maybe", "'archived'"),
        ] {
            let got = message(query).unwrap_or_default();
            assert!(
                got.starts_with("Invalid value for parameter ") && got.contains(parameter),
                "{query}: {got}"
            );
        }
    }
}
