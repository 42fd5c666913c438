//! Which servers one operation may use: each server's admission asked
//! once (dead marks), failed servers remembered, and the errors collected.

use std::time::Duration;

use super::Topology;
use crate::cluster::Hash;
use crate::error::{Error, Result};

/// Which servers may be used by one operation: each server's admission is
/// asked once per operation (the one probe of a dead server then carries
/// all its keys), and a server that failed during the operation is not
/// tried again by it.
pub(super) struct Admission<'t> {
    topology: &'t Topology,
    retry: Duration,
    state: Vec<Option<Result<()>>>,
}

impl<'t> Admission<'t> {
    pub(super) fn new(topology: &'t Topology, retry: Duration) -> Admission<'t> {
        Admission {
            topology,
            retry,
            state: vec![None; topology.nodes.len()],
        }
    }

    pub(super) fn admit(&mut self, n: usize) -> Result<()> {
        match &self.state[n] {
            Some(known) => known.clone(),
            None => {
                let now = self.topology.nodes[n].admit(self.retry);
                self.state[n] = Some(now.clone());
                now
            }
        }
    }

    pub(super) fn failed(&mut self, n: usize, error: &Error) {
        self.state[n] = Some(Err(error.clone()));
    }

    pub(super) fn has_failed(&self, n: usize) -> bool {
        matches!(self.state[n], Some(Err(_)))
    }

    /// The server for `hash`, with or without failover.
    pub(super) fn route(&mut self, hash: &Hash, failover: bool) -> Result<usize> {
        let placement = &self.topology.placement;
        placement.route(hash, failover, |n| self.admit(n))
    }
}

/// Adds `error` to `errors` unless an error with the same message is there.
pub(super) fn note(errors: &mut Vec<Error>, error: Error) {
    if !errors.iter().any(|e| e.message() == error.message()) {
        errors.push(error);
    }
}

/// The first of `errors`, if any.
pub(in crate::client) fn first(errors: Vec<Error>) -> Result<()> {
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
