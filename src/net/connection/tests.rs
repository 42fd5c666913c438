//! A connection against a peer socket that sends replies in pieces of
//! every size: values, misses, errors and replies cut short.

use super::*;
use crate::net::VecBuf;
use std::io::Write;
use std::os::unix::net::UnixStream;

/// A connection over one end of a socket pair, and the other end.
fn pair() -> (Connection, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let timeout = Duration::from_secs(5);
    ours.set_read_timeout(Some(timeout)).unwrap();
    let conn = Connection {
        stream: Stream::Plain(Socket::from(socket2::Socket::from(ours))),
        buf: vec![0; READ_CHUNK],
        start: 0,
        end: 0,
        armed: nanos(timeout),
        write_armed: nanos(timeout),
        io_timeout: timeout,
        fork_generation: crate::fork::generation(),
        received: 0,
        closed_by_peer: false,
    };
    (conn, theirs)
}

/// Writes `reply` in pieces of `piece` bytes from another thread.
fn serve(mut peer: UnixStream, reply: Vec<u8>, piece: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for part in reply.chunks(piece) {
            peer.write_all(part).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        // keep the socket open until the reader is done
        let _ = peer.read_timeout();
        std::thread::sleep(Duration::from_millis(50));
    })
}

fn end(reply: Reply<'_>) -> Result<()> {
    match reply {
        Reply::End => Ok(()),
        other => Err(Error::new(Kind::Protocol, format!("{other:?}"))),
    }
}

/// A value, its flags and its CAS unique.
type Item = (Vec<u8>, u32, Option<u64>);

/// Reads one VALUE into a VecBuf, then END, as `Client::get` does.
fn read_item(conn: &mut Connection) -> Result<Option<Item>> {
    let deadline = conn.deadline();
    match conn.read_value(deadline, b"k", |n, _| Ok(VecBuf::new(n)), end)? {
        Fetched::Other(done) => done.map(|()| None),
        Fetched::Value { value, flags, cas } => {
            conn.read_reply(deadline, end)??;
            Ok(Some((value.into_vec(), flags, cas)))
        }
    }
}

#[test]
fn values_of_every_size_in_pieces_of_every_size() {
    for size in [
        0,
        1,
        100,
        READ_CHUNK - 30,
        READ_CHUNK,
        3 * READ_CHUNK + 7,
        300_000,
    ] {
        let value: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut reply = format!("VALUE k 7 {size} 99\r\n").into_bytes();
        reply.extend_from_slice(&value);
        reply.extend_from_slice(b"\r\nEND\r\n");
        for piece in [1, 2, 5, 1000, usize::MAX] {
            if piece < 100 && size > 1000 {
                continue; // slow, and no different from 1000
            }
            let (mut conn, peer) = pair();
            let server = serve(peer, reply.clone(), piece.min(reply.len()));
            let got = read_item(&mut conn).unwrap();
            assert_eq!(
                got,
                Some((value.clone(), 7, Some(99))),
                "size {size}, piece {piece}"
            );
            assert!(conn.is_drained());
            server.join().unwrap();
        }
    }
}

#[test]
fn a_miss_and_the_next_reply() {
    let (mut conn, peer) = pair();
    let server = serve(peer, b"END\r\nVALUE k 0 2\r\nab\r\nEND\r\n".to_vec(), 1000);
    assert_eq!(read_item(&mut conn).unwrap(), None);
    assert_eq!(
        read_item(&mut conn).unwrap(),
        Some((b"ab".to_vec(), 0, None))
    );
    assert!(conn.is_drained());
    server.join().unwrap();
}

#[test]
fn an_error_reply_goes_to_the_handler() {
    let (mut conn, peer) = pair();
    let server = serve(peer, b"SERVER_ERROR out of memory\r\n".to_vec(), 1000);
    let deadline = conn.deadline();
    let got = conn
        .read_value(
            deadline,
            b"k",
            |n, _| Ok(VecBuf::new(n)),
            |reply| match reply {
                Reply::ServerError(message) => message.to_vec(),
                _ => Vec::new(),
            },
        )
        .unwrap();
    assert!(matches!(got, Fetched::Other(ref m) if m == b"out of memory"));
    assert!(conn.is_drained());
    server.join().unwrap();
}

#[test]
fn a_wrong_length_is_a_protocol_error_naming_the_header() {
    for size in [3, 40_000] {
        let (mut conn, peer) = pair();
        let mut reply = format!("VALUE k 0 {size}\r\n").into_bytes();
        reply.extend(std::iter::repeat_n(b'x', size + 2));
        reply.extend_from_slice(b"END\r\n");
        let server = serve(peer, reply, 1000);
        let e = read_item(&mut conn).unwrap_err();
        assert_eq!(e.kind(), Kind::Protocol);
        assert_eq!(
            e.message(),
            format!(
                "malformed reply from memcached (data block not followed by \\r\\n): \
                 \"VALUE k 0 {size}\""
            )
        );
        server.join().unwrap();
    }
}

#[test]
fn a_reply_cut_short_is_an_io_error() {
    let (mut conn, peer) = pair();
    let mut reply = b"VALUE k 0 50000\r\n".to_vec();
    reply.extend(std::iter::repeat_n(b'x', 30_000));
    let server = std::thread::spawn(move || {
        let mut peer = peer;
        peer.write_all(&reply).unwrap();
        // dropped: the connection closes mid-value
    });
    let e = read_item(&mut conn).unwrap_err();
    assert_eq!(e.kind(), Kind::Io);
    assert!(!conn.closed_before_reply());
    server.join().unwrap();
}
