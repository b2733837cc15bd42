//! JSON bodies read and written straight from and to their serde types.
//!
//! poem-openapi's `Json<T>` goes through a `serde_json::Value` tree both ways, and the sync
//! messages then go through another (`via_json` / `from_wire`) to reach the protocol types. For
//! the two requests that carry the most — a push of up to 500 events, a pull page of up to 1000
//! entities — those trees are most of the time and memory spent. [`TypedJson`] is documented as
//! its wire type `W` (so the spec is unchanged) but parses and serializes the protocol type `T`
//! directly.

use std::marker::PhantomData;

use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::ApiResponse;
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON body documented as `W`, held as `T`; as an answer, written into a buffer of the
/// expected size when that is known.
#[derive(Debug)]
pub struct TypedJson<W, T>(pub T, PhantomData<W>, usize);

impl<W, T> TypedJson<W, T> {
    /// A body of `value`.
    pub fn new(value: T) -> TypedJson<W, T> {
        TypedJson(value, PhantomData, 0)
    }

    /// An answer of `value` that takes about `bytes` as JSON: written into one buffer of that
    /// size rather than one grown by doubling, which for a pull page of megabytes would touch
    /// about twice the memory.
    pub fn sized(value: T, bytes: usize) -> TypedJson<W, T> {
        TypedJson(value, PhantomData, bytes)
    }
}

impl<W: Type, T: Send> Payload for TypedJson<W, T> {
    const CONTENT_TYPE: &'static str = <Json<W> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<W> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        W::schema_ref()
    }

    fn register(registry: &mut Registry) {
        W::register(registry);
    }
}

impl<W: Type, T: DeserializeOwned + Send> ParsePayload for TypedJson<W, T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value = serde_json::from_slice(&data).map_err(|err| ParseRequestPayloadError {
            reason: err.to_string(),
        })?;
        Ok(TypedJson::new(value))
    }
}

impl<W: Send, T: Serialize + Send> IntoResponse for TypedJson<W, T> {
    fn into_response(self) -> Response {
        let mut bytes = Vec::with_capacity(self.2);
        match serde_json::to_writer(&mut bytes, &self.0) {
            Ok(()) => Response::builder()
                .content_type("application/json; charset=utf-8")
                .body(bytes),
            Err(err) => {
                tracing::error!(error = %err, "an answer cannot be encoded");
                poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<W: Type + Send, T: Serialize + Send> ApiResponse for TypedJson<W, T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Json<W> as Payload>::CONTENT_TYPE,
                    schema: W::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        W::register(registry);
    }
}

poem_openapi::impl_apirequest_for_payload!(
    TypedJson<W, T>,
    W: Type,
    T: DeserializeOwned + Send
);
