//! [`OfflineSync`]: the layer an axum app puts around its mutating routes.
//!
//! For each POST, PUT, PATCH or DELETE it checks where the request came from and what it
//! carries, reads its `Idempotency-Key`, and then either sends the key's stored answer again
//! or runs the handler inside a transaction that also stores the handler's answer. Other
//! methods pass through untouched.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use tokio::sync::Mutex;
use tower::{Layer, Service, ServiceExt};

use crate::batch;
use crate::guard::{Guard, is_mutation};
use crate::key::{self, KeyError, Keyed};
use crate::problem::Problem;
use crate::store::{Answer, Begin, Store};
use crate::tx::Slot;

/// Largest request body read unless told otherwise.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The contract's settings and its store; a [`tower::Layer`] for the app's API routes.
#[derive(Clone)]
pub struct OfflineSync<S> {
    store: S,
    settings: Arc<Settings>,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub guard: Guard,
    pub require_key: bool,
    pub max_body: usize,
}

impl<S: Store> OfflineSync<S> {
    /// Cross-site mutations refused, JSON only, keys optional, bodies up to 1 MiB.
    pub fn new(store: S) -> Self {
        let settings = Settings {
            guard: Guard::default(),
            require_key: false,
            max_body: DEFAULT_MAX_BODY,
        };
        Self {
            store,
            settings: Arc::new(settings),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self
    }

    /// Accepts mutations from this origin too (`https://admin.example.com`, exactly).
    pub fn allow_origin(self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.with(|s| s.guard.allowed_origins.push(origin))
    }

    /// Whether a body must be JSON (default: yes).
    pub fn json_only(self, json_only: bool) -> Self {
        self.with(|s| s.guard.json_only = json_only)
    }

    /// Whether a mutation without `Idempotency-Key` is refused with 400 (default: no).
    pub fn require_key(self, require_key: bool) -> Self {
        self.with(|s| s.require_key = require_key)
    }

    /// Largest request body, in bytes; a larger one gets 413.
    pub fn max_body(self, bytes: usize) -> Self {
        self.with(|s| s.max_body = bytes)
    }

    /// The batch endpoint, running each item through `api`: the app's routes with this layer
    /// on them. Mount it beside them, not under the layer.
    pub fn batch<A, St>(&self, api: A) -> MethodRouter<St>
    where
        A: Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        A::Future: Send,
        St: Clone + Send + Sync + 'static,
    {
        let settings = self.settings.clone();
        any(move |request: Request| async move {
            batch::run(&settings, api, request)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        })
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: Clone, I> Layer<I> for OfflineSync<S> {
    type Service = Protected<S, I>;

    fn layer(&self, inner: I) -> Protected<S, I> {
        Protected {
            store: self.store.clone(),
            settings: self.settings.clone(),
            inner,
        }
    }
}

/// The app's routes under [`OfflineSync`].
#[derive(Clone)]
pub struct Protected<S, I> {
    store: S,
    settings: Arc<Settings>,
    inner: I,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, I> Service<Request> for Protected<S, I>
where
    S: Store,
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> BoxFuture {
        // The clone that was ready is the one that serves this request.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let (store, settings) = (self.store.clone(), self.settings.clone());
        Box::pin(async move {
            if !is_mutation(request.method()) {
                return inner.oneshot(request).await;
            }
            Ok(protect(store, &settings, inner, request)
                .await
                .unwrap_or_else(IntoResponse::into_response))
        })
    }
}

/// Milliseconds since the Unix epoch; a clock before 1970 counts as 0.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The checks that need no body: where it came from, its content type, its key.
pub(crate) fn admit(settings: &Settings, parts: &Parts) -> Result<Option<String>, Problem> {
    settings.guard.check(parts)?;
    let mut keys = parts.headers.get_all("idempotency-key").iter();
    let key = match (keys.next(), keys.next()) {
        (None, _) if settings.require_key => Err(KeyError::Missing),
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => Err(KeyError::Repeated),
        (Some(value), None) => key::parse(value.as_bytes()),
    };
    key.map(Some)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))
}

pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes, or was cut off"),
        )
    })
}

async fn protect<S, I>(
    store: S,
    settings: &Settings,
    inner: I,
    request: Request,
) -> Result<Response, Problem>
where
    S: Store,
    I: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    I::Future: Send,
{
    let (mut parts, body) = request.into_parts();
    let key = admit(settings, &parts)?;
    let body = read_body(body, settings.max_body).await?;
    let keyed = key.map(|key| Keyed::new(key, parts.method.as_str(), parts.uri.path(), &body));
    let now = now_ms();
    let conn = match store
        .begin(keyed.as_ref(), now)
        .await
        .map_err(unavailable)?
    {
        Begin::Fresh(conn) => conn,
        Begin::Replay(answer) => return Ok(answer.replay()),
        Begin::Mismatch => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used for a different request",
            ));
        }
        Begin::InFlight => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is still being processed",
            )
            .retry_after(1));
        }
    };
    let slot = Slot(Arc::new(Mutex::new(conn)));
    parts.extensions.insert(slot.clone());
    let Ok(response) = inner
        .oneshot(Request::from_parts(parts, Body::from(body)))
        .await;
    let (head, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await;
    // The handler is done; a `Tx` it handed to a task of its own keeps the transaction, which
    // then rolls back when that task lets go.
    let conn = Arc::try_unwrap(slot.0).ok().map(Mutex::into_inner);
    let (Ok(body), Some(conn)) = (body, conn) else {
        return Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the handler's answer could not be read; nothing was applied",
        ));
    };
    if head.status.is_server_error() {
        store.rollback(conn).await;
        return Ok(Response::from_parts(head, Body::from(body)));
    }
    let answer = Answer::new(head.status, &head.headers, body.to_vec());
    store
        .commit(conn, keyed.as_ref(), &answer, now)
        .await
        .map_err(unavailable)?;
    Ok(Response::from_parts(head, Body::from(body)))
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{e}; nothing was applied, try again"),
    )
    .retry_after(1)
}
