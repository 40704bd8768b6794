//! The connection rules, against hand-driven peers on loopback sockets.

use super::*;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;

/// Only a guard against hanging: every wait here ends by an event.
const PATIENCE: Duration = Duration::from_secs(10);

async fn links(
    my_id: u64,
    peers: HashMap<u64, Vec<(String, u16)>>,
) -> (ElectionLinks, mpsc::UnboundedReceiver<(u64, Bytes)>) {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    ElectionLinks::start(my_id, listen, format!("127.0.0.1:{}", 0), peers, PATIENCE)
        .await
        .unwrap()
}

async fn call_with_hello(to: SocketAddr, sid: u64, addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(to).await.unwrap();
    s.write_all(&hello::encode(sid, addr)).await.unwrap();
    s
}

async fn write_frame_raw<W: AsyncWrite + Unpin>(w: &mut W, len: i32, body: &[u8]) {
    w.write_all(&len.to_be_bytes()).await.unwrap();
    w.write_all(body).await.unwrap();
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let len = timeout(PATIENCE, r.read_i32()).await.unwrap().unwrap();
    let mut body = vec![0; len as usize];
    r.read_exact(&mut body).await.unwrap();
    body
}

async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        timeout(PATIENCE, s.read(&mut byte)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<(u64, Bytes)>) -> (u64, Bytes) {
    timeout(PATIENCE, rx.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn an_absurd_length_closes_only_that_connection() {
    let (links, mut rx) = links(5, HashMap::new()).await;
    let addr = links.local_addr();
    let mut bad = call_with_hello(addr, 7, "127.0.0.1:1").await;
    let mut good = call_with_hello(addr, 8, "127.0.0.1:2").await;
    write_frame_raw(&mut good, 3, b"one").await;
    assert_eq!(recv(&mut rx).await, (8, Bytes::from_static(b"one")));
    write_frame_raw(&mut bad, MAX_MESSAGE_BYTES as i32 + 1, b"").await;
    assert!(closed_by_peer(&mut bad).await);
    let mut zero = call_with_hello(addr, 9, "127.0.0.1:3").await;
    write_frame_raw(&mut zero, 0, b"").await;
    assert!(
        closed_by_peer(&mut zero).await,
        "an empty message is refused too"
    );
    write_frame_raw(&mut good, 3, b"two").await;
    assert_eq!(recv(&mut rx).await, (8, Bytes::from_static(b"two")));
    assert!(links.is_connected(8));
}

#[tokio::test]
async fn a_smaller_id_is_hung_up_on_and_called_back() {
    let (links, _rx) = links(5, HashMap::new()).await;
    let callback = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let advertised = format!("127.0.0.1:{}", callback.local_addr().unwrap().port());
    let mut call = call_with_hello(links.local_addr(), 2, &advertised).await;
    assert!(
        closed_by_peer(&mut call).await,
        "5 keeps only calls it made to 2"
    );
    let (mut back, _) = timeout(PATIENCE, callback.accept()).await.unwrap().unwrap();
    let hello = hello::read(&mut back).await.unwrap();
    assert_eq!(hello.sid, 5);
    links.send(2, Bytes::from_static(b"vote"));
    assert_eq!(read_frame(&mut back).await, b"vote");
}

#[tokio::test]
async fn calls_to_a_larger_id_hang_up_and_the_queue_keeps_the_newest_message() {
    let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer_port = peer.local_addr().unwrap().port();
    let peers = HashMap::from([(9, vec![("127.0.0.1".to_string(), peer_port)])]);
    let (links, _rx) = links(1, peers).await;
    links.send(9, Bytes::from_static(b"a"));
    let (mut call, _) = timeout(PATIENCE, peer.accept()).await.unwrap().unwrap();
    assert_eq!(hello::read(&mut call).await.unwrap().sid, 1);
    assert!(
        closed_by_peer(&mut call).await,
        "1 hangs up on the larger 9"
    );
    links.send(9, Bytes::from_static(b"b"));
    links.send(9, Bytes::from_static(b"c"));
    // 9 calls back; only the newest queued message is still there.
    let mut back = call_with_hello(links.local_addr(), 9, &format!("127.0.0.1:{peer_port}")).await;
    assert_eq!(read_frame(&mut back).await, b"c");
    links.send(9, Bytes::from_static(b"d"));
    assert_eq!(read_frame(&mut back).await, b"d");
    // A new connection repeats the last message, which may have been lost.
    drop(back);
    let mut again = call_with_hello(links.local_addr(), 9, &format!("127.0.0.1:{peer_port}")).await;
    assert_eq!(read_frame(&mut again).await, b"d");
}

#[tokio::test]
async fn messages_to_self_come_straight_back_and_bad_hellos_are_refused() {
    let (links, mut rx) = links(3, HashMap::new()).await;
    links.send(3, Bytes::from_static(b"me"));
    assert_eq!(recv(&mut rx).await, (3, Bytes::from_static(b"me")));
    let mut s = TcpStream::connect(links.local_addr()).await.unwrap();
    s.write_all(&(-7i64).to_be_bytes()).await.unwrap();
    assert!(closed_by_peer(&mut s).await);
    let mut same_id = call_with_hello(links.local_addr(), 3, "127.0.0.1:1").await;
    assert!(closed_by_peer(&mut same_id).await);
}

#[tokio::test]
async fn close_releases_the_port() {
    let (links, _rx) = links(1, HashMap::new()).await;
    let addr = links.local_addr();
    links.close().await;
    let (again, _rx) = ElectionLinks::start(1, addr, String::new(), HashMap::new(), PATIENCE)
        .await
        .expect("the port is free again");
    assert_eq!(again.local_addr(), addr);
}
