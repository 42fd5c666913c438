//! Logging in to a memcached started with an auth file (`-Y`): its text
//! protocol takes the credentials as the data of a `set` sent first on
//! every connection ("username password"), before any other command.

use std::fmt;

use zeroize::Zeroize;

use super::Connection;
use crate::error::{Error, Kind, Result};
use crate::protocol::{self, Reply, StoreVerb};

/// A username and password for servers that require them. The password is
/// never shown: not by `Debug`, not in an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

/// A password leaves no copy behind in freed memory (a core dump of the
/// process shows only the ones in use).
impl Drop for Credentials {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"********")
            .finish()
    }
}

impl Credentials {
    /// Credentials memcached can take: a username without spaces or
    /// control characters, a password without control characters, neither
    /// empty. An `Invalid` error (without the password) otherwise.
    pub fn new(username: &str, password: &str) -> Result<Credentials> {
        let credentials = Credentials::unchecked(username, password);
        credentials.check()?;
        Ok(credentials)
    }

    /// Credentials not checked yet (a binding that takes the username and
    /// the password as two options); [`Credentials::check`] before use.
    pub fn unchecked(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// The rules of [`Credentials::new`].
    pub fn check(&self) -> Result<()> {
        let (username, password) = (&self.username, &self.password);
        if username.is_empty() {
            return Err(Error::new(Kind::Invalid, "a login needs a username"));
        }
        if username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::new(
                Kind::Invalid,
                format!(
                    "bad username \"{}\": must be a word without spaces or control characters",
                    username.escape_debug()
                ),
            ));
        }
        if password.is_empty() {
            return Err(Error::new(
                Kind::Invalid,
                format!("the login of \"{username}\" needs a password"),
            ));
        }
        if password.chars().any(char::is_control) {
            return Err(Error::new(
                Kind::Invalid,
                "bad password: must not hold control characters",
            ));
        }
        Ok(())
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The same login with another username, or another password.
    pub fn with_username(&self, username: &str) -> Credentials {
        Credentials::unchecked(username, &self.password)
    }

    pub fn with_password(&self, password: &str) -> Credentials {
        Credentials::unchecked(&self.username, password)
    }

    /// Whether a password is set (never the password itself).
    pub fn has_password(&self) -> bool {
        !self.password.is_empty()
    }
}

impl Connection {
    /// Logs in with `auth` on this new connection, by `deadline`. A refusal
    /// is an `Auth` error with the server's words and the username.
    pub(super) fn login(&mut self, auth: &Credentials, deadline: super::Deadline) -> Result<()> {
        let mut data = Vec::with_capacity(auth.username.len() + auth.password.len() + 1);
        data.extend_from_slice(auth.username.as_bytes());
        data.push(b' ');
        data.extend_from_slice(auth.password.as_bytes());
        let mut request = Vec::with_capacity(data.len() + 32);
        protocol::store(&mut request, StoreVerb::Set, b"auth", 0, 0, &data, false);
        data.zeroize();
        let sent = self.send(&[&request], deadline);
        request.zeroize();
        sent?;
        self.read_reply(deadline, |reply| match reply {
            Reply::Stored => Ok(()),
            Reply::ClientError(words) => Err(Error::new(
                Kind::Auth,
                format!(
                    "login as \"{}\" refused: CLIENT_ERROR {}",
                    auth.username,
                    String::from_utf8_lossy(words)
                ),
            )),
            other => Err(Error::new(
                Kind::Protocol,
                format!(
                    "reply to a login that does not answer it: \"{}\"",
                    other.line()
                ),
            )),
        })?
    }
}
