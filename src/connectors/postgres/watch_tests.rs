use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// `type, length, body` as the server frames a message.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

#[test]
fn ready_for_query_is_found_wherever_the_stream_is_split() {
    let mut stream = vec![b'S'];
    stream.extend(message(b'R', &[0, 0, 0, 0]));
    stream.extend(message(b'K', &[0, 0, 0x30, 0x39, 0xff, 0xff, 0xff, 0xfe]));
    stream.extend(message(b'D', b"Z-looking body ZZZZ"));
    stream.extend(message(b'Z', b"I"));
    for split in 0..stream.len() {
        let mut f = Framing {
            ssl_answer: true,
            ..Framing::default()
        };
        let early = f.feed(&stream[..split]);
        let late = f.feed(&stream[split..]);
        assert_eq!((early, late), (false, true), "split at {split}");
        assert_eq!((f.header_len, f.body_left), (0, 0), "split at {split}");
        assert_eq!(f.key, Some((12345, -2)), "split at {split}");
    }
}

#[tokio::test]
async fn an_idle_connection_is_never_timed_and_a_silent_server_is() {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let losses = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watch = Watch::new(
        Some(Duration::from_millis(50)),
        "connection 'dw' (etl@db:5432/dw)".into(),
        "statement_timeout=1ms".into(),
        losses.clone(),
    );
    let mut c = Watched::new(client, watch.clone());
    let mut buf = [0u8; 64];
    // The startup: the client writes, the server answers up to ReadyForQuery.
    c.write_all(b"startup").await.unwrap();
    assert!(watch.deadline().is_some(), "the server owes an answer");
    server.write_all(&message(b'Z', b"I")).await.unwrap();
    c.read_exact(&mut buf[..6]).await.unwrap();
    assert_eq!(watch.deadline(), None, "idle: nothing is owed");

    // A statement the server never answers.
    c.write_all(b"query").await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(30), c.read(&mut buf))
        .await
        .expect("the read timeout ends the wait")
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let text = e.to_string();
    assert!(
        text.contains("connection 'dw' (etl@db:5432/dw)")
            && text.contains("for 50ms")
            && text.contains("statement_timeout=1ms")
            && text.contains("raise statement_timeout or read_timeout"),
        "{text}"
    );
    assert_eq!(take_end().as_deref(), Some(text.as_str()));
    assert_eq!(
        losses.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the pool hears of it"
    );
    drop(server);
}
