//! The writing half of a connection: a request sent whole under the
//! deadline, a pipeline sent while its replies are read, and over TLS the
//! records still held flushed.

use std::io::{ErrorKind, IoSlice};

use super::super::stream::Stream;
use super::super::Deadline;
use super::{arm, io_error, is_closed, is_timeout, Connection, READ_CHUNK};
use crate::error::{Error, Kind, Result};

impl Connection {
    /// Writes all of `parts` (one `sendmsg` unless the kernel takes less).
    ///
    /// The I/O timeout bounds the whole write: the socket's send timeout
    /// bounds one call, and a call that times out after taking part of the
    /// data returns that part, so a request that needs more calls has the
    /// timeout re-armed to what is left (only then: a request sent by one
    /// call costs no extra system call). A call interrupted (a signal, or
    /// a TLS stream after one system call) is made again only if time is
    /// left.
    pub fn send(&mut self, parts: &[&[u8]], deadline: Deadline) -> Result<()> {
        self.received = 0;
        self.closed_by_peer = false;
        self.arm_write(deadline)?;
        // The slices live on the stack for the usual requests (a header,
        // a value, its "\r\n"); only a longer list allocates.
        let mut inline = [IoSlice::new(&[]); 4];
        let mut heap = Vec::new();
        let mut slices: &mut [IoSlice<'_>] = if parts.len() <= inline.len() {
            for (slot, part) in inline.iter_mut().zip(parts) {
                *slot = IoSlice::new(part);
            }
            &mut inline[..parts.len()]
        } else {
            heap.extend(parts.iter().map(|p| IoSlice::new(p)));
            &mut heap[..]
        };
        while !slices.is_empty() {
            match self.stream.send(slices, true) {
                Ok(0) => {
                    self.closed_by_peer = true;
                    return Err(Error::new(Kind::Io, "connection closed while sending"));
                }
                Ok(n) => {
                    IoSlice::advance_slices(&mut slices, n);
                    if slices.is_empty() {
                        break;
                    }
                    self.arm_write(deadline)?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => self.arm_write(deadline)?,
                Err(e) if is_timeout(&e) => return Err(self.send_timeout()),
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
        }
        self.finish_send(true, deadline)
    }

    /// Writes all of `parts`, a pipeline of requests, reading whatever
    /// replies arrive meanwhile into the read buffer (for `read_reply`).
    /// Over TLS each part begins a record: the last part should hold the
    /// last command (`Stream::send_parts` says why).
    ///
    /// A server answering a pipeline stops reading it while it cannot
    /// write its replies, so a client that finished writing before it
    /// read would wait as long as the server: for ever, once the replies
    /// fill the socket buffers. On a Unix socket a few hundred small
    /// replies do (each costs its own buffer), as do large values fetched
    /// by a long key list. A pipeline that fits in the socket buffer is
    /// sent by one `sendmsg` as with [`Connection::send`]; one that does
    /// not waits in `poll` for room to write or replies to read. The I/O
    /// timeout bounds the whole write.
    pub fn send_pipeline(&mut self, parts: &[&[u8]], deadline: Deadline) -> Result<()> {
        self.received = 0;
        self.closed_by_peer = false;
        let mut all: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut slices = &mut all[..];
        while !slices.is_empty() {
            match self.stream.send_parts(slices, false) {
                Ok(0) => {
                    self.closed_by_peer = true;
                    return Err(Error::new(Kind::Io, "connection closed while sending"));
                }
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.await_room(deadline)?,
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
        }
        self.finish_send(false, deadline)
    }

    /// Writes what the stream still holds of a request: the TLS records
    /// made of it that the socket did not take yet (nothing, plain).
    /// Without `wait`, a full socket is waited for as by `send_pipeline`.
    fn finish_send(&mut self, wait: bool, deadline: Deadline) -> Result<()> {
        loop {
            match self.stream.flush(wait) {
                Ok(()) => return Ok(()),
                Err(e) if wait && e.kind() == ErrorKind::Interrupted => self.arm_write(deadline)?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if !wait && e.kind() == ErrorKind::WouldBlock => {
                    self.await_room(deadline)?
                }
                Err(e) if is_timeout(&e) => return Err(self.send_timeout()),
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
        }
    }

    /// Waits until the socket takes more of a request, reading the replies
    /// that arrive meanwhile.
    fn await_room(&mut self, deadline: Deadline) -> Result<()> {
        loop {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(self.send_timeout());
            }
            let ready = match self.stream.poll(remaining) {
                Ok(ready) => ready,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&e)),
            };
            if ready.readable {
                self.take_waiting()?;
            }
            if ready.writable {
                // Room to write, or an error the next write reports.
                return Ok(());
            }
        }
    }

    /// Reads, without waiting, what the server has sent, to the end of the
    /// read buffer (grown as needed).
    fn take_waiting(&mut self) -> Result<()> {
        if self.end == self.buf.len() {
            let more = self.buf.len().max(READ_CHUNK);
            self.buf.resize(self.buf.len() + more, 0);
        }
        match self.stream.recv(&mut self.buf[self.end..], false) {
            Ok(0) => {
                self.closed_by_peer = true;
                Err(Error::new(Kind::Io, "connection closed while sending"))
            }
            Ok(n) => {
                self.end += n;
                self.received += n;
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => Ok(()),
            Err(e) => {
                self.closed_by_peer = is_closed(&e);
                Err(io_error(&e))
            }
        }
    }

    /// Arms the socket's send timeout for what is left until `deadline`
    /// (when it differs from the armed one by more than the slack); a
    /// timeout error if nothing is left.
    fn arm_write(&mut self, deadline: Deadline) -> Result<()> {
        match arm(
            &self.stream,
            &mut self.write_armed,
            deadline,
            Stream::set_write_timeout,
        )? {
            true => Ok(()),
            false => Err(self.send_timeout()),
        }
    }

    fn send_timeout(&self) -> Error {
        Error::new(
            Kind::Timeout,
            format!(
                "server did not take the request within {} ms",
                self.io_timeout.as_millis()
            ),
        )
    }
}
