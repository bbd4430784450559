//! In-memory adapters, for tests of the decision logic (and for trying the handler without
//! AWS). They keep S3's and DynamoDB's semantics that the handler relies on (versions,
//! `If-Match`, ranges, the 1,024-byte key limit, conditional writes returning the old item)
//! and can be told to fail, transiently or for good.

use crate::error::{Error, ErrorKind};
use crate::ports::{
    Catalog, Fetched, Get, ObjectHead, ObjectStore, PutObject, Record, WriteIf, Written,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

/// S3's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A stored object.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Body.
    pub body: Vec<u8>,
    /// ETag.
    pub etag: String,
    /// Version id.
    pub version_id: String,
    /// Content type.
    pub content_type: String,
    /// Cache control.
    pub cache_control: String,
    /// User metadata.
    pub metadata: Vec<(String, String)>,
}

/// A permanent refusal to inject: calls of `op` (`head`, `get`, `put`, `delete`) on keys
/// containing `key_part` fail with `error`.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Operation name.
    pub op: &'static str,
    /// Part of the key.
    pub key_part: String,
    /// The error returned.
    pub error: Error,
}

/// An in-memory, versioned object store.
#[derive(Default)]
pub struct MemoryStore {
    /// `(bucket, key)` → current version.
    pub objects: Mutex<BTreeMap<(String, String), Stored>>,
    /// `(bucket, key, version id)` → every version ever uploaded.
    pub versions: Mutex<BTreeMap<(String, String, String), Stored>>,
    /// Fail this many of the next calls with a transient error.
    pub fail_next: AtomicU32,
    /// Permanent refusals.
    pub refusals: Mutex<Vec<Refusal>>,
    /// Count of GET calls (to check that refused objects are never read).
    pub gets: AtomicU32,
    /// Count of HEAD calls.
    pub heads: AtomicU32,
    /// Bytes of source bodies returned by GET (ranges count what they return).
    pub bytes_served: AtomicU64,
    next_etag: AtomicU32,
}

impl MemoryStore {
    fn insert(&self, bucket: &str, key: &str, mut s: Stored) -> Stored {
        let n = self.next_etag.fetch_add(1, Ordering::SeqCst);
        s.etag = format!("etag{n}");
        s.version_id = format!("v{n}");
        self.versions
            .lock()
            .expect("lock")
            .insert((bucket.into(), key.into(), s.version_id.clone()), s.clone());
        self.objects
            .lock()
            .expect("lock")
            .insert((bucket.into(), key.into()), s.clone());
        s
    }

    /// Put an object as a client upload would; returns its ETag.
    pub fn upload(&self, bucket: &str, key: &str, body: Vec<u8>) -> String {
        self.upload_version(bucket, key, body).0
    }

    /// Put an object as a client upload would; returns its ETag and version id.
    pub fn upload_version(&self, bucket: &str, key: &str, body: Vec<u8>) -> (String, String) {
        let s = self.insert(
            bucket,
            key,
            Stored {
                body,
                etag: String::new(),
                version_id: String::new(),
                content_type: String::new(),
                cache_control: String::new(),
                metadata: vec![],
            },
        );
        (s.etag, s.version_id)
    }

    /// Remove an object as a client would (its versions stay).
    pub fn remove(&self, bucket: &str, key: &str) {
        self.objects
            .lock()
            .expect("lock")
            .remove(&(bucket.into(), key.into()));
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

    /// Refuse every `op` on keys containing `key_part` with `error`.
    pub fn refuse(&self, op: &'static str, key_part: &str, error: Error) {
        self.refusals.lock().expect("lock").push(Refusal {
            op,
            key_part: key_part.into(),
            error,
        });
    }

    fn fault(&self, op: &str, key: &str) -> Result<(), Error> {
        let n = self.fail_next.load(Ordering::SeqCst);
        if n > 0 {
            self.fail_next.store(n - 1, Ordering::SeqCst);
            return Err(Error::transient("SlowDown: injected"));
        }
        let refusals = self.refusals.lock().expect("lock");
        match refusals
            .iter()
            .find(|r| r.op == op && key.contains(&r.key_part))
        {
            Some(r) => Err(r.error.clone()),
            None => Ok(()),
        }
    }

    fn head_of(s: &Stored) -> ObjectHead {
        ObjectHead {
            size: s.body.len() as u64,
            etag: s.etag.clone(),
            version_id: Some(s.version_id.clone()),
            metadata: s.metadata.clone(),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, Error> {
        self.fault("head", key)?;
        self.heads.fetch_add(1, Ordering::SeqCst);
        Ok(self.object(bucket, key).map(|s| Self::head_of(&s)))
    }

    async fn get(&self, g: &Get) -> Result<Fetched, Error> {
        self.fault("get", &g.key)?;
        self.gets.fetch_add(1, Ordering::SeqCst);
        let found = match &g.version_id {
            Some(v) => self
                .versions
                .lock()
                .expect("lock")
                .get(&(g.bucket.clone(), g.key.clone(), v.clone()))
                .cloned(),
            None => self.object(&g.bucket, &g.key),
        };
        Ok(match found {
            None => Fetched::Missing,
            Some(s) if g.if_match.as_ref().is_some_and(|m| *m != s.etag) => Fetched::Changed,
            Some(s) => {
                let h = Self::head_of(&s);
                let body = match &g.range {
                    Some(r) => {
                        let len = s.body.len() as u64;
                        s.body[r.start.min(len) as usize..r.end.min(len) as usize].to_vec()
                    }
                    None => s.body,
                };
                self.bytes_served
                    .fetch_add(body.len() as u64, Ordering::SeqCst);
                Fetched::Found(body, h)
            }
        })
    }

    async fn put(&self, o: PutObject) -> Result<(), Error> {
        self.fault("put", &o.key)?;
        if o.key.len() > MAX_KEY_BYTES {
            return Err(Error::new(
                ErrorKind::Rejected,
                "KeyTooLongError: Your key is too long",
            ));
        }
        // S3 allows 2 KB of user metadata (names and values, UTF-8).
        let meta: usize = o.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta > 2048 {
            return Err(Error::new(
                ErrorKind::Rejected,
                format!("MetadataTooLarge: {meta} bytes of user metadata, the limit is 2048"),
            ));
        }
        self.insert(
            &o.bucket,
            &o.key,
            Stored {
                body: o.body,
                etag: String::new(),
                version_id: String::new(),
                content_type: o.content_type,
                cache_control: o.cache_control,
                metadata: o.metadata,
            },
        );
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.fault("delete", key)?;
        self.remove(bucket, key);
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
    /// When set, every write fails with this error.
    pub refuse_writes: Mutex<Option<Error>>,
}

impl MemoryCatalog {
    /// One record.
    pub fn record(&self, id: &str) -> Option<Record> {
        self.records.lock().expect("lock").get(id).cloned()
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn get(&self, id: &str) -> Result<Option<Record>, Error> {
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::transient(
                "ProvisionedThroughputExceededException: injected",
            ));
        }
        Ok(self.record(id))
    }

    async fn put(&self, r: &Record, cond: &WriteIf) -> Result<Written, Error> {
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::transient("ThrottlingException: injected"));
        }
        if let Some(e) = self.refuse_writes.lock().expect("lock").clone() {
            return Err(e);
        }
        let mut m = self.records.lock().expect("lock");
        let old = m.get(&r.id).cloned();
        let ok = match (&old, cond) {
            (None, _) => true,
            (Some(old), WriteIf::NewerThanStored(seq)) => old.sequencer < *seq,
            (Some(old), WriteIf::Unchanged(Some(seq))) => old.sequencer == *seq,
            (Some(_), WriteIf::Unchanged(None)) => false,
        };
        // DynamoDB's `sequencer = :seq` is false on a missing item.
        let ok = ok && !(old.is_none() && matches!(cond, WriteIf::Unchanged(Some(_))));
        if ok {
            m.insert(r.id.clone(), r.clone());
            Ok(Written::Replaced(old))
        } else {
            Ok(Written::Kept(old))
        }
    }
}
