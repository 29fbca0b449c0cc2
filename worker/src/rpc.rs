//! JSON calls between the Worker and its Durable Objects: one helper for
//! every object, so each object only names its actions and their bodies.
//! Bodies are read and written by serde_json inside wasm, one crossing of the
//! JS boundary each way.

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::{Env, Error, Headers, Request, Response, Result};

use crate::forward;

/// Sends `action` with a JSON `body` to the object `name` of `binding`.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    action: &str,
    body: &B,
) -> Result<R> {
    let answer = send(env, binding, name, action, serde_json::to_string(body)?).await?;
    Ok(serde_json::from_str(&answer)?)
}

/// The untyped part of [`call`], kept out of its instances: one copy of the
/// request and its future for every action.
async fn send(env: &Env, binding: &str, name: &str, action: &str, body: String) -> Result<String> {
    let stub = env.durable_object(binding)?.id_from_name(name)?.get_stub()?;
    let url = format!("https://durable-object/{action}");
    let request = forward::post(&url, &body.into(), &Headers::new())?;
    let mut response = stub.fetch_with_request(request).await?;
    if response.status_code() != 200 {
        return Err(Error::RustError(format!(
            "{binding} {action} answered {}",
            response.status_code()
        )));
    }
    response.text().await
}

/// A call as the object receives it.
pub struct Received {
    /// The action it names.
    pub action: String,
    body: String,
}

impl Received {
    /// Reads the action and the body of a call.
    pub async fn read(mut request: Request) -> Result<Self> {
        let action = request.path().trim_start_matches('/').to_string();
        Ok(Self { action, body: request.text().await? })
    }

    /// The body, as the action's type.
    pub fn body<B: DeserializeOwned>(&self) -> Result<B> {
        Ok(serde_json::from_str(&self.body)?)
    }
}

/// Answer for an action the object does not have.
pub fn unknown_action(action: &str) -> Result<Response> {
    Response::error(format!("unknown action {action}"), 404)
}
