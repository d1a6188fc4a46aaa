//! Pull helpers: `GET …?since=<cursor>&limit=<n>` lists every change after the cursor,
//! tombstones included, in change-sequence order; and `If-Match`, which guards a write with the
//! version the client last saw (409 and the current record when it is another).
//!
//! A cursor is the decimal sequence number of the last change a client has seen; `0` (or
//! empty) is the beginning. The sequence is one counter for the whole server, bumped in the
//! transaction of each change, so a pull never misses a change however clocks disagree.

use axum::http::{HeaderMap, StatusCode, header};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::problem::Problem;

pub const DEFAULT_LIMIT: usize = 500;
pub const MAX_LIMIT: usize = 1000;

/// One pull request: changes after `since`, at most `limit` of them.
#[derive(Debug, PartialEq)]
pub struct Pull {
    pub since: i64,
    pub limit: usize,
}

/// A record in the change sequence: the number of its last change.
pub trait Sequenced {
    fn seq(&self) -> i64;
}

/// One answer to a pull: `{"changes": […], "cursor": "…", "hasMore": …}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes<T> {
    /// In change order, deleted records included as tombstones.
    pub changes: Vec<T>,
    /// Where the next pull starts: the last change returned, or the given cursor.
    pub cursor: String,
    pub has_more: bool,
}

impl<T: Sequenced> Changes<T> {
    pub fn new(pull: &Pull, changes: Vec<T>, has_more: bool) -> Self {
        let last = changes.last().map_or(pull.since, Sequenced::seq);
        Self {
            changes,
            cursor: last.to_string(),
            has_more,
        }
    }
}

fn bad(why: &str) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, why)
}

/// The pull a query asks for: `None` without `since` or `limit` (a plain listing). Other
/// parameters are ignored; of repeated ones the first counts.
pub fn parse(query: Option<&str>) -> Result<Option<Pull>, Problem> {
    let mut since = None;
    let mut limit = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad("the query is not UTF-8"))
        };
        let slot = match decode(name)?.as_str() {
            "since" => &mut since,
            "limit" => &mut limit,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decode(value)?);
        }
    }
    if since.is_none() && limit.is_none() {
        return Ok(None);
    }
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let since = match since.as_deref() {
        None | Some("") => 0,
        Some(cursor) => number(cursor)
            .ok_or_else(|| bad("since must be a cursor from an earlier answer, or 0"))?,
    };
    let limit = match limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(n) => match number(n) {
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
            _ => return Err(bad("limit must be a whole number from 1 to 1000")),
        },
    };
    Ok(Some(Pull { since, limit }))
}

/// An `If-Match` header: `*`, or versions written as plain or quoted (ETag-style) integers.
#[derive(Debug, Clone, PartialEq)]
pub enum IfMatch {
    Any,
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Parses the header values (a request may repeat the header); `None` if malformed.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut versions = Vec::new();
        for value in values {
            for tag in value.split(',').map(str::trim) {
                if tag == "*" {
                    return Some(Self::Any);
                }
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                let tag = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(tag);
                if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                versions.push(tag.parse().ok()?);
            }
        }
        (!versions.is_empty()).then_some(Self::Versions(versions))
    }

    /// The request's `If-Match`, if it has one; 400 when it is not versions or `*`.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, Problem> {
        let mut values = headers.get_all(header::IF_MATCH).iter().peekable();
        if values.peek().is_none() {
            return Ok(None);
        }
        values
            .map(|v| v.to_str())
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .and_then(Self::parse)
            .map(Some)
            .ok_or_else(|| bad("If-Match must be a version number, plain or quoted like \"3\""))
    }

    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cursor_and_limit() {
        let pull = |since, limit| Some(Some(Pull { since, limit }));
        assert!(matches!(parse(None), Ok(None)));
        assert!(matches!(parse(Some("_=123")), Ok(None)));
        assert_eq!(parse(Some("since=0")).ok(), pull(0, 500));
        assert_eq!(parse(Some("since=")).ok(), pull(0, 500));
        assert_eq!(parse(Some("since=42&limit=10")).ok(), pull(42, 10));
        assert_eq!(parse(Some("limit=5000")).ok(), pull(0, 1000));
        assert_eq!(parse(Some("since=%37")).ok(), pull(7, 500));
        for bad in [
            "since=-1",
            "since=x",
            "since=1.5",
            "since=%20",
            "limit=0",
            "limit=",
            "limit=ten",
            "since=99999999999999999999",
        ] {
            assert!(
                matches!(parse(Some(bad)), Err(Problem { status: 400, .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn if_match_takes_plain_quoted_weak_and_listed_versions() {
        let parse = |v: &str| IfMatch::parse([v]);
        assert_eq!(parse("3"), Some(IfMatch::Versions(vec![3])));
        assert_eq!(parse("\"3\""), Some(IfMatch::Versions(vec![3])));
        assert_eq!(parse("W/\"3\""), Some(IfMatch::Versions(vec![3])));
        assert_eq!(parse("\"3\", \"4\""), Some(IfMatch::Versions(vec![3, 4])));
        assert_eq!(parse("*"), Some(IfMatch::Any));
        for bad in [
            "",
            "x",
            "-1",
            "\"\"",
            "3.0",
            "\"abc\"",
            "99999999999999999999",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
