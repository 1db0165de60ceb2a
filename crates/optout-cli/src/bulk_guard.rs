//! What `optout bulk` checks and works out before it sends anything: the journal is not the
//! input, and where the rows go (a journal is tied to it, see `optout::bulk::Destination`).

use std::path::Path;

use optout::bulk::Destination;
use optout::{Error, Provider};
use sha2::{Digest, Sha256};

/// Refuses a journal that is the input itself (same device and inode): appending to the
/// file being read would make the run read its own journal lines forever.
pub fn journal_is_not_input(input: &str, journal: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let input_meta = if input == "-" {
            std::fs::metadata("/dev/stdin")
        } else {
            std::fs::metadata(input)
        };
        if let (Ok(a), Ok(b)) = (input_meta, std::fs::metadata(journal)) {
            if a.dev() == b.dev() && a.ino() == b.ino() {
                return Err(Error::invalid_input(
                    "journal",
                    format!(
                        "{} is the input file itself; give the journal a file of its own (e.g. --journal optouts.journal)",
                        journal.display()
                    ),
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (input, journal);
    Ok(())
}

/// The credential variables of `provider`: what tells one account from another.
fn account_vars(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Migma => &["MIGMA_API_KEY", "MIGMA_PROJECT_ID"],
        Provider::Novu => &["NOVU_SECRET_KEY"],
        Provider::Pushy => &["PUSHY_SECRET_API_KEY"],
        Provider::Mobivate => &["MOBIVATE_ACCOUNT_ID"],
        // A public app's OAuth: the install's refresh token tells the accounts apart.
        _ if std::env::var_os("HUBSPOT_ACCESS_TOKEN").is_none()
            && std::env::var_os("HUBSPOT_REFRESH_TOKEN").is_some() =>
        {
            &["HUBSPOT_CLIENT_ID", "HUBSPOT_REFRESH_TOKEN"]
        }
        _ => &["HUBSPOT_ACCESS_TOKEN"],
    }
}

/// Where this run sends: the base URL (the flag, else `<PROVIDER>_BASE_URL`, else the
/// provider's own, with `NOVU_REGION`) and a fingerprint of the account: `sha256:` and the
/// first 16 hex digits of the SHA-256 of its credentials, never the credentials.
pub fn destination(provider: Provider, base_url_flag: Option<&str>) -> Destination {
    let name = provider.to_string();
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let base_url = base_url_flag
        .map(str::to_string)
        .or_else(|| env(&format!("{}_BASE_URL", name.to_ascii_uppercase())))
        .unwrap_or_else(|| match (provider, env("NOVU_REGION")) {
            (Provider::Novu, Some(region)) => format!("default ({region})"),
            _ => "default".to_string(),
        });
    let mut hash = Sha256::new();
    for var in account_vars(provider) {
        hash.update(env(var).unwrap_or_default().trim().as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Destination {
        provider: name,
        base_url: base_url.trim_end_matches('/').to_string(),
        account: format!("sha256:{hex}"),
    }
}
