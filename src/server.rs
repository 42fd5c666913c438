//! Server specs: what a user writes to name a memcached server, and the
//! address it becomes.
//!
//! The rules are the ones of `memcache create` (seed 000): an argument is a
//! socket file if it contains `/` or `\`, starts with `.`, or starts or ends
//! with `|` or `=` (those marks are stripped); otherwise it is `host` or
//! `host:port` with port 11211 by default, and IPv6 addresses are written
//! `[addr]:port` (or bare, without a port). A host must resolve when the
//! spec is parsed; nothing has to listen yet.
//!
//! A TCP spec may start with `tls://` (this server speaks TLS, whatever the
//! handle's `-tls` says) or `tcp://` (it does not); without either, the
//! handle's setting decides. The scheme is kept in the server's name.
//!
//! Any spec may end with `*N`, the server's weight (1 by default, 1 to
//! 10000): `cache1:11211*3`, `[::1]:11211*2`, `/run/mc.sock*4`. The weight
//! is taken off before the rest is read, so `*` followed by digits at the
//! very end always means a weight; a socket path that really ends so is
//! written with `*1` after it. (`host:port:weight` would be ambiguous with
//! IPv6 addresses, a `/weight` with socket paths.)

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::error::{Error, Kind, Result};

/// memcached's default TCP port.
pub const DEFAULT_PORT: u16 = 11211;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A TCP server: the host as written, its port, and the addresses it
    /// resolved to when the spec was parsed (tried in order on connect).
    Tcp {
        host: String,
        port: u16,
        addrs: Vec<SocketAddr>,
        /// TLS or not as the spec says (`tls://`, `tcp://`); `None`
        /// follows the handle's setting.
        tls: Option<bool>,
    },
    /// A Unix socket file, made absolute when parsed so that a later `cd` of
    /// the process does not change which daemon it talks to.
    Unix(PathBuf),
}

/// One server of a handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The name used in messages and listings: `host:port` or the socket path
    /// as given (marks stripped), without the weight.
    pub name: String,
    pub address: Address,
    /// Its share of the keys relative to the other servers' weights
    /// (python-memcached's and libmemcached's server weight). Default 1.
    pub weight: u32,
}

impl Server {
    /// Was it written `tls://`?
    pub fn wants_tls(&self) -> bool {
        matches!(
            self.address,
            Address::Tcp {
                tls: Some(true),
                ..
            }
        )
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The longest Unix socket path the kernel takes (`sun_path` less the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The highest weight a server may have: far beyond any useful ratio, low
/// enough that a port typed where the weight goes (`host*11211`) is caught.
pub const MAX_WEIGHT: u32 = 10_000;

/// Splits a trailing weight `*N` off `spec`: (the rest, the weight text).
fn split_weight(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('*') {
        Some((rest, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (rest, Some(digits))
        }
        _ => (spec, None),
    }
}

/// Is `spec` a socket file by seed 000's rules?
pub fn is_socket_spec(spec: &str) -> bool {
    spec.contains('/')
        || spec.contains('\\')
        || spec.starts_with('.')
        || spec.starts_with(['|', '='])
        || spec.ends_with(['|', '='])
}

/// Parses and resolves one server spec.
pub fn parse(spec: &str) -> Result<Server> {
    let invalid = |why: &str| Error::new(Kind::Invalid, format!("bad server \"{spec}\": {why}"));
    let (spec_only, weight_text) = split_weight(spec);
    let weight = match weight_text {
        None => 1,
        Some(text) => match text.parse::<u32>() {
            Ok(w) if (1..=MAX_WEIGHT).contains(&w) => w,
            _ => {
                return Err(invalid(&format!(
                    "weight \"{text}\" is not a number from 1 to {MAX_WEIGHT}"
                )))
            }
        },
    };
    let (tls, spec) = match spec_only {
        s if s.starts_with("tls://") => (Some(true), &s[6..]),
        s if s.starts_with("tcp://") => (Some(false), &s[6..]),
        s => (None, s),
    };
    if tls.is_some() && is_socket_spec(spec) {
        return Err(invalid(
            "tls:// and tcp:// name a host and a port (socket files never use TLS)",
        ));
    }
    if spec.trim().is_empty() {
        return Err(invalid("empty server name"));
    }
    if is_socket_spec(spec) {
        let path = spec.trim_matches(['|', '=']);
        if path.is_empty() {
            return Err(invalid("empty socket path"));
        }
        let absolute = std::path::absolute(path)
            .map_err(|e| invalid(&format!("cannot make the path absolute: {e}")))?;
        if absolute.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(invalid(&format!(
                "socket path \"{}\" is longer than {MAX_SOCKET_PATH} bytes",
                absolute.display()
            )));
        }
        return Ok(Server {
            name: path.to_string(),
            address: Address::Unix(absolute),
            weight,
        });
    }
    let (host, port) = split_host_port(spec).map_err(|why| invalid(&why))?;
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| invalid(&format!("cannot resolve host \"{host}\": {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(invalid(&format!("host \"{host}\" has no address")));
    }
    let scheme = match tls {
        Some(true) => "tls://",
        Some(false) => "tcp://",
        None => "",
    };
    let name = if host.contains(':') {
        format!("{scheme}[{host}]:{port}")
    } else {
        format!("{scheme}{host}:{port}")
    };
    Ok(Server {
        name,
        address: Address::Tcp {
            host,
            port,
            addrs,
            tls,
        },
        weight,
    })
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(spec: &str) -> std::result::Result<(String, u16), String> {
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing \"]\" after an IPv6 address".to_string())?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected \"{after}\" after \"]\""))?,
            )?,
        };
        return Ok((host.to_string(), port));
    }
    match spec.matches(':').count() {
        0 => Ok((spec.to_string(), DEFAULT_PORT)),
        1 => {
            let (host, port) = spec.split_once(':').unwrap_or((spec, ""));
            if host.is_empty() {
                return Err("empty host name".to_string());
            }
            Ok((host.to_string(), parse_port(port)?))
        }
        // Two or more colons: an IPv6 address without brackets, so no port.
        _ => Ok((spec.to_string(), DEFAULT_PORT)),
    }
}

fn parse_port(text: &str) -> std::result::Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("port \"{text}\" is not a number from 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(spec: &str) -> (String, String, u16) {
        match parse(spec).unwrap() {
            Server {
                name,
                address:
                    Address::Tcp {
                        host,
                        port,
                        addrs,
                        tls: None,
                    },
                weight: 1,
            } => {
                assert!(!addrs.is_empty());
                assert!(addrs.iter().all(|a| a.port() == port));
                (name, host, port)
            }
            other => panic!("{spec} parsed as {other:?}"),
        }
    }

    fn unix(spec: &str) -> (String, PathBuf) {
        match parse(spec).unwrap() {
            Server {
                name,
                address: Address::Unix(path),
                weight: 1,
            } => (name, path),
            other => panic!("{spec} parsed as {other:?}"),
        }
    }

    #[test]
    fn tcp_specs() {
        assert_eq!(
            tcp("localhost"),
            ("localhost:11211".into(), "localhost".into(), 11211)
        );
        assert_eq!(
            tcp("127.0.0.1:22122"),
            ("127.0.0.1:22122".into(), "127.0.0.1".into(), 22122)
        );
        assert_eq!(tcp("[::1]:5"), ("[::1]:5".into(), "::1".into(), 5));
        assert_eq!(tcp("[::1]"), ("[::1]:11211".into(), "::1".into(), 11211));
        assert_eq!(tcp("::1"), ("[::1]:11211".into(), "::1".into(), 11211));
    }

    #[test]
    fn tls_and_tcp_schemes_mark_the_server_and_stay_in_its_name() {
        let marked = |spec: &str| match parse(spec).unwrap() {
            Server {
                name,
                address: Address::Tcp {
                    host, port, tls, ..
                },
                ..
            } => (name, host, port, tls),
            other => panic!("{spec} parsed as {other:?}"),
        };
        assert_eq!(
            marked("tls://localhost:5"),
            (
                "tls://localhost:5".into(),
                "localhost".into(),
                5,
                Some(true)
            )
        );
        assert_eq!(
            marked("tcp://[::1]*2"),
            ("tcp://[::1]:11211".into(), "::1".into(), 11211, Some(false))
        );
        assert_eq!(
            parse("tls:///tmp/mc.sock").unwrap_err().message(),
            "bad server \"tls:///tmp/mc.sock\": tls:// and tcp:// name a host and a port \
             (socket files never use TLS)"
        );
    }

    #[test]
    fn socket_specs() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(unix("./x.sock"), ("./x.sock".into(), cwd.join("x.sock")));
        assert_eq!(unix(".hidden"), (".hidden".into(), cwd.join(".hidden")));
        assert_eq!(
            unix("/tmp/mc.sock"),
            ("/tmp/mc.sock".into(), PathBuf::from("/tmp/mc.sock"))
        );
        assert_eq!(unix("|mc.sock|"), ("mc.sock".into(), cwd.join("mc.sock")));
        assert_eq!(unix("=mc.sock"), ("mc.sock".into(), cwd.join("mc.sock")));
        assert_eq!(unix("mc.sock="), ("mc.sock".into(), cwd.join("mc.sock")));
        assert_eq!(unix("dir\\mc"), ("dir\\mc".into(), cwd.join("dir\\mc")));
        assert!(is_socket_spec("a/b") && !is_socket_spec("a.b:1"));
    }

    #[test]
    fn weights() {
        let weighed = |spec: &str| {
            let s = parse(spec).unwrap();
            (s.name, s.weight)
        };
        assert_eq!(weighed("127.0.0.1:5*3"), ("127.0.0.1:5".into(), 3));
        assert_eq!(weighed("localhost*2"), ("localhost:11211".into(), 2));
        assert_eq!(weighed("[::1]:5*7"), ("[::1]:5".into(), 7));
        assert_eq!(weighed("::1*4"), ("[::1]:11211".into(), 4));
        assert_eq!(weighed("127.0.0.1:5*010"), ("127.0.0.1:5".into(), 10));
        assert_eq!(weighed("127.0.0.1:5*10000"), ("127.0.0.1:5".into(), 10000));
        assert_eq!(weighed("127.0.0.1:5"), ("127.0.0.1:5".into(), 1));
        assert_eq!(weighed("/tmp/mc.sock*5"), ("/tmp/mc.sock".into(), 5));
        assert_eq!(weighed("|mc.sock|*2"), ("mc.sock".into(), 2));
        // Not a weight: a `*` without digits after it stays in the path.
        assert_eq!(weighed("/tmp/a*b.sock"), ("/tmp/a*b.sock".into(), 1));
        assert_eq!(weighed("/tmp/odd*3*1"), ("/tmp/odd*3".into(), 1));
    }

    #[test]
    fn bad_specs() {
        let err = |spec: &str| {
            let e = parse(spec).unwrap_err();
            assert_eq!(e.kind(), Kind::Invalid, "{spec}");
            e.message().to_string()
        };
        assert_eq!(err(""), "bad server \"\": empty server name");
        assert_eq!(err("*3"), "bad server \"*3\": empty server name");
        assert_eq!(
            err("127.0.0.1:5*0"),
            "bad server \"127.0.0.1:5*0\": weight \"0\" is not a number from 1 to 10000"
        );
        assert_eq!(
            err("localhost*11211"),
            "bad server \"localhost*11211\": weight \"11211\" is not a number from 1 to 10000"
        );
        assert_eq!(
            err("h:1*99999999999"),
            "bad server \"h:1*99999999999\": weight \"99999999999\" is not a number from 1 to 10000"
        );
        assert_eq!(
            err("127.0.0.1:5*"),
            "bad server \"127.0.0.1:5*\": port \"5*\" is not a number from 1 to 65535"
        );
        assert_eq!(err("||"), "bad server \"||\": empty socket path");
        assert_eq!(
            err("host:0"),
            "bad server \"host:0\": port \"0\" is not a number from 1 to 65535"
        );
        assert_eq!(
            err("host:+80"),
            "bad server \"host:+80\": port \"+80\" is not a number from 1 to 65535"
        );
        assert_eq!(
            err("host:99999"),
            "bad server \"host:99999\": port \"99999\" is not a number from 1 to 65535"
        );
        assert_eq!(err(":80"), "bad server \":80\": empty host name");
        assert_eq!(
            err("[::1"),
            "bad server \"[::1\": missing \"]\" after an IPv6 address"
        );
        assert!(err("no-such-host.invalid").starts_with(
            "bad server \"no-such-host.invalid\": cannot resolve host \"no-such-host.invalid\": "
        ));
        let long = format!("/{}", "s".repeat(120));
        assert_eq!(
            err(&long),
            format!("bad server \"{long}\": socket path \"{long}\" is longer than 107 bytes")
        );
    }
}
