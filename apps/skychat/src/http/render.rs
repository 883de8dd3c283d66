//! Turns the service's typed answers into HTTP responses: the one place where a
//! [`ServiceError`] gets its status code, and where a send's outcome gets its status and body.
//! Bodies go through a `serde_json::Value`, so that their keys come out sorted as always.

use serde::Serialize;
use serde_json::{Value, json};
use skychat_core::PublicKey;
use tide::{Response, StatusCode};

use crate::service::{SendOutcome, ServiceError, status_label};
use crate::store::Status;

/// The status code for `error`.
pub fn error_status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::BadRequest(_) => StatusCode::BadRequest,
        ServiceError::TooLarge(_) => StatusCode::PayloadTooLarge,
        ServiceError::NotFound(_) => StatusCode::NotFound,
        ServiceError::Conflict(_) => StatusCode::UnprocessableEntity,
        ServiceError::WrongState(_) => StatusCode::Conflict,
        ServiceError::Unavailable(_)
        | ServiceError::StorageUnavailable(_)
        | ServiceError::ShuttingDown => StatusCode::ServiceUnavailable,
        ServiceError::StorageFull(_) => StatusCode::InsufficientStorage,
        ServiceError::Internal(_) => StatusCode::InternalServerError,
    }
}

/// `{"error": "<message>"}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    body(status, json!({ "error": message }))
}

/// The response for a failed service call.
pub fn service_error(e: &ServiceError) -> Response {
    error(error_status(e), &e.to_string())
}

/// `value` as a JSON body with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_value(value) {
        Ok(value) => body(status, value),
        Err(e) => error(
            StatusCode::InternalServerError,
            &format!("cannot render the answer: {e}"),
        ),
    }
}

fn body(status: StatusCode, body: Value) -> Response {
    let mut response = Response::new(status);
    response.set_body(body);
    response
}

/// The status and body answering a `/message` send to `recipient`.
pub fn send_outcome(recipient: &PublicKey, outcome: &SendOutcome) -> (StatusCode, Value) {
    match *outcome {
        SendOutcome::Acked { id, ms } => (
            StatusCode::Ok,
            json!({
                "acked": true,
                "status": status_label(recipient, Status::Acked),
                "id": id.to_hex(),
                "ms": ms,
            }),
        ),
        SendOutcome::Timeout { id, ms } => (
            StatusCode::GatewayTimeout,
            json!({"acked": false, "id": id.to_hex(), "reason": "timeout", "ms": ms, "queued": true}),
        ),
        SendOutcome::Queued { id } => (
            StatusCode::Accepted,
            json!({"queued": true, "id": id.to_hex()}),
        ),
        SendOutcome::Sent { id } => (
            StatusCode::Ok,
            json!({"queued": false, "sent": true, "id": id.to_hex()}),
        ),
        SendOutcome::Replayed { id, status } => (
            StatusCode::Ok,
            json!({"id": id.to_hex(), "replayed": true, "status": status_label(recipient, status)}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(mut response: Response) -> (u16, String) {
        let status = response.status() as u16;
        let text = smol::block_on(response.take_body().into_string()).expect("a text body");
        (status, text)
    }

    #[test]
    fn each_service_error_has_its_status_and_a_json_body() {
        let cases = [
            (ServiceError::BadRequest("bad".into()), 400, "bad"),
            (ServiceError::TooLarge("big".into()), 413, "big"),
            (ServiceError::NotFound("none".into()), 404, "none"),
            (
                ServiceError::Conflict("key reused".into()),
                422,
                "key reused",
            ),
            (
                ServiceError::Unavailable("no visor".into()),
                503,
                "no visor",
            ),
            (ServiceError::StorageUnavailable("busy".into()), 503, "busy"),
            (ServiceError::StorageFull("full".into()), 507, "full"),
            (ServiceError::ShuttingDown, 503, "the node is shutting down"),
            (ServiceError::Internal("oops".into()), 500, "oops"),
        ];
        for (error, status, message) in cases {
            let (got_status, text) = body_of(service_error(&error));
            assert_eq!(got_status, status, "{error:?}");
            assert_eq!(text, json!({ "error": message }).to_string(), "{error:?}");
        }
    }

    #[test]
    fn store_errors_reach_the_client_with_their_status() {
        use crate::store::StoreError;
        let cases = [
            (StoreError::DiskFull("no room".into()), 507),
            (StoreError::Busy("locked".into()), 503),
            (StoreError::InvalidQuery("no words".into()), 400),
            (StoreError::Corrupt("bad hex".into()), 500),
        ];
        for (store_error, status) in cases {
            let expected = format!("store: {store_error}");
            let (got_status, text) = body_of(service_error(&store_error.into()));
            assert_eq!(got_status, status);
            assert_eq!(text, json!({ "error": expected }).to_string());
        }
    }

    #[test]
    fn send_outcomes_keep_their_status_and_fields() {
        let id = "0102030405060708090a0b0c0d0e0f10".parse().unwrap();
        let native = PublicKey::native([3; 32]);
        let hex = "0102030405060708090a0b0c0d0e0f10";
        let cases = [
            (
                SendOutcome::Acked { id, ms: 5 },
                200,
                r#"{"acked":true,"id":"ID","ms":5,"status":"acked"}"#,
            ),
            (
                SendOutcome::Timeout { id, ms: 2000 },
                504,
                r#"{"acked":false,"id":"ID","ms":2000,"queued":true,"reason":"timeout"}"#,
            ),
            (
                SendOutcome::Queued { id },
                202,
                r#"{"id":"ID","queued":true}"#,
            ),
            (
                SendOutcome::Sent { id },
                200,
                r#"{"id":"ID","queued":false,"sent":true}"#,
            ),
            (
                SendOutcome::Replayed {
                    id,
                    status: Status::Read,
                },
                200,
                r#"{"id":"ID","replayed":true,"status":"read"}"#,
            ),
        ];
        for (outcome, status, body) in cases {
            let (got_status, got_body) = send_outcome(&native, &outcome);
            assert_eq!(got_status as u16, status, "{outcome:?}");
            assert_eq!(got_body.to_string(), body.replace("ID", hex), "{outcome:?}");
        }
    }
}
