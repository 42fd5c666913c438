//! One socket to one server: connect with a timeout, write requests, read
//! replies against a deadline. It only moves bytes; what they mean is the
//! protocol layer's business and what to send is the client's.
//!
//! A connection that fails in any way is dropped by its owner, never used
//! again: after a timeout or a parse error the stream's position is unknown,
//! and the next request would read the previous request's late reply.

use std::io::{ErrorKind, IoSlice, Read};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::protocol::{self, Reply};
use crate::server::Address;

/// Read buffer size for ordinary replies; a larger value is read into a
/// buffer grown to its exact size.
const READ_CHUNK: usize = 16 * 1024;

/// A read timeout is re-armed only when the operation's remaining time
/// differs from the armed one by more than this: it saves a `setsockopt` per
/// request at the cost of a deadline this much late at worst.
const TIMEOUT_SLACK: Duration = Duration::from_millis(5);

/// The most slices one `sendmsg` takes (Linux's `IOV_MAX`); a longer list
/// is sent in several calls.
const MAX_IOV: usize = 1024;

/// Incremented in every child right after `fork()`, so a connection can tell
/// it was inherited without a `getpid` system call per request.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn fork_generation() -> u64 {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic, which is
        // async-signal-safe as a child-side fork handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }

    fn set_write_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(t)),
            Stream::Unix(s) => s.set_write_timeout(Some(t)),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// A gathered write by `sendmsg` with `MSG_NOSIGNAL`: `writev` (what
    /// `write_vectored` does) raises SIGPIPE on a connection the peer
    /// closed, which kills a C or Tcl host that has not ignored it. The
    /// socket's send timeout applies as to `writev`.
    fn write_vectored(&mut self, parts: &[IoSlice<'_>]) -> std::io::Result<usize> {
        // SAFETY: an all-zero msghdr is valid (no address, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // IoSlice is ABI-compatible with iovec on Unix; sendmsg only reads it.
        msg.msg_iov = parts.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = parts.len().min(MAX_IOV) as _;
        // SAFETY: fd is an open socket owned by self; msg points to
        // `parts`, which outlives the call.
        let n = unsafe { libc::sendmsg(self.fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

/// An open connection with its read buffer.
pub struct Connection {
    stream: Stream,
    /// Bytes read and not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout currently armed on the socket.
    armed: Duration,
    /// The write timeout currently armed on the socket.
    write_armed: Duration,
    /// The configured per-operation I/O timeout.
    io_timeout: Duration,
    fork_generation: u64,
    /// Bytes received during the current operation.
    received: usize,
    /// The server closed (or reset) the connection during the current
    /// operation.
    closed_by_peer: bool,
}

impl Connection {
    /// Connects to `address`, giving up after `connect_timeout` per address
    /// tried. TCP connections get `TCP_NODELAY`: requests are written whole,
    /// so Nagle's algorithm would only add latency.
    pub fn open(
        address: &Address,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Connection> {
        let generation = fork_generation();
        let stream = match address {
            Address::Tcp { addrs, .. } => {
                let mut last = None;
                let mut stream = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(addr, connect_timeout) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let stream = match (stream, last) {
                    (Some(s), _) => s,
                    (None, Some(e)) => return Err(connect_error(&e, connect_timeout)),
                    (None, None) => return Err(Error::new(Kind::Io, "no address to connect to")),
                };
                stream.set_nodelay(true).map_err(|e| io_error(&e))?;
                Stream::Tcp(stream)
            }
            Address::Unix(path) => Stream::Unix(
                connect_unix(path, connect_timeout)
                    .map_err(|e| connect_error(&e, connect_timeout))?,
            ),
        };
        stream
            .set_read_timeout(io_timeout)
            .map_err(|e| io_error(&e))?;
        stream
            .set_write_timeout(io_timeout)
            .map_err(|e| io_error(&e))?;
        Ok(Connection {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            armed: io_timeout,
            write_armed: io_timeout,
            io_timeout,
            fork_generation: generation,
            received: 0,
            closed_by_peer: false,
        })
    }

    /// True when this process is a fork of the one that opened the
    /// connection: the parent may be using the same socket, so the child
    /// must close its copy without sending anything.
    pub fn is_inherited(&self) -> bool {
        self.fork_generation != FORK_GENERATION.load(Ordering::Relaxed)
    }

    /// True when every byte read has been consumed by a reply. A connection
    /// with bytes left over (a server that sent more than was asked) would
    /// hand them to the next request as its reply, so it is not pooled.
    pub fn is_drained(&self) -> bool {
        self.start == self.end
    }

    /// True when the current operation failed because the server had closed
    /// the connection, before it sent a byte of reply: on a pooled
    /// connection that means the server closed it while it was idle and
    /// never saw the request, which can then be sent again on a new one.
    /// A timeout is not such a failure: the server may hold the request and
    /// act on it later.
    pub fn closed_before_reply(&self) -> bool {
        self.closed_by_peer && self.received == 0
    }

    /// The deadline of an operation starting now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.io_timeout
    }

    /// Writes all of `parts` (one `sendmsg` unless the kernel takes less).
    ///
    /// The I/O timeout bounds the whole write: the socket's send timeout
    /// bounds one call, and a call that times out after taking part of the
    /// data returns that part, so a request that needs more calls has the
    /// timeout re-armed to what is left (only then: a request sent by one
    /// call costs no extra system call).
    pub fn send(&mut self, parts: &[&[u8]]) -> Result<()> {
        self.received = 0;
        self.closed_by_peer = false;
        let deadline = Instant::now() + self.io_timeout;
        if self.write_armed != self.io_timeout {
            self.stream
                .set_write_timeout(self.io_timeout)
                .map_err(|e| io_error(&e))?;
            self.write_armed = self.io_timeout;
        }
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match self.stream.write_vectored(slices) {
                Ok(0) => {
                    self.closed_by_peer = true;
                    return Err(Error::new(Kind::Io, "connection closed while sending"));
                }
                Ok(n) => {
                    IoSlice::advance_slices(&mut slices, n);
                    if slices.is_empty() {
                        break;
                    }
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(self.send_timeout());
                    }
                    if remaining + TIMEOUT_SLACK < self.write_armed {
                        self.stream
                            .set_write_timeout(remaining)
                            .map_err(|e| io_error(&e))?;
                        self.write_armed = remaining;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.send_timeout()),
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
        }
        Ok(())
    }

    /// Reads until one whole reply is buffered, hands it to `handle`, and
    /// consumes it. A reply the protocol layer rejects is an error.
    pub fn read_reply<T>(
        &mut self,
        deadline: Instant,
        handle: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<T> {
        loop {
            if let Some((reply, used)) = protocol::parse(&self.buf[self.start..self.end])? {
                let out = handle(reply);
                self.start += used;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                return Ok(out);
            }
            self.fill(deadline)?;
        }
    }

    /// Reads more bytes into the buffer, making room first: a big value's
    /// whole size is known from its header, so its buffer grows once.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let pending = &self.buf[self.start..self.end];
        let want = protocol::needed(pending).unwrap_or(pending.len() + READ_CHUNK / 2);
        if self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if want > self.buf.len() {
                self.buf.resize(want.max(self.end + READ_CHUNK), 0);
            }
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() + READ_CHUNK, 0);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.timeout());
        }
        if remaining + TIMEOUT_SLACK < self.armed || remaining > self.armed + TIMEOUT_SLACK {
            self.stream
                .set_read_timeout(remaining)
                .map_err(|e| io_error(&e))?;
            self.armed = remaining;
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.closed_by_peer = true;
                    return Err(Error::new(
                        Kind::Io,
                        if self.received == 0 {
                            "connection closed by the server before it replied"
                        } else {
                            "connection closed by the server in the middle of a reply"
                        },
                    ));
                }
                Ok(n) => {
                    self.end += n;
                    self.received += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.timeout()),
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
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

    fn timeout(&self) -> Error {
        Error::new(
            Kind::Timeout,
            format!("no reply within {} ms", self.io_timeout.as_millis()),
        )
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The errors of a connection the peer closed or reset.
fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

fn io_error(e: &std::io::Error) -> Error {
    Error::new(Kind::Io, e.to_string())
}

/// Connects a Unix socket, waiting at most `timeout`. `UnixStream::connect`
/// has no timeout, and a connect to a daemon whose accept queue is full
/// (one that hangs) blocks until a place frees up, which may be never. The
/// kernel bounds that wait by the socket's send timeout (then `EAGAIN`), so
/// the socket is made by hand to set it before connecting.
fn connect_unix(path: &std::path::Path, timeout: Duration) -> std::io::Result<UnixStream> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero sockaddr_un is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "socket path too long or with a NUL byte",
        ));
    }
    for (to, &from) in addr.sun_path.iter_mut().zip(bytes) {
        *to = from as libc::c_char;
    }
    // SAFETY: socket(2) has no preconditions; the fd it returns is owned by
    // a UnixStream at once, which closes it on every error path.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new socket that nothing else owns.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    stream.set_write_timeout(Some(timeout))?;
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    loop {
        // SAFETY: addr is a valid sockaddr_un of at least `len` bytes.
        let rc = unsafe {
            libc::connect(
                fd,
                (&addr as *const libc::sockaddr_un).cast(),
                len as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(stream);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn connect_error(e: &std::io::Error, timeout: Duration) -> Error {
    if is_timeout(e) {
        Error::new(
            Kind::Timeout,
            format!("cannot connect within {} ms", timeout.as_millis()),
        )
    } else {
        Error::new(Kind::Io, format!("cannot connect: {e}"))
    }
}
