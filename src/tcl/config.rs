//! The options of `memcache configure` and `memcache create`: conversions
//! between option words and the fields of [`Options`].

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::ptr;
use std::time::Duration;

use super::args::{invalid, key_bytes, list_of, positive_u32, seconds, tcl_invalid};
use super::interp::{CmdError, Interp};
use super::obj::{IndexTable, Obj, ObjRef};
use crate::client::{Credentials, Options, MAX_COMPRESS_MIN, MAX_RETRY_SECONDS, MAX_SOCKET_MODE};
use crate::cluster::Distribution;

/// The option names, in the order `configure` lists them.
static NAMES: IndexTable = IndexTable::new(&[
    c"-ttl".as_ptr(),
    c"-timeout".as_ptr(),
    c"-connecttimeout".as_ptr(),
    c"-prefix".as_ptr(),
    c"-memcached".as_ptr(),
    c"-memory".as_ptr(),
    c"-socketmode".as_ptr(),
    c"-daemonargs".as_ptr(),
    c"-distribution".as_ptr(),
    c"-retry".as_ptr(),
    c"-failover".as_ptr(),
    c"-autostart".as_ptr(),
    c"-persist".as_ptr(),
    c"-username".as_ptr(),
    c"-password".as_ptr(),
    c"-compress".as_ptr(),
    c"-tls".as_ptr(),
    c"-tlsca".as_ptr(),
    c"-tlscert".as_ptr(),
    c"-tlskey".as_ptr(),
    c"-tlsname".as_ptr(),
    c"-tlsverify".as_ptr(),
    c"-valueformat".as_ptr(),
    c"-binarykeys".as_ptr(),
    ptr::null(),
]);

/// The values of `-distribution`, in [`Distribution`] order.
static DISTRIBUTIONS: IndexTable =
    IndexTable::new(&[c"ketama".as_ptr(), c"modula".as_ptr(), ptr::null()]);

/// One option; the discriminant is its position in [`NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    Ttl,
    Timeout,
    ConnectTimeout,
    Prefix,
    Memcached,
    Memory,
    SocketMode,
    DaemonArgs,
    Distribution,
    Retry,
    Failover,
    Autostart,
    Persist,
    Username,
    Password,
    Compress,
    Tls,
    TlsCa,
    TlsCert,
    TlsKey,
    TlsName,
    TlsVerify,
    ValueFormat,
    BinaryKeys,
}

/// Every option, in [`NAMES`] order.
pub const ALL: [Opt; 24] = [
    Opt::Ttl,
    Opt::Timeout,
    Opt::ConnectTimeout,
    Opt::Prefix,
    Opt::Memcached,
    Opt::Memory,
    Opt::SocketMode,
    Opt::DaemonArgs,
    Opt::Distribution,
    Opt::Retry,
    Opt::Failover,
    Opt::Autostart,
    Opt::Persist,
    Opt::Username,
    Opt::Password,
    Opt::Compress,
    Opt::Tls,
    Opt::TlsCa,
    Opt::TlsCert,
    Opt::TlsKey,
    Opt::TlsName,
    Opt::TlsVerify,
    Opt::ValueFormat,
    Opt::BinaryKeys,
];

impl Opt {
    /// The option named by `word` (a unique prefix will do); else Tcl's
    /// `bad option "-x": must be -ttl, -timeout, ...`.
    pub fn from_word(interp: Interp, word: ObjRef<'_>) -> Result<Opt, CmdError> {
        let i = word
            .get_index(interp, &NAMES, c"option", false)
            .map_err(|e| tcl_invalid(interp, e))?;
        Ok(ALL[i])
    }

    /// The option's name, `-ttl`.
    pub fn name(self) -> Obj {
        Obj::new_text(&NAMES.name(self as usize))
    }

    /// The option's value in `options`.
    pub fn get(self, options: &Options) -> Obj {
        let millis = |d: Duration| Obj::new_int(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let daemon = &options.daemon;
        match self {
            Opt::Ttl => Obj::new_int(i64::from(options.default_ttl)),
            Opt::Timeout => millis(options.io_timeout),
            Opt::ConnectTimeout => millis(options.connect_timeout),
            Opt::Prefix => Obj::new_text_utf8(&options.key_prefix),
            Opt::Memcached => Obj::new_text_utf8(daemon.binary.as_encoded_bytes()),
            Opt::Memory => Obj::new_int(i64::from(daemon.memory_mb)),
            Opt::SocketMode => Obj::new_text(&format!("{:04o}", daemon.socket_mode)),
            Opt::DaemonArgs => Obj::new_list(daemon.args.iter().map(|a| Obj::new_text(a))),
            Opt::Distribution => Obj::new_text(options.distribution.name()),
            Opt::Retry => {
                let retry = options.retry_interval;
                if retry.subsec_nanos() == 0 {
                    Obj::new_int(i64::try_from(retry.as_secs()).unwrap_or(i64::MAX))
                } else {
                    Obj::new_text(&format!("{}", retry.as_secs_f64()))
                }
            }
            Opt::Failover => Obj::new_bool(options.failover),
            Opt::Autostart => Obj::new_bool(daemon.autostart),
            Opt::Persist => Obj::new_bool(daemon.persist),
            Opt::Username => Obj::new_text(options.auth.as_ref().map_or("", |a| a.username())),
            // Never the password itself: whether one is set.
            Opt::Password => Obj::new_text(match &options.auth {
                Some(auth) if auth.has_password() => "********",
                _ => "",
            }),
            Opt::Compress => Obj::new_int(options.compress_min.map_or(0, |n| n as i64)),
            Opt::Tls => Obj::new_bool(options.tls.enabled),
            Opt::TlsVerify => Obj::new_bool(options.tls.verify),
            Opt::BinaryKeys => Obj::new_bool(options.binary_keys),
            // The file names, the server name and the value format, as the
            // text settings show them.
            Opt::TlsCa | Opt::TlsCert | Opt::TlsKey | Opt::TlsName | Opt::ValueFormat => {
                Obj::new_text(&options.text(self.setting()).unwrap_or_default())
            }
        }
    }

    /// Sets the option in `options` to `value`, checked; the key prefix
    /// is checked by [`crate::Client::set_options`] (or `registry::create`).
    pub fn set(
        self,
        interp: Interp,
        options: &mut Options,
        value: ObjRef<'_>,
    ) -> Result<(), CmdError> {
        let daemon = &mut options.daemon;
        match self {
            Opt::Ttl => options.default_ttl = seconds(value, "ttl")?,
            Opt::Timeout => {
                let ms = positive_u32(value, "timeout", "milliseconds")?;
                options.io_timeout = Duration::from_millis(u64::from(ms));
            }
            Opt::ConnectTimeout => {
                let ms = positive_u32(value, "connect timeout", "milliseconds")?;
                options.connect_timeout = Duration::from_millis(u64::from(ms));
            }
            Opt::Prefix => options.key_prefix = key_bytes(value).into_owned(),
            Opt::Memcached => {
                let program = key_bytes(value).into_owned();
                if program.is_empty() || program.contains(&0) {
                    return Err(invalid(format!(
                        "bad memcached \"{}\": must be the name or path of the memcached program",
                        value.to_string_lossy()
                    )));
                }
                daemon.binary = OsString::from_vec(program);
            }
            Opt::Memory => daemon.memory_mb = positive_u32(value, "memory", "megabytes")?,
            Opt::SocketMode => daemon.socket_mode = socket_mode(value)?,
            Opt::DaemonArgs => {
                let words = list_of(interp, value)?;
                let mut args = Vec::with_capacity(words.len());
                for word in &words {
                    let arg = word.as_obj().to_string_lossy().into_owned();
                    if arg.contains('\0') {
                        return Err(invalid(format!(
                            "bad daemon argument \"{}\": contains a NUL character",
                            arg.replace('\0', "\\0")
                        )));
                    }
                    args.push(arg);
                }
                daemon.args = args;
            }
            Opt::Distribution => {
                let i = value
                    .get_index(interp, &DISTRIBUTIONS, c"distribution", false)
                    .map_err(|e| tcl_invalid(interp, e))?;
                options.distribution = [Distribution::Ketama, Distribution::Modula][i];
            }
            Opt::Retry => {
                let seconds = value
                    .quiet_double()
                    .filter(|s| (0.0..=MAX_RETRY_SECONDS).contains(s))
                    .ok_or_else(|| {
                        invalid(format!(
                            "bad retry \"{}\": must be a number of seconds from 0 to {MAX_RETRY_SECONDS}",
                            value.to_string_lossy()
                        ))
                    })?;
                options.retry_interval = Duration::from_secs_f64(seconds);
            }
            Opt::Failover => {
                options.failover = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            Opt::Autostart => {
                daemon.autostart = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            Opt::Persist => {
                daemon.persist = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            // Checked together when the options are applied (a username
            // needs a password); an empty username removes the login.
            Opt::Username => {
                let name = value.to_string_lossy();
                options.auth = match (&options.auth, name.is_empty()) {
                    (_, true) => None,
                    (Some(auth), false) => Some(auth.with_username(&name)),
                    (None, false) => Some(Credentials::unchecked(&name, "")),
                };
            }
            Opt::Password => {
                let password = value.to_string_lossy();
                options.auth = Some(match &options.auth {
                    Some(auth) => auth.with_password(&password),
                    None => Credentials::unchecked("", &password),
                });
            }
            // 0 turns compression off; memcached's largest item is 1 GiB.
            Opt::Compress => {
                let n = value
                    .quiet_wide()
                    .filter(|n| (0..=MAX_COMPRESS_MIN as i64).contains(n))
                    .ok_or_else(|| {
                        invalid(format!(
                            "bad compress \"{}\": must be a size in bytes from 0 (off) to 1073741824",
                            value.to_string_lossy()
                        ))
                    })?;
                options.compress_min = (n > 0).then_some(n as usize);
            }
            Opt::Tls => {
                options.tls.enabled = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            Opt::TlsVerify => {
                options.tls.verify = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            Opt::BinaryKeys => {
                options.binary_keys = value
                    .get_boolean(interp)
                    .map_err(|e| tcl_invalid(interp, e))?;
            }
            // Files are read, and the name checked, when the options are
            // applied.
            Opt::TlsCa | Opt::TlsCert | Opt::TlsKey | Opt::TlsName | Opt::ValueFormat => options
                .set_text(self.setting(), &value.to_string_lossy())
                .map_err(CmdError::from)?,
        }
        Ok(())
    }

    /// The name of the text setting ([`Options::set_text`]) it is: the
    /// option without its dash.
    fn setting(self) -> &'static str {
        crate::client::SETTINGS[self as usize]
    }
}

/// A permission mask in octal, `0700` (a leading `0o` is allowed too).
fn socket_mode(word: ObjRef<'_>) -> Result<u32, CmdError> {
    let text = word.tcl_string().trim_ascii();
    let digits = text.strip_prefix(b"0o").unwrap_or(text);
    let mode = (!digits.is_empty() && digits.iter().all(|b| (b'0'..=b'7').contains(b)))
        .then(|| std::str::from_utf8(digits).ok())
        .flatten()
        .and_then(|d| u32::from_str_radix(d, 8).ok())
        .filter(|&m| m <= MAX_SOCKET_MODE);
    mode.ok_or_else(|| {
        invalid(format!(
            "bad socket mode \"{}\": must be an octal permission mask from 0000 to 0777",
            word.to_string_lossy()
        ))
    })
}

/// Applies `-option value ...` pairs (`words`, even in number) to
/// `options`: every name and value is checked before the caller uses the
/// result, so a bad one changes nothing.
pub fn apply(interp: Interp, options: &mut Options, words: &[ObjRef<'_>]) -> Result<(), CmdError> {
    let mut parsed = Vec::with_capacity(words.len() / 2);
    for pair in words.chunks(2) {
        let opt = Opt::from_word(interp, pair[0])?;
        let Some(&value) = pair.get(1) else {
            return Err(invalid(format!(
                "value for \"{}\" missing",
                pair[0].to_string_lossy()
            )));
        };
        parsed.push((opt, value));
    }
    for (opt, value) in parsed {
        opt.set(interp, options, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_option_is_its_text_setting_with_a_dash() {
        for (i, opt) in ALL.into_iter().enumerate() {
            assert_eq!(opt as usize, i);
            assert_eq!(NAMES.name(i), format!("-{}", opt.setting()).as_str());
        }
        assert_eq!(ALL.len(), crate::client::SETTINGS.len());
    }
}
