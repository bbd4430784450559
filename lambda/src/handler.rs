//! The decision logic: which records to process, which keys to write, what to record, and
//! whether a failure is retried. It reaches AWS only through [`ObjectStore`] and [`Catalog`].
//!
//! An upload is handled in steps ([`Handler::created`]): order it against the stored
//! record, describe the version, fetch it within the memory budget, render it, write its
//! renditions under keys that name that version, then commit the record with a
//! conditional write and delete the renditions of the record it replaced.

use crate::budget::{Budget, Lease};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::event::{Action, Invocation, Origin, Task};
use crate::metrics::Stages;
use crate::ports::{
    pad_sequencer, Catalog, Fetched, Get, ObjectStore, PutObject, Record, RenditionRecord, Status,
    WriteIf, Written,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one task ended when it needs no retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Renditions and a `done` record were written.
    Done,
    /// A `failed` record was written (the image is bad or too large, or S3 refused for
    /// good); not retried.
    Failed(ErrorKind),
    /// Renditions were deleted and the record marked `deleted`.
    Deleted,
    /// Nothing to do, with the reason (duplicate, older event, own output, object gone…).
    Skipped(&'static str),
}

/// The result of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    /// Finished; retrying would change nothing.
    Handled(Outcome),
    /// A transient failure (or the deadline came first): deliver it again.
    Retry(Error),
    /// A permanent failure that could not even be recorded (the event cannot be read, or
    /// the catalog refuses the record): hand it to the dead-letter queue, by the caller's
    /// own bounded retries (SQS `maxReceiveCount`, Lambda's asynchronous retries).
    DeadLetter(Error),
}

impl TaskResult {
    /// The result of a step that failed with `e`, when nothing can be recorded.
    fn from_error(e: Error) -> Self {
        if e.retryable() {
            TaskResult::Retry(e)
        } else {
            TaskResult::DeadLetter(e)
        }
    }
}

/// Why a step stopped a task early.
#[derive(Debug)]
enum Stop {
    /// Nothing to do (the object is gone or was replaced).
    Skip(&'static str),
    /// A failure: retried when transient, recorded when permanent.
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fail(e)
    }
}

impl From<imgcore::Error> for Stop {
    fn from(e: imgcore::Error) -> Self {
        Stop::Fail(e.into())
    }
}

/// One upload on its way through the steps.
struct Job {
    t: Task,
    /// The padded sequencer the record is written with.
    seq: String,
    /// The condition on the record write.
    cond: WriteIf,
    /// Names the source version in rendition keys (set once the ETag is known).
    version_tag: String,
    /// Rendition keys written so far (deleted again if the task fails for good).
    written: Vec<String>,
    /// Rendition keys of the stored record (superseded once this job's record lands).
    stored_keys: Vec<String>,
    started: Instant,
}

/// The handler, generic over its ports.
pub struct Handler<S, C> {
    store: S,
    catalog: C,
    cfg: Arc<Config>,
    budget: Option<Arc<Budget>>,
}

/// Bytes read first, to estimate the memory a render needs before the body is fetched.
pub const HEADER_BYTES: u64 = 256 << 10;

/// A running record is abandoned (and retried) this long before the invocation deadline,
/// so that the response still reaches Lambda in time.
pub const FINISH_RESERVE: Duration = Duration::from_secs(1);

fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Metadata names written on every rendition.
const META_SEQUENCER: &str = "source-sequencer";

/// The version segment of rendition keys: `s{sequencer}` for an event (unique per
/// version of a key and growing with it), `b{etag}` for a backfill task (which has no
/// sequencer), then `-{render id}` (the outputs and engine version), so that a key is
/// only ever written with one picture.
pub fn version_tag(t: &Task, seq: &str, render_id: &str) -> String {
    if t.backfill {
        let etag: String = t
            .etag
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("b{etag}-{render_id}")
    } else {
        let trimmed = seq.trim_start_matches('0');
        format!(
            "s{}-{render_id}",
            if trimmed.is_empty() { "0" } else { trimmed }
        )
    }
}

/// Longest URL-encoded source key kept in a rendition's metadata: S3 allows 2 KB of user
/// metadata in all, and a key of 1,024 bytes can encode to 9 KB.
pub const MAX_SOURCE_KEY_METADATA: usize = 1024;

/// The `source-key` metadata entry (URL-encoded), or `source-key-sha256` (hex) when the
/// encoded key is longer than [`MAX_SOURCE_KEY_METADATA`].
fn source_key_metadata(key: &str) -> (String, String) {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    if encoded.len() <= MAX_SOURCE_KEY_METADATA {
        return ("source-key".into(), encoded);
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    (
        "source-key-sha256".into(),
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    )
}

/// Whether `r` was written for the event of `t` (a duplicate delivery of it).
fn is_same_event(r: &Record, t: &Task) -> bool {
    !t.backfill && r.sequencer == pad_sequencer(t.sequencer.as_deref()) && r.etag == t.etag
}

fn megabytes(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / f64::from(1u32 << 20))
}

impl<S: ObjectStore, C: Catalog> Handler<S, C> {
    /// A handler over these ports; its memory budget comes from the configuration.
    pub fn new(store: S, catalog: C, cfg: Arc<Config>) -> Self {
        Handler {
            store,
            catalog,
            budget: cfg.memory_budget.map(Budget::new),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The object store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The catalog.
    pub fn catalog(&self) -> &C {
        &self.catalog
    }

    /// The instance's memory budget, when it has one.
    pub fn budget(&self) -> Option<&Arc<Budget>> {
        self.budget.as_ref()
    }

    fn base_record(&self, t: &Task, seq: &str, started: Instant, status: Status) -> Record {
        Record {
            id: format!("{}/{}", t.bucket, t.key),
            bucket: t.bucket.clone(),
            key: t.key.clone(),
            status,
            sequencer: seq.to_string(),
            etag: t.etag.clone(),
            version_id: t.version_id.clone(),
            size: t.size,
            format: None,
            width: None,
            height: None,
            orientation: None,
            frames: None,
            has_alpha: None,
            icc_profile: None,
            thumbhash: None,
            color: None,
            renditions: Vec::new(),
            superseded: Vec::new(),
            error_kind: None,
            error: None,
            processed_at: now_rfc3339(),
            duration_ms: started.elapsed().as_millis() as u64,
            engine_version: imgcore::VERSION.to_string(),
        }
    }

    /// Process one task, and write its metrics line.
    pub async fn run_task(&self, t: &Task) -> TaskResult {
        self.run_task_until(t, None).await
    }

    /// [`Handler::run_task`], abandoned with [`ErrorKind::Deadline`] at `until`.
    pub async fn run_task_until(&self, t: &Task, until: Option<Instant>) -> TaskResult {
        let started = Instant::now();
        let mut stages = Stages::default();
        let work = self.task(t, &mut stages, started);
        let r = match until {
            None => work.await,
            Some(at) => match tokio::time::timeout_at(at.into(), work).await {
                Ok(r) => r,
                Err(_) => TaskResult::Retry(Error::new(
                    ErrorKind::Deadline,
                    "abandoned: the invocation deadline is near",
                )),
            },
        };
        if let TaskResult::Retry(e) | TaskResult::DeadLetter(e) = &r {
            tracing::warn!(bucket = %t.bucket, key = %t.key, kind = %e.kind, error = %e.message, result = ?r, "not finished");
        }
        crate::metrics::emit(
            &self.cfg.metrics_namespace,
            &r,
            &stages,
            started.elapsed().as_millis() as u64,
        );
        r
    }

    async fn task(&self, t: &Task, st: &mut Stages, started: Instant) -> TaskResult {
        if self.cfg.is_own_output(&t.bucket, &t.key) {
            tracing::info!(bucket = %t.bucket, key = %t.key, "skipping an output of this function");
            return TaskResult::Handled(Outcome::Skipped("own output"));
        }
        let id = format!("{}/{}", t.bucket, t.key);
        let stored = match self.catalog.get(&id).await {
            Ok(r) => r,
            Err(e) => return TaskResult::from_error(e.context("cannot read the record")),
        };
        let r = match t.action {
            Action::Created => self.created(t, stored, started, st).await,
            Action::Removed => self.removed(t, stored, started, st).await,
        };
        tracing::info!(bucket = %t.bucket, key = %t.key, result = ?r, ms = started.elapsed().as_millis() as u64, "processed");
        r
    }

    /// Order an event against the stored record: the sequencer it is recorded with and
    /// the condition of its write, or `None` when a newer (or the same) event was already
    /// recorded. A backfill task has no sequencer: it keeps the stored one and writes only
    /// if the record did not change meanwhile, so any real event (always newer) wins.
    fn order(&self, t: &Task, stored: Option<&Record>, started: Instant) -> Option<Job> {
        let (seq, cond) = if t.backfill {
            let stored_seq = stored.map(|r| r.sequencer.clone());
            (
                stored_seq.clone().unwrap_or_else(|| pad_sequencer(None)),
                WriteIf::Unchanged(stored_seq),
            )
        } else {
            let seq = pad_sequencer(t.sequencer.as_deref());
            if stored.is_some_and(|r| r.sequencer >= seq) {
                return None;
            }
            (seq.clone(), WriteIf::NewerThanStored(seq))
        };
        Some(Job {
            t: t.clone(),
            seq,
            cond,
            version_tag: String::new(),
            written: Vec::new(),
            stored_keys: stored
                .map(|r| r.renditions.iter().map(|x| x.key.clone()).collect())
                .unwrap_or_default(),
            started,
        })
    }

    /// An upload (or an overwrite): render it and record it.
    async fn created(
        &self,
        t: &Task,
        stored: Option<Record>,
        started: Instant,
        st: &mut Stages,
    ) -> TaskResult {
        let Some(mut job) = self.order(t, stored.as_ref(), started) else {
            if let Some(r) = stored.as_ref().filter(|r| is_same_event(r, t)) {
                self.finish_superseded(r).await;
            }
            return TaskResult::Handled(Outcome::Skipped("duplicate or older event"));
        };
        match self.make(&mut job, st).await {
            Ok(rec) => self.commit(&job, rec, Outcome::Done, &[]).await,
            Err(Stop::Skip(why)) => TaskResult::Handled(Outcome::Skipped(why)),
            Err(Stop::Fail(e)) if e.retryable() => TaskResult::Retry(e),
            Err(Stop::Fail(e)) => self.fail(&job, e).await,
        }
    }

    /// The steps of an upload, up to the record it should get.
    async fn make(&self, job: &mut Job, st: &mut Stages) -> Result<Record, Stop> {
        self.describe(&mut job.t).await?;
        job.version_tag = version_tag(&job.t, &job.seq, &self.cfg.render_id);
        let size = job.t.size.unwrap_or(0);
        if size > self.cfg.max_object_bytes {
            return Err(Stop::Fail(Error::new(
                ErrorKind::Image(imgcore::ErrorKind::LimitExceeded),
                format!(
                    "object is {size} bytes, the limit is {}",
                    self.cfg.max_object_bytes
                ),
            )));
        }
        let (bytes, lease) = self.fetch(&job.t, st).await?;
        let rendered = self.render(bytes, lease, st).await?;
        let renditions = self.store_renditions(job, &rendered, st).await?;
        let src = &rendered.source;
        let mut rec = self.base_record(&job.t, &job.seq, job.started, Status::Done);
        rec.format = Some(src.format.name().to_string());
        rec.width = Some(src.width);
        rec.height = Some(src.height);
        rec.orientation = Some(src.orientation);
        rec.frames = Some(src.frames);
        rec.has_alpha = Some(src.has_alpha);
        rec.icc_profile = src.icc_profile.clone();
        rec.thumbhash = rendered.thumbhash.clone();
        rec.color = rendered.average_color.clone();
        rec.renditions = renditions;
        rec.size = Some(src.bytes);
        Ok(rec)
    }

    /// Step 1: the size and ETag of the version to render: from the event, else (Batch
    /// Operations tasks) from a HEAD of the source. A task that names a version renders
    /// it only while it is the current one: an older version must not replace the record
    /// of a newer one, whose own event renders it.
    async fn describe(&self, t: &mut Task) -> Result<(), Stop> {
        if t.size.is_some() && t.etag.is_some() {
            return Ok(());
        }
        let h = self
            .store
            .head(&t.bucket, &t.key)
            .await?
            .ok_or(Stop::Skip("object no longer exists"))?;
        if let (Some(want), Some(current)) = (&t.version_id, &h.version_id) {
            if want != current {
                return Err(Stop::Skip(
                    "the task's version is no longer the current one",
                ));
            }
        }
        t.size = Some(h.size);
        t.etag = Some(h.etag);
        t.version_id = t.version_id.take().or(h.version_id);
        Ok(())
    }

    async fn get_bytes(&self, get: Get) -> Result<Vec<u8>, Stop> {
        match self.store.get(&get).await? {
            Fetched::Found(b, _) => Ok(b),
            Fetched::Missing => Err(Stop::Skip("object no longer exists")),
            Fetched::Changed => Err(Stop::Skip("object was replaced by a newer version")),
        }
    }

    /// Step 2: read the source within the memory budget. The memory a render needs is
    /// predicted from the header (the first [`HEADER_BYTES`], read on their own when the
    /// object is larger than twice that) and leased, with the source's size, before the
    /// body is read; an image that could never fit is refused (`limit_exceeded`). When the
    /// header alone cannot tell (a GIF's frames, a TIFF's directory at the end), the whole
    /// budget is leased for the read and the lease shrinks once the estimate is known.
    async fn fetch(&self, t: &Task, st: &mut Stages) -> Result<(Vec<u8>, Option<Lease>), Stop> {
        let size = t.size.unwrap_or(0);
        let started = Instant::now();
        let get = |range| Get {
            bucket: t.bucket.clone(),
            key: t.key.clone(),
            // Only a backfill task names the version to read; an event's version is the
            // one whose ETag it carries, checked by If-Match.
            version_id: t.version_id.clone().filter(|_| t.backfill),
            if_match: t.etag.clone(),
            range,
        };
        let mut estimate = None;
        let mut lease = None;
        let mut body = Vec::new();
        if let Some(budget) = &self.budget {
            if size > 2 * HEADER_BYTES {
                let head = self.get_bytes(get(Some(0..HEADER_BYTES))).await?;
                estimate = match imgcore::estimate_memory(&head, &self.cfg.plan) {
                    Ok(e) => Some(e.total()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            imgcore::ErrorKind::LimitExceeded
                                | imgcore::ErrorKind::Unsupported
                                | imgcore::ErrorKind::InvalidSpec
                        ) =>
                    {
                        return Err(e.into())
                    }
                    Err(_) => None, // the header goes on past the prefix
                };
                let want = match estimate {
                    Some(e) => self.fits(budget, size, e)?,
                    None => budget.total(),
                };
                lease = budget.lease(want).await;
                body = head;
            }
        }
        if body.is_empty() {
            body = self.get_bytes(get(None)).await?;
        } else if (body.len() as u64) < size {
            let more = self.get_bytes(get(Some(body.len() as u64..size))).await?;
            body.extend_from_slice(&more);
        }
        st.fetch_ms = started.elapsed().as_millis() as u64;
        st.bytes_in = body.len() as u64;
        if body.len() as u64 > self.cfg.max_object_bytes {
            return Err(Stop::Fail(Error::new(
                ErrorKind::Image(imgcore::ErrorKind::LimitExceeded),
                format!(
                    "object is {} bytes, the limit is {}",
                    body.len(),
                    self.cfg.max_object_bytes
                ),
            )));
        }
        if let Some(budget) = &self.budget {
            let e = match estimate {
                Some(e) => e,
                None => imgcore::estimate_memory(&body, &self.cfg.plan)?.total(),
            };
            let need = self.fits(budget, body.len() as u64, e)?;
            match &mut lease {
                Some(l) => l.shrink_to(need),
                None => lease = budget.lease(need).await,
            }
        }
        Ok((body, lease))
    }

    /// The bytes a record of `size` source bytes and `estimate` render bytes leases, or
    /// `limit_exceeded` when that is more than the whole budget.
    fn fits(&self, budget: &Budget, size: u64, estimate: u64) -> Result<u64, Stop> {
        // The source is counted twice: the buffer it is read into and the copy the ranged
        // read assembles (or the SDK's buffer while a read completes).
        let need = size.saturating_mul(2).saturating_add(estimate);
        if need > budget.total() {
            return Err(Stop::Fail(Error::new(
                ErrorKind::Image(imgcore::ErrorKind::LimitExceeded),
                format!(
                    "rendering needs about {} (source and predicted peak memory), more than \
                     the instance's memory budget of {}; raise the function's MemorySize",
                    megabytes(need),
                    megabytes(budget.total())
                ),
            )));
        }
        Ok(need)
    }

    /// Step 3: decode, resize and encode on a blocking thread. The lease goes with the
    /// thread: if the task is abandoned at the deadline, its memory stays counted until
    /// the render really ends.
    async fn render(
        &self,
        bytes: Vec<u8>,
        lease: Option<Lease>,
        st: &mut Stages,
    ) -> Result<imgcore::Rendered, Stop> {
        let cfg = self.cfg.clone();
        let started = Instant::now();
        let r = tokio::task::spawn_blocking(move || {
            let r = imgcore::render(&bytes, &cfg.plan);
            drop(lease);
            r
        })
        .await;
        st.render_ms = started.elapsed().as_millis() as u64;
        match r {
            Ok(r) => Ok(r?),
            Err(join) => Err(Stop::Fail(Error::new(
                ErrorKind::Internal,
                format!("render task failed: {join}"),
            ))),
        }
    }

    /// Step 4: write the renditions. Their keys name the source version, so a key is
    /// written with one picture only and never needs a read first: two versions rendered
    /// at once write different keys, and the record decides which set is current.
    async fn store_renditions(
        &self,
        job: &mut Job,
        rendered: &imgcore::Rendered,
        st: &mut Stages,
    ) -> Result<Vec<RenditionRecord>, Stop> {
        let t = &job.t;
        let out_bucket = self.cfg.output_bucket_for(&t.bucket).to_string();
        let started = Instant::now();
        let mut recs = Vec::with_capacity(rendered.renditions.len());
        for (r, label) in rendered.renditions.iter().zip(&self.cfg.labels) {
            let key = self
                .cfg
                .rendition_key(&t.key, &job.version_tag, label, r.format.extension());
            let mut metadata = vec![
                ("source-bucket".into(), t.bucket.clone()),
                source_key_metadata(&t.key),
                ("source-etag".into(), t.etag.clone().unwrap_or_default()),
                (META_SEQUENCER.into(), job.seq.clone()),
            ];
            if let Some(v) = &t.version_id {
                metadata.push(("source-version".into(), v.clone()));
            }
            let put = PutObject {
                bucket: out_bucket.clone(),
                key: key.clone(),
                body: r.bytes.clone(),
                content_type: r.mime_type.to_string(),
                cache_control: self.cfg.cache_control.clone(),
                metadata,
            };
            self.store
                .put(put)
                .await
                .map_err(|e| e.context(format_args!("cannot write {key}")))?;
            job.written.push(key.clone());
            st.bytes_out += r.size as u64;
            recs.push(RenditionRecord {
                key,
                width: r.width,
                height: r.height,
                format: r.format.name().to_string(),
                bytes: r.size as u64,
                fitted_to_format: r.fitted_to_format,
            });
        }
        st.store_ms = started.elapsed().as_millis() as u64;
        Ok(recs)
    }

    /// Step 5: write the record if it is still the newest, then delete the renditions no
    /// record points at any more: those of the record it replaced, or (when a newer
    /// record won) its own. `done_already` are keys deleted before (a removal's).
    async fn commit(
        &self,
        job: &Job,
        mut rec: Record,
        outcome: Outcome,
        done_already: &[String],
    ) -> TaskResult {
        rec.duration_ms = job.started.elapsed().as_millis() as u64;
        let out_bucket = self.cfg.output_bucket_for(&job.t.bucket).to_string();
        let ours: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
        rec.superseded = job
            .stored_keys
            .iter()
            .filter(|k| !ours.contains(k) && !done_already.contains(k))
            .cloned()
            .collect();
        match self.catalog.put(&rec, &job.cond).await {
            Ok(Written::Replaced(previous)) => {
                let keep: Vec<&str> = ours
                    .iter()
                    .chain(done_already)
                    .map(String::as_str)
                    .collect();
                let mut stale: Vec<&str> = rec.superseded.iter().map(String::as_str).collect();
                for k in previous.iter().flat_map(|p| &p.renditions) {
                    if !keep.contains(&k.key.as_str()) && !stale.contains(&k.key.as_str()) {
                        stale.push(&k.key);
                    }
                }
                self.delete_unreferenced(&out_bucket, stale.into_iter())
                    .await;
                TaskResult::Handled(outcome)
            }
            // The write landed on an earlier attempt (the SDK retried a request whose answer
            // was lost): the stored record is this one.
            Ok(Written::Kept(Some(current)))
                if current.sequencer == rec.sequencer
                    && current.etag == rec.etag
                    && current.status == rec.status
                    && current.renditions == rec.renditions =>
            {
                self.finish_superseded(&current).await;
                TaskResult::Handled(outcome)
            }
            Ok(Written::Kept(current)) => {
                let current: Vec<&str> = current
                    .iter()
                    .flat_map(|c| &c.renditions)
                    .map(|r| r.key.as_str())
                    .collect();
                let ours = job
                    .written
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !current.contains(k));
                self.delete_unreferenced(&out_bucket, ours).await;
                TaskResult::Handled(Outcome::Skipped("a newer record exists"))
            }
            Err(e) => TaskResult::from_error(e.context("cannot write the record")),
        }
    }

    /// Delete renditions that no record points at. A failure only leaves an unreferenced
    /// object behind (it is logged): it is never served as the current picture.
    async fn delete_unreferenced<'a>(&self, bucket: &str, keys: impl Iterator<Item = &'a str>) {
        for key in keys {
            if let Err(e) = self.store.delete(bucket, key).await {
                tracing::warn!(bucket, key, error = %e, "could not delete a superseded rendition");
            }
        }
    }

    /// Delete the renditions a record superseded (again: a delivery after a crash between
    /// the record write and its deletes finishes them; deleting a missing key is no error).
    async fn finish_superseded(&self, r: &Record) {
        let bucket = self.cfg.output_bucket_for(&r.bucket).to_string();
        let current: Vec<&str> = r.renditions.iter().map(|x| x.key.as_str()).collect();
        let stale = r
            .superseded
            .iter()
            .map(String::as_str)
            .filter(|k| !current.contains(k));
        self.delete_unreferenced(&bucket, stale).await;
    }

    /// A permanent failure: a `failed` record saying why (and the renditions this task
    /// wrote before failing deleted).
    async fn fail(&self, job: &Job, e: Error) -> TaskResult {
        tracing::warn!(bucket = %job.t.bucket, key = %job.t.key, kind = %e.kind, error = %e.message, "image failed");
        let mut rec = self.base_record(&job.t, &job.seq, job.started, Status::Failed);
        rec.error_kind = Some(e.kind.as_str().to_string());
        rec.error = Some(e.message.clone());
        let out_bucket = self.cfg.output_bucket_for(&job.t.bucket).to_string();
        let r = self.commit(job, rec, Outcome::Failed(e.kind), &[]).await;
        if matches!(r, TaskResult::Handled(Outcome::Failed(_))) {
            self.delete_unreferenced(&out_bucket, job.written.iter().map(String::as_str))
                .await;
        }
        r
    }

    /// A removal: delete the renditions and mark the record `deleted`. In a versioned
    /// bucket a removal event may leave the key with a current version (a non-current
    /// version or a delete marker was removed): then the current version is what the
    /// record must describe, rendered if it is not the one recorded.
    async fn removed(
        &self,
        t: &Task,
        stored: Option<Record>,
        started: Instant,
        st: &mut Stages,
    ) -> TaskResult {
        let Some(job) = self.order(t, stored.as_ref(), started) else {
            return TaskResult::Handled(Outcome::Skipped("duplicate or older event"));
        };
        match self.store.head(&t.bucket, &t.key).await {
            Ok(None) => {}
            Ok(Some(h)) => {
                if stored.as_ref().and_then(|r| r.etag.as_deref()) == Some(h.etag.as_str())
                    && stored.as_ref().is_some_and(|r| r.status == Status::Done)
                {
                    return TaskResult::Handled(Outcome::Skipped(
                        "the object still exists, as recorded",
                    ));
                }
                let current = Task {
                    action: Action::Created,
                    size: Some(h.size),
                    etag: Some(h.etag),
                    version_id: h.version_id,
                    ..t.clone()
                };
                return self.created(&current, stored, started, st).await;
            }
            Err(e) if e.retryable() => return TaskResult::Retry(e),
            // Without knowing whether the object is gone, nothing is deleted; the failed
            // record says why.
            Err(e) => {
                return self
                    .fail(
                        &job,
                        e.context("cannot tell whether the object still exists"),
                    )
                    .await
            }
        }
        let out_bucket = self.cfg.output_bucket_for(&t.bucket).to_string();
        let renditions = stored
            .as_ref()
            .map(|r| r.renditions.clone())
            .unwrap_or_default();
        let keys: Vec<String> = renditions.iter().map(|r| r.key.clone()).collect();
        let mut left = Vec::new();
        let mut why = None;
        for r in renditions {
            match self.store.delete(&out_bucket, &r.key).await {
                Ok(()) => {}
                Err(e) if e.retryable() => return TaskResult::Retry(e),
                Err(e) => {
                    why.get_or_insert(e);
                    left.push(r);
                }
            }
        }
        let mut rec = self.base_record(t, &job.seq, started, Status::Deleted);
        if let Some(old) = stored {
            rec.etag = old.etag;
            rec.format = old.format;
        }
        if let Some(e) = why {
            // Recorded, not retried: a permission error does not heal by itself.
            rec.error_kind = Some(e.kind.as_str().to_string());
            rec.error = Some(format!(
                "{} of {} renditions could not be deleted: {}",
                left.len(),
                keys.len(),
                e.message
            ));
            rec.renditions = left;
        }
        self.commit(&job, rec, Outcome::Deleted, &keys).await
    }

    /// Run tasks with bounded concurrency, starting none once the deadline is near and
    /// abandoning those still running [`FINISH_RESERVE`] before it.
    pub async fn run_all(
        self: &Arc<Self>,
        tasks: Vec<Task>,
        deadline: Option<Instant>,
    ) -> Vec<TaskResult>
    where
        S: 'static,
        C: 'static,
    {
        let sem = Arc::new(tokio::sync::Semaphore::new(self.cfg.concurrency));
        let margin = self.cfg.deadline_margin;
        let until = deadline.map(|d| d - FINISH_RESERVE.min(margin));
        let mut handles = Vec::with_capacity(tasks.len());
        for t in tasks {
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < margin) {
                drop(permit);
                handles.push(None);
                continue;
            }
            let me = self.clone();
            handles.push(Some(tokio::spawn(async move {
                let r = me.run_task_until(&t, until).await;
                drop(permit);
                r
            })));
        }
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(match h {
                None => TaskResult::Retry(Error::new(
                    ErrorKind::Deadline,
                    "not started: the invocation deadline is near",
                )),
                Some(h) => h.await.unwrap_or_else(|e| {
                    TaskResult::Retry(Error::new(ErrorKind::Internal, format!("task failed: {e}")))
                }),
            });
        }
        out
    }

    /// Handle one invocation: returns the response, or an error that makes the invocation
    /// fail (so Lambda retries it, then sends it to the on-failure destination) when a
    /// directly-invoked record needs a retry or a dead letter.
    pub async fn handle(
        self: &Arc<Self>,
        inv: Invocation,
        deadline: Option<Instant>,
    ) -> Result<Value, String>
    where
        S: 'static,
        C: 'static,
    {
        match inv {
            Invocation::Direct(tasks) => {
                let results = self.run_all(tasks, deadline).await;
                let unfinished: Vec<&Error> = results
                    .iter()
                    .filter_map(|r| match r {
                        TaskResult::Retry(e) | TaskResult::DeadLetter(e) => Some(e),
                        TaskResult::Handled(_) => None,
                    })
                    .collect();
                if let Some(first) = unfinished.first() {
                    return Err(format!(
                        "{} of {} records are not finished: {first}",
                        unfinished.len(),
                        results.len(),
                    ));
                }
                Ok(summary(&results))
            }
            Invocation::Sqs(msgs) => {
                let mut flat = Vec::new();
                let mut owners = Vec::new();
                let mut failures: Vec<String> = Vec::new();
                for (id, tasks) in msgs {
                    match tasks {
                        Ok(ts) => {
                            for t in ts {
                                owners.push(Origin::Sqs(id.clone()));
                                flat.push(t);
                            }
                        }
                        // A message that is not an event will never parse: reported as a
                        // failure, so the queue's redrive policy moves it to the
                        // dead-letter queue where it can be looked at.
                        Err(e) => {
                            let r = TaskResult::DeadLetter(Error::new(ErrorKind::BadEvent, e));
                            tracing::error!(message_id = %id, result = ?r, "unreadable SQS message left for the dead-letter queue");
                            crate::metrics::emit(
                                &self.cfg.metrics_namespace,
                                &r,
                                &Stages::default(),
                                0,
                            );
                            failures.push(id);
                        }
                    }
                }
                let results = self.run_all(flat, deadline).await;
                for (o, r) in owners.iter().zip(&results) {
                    if let (Origin::Sqs(id), TaskResult::Retry(_) | TaskResult::DeadLetter(_)) =
                        (o, r)
                    {
                        if !failures.contains(id) {
                            failures.push(id.clone());
                        }
                    }
                }
                Ok(json!({
                    "batchItemFailures": failures.iter().map(|id| json!({"itemIdentifier": id})).collect::<Vec<_>>()
                }))
            }
            Invocation::Batch {
                schema,
                invocation_id,
                tasks,
            } => {
                let mut good = Vec::new();
                let mut slots: Vec<(String, Option<usize>, Option<String>)> = Vec::new();
                for (id, t) in tasks {
                    match t {
                        Ok(t) => {
                            slots.push((id, Some(good.len()), None));
                            good.push(t);
                        }
                        Err(e) => slots.push((id, None, Some(e))),
                    }
                }
                let results = self.run_all(good, deadline).await;
                let rows: Vec<Value> = slots
                    .into_iter()
                    .map(|(id, idx, err)| {
                        let (code, text) = match (idx.map(|i| &results[i]), err) {
                            (_, Some(e)) => ("PermanentFailure", e),
                            (Some(TaskResult::Handled(Outcome::Failed(kind))), _) => {
                                ("PermanentFailure", format!("image failed: {kind}"))
                            }
                            (Some(TaskResult::Handled(o)), _) => ("Succeeded", format!("{o:?}")),
                            (Some(TaskResult::Retry(e)), _) => ("TemporaryFailure", e.to_string()),
                            (Some(TaskResult::DeadLetter(e)), _) => {
                                ("PermanentFailure", e.to_string())
                            }
                            (None, None) => ("PermanentFailure", "no task".to_string()),
                        };
                        json!({"taskId": id, "resultCode": code, "resultString": text})
                    })
                    .collect();
                Ok(json!({
                    "invocationSchemaVersion": schema,
                    "treatMissingKeysAs": "PermanentFailure",
                    "invocationId": invocation_id,
                    "results": rows,
                }))
            }
        }
    }
}

fn summary(results: &[TaskResult]) -> Value {
    let count = |f: &dyn Fn(&Outcome) -> bool| {
        results
            .iter()
            .filter(|r| matches!(r, TaskResult::Handled(o) if f(o)))
            .count()
    };
    json!({
        "records": results.len(),
        "done": count(&|o| *o == Outcome::Done),
        "failed": count(&|o| matches!(o, Outcome::Failed(_))),
        "deleted": count(&|o| *o == Outcome::Deleted),
        "skipped": count(&|o| matches!(o, Outcome::Skipped(_))),
    })
}

/// The invocation deadline (epoch milliseconds, as Lambda sends it) as an `Instant`.
/// A value before the year 2001 is not an epoch time (local emulators send the timeout
/// itself): the deadline is then unknown and no record is held back for it.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms < 978_307_200_000 {
        return None;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_from_epoch_milliseconds() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = deadline_from_epoch_ms(now + 30_000).unwrap();
        let left = d.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(25) && left <= Duration::from_secs(30),
            "{left:?}"
        );
        assert!(deadline_from_epoch_ms(now - 1000).unwrap() <= Instant::now());
        assert_eq!(
            deadline_from_epoch_ms(600_000),
            None,
            "a bare timeout is not a deadline"
        );
    }
}
