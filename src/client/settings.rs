//! A handle's settings by name, as text: what `mc_configure` and
//! `mc_option` read and write, and through them the Python binding's
//! `create(**options)` and `configure(**options)`. The names are the Tcl
//! options' without the dash; the values are checked as the Tcl binding
//! checks them, with the same messages.

use std::path::PathBuf;
use std::time::Duration;

use super::options::{Options, ValueFormat, MAX_COMPRESS_MIN, MAX_RETRY_SECONDS, MAX_SOCKET_MODE};
use crate::cluster::Distribution;
use crate::error::{Error, Kind, Result};
use crate::net::Credentials;

/// Every setting, in the order Tcl's `configure` lists its options.
pub const SETTINGS: [&str; 24] = [
    "ttl",
    "timeout",
    "connecttimeout",
    "prefix",
    "memcached",
    "memory",
    "socketmode",
    "daemonargs",
    "distribution",
    "retry",
    "failover",
    "autostart",
    "persist",
    "username",
    "password",
    "compress",
    "tls",
    "tlsca",
    "tlscert",
    "tlskey",
    "tlsname",
    "tlsverify",
    "valueformat",
    "binarykeys",
];

fn bad(what: &str, value: &str, must: &str) -> Error {
    Error::new(
        Kind::Invalid,
        format!("bad {what} \"{value}\": must be {must}"),
    )
}

fn number(value: &str, what: &str, low: u64, high: u64, must: &str) -> Result<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| bad(what, value, must))
}

fn boolean(value: &str, what: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad(what, value, "a boolean (1, 0, true, false)")),
    }
}

impl Options {
    /// Sets the setting `name` to `value` (text). The key prefix and the
    /// login are checked when the options are applied
    /// ([`crate::Client::set_options`]).
    pub fn set_text(&mut self, name: &str, value: &str) -> Result<()> {
        let millis = |what: &str| {
            let must = format!("a number of milliseconds from 1 to {}", u32::MAX);
            number(value, what, 1, u32::MAX.into(), &must).map(Duration::from_millis)
        };
        let daemon = &mut self.daemon;
        match name {
            "ttl" => {
                let must = format!("a number of seconds from 0 to {}", u32::MAX);
                self.default_ttl = number(value, "ttl", 0, u32::MAX.into(), &must)? as u32;
            }
            "timeout" => self.io_timeout = millis("timeout")?,
            "connecttimeout" => self.connect_timeout = millis("connect timeout")?,
            "prefix" => self.key_prefix = value.as_bytes().to_vec(),
            "memcached" if value.is_empty() || value.contains('\0') => {
                return Err(bad(
                    "memcached",
                    value,
                    "the name or path of the memcached program",
                ))
            }
            "memcached" => daemon.binary = value.into(),
            "memory" => {
                let must = format!("a number of megabytes from 1 to {}", u32::MAX);
                daemon.memory_mb = number(value, "memory", 1, u32::MAX.into(), &must)? as u32;
            }
            "socketmode" => {
                let digits = value.trim().trim_start_matches("0o");
                daemon.socket_mode = u32::from_str_radix(digits, 8)
                    .ok()
                    .filter(|m| *m <= MAX_SOCKET_MODE && !digits.starts_with('+'))
                    .ok_or_else(|| {
                        bad(
                            "socket mode",
                            value,
                            "an octal permission mask from 0000 to 0777",
                        )
                    })?;
            }
            // One argument a line: arguments may hold spaces, never a
            // line end (memcached takes none).
            "daemonargs" => daemon.args = value.lines().map(str::to_string).collect(),
            "distribution" => {
                self.distribution = Distribution::from_name(value.trim())
                    .ok_or_else(|| bad("distribution", value, "ketama or modula"))?;
            }
            "retry" => {
                let seconds = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.0..=MAX_RETRY_SECONDS).contains(s))
                    .ok_or_else(|| {
                        let must = format!("a number of seconds from 0 to {MAX_RETRY_SECONDS}");
                        bad("retry", value, &must)
                    })?;
                self.retry_interval = Duration::from_secs_f64(seconds);
            }
            "failover" => self.failover = boolean(value, "failover")?,
            "autostart" => daemon.autostart = boolean(value, "autostart")?,
            "persist" => daemon.persist = boolean(value, "persist")?,
            // An empty username removes the login.
            "username" => {
                self.auth = match (&self.auth, value.is_empty()) {
                    (_, true) => None,
                    (Some(auth), false) => Some(auth.with_username(value)),
                    (None, false) => Some(Credentials::unchecked(value, "")),
                }
            }
            "password" => {
                self.auth = Some(match &self.auth {
                    Some(auth) => auth.with_password(value),
                    None => Credentials::unchecked("", value),
                })
            }
            // 0 turns compression off; memcached's largest item is 1 GiB.
            "compress" => {
                let must = "a size in bytes from 0 (off) to 1073741824";
                let n = number(value, "compress", 0, MAX_COMPRESS_MIN as u64, must)?;
                self.compress_min = (n > 0).then_some(n as usize);
            }
            "tls" => self.tls.enabled = boolean(value, "tls")?,
            "tlsca" => self.tls.ca_file = path(value),
            "tlscert" => self.tls.cert_file = path(value),
            "tlskey" => self.tls.key_file = path(value),
            "tlsname" => self.tls.server_name = (!value.is_empty()).then(|| value.to_string()),
            "tlsverify" => self.tls.verify = boolean(value, "tlsverify")?,
            "valueformat" => {
                self.value_format = ValueFormat::from_name(value.trim())
                    .ok_or_else(|| bad("value format", value, "raw, python or php"))?;
            }
            "binarykeys" => self.binary_keys = boolean(value, "binarykeys")?,
            _ => return Err(unknown(name)),
        }
        Ok(())
    }

    /// The setting `name` as text (the password never: `********` when
    /// one is set).
    pub fn text(&self, name: &str) -> Result<String> {
        let millis = |d: Duration| d.as_millis().to_string();
        let daemon = &self.daemon;
        Ok(match name {
            "ttl" => self.default_ttl.to_string(),
            "timeout" => millis(self.io_timeout),
            "connecttimeout" => millis(self.connect_timeout),
            "prefix" => String::from_utf8_lossy(&self.key_prefix).into_owned(),
            "memcached" => daemon.binary.to_string_lossy().into_owned(),
            "memory" => daemon.memory_mb.to_string(),
            "socketmode" => format!("{:04o}", daemon.socket_mode),
            "daemonargs" => daemon.args.join("\n"),
            "distribution" => self.distribution.name().to_string(),
            "retry" => {
                let retry = self.retry_interval;
                match retry.subsec_nanos() {
                    0 => retry.as_secs().to_string(),
                    _ => retry.as_secs_f64().to_string(),
                }
            }
            "failover" => u8::from(self.failover).to_string(),
            "autostart" => u8::from(daemon.autostart).to_string(),
            "persist" => u8::from(daemon.persist).to_string(),
            "username" => self.auth.as_ref().map_or("", |a| a.username()).to_string(),
            "password" => match &self.auth {
                Some(auth) if auth.has_password() => "********".to_string(),
                _ => String::new(),
            },
            "compress" => self.compress_min.unwrap_or(0).to_string(),
            "tls" => u8::from(self.tls.enabled).to_string(),
            "tlsca" => shown(&self.tls.ca_file),
            "tlscert" => shown(&self.tls.cert_file),
            "tlskey" => shown(&self.tls.key_file),
            "tlsname" => self.tls.server_name.clone().unwrap_or_default(),
            "tlsverify" => u8::from(self.tls.verify).to_string(),
            "valueformat" => self.value_format.name().to_string(),
            "binarykeys" => u8::from(self.binary_keys).to_string(),
            _ => return Err(unknown(name)),
        })
    }
}

/// A file setting: empty for none.
fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

fn shown(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or(String::new(), |p| p.to_string_lossy().into_owned())
}

fn unknown(name: &str) -> Error {
    Error::new(
        Kind::Invalid,
        format!("bad option \"{name}\": must be {}", SETTINGS.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_back_what_was_set() {
        let mut options = Options::default();
        let cases = [
            ("ttl", "60"),
            ("timeout", "250"),
            ("connecttimeout", "1500"),
            ("prefix", "app:"),
            ("memcached", "/usr/bin/memcached"),
            ("memory", "16"),
            ("socketmode", "0750"),
            ("daemonargs", "-t\n2"),
            ("distribution", "modula"),
            ("retry", "0.5"),
            ("failover", "1"),
            ("autostart", "0"),
            ("persist", "1"),
            ("username", "user"),
            ("compress", "1024"),
            ("tls", "1"),
            ("tlsca", "/etc/ca.pem"),
            ("tlscert", "client.pem"),
            ("tlskey", "client.key"),
            ("tlsname", "cache.example"),
            ("tlsverify", "0"),
            ("valueformat", "php"),
            ("binarykeys", "1"),
        ];
        for (name, value) in cases {
            options.set_text(name, value).unwrap();
            assert_eq!(options.text(name).unwrap(), value, "{name}");
        }
        options.set_text("password", "secret").unwrap();
        assert_eq!(options.text("password").unwrap(), "********");
        assert_eq!(SETTINGS.len(), cases.len() + 1);
    }

    #[test]
    fn bad_values_and_names_are_refused_with_the_tcl_messages() {
        let mut options = Options::default();
        let refused = |options: &mut Options, name, value| {
            let e = options.set_text(name, value).unwrap_err();
            assert_eq!(e.kind(), Kind::Invalid);
            e.message().to_string()
        };
        assert_eq!(
            refused(&mut options, "timeout", "0"),
            "bad timeout \"0\": must be a number of milliseconds from 1 to 4294967295"
        );
        assert_eq!(
            refused(&mut options, "distribution", "ring"),
            "bad distribution \"ring\": must be ketama or modula"
        );
        assert_eq!(
            refused(&mut options, "socketmode", "0800"),
            "bad socket mode \"0800\": must be an octal permission mask from 0000 to 0777"
        );
        assert_eq!(
            refused(&mut options, "failover", "maybe"),
            "bad failover \"maybe\": must be a boolean (1, 0, true, false)"
        );
        assert!(refused(&mut options, "colour", "red")
            .starts_with("bad option \"colour\": must be ttl, timeout, connecttimeout,"));
        assert_eq!(options, Options::default());
    }
}
