//! [`Error`]: why the sandbox could not start, or a seed could not be read.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the sandbox could not start, or a seed could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The sandbox only listens on loopback addresses (127.0.0.0/8, ::1).
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    Io(std::io::Error),
    /// A seed is not valid JSON of the expected shape.
    Seed {
        /// The file it came from, if any.
        path: Option<PathBuf>,
        /// What is wrong, with line and column.
        source: serde_json::Error,
    },
    /// A seed file could not be read.
    SeedFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A provider name that is none of the five.
    UnknownApi(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoopback(addr) => write!(
                f,
                "the sandbox only listens on loopback addresses (127.0.0.1, ::1), not {addr}"
            ),
            Error::Io(e) => write!(f, "sandbox I/O error: {e}"),
            Error::Seed {
                path: Some(p),
                source,
            } => {
                write!(f, "invalid seed {}: {source}", p.display())
            }
            Error::Seed { path: None, source } => write!(f, "invalid seed: {source}"),
            Error::SeedFile { path, source } => {
                write!(f, "cannot read seed {}: {source}", path.display())
            }
            Error::UnknownApi(name) => write!(
                f,
                "unknown provider {name:?}; expected migma, novu, pushy, mobivate or hubspot"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::SeedFile { source: e, .. } => Some(e),
            Error::Seed { source, .. } => Some(source),
            Error::NotLoopback(_) | Error::UnknownApi(_) => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
