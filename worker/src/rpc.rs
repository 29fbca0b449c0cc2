//! JSON calls between the Worker and its Durable Objects: one helper for
//! every object, so each object only names its actions.

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::{Env, Error, Method, Request, RequestInit, Response, Result};

/// Sends `action` with a JSON `body` to the object `name` of `binding`.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    action: &str,
    body: &B,
) -> Result<R> {
    let stub = env.durable_object(binding)?.id_from_name(name)?.get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(body)?.into()));
    let request = Request::new_with_init(&format!("https://durable-object/{action}"), &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    if response.status_code() != 200 {
        return Err(Error::RustError(format!(
            "{binding} {action} answered {}",
            response.status_code()
        )));
    }
    response.json().await
}

/// The action a call names, and its JSON body.
pub async fn action<B: DeserializeOwned>(mut request: Request) -> Result<(String, B)> {
    let action = request.path().trim_start_matches('/').to_string();
    Ok((action, request.json().await?))
}

/// Answer for an action the object does not have.
pub fn unknown_action(action: &str) -> Result<Response> {
    Response::error(format!("unknown action {action}"), 404)
}
