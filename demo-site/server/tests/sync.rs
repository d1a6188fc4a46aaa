//! The sync API: versions and the change sequence, merge patches, `If-Match`, tombstones,
//! pull by cursor, projects, validation, and upgrading a database from before sync.

mod support;

use std::net::SocketAddr;

use serde_json::{Value, json};
use support::{Reply, call, get, send, start, start_memory, tasks, temp_dir};

/// A JSON request with an `If-Match` header.
fn call_if(addr: SocketAddr, method: &str, path: &str, if_match: &str, body: &str) -> Reply {
    send(
        addr,
        method,
        path,
        &[("Content-Type", "application/json"), ("If-Match", if_match)],
        body,
    )
}

/// One pull: `(changes, cursor, hasMore)`.
fn pull(addr: SocketAddr, path_and_query: &str) -> (Vec<Value>, String, bool) {
    let reply = get(addr, path_and_query);
    assert_eq!(reply.status, 200, "{path_and_query}: {:?}", reply.json());
    let body = reply.json();
    let Value::Array(changes) = body["changes"].clone() else {
        panic!("changes should be an array: {body}")
    };
    let cursor = body["cursor"]
        .as_str()
        .expect("cursor is a string")
        .to_owned();
    (changes, cursor, body["hasMore"].as_bool().expect("hasMore"))
}

/// Every change after `since`, page by page.
fn pull_all(addr: SocketAddr, collection: &str, since: &str, limit: usize) -> (Vec<Value>, String) {
    let mut cursor = since.to_owned();
    let mut all = Vec::new();
    loop {
        let (page, next, more) = pull(
            addr,
            &format!("/api/{collection}?since={cursor}&limit={limit}"),
        );
        assert!(page.len() <= limit);
        all.extend(page);
        cursor = next;
        if !more {
            return (all, cursor);
        }
    }
}

fn seqs(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r["seq"].as_i64().expect("seq"))
        .collect()
}

fn error_of(reply: &Reply) -> String {
    reply.json()["error"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

#[test]
fn every_change_gets_a_new_version_and_sequence_number() {
    let addr = start_memory();
    let made = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"t","title":"first","description":"d"}"#,
    );
    assert_eq!(made.status, 201);
    assert_eq!(made.header("etag"), Some("\"1\""));
    let made = made.json();
    assert_eq!(
        made,
        json!({"id":"t","title":"first","description":"d","status":"todo","done":false,"dueDate":null,
               "priority":"medium","tags":[],"projectId":null,"createdAt":made["createdAt"],
               "updatedAt":made["createdAt"],"version":1,"seq":1,"deleted":false})
    );

    let put = call(
        addr,
        "PUT",
        "/api/tasks/t",
        None,
        r#"{"title":"second","priority":"high"}"#,
    );
    assert_eq!(put.status, 200);
    assert_eq!(put.header("etag"), Some("\"2\""));
    let put = put.json();
    assert_eq!(
        (put["version"].as_i64(), put["seq"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(put["title"], "second");
    assert_eq!(
        put["description"], "",
        "PUT replaces every field: not given means default"
    );
    assert_eq!(put["priority"], "high");
    assert_eq!(put["createdAt"], made["createdAt"]);

    let patched = call(addr, "PATCH", "/api/tasks/t", None, r#"{"tags":["a","b"]}"#);
    assert_eq!(patched.status, 200);
    assert_eq!(patched.header("etag"), Some("\"3\""));
    let patched = patched.json();
    assert_eq!(
        (patched["version"].as_i64(), patched["seq"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (&patched["title"], &patched["priority"]),
        (&json!("second"), &json!("high"))
    );
    assert_eq!(patched["tags"], json!(["a", "b"]));

    let deleted = call(addr, "DELETE", "/api/tasks/t", None, "");
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.header("etag"), Some("\"4\""));
    let tombstone = deleted.json();
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(
        (tombstone["version"].as_i64(), tombstone["seq"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(
        tombstone["title"], "second",
        "a tombstone keeps the last fields"
    );
    assert_eq!(
        tasks(addr),
        Vec::<Value>::new(),
        "the plain list shows live records only"
    );

    for (method, body) in [
        ("PUT", r#"{"title":"x"}"#),
        ("PATCH", r#"{"title":"x"}"#),
        ("DELETE", ""),
    ] {
        let gone = call(addr, method, "/api/tasks/t", None, body);
        assert_eq!(gone.status, 404, "{method} on a tombstone");
        assert_eq!(
            gone.json()["current"],
            tombstone,
            "{method}: the tombstone comes along"
        );
        let missing = call(addr, method, "/api/tasks/never", None, body);
        assert_eq!(missing.status, 404, "{method} on a missing id");
    }
    let (changes, cursor, more) = pull(addr, "/api/tasks?since=0");
    assert_eq!(changes, [tombstone], "one record, in its last state");
    assert_eq!(
        (cursor.as_str(), more),
        ("4", false),
        "nothing failed took a number"
    );
}

#[test]
fn patch_is_a_json_merge_patch() {
    let addr = start_memory();
    let full = r#"{"id":"m","title":"t","description":"words","status":"in_progress","dueDate":"2030-01-31",
                   "priority":"high","tags":["x","y"],"projectId":"p1"}"#;
    assert_eq!(call(addr, "POST", "/api/tasks", None, full).status, 201);
    let patch = |body: &str| {
        let reply = call(addr, "PATCH", "/api/tasks/m", None, body);
        assert_eq!(reply.status, 200, "{body}: {:?}", reply.json());
        reply.json()
    };

    let t = patch(r#"{"description":null,"dueDate":null,"tags":["z"],"unknown":1}"#);
    assert_eq!(t["description"], "", "null resets to the default");
    assert_eq!(t["dueDate"], Value::Null);
    assert_eq!(t["tags"], json!(["z"]), "arrays are replaced whole");
    assert_eq!(
        (&t["title"], &t["status"], &t["priority"], &t["projectId"]),
        (
            &json!("t"),
            &json!("in_progress"),
            &json!("high"),
            &json!("p1")
        ),
        "fields not named stay"
    );
    assert!(t.get("unknown").is_none());

    let t = patch(r#"{"priority":null,"projectId":null,"tags":null}"#);
    assert_eq!(
        (&t["priority"], &t["projectId"], &t["tags"]),
        (&json!("medium"), &Value::Null, &json!([]))
    );

    let t = patch(r#"{"done":false}"#);
    assert_eq!(t["status"], "in_progress", "not done already: status stays");
    let t = patch(r#"{"done":true}"#);
    assert_eq!((&t["status"], &t["done"]), (&json!("done"), &json!(true)));
    let t = patch(r#"{"done":false}"#);
    assert_eq!(
        (&t["status"], &t["done"]),
        (&json!("todo"), &json!(false)),
        "undone goes back to todo"
    );
    let t = patch(r#"{"status":"done","done":false}"#);
    assert_eq!(
        (&t["status"], &t["done"]),
        (&json!("done"), &json!(true)),
        "status wins"
    );
    let t = patch(r#"{"status":null}"#);
    assert_eq!((&t["status"], &t["done"]), (&json!("todo"), &json!(false)));
    let t = patch(r#"{"id":"m","title":"renamed"}"#);
    assert_eq!(t["title"], "renamed", "the body may repeat the id");
    let version = t["version"].clone();

    for (body, field) in [
        (r#"{"title":null}"#, "title"),
        (r#"{"status":"later"}"#, "status"),
        (r#"{"done":"yes"}"#, "done"),
        (r#"{"tags":[1]}"#, "tags"),
        (r#"{"id":"other"}"#, "id"),
        ("[1]", "object"),
    ] {
        let refused = call(addr, "PATCH", "/api/tasks/m", None, body);
        assert_eq!(refused.status, 400, "{body}");
        assert!(
            error_of(&refused).contains(field),
            "{body}: {}",
            error_of(&refused)
        );
    }
    assert_eq!(
        tasks(addr)[0]["version"],
        version,
        "refused patches change nothing"
    );
}

#[test]
fn if_match_guards_every_write() {
    let addr = start_memory();
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/tasks",
            None,
            r#"{"id":"v","title":"one"}"#
        )
        .status,
        201
    );

    let put = call_if(addr, "PUT", "/api/tasks/v", "\"1\"", r#"{"title":"two"}"#);
    assert_eq!(put.status, 200, "a quoted ETag matches");
    assert_eq!(put.json()["version"], 2);
    let patched = call_if(addr, "PATCH", "/api/tasks/v", "2", r#"{"title":"three"}"#);
    assert_eq!(patched.status, 200, "a plain number matches");
    let current = patched.json();

    for (method, body) in [
        ("PUT", r#"{"title":"stale"}"#),
        ("PATCH", r#"{"title":"stale"}"#),
        ("DELETE", ""),
    ] {
        let conflict = call_if(addr, method, "/api/tasks/v", "\"1\"", body);
        assert_eq!(conflict.status, 409, "{method}");
        assert_eq!(conflict.header("etag"), Some("\"3\""), "{method}");
        let body = conflict.json();
        assert_eq!(body["error"], "version conflict");
        assert_eq!(
            body["current"], current,
            "{method}: the server's record comes along"
        );
    }
    assert_eq!(
        tasks(addr),
        std::slice::from_ref(&current),
        "nothing changed"
    );
    let (changes, cursor, _) = pull(addr, "/api/tasks?since=0");
    assert_eq!(
        (changes.len(), cursor.as_str()),
        (1, "3"),
        "no sequence number spent"
    );

    let refused = call_if(addr, "PATCH", "/api/tasks/v", "three", r#"{"title":"x"}"#);
    assert_eq!(refused.status, 400);
    assert!(error_of(&refused).contains("If-Match"));
    assert_eq!(
        call_if(addr, "PATCH", "/api/tasks/v", "*", r#"{"title":"any"}"#).status,
        200
    );
    assert_eq!(
        call_if(addr, "PATCH", "/api/tasks/nope", "1", r#"{"title":"x"}"#).status,
        404
    );

    let deleted = call_if(addr, "DELETE", "/api/tasks/v", "W/\"4\"", "");
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json()["deleted"], true);
    // Without If-Match, the last write wins: covered by every other test.
}

#[test]
fn a_retried_conditional_write_gets_its_first_answer() {
    // A queued PATCH with If-Match whose answer was lost: the retry carries the same key and
    // the now-stale If-Match, and must get the stored 200, not a 409.
    let addr = start_memory();
    call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"r","title":"one"}"#,
    );
    let headers = [
        ("Content-Type", "application/json"),
        ("If-Match", "\"1\""),
        ("Idempotency-Key", "patch-r"),
    ];
    let first = send(
        addr,
        "PATCH",
        "/api/tasks/r",
        &headers,
        r#"{"title":"two"}"#,
    );
    assert_eq!(first.status, 200);
    let again = send(
        addr,
        "PATCH",
        "/api/tasks/r",
        &headers,
        r#"{"title":"two"}"#,
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.header("etag"),
        Some("\"2\""),
        "the stored answer keeps its ETag"
    );
    assert_eq!(again.body, first.body);
    assert_eq!(tasks(addr)[0]["version"], 2, "applied once");
}

#[test]
fn pull_pages_through_changes_with_tombstones() {
    let addr = start_memory();
    for i in 0..5 {
        let body = format!(r#"{{"id":"p{i}","title":"task {i}"}}"#);
        assert_eq!(call(addr, "POST", "/api/tasks", None, &body).status, 201);
    }
    assert_eq!(call(addr, "DELETE", "/api/tasks/p1", None, "").status, 200);
    assert_eq!(
        call(addr, "PATCH", "/api/tasks/p3", None, r#"{"done":true}"#).status,
        200
    );

    let (first, cursor, more) = pull(addr, "/api/tasks?since=0&limit=2");
    assert_eq!(
        (seqs(&first), cursor.as_str(), more),
        (vec![1, 3], "3", true)
    );
    assert_eq!(
        pull(addr, "/api/tasks?since=&limit=2").0,
        first,
        "an empty cursor is the beginning"
    );

    let (all, cursor) = pull_all(addr, "tasks", "0", 2);
    assert_eq!(
        seqs(&all),
        [1, 3, 5, 6, 7],
        "ascending, each record once, in its last state"
    );
    let ids: Vec<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["p0", "p2", "p4", "p1", "p3"]);
    assert_eq!(
        all[3]["deleted"], true,
        "the tombstone is a change like any other"
    );
    assert_eq!(all[4]["status"], "done");
    assert_eq!(cursor, "7");

    let (none, same, more) = pull(addr, "/api/tasks?since=7");
    assert_eq!(
        (none.len(), same.as_str(), more),
        (0, "7", false),
        "nothing new: the cursor stays"
    );
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/tasks",
            None,
            r#"{"id":"p5","title":"later"}"#
        )
        .status,
        201
    );
    let (new, cursor, _) = pull(addr, "/api/tasks?since=7");
    assert_eq!((seqs(&new), cursor.as_str()), (vec![8], "8"));

    assert_eq!(
        pull(addr, "/api/tasks?limit=1").0.len(),
        1,
        "limit alone pulls from the start"
    );
    assert_eq!(
        pull(addr, "/api/tasks?since=0&limit=5000").0.len(),
        6,
        "a larger limit is capped"
    );
    assert_eq!(tasks(addr).len(), 5, "no query: the live list, as before");
    for bad in [
        "since=abc",
        "since=-1",
        "since=1.5",
        "limit=0",
        "limit=many",
    ] {
        let reply = get(addr, &format!("/api/tasks?{bad}"));
        assert_eq!(reply.status, 400, "{bad}");
        assert!(reply.json()["error"].is_string());
    }
}

#[test]
fn pull_defaults_to_500_changes() {
    let addr = start_memory();
    for i in 0..501 {
        let body = format!(r#"{{"title":"task {i}"}}"#);
        assert_eq!(call(addr, "POST", "/api/tasks", None, &body).status, 201);
    }
    let (page, cursor, more) = pull(addr, "/api/tasks?since=0");
    assert_eq!((page.len(), cursor.as_str(), more), (500, "500", true));
    let (rest, cursor, more) = pull(addr, "/api/tasks?since=500");
    assert_eq!((rest.len(), cursor.as_str(), more), (1, "501", false));
}

#[test]
fn one_sequence_across_collections() {
    let addr = start_memory();
    call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"t1","title":"a"}"#,
    );
    call(
        addr,
        "POST",
        "/api/projects",
        None,
        r#"{"id":"pr","name":"home"}"#,
    );
    call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"t2","title":"b","projectId":"pr"}"#,
    );
    call(
        addr,
        "PATCH",
        "/api/projects/pr",
        None,
        r##"{"color":"#ff0000"}"##,
    );

    let (task_changes, task_cursor, _) = pull(addr, "/api/tasks?since=0");
    assert_eq!(
        (seqs(&task_changes), task_cursor.as_str()),
        (vec![1, 3], "3")
    );
    assert_eq!(task_changes[1]["projectId"], "pr");
    let (project_changes, project_cursor, _) = pull(addr, "/api/projects?since=0");
    assert_eq!(
        (seqs(&project_changes), project_cursor.as_str()),
        (vec![4], "4")
    );
    assert_eq!(pull(addr, "/api/projects?since=3").0.len(), 1);
}

#[test]
fn projects_have_the_same_lifecycle() {
    let addr = start_memory();
    assert_eq!(get(addr, "/api/projects").json(), json!([]));
    let made = call(addr, "POST", "/api/projects", None, r#"{"name":"Home"}"#);
    assert_eq!(made.status, 201);
    assert_eq!(made.header("etag"), Some("\"1\""));
    let made = made.json();
    let id = made["id"].as_str().expect("id").to_owned();
    assert_eq!(id.as_bytes()[14], b'4', "a version 4 UUID: {id}");
    assert_eq!(
        made,
        json!({"id":id,"name":"Home","color":"#3b82f6","createdAt":made["createdAt"],
               "updatedAt":made["createdAt"],"version":1,"seq":1,"deleted":false})
    );
    let path = format!("/api/projects/{id}");

    let put = call(
        addr,
        "PUT",
        &path,
        None,
        r##"{"name":"Work","color":"#00ff00"}"##,
    )
    .json();
    assert_eq!(
        (&put["name"], &put["color"], &put["version"]),
        (&json!("Work"), &json!("#00ff00"), &json!(2))
    );
    let patched = call(addr, "PATCH", &path, None, r#"{"color":null}"#).json();
    assert_eq!(
        (&patched["name"], &patched["color"]),
        (&json!("Work"), &json!("#3b82f6"))
    );
    assert_eq!(
        call_if(addr, "PATCH", &path, "1", r#"{"name":"x"}"#).status,
        409
    );

    let second = call(
        addr,
        "POST",
        "/api/projects",
        None,
        r#"{"id":"b","name":"B","color":"red"}"#,
    );
    assert_eq!(second.status, 201);
    let listed = get(addr, "/api/projects").json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));

    let duplicate = call(
        addr,
        "POST",
        "/api/projects",
        None,
        r#"{"id":"b","name":"again"}"#,
    );
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.json()["current"]["name"], "B");
    assert!(error_of(&duplicate).contains("project"));

    let deleted = call(addr, "DELETE", &path, None, "");
    assert_eq!(deleted.status, 200);
    assert_eq!(
        (
            deleted.json()["deleted"].clone(),
            deleted.json()["version"].clone()
        ),
        (json!(true), json!(4))
    );
    assert_eq!(
        get(addr, "/api/projects").json().as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(call(addr, "DELETE", &path, None, "").status, 404);
    let (changes, _, _) = pull(addr, "/api/projects?since=0");
    assert_eq!(changes.len(), 2);
    assert_eq!(call(addr, "DELETE", "/api/projects", None, "").status, 405);
}

#[test]
fn duplicates_answer_409_with_the_current_record() {
    let addr = start_memory();
    let first = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"d","title":"mine"}"#,
    )
    .json();
    let duplicate = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"d","title":"theirs"}"#,
    );
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.header("etag"), Some("\"1\""));
    assert_eq!(duplicate.json()["current"], first);
    assert!(error_of(&duplicate).contains("already exists"));

    call(addr, "DELETE", "/api/tasks/d", None, "");
    let reused = call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"d","title":"again"}"#,
    );
    assert_eq!(reused.status, 409, "a tombstone keeps its id");
    assert_eq!(reused.json()["current"]["deleted"], true);
}

#[test]
fn validation_errors_name_the_field() {
    let addr = start_memory();
    call(
        addr,
        "POST",
        "/api/tasks",
        None,
        r#"{"id":"ok","title":"ok"}"#,
    );
    let cases = [
        (
            "POST",
            "/api/tasks",
            r#"{"description":"no title"}"#,
            "title is required",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":null}"#,
            "title is required",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":7}"#,
            "title must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","status":"doing"}"#,
            "status must be one of",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","priority":"urgent"}"#,
            "priority must be one of",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","tags":"a,b"}"#,
            "tags must be an array of strings",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","tags":["a",2]}"#,
            "tags[1] must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","description":5}"#,
            "description must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","dueDate":20300101}"#,
            "dueDate must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","projectId":1}"#,
            "projectId must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"title":"t","done":"yes"}"#,
            "done must be true or false",
        ),
        (
            "POST",
            "/api/tasks",
            r#"{"id":3,"title":"t"}"#,
            "id must be a string",
        ),
        (
            "POST",
            "/api/tasks",
            r#""just a string""#,
            "body must be a JSON object",
        ),
        (
            "PUT",
            "/api/tasks/ok",
            r#"{"done":true}"#,
            "title is required",
        ),
        (
            "PUT",
            "/api/tasks/ok",
            r#"{"id":"other","title":"t"}"#,
            "id does not match",
        ),
        (
            "POST",
            "/api/projects",
            r##"{"color":"#fff"}"##,
            "name is required",
        ),
        (
            "POST",
            "/api/projects",
            r#"{"name":"n","color":3}"#,
            "color must be a string",
        ),
        (
            "PUT",
            "/api/projects/x",
            r#"{"name":[]}"#,
            "name must be a string",
        ),
    ];
    for (method, path, body, message) in cases {
        let reply = call(addr, method, path, None, body);
        assert_eq!(reply.status, 400, "{method} {path} {body}");
        assert!(
            error_of(&reply).contains(message),
            "{body}: {:?} lacks {message:?}",
            error_of(&reply)
        );
    }
    assert_eq!(tasks(addr).len(), 1);
    assert_eq!(tasks(addr)[0]["version"], 1, "nothing changed");
}

#[test]
fn reset_clears_both_collections_and_the_sequence() {
    let addr = start_memory();
    call(addr, "POST", "/api/tasks", None, r#"{"title":"a"}"#);
    call(addr, "POST", "/api/projects", None, r#"{"name":"b"}"#);
    assert_eq!(send(addr, "POST", "/_test/reset", &[], "").status, 204);
    assert_eq!(pull(addr, "/api/tasks?since=0").0.len(), 0);
    assert_eq!(pull(addr, "/api/projects?since=0").0.len(), 0);
    assert_eq!(
        call(addr, "POST", "/api/projects", None, r#"{"name":"c"}"#).json()["seq"],
        1
    );
}

#[test]
fn a_database_from_before_sync_is_upgraded() {
    let dir = temp_dir("upgrade");
    let db = dir.join("old.db");
    {
        // The schema exactly as the first demo server wrote it.
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch(
            "CREATE TABLE tasks (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                done INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE idempotency (
                key TEXT PRIMARY KEY,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                body_sha256 TEXT NOT NULL,
                status INTEGER NOT NULL,
                content_type TEXT,
                response BLOB NOT NULL,
                created_at INTEGER NOT NULL
            );
            INSERT INTO tasks VALUES ('later', 'written second', 1, 2000, 2500);
            INSERT INTO tasks VALUES ('early', 'written first', 0, 1000, 1000);
            INSERT INTO idempotency VALUES ('old-key', 'POST', '/api/tasks',
                '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
                201, 'application/json', CAST('{\"old\":true}' AS BLOB),
                CAST(strftime('%s', 'now') AS INTEGER) * 1000);",
        )
        .expect("old schema");
    }
    let config = || demo_server::Config {
        db: Some(db.clone()),
        ..Default::default()
    };
    let addr = start(config());

    let listed = tasks(addr);
    let ids: Vec<&str> = listed.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["early", "later"]);
    assert_eq!(
        listed[1],
        json!({"id":"later","title":"written second","description":"","status":"done","done":true,
               "dueDate":null,"priority":"medium","tags":[],"projectId":null,"createdAt":2000,
               "updatedAt":2500,"version":1,"seq":2,"deleted":false})
    );
    assert_eq!(
        (&listed[0]["status"], &listed[0]["seq"]),
        (&json!("todo"), &json!(1))
    );
    assert_eq!(
        seqs(&pull(addr, "/api/tasks?since=0").0),
        [1, 2],
        "old rows are in the feed"
    );

    let patched = call_if(
        addr,
        "PATCH",
        "/api/tasks/early",
        "1",
        r#"{"status":"in_progress"}"#,
    );
    assert_eq!(patched.status, 200);
    assert_eq!(
        (&patched.json()["version"], &patched.json()["seq"]),
        (&json!(2), &json!(3))
    );
    assert_eq!(
        call(addr, "POST", "/api/projects", None, r#"{"name":"new"}"#).json()["seq"],
        4
    );

    // A key stored by the old server (today: keys expire) still replays (the body hash is of "{}").
    let replayed = call(addr, "POST", "/api/tasks", Some("old-key"), "{}");
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.body, br#"{"old":true}"#);

    // Opening it again finds nothing left to upgrade and keeps counting.
    let again = start(config());
    assert_eq!(tasks(again).len(), 2);
    assert_eq!(
        call(again, "POST", "/api/tasks", None, r#"{"title":"after"}"#).json()["seq"],
        5
    );
    let _ = std::fs::remove_dir_all(dir);
}
