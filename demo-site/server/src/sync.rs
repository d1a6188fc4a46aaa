//! Pull sync: `GET /api/{collection}?since=<cursor>&limit=<n>` lists every change after the
//! cursor, tombstones included, in change-sequence order. A cursor is the decimal sequence
//! number of the last change a client has seen; `0` (or empty) is the beginning.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::error::ApiError;
use crate::record::Record;

pub const DEFAULT_LIMIT: usize = 500;
pub const MAX_LIMIT: usize = 1000;

/// One pull request: changes after `since`, at most `limit` of them.
#[derive(Debug, PartialEq)]
pub struct Pull {
    pub since: i64,
    pub limit: usize,
}

/// One answer to a pull.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes<K> {
    pub changes: Vec<Record<K>>,
    /// Where the next pull starts: the last change returned, or the given cursor.
    pub cursor: String,
    pub has_more: bool,
}

impl<K> Changes<K> {
    pub fn new(pull: &Pull, changes: Vec<Record<K>>, has_more: bool) -> Self {
        let last = changes.last().map_or(pull.since, |r| r.seq);
        Self {
            changes,
            cursor: last.to_string(),
            has_more,
        }
    }
}

fn bad(why: &str) -> ApiError {
    ApiError::BadRequest(why.into())
}

/// The pull a query asks for: `None` without `since` or `limit` (a plain listing). Other
/// parameters are ignored; of repeated ones the first counts.
pub fn parse(query: Option<&str>) -> Result<Option<Pull>, ApiError> {
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
                matches!(parse(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
