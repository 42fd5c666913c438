mod support;
use memcache::{Client, Status};
use support::Memcached;

#[test]
fn smoke() {
    let m = Memcached::tcp();
    let c = Client::new(&[m.spec()]).unwrap();
    assert_eq!(c.set(b"k", b"v\r\nEND\r\n", 5, 0).unwrap(), Status::Stored);
    let item = c.get(b"k").unwrap().unwrap();
    assert_eq!(item.value, b"v\r\nEND\r\n");
    assert_eq!(item.flags, 5);
    assert_eq!(c.get(b"nope").unwrap(), None);
    let big = vec![7u8; 500_000];
    assert_eq!(c.set(b"big", &big, 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.get(b"big").unwrap().unwrap().value, big);
    let hits = c.get_many(&[b"k".as_slice(), b"big", b"x"]).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(c.exists(b"k").unwrap());
    assert_eq!(c.ttl(b"k").unwrap(), Some(-1));
    println!("{:?}", c.version().unwrap());
    let u = Memcached::unix();
    let c2 = Client::new(&[u.spec()]).unwrap();
    assert_eq!(c2.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    assert_eq!(
        c2.incr(b"k", 1).unwrap_err().kind(),
        memcache::Kind::NotNumeric
    );
}
