//! One HTTP exchange at a time, answers of every status read in full.

use std::time::Duration;

use ureq::Agent;
use ureq::http::{HeaderValue, Request};

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
pub struct Client {
    agent: Agent,
}

impl Client {
    pub fn new() -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        Self {
            agent: Agent::new_with_config(config),
        }
    }

    /// Sends one request; `Err` only when no answer came (refused, reset, timed out).
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            let value =
                HeaderValue::from_bytes(value).map_err(|e| format!("header {name}: {e}"))?;
            request = request.header(*name, value);
        }
        let request = request
            .body(body.to_vec())
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// A JSON mutation, with an `Idempotency-Key` when one is given.
    pub fn mutate(
        &self,
        method: &str,
        url: &str,
        key: Option<&str>,
        body: &str,
        extra: &[(&str, &[u8])],
    ) -> Result<Reply, String> {
        let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
        if let Some(key) = key {
            headers.push(("idempotency-key", key.as_bytes()));
        }
        headers.extend_from_slice(extra);
        self.send(method, url, &headers, body.as_bytes())
    }
}
