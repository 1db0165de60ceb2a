//! `optout link` and `optout serve`: arguments only; the work is in `optout-serve`.

use std::process::ExitCode;

use clap::Args;
use optout::{Error, Provider, Recipient};
use optout_serve::link::{LinkKeys, Scope};

use crate::{print, topics, ProviderArg, TopicArgs};

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// migma | novu | pushy | mobivate | hubspot
    provider: ProviderArg,
    /// Email (hubspot), phone (mobivate), device token (pushy), subscriber id (novu), contact id (migma).
    #[arg(long, value_name = "VALUE")]
    recipient: String,
    #[command(flatten)]
    topics: TopicArgs,
    /// Novu subscription identifier, to remove one subscription only.
    #[arg(long, value_name = "ID")]
    identifier: Option<String>,
    /// Where `optout serve` is reached from outside, e.g. https://unsub.example.com.
    #[arg(long, value_name = "URL")]
    base: String,
    /// Print {"url", "headers": {...}} as JSON.
    #[arg(long)]
    json: bool,
}

pub fn link(args: LinkArgs) -> ExitCode {
    match make_link(&args) {
        Ok(link) => {
            if args.json {
                println!("{}", serde_json::to_string(&link).unwrap_or_default());
            } else {
                println!("{}", link.url);
                for (name, value) in link.headers() {
                    println!("{name}: {value}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            print::error(&error, args.json);
            ExitCode::from(2)
        }
    }
}

fn make_link(args: &LinkArgs) -> Result<optout_serve::Link, Error> {
    let provider = Provider::from(args.provider);
    let recipient = Recipient::for_provider(provider, &args.recipient, args.identifier.as_deref())?;
    let scope = Scope::new(provider, recipient, topics(&args.topics)?)?;
    LinkKeys::from_env()?.link(&args.base, &scope)
}
