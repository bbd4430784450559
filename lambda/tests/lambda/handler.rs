//! The decision logic, with in-memory adapters and the real image engine.

use imgtool_lambda::error::{Error, ErrorKind};
use imgtool_lambda::event::{parse, Action, Task};
use imgtool_lambda::memory::{MemoryCatalog, MemoryStore};
use imgtool_lambda::ports::Status;
use imgtool_lambda::{Handler, Outcome, TaskResult};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

type H = Arc<Handler<MemoryStore, MemoryCatalog>>;

fn handler(vars: &[(&str, &str)]) -> H {
    Arc::new(Handler::new(
        MemoryStore::default(),
        MemoryCatalog::default(),
        super::config(vars),
    ))
}

fn store(h: &H) -> &MemoryStore {
    // The handler owns its ports; tests reach them through these accessors.
    h.store()
}

fn catalog(h: &H) -> &MemoryCatalog {
    h.catalog()
}

fn task(key: &str, etag: &str, seq: &str, size: usize) -> Task {
    Task {
        bucket: "src".into(),
        key: key.into(),
        action: Action::Created,
        size: Some(size as u64),
        etag: Some(etag.into()),
        version_id: None,
        sequencer: Some(seq.into()),
        backfill: false,
    }
}

fn limit_exceeded() -> TaskResult {
    TaskResult::Handled(Outcome::Failed(ErrorKind::Image(
        imgcore::ErrorKind::LimitExceeded,
    )))
}

fn upload(h: &H, key: &str, bytes: Vec<u8>, seq: &str) -> Task {
    let len = bytes.len();
    let etag = store(h).upload("src", key, bytes);
    task(key, &etag, seq, len)
}

#[tokio::test]
async fn an_upload_becomes_renditions_and_one_record() {
    let h = handler(&[]);
    let t = upload(
        &h,
        "a b/photo+1.jpg",
        super::fixture("photo.jpg"),
        "0055AED6DCD90281E5",
    );
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let keys = store(&h).keys("out");
    assert_eq!(
        keys,
        vec![
            "renditions/a b/photo+1.jpg/s55AED6DCD90281E5/200.webp",
            "renditions/a b/photo+1.jpg/s55AED6DCD90281E5/64x64-cover.jpg"
        ]
    );
    let webp = store(&h).object("out", &keys[0]).unwrap();
    assert_eq!(webp.content_type, "image/webp");
    assert_eq!(webp.cache_control, "public, max-age=31536000, immutable");
    assert!(webp
        .metadata
        .iter()
        .any(|(k, v)| k == "source-key" && v == "a+b%2Fphoto%2B1.jpg"));
    let info = imgcore::probe(&webp.body).unwrap();
    assert_eq!((info.width, info.height), (200, 133));

    assert!(
        webp.metadata.iter().all(|(k, _)| k != "source-version"),
        "no version in an unversioned bucket's event: the metadata is left out"
    );
    let r = catalog(&h).record("src/a b/photo+1.jpg").unwrap();
    assert_eq!(r.status, Status::Done);
    assert_eq!(
        r.renditions
            .iter()
            .map(|x| x.key.as_str())
            .collect::<Vec<_>>(),
        keys,
        "the record points at the renditions"
    );
    assert_eq!(
        (r.width, r.height, r.format.as_deref()),
        (Some(320), Some(213), Some("jpeg"))
    );
    assert_eq!(r.renditions.len(), 2);
    assert_eq!(r.renditions[1].width, 64);
    assert_eq!(r.sequencer, format!("{:0>32}", "0055AED6DCD90281E5"));
    assert!(r.thumbhash.is_some() && r.color.is_some());
    assert_eq!(r.etag, t.etag);
    assert_eq!(r.engine_version, imgcore::VERSION);
}

#[tokio::test]
async fn a_duplicate_delivery_changes_nothing() {
    let h = handler(&[]);
    let t = upload(&h, "dup.jpg", super::fixture("photo.jpg"), "10");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let before: Vec<_> = store(&h)
        .keys("out")
        .iter()
        .map(|k| store(&h).object("out", k).unwrap().etag)
        .collect();
    let rec = catalog(&h).record("src/dup.jpg").unwrap();
    assert_eq!(
        h.run_task(&t).await,
        TaskResult::Handled(Outcome::Skipped("duplicate or older event"))
    );
    let after: Vec<_> = store(&h)
        .keys("out")
        .iter()
        .map(|k| store(&h).object("out", k).unwrap().etag)
        .collect();
    assert_eq!(before, after, "renditions were rewritten");
    assert_eq!(catalog(&h).record("src/dup.jpg").unwrap(), rec);
}

#[tokio::test]
async fn an_older_event_never_overwrites_a_newer_version() {
    let h = handler(&[]);
    let v1 = upload(&h, "k.jpg", super::fixture("photo.jpg"), "0A");
    let v2 = upload(&h, "k.jpg", super::fixture("rgba.png"), "0B"); // replaces v1
                                                                    // Newer first, then the delayed older event.
    assert_eq!(h.run_task(&v2).await, TaskResult::Handled(Outcome::Done));
    assert_eq!(
        h.run_task(&v1).await,
        TaskResult::Handled(Outcome::Skipped("duplicate or older event"))
    );
    let r = catalog(&h).record("src/k.jpg").unwrap();
    assert_eq!(r.format.as_deref(), Some("png"));
    // The older event alone (no record yet) must not render the newer bytes under its name.
    let h2 = handler(&[]);
    let v1 = upload(&h2, "k.jpg", super::fixture("photo.jpg"), "0A");
    let _v2 = upload(&h2, "k.jpg", super::fixture("rgba.png"), "0B");
    assert_eq!(
        h2.run_task(&v1).await,
        TaskResult::Handled(Outcome::Skipped("object was replaced by a newer version"))
    );
    assert!(store(&h2).keys("out").is_empty());
}

#[tokio::test]
async fn bad_images_get_a_failed_record_and_no_retry() {
    let h = handler(&[]);
    for (name, kind) in [
        ("bad/truncated.jpg", "truncated"),
        ("bad/not-an-image.jpg", "unsupported"),
        ("bad/bomb-64250x64250.jpg", "limit_exceeded"),
    ] {
        let t = upload(&h, name, super::fixture(name), "01");
        let r = h.run_task(&t).await;
        assert!(
            matches!(&r, TaskResult::Handled(Outcome::Failed(k)) if k.as_str() == kind),
            "{name}: {r:?}"
        );
        let r = catalog(&h).record(&format!("src/{name}")).unwrap();
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.error_kind.as_deref(), Some(kind));
        assert!(!r.error.unwrap().is_empty());
    }
    assert!(store(&h).keys("out").is_empty());
}

#[tokio::test]
async fn an_oversized_object_is_refused_without_reading_it() {
    let h = handler(&[("MAX_OBJECT_BYTES", "1000")]);
    let t = upload(&h, "big.jpg", super::fixture("photo.jpg"), "01");
    assert_eq!(h.run_task(&t).await, limit_exceeded());
    assert_eq!(
        store(&h).gets.load(Ordering::SeqCst),
        0,
        "the object was downloaded"
    );
    assert!(catalog(&h)
        .record("src/big.jpg")
        .unwrap()
        .error
        .unwrap()
        .contains("limit is 1000"));
}

#[tokio::test]
async fn transient_failures_are_retried_then_succeed() {
    let h = handler(&[]);
    let t = upload(&h, "flaky.jpg", super::fixture("photo.jpg"), "01");
    store(&h).fail_next.store(1, Ordering::SeqCst);
    assert!(matches!(h.run_task(&t).await, TaskResult::Retry(m) if m.message.contains("SlowDown")));
    catalog(&h).fail_next.store(1, Ordering::SeqCst);
    assert!(
        matches!(h.run_task(&t).await, TaskResult::Retry(m) if m.message.contains("Throughput"))
    );
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
}

#[tokio::test]
async fn direct_invocations_fail_and_sqs_reports_only_the_failed_message() {
    let h = handler(&[]);
    let etag = store(&h).upload("src", "queued/photo.jpg", super::fixture("photo.jpg"));
    let ev = super::event_json("sqs-s3.json", &[("SOURCE_BUCKET", "src"), ("ETAG", &etag)]);
    store(&h).fail_next.store(1, Ordering::SeqCst);
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}])
    );
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["batchItemFailures"], serde_json::json!([]));
    assert_eq!(
        catalog(&h).record("src/queued/photo.jpg").unwrap().status,
        Status::Done
    );

    let etag = store(&h).upload(
        "src",
        "uploads/my holiday photo+1.jpg",
        super::fixture("photo.jpg"),
    );
    let ev = super::event_json("s3-put.json", &[("SOURCE_BUCKET", "src"), ("ETAG", &etag)]);
    store(&h).fail_next.store(1, Ordering::SeqCst);
    let err = h.handle(parse(&ev).unwrap(), None).await.unwrap_err();
    assert!(err.contains("1 of 1 records are not finished"), "{err}");
    let ok = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(ok["done"], 1);
}

#[tokio::test]
async fn outputs_in_the_source_bucket_are_never_processed() {
    let h = handler(&[("OUTPUT_BUCKET", ""), ("OUTPUT_PREFIX", "thumbs/")]);
    let t = upload(&h, "photo.jpg", super::fixture("photo.jpg"), "01");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let outputs = store(&h).keys("src");
    assert!(
        outputs.iter().any(|k| k == "thumbs/photo.jpg/s1/200.webp"),
        "{outputs:?}"
    );
    // The rendition's own ObjectCreated event comes back: it is skipped.
    let o = store(&h)
        .object("src", "thumbs/photo.jpg/s1/200.webp")
        .unwrap();
    let again = task("thumbs/photo.jpg/s1/200.webp", &o.etag, "02", o.body.len());
    assert_eq!(
        h.run_task(&again).await,
        TaskResult::Handled(Outcome::Skipped("own output"))
    );
    assert_eq!(
        store(&h).keys("src").len(),
        3,
        "no rendition of a rendition"
    );
}

#[tokio::test]
async fn delete_removes_renditions_and_marks_the_record() {
    let h = handler(&[]);
    let t = upload(&h, "gone.jpg", super::fixture("photo.jpg"), "05");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    store(&h).remove("src", "gone.jpg");
    let del = Task {
        action: Action::Removed,
        size: None,
        etag: None,
        sequencer: Some("06".into()),
        ..t.clone()
    };
    assert_eq!(
        h.run_task(&del).await,
        TaskResult::Handled(Outcome::Deleted)
    );
    assert!(store(&h).keys("out").is_empty());
    let r = catalog(&h).record("src/gone.jpg").unwrap();
    assert_eq!(r.status, Status::Deleted);
    // A late create event from before the delete changes nothing.
    assert_eq!(
        h.run_task(&t).await,
        TaskResult::Handled(Outcome::Skipped("duplicate or older event"))
    );
}

#[tokio::test]
async fn nothing_starts_when_the_deadline_is_near() {
    let h = handler(&[("DEADLINE_MARGIN_MS", "5000")]);
    let t = upload(&h, "late.jpg", super::fixture("photo.jpg"), "01");
    let r = h
        .run_all(vec![t], Some(Instant::now() + Duration::from_secs(1)))
        .await;
    assert!(
        matches!(&r[0], TaskResult::Retry(m) if m.kind == ErrorKind::Deadline && m.message.contains("deadline"))
    );
    assert!(catalog(&h).record("src/late.jpg").is_none());
}

#[tokio::test]
async fn batch_operations_report_each_task() {
    let h = handler(&[]);
    store(&h).upload("src", "backfill/old photo.jpg", super::fixture("photo.jpg"));
    store(&h).upload(
        "src",
        "backfill/not-an-image.jpg",
        super::fixture("bad/not-an-image.jpg"),
    );
    for name in ["batch-2.0.json", "batch-1.0.json"] {
        let ev = super::event_json(name, &[("SOURCE_BUCKET", "src")]);
        let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
        assert_eq!(resp["invocationSchemaVersion"], &name[6..9]);
        assert_eq!(resp["results"][0]["taskId"], "dGFza2lkZ29lc2hlcmUK");
        assert_eq!(resp["results"][0]["resultCode"], "Succeeded", "{resp}");
        if name == "batch-2.0.json" {
            assert_eq!(resp["results"][1]["resultCode"], "PermanentFailure");
        }
    }
    assert_eq!(
        catalog(&h)
            .record("src/backfill/old photo.jpg")
            .unwrap()
            .status,
        Status::Done
    );
    // A real event later still wins over the backfill's record.
    let etag = store(&h).upload("src", "backfill/old photo.jpg", super::fixture("rgba.png"));
    let t = task(
        "backfill/old photo.jpg",
        &etag,
        "0055AED6DCD90281E5",
        super::fixture("rgba.png").len(),
    );
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    assert_eq!(
        catalog(&h)
            .record("src/backfill/old photo.jpg")
            .unwrap()
            .format
            .as_deref(),
        Some("png")
    );
}

#[tokio::test]
async fn eventbridge_events_are_processed() {
    let h = handler(&[]);
    let etag = store(&h).upload("src", "bridge/photo 2.jpg", super::fixture("photo.jpg"));
    let ev = super::event_json(
        "eventbridge-object-created.json",
        &[("SOURCE_BUCKET", "src"), ("ETAG", &etag)],
    );
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["done"], 1, "{resp}");
}

#[tokio::test]
async fn a_rendition_too_tall_for_webp_is_fitted_and_says_so() {
    // A 1x60000 JPEG: its 200-wide WebP rendition keeps the source size (no upscaling),
    // which WebP cannot hold; it is fitted to 1x16383 and the record says so.
    let h = handler(&[]);
    let tall = imgcore::synth::jpeg(1, 60000, 3, imgcore::synth::Layout::Interleaved);
    let t = upload(&h, "tall.jpg", tall, "0055AED6DCD90281E6");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let r = catalog(&h).record("src/tall.jpg").unwrap();
    assert_eq!(r.status, Status::Done);
    let webp = r.renditions.iter().find(|x| x.format == "webp").unwrap();
    assert_eq!((webp.width, webp.height), (1, 16383));
    assert!(webp.fitted_to_format);
    let jpeg = r.renditions.iter().find(|x| x.format == "jpeg").unwrap();
    assert!(!jpeg.fitted_to_format);
    let body = store(&h).object("out", &webp.key).unwrap().body;
    let info = imgcore::probe(&body).unwrap();
    assert_eq!((info.width, info.height), (1, 16383));
}
