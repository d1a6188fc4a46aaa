//! The checks every mutation passes before anything is read or applied: it comes from the
//! app's own origin (or an allowed one), and a JSON route is sent JSON.
//!
//! A browser lets any site send a form POST or a `text/plain` fetch to any server, with the
//! user's cookies; `Sec-Fetch-Site` and `Origin` say where it came from. Requests that carry
//! neither (curl, other servers) are not a browser acting for another site, and pass.

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};

use crate::problem::Problem;

/// Where mutations may come from, and what they must carry.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Origins besides the app's own (`https://admin.example.com`), compared exactly.
    pub allowed_origins: Vec<String>,
    /// Refuse a body that is not JSON (`application/json` or `…+json`) with 415.
    pub json_only: bool,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            json_only: true,
        }
    }
}

pub fn is_mutation(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

impl Guard {
    /// `Ok` when the mutation may go on; otherwise the refusal to send.
    pub fn check(&self, parts: &Parts) -> Result<(), Problem> {
        self.check_origin(&parts.headers)?;
        if self.json_only {
            check_json(&parts.headers)?;
        }
        Ok(())
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Problem> {
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("(not ASCII)"));
        if let Some(origin) = origin {
            if self.allowed_origins.iter().any(|allowed| allowed == origin) {
                return Ok(());
            }
            if !is_own_origin(origin, headers) {
                return Err(cross_site(format!(
                    "mutations from {origin} are not accepted"
                )));
            }
        }
        match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
            Some(b"cross-site") => Err(cross_site("a cross-site mutation is not accepted".into())),
            _ => Ok(()),
        }
    }
}

/// The `Origin` names the host the request was sent to (the scheme is the proxy's business).
fn is_own_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

fn cross_site(detail: String) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, detail)
}

/// A body comes with a JSON content type; an empty body (a DELETE) needs none.
fn check_json(headers: &HeaderMap) -> Result<(), Problem> {
    let declared_empty = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|length| length.as_bytes() == b"0");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""));
    match content_type {
        None if declared_empty
            || !headers.contains_key(header::TRANSFER_ENCODING)
                && !headers.contains_key(header::CONTENT_LENGTH) =>
        {
            Ok(())
        }
        Some(value) if is_json(value) => Ok(()),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "this route takes application/json, not {}",
                content_type.unwrap_or("a body without a content type")
            ),
        )),
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/tasks")
            .header("host", "app.test:8080");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(())
            .map(|r| r.into_parts().0)
            .expect("a valid request")
    }

    fn status(guard: &Guard, headers: &[(&str, &str)]) -> u16 {
        guard
            .check(&parts(headers))
            .map_or_else(|p| p.status, |()| 200)
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const LENGTH: (&str, &str) = ("content-length", "2");

    #[test]
    fn only_the_apps_own_origin_or_an_allowed_one_may_mutate() {
        let guard = Guard {
            allowed_origins: vec!["https://admin.test".into()],
            ..Guard::default()
        };
        assert_eq!(
            status(&guard, &[JSON, LENGTH]),
            200,
            "no browser headers: not a browser"
        );
        assert_eq!(
            status(
                &guard,
                &[
                    JSON,
                    LENGTH,
                    ("origin", "http://app.test:8080"),
                    ("sec-fetch-site", "same-origin")
                ]
            ),
            200
        );
        assert_eq!(
            status(&guard, &[JSON, LENGTH, ("origin", "https://APP.test:8080")]),
            200
        );
        assert_eq!(
            status(&guard, &[JSON, LENGTH, ("origin", "http://evil.example")]),
            403
        );
        assert_eq!(status(&guard, &[JSON, LENGTH, ("origin", "null")]), 403);
        assert_eq!(
            status(&guard, &[JSON, LENGTH, ("origin", "http://app.test:9999")]),
            403
        );
        assert_eq!(
            status(&guard, &[JSON, LENGTH, ("sec-fetch-site", "cross-site")]),
            403
        );
        assert_eq!(
            status(
                &guard,
                &[
                    JSON,
                    LENGTH,
                    ("origin", "https://admin.test"),
                    ("sec-fetch-site", "cross-site")
                ]
            ),
            200
        );
        assert_eq!(
            status(&guard, &[JSON, LENGTH, ("sec-fetch-site", "same-site")]),
            200
        );
    }

    #[test]
    fn a_json_route_takes_json_or_no_body() {
        let guard = Guard::default();
        assert_eq!(status(&guard, &[JSON, LENGTH]), 200);
        assert_eq!(
            status(
                &guard,
                &[("content-type", "application/merge-patch+json"), LENGTH]
            ),
            200
        );
        assert_eq!(
            status(
                &guard,
                &[("content-type", "Application/JSON; charset=utf-8"), LENGTH]
            ),
            200
        );
        assert_eq!(
            status(&guard, &[("content-type", "text/plain"), LENGTH]),
            415
        );
        assert_eq!(
            status(
                &guard,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    LENGTH
                ]
            ),
            415
        );
        assert_eq!(
            status(&guard, &[LENGTH]),
            415,
            "a body with no content type"
        );
        assert_eq!(status(&guard, &[]), 200, "no body at all");
        assert_eq!(status(&guard, &[("content-length", "0")]), 200);
        assert_eq!(
            status(
                &Guard {
                    json_only: false,
                    ..Guard::default()
                },
                &[("content-type", "text/plain"), LENGTH]
            ),
            200
        );
    }
}
