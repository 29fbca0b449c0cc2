//! Calls between the Worker and its Durable Objects, over Workers RPC.
//!
//! Every object takes one typed request (a serde-tagged enum of its own,
//! shared by caller and object) and gives one typed answer, carried as JSON
//! through its one RPC method, `handle(request)`. RPC instead of `fetch` to
//! the object: no `Request` and `Response` are built and read on either side
//! (BENCHMARKS.md).
//!
//! workers-rs makes a Durable Object's `#[wasm_bindgen]` methods callable over
//! RPC once its class derives from the runtime's `DurableObject`, which
//! `worker/entry.mjs` declares (worker-build 0.8.7 does so only for
//! emscripten builds).

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Env, Error, Response, Result, js_sys};

#[wasm_bindgen]
extern "C" {
    /// A stub of one of this Worker's Durable Objects, seen through RPC.
    type ObjectStub;

    #[wasm_bindgen(method, catch)]
    fn handle(this: &ObjectStub, request: &str) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Sends `request` to the object `name` of `binding`; its answer.
pub async fn call<Q: Serialize, A: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    request: &Q,
) -> Result<A> {
    let answer = send(env, binding, name, &serde_json::to_string(request)?).await?;
    Ok(serde_json::from_str(&answer)?)
}

/// The untyped part of [`call`], kept out of its instances: one copy of the
/// call and its future.
async fn send(env: &Env, binding: &str, name: &str, request: &str) -> Result<String> {
    let stub: ObjectStub = env.durable_object(binding)?.id_from_name(name)?.get_stub()?.into_rpc();
    let answer = JsFuture::from(stub.handle(request)?).await?;
    answer.as_string().ok_or_else(|| Error::RustError(format!("{binding} answered no text")))
}

/// Gives a Durable Object its RPC method, `handle(request)`, answered by the
/// object's own `async fn answer(&self, request: $request) -> Result<impl Serialize>`.
macro_rules! object_method {
    ($object:ident, $request:ty) => {
        const _: () = {
            use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};
            // js_sys: named by the async glue when worker-build sets WASM_BINDGEN_USE_JS_SYS.
            #[allow(unused_imports)]
            use worker::{js_sys, wasm_bindgen_futures};

            #[wasm_bindgen]
            impl $object {
                /// The object's RPC method (see [`crate::rpc`]).
                pub async fn handle(
                    &self,
                    request: String,
                ) -> core::result::Result<String, JsValue> {
                    let request: $request = serde_json::from_str(&request)
                        .map_err(|error| JsValue::from(worker::Error::from(error)))?;
                    let answer = self.answer(request).await.map_err(JsValue::from)?;
                    serde_json::to_string(&answer)
                        .map_err(|error| JsValue::from(worker::Error::from(error)))
                }
            }
        };
    };
}
pub(crate) use object_method;

/// The error for an answer of the wrong kind (a caller and an object of
/// different versions).
pub fn unexpected(binding: &str) -> Error {
    Error::RustError(format!("{binding} answered something else than asked"))
}

/// The answer of an object's `fetch`: its calls come over RPC only.
pub fn not_http() -> Result<Response> {
    Response::error("this object answers RPC calls only", 404)
}
