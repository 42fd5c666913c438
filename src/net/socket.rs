//! One socket to a server, TCP or Unix: the system calls a connection
//! makes, through socket2, each with the flags it needs. No buffering and
//! no protocol here (that is [`super::Connection`]'s).

use std::io::{ErrorKind, IoSlice};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, MaybeUninitSlice, SockAddr, Type};

/// The most slices one `sendmsg` takes (Linux's `IOV_MAX`); a longer list
/// is sent in several calls.
const MAX_IOV: usize = 1024;

/// What [`Socket::poll`] found.
pub struct Ready {
    /// Bytes (or the end of the stream, or an error) wait to be read.
    pub readable: bool,
    /// The socket takes more bytes (or has an error a write reports).
    pub writable: bool,
}

/// A connected stream socket.
pub struct Socket(socket2::Socket);

impl From<socket2::Socket> for Socket {
    fn from(socket: socket2::Socket) -> Socket {
        Socket(socket)
    }
}

impl Socket {
    /// Connects to `addr`, giving up after `timeout`. `TCP_NODELAY` is set:
    /// requests are written whole, so Nagle's algorithm would only add
    /// latency. (socket2 makes every socket close-on-exec.)
    pub fn tcp(addr: &SocketAddr, timeout: Duration) -> std::io::Result<Socket> {
        let socket = socket2::Socket::new(Domain::for_address(*addr), Type::STREAM, None)?;
        socket.connect_timeout(&SockAddr::from(*addr), timeout)?;
        socket.set_tcp_nodelay(true)?;
        Ok(Socket(socket))
    }

    /// Connects to the socket file `path`, waiting at most `timeout`. A
    /// connect to a daemon whose accept queue is full (one that hangs)
    /// blocks until a place frees up, which may be never; the kernel bounds
    /// that wait by the socket's send timeout (then `EAGAIN`), so it is set
    /// first. (A non-blocking connect would fail at once instead of
    /// waiting for a place.)
    pub fn unix(path: &Path, timeout: Duration) -> std::io::Result<Socket> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_write_timeout(Some(timeout))?;
        let addr = SockAddr::unix(path)?;
        loop {
            match socket.connect(&addr) {
                Ok(()) => return Ok(Socket(socket)),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub fn set_read_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        self.0.set_read_timeout(Some(timeout))
    }

    pub fn set_write_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        self.0.set_write_timeout(Some(timeout))
    }

    /// Writes what the kernel takes of `parts`: `send` for one buffer (a
    /// small request: no message header for the kernel to read), else
    /// `sendmsg`. Always with `MSG_NOSIGNAL`: a write to a connection the
    /// server closed must not raise SIGPIPE, which kills a C or Tcl host
    /// that has not ignored it. With `wait` false, `MSG_DONTWAIT`.
    pub fn send(&self, parts: &[IoSlice<'_>], wait: bool) -> std::io::Result<usize> {
        let flags = libc::MSG_NOSIGNAL | if wait { 0 } else { libc::MSG_DONTWAIT };
        match parts {
            [one] => self.0.send_with_flags(one, flags),
            _ => self
                .0
                .send_vectored_with_flags(&parts[..parts.len().min(MAX_IOV)], flags),
        }
    }

    /// Reads what has arrived into `buf` (`recv`); with `wait` false,
    /// without waiting (`MSG_DONTWAIT`). 0 is the end of the stream.
    pub fn recv(&self, buf: &mut [u8], wait: bool) -> std::io::Result<usize> {
        let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
        self.0.recv_with_flags(uninit(buf), flags)
    }

    /// Reads what has arrived into `first`, then `then` (one `recvmsg`).
    pub fn recv_two(
        &self,
        first: &mut [MaybeUninit<u8>],
        then: &mut [u8],
    ) -> std::io::Result<usize> {
        let mut slices = [
            MaybeUninitSlice::new(first),
            MaybeUninitSlice::new(uninit(then)),
        ];
        self.0.recv_vectored(&mut slices).map(|(n, _)| n)
    }

    /// Is nothing waiting to be read, and the stream not ended? One
    /// non-blocking `recv` that peeks at one byte.
    pub fn is_quiet(&self) -> bool {
        let mut byte = [MaybeUninit::<u8>::uninit()];
        let peeked = self
            .0
            .recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
        matches!(peeked, Err(e) if e.kind() == ErrorKind::WouldBlock)
    }

    /// Waits at most `timeout` (rounded up to a millisecond) until the
    /// socket is readable or writable.
    pub fn poll(&self, timeout: Duration) -> std::io::Result<Ready> {
        let mut pollfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLOUT | libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis() + 1).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, borrowed mutably for the call; the
        // descriptor is open (owned by self).
        let n = unsafe { libc::poll(&mut pollfd, 1, ms) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let errors = libc::POLLHUP | libc::POLLERR;
        Ok(Ready {
            readable: pollfd.revents & (libc::POLLIN | errors) != 0,
            writable: pollfd.revents & (libc::POLLOUT | errors) != 0,
        })
    }
}

/// `buf` as memory the kernel may write (socket2 takes reads into possibly
/// uninitialised memory).
fn uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: MaybeUninit<u8> has the layout of u8, and the callers only
    // let the kernel write bytes into it, never uninitialised ones, so
    // `buf` stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}
