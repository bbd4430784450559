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
    super::race::created("src", key, etag, seq, size)
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
    let v = format!("s55AED6DCD90281E5-{}", h.config().render_id);
    assert_eq!(
        keys,
        vec![
            format!("renditions/a b/photo+1.jpg/{v}/200.webp"),
            format!("renditions/a b/photo+1.jpg/{v}/64x64-cover.jpg")
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
    let webp = format!("thumbs/photo.jpg/s1-{}/200.webp", h.config().render_id);
    assert!(outputs.iter().any(|k| k == &webp), "{outputs:?}");
    // The rendition's own ObjectCreated event comes back: it is skipped.
    let o = store(&h).object("src", &webp).unwrap();
    let again = task(&webp, &o.etag, "02", o.body.len());
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

#[tokio::test]
async fn records_are_admitted_within_the_memory_budget() {
    // Four progressive 4000x4000 JPEGs: each needs ~96 MB of coefficients (128 bytes per
    // block and component) whatever the output size. A 250 MB budget runs two at a time,
    // though MAX_CONCURRENCY lets four start.
    let h = handler(&[("MEMORY_BUDGET", "250M"), ("MAX_CONCURRENCY", "4")]);
    let jpeg = imgcore::synth::jpeg(4000, 4000, 3, imgcore::synth::Layout::Progressive);
    let one = imgcore::estimate_memory(&jpeg, &h.config().plan)
        .unwrap()
        .total()
        + jpeg.len() as u64;
    let budget = h.budget().unwrap().total();
    assert!(
        one * 2 <= budget && one * 3 > budget,
        "one {one}, budget {budget}"
    );
    let tasks: Vec<Task> = (0..4)
        .map(|i| upload(&h, &format!("big-{i}.jpg"), jpeg.clone(), "0100"))
        .collect();
    let results = h.run_all(tasks, None).await;
    assert!(
        results
            .iter()
            .all(|r| *r == TaskResult::Handled(Outcome::Done)),
        "{results:?}"
    );
    // Two ran side by side (a third never fits: 3 x one > budget).
    let peak = h.budget().unwrap().peak();
    assert!(
        peak >= 2 * one.div_ceil(1024) * 1024,
        "two ran side by side: peak {peak}"
    );
    assert_eq!(h.budget().unwrap().in_use(), 0, "every lease was returned");
}

#[tokio::test]
async fn an_image_that_could_never_fit_is_failed_from_its_header_alone() {
    // A 17000x17000 progressive JPEG: 3.4 MB of file, ~1.7 GB to decode. Only its first
    // bytes are read before it is refused.
    let h = handler(&[("MEMORY_BUDGET", "1G")]);
    let jpeg = imgcore::synth::jpeg(17000, 17000, 3, imgcore::synth::Layout::Progressive);
    assert!(jpeg.len() as u64 > 2 * imgtool_lambda::handler::HEADER_BYTES);
    let t = upload(&h, "huge-progressive.jpg", jpeg, "0100");
    assert_eq!(h.run_task(&t).await, limit_exceeded());
    let r = catalog(&h).record("src/huge-progressive.jpg").unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.error.as_deref().unwrap().contains("decoded bytes"),
        "{:?}",
        r.error
    );
    assert_eq!(
        store(&h).bytes_served.load(Ordering::SeqCst),
        imgtool_lambda::handler::HEADER_BYTES,
        "only the header was read"
    );
    assert_eq!(h.budget().unwrap().peak(), 0, "nothing was leased");
}

#[tokio::test]
async fn a_gif_whose_header_is_not_enough_leases_the_budget_then_what_it_needs() {
    // A GIF's frames are counted through the whole file, so the estimate waits for the
    // body: the read holds the whole budget, then the lease shrinks to the estimate.
    let h = handler(&[("MEMORY_BUDGET", "64M")]);
    let mut gif = super::fixture("static.gif");
    let info = imgcore::probe(&gif).unwrap();
    // Make it larger than two headers with a comment extension before the trailer.
    let trailer = gif.pop().unwrap();
    for _ in 0..3000 {
        gif.extend_from_slice(&[0x21, 0xFE, 255]);
        gif.extend_from_slice(&[b'c'; 255]);
        gif.push(0);
    }
    gif.push(trailer);
    assert!(gif.len() as u64 > 2 * imgtool_lambda::handler::HEADER_BYTES);
    assert_eq!(imgcore::probe(&gif).unwrap().width, info.width);
    let t = upload(&h, "padded.gif", gif, "0100");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    assert_eq!(h.budget().unwrap().peak(), h.budget().unwrap().total());
    assert_eq!(h.budget().unwrap().in_use(), 0);
}

#[tokio::test]
async fn an_unreadable_sqs_message_goes_to_the_dead_letter_queue() {
    let h = handler(&[]);
    let etag = store(&h).upload("src", "queued/photo.jpg", super::fixture("photo.jpg"));
    let mut ev = super::event_json("sqs-s3.json", &[("SOURCE_BUCKET", "src"), ("ETAG", &etag)]);
    let mut bad = ev["Records"][0].clone();
    bad["messageId"] = "not-json".into();
    bad["body"] = "this is not an event".into();
    let mut empty = ev["Records"][0].clone();
    empty["messageId"] = "no-records".into();
    empty["body"] = serde_json::json!({"hello": 1}).to_string().into();
    let mut test_event = ev["Records"][0].clone();
    test_event["messageId"] = "test-event".into();
    test_event["body"] =
        serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "src"})
            .to_string()
            .into();
    ev["Records"]
        .as_array_mut()
        .unwrap()
        .extend([bad, empty, test_event]);
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "not-json"}, {"itemIdentifier": "no-records"}]),
        "unreadable messages are reported so the queue's redrive policy dead-letters them; the test event is not"
    );
    assert_eq!(
        catalog(&h).record("src/queued/photo.jpg").unwrap().status,
        Status::Done
    );
}

#[tokio::test]
async fn a_record_the_catalog_refuses_for_good_is_a_dead_letter() {
    let h = handler(&[]);
    let t = upload(&h, "photo.jpg", super::fixture("photo.jpg"), "01");
    *catalog(&h).refuse_writes.lock().unwrap() = Some(Error::new(
        ErrorKind::AccessDenied,
        "AccessDeniedException: not authorized to perform dynamodb:PutItem",
    ));
    let r = h.run_task(&t).await;
    assert!(
        matches!(&r, TaskResult::DeadLetter(e) if e.kind == ErrorKind::AccessDenied),
        "{r:?}"
    );
    let err = h
        .handle(imgtool_lambda::event::Invocation::Direct(vec![t]), None)
        .await
        .unwrap_err();
    assert!(err.contains("access_denied"), "{err}");
}

#[tokio::test]
async fn permanent_s3_errors_are_recorded_not_retried() {
    let h = handler(&[]);
    let t = upload(&h, "denied.jpg", super::fixture("photo.jpg"), "01");
    // The second rendition's PUT is refused (a policy that misses the prefix, say).
    store(&h).refuse(
        "put",
        "64x64-cover",
        Error::new(ErrorKind::AccessDenied, "AccessDenied: Access Denied"),
    );
    let r = h.run_task(&t).await;
    assert_eq!(
        r,
        TaskResult::Handled(Outcome::Failed(ErrorKind::AccessDenied))
    );
    let rec = catalog(&h).record("src/denied.jpg").unwrap();
    assert_eq!(rec.status, Status::Failed);
    assert_eq!(rec.error_kind.as_deref(), Some("access_denied"));
    assert!(rec.error.unwrap().contains("64x64-cover"));
    assert!(
        store(&h).keys("out").is_empty(),
        "the rendition written before the failure was deleted"
    );
    // Delivered again: the record already says why; nothing is retried.
    assert_eq!(
        h.run_task(&t).await,
        TaskResult::Handled(Outcome::Skipped("duplicate or older event"))
    );

    // A refused delete on removal is recorded on the deleted record, not retried.
    let h = handler(&[]);
    let t = upload(&h, "kept.jpg", super::fixture("photo.jpg"), "01");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    store(&h).remove("src", "kept.jpg");
    store(&h).refuse(
        "delete",
        "kept.jpg/",
        Error::new(ErrorKind::AccessDenied, "AccessDenied"),
    );
    let del = Task {
        action: Action::Removed,
        sequencer: Some("02".into()),
        ..t.clone()
    };
    assert_eq!(
        h.run_task(&del).await,
        TaskResult::Handled(Outcome::Deleted)
    );
    let rec = catalog(&h).record("src/kept.jpg").unwrap();
    assert_eq!(rec.status, Status::Deleted);
    assert_eq!(rec.error_kind.as_deref(), Some("access_denied"));
    assert_eq!(
        rec.renditions.len(),
        2,
        "the renditions left behind are listed"
    );
}

#[tokio::test]
async fn a_record_still_running_at_the_deadline_is_abandoned_for_a_retry() {
    use super::race::Gated;
    let h = Arc::new(imgtool_lambda::Handler::new(
        Gated::new(MemoryStore::default()),
        MemoryCatalog::default(),
        super::config(&[("DEADLINE_MARGIN_MS", "1000")]),
    ));
    let bytes = super::fixture("photo.jpg");
    let etag = h.store().inner.upload("src", "slow.jpg", bytes.clone());
    let t = task("slow.jpg", &etag, "01", bytes.len());
    // The rendition upload never completes: only the deadline can end the record.
    let _stuck = h.store().hold("put", "slow.jpg");
    let r = h
        .run_all(vec![t], Some(Instant::now() + Duration::from_millis(2500)))
        .await;
    assert!(
        matches!(&r[0], TaskResult::Retry(e) if e.kind == ErrorKind::Deadline && e.message.contains("abandoned")),
        "{r:?}"
    );
    assert!(h.catalog().record("src/slow.jpg").is_none());
}

#[tokio::test]
async fn batch_operations_honour_the_tasks_version() {
    let h = handler(&[]);
    let (_, v1) = store(&h).upload_version("src", "versioned.jpg", super::fixture("photo.jpg"));
    let (_, v2) = store(&h).upload_version("src", "versioned.jpg", super::fixture("rgba.png"));
    let batch = |version: &str| {
        let mut ev = super::event_json("batch-2.0.json", &[("SOURCE_BUCKET", "src")]);
        ev["tasks"] = serde_json::json!([{
            "taskId": "t1",
            "s3Bucket": "src",
            "s3Key": "versioned.jpg",
            "s3VersionId": version,
        }]);
        parse(&ev).unwrap()
    };
    // An old version: not rendered over the current one.
    let resp = h.handle(batch(&v1), None).await.unwrap();
    assert_eq!(resp["results"][0]["resultCode"], "Succeeded", "{resp}");
    assert!(resp["results"][0]["resultString"]
        .as_str()
        .unwrap()
        .contains("no longer the current one"));
    assert!(catalog(&h).record("src/versioned.jpg").is_none());
    // The current version: read by its id.
    let resp = h.handle(batch(&v2), None).await.unwrap();
    assert_eq!(resp["results"][0]["resultCode"], "Succeeded", "{resp}");
    let r = catalog(&h).record("src/versioned.jpg").unwrap();
    assert_eq!(
        (r.format.as_deref(), r.version_id.as_deref()),
        (Some("png"), Some(v2.as_str()))
    );
}

#[tokio::test]
async fn a_source_key_at_s3s_length_limit_gets_renditions_under_a_hashed_key() {
    let h = handler(&[]);
    let key = format!("{}.jpg", "k".repeat(1020));
    assert_eq!(key.len(), 1024);
    let t = upload(&h, &key, super::fixture("photo.jpg"), "01");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let rec = catalog(&h).record(&format!("src/{key}")).unwrap();
    assert_eq!(rec.key, key);
    for r in &rec.renditions {
        assert!(
            r.key.starts_with("renditions/_long/") && r.key.len() <= 1024,
            "{}",
            r.key
        );
        let o = store(&h).object("out", &r.key).unwrap();
        let src = o.metadata.iter().find(|(n, _)| n == "source-key").unwrap();
        assert_eq!(
            src.1.len(),
            1024,
            "the source key is in the rendition's metadata"
        );
    }
}

#[tokio::test]
async fn removals_that_leave_a_current_version_keep_or_rerender_it() {
    let h = handler(&[]);
    // v1, then v2 over it; v2 is recorded.
    store(&h).upload("src", "v.jpg", super::fixture("photo.jpg"));
    let v1 = store(&h).object("src", "v.jpg").unwrap();
    let v2_etag = store(&h).upload("src", "v.jpg", super::fixture("rgba.png"));
    let v2 = task("v.jpg", &v2_etag, "02", super::fixture("rgba.png").len());
    assert_eq!(h.run_task(&v2).await, TaskResult::Handled(Outcome::Done));
    let removed = |seq: &str| Task {
        action: Action::Removed,
        size: None,
        etag: None,
        sequencer: Some(seq.into()),
        ..v2.clone()
    };
    // A non-current version is deleted for good: the object is unchanged.
    assert_eq!(
        h.run_task(&removed("03")).await,
        TaskResult::Handled(Outcome::Skipped("the object still exists, as recorded"))
    );
    assert_eq!(
        catalog(&h).record("src/v.jpg").unwrap().format.as_deref(),
        Some("png")
    );
    // The current version is deleted for good: v1 is current again and is rendered.
    store(&h)
        .objects
        .lock()
        .unwrap()
        .insert(("src".into(), "v.jpg".into()), v1.clone());
    assert_eq!(
        h.run_task(&removed("04")).await,
        TaskResult::Handled(Outcome::Done)
    );
    let r = catalog(&h).record("src/v.jpg").unwrap();
    assert_eq!(
        (r.format.as_deref(), r.etag.as_deref()),
        (Some("jpeg"), Some(v1.etag.as_str()))
    );
    let keys = store(&h).keys("out");
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.contains("/s4-")),
        "{keys:?}: v2's renditions are gone"
    );
}

#[tokio::test]
async fn a_long_non_ascii_key_keeps_its_metadata_within_s3s_limit() {
    // 300 three-byte characters: 900 bytes of key, 2,700 URL-encoded, more than S3's 2 KB
    // of user metadata.
    let h = handler(&[]);
    let key = format!("{}.jpg", "写".repeat(300));
    let t = upload(&h, &key, super::fixture("photo.jpg"), "01");
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let rec = catalog(&h).record(&format!("src/{key}")).unwrap();
    let o = store(&h).object("out", &rec.renditions[0].key).unwrap();
    let names: Vec<&str> = o.metadata.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"source-key-sha256") && !names.contains(&"source-key"),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_crash_after_the_record_write_finishes_its_deletes_on_redelivery() {
    use super::race::Gated;
    let h = Arc::new(imgtool_lambda::Handler::new(
        Gated::new(MemoryStore::default()),
        MemoryCatalog::default(),
        super::config(&[("DEADLINE_MARGIN_MS", "1000")]),
    ));
    let v1_bytes = super::fixture("photo.jpg");
    let e1 = h.store().inner.upload("src", "k.jpg", v1_bytes.clone());
    let v1 = task("k.jpg", &e1, "01", v1_bytes.len());
    assert_eq!(h.run_task(&v1).await, TaskResult::Handled(Outcome::Done));
    let old: Vec<String> = h.store().inner.keys("out");
    assert_eq!(old.len(), 2);
    // v2's record lands, then the instance stops before deleting v1's renditions (here:
    // the deletes hang until the deadline abandons the record).
    let v2_bytes = super::fixture("rgba.png");
    let e2 = h.store().inner.upload("src", "k.jpg", v2_bytes.clone());
    let v2 = task("k.jpg", &e2, "02", v2_bytes.len());
    let gate = h.store().hold("delete", "/s1-");
    let r = h
        .run_all(
            vec![v2.clone()],
            Some(Instant::now() + Duration::from_millis(2500)),
        )
        .await;
    assert!(
        matches!(&r[0], TaskResult::Retry(e) if e.kind == ErrorKind::Deadline),
        "{r:?}"
    );
    let rec = h.catalog().record("src/k.jpg").unwrap();
    assert_eq!(rec.etag.as_deref(), Some(e2.as_str()), "the record landed");
    let mut superseded = rec.superseded.clone();
    superseded.sort();
    assert_eq!(superseded, old, "the record lists what it replaced");
    assert_eq!(
        h.store().inner.keys("out").len(),
        4,
        "v1's renditions are still there"
    );
    // The event is delivered again: a duplicate, which finishes the deletes.
    gate.open();
    assert_eq!(
        h.run_task(&v2).await,
        TaskResult::Handled(Outcome::Skipped("duplicate or older event"))
    );
    let left = h.store().inner.keys("out");
    let mut current: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
    current.sort();
    assert_eq!(left, current, "only v2's renditions remain");
}

#[tokio::test]
async fn an_animated_gif_keeps_its_animation_when_the_renditions_say_anim() {
    let h = handler(&[("RENDITIONS", "24,webp,anim;16,jpeg")]);
    let t = upload(
        &h,
        "chat/wave.gif",
        super::fixture("animated-3-frames.gif"),
        "0055AED6DCD90281E6",
    );
    assert_eq!(h.run_task(&t).await, TaskResult::Handled(Outcome::Done));
    let keys = store(&h).keys("out");
    let animated = keys.iter().find(|k| k.ends_with(".webp")).unwrap();
    let still = keys.iter().find(|k| k.ends_with(".jpg")).unwrap();
    let webp = store(&h).object("out", animated).unwrap();
    assert_eq!(imgcore::probe(&webp.body).unwrap().frames, 3);
    let jpeg = store(&h).object("out", still).unwrap();
    assert_eq!(imgcore::probe(&jpeg.body).unwrap().frames, 1);
    let r = catalog(&h).record("src/chat/wave.gif").unwrap();
    assert_eq!(r.frames, Some(3));
}
