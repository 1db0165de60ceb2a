//! `optout unsubscribe`: the request the arguments name, sent (or shown, with `--dry-run`), and
//! its receipt printed.

use std::process::ExitCode;

use optout::{Error, Provider, Recipient, Unsubscribe};

use crate::{dry_run, exit_code, print, topics, UnsubscribeArgs};

pub(crate) async fn unsubscribe(args: UnsubscribeArgs) -> ExitCode {
    let json = args.json;
    if args.dry_run {
        return dry_run::unsubscribe(build_request(&args), &args.connection, json).await;
    }
    match run_unsubscribe(args).await {
        Ok(receipt) => {
            print::receipt(&receipt, json);
            ExitCode::SUCCESS
        }
        Err(error) => {
            print::error(&error, json);
            exit_code(&error)
        }
    }
}

async fn run_unsubscribe(args: UnsubscribeArgs) -> Result<optout::Receipt, Error> {
    let (provider, request) = build_request(&args)?;
    let client = optout::from_env(provider, &args.connection.overrides())?;
    client.unsubscribe(&request).await
}

/// The provider and the request the arguments name.
fn build_request(args: &UnsubscribeArgs) -> Result<(Provider, Unsubscribe), Error> {
    let provider = Provider::from(args.provider);
    let recipient = Recipient::for_provider(provider, &args.recipient, args.identifier.as_deref())?;
    let mut request = Unsubscribe::new(recipient, topics(&args.topics)?);
    if let (Some(basis), Some(why)) = (args.legal_basis, &args.legal_basis_explanation) {
        request = request.legal_basis(basis, why.clone());
    }
    if let Some(key) = &args.idempotency_key {
        request = request.idempotency_key(key.clone());
    }
    Ok((provider, request))
}
