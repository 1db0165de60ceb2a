//! Rows into the model's types, and the model's enums into the text the tables hold.

use std::str::FromStr;

use optout_core::{LegalBasis, Outcome, Provider, Recipient, Topics};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::deadline::from_ms;
use crate::model::{Lease, ReceiptRecord, Task, TaskState};

/// A receipt's columns, in the order [`receipt`] reads them and the chain was written.
pub(crate) const RECEIPT_COLS: &str =
    "seq, opt_out_id, task_id, provider, recipient, topics, outcome, \
    reference, received_at, completed_at, deadline, deadline_met, attempts, legal_basis, \
    legal_basis_explanation, source, prev_hash, hash";

fn decode_err(what: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what}: {e}").into())
}

pub(crate) fn provider(s: String) -> Result<Provider, sqlx::Error> {
    Provider::from_str(&s).map_err(|e| decode_err("provider", e))
}

pub(crate) fn state(s: String) -> Result<TaskState, sqlx::Error> {
    TaskState::parse(&s).ok_or_else(|| decode_err("state", s))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: String) -> Result<T, sqlx::Error> {
    serde_json::from_str(&s).map_err(|e| decode_err("stored JSON", e))
}

pub(crate) fn legal_basis(s: Option<String>) -> Result<Option<LegalBasis>, sqlx::Error> {
    s.map(|s| LegalBasis::from_str(&s).map_err(|e| decode_err("legal basis", e)))
        .transpose()
}

pub(crate) fn outcome_str(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unsubscribed".to_string())
}

pub(crate) fn task(r: &AnyRow) -> Result<Task, sqlx::Error> {
    let basis = legal_basis(r.try_get("legal_basis")?)?;
    let explanation: Option<String> = r.try_get("legal_basis_explanation")?;
    Ok(Task {
        lease: Lease {
            task_id: r.try_get("id")?,
            attempt: r.try_get("attempt")?,
        },
        opt_out_id: r.try_get("opt_out_id")?,
        provider: provider(r.try_get("provider")?)?,
        recipient: json::<Recipient>(r.try_get("recipient")?)?,
        topics: json::<Topics>(r.try_get("topics")?)?,
        legal_basis: basis.map(|b| (b, explanation.clone().unwrap_or_default())),
        deadline: from_ms(r.try_get("deadline")?),
        received_at: from_ms(r.try_get("received_at")?),
        source: r.try_get("source")?,
        explanation,
    })
}

pub(crate) fn receipt(r: &AnyRow) -> Result<ReceiptRecord, sqlx::Error> {
    let outcome: String = r.try_get("outcome")?;
    Ok(ReceiptRecord {
        seq: r.try_get("seq")?,
        opt_out_id: r.try_get("opt_out_id")?,
        task_id: r.try_get("task_id")?,
        provider: provider(r.try_get("provider")?)?,
        recipient: json(r.try_get("recipient")?)?,
        topics: json(r.try_get("topics")?)?,
        outcome: serde_json::from_value(serde_json::Value::String(outcome))
            .map_err(|e| decode_err("outcome", e))?,
        reference: r.try_get("reference")?,
        received_at: from_ms(r.try_get("received_at")?),
        completed_at: from_ms(r.try_get("completed_at")?),
        deadline: from_ms(r.try_get("deadline")?),
        deadline_met: r.try_get::<i64, _>("deadline_met")? != 0,
        attempts: r.try_get("attempts")?,
        legal_basis: legal_basis(r.try_get("legal_basis")?)?,
        legal_basis_explanation: r.try_get("legal_basis_explanation")?,
        source: r.try_get("source")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}
