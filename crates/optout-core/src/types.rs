//! The unified model: who opts out ([`Recipient`]), from what ([`Topics`]), the request
//! ([`Unsubscribe`]) and the proof that it was honoured ([`Receipt`]).

mod provider;
mod receipt;
mod recipient;
mod request;
mod topics;

pub use provider::Provider;
pub use receipt::{Outcome, Receipt};
pub use recipient::{Recipient, PHONE_REGION_VAR};
pub use request::{LegalBasis, Unsubscribe};
pub use topics::Topics;

#[cfg(test)]
mod tests;
