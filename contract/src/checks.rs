//! The contract's rules, each checked from the outside against a running server.

use serde_json::{Map, Value};

use crate::client::{Client, Reply};

/// What the kit was pointed at.
pub struct Target {
    /// A collection: `http://127.0.0.1:3000/api/tasks`.
    pub collection: String,
    pub batch: String,
    /// A JSON object that creates a record in the collection.
    pub body: Map<String, Value>,
    pub max_body: usize,
}

impl Target {
    /// A collection URL, with the batch endpoint beside it, `{"title": …}` as the create
    /// body and a 1 MiB body limit.
    pub fn new(collection: &str) -> Self {
        let collection = collection.trim_end_matches('/').to_owned();
        let parent = &collection[..collection.rfind('/').unwrap_or(collection.len())];
        Self {
            batch: format!("{parent}/_batch"),
            body: Map::from_iter([(
                "title".to_owned(),
                Value::String("offline-sync contract".into()),
            )]),
            max_body: 1 << 20,
            collection,
        }
    }
}

/// One rule: its name, and how to check it.
pub struct Rule {
    pub name: &'static str,
    pub says: &'static str,
    pub(crate) check: fn(&Client, &Target) -> Result<String, String>,
}

pub const RULES: &[Rule] = &[
    Rule {
        name: "replay",
        says: "a repeated key gets the first answer, byte for byte, with Idempotent-Replayed: true",
        check: replay,
    },
    Rule {
        name: "quoted-key",
        says: "a key sent as a quoted string names the same key",
        check: quoted_key,
    },
    Rule {
        name: "reuse-422",
        says: "a key reused with a different request gets 422",
        check: reuse,
    },
    Rule {
        name: "concurrent",
        says: "the same key sent 8 times at once is applied once: one answer, the rest replays or 409",
        check: concurrent,
    },
    Rule {
        name: "bad-key-400",
        says: "a key over 255 characters, or not ASCII, gets 400",
        check: bad_keys,
    },
    Rule {
        name: "cross-site-403",
        says: "a mutation from another site gets 403",
        check: cross_site,
    },
    Rule {
        name: "content-type-415",
        says: "a JSON route given text/plain gets 415",
        check: content_type,
    },
    Rule {
        name: "too-large-413",
        says: "a body over the limit gets 413",
        check: too_large,
    },
    Rule {
        name: "batch",
        says: "a batch runs items in order under their keys and stops at the first refusal",
        check: batch,
    },
    Rule {
        name: "batch-malformed-400",
        says: "a malformed batch gets 400",
        check: malformed_batch,
    },
    Rule {
        name: "since-tombstones",
        says: "a pull since a cursor lists the changes after it, deletes as tombstones",
        check: since,
    },
    Rule {
        name: "if-match-409",
        says: "If-Match naming another version gets 409 with the current record",
        check: if_match,
    },
];

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn expect(what: &str, reply: &Reply, status: u16) -> Result<(), String> {
    if reply.status == status {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {status}, got {} {}",
            reply.status,
            excerpt(reply)
        ))
    }
}

fn expect_2xx(what: &str, reply: &Reply) -> Result<(), String> {
    if (200..300).contains(&reply.status) {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected 2xx, got {} {}",
            reply.status,
            excerpt(reply)
        ))
    }
}

fn excerpt(reply: &Reply) -> String {
    let text = reply.text();
    let short: String = text.chars().take(160).collect();
    if short.is_empty() {
        String::new()
    } else {
        format!("({short})")
    }
}

/// A create body, with a fresh client id so that creates never collide.
fn create_body(target: &Target) -> Map<String, Value> {
    let mut body = target.body.clone();
    body.insert("id".into(), Value::String(fresh_key()));
    body
}

/// The same body with its first text field changed: another request.
fn changed(body: &Map<String, Value>) -> Map<String, Value> {
    let mut body = body.clone();
    if let Some((_, Value::String(text))) = body
        .iter_mut()
        .find(|(name, v)| name.as_str() != "id" && v.is_string())
    {
        text.push_str(" (changed)");
    } else {
        body.insert("offlineSyncContract".into(), Value::Bool(true));
    }
    body
}

fn text(body: &Map<String, Value>) -> String {
    Value::Object(body.clone()).to_string()
}

/// Creates one record and returns its id and ETag.
fn create(client: &Client, target: &Target) -> Result<(String, Option<String>), String> {
    let body = create_body(target);
    let reply = client.mutate(
        "POST",
        &target.collection,
        Some(&fresh_key()),
        &text(&body),
        &[],
    )?;
    expect_2xx("create", &reply)?;
    let id = reply
        .json()
        .and_then(|v| v.get("id").and_then(|id| id.as_str().map(str::to_owned)))
        .ok_or_else(|| format!("create: the answer has no \"id\" {}", excerpt(&reply)))?;
    Ok((id, reply.header("etag").map(str::to_owned)))
}

fn replay(client: &Client, target: &Target) -> Result<String, String> {
    let key = fresh_key();
    let body = text(&create_body(target));
    let first = client.mutate("POST", &target.collection, Some(&key), &body, &[])?;
    expect_2xx("first send", &first)?;
    if first.header("idempotent-replayed").is_some() {
        return Err("the first answer already says Idempotent-Replayed".into());
    }
    let again = client.mutate("POST", &target.collection, Some(&key), &body, &[])?;
    if (again.status, &again.body) != (first.status, &first.body) {
        return Err(format!(
            "the retry got {} {}, not the first answer",
            again.status,
            excerpt(&again)
        ));
    }
    if again.header("idempotent-replayed") != Some("true") {
        return Err("the retry's answer lacks Idempotent-Replayed: true".into());
    }
    Ok(format!("{} twice, the same bytes", first.status))
}

fn quoted_key(client: &Client, target: &Target) -> Result<String, String> {
    let key = fresh_key();
    let body = text(&create_body(target));
    let first = client.mutate(
        "POST",
        &target.collection,
        Some(&format!("\"{key}\"")),
        &body,
        &[],
    )?;
    expect_2xx("quoted key", &first)?;
    let bare = client.mutate("POST", &target.collection, Some(&key), &body, &[])?;
    if bare.body != first.body || bare.header("idempotent-replayed") != Some("true") {
        return Err(format!(
            "the same key sent bare was not a replay: {} {}",
            bare.status,
            excerpt(&bare)
        ));
    }
    Ok("\"k\" and k replay each other".into())
}

fn reuse(client: &Client, target: &Target) -> Result<String, String> {
    let key = fresh_key();
    let body = create_body(target);
    expect_2xx(
        "first send",
        &client.mutate("POST", &target.collection, Some(&key), &text(&body), &[])?,
    )?;
    let other = client.mutate(
        "POST",
        &target.collection,
        Some(&key),
        &text(&changed(&body)),
        &[],
    )?;
    expect("another body under the same key", &other, 422)?;
    Ok("422".into())
}

fn concurrent(client: &Client, target: &Target) -> Result<String, String> {
    let key = fresh_key();
    let body = text(&create_body(target));
    let replies: Vec<Result<Reply, String>> = std::thread::scope(|scope| {
        let sends: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| client.mutate("POST", &target.collection, Some(&key), &body, &[]))
            })
            .collect();
        sends
            .into_iter()
            .map(|s| {
                s.join()
                    .unwrap_or_else(|_| Err("a sending thread panicked".into()))
            })
            .collect()
    });
    let replies = replies.into_iter().collect::<Result<Vec<_>, _>>()?;
    let answered: Vec<&Reply> = replies.iter().filter(|r| r.status != 409).collect();
    let in_flight = replies.len() - answered.len();
    let Some(first) = answered.first() else {
        return Err("every send got 409; none was applied".into());
    };
    expect_2xx("a concurrent send", first)?;
    if let Some(odd) = answered
        .iter()
        .find(|r| r.body != first.body || r.status != first.status)
    {
        return Err(format!(
            "two different answers: {} {} and {} {}",
            first.status,
            excerpt(first),
            odd.status,
            excerpt(odd)
        ));
    }
    let fresh = answered
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    if fresh != 1 {
        return Err(format!(
            "{fresh} answers were not marked as replays; exactly one should be fresh"
        ));
    }
    Ok(format!(
        "applied once; {} replays, {in_flight} × 409",
        answered.len() - 1
    ))
}

fn bad_keys(client: &Client, target: &Target) -> Result<String, String> {
    let body = text(&create_body(target));
    expect(
        "a 256-character key",
        &client.mutate(
            "POST",
            &target.collection,
            Some(&"k".repeat(256)),
            &body,
            &[],
        )?,
        400,
    )?;
    let non_ascii = client.send(
        "POST",
        &target.collection,
        &[
            ("content-type", b"application/json"),
            ("idempotency-key", "cl\u{e9}".as_bytes()),
        ],
        body.as_bytes(),
    )?;
    expect("a key that is not ASCII", &non_ascii, 400)?;
    Ok("both 400".into())
}

fn cross_site(client: &Client, target: &Target) -> Result<String, String> {
    let body = text(&create_body(target));
    let form_like = client.send(
        "POST",
        &target.collection,
        &[
            ("content-type", b"text/plain"),
            ("origin", b"http://evil.example"),
            ("sec-fetch-site", b"cross-site"),
        ],
        body.as_bytes(),
    )?;
    expect(
        "a text/plain POST from http://evil.example",
        &form_like,
        403,
    )?;
    let json = client.mutate(
        "POST",
        &target.collection,
        Some(&fresh_key()),
        &body,
        &[("origin", b"http://evil.example")],
    )?;
    expect("a JSON POST with Origin http://evil.example", &json, 403)?;
    Ok("both 403".into())
}

fn content_type(client: &Client, target: &Target) -> Result<String, String> {
    let body = text(&create_body(target));
    let reply = client.send(
        "POST",
        &target.collection,
        &[("content-type", b"text/plain")],
        body.as_bytes(),
    )?;
    expect("text/plain", &reply, 415)?;
    Ok("415".into())
}

fn too_large(client: &Client, target: &Target) -> Result<String, String> {
    let mut body = create_body(target);
    body.insert("padding".into(), Value::String("x".repeat(target.max_body)));
    let reply = client.mutate(
        "POST",
        &target.collection,
        Some(&fresh_key()),
        &text(&body),
        &[],
    )?;
    expect(
        &format!("a body over {} bytes", target.max_body),
        &reply,
        413,
    )?;
    Ok("413".into())
}

/// The collection's path, as batch items name it.
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("/".into(), |i| after_scheme[i..].to_owned())
}

fn item(target: &Target, key: &str, body: &str) -> Value {
    serde_json::json!({
        "method": "POST",
        "url": path_of(&target.collection),
        "headers": [["content-type", "application/json"], ["idempotency-key", key]],
        "body": body,
    })
}

fn send_batch(client: &Client, target: &Target, items: Vec<Value>) -> Result<Reply, String> {
    let body = serde_json::json!({ "requests": items }).to_string();
    client.send(
        "POST",
        &target.batch,
        &[("content-type", b"application/json")],
        body.as_bytes(),
    )
}

fn batch(client: &Client, target: &Target) -> Result<String, String> {
    let (k1, k3) = (fresh_key(), fresh_key());
    let first = text(&create_body(target));
    let items = vec![
        item(target, &k1, &first),
        item(target, &fresh_key(), "{not json"),
        item(target, &k3, &text(&create_body(target))),
    ];
    let reply = send_batch(client, target, items)?;
    expect("the batch", &reply, 200)?;
    let results = reply
        .json()
        .and_then(|v| v.get("results").and_then(Value::as_array).cloned())
        .ok_or("the answer has no results array")?;
    let statuses: Vec<u64> = results
        .iter()
        .filter_map(|r| r.get("status").and_then(Value::as_u64))
        .collect();
    if statuses.len() != 2
        || !(200..300).contains(&statuses[0])
        || !(400..500).contains(&statuses[1])
    {
        return Err(format!(
            "expected [2xx, 4xx] (stopping after the refusal), got {statuses:?}"
        ));
    }
    let again = send_batch(client, target, vec![item(target, &k1, &first)])?;
    let replayed = again
        .json()
        .and_then(|v| v.pointer("/results/0/headers").cloned())
        .is_some_and(|headers| {
            headers
                .to_string()
                .to_ascii_lowercase()
                .contains("idempotent-replayed")
        });
    if !replayed {
        return Err(format!(
            "the first item sent again was not a replay: {}",
            excerpt(&again)
        ));
    }
    Ok(format!("{statuses:?}, then a replay"))
}

fn malformed_batch(client: &Client, target: &Target) -> Result<String, String> {
    let outside =
        serde_json::json!({"method": "POST", "url": "http://elsewhere.example/x", "body": "{}"});
    let reply = send_batch(
        client,
        target,
        vec![
            item(target, &fresh_key(), &text(&create_body(target))),
            outside,
        ],
    )?;
    expect("a batch with an item for another host", &reply, 400)?;
    let garbled = client.send(
        "POST",
        &target.batch,
        &[("content-type", b"application/json")],
        b"{\"requests\": 7}",
    )?;
    expect("a batch whose requests is not a list", &garbled, 400)?;
    Ok("both 400".into())
}

fn pull(client: &Client, target: &Target, since: &str) -> Result<(Vec<Value>, String), String> {
    let mut changes = Vec::new();
    let mut cursor = since.to_owned();
    for _ in 0..100 {
        let url = format!("{}?since={cursor}&limit=100", target.collection);
        let reply = client.send("GET", &url, &[], b"")?;
        expect("a pull", &reply, 200)?;
        let page = reply
            .json()
            .ok_or_else(|| format!("the pull answer is not JSON {}", excerpt(&reply)))?;
        let (Some(list), Some(next), Some(more)) = (
            page.get("changes").and_then(Value::as_array),
            page.get("cursor").and_then(Value::as_str),
            page.get("hasMore").and_then(Value::as_bool),
        ) else {
            return Err(format!(
                "a pull answers {{changes, cursor, hasMore}}, not {}",
                excerpt(&reply)
            ));
        };
        changes.extend(list.iter().cloned());
        cursor = next.to_owned();
        if !more {
            return Ok((changes, cursor));
        }
    }
    Err("the pull still had more after 100 pages".into())
}

fn since(client: &Client, target: &Target) -> Result<String, String> {
    let (_, cursor) = pull(client, target, "0")?;
    let (id, _) = create(client, target)?;
    let deleted = client.mutate(
        "DELETE",
        &format!("{}/{id}", target.collection),
        Some(&fresh_key()),
        "",
        &[],
    )?;
    expect_2xx("the delete", &deleted)?;
    let (changes, _) = pull(client, target, &cursor)?;
    let record = changes
        .iter()
        .rev()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id.as_str()))
        .ok_or_else(|| format!("the pull since {cursor} misses record {id}"))?;
    if record.get("deleted") != Some(&Value::Bool(true)) {
        return Err(format!(
            "record {id} was deleted, but the pull shows {record}"
        ));
    }
    Ok(format!(
        "{} change(s) since {cursor}, the delete as a tombstone",
        changes.len()
    ))
}

fn if_match(client: &Client, target: &Target) -> Result<String, String> {
    let (id, etag) = create(client, target)?;
    let etag = etag.ok_or("a created record's answer has no ETag")?;
    let url = format!("{}/{id}", target.collection);
    let patch = text(&changed(&target.body));
    let stale = client.mutate(
        "PATCH",
        &url,
        Some(&fresh_key()),
        &patch,
        &[("if-match", b"\"999999\"")],
    )?;
    expect("a PATCH with If-Match naming another version", &stale, 409)?;
    if stale
        .json()
        .and_then(|v| v.get("current").cloned())
        .is_none()
    {
        return Err(format!(
            "the 409 does not carry the current record {}",
            excerpt(&stale)
        ));
    }
    let fresh = client.mutate(
        "PATCH",
        &url,
        Some(&fresh_key()),
        &patch,
        &[("if-match", etag.as_bytes())],
    )?;
    expect_2xx("a PATCH with the record's own ETag", &fresh)?;
    Ok(format!("409 with the current record; {etag} accepted"))
}
