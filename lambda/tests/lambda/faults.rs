//! Fault injection on the Lambda path: the real handler and the S3/DynamoDB adapters talk to
//! the local server through a small HTTP proxy that fails chosen requests (throttling,
//! 5xx, access denied, dropped connections, stalls), as AWS does on a bad day.

use super::moto::{local, put_event, upload, Local};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use imgtool_lambda::aws::{DynamoCatalog, S3Store};
use imgtool_lambda::event::parse;
use imgtool_lambda::ports::{Catalog, Status};
use imgtool_lambda::Handler;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// S3 `503 SlowDown`.
    SlowDown,
    /// DynamoDB `400 ProvisionedThroughputExceededException`.
    Throttled,
    /// `500 InternalError` (S3) / `InternalServerError` (DynamoDB).
    ServerError,
    /// S3 `403 AccessDenied`: permanent.
    AccessDenied,
    /// Close the connection without an answer.
    Drop,
    /// Forward the request after this long.
    Stall(Duration),
}

struct Rule {
    /// Matches requests whose description (`s3 GET /bucket/key`, `ddb PutItem`) contains it.
    matcher: String,
    /// How many more requests to fail; `usize::MAX` for every one.
    left: usize,
    fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<String>,
}

/// The fault-injecting proxy, listening on a free loopback port.
#[derive(Clone)]
pub struct Proxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let up = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (st, up) = (st.clone(), up.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, &up, &st).await;
                });
            }
        });
        Proxy { endpoint, state }
    }

    /// Fail the next `times` requests matching `matcher` with `fault`.
    pub fn fail(&self, matcher: &str, times: usize, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            matcher: matcher.to_string(),
            left: times,
            fault,
        });
    }

    pub fn heal(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// How many requests matching `matcher` arrived (failed or forwarded).
    pub fn count(&self, matcher: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.seen.iter().filter(|s| s.contains(matcher)).count()
    }
}

fn find(buf: &[u8], pat: &[u8]) -> Option<usize> {
    buf.windows(pat.len()).position(|w| w == pat)
}

/// Read until the end of an HTTP head; returns (head, bytes read past it).
async fn read_head(sock: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((String::from_utf8_lossy(&buf).into_owned(), rest)));
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with `Connection: close` in place of any Connection header: one exchange per
/// connection, so the proxy never has to find where a response ends.
fn closing(head: &str) -> String {
    let mut out: Vec<&str> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    out.push("Connection: close");
    out.join("\r\n") + "\r\n\r\n"
}

/// Read the rest of the request body, so the client sees the answer rather than a reset.
async fn drain_body(sock: &mut TcpStream, head: &str, mut got: Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 65536];
    if let Some(len) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        while got.len() < len {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
    } else if header(head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !(got.ends_with(b"\r\n\r\n")
            && (got.starts_with(b"0\r\n") || find(&got, b"\r\n0\r\n").is_some()))
        {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(())
}

fn canned(fault: Fault, ddb: bool, head_request: bool) -> Vec<u8> {
    let (status, kind, body, ctype) = match (fault, ddb) {
        (Fault::Throttled, _) | (Fault::SlowDown, true) => (
            "400 Bad Request",
            "ProvisionedThroughputExceededException",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#.to_string(),
            "application/x-amz-json-1.0",
        ),
        (Fault::ServerError, true) => (
            "500 Internal Server Error",
            "InternalServerError",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#.to_string(),
            "application/x-amz-json-1.0",
        ),
        (Fault::SlowDown, false) => ("503 Slow Down", "SlowDown", s3_error("SlowDown", "Please reduce your request rate."), "application/xml"),
        (Fault::ServerError, false) => ("500 Internal Server Error", "InternalError", s3_error("InternalError", "We encountered an internal error. Please try again."), "application/xml"),
        (Fault::AccessDenied, _) => ("403 Forbidden", "AccessDenied", s3_error("AccessDenied", "Access Denied"), "application/xml"),
        (Fault::Drop | Fault::Stall(_), _) => unreachable!("not a canned answer"),
    };
    let body = if head_request { String::new() } else { body };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nx-amzn-ErrorType: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn s3_error(code: &str, msg: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{msg}</Message><RequestId>FAULT</RequestId></Error>"#
    )
}

async fn serve(mut sock: TcpStream, upstream: &str, st: &Mutex<State>) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut sock).await? else {
        return Ok(());
    };
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let what = match header(&head, "x-amz-target") {
        Some(t) => format!("ddb {}", t.rsplit('.').next().unwrap_or(t)),
        None => format!("s3 {method} {}", path.split('?').next().unwrap_or(path)),
    };
    let fault = {
        let mut st = st.lock().unwrap();
        st.seen.push(what.clone());
        st.rules
            .iter_mut()
            .find(|r| r.left > 0 && what.contains(&r.matcher))
            .map(|r| {
                r.left = r.left.saturating_sub(1);
                r.fault
            })
    };
    match fault {
        Some(Fault::Drop) => return Ok(()),
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(f) => {
            drain_body(&mut sock, &head, rest).await?;
            sock.write_all(&canned(f, what.starts_with("ddb"), method == "HEAD"))
                .await?;
            return sock.shutdown().await;
        }
        None => {}
    }
    // Forward: the request (head rewritten, then the body as it comes), and the response
    // (head rewritten, then everything until the server closes).
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(closing(&head).as_bytes()).await?;
    up.write_all(&rest).await?;
    let (mut cr, mut cw) = sock.into_split();
    let (mut ur, mut uw) = up.into_split();
    let to_server = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
    });
    let mut resp = Vec::new();
    let mut chunk = [0u8; 65536];
    let body_start = loop {
        if let Some(end) = find(&resp, b"\r\n\r\n") {
            break end + 4;
        }
        let n = ur.read(&mut chunk).await?;
        if n == 0 {
            to_server.abort();
            return Ok(());
        }
        resp.extend_from_slice(&chunk[..n]);
    };
    let rhead = String::from_utf8_lossy(&resp[..body_start]).into_owned();
    cw.write_all(closing(&rhead).as_bytes()).await?;
    cw.write_all(&resp[body_start..]).await?;
    tokio::io::copy(&mut ur, &mut cw).await?;
    to_server.abort();
    cw.shutdown().await
}

/// Clients through `proxy`, with the SDK's standard retries (3 attempts) on a short
/// backoff and a 1 s attempt timeout, so the tests run in seconds.
async fn clients(proxy: &Proxy) -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .load()
        .await;
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    (
        aws_sdk_s3::Client::from_conf(s3),
        aws_sdk_dynamodb::Client::new(&shared),
    )
}

struct Rig {
    l: Local,
    proxy: Proxy,
    h: Arc<Handler<S3Store, DynamoCatalog>>,
    catalog: DynamoCatalog,
}

async fn rig() -> Rig {
    let l = local().await;
    let proxy = Proxy::start(super::endpoint()).await;
    let (s3, ddb) = clients(&proxy).await;
    let cfg = super::config(&[("OUTPUT_BUCKET", &l.out), ("TABLE_NAME", &l.table)]);
    let catalog = super::moto::catalog(&l);
    let h = Arc::new(Handler::new(
        S3Store { client: s3 },
        DynamoCatalog {
            client: ddb,
            table: l.table.clone(),
        },
        cfg,
    ));
    Rig {
        l,
        proxy,
        h,
        catalog,
    }
}

/// An SQS batch of S3 notifications, one message per (message id, key, etag), in the shape
/// of the `sqs-s3.json` fixture.
pub fn sqs_event(l: &Local, items: &[(&str, &str, &str)]) -> serde_json::Value {
    let mut ev = super::event_json("sqs-s3.json", &[]);
    let template = ev["Records"][0].clone();
    let records: Vec<serde_json::Value> = items
        .iter()
        .map(|(id, key, etag)| {
            let mut r = template.clone();
            r["messageId"] = (*id).into();
            r["body"] = put_event(l, key, etag).to_string().into();
            r
        })
        .collect();
    ev["Records"] = records.into();
    ev
}

/// Every key in a bucket with its ETag.
pub async fn objects(l: &Local, bucket: &str) -> Vec<(String, String)> {
    let o =
        l.s3.list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list");
    let mut v: Vec<(String, String)> = o
        .contents()
        .iter()
        .map(|c| {
            (
                c.key().unwrap_or_default().to_string(),
                c.e_tag().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

const RENDITIONS: [&str; 2] = ["200.webp", "64x64-cover.jpg"];

/// The rendition keys of `key` uploaded with the `s3-put.json` event (its sequencer
/// names the version).
fn expected_keys(key: &str) -> Vec<String> {
    RENDITIONS
        .iter()
        .map(|r| {
            format!(
                "renditions/{key}/s55AED6DCD90281E5-{}/{r}",
                super::config(&[]).render_id
            )
        })
        .collect()
}

#[tokio::test]
async fn transient_faults_are_retried_by_the_sdk_and_the_object_is_done() {
    let r = rig().await;
    let etag = upload(&r.l, "flaky.jpg", super::fixture("photo.jpg")).await;
    r.proxy.fail("s3 GET /", 2, Fault::SlowDown);
    r.proxy.fail("s3 PUT /", 1, Fault::ServerError);
    r.proxy.fail("ddb PutItem", 2, Fault::Throttled);
    let resp =
        r.h.handle(parse(&put_event(&r.l, "flaky.jpg", &etag)).unwrap(), None)
            .await
            .expect("every fault was within the SDK's three attempts");
    assert_eq!(resp["done"], 1, "{resp}");
    // Each faulted call was made again: 2 failures + 1 success.
    assert_eq!(r.proxy.count("s3 GET /"), 3);
    assert_eq!(r.proxy.count("ddb PutItem"), 3);
    let keys: Vec<String> = objects(&r.l, &r.l.out)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, expected_keys("flaky.jpg"));
    let rec = r
        .catalog
        .get(&format!("{}/flaky.jpg", r.l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, Status::Done);
    assert_eq!(rec.etag.as_deref(), Some(etag.as_str()));
}

#[tokio::test]
async fn a_stalled_request_times_out_and_is_retried() {
    let r = rig().await;
    let etag = upload(&r.l, "slow.jpg", super::fixture("photo.jpg")).await;
    // The first rendition upload stalls past the 1 s attempt timeout.
    r.proxy
        .fail("s3 PUT /", 1, Fault::Stall(Duration::from_secs(3)));
    let resp =
        r.h.handle(parse(&put_event(&r.l, "slow.jpg", &etag)).unwrap(), None)
            .await
            .expect("the stalled attempt is abandoned and retried");
    assert_eq!(resp["done"], 1, "{resp}");
    assert_eq!(
        r.proxy.count("s3 PUT /"),
        3,
        "two renditions, one of them twice"
    );
    let keys: Vec<String> = objects(&r.l, &r.l.out)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, expected_keys("slow.jpg"));
}

#[tokio::test]
async fn persistent_throttling_fails_only_that_sqs_message_and_redelivery_finishes_it() {
    let r = rig().await;
    let e1 = upload(&r.l, "q/one.jpg", super::fixture("photo.jpg")).await;
    let e2 = upload(&r.l, "q/two.png", super::fixture("rgba.png")).await;
    // Every read of one.jpg is throttled, beyond the SDK's retries.
    let get_one = format!("s3 GET /{}/q/one.jpg", r.l.src);
    r.proxy.fail(&get_one, usize::MAX, Fault::SlowDown);
    let ev = sqs_event(
        &r.l,
        &[("m-1", "q/one.jpg", &e1), ("m-2", "q/two.png", &e2)],
    );
    let resp = r.h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-1"}]),
        "{resp}"
    );
    assert_eq!(
        r.proxy.count(&get_one),
        3,
        "three attempts, then left to SQS"
    );
    assert!(r
        .catalog
        .get(&format!("{}/q/one.jpg", r.l.src))
        .await
        .unwrap()
        .is_none());
    let two = r
        .catalog
        .get(&format!("{}/q/two.png", r.l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.status, Status::Done);

    // SQS delivers m-1 again once the throttling has passed.
    r.proxy.heal();
    let again = sqs_event(&r.l, &[("m-1", "q/one.jpg", &e1)]);
    let resp = r.h.handle(parse(&again).unwrap(), None).await.unwrap();
    assert_eq!(resp["batchItemFailures"], serde_json::json!([]), "{resp}");
    let one = r
        .catalog
        .get(&format!("{}/q/one.jpg", r.l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.status, Status::Done);
}

#[tokio::test]
async fn access_denied_is_permanent_a_failed_record_and_no_retry() {
    let r = rig().await;
    let etag = upload(&r.l, "private.jpg", super::fixture("photo.jpg")).await;
    r.proxy.fail("s3 GET /", usize::MAX, Fault::AccessDenied);
    let resp =
        r.h.handle(parse(&put_event(&r.l, "private.jpg", &etag)).unwrap(), None)
            .await
            .expect("a permanent failure is recorded, not retried");
    assert_eq!(resp["failed"], 1, "{resp}");
    assert_eq!(r.proxy.count("s3 GET /"), 1, "the SDK does not retry a 403");
    let rec = r
        .catalog
        .get(&format!("{}/private.jpg", r.l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, Status::Failed);
    assert_eq!(rec.error_kind.as_deref(), Some("access_denied"));
    assert!(
        rec.error.as_deref().unwrap_or("").contains("AccessDenied"),
        "{:?}",
        rec.error
    );
    assert!(objects(&r.l, &r.l.out).await.is_empty());
}

#[tokio::test]
async fn a_crash_between_renditions_and_record_converges_on_replay() {
    let r = rig().await;
    let etag = upload(&r.l, "crash.jpg", super::fixture("photo.jpg")).await;
    let ev = put_event(&r.l, "crash.jpg", &etag);
    // The process "dies" after writing the renditions: the record write never arrives.
    r.proxy.fail("ddb PutItem", usize::MAX, Fault::Drop);
    let err = r.h.handle(parse(&ev).unwrap(), None).await.unwrap_err();
    assert!(err.contains("not finished: transient"), "{err}");
    let first = objects(&r.l, &r.l.out).await;
    assert_eq!(
        first.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        expected_keys("crash.jpg")
    );
    assert!(r
        .catalog
        .get(&format!("{}/crash.jpg", r.l.src))
        .await
        .unwrap()
        .is_none());

    // Lambda retries the event (twice here: at-least-once delivery may repeat it).
    r.proxy.heal();
    for _ in 0..2 {
        r.h.handle(parse(&ev).unwrap(), None).await.expect("replay");
    }
    let after = objects(&r.l, &r.l.out).await;
    assert_eq!(
        after.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        expected_keys("crash.jpg"),
        "one set of renditions, no extras"
    );
    for ((k, e1), (_, e2)) in first.iter().zip(&after) {
        assert_eq!(e1, e2, "{k}: the replay wrote the same bytes");
    }
    let rec = r
        .catalog
        .get(&format!("{}/crash.jpg", r.l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, Status::Done);
    assert_eq!(rec.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(rec.renditions.len(), 2);
    // Exactly one record for the object.
    let scan = r.l.ddb.scan().table_name(&r.l.table).send().await.unwrap();
    assert_eq!(scan.count(), 1);
}

#[tokio::test]
async fn dynamodb_server_errors_beyond_retries_fail_the_invocation_for_lambda_to_retry() {
    let r = rig().await;
    let etag = upload(&r.l, "ddb.jpg", super::fixture("photo.jpg")).await;
    r.proxy.fail("ddb PutItem", usize::MAX, Fault::ServerError);
    let ev = put_event(&r.l, "ddb.jpg", &etag);
    let err = r.h.handle(parse(&ev).unwrap(), None).await.unwrap_err();
    assert!(
        err.contains("1 of 1 records are not finished: transient"),
        "{err}"
    );
    assert_eq!(r.proxy.count("ddb PutItem"), 3);
    r.proxy.heal();
    let resp = r.h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["done"], 1, "{resp}");
}
