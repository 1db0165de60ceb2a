//! [`Partial`]: what a request over several topics did, when some topics failed.

use crate::Receipt;

use super::Error;

/// A request that covered several topics, where some succeeded and some failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Partial {
    /// One receipt per topic that was confirmed.
    pub done: Vec<Receipt>,
    /// Each topic that failed, with its error. Nothing here was confirmed.
    pub failed: Vec<(String, Error)>,
}
