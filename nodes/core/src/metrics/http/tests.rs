//! The request parser, and the responder against real sockets: garbage, a stalled client and
//! the next scrape.

use super::*;

#[test]
fn heads_parse() {
    assert_eq!(
        parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
        Head::Request {
            method: "GET",
            path: "/metrics"
        }
    );
    assert_eq!(
        parse_head(b"HEAD /health?x=1 HTTP/1.0\r\n\r\n"),
        Head::Request {
            method: "HEAD",
            path: "/health"
        }
    );
    assert_eq!(
        parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
        Head::Incomplete
    );
    assert_eq!(parse_head(b""), Head::Incomplete);
    for bad in [
        &b"\x00\x01\x02\x03\r\n\r\n"[..],
        b"GET /metrics\r\n\r\n",
        b"GET metrics HTTP/1.1\r\n\r\n",
        b"GET /metrics HTTP/2\r\n\r\n",
        b"GET /metrics HTTP/1.1 extra\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
        b"G\xffT /metrics HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(
            parse_head(bad),
            Head::Bad,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

fn server() -> HttpServer {
    let listener = bind(&HttpConfig::new("127.0.0.1", 0)).expect("bind");
    let handler: Handler = Box::new(|want| match want {
        Want::Metrics => Ok("# HELP swarm_x x\n# TYPE swarm_x gauge\nswarm_x 1\n".to_owned()),
        Want::Health => Err("loop did not answer".to_owned()),
    });
    HttpServer::spawn(listener, handler).expect("spawn")
}

fn ask(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn answers_routes_and_refusals() {
    let srv = server();
    let a = srv.local_addr();
    let ok = ask(a, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("Content-Type: text/plain; version=0.0.4"),
        "{ok}"
    );
    assert!(
        ok.contains("Connection: close\r\n") && ok.ends_with("swarm_x 1\n"),
        "{ok}"
    );
    let sick = ask(a, b"GET /health HTTP/1.1\r\n\r\n");
    assert!(sick.starts_with("HTTP/1.1 503 ") && sick.ends_with("loop did not answer\n"));
    assert!(
        sick.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{sick}"
    );
    assert!(ask(a, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    let post = ask(a, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert!(
        post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET"),
        "{post}"
    );
    assert!(ask(a, b"\x16\x03\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let long = vec![b'a'; MAX_HEAD + 10];
    assert!(ask(a, &long).starts_with("HTTP/1.1 400 "));
    let head = ask(a, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
}

#[test]
fn a_stalled_client_delays_the_next_scrape_by_the_timeout_at_most() {
    let srv = server();
    let a = srv.local_addr();
    let mut stalled = TcpStream::connect(a).expect("connect");
    stalled.write_all(b"GET /metr").expect("write");
    let started = Instant::now();
    let ok = ask(a, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
    assert!(started.elapsed() < IO_TIMEOUT + Duration::from_millis(900));
    // The stalled one was closed without an answer.
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut rest = Vec::new();
    assert_eq!(
        stalled
            .read_to_end(&mut rest)
            .map(|_| rest.len())
            .unwrap_or(0),
        0
    );
}

#[test]
fn a_taken_port_names_the_address_and_key() {
    let first = bind(&HttpConfig::new("127.0.0.1", 0)).expect("bind");
    let port = first.local_addr().expect("addr").port();
    let err = bind(&HttpConfig::new("127.0.0.1", port)).expect_err("taken");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("[Stats] http_port"),
        "{text}"
    );
}

#[test]
fn a_client_that_does_not_read_is_cut_off_at_the_timeout() {
    let listener = bind(&HttpConfig::new("127.0.0.1", 0)).expect("bind");
    // Far more than the socket buffers hold.
    let handler: Handler = Box::new(|_| Ok(format!("# big\n{}", "x".repeat(16 << 20))));
    let srv = HttpServer::spawn(listener, handler).expect("spawn");
    let mut lazy = TcpStream::connect(srv.local_addr()).expect("connect");
    lazy.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut next = TcpStream::connect(srv.local_addr()).expect("connect");
    next.write_all(b"GET /health HTTP/1.1\r\n\r\n")
        .expect("write");
    next.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = [0u8; 12];
    next.read_exact(&mut head).expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(started.elapsed() < IO_TIMEOUT + Duration::from_millis(900));
}
