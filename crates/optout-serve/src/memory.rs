//! [`MemoryIntake`]: an [`Intake`] in memory, for tests and examples. **Not durable**: a
//! restart loses everything. A real server uses the outbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use optout_core::Provider;

use crate::intake::{
    Accepted, Counts, Intake, IntakeError, OptOut, OptOutStatus, TaskState, TaskStatus,
};

/// An in-memory [`Intake`] that records what it accepted; it can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryIntake {
    state: Mutex<State>,
    failing: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    by_key: HashMap<String, usize>,
    opt_outs: Vec<(OptOut, Accepted)>,
}

impl MemoryIntake {
    /// An empty intake.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, every call fails (as a store that is down) until called with `false`.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every opt-out accepted so far (repeats of an idempotency key not counted).
    pub fn accepted(&self) -> Vec<OptOut> {
        self.lock()
            .opt_outs
            .iter()
            .map(|(o, _)| o.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self) -> Result<(), IntakeError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(IntakeError::Unavailable(
                "the memory intake was told to fail".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// The default deadline (architecture §10): 10 business days for SMS (Mobivate), 48 hours
/// for the others.
pub fn default_deadline(provider: Provider, received_at: SystemTime) -> SystemTime {
    const DAY: u64 = 86_400;
    if provider != Provider::Mobivate {
        return received_at + Duration::from_secs(2 * DAY);
    }
    let secs = received_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut day = secs / DAY;
    let mut left = 10;
    while left > 0 {
        day += 1;
        // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
        if (day + 3) % 7 < 5 {
            left -= 1;
        }
    }
    UNIX_EPOCH + Duration::from_secs(day * DAY + secs % DAY)
}

#[async_trait]
impl Intake for MemoryIntake {
    async fn accept(&self, opt_out: OptOut) -> Result<Accepted, IntakeError> {
        self.check()?;
        let mut state = self.lock();
        if let Some(&i) = opt_out
            .idempotency_key
            .as_ref()
            .and_then(|k| state.by_key.get(k))
        {
            let mut first = state.opt_outs[i].1.clone();
            first.duplicate = true;
            return Ok(first);
        }
        let id = format!("oo_{:08}", state.opt_outs.len() + 1);
        let deadlines = opt_out
            .targets
            .iter()
            .map(|t| {
                (
                    t.provider,
                    default_deadline(t.provider, opt_out.received_at),
                )
            })
            .collect();
        let accepted = Accepted::new(id, opt_out.received_at, deadlines);
        if let Some(key) = &opt_out.idempotency_key {
            let i = state.opt_outs.len();
            state.by_key.insert(key.clone(), i);
        }
        state.opt_outs.push((opt_out, accepted.clone()));
        Ok(accepted)
    }

    async fn status(&self, id: &str) -> Result<Option<OptOutStatus>, IntakeError> {
        self.check()?;
        let state = self.lock();
        Ok(state
            .opt_outs
            .iter()
            .find(|(_, a)| a.id == id)
            .map(|(_, a)| {
                let tasks = a
                    .deadlines
                    .iter()
                    .map(|&(p, d)| TaskStatus::new(p, TaskState::Pending, d))
                    .collect();
                OptOutStatus::new(a.id.clone(), a.received_at, tasks)
            }))
    }

    async fn ready(&self) -> Result<(), IntakeError> {
        self.check()
    }

    async fn counts(&self) -> Result<Counts, IntakeError> {
        self.check()?;
        let state = self.lock();
        let mut pending: HashMap<Provider, u64> = HashMap::new();
        for (_, a) in &state.opt_outs {
            for (p, _) in &a.deadlines {
                *pending.entry(*p).or_default() += 1;
            }
        }
        let mut counts = Counts::default();
        for p in Provider::ALL {
            if let Some(&n) = pending.get(&p) {
                counts.tasks.push((p, TaskState::Pending, n));
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_deadlines_skip_weekends() {
        // Friday 2026-01-02 12:00 UTC + 10 business days = Friday 2026-01-16 12:00 UTC.
        let friday = humantime::parse_rfc3339("2026-01-02T12:00:00Z").unwrap();
        let due = default_deadline(Provider::Mobivate, friday);
        assert_eq!(
            humantime::format_rfc3339(due).to_string(),
            "2026-01-16T12:00:00Z"
        );
        let email = default_deadline(Provider::HubSpot, friday);
        assert_eq!(
            humantime::format_rfc3339(email).to_string(),
            "2026-01-04T12:00:00Z"
        );
    }
}
