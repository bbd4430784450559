//! Two versions of one key rendered at once: whatever order their steps interleave in, the
//! record ends up pointing at the newer version's renditions, every key it lists exists and
//! holds that version's picture, and no rendition of the older version is left. Run with
//! the in-memory ports and against the local S3/DynamoDB server.

use async_trait::async_trait;
use imgtool_lambda::error::Error;
use imgtool_lambda::event::{Action, Task};
use imgtool_lambda::memory::{MemoryCatalog, MemoryStore};
use imgtool_lambda::ports::{Catalog, Fetched, Get, ObjectHead, ObjectStore, PutObject, Status};
use imgtool_lambda::{Handler, Outcome, TaskResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Holds calls until opened, and counts the calls that arrived.
pub struct Gate {
    sem: Semaphore,
    arrived: AtomicUsize,
}

impl Gate {
    /// Let every held and future call through.
    pub fn open(&self) {
        self.sem.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Wait until a call has arrived (a hang guard of 120 s, not a timing check).
    pub async fn reached(&self) {
        for _ in 0..12_000 {
            if self.arrived.load(Ordering::SeqCst) > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no call reached the gate");
    }
}

/// An object store whose chosen calls wait at a gate.
pub struct Gated<S> {
    pub inner: S,
    gates: Mutex<Vec<(&'static str, String, Arc<Gate>)>>,
}

impl<S> Gated<S> {
    pub fn new(inner: S) -> Self {
        Gated {
            inner,
            gates: Mutex::new(Vec::new()),
        }
    }

    /// Hold `op` (`get`, `put`, `delete`) calls on keys containing `key_part`.
    pub fn hold(&self, op: &'static str, key_part: &str) -> Arc<Gate> {
        let g = Arc::new(Gate {
            sem: Semaphore::new(0),
            arrived: AtomicUsize::new(0),
        });
        self.gates
            .lock()
            .unwrap()
            .push((op, key_part.to_string(), g.clone()));
        g
    }

    async fn pass(&self, op: &str, key: &str) {
        let gate = self
            .gates
            .lock()
            .unwrap()
            .iter()
            .find(|(o, part, _)| *o == op && key.contains(part.as_str()))
            .map(|(_, _, g)| g.clone());
        if let Some(g) = gate {
            g.arrived.fetch_add(1, Ordering::SeqCst);
            drop(g.sem.acquire().await.unwrap());
        }
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Gated<S> {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, Error> {
        self.pass("head", key).await;
        self.inner.head(bucket, key).await
    }
    async fn get(&self, get: &Get) -> Result<Fetched, Error> {
        self.pass("get", &get.key).await;
        self.inner.get(get).await
    }
    async fn put(&self, object: PutObject) -> Result<(), Error> {
        self.pass("put", &object.key).await;
        self.inner.put(object).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.pass("delete", key).await;
        self.inner.delete(bucket, key).await
    }
}

pub fn created(bucket: &str, key: &str, etag: &str, seq: &str, size: usize) -> Task {
    Task {
        bucket: bucket.into(),
        key: key.into(),
        action: Action::Created,
        size: Some(size as u64),
        etag: Some(etag.into()),
        version_id: None,
        sequencer: Some(seq.into()),
        backfill: false,
    }
}

/// How the two renders interleave.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    /// v1 has read its bytes; v2 is uploaded and finishes; then v1 writes everything.
    OlderFinishesLast,
    /// Both have rendered; v1 writes renditions and record first, then v2.
    OlderRecordFirst,
}

/// Race v1 (already uploaded, task `v1`) against v2 (uploaded by `upload_v2` once v1 has
/// read its bytes). Returns both results.
pub async fn race<S, C, F>(
    h: &Arc<Handler<Gated<S>, C>>,
    v1: Task,
    seq2: &str,
    order: Order,
    upload_v2: F,
) -> (TaskResult, TaskResult, Task)
where
    S: ObjectStore + 'static,
    C: Catalog + 'static,
    F: std::future::Future<Output = Task>,
{
    let tag1 = format!(
        "/s{}-",
        v1.sequencer.as_deref().unwrap().trim_start_matches('0')
    );
    let tag2 = format!("/s{}-", seq2.trim_start_matches('0'));
    let gate1 = h.store().hold("put", &tag1);
    let gate2 = h.store().hold("put", &tag2);
    let first = tokio::spawn({
        let h = h.clone();
        async move { h.run_task(&v1).await }
    });
    gate1.reached().await; // v1 read and rendered its version
    let v2 = upload_v2.await;
    let second = tokio::spawn({
        let h = h.clone();
        let v2 = v2.clone();
        async move { h.run_task(&v2).await }
    });
    match order {
        Order::OlderFinishesLast => {
            gate2.open();
            let r2 = second.await.unwrap();
            gate1.open();
            (first.await.unwrap(), r2, v2)
        }
        Order::OlderRecordFirst => {
            gate2.reached().await;
            gate1.open();
            let r1 = first.await.unwrap();
            gate2.open();
            (r1, second.await.unwrap(), v2)
        }
    }
}

fn check_results(order: Order, r1: &TaskResult, r2: &TaskResult) {
    assert_eq!(r2, &TaskResult::Handled(Outcome::Done), "{order:?}");
    let want1 = match order {
        Order::OlderFinishesLast => TaskResult::Handled(Outcome::Skipped("a newer record exists")),
        Order::OlderRecordFirst => TaskResult::Handled(Outcome::Done),
    };
    assert_eq!(r1, &want1, "{order:?}");
}

#[tokio::test]
async fn two_versions_racing_leave_only_the_newer_renditions_in_memory() {
    for order in [Order::OlderFinishesLast, Order::OlderRecordFirst] {
        let h = Arc::new(Handler::new(
            Gated::new(MemoryStore::default()),
            MemoryCatalog::default(),
            super::config(&[("RENDITIONS", "1600,800,200")]),
        ));
        let v1_bytes = super::fixture("photo.jpg");
        let e1 = h.store().inner.upload("src", "k.jpg", v1_bytes.clone());
        let v1 = created("src", "k.jpg", &e1, "0A", v1_bytes.len());
        let (r1, r2, v2) = race(&h, v1, "0B", order, async {
            let bytes = super::fixture("rgba.png");
            let e2 = h.store().inner.upload("src", "k.jpg", bytes.clone());
            created("src", "k.jpg", &e2, "0B", bytes.len())
        })
        .await;
        check_results(order, &r1, &r2);
        let rec = h.catalog().record("src/k.jpg").unwrap();
        assert_eq!(
            (rec.status, rec.etag.clone()),
            (Status::Done, v2.etag.clone())
        );
        let mut listed: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
        listed.sort();
        assert_eq!(
            h.store().inner.keys("out"),
            listed,
            "{order:?}: exactly the record's renditions"
        );
        for k in &listed {
            let o = h.store().inner.object("out", k).unwrap();
            let etag = o.metadata.iter().find(|(n, _)| n == "source-etag").unwrap();
            assert_eq!(
                Some(&etag.1),
                v2.etag.as_ref(),
                "{k}: made from the newer version"
            );
            assert_eq!(o.cache_control, "public, max-age=31536000, immutable");
            assert!(
                imgcore::probe(&o.body).unwrap().has_alpha,
                "{k}: v2 is the PNG with alpha"
            );
        }
    }
}

#[tokio::test]
async fn two_versions_racing_leave_only_the_newer_renditions_in_s3() {
    use imgtool_lambda::aws::{DynamoCatalog, S3Store};
    for order in [Order::OlderFinishesLast, Order::OlderRecordFirst] {
        let l = super::moto::local().await;
        let h = Arc::new(Handler::new(
            Gated::new(S3Store {
                client: l.s3.clone(),
            }),
            DynamoCatalog {
                client: l.ddb.clone(),
                table: l.table.clone(),
            },
            super::config(&[
                ("OUTPUT_BUCKET", &l.out),
                ("TABLE_NAME", &l.table),
                ("RENDITIONS", "1600,800,200"),
            ]),
        ));
        let v1_bytes = super::fixture("photo.jpg");
        let e1 = super::moto::upload(&l, "k.jpg", v1_bytes.clone()).await;
        let v1 = created(&l.src, "k.jpg", &e1, "0055AED6DCD90281E5", v1_bytes.len());
        let (r1, r2, v2) = race(&h, v1, "0055AED6DCD90281F0", order, async {
            let bytes = super::fixture("rgba.png");
            let e2 = super::moto::upload(&l, "k.jpg", bytes.clone()).await;
            created(&l.src, "k.jpg", &e2, "0055AED6DCD90281F0", bytes.len())
        })
        .await;
        check_results(order, &r1, &r2);
        let rec = h
            .catalog()
            .get(&format!("{}/k.jpg", l.src))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (rec.status, rec.etag.clone()),
            (Status::Done, v2.etag.clone())
        );
        let mut listed: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
        listed.sort();
        let found: Vec<String> = super::faults::objects(&l, &l.out)
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(found, listed, "{order:?}: exactly the record's renditions");
        for k in &listed {
            let o =
                l.s3.get_object()
                    .bucket(&l.out)
                    .key(k)
                    .send()
                    .await
                    .unwrap();
            assert_eq!(
                o.metadata().and_then(|m| m.get("source-etag")),
                v2.etag.as_ref(),
                "{k}"
            );
            assert_eq!(
                o.cache_control(),
                Some("public, max-age=31536000, immutable")
            );
        }
    }
}
