//! Which servers have the meta commands: a binary key's request goes only
//! to a server known to have them, asked once per server and remembered
//! on its node.

use super::{round_trip, Exchange, Failure, Policy, Resend, Topology};
use crate::client::replies::unexpected;
use crate::cluster::Node;
use crate::error::{Error, Kind, Result};
use crate::net::Connection;
use crate::protocol::{MetaCode, Reply};

/// Makes sure node `n` has the meta commands before a pipeline with a
/// binary key is built for it: known, or asked now (see [`meta_check`]) on
/// a connection that then goes back to the pool. A server without them
/// (known, or found now) is a failure that says so ([`round_trip`]).
pub(super) fn require_meta(
    topology: &Topology,
    n: usize,
    policy: &Policy,
) -> std::result::Result<(), Failure> {
    let node = &topology.nodes[n];
    if node.has_meta() {
        return Ok(());
    }
    let ask = Exchange {
        send: Connection::send,
        request: &[],
        resend: Resend::Safe,
        meta: true,
    };
    round_trip(topology, n, policy, &ask, |_, _| Ok(()))
}

/// Makes sure that the server of `node` has the meta commands before a
/// request only they can carry goes out on `conn`: a server without them
/// would read a binary key's data block as commands of its own. Asked
/// once per server with `mn` (memcached 1.6 answers `MN`, an older one
/// `ERROR`); a server that closes the connection instead (a proxy such as
/// twemproxy) is taken to lack them only if it then answers a classic
/// `version` on a new connection, so that a server going away is not
/// mistaken for one without meta.
pub(super) fn meta_check(node: &Node, policy: &Policy, conn: &mut Connection) -> Result<()> {
    if node.has_meta() {
        return Ok(());
    }
    let deadline = policy.deadline;
    let asked = conn.send(&[b"mn\r\n"], deadline).and_then(|()| {
        conn.read_reply(deadline, |reply| match reply {
            Reply::Meta {
                code: MetaCode::Mn, ..
            } => Ok(true),
            Reply::Error(b"") => Ok(false),
            other => Err(unexpected(other)),
        })?
    });
    match asked {
        Ok(has) => {
            node.mark_meta(has);
            if has {
                Ok(())
            } else {
                Err(no_meta())
            }
        }
        Err(e) if e.kind() == Kind::Io => {
            let mut fresh = Connection::open(&node.server.address, &policy.dial)?;
            let version = fresh.send(&[b"version\r\n"], deadline).and_then(|()| {
                fresh.read_reply(deadline, |reply| matches!(reply, Reply::Version(_)))
            });
            match version {
                Ok(true) => {
                    node.checkin(Box::new(fresh));
                    node.mark_meta(false);
                    Err(no_meta())
                }
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The error of a binary key's request to a server without the meta
/// commands.
pub(super) fn no_meta() -> Error {
    Error::new(
        Kind::Client,
        "the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy): \
         binary keys need them",
    )
}
