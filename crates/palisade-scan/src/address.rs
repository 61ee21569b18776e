//! Where clamd listens.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// Where clamd listens: its `TCPSocket`/`TCPAddr` or its `LocalSocket`.
///
/// Parsed from configuration text with [`str::parse`]: `tcp://host:port` or
/// `host:port` for TCP, `unix:/path` or an absolute path for a Unix socket.
///
/// ```
/// use palisade_scan::Address;
///
/// let local: Address = "/run/clamav/clamd.ctl".parse()?;
/// assert_eq!(local, Address::Unix("/run/clamav/clamd.ctl".into()));
/// let tcp: Address = "tcp://127.0.0.1:3310".parse()?;
/// assert_eq!(tcp, Address::Tcp("127.0.0.1:3310".into()));
/// assert_eq!(tcp.to_string(), "tcp://127.0.0.1:3310");
/// assert!("clamd".parse::<Address>().is_err());
/// # Ok::<(), palisade_scan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// `host:port`, resolved at each connection; every address the name
    /// resolves to is tried in turn.
    Tcp(String),
    /// The path of clamd's `LocalSocket` (Debian: `/run/clamav/clamd.ctl`).
    Unix(PathBuf),
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(text: &str) -> Result<Address, Error> {
        let invalid = || Error::AddressInvalid {
            address: text.to_owned(),
        };
        if let Some(path) = text.strip_prefix("unix:") {
            // `unix:/path` and `unix:///path`.
            let path = path.strip_prefix("//").unwrap_or(path);
            return if path.starts_with('/') {
                Ok(Address::Unix(PathBuf::from(path)))
            } else {
                Err(invalid())
            };
        }
        if text.starts_with('/') {
            return Ok(Address::Unix(PathBuf::from(text)));
        }
        let host_port = text.strip_prefix("tcp://").unwrap_or(text);
        match host_port.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !host.contains('/')
                    && !host.chars().any(char::is_whitespace)
                    && port.parse::<u16>().is_ok_and(|p| p != 0) =>
            {
                Ok(Address::Tcp(host_port.to_owned()))
            }
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let unix = Address::Unix("/run/clamav/clamd.ctl".into());
        assert_eq!("/run/clamav/clamd.ctl".parse::<Address>().unwrap(), unix);
        assert_eq!(
            "unix:/run/clamav/clamd.ctl".parse::<Address>().unwrap(),
            unix
        );
        assert_eq!(
            "unix:///run/clamav/clamd.ctl".parse::<Address>().unwrap(),
            unix
        );
        assert_eq!(unix.to_string().parse::<Address>().unwrap(), unix);
        let tcp = Address::Tcp("clamav.internal:3310".into());
        assert_eq!("clamav.internal:3310".parse::<Address>().unwrap(), tcp);
        assert_eq!(
            "tcp://clamav.internal:3310".parse::<Address>().unwrap(),
            tcp
        );
        assert_eq!(tcp.to_string().parse::<Address>().unwrap(), tcp);
        assert_eq!(
            "[::1]:3310".parse::<Address>().unwrap(),
            Address::Tcp("[::1]:3310".into())
        );
    }

    #[test]
    fn refuses_the_rest() {
        for text in [
            "",
            "clamd",
            "unix:",
            "unix:relative/path",
            "tcp://",
            "tcp://host",
            "host:",
            ":3310",
            "host:0",
            "host:65536",
            "host:33x",
            "relative/path:3310",
            "ho st:3310",
            "http://host:3310",
        ] {
            let err = text.parse::<Address>().unwrap_err();
            assert!(
                matches!(&err, Error::AddressInvalid { address } if address == text),
                "{text}: {err:?}"
            );
        }
    }
}
