//! [`Tx`]: the extractor through which a handler writes inside the mutation's transaction.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::problem::Problem;

/// The open transaction, handed to the handler through the request's extensions and taken
/// back by the layer once the handler has answered.
pub(crate) struct Slot<C>(pub(crate) Arc<Mutex<C>>);

impl<C> Clone for Slot<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// The store's connection with this mutation's transaction open. Whatever the handler writes
/// through it commits together with the answer stored under the request's key, or not at all.
pub struct Tx<C>(OwnedMutexGuard<C>);

impl<C: Send + 'static, S: Sync> FromRequestParts<S> for Tx<C> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let slot = parts.extensions.get::<Slot<C>>().cloned().ok_or_else(|| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this route is not under the OfflineSync layer, or uses another store",
            )
        })?;
        Ok(Self(slot.0.lock_owned().await))
    }
}

impl<C> Deref for Tx<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> DerefMut for Tx<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.0
    }
}
