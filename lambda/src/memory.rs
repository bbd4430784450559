//! In-memory adapters, for tests of the decision logic (and for trying the handler without
//! AWS). Each can be told to fail its next calls, to exercise retries.

use crate::ports::{
    Catalog, Fetched, ObjectHead, ObjectStore, PortError, PutObject, Record, WriteIf,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// A stored object.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Body.
    pub body: Vec<u8>,
    /// ETag.
    pub etag: String,
    /// Content type.
    pub content_type: String,
    /// Cache control.
    pub cache_control: String,
    /// User metadata.
    pub metadata: Vec<(String, String)>,
}

/// An in-memory object store.
#[derive(Default)]
pub struct MemoryStore {
    /// `(bucket, key)` → object.
    pub objects: Mutex<BTreeMap<(String, String), Stored>>,
    /// Fail this many of the next calls with a transient error.
    pub fail_next: AtomicU32,
    /// Count of GET calls (to check that refused objects are never read).
    pub gets: AtomicU32,
    next_etag: AtomicU32,
}

impl MemoryStore {
    /// Put an object as a client upload would; returns its ETag.
    pub fn upload(&self, bucket: &str, key: &str, body: Vec<u8>) -> String {
        let etag = format!("etag{}", self.next_etag.fetch_add(1, Ordering::SeqCst));
        self.objects.lock().expect("lock").insert(
            (bucket.into(), key.into()),
            Stored {
                body,
                etag: etag.clone(),
                content_type: String::new(),
                cache_control: String::new(),
                metadata: vec![],
            },
        );
        etag
    }

    /// Keys in a bucket.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.objects
            .lock()
            .expect("lock")
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// One object.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Stored> {
        self.objects
            .lock()
            .expect("lock")
            .get(&(bucket.into(), key.into()))
            .cloned()
    }

    fn fault(&self) -> Result<(), PortError> {
        let n = self.fail_next.load(Ordering::SeqCst);
        if n > 0 {
            self.fail_next.store(n - 1, Ordering::SeqCst);
            return Err(PortError::transient("SlowDown: injected"));
        }
        Ok(())
    }

    fn head_of(s: &Stored) -> ObjectHead {
        ObjectHead {
            size: s.body.len() as u64,
            etag: s.etag.clone(),
            version_id: None,
            metadata: s.metadata.clone(),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, PortError> {
        self.fault()?;
        Ok(self.object(bucket, key).map(|s| Self::head_of(&s)))
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Fetched, PortError> {
        self.fault()?;
        self.gets.fetch_add(1, Ordering::SeqCst);
        Ok(match self.object(bucket, key) {
            None => Fetched::Missing,
            Some(s) if if_match.is_some_and(|m| m != s.etag) => Fetched::Changed,
            Some(s) => {
                let h = Self::head_of(&s);
                Fetched::Found(s.body, h)
            }
        })
    }

    async fn put(&self, o: PutObject) -> Result<(), PortError> {
        self.fault()?;
        let etag = format!("etag{}", self.next_etag.fetch_add(1, Ordering::SeqCst));
        self.objects.lock().expect("lock").insert(
            (o.bucket, o.key),
            Stored {
                body: o.body,
                etag,
                content_type: o.content_type,
                cache_control: o.cache_control,
                metadata: o.metadata,
            },
        );
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.fault()?;
        self.objects
            .lock()
            .expect("lock")
            .remove(&(bucket.into(), key.into()));
        Ok(())
    }
}

/// An in-memory catalog with the same conditional-write semantics as the DynamoDB one.
#[derive(Default)]
pub struct MemoryCatalog {
    /// id → record.
    pub records: Mutex<BTreeMap<String, Record>>,
    /// Fail this many of the next calls with a transient error.
    pub fail_next: AtomicU32,
}

impl MemoryCatalog {
    /// One record.
    pub fn record(&self, id: &str) -> Option<Record> {
        self.records.lock().expect("lock").get(id).cloned()
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn get(&self, id: &str) -> Result<Option<Record>, PortError> {
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::transient(
                "ProvisionedThroughputExceededException: injected",
            ));
        }
        Ok(self.record(id))
    }

    async fn put(&self, r: &Record, cond: &WriteIf) -> Result<bool, PortError> {
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::transient("ThrottlingException: injected"));
        }
        let mut m = self.records.lock().expect("lock");
        let ok = match (m.get(&r.id), cond) {
            (None, _) => true,
            (Some(old), WriteIf::NewerThanStored(seq)) => old.sequencer < *seq,
            (Some(old), WriteIf::Unchanged(Some(seq))) => old.sequencer == *seq,
            (Some(_), WriteIf::Unchanged(None)) => false,
        };
        if ok {
            m.insert(r.id.clone(), r.clone());
        }
        Ok(ok)
    }
}
