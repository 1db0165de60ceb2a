//! Bulk opt-outs from code: a CSV (here built in memory) through `optout::bulk::run`, with a
//! journal so that a rerun sends only what is not done yet.
//!
//! Against the sandbox (`optout sandbox` in another terminal):
//!
//! ```sh
//! HUBSPOT_BASE_URL=http://127.0.0.1:8025 HUBSPOT_ACCESS_TOKEN=any \
//!   cargo run -p optout --features hubspot,bulk --example bulk
//! ```
//!
//! The last row is malformed on purpose: it is reported with its line number, the others
//! are sent, and the run exits 1 (not every row is done). Run it again: the rows the journal
//! records as done are skipped, and only the malformed one is tried (and refused) again.

use std::io::Cursor;
use std::sync::Arc;

use optout::bulk::{run, BulkJob, RowResult};
use optout::providers::hubspot::HubSpot;
use optout::LegalBasis;

#[tokio::main]
async fn main() -> Result<(), optout::Error> {
    let csv =
        "recipient,topic\nalice@example.com,12345\nbob@example.com,67890\nnot-an-email,12345\n";
    let journal = std::env::temp_dir().join("optout-example-bulk.journal");

    let client = Arc::new(HubSpot::from_env()?);
    let job = BulkJob::new()
        .concurrency(16)
        .journal(&journal)
        .legal_basis(LegalBasis::ConsentWithNotice, "Complaint received by email");
    let summary = run(client, Cursor::new(csv), &job, |row| {
        // Called once per finished row, as it finishes.
        if let RowResult::Failed(error) = &row.result {
            eprintln!("line {}: {error}", row.line);
        }
    })
    .await?;
    println!("{summary}");
    println!("journal: {}", journal.display());
    if !summary.all_done() {
        std::process::exit(1);
    }
    Ok(())
}
