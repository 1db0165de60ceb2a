//! `optout enqueue`, `optout worker`, `optout status`, `optout receipts`: the durable outbox
//! (ARCHITECTURE.md §8) from a shell. Argument structs and printing; the work is done by
//! `optout::outbox`.

use std::process::ExitCode;

use clap::Args;
use optout::outbox::{self, Outbox};

/// Where the outbox lives.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// sqlite:PATH or postgres://user:password@host:port/db (the password is never printed).
    #[arg(long = "store", env = "OPTOUT_STORE", value_name = "URL", default_value = outbox::DEFAULT_STORE, hide_env_values = true)]
    store: String,
}

impl StoreArg {
    async fn open(&self) -> Result<Outbox, outbox::Error> {
        Outbox::open(&self.store).await
    }
}

mod enqueue;
mod report;
mod worker;

pub use enqueue::{enqueue, EnqueueArgs};
pub use report::{receipts, status, ReceiptsArgs, StatusArgs};
pub use worker::{worker, WorkerArgs};

pub(crate) fn fail(e: &outbox::Error) -> ExitCode {
    eprintln!("optout: error: {e}");
    match e {
        outbox::Error::Invalid(_) | outbox::Error::Url(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode JSON: {e}\"}}"))
}
