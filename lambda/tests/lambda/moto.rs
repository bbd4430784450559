//! The S3 and DynamoDB adapters against a real S3/DynamoDB API over HTTP on 127.0.0.1
//! (moto's server, started by `scripts/test.sh`).

use imgtool_lambda::aws::{DynamoCatalog, S3Store};
use imgtool_lambda::event::parse;
use imgtool_lambda::ports::{Catalog, Status, WriteIf, Written};
use imgtool_lambda::Handler;
use std::sync::Arc;

pub struct Local {
    pub s3: aws_sdk_s3::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub src: String,
    pub out: String,
    pub table: String,
}

/// Clients for the local server, and a fresh source bucket, output bucket and table.
pub async fn local() -> Local {
    let endpoint = super::endpoint();
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    let (s3, ddb) = imgtool_lambda::aws::clients().await;
    let (src, out, table) = (
        super::unique("src"),
        super::unique("out"),
        super::unique("records"),
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
    Local {
        s3,
        ddb,
        src,
        out,
        table,
    }
}

pub async fn upload(l: &Local, key: &str, body: Vec<u8>) -> String {
    let o =
        l.s3.put_object()
            .bucket(&l.src)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put");
    o.e_tag().unwrap().trim_matches('"').to_string()
}

/// The `s3-put.json` fixture event for `key` (a plain key: no encoding needed) at `etag`.
pub fn put_event(l: &Local, key: &str, etag: &str) -> serde_json::Value {
    super::event_json(
        "s3-put.json",
        &[
            ("SOURCE_BUCKET", &l.src),
            ("ETAG", etag),
            ("uploads/my+holiday+photo%2B1.jpg", key),
        ],
    )
}

/// The catalog of `l`'s table, read directly (not through any proxy).
pub fn catalog(l: &Local) -> DynamoCatalog {
    DynamoCatalog {
        client: l.ddb.clone(),
        table: l.table.clone(),
    }
}

fn handler(l: &Local) -> Arc<Handler<S3Store, DynamoCatalog>> {
    let cfg = super::config(&[("OUTPUT_BUCKET", &l.out), ("TABLE_NAME", &l.table)]);
    Arc::new(Handler::new(
        S3Store {
            client: l.s3.clone(),
        },
        catalog(l),
        cfg,
    ))
}

async fn keys(l: &Local, bucket: &str) -> Vec<String> {
    let o =
        l.s3.list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list");
    o.contents()
        .iter()
        .filter_map(|c| c.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn renditions_and_record_round_trip_through_s3_and_dynamodb() {
    let rid = super::config(&[]).render_id.clone();
    let l = local().await;
    let h = handler(&l);
    let e1 = upload(&l, "café/写真 1.png", super::fixture("rgba.png")).await;
    let e2 = upload(&l, "100% real.webp", super::fixture("lossy.webp")).await;
    let ev = super::event_json(
        "s3-put-many-keys.json",
        &[("SOURCE_BUCKET", &l.src), ("ETAG1", &e1), ("ETAG2", &e2)],
    );
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["done"], 2, "{resp}");

    let mut got = keys(&l, &l.out).await;
    got.sort();
    assert_eq!(
        got,
        vec![
            format!("renditions/100% real.webp/s55AED6DCD9028402-{rid}/200.webp"),
            format!("renditions/100% real.webp/s55AED6DCD9028402-{rid}/64x64-cover.jpg"),
            format!("renditions/café/写真 1.png/s55AED6DCD9028401-{rid}/200.webp"),
            format!("renditions/café/写真 1.png/s55AED6DCD9028401-{rid}/64x64-cover.jpg"),
        ]
    );
    let o =
        l.s3.get_object()
            .bucket(&l.out)
            .key(format!(
                "renditions/café/写真 1.png/s55AED6DCD9028401-{rid}/64x64-cover.jpg"
            ))
            .send()
            .await
            .unwrap();
    assert_eq!(o.content_type(), Some("image/jpeg"));
    assert_eq!(
        o.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(o.metadata().unwrap().get("source-etag"), Some(&e1));
    let body = o.body.collect().await.unwrap().into_bytes();
    let info = imgcore::probe(&body).unwrap();
    assert_eq!((info.width, info.height), (64, 64));

    let cat = catalog(&l);
    let r = cat
        .get(&format!("{}/café/写真 1.png", l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Status::Done);
    assert_eq!((r.width, r.height), (Some(120), Some(90)));
    assert_eq!(r.has_alpha, Some(true));
    assert_eq!(r.renditions.len(), 2);
    assert_eq!(r.etag.as_deref(), Some(e1.as_str()));

    // Same event again: nothing visible changes.
    let before =
        l.s3.head_object()
            .bucket(&l.out)
            .key(format!(
                "renditions/100% real.webp/s55AED6DCD9028402-{rid}/200.webp"
            ))
            .send()
            .await
            .unwrap();
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(
        (resp["done"].as_u64(), resp["skipped"].as_u64()),
        (Some(0), Some(2)),
        "{resp}"
    );
    let after =
        l.s3.head_object()
            .bucket(&l.out)
            .key(format!(
                "renditions/100% real.webp/s55AED6DCD9028402-{rid}/200.webp"
            ))
            .send()
            .await
            .unwrap();
    assert_eq!(before.e_tag(), after.e_tag());
    assert_eq!(before.last_modified(), after.last_modified());
    assert_eq!(
        cat.get(&format!("{}/café/写真 1.png", l.src))
            .await
            .unwrap()
            .unwrap(),
        r
    );
}

#[tokio::test]
async fn conditional_writes_keep_the_newest_record() {
    let l = local().await;
    let cat = catalog(&l);
    let h = handler(&l);
    let etag = upload(&l, "k.jpg", super::fixture("photo.jpg")).await;
    let ev = put_event(&l, "k.jpg", &etag);
    h.handle(parse(&ev).unwrap(), None).await.unwrap();
    let id = format!("{}/k.jpg", l.src);
    let mut r = cat.get(&id).await.unwrap().unwrap();
    let stored_seq = r.sequencer.clone();
    r.status = Status::Failed;
    // Older and equal sequencers are refused by DynamoDB's condition; newer is accepted.
    let older = format!("{:0>32}", "0055AED6DCD90281E4");
    // A refused write says which record stays (DynamoDB returns it with the failed
    // condition); an accepted one returns the record it replaced.
    let kept = |w: Written| match w {
        Written::Kept(Some(k)) => k.status,
        other => panic!("expected a kept record, got {other:?}"),
    };
    assert_eq!(
        kept(cat.put(&r, &WriteIf::NewerThanStored(older)).await.unwrap()),
        Status::Done
    );
    assert_eq!(
        kept(
            cat.put(&r, &WriteIf::NewerThanStored(stored_seq.clone()))
                .await
                .unwrap()
        ),
        Status::Done
    );
    assert_eq!(
        kept(cat.put(&r, &WriteIf::Unchanged(None)).await.unwrap()),
        Status::Done
    );
    match cat
        .put(&r, &WriteIf::Unchanged(Some(stored_seq)))
        .await
        .unwrap()
    {
        Written::Replaced(Some(prev)) => {
            assert_eq!(prev.status, Status::Done);
            assert_eq!(prev.renditions.len(), 2);
        }
        other => panic!("expected the replaced record, got {other:?}"),
    }
    assert_eq!(cat.get(&id).await.unwrap().unwrap().status, Status::Failed);
    // A first write replaces nothing.
    let mut fresh = r.clone();
    fresh.id = format!("{}/new.jpg", l.src);
    assert_eq!(
        cat.put(&fresh, &WriteIf::NewerThanStored("1".into()))
            .await
            .unwrap(),
        Written::Replaced(None)
    );
}

#[tokio::test]
async fn a_replaced_object_is_not_rendered_under_an_old_event() {
    let l = local().await;
    let h = handler(&l);
    let old = upload(&l, "v.jpg", super::fixture("photo.jpg")).await;
    let _new = upload(&l, "v.jpg", super::fixture("rgba.png")).await;
    let ev = put_event(&l, "v.jpg", &old);
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["skipped"], 1, "{resp}");
    assert!(keys(&l, &l.out).await.is_empty());
}

#[tokio::test]
async fn corrupt_upload_is_recorded_as_failed_and_delete_cleans_up() {
    let l = local().await;
    let h = handler(&l);
    let cat = catalog(&l);
    let etag = upload(&l, "bad.jpg", super::fixture("bad/truncated.jpg")).await;
    let ev = put_event(&l, "bad.jpg", &etag);
    let resp = h.handle(parse(&ev).unwrap(), None).await.unwrap();
    assert_eq!(resp["failed"], 1, "{resp}");
    let r = cat
        .get(&format!("{}/bad.jpg", l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.status, r.error_kind.as_deref()),
        (Status::Failed, Some("truncated"))
    );

    let etag = upload(&l, "photo.jpg", super::fixture("photo.jpg")).await;
    let put = put_event(&l, "photo.jpg", &etag);
    h.handle(parse(&put).unwrap(), None).await.unwrap();
    assert_eq!(keys(&l, &l.out).await.len(), 2);
    l.s3.delete_object()
        .bucket(&l.src)
        .key("photo.jpg")
        .send()
        .await
        .unwrap();
    let del = super::event_json(
        "s3-delete.json",
        &[
            ("SOURCE_BUCKET", &l.src),
            ("uploads/my+holiday+photo%2B1.jpg", "photo.jpg"),
        ],
    );
    let resp = h.handle(parse(&del).unwrap(), None).await.unwrap();
    assert_eq!(resp["deleted"], 1, "{resp}");
    assert!(keys(&l, &l.out).await.is_empty());
    assert_eq!(
        cat.get(&format!("{}/photo.jpg", l.src))
            .await
            .unwrap()
            .unwrap()
            .status,
        Status::Deleted
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_error() {
    // Nothing listens on port 9 of loopback: connection refused must mean "retry".
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let store = S3Store {
        client: aws_sdk_s3::Client::from_conf(conf),
    };
    use imgtool_lambda::ports::ObjectStore;
    let e = store.head("b", "k").await.unwrap_err();
    assert!(e.retryable(), "{e}");
}

/// A JPEG XL made at test time by libvips's `jxlsave` (libjxl; `scripts/test.sh` installs
/// libvips-tools).
fn jxl_of(fixture: &str) -> Vec<u8> {
    vips_save(fixture, "jxlsave", "jxl", &["--Q=85", "--effort=3"])
}

/// A HEIC (HEVC) encoded at test time by libvips's `heifsave` (libheif + x265).
fn heic_of(fixture: &str) -> Vec<u8> {
    vips_save(
        fixture,
        "heifsave",
        "heic",
        &["--Q=80", "--compression=hevc"],
    )
}

/// A fixture re-encoded at test time by a libvips saver.
fn vips_save(fixture: &str, saver: &str, ext: &str, args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("x.{ext}"));
    let st = std::process::Command::new("vips")
        .arg(saver)
        .arg(super::root().join("fixtures").join(fixture))
        .arg(&out)
        .args(args)
        .status()
        .expect("vips (libvips-tools; bash scripts/test.sh installs it)");
    assert!(st.success());
    std::fs::read(out).unwrap()
}

/// A phone format uploaded under `key`: rendered to web formats, recorded with its format.
async fn a_phone_upload_is_rendered_and_recorded(key: &str, bytes: Vec<u8>, format: &str) {
    let l = local().await;
    let h = handler(&l);
    let cat = catalog(&l);
    let etag = upload(&l, key, bytes).await;
    let resp = h
        .handle(parse(&put_event(&l, key, &etag)).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(resp["done"], 1, "{resp}");
    let r = cat.get(&format!("{}/{key}", l.src)).await.unwrap().unwrap();
    assert_eq!(
        (r.format.as_deref(), r.width, r.height, r.frames),
        (Some(format), Some(320), Some(213), Some(1))
    );
    assert_eq!(r.renditions.len(), 2);
    assert_eq!(r.renditions[0].width, 200, "{:?}", r.renditions[0]);
    for rendition in &r.renditions {
        let o =
            l.s3.get_object()
                .bucket(&l.out)
                .key(&rendition.key)
                .send()
                .await
                .unwrap();
        let body = o.body.collect().await.unwrap().into_bytes();
        // A web format, whatever the outputs' `same` would have been for this input.
        let got = imgcore::probe(&body).unwrap().format;
        assert!(
            matches!(got, imgcore::ImageFormat::WebP | imgcore::ImageFormat::Jpeg),
            "{got}"
        );
    }
}

#[tokio::test]
async fn a_heic_upload_is_rendered_and_recorded() {
    let heic = heic_of("photo.jpg");
    assert_eq!(
        imgcore::ImageFormat::sniff(&heic),
        Some(imgcore::ImageFormat::Heic)
    );
    a_phone_upload_is_rendered_and_recorded("phone/IMG_0002.HEIC", heic, "heic").await;
}

#[tokio::test]
async fn an_avif_upload_is_rendered_and_recorded() {
    // AV1 in HEIF, encoded at test time by libvips's heifsave (libheif + libaom).
    let avif = vips_save(
        "photo.jpg",
        "heifsave",
        "avif",
        &["--Q=70", "--compression=av1", "--effort=2"],
    );
    assert_eq!(
        imgcore::ImageFormat::sniff(&avif),
        Some(imgcore::ImageFormat::Avif)
    );
    a_phone_upload_is_rendered_and_recorded("phone/PXL_0003.avif", avif, "avif").await;
}

#[tokio::test]
async fn a_jpeg_xl_upload_is_rendered_and_recorded() {
    // Any key: the function recognises the format by its bytes.
    a_phone_upload_is_rendered_and_recorded("phone/IMG_0001.JXL", jxl_of("photo.jpg"), "jxl").await;
}
