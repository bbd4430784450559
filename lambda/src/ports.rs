//! The two ports through which the handler reaches the outside: an object store and a
//! metadata catalog. S3/DynamoDB adapters live in `aws.rs`, in-memory ones in `memory.rs`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::error::{Error, ErrorKind};

/// What a HEAD says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Version id, when the bucket is versioned.
    pub version_id: Option<String>,
    /// User metadata (`x-amz-meta-*`), lower-case names without the prefix.
    pub metadata: Vec<(String, String)>,
}

/// A GET: which object, which version, which bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Get {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Read this version (Batch Operations tasks that name one); the current one when
    /// `None`.
    pub version_id: Option<String>,
    /// Only if the object's ETag is still this (`If-Match`); a mismatch is
    /// [`Fetched::Changed`].
    pub if_match: Option<String>,
    /// Only these bytes (`Range`); the whole object when `None`.
    pub range: Option<std::ops::Range<u64>>,
}

/// Result of a conditional GET.
#[derive(Debug)]
pub enum Fetched {
    /// The bytes, and the head of the version read.
    Found(Vec<u8>, ObjectHead),
    /// No such object (deleted since the event).
    Missing,
    /// The object changed since the event (its ETag no longer matches: HTTP 412).
    Changed,
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Body.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: String,
    /// `Cache-Control`.
    pub cache_control: String,
    /// User metadata.
    pub metadata: Vec<(String, String)>,
}

/// Where images are read and renditions written. Sources are HEADed (when the event lacks
/// their size, and on removals, to see whether a version remains) and read; renditions are only ever written and deleted, never read,
/// so no permission to list or read the output bucket is needed.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// HEAD a source object; `None` when it does not exist.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, Error>;
    /// GET (part of) an object.
    async fn get(&self, get: &Get) -> Result<Fetched, Error>;
    /// PUT an object.
    async fn put(&self, object: PutObject) -> Result<(), Error>;
    /// DELETE an object (no error when it is already gone).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error>;
}

/// Status of a source object in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Renditions were written.
    Done,
    /// The object could not be rendered; `error` says why.
    Failed,
    /// The source was deleted and its renditions removed.
    Deleted,
}

/// One rendition in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionRecord {
    /// Output key.
    pub key: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Format (`jpeg`, `webp`, …).
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The spec asked for more than the format can hold (WebP: 16,383 px a side), so the
    /// rendition was fitted within the format's limit. Stored only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fitted_to_format: bool,
}

/// The metadata record of one source object (one DynamoDB item). See the README for the
/// schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Partition key: `bucket/key` of the source.
    pub id: String,
    /// Source bucket.
    pub bucket: String,
    /// Source key (decoded).
    pub key: String,
    /// `done`, `failed` or `deleted`.
    pub status: Status,
    /// The event sequencer, left-padded with zeros to 32 hex digits (comparable as a string).
    pub sequencer: String,
    /// Source ETag.
    pub etag: Option<String>,
    /// Source version id.
    pub version_id: Option<String>,
    /// Source size in bytes.
    pub size: Option<u64>,
    /// Source format.
    pub format: Option<String>,
    /// Displayed width.
    pub width: Option<u32>,
    /// Displayed height.
    pub height: Option<u32>,
    /// EXIF orientation (for JPEG XL: the codestream's).
    pub orientation: Option<u8>,
    /// Frames in the source (an animation has more than one; the first is rendered).
    #[serde(default)]
    pub frames: Option<u32>,
    /// Alpha channel present.
    pub has_alpha: Option<bool>,
    /// ICC profile description.
    pub icc_profile: Option<String>,
    /// Thumbhash (base64).
    pub thumbhash: Option<String>,
    /// Average colour `#rrggbb`.
    pub color: Option<String>,
    /// The renditions written.
    pub renditions: Vec<RenditionRecord>,
    /// Rendition keys of the version this record replaced, deleted once it is written
    /// (kept here so that a delivery after a crash can finish the deletes). Stored only
    /// when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// For `failed`: the error kind (`corrupt`, `limit_exceeded`, …; see
    /// [`ErrorKind::as_str`]). For `deleted`: set when renditions could not be deleted.
    pub error_kind: Option<String>,
    /// The error message, with `error_kind`.
    pub error: Option<String>,
    /// When processed (RFC 3339, UTC).
    pub processed_at: String,
    /// Processing time in milliseconds.
    pub duration_ms: u64,
    /// `imgcore` version.
    pub engine_version: String,
}

/// When a record may be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteIf {
    /// No record yet, or the stored sequencer is older than this (padded) one.
    NewerThanStored(String),
    /// The stored record still has this (padded) sequencer, or there is no record when
    /// `None`: an optimistic write for backfill tasks, which carry no sequencer.
    Unchanged(Option<String>),
}

/// What a conditional record write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Written; the record it replaced, if any.
    Replaced(Option<Record>),
    /// The condition did not hold, nothing was written; the record that stays.
    Kept(Option<Record>),
}

/// Where records are kept.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Read a record (strongly consistent).
    async fn get(&self, id: &str) -> Result<Option<Record>, Error>;
    /// Write a record if the condition holds, atomically, and say what was there.
    async fn put(&self, record: &Record, condition: &WriteIf) -> Result<Written, Error>;
}

/// Left-pad an S3 sequencer (hex) to 32 digits, upper-case, so that string order is event
/// order. `None` or an invalid sequencer gives all zeros (older than any event).
pub fn pad_sequencer(seq: Option<&str>) -> String {
    let s = seq.unwrap_or("").trim();
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "0".repeat(32);
    }
    format!("{:0>32}", s.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::pad_sequencer;

    #[test]
    fn padded_sequencers_compare_in_event_order() {
        // Real sequencers of one key grow, but may differ in length.
        let a = pad_sequencer(Some("0055AED6DCD90281E5"));
        let b = pad_sequencer(Some("0055AED6DCD9028200"));
        let c = pad_sequencer(Some("55AED6DCD90281E5F"));
        assert!(a < b);
        assert!(a < c && b < c, "a longer hex string is a larger number");
        assert_eq!(pad_sequencer(Some("ff")), pad_sequencer(Some("00FF")));
        assert_eq!(pad_sequencer(None), "0".repeat(32));
        assert_eq!(pad_sequencer(Some("zz")), "0".repeat(32));
    }
}
