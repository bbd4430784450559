//! Load run against a local S3/DynamoDB server (moto): puts N objects (mixed sizes and
//! formats, some bad) into a source bucket, drives the real handler with their events the
//! way S3 and SQS deliver them (single-record invocations and SQS batches of 10, with
//! duplicates and shuffled order, failed batch items redelivered), then checks that every
//! object has a record with the right status, every good one exactly its renditions, and
//! nothing else exists. Prints throughput and peak memory.
//!
//! ```text
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
//!   AWS_SECRET_ACCESS_KEY=test cargo run -p imgtool-lambda --example load -- 1000
//! ```
//! (`bash scripts/load.sh 1000` starts the server and does this.)

use imgtool_lambda::aws::{clients, DynamoCatalog, S3Store};
use imgtool_lambda::event::parse;
use imgtool_lambda::{Config, Handler};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A deterministic xorshift generator, for the mix and the shuffle.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the run found.
#[derive(Debug)]
pub struct Report {
    pub objects: usize,
    pub good: usize,
    pub bad: usize,
    pub invocations: usize,
    pub deliveries: usize,
    pub redeliveries: usize,
    pub seconds: f64,
    pub peak_rss_mb: f64,
    /// Everything that is not as it should be; empty when the run is clean.
    pub problems: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The sources: (file name, bytes, expected error kind or None for a good image).
fn sources() -> Vec<(String, Vec<u8>, Option<&'static str>)> {
    let fx = root().join("fixtures");
    let read = |n: &str| std::fs::read(fx.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let mut v: Vec<(String, Vec<u8>, Option<&'static str>)> = [
        "photo.jpg",
        "progressive.jpg",
        "cmyk-adobe.jpg",
        "orientation-6.jpg",
        "rgba.png",
        "palette-trns.png",
        "gray-16bit.png",
        "lossy.webp",
        "alpha.webp",
        "static.gif",
        "rgb.tiff",
        "rgb.bmp",
    ]
    .iter()
    .map(|n| (n.to_string(), read(n), None))
    .collect();
    // Photo-sized JPEGs (a fixture enlarged by the engine itself).
    let plan = imgcore::Plan::parse("2400,jpeg,q85,upscale").expect("plan");
    let big = imgcore::render(&read("photo.jpg"), &plan).expect("enlarge");
    v.push((
        "large-2400.jpg".into(),
        big.renditions[0].bytes.clone(),
        None,
    ));
    for (n, kind) in [
        ("bad/truncated.jpg", "truncated"),
        ("bad/not-an-image.jpg", "unsupported"),
        ("bad/bomb-40000x30000.png", "limit_exceeded"),
    ] {
        v.push((n.replace('/', "-"), read(n), Some(kind)));
    }
    v
}

/// An uploaded object: key, ETag, size, expected error kind, format.
type Uploaded = (
    String,
    String,
    u64,
    Option<&'static str>,
    Option<imgcore::ImageFormat>,
);

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Run the load with `n` objects against the server at `AWS_ENDPOINT_URL`.
pub async fn run(n: usize) -> Report {
    let started = Instant::now();
    let (s3, ddb) = clients().await;
    let tag = format!(
        "{}-{}",
        std::process::id(),
        started.elapsed().as_nanos() % 100_000
    );
    let (src, out, table) = (
        format!("load-src-{tag}"),
        format!("load-out-{tag}"),
        format!("load-records-{tag}"),
    );
    for b in [&src, &out] {
        s3.create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("create bucket");
    }
    imgtool_lambda::aws::create_records_table(&ddb, &table)
        .await
        .expect("create table");

    // Upload: object i is source i % len, under a key that says which.
    let srcs = Arc::new(sources());
    let mut objects: Vec<Uploaded> = Vec::with_capacity(n);
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut puts = Vec::with_capacity(n);
    for i in 0..n {
        let (s3, src, srcs, sem) = (s3.clone(), src.clone(), srcs.clone(), sem.clone());
        puts.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.expect("semaphore");
            let (name, body, expect) = &srcs[i % srcs.len()];
            let key = format!("load/{:02}/{i:05} {name}", i % 37);
            let o = s3
                .put_object()
                .bucket(&src)
                .key(&key)
                .body(body.clone().into())
                .send()
                .await
                .expect("put");
            let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_string();
            let format = imgcore::probe(body).ok().map(|i| i.format);
            (key, etag, body.len() as u64, *expect, format)
        }));
    }
    for p in puts {
        objects.push(p.await.expect("upload task"));
    }
    let uploaded = Instant::now();

    // Events, as S3 would send them: one record each, sequencers in upload order.
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/events/s3-put.json")).expect("event"),
    )
    .expect("event JSON");
    let record = |i: usize| {
        let (key, etag, size, _, _) = &objects[i];
        let mut r = template["Records"][0].clone();
        r["s3"]["bucket"]["name"] = src.clone().into();
        r["s3"]["bucket"]["arn"] = format!("arn:aws:s3:::{src}").into();
        r["s3"]["object"]["key"] = form_urlencoded::byte_serialize(key.as_bytes())
            .collect::<String>()
            .into();
        r["s3"]["object"]["eTag"] = etag.clone().into();
        r["s3"]["object"]["size"] = (*size).into();
        r["s3"]["object"]["sequencer"] = format!("{:016X}", 0x0060_0000_0000u64 + i as u64).into();
        r
    };
    // Deliveries: every event once, 10% twice, shuffled.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut order: Vec<usize> = (0..n).collect();
    order.extend((0..n).filter(|i| i % 10 == 3));
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let deliveries = order.len();
    // Half go straight to the function (one record per invocation), half through SQS in
    // batches of 10.
    let mut invocations: Vec<Value> = Vec::new();
    let mut sqs_batch: Vec<Value> = Vec::new();
    let sqs_template: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/events/sqs-s3.json")).expect("sqs"),
    )
    .expect("sqs JSON");
    for (m, &i) in order.iter().enumerate() {
        let ev = json!({"Records": [record(i)]});
        if rng.below(2) == 0 {
            invocations.push(ev);
        } else {
            let mut msg = sqs_template["Records"][0].clone();
            msg["messageId"] = format!("msg-{m}").into();
            msg["body"] = ev.to_string().into();
            sqs_batch.push(msg);
            if sqs_batch.len() == 10 {
                invocations.push(json!({"Records": std::mem::take(&mut sqs_batch)}));
            }
        }
    }
    if !sqs_batch.is_empty() {
        invocations.push(json!({"Records": sqs_batch}));
    }

    let cfg = Arc::new(
        Config::from_vars(|k| match k {
            "TABLE_NAME" => Some(table.clone()),
            "OUTPUT_BUCKET" => Some(out.clone()),
            "METRICS_NAMESPACE" => Some(String::new()),
            other => std::env::var(other).ok(),
        })
        .expect("config"),
    );
    let handler = Arc::new(Handler::new(
        S3Store { client: s3.clone() },
        DynamoCatalog {
            client: ddb.clone(),
            table: table.clone(),
        },
        cfg.clone(),
    ));

    // Drive: two invocations at a time (two cores); anything to retry is delivered again,
    // as Lambda (direct) or SQS (batchItemFailures) would, up to three more times.
    let mut problems = Vec::new();
    let mut pending = invocations;
    let n_invocations = pending.len();
    let mut redeliveries = 0;
    for round in 0..4 {
        let mut again = Vec::new();
        for chunk in pending.chunks(2) {
            let mut hs = Vec::new();
            for ev in chunk {
                let (h, ev) = (handler.clone(), ev.clone());
                hs.push(tokio::spawn(async move {
                    let inv = parse(&ev).expect("event parses");
                    (ev, h.handle(inv, None).await)
                }));
            }
            for h in hs {
                let (ev, r) = h.await.expect("invocation task");
                match r {
                    Err(_) => again.push(ev),
                    Ok(resp) => {
                        let failed: BTreeSet<String> = resp["batchItemFailures"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|f| f["itemIdentifier"].as_str().map(String::from))
                            .collect();
                        if !failed.is_empty() {
                            let msgs: Vec<Value> = ev["Records"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter(|m| failed.contains(m["messageId"].as_str().unwrap_or("")))
                                .cloned()
                                .collect();
                            again.push(json!({"Records": msgs}));
                        }
                    }
                }
            }
        }
        if again.is_empty() {
            break;
        }
        if round == 3 {
            problems.push(format!(
                "{} invocations still failing after 3 redeliveries",
                again.len()
            ));
        }
        redeliveries += again.len();
        pending = again;
    }
    let driven = Instant::now();

    // Check the records.
    let mut records: BTreeMap<String, (String, Option<String>, usize)> = BTreeMap::new();
    let mut record_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut start_key = None;
    loop {
        let page = ddb
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let rends: Vec<String> = item
                .get("renditions")
                .and_then(|v| v.as_l().ok())
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_m().ok()?.get("key")?.as_s().ok().cloned())
                .collect();
            let n_rend = rends.len();
            record_keys.insert(s("key").unwrap_or_default(), rends);
            records.insert(
                s("key").unwrap_or_default(),
                (s("status").unwrap_or_default(), s("error_kind"), n_rend),
            );
        }
        start_key = page.last_evaluated_key().cloned();
        if start_key.is_none() {
            break;
        }
    }
    let labels = &cfg.labels;
    let mut expected_outputs = BTreeSet::new();
    let (mut good, mut bad) = (0, 0);
    for (key, _, _, expect, format) in &objects {
        match (records.get(key), expect) {
            (None, _) => problems.push(format!("{key}: no record")),
            (Some((status, _, n_r)), None) => {
                good += 1;
                if status != "done" || *n_r != labels.len() {
                    problems.push(format!("{key}: {status} with {n_r} renditions"));
                }
            }
            (Some((status, kind, _)), Some(want)) => {
                bad += 1;
                if status != "failed" || kind.as_deref() != Some(want) {
                    problems.push(format!("{key}: {status} {kind:?}, expected failed {want}"));
                }
            }
        }
        if let (None, Some(f)) = (expect, format) {
            // Each rendition key is `{prefix}{source key}/{version}/{label}.{ext}`.
            let listed = record_keys.get(key).cloned().unwrap_or_default();
            for (spec, label) in cfg.plan.outputs.iter().zip(labels) {
                let ext = spec.format.resolve(*f).extension();
                let name = format!("/{label}.{ext}");
                let dir = format!("{}{key}/", cfg.output_prefix);
                match listed
                    .iter()
                    .find(|k| k.ends_with(&name) && k.starts_with(&dir))
                {
                    Some(k) => {
                        expected_outputs.insert(k.clone());
                    }
                    None => problems.push(format!("{key}: no {label}.{ext} in its record")),
                }
            }
        }
    }
    if records.len() != objects.len() {
        problems.push(format!(
            "{} records for {} objects",
            records.len(),
            objects.len()
        ));
    }
    // Check the renditions: exactly the expected keys.
    let mut found = BTreeSet::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&out)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        for o in page.contents() {
            found.insert(o.key().unwrap_or_default().to_string());
        }
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    if let Some(k) = expected_outputs.difference(&found).next() {
        let missing = expected_outputs.difference(&found).count();
        problems.push(format!("{missing} renditions missing, e.g. {k}"));
    }
    if let Some(k) = found.difference(&expected_outputs).next() {
        let extra = found.difference(&expected_outputs).count();
        problems.push(format!(
            "{extra} unexpected objects in the output bucket, e.g. {k}"
        ));
    }
    println!(
        "uploaded {n} objects in {:.1} s; processed in {:.1} s",
        (uploaded - started).as_secs_f64(),
        (driven - uploaded).as_secs_f64()
    );
    Report {
        objects: n,
        good,
        bad,
        invocations: n_invocations,
        deliveries,
        redeliveries,
        seconds: (driven - uploaded).as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
        problems,
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("number of objects"))
        .unwrap_or(1000);
    let r = run(n).await;
    println!(
        "{} objects ({} good, {} bad), {} deliveries (duplicates included) in {} invocations, {} redelivered",
        r.objects, r.good, r.bad, r.deliveries, r.invocations, r.redeliveries
    );
    println!(
        "{:.1} s, {:.1} objects/s, peak RSS {:.0} MB",
        r.seconds,
        r.objects as f64 / r.seconds,
        r.peak_rss_mb
    );
    if r.problems.is_empty() {
        println!("every object has the right record and renditions; nothing extra");
    } else {
        for p in &r.problems {
            println!("PROBLEM: {p}");
        }
        std::process::exit(1);
    }
}
