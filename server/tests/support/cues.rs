//! The notes app's handlers, after their write: what the body asks them to do, so that a test can
//! hold a request while its transaction is open, or have it fail or be refused.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Cues {
    /// Told when a handler asked to wait has written its row…
    pub started: Notify,
    /// …and waited on before it answers.
    pub release: Notify,
}

impl Cues {
    /// The answer to a note written as `id`: 201 with its `id`, unless the body says `wait`
    /// (hold until released), `fail` (503) or `refuse` (400).
    pub async fn answer(&self, body: &str, id: i64) -> Response {
        if body.contains("wait") {
            self.started.notify_one();
            // Bounded, so that a test gone wrong fails instead of hanging.
            let _ = tokio::time::timeout(Duration::from_secs(10), self.release.notified()).await;
        }
        if body.contains("fail") {
            return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
        if body.contains("refuse") {
            return (StatusCode::BAD_REQUEST, "refused").into_response();
        }
        (
            StatusCode::CREATED,
            [("location", format!("/api/notes/{id}"))],
            format!("{{\"id\":{id}}}"),
        )
            .into_response()
    }
}
