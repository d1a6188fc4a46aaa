//! [`DropSwitch`]: pulling it drops the connection future, which closes the socket without a
//! single response byte — how the `dropAfterApply` fault loses an answer.

use std::sync::Arc;

use tokio::sync::Notify;

/// Closes one connection without answering; handed to every request as an extension.
#[derive(Clone, Default)]
pub struct DropSwitch(pub(crate) Arc<Notify>);

impl DropSwitch {
    pub fn cut(&self) {
        // `notify_one` keeps a permit if the connection task is not waiting yet.
        self.0.notify_one();
    }
}
