//! Calls between the Worker and its Durable Objects, over Workers RPC.
//!
//! Every object of this Worker exposes one RPC method, `handle(action, body)`,
//! with a JSON body and a JSON answer: each object only names its actions and
//! their bodies. RPC instead of `fetch` to the object: no `Request` and
//! `Response` are built and read on either side (about an eighth less CPU
//! per forwarded event, BENCHMARKS.md).
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
    fn handle(
        this: &ObjectStub,
        action: &str,
        body: &str,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Sends `action` with a JSON `body` to the object `name` of `binding`.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    action: &str,
    body: &B,
) -> Result<R> {
    let answer = send(env, binding, name, action, &serde_json::to_string(body)?).await?;
    Ok(serde_json::from_str(&answer)?)
}

/// The untyped part of [`call`], kept out of its instances: one copy of the
/// call and its future for every action.
async fn send(env: &Env, binding: &str, name: &str, action: &str, body: &str) -> Result<String> {
    let stub: ObjectStub = env.durable_object(binding)?.id_from_name(name)?.get_stub()?.into_rpc();
    let answer = JsFuture::from(stub.handle(action, body)?).await?;
    answer
        .as_string()
        .ok_or_else(|| Error::RustError(format!("{binding} {action} answered no text")))
}

/// Gives a Durable Object its RPC method, `handle(action, body)`, answered by
/// the object's own `async fn answer(&self, action: &str, body: &str) -> Result<String>`.
macro_rules! object_method {
    ($object:ident) => {
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
                    action: String,
                    body: String,
                ) -> core::result::Result<String, JsValue> {
                    self.answer(&action, &body).await.map_err(JsValue::from)
                }
            }
        };
    };
}
pub(crate) use object_method;

/// The body of a call, as the action's type.
pub fn body<B: DeserializeOwned>(body: &str) -> Result<B> {
    Ok(serde_json::from_str(body)?)
}

/// An action's answer, as `handle` returns it.
pub fn answer<T: Serialize>(answer: &T) -> Result<String> {
    Ok(serde_json::to_string(answer)?)
}

/// The error for an action the object does not have.
pub fn unknown_action(action: &str) -> Error {
    Error::RustError(format!("unknown action {action}"))
}

/// The answer of an object's `fetch`: its calls come over RPC only.
pub fn not_http() -> Result<Response> {
    Response::error("this object answers RPC calls only", 404)
}
