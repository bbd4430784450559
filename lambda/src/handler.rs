//! The decision logic: which records to process, which keys to write, what to record, and
//! whether a failure is retried. It reaches AWS only through [`ObjectStore`] and [`Catalog`].

use crate::config::Config;
use crate::event::{Action, Invocation, Origin, Task};
use crate::metrics::Stages;
use crate::ports::{
    pad_sequencer, Catalog, Fetched, ObjectStore, PortError, PutObject, Record, RenditionRecord,
    Status, WriteIf,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one task ended when it needs no retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Renditions and a `done` record were written.
    Done,
    /// A `failed` record was written (the image is bad or too large); not retried.
    Failed(String),
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
    /// A transient failure (or not started before the deadline): deliver it again.
    Retry(String),
}

/// The handler, generic over its ports.
pub struct Handler<S, C> {
    store: S,
    catalog: C,
    cfg: Arc<Config>,
}

fn retry(e: PortError) -> TaskResult {
    TaskResult::Retry(e.message)
}

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

impl<S: ObjectStore, C: Catalog> Handler<S, C> {
    /// A handler over these ports.
    pub fn new(store: S, catalog: C, cfg: Arc<Config>) -> Self {
        Handler {
            store,
            catalog,
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

    fn base_record(&self, t: &Task, seq: &str, started: Instant) -> Record {
        Record {
            id: format!("{}/{}", t.bucket, t.key),
            bucket: t.bucket.clone(),
            key: t.key.clone(),
            status: Status::Done,
            sequencer: seq.to_string(),
            etag: t.etag.clone(),
            version_id: t.version_id.clone(),
            size: t.size,
            format: None,
            width: None,
            height: None,
            orientation: None,
            has_alpha: None,
            icc_profile: None,
            thumbhash: None,
            color: None,
            renditions: Vec::new(),
            error_kind: None,
            error: None,
            processed_at: now_rfc3339(),
            duration_ms: started.elapsed().as_millis() as u64,
            engine_version: imgcore::VERSION.to_string(),
        }
    }

    async fn write(
        &self,
        mut rec: Record,
        cond: WriteIf,
        started: Instant,
        outcome: Outcome,
    ) -> TaskResult {
        rec.duration_ms = started.elapsed().as_millis() as u64;
        match self.catalog.put(&rec, &cond).await {
            Ok(true) => TaskResult::Handled(outcome),
            Ok(false) => TaskResult::Handled(Outcome::Skipped("a newer record exists")),
            Err(e) if e.retryable => retry(e),
            Err(e) => TaskResult::Retry(format!("cannot write the record: {}", e.message)),
        }
    }

    async fn fail(
        &self,
        t: &Task,
        seq: &str,
        cond: WriteIf,
        started: Instant,
        kind: &str,
        why: String,
    ) -> TaskResult {
        tracing::warn!(bucket = %t.bucket, key = %t.key, kind, error = %why, "image failed");
        let mut rec = self.base_record(t, seq, started);
        rec.status = Status::Failed;
        rec.error_kind = Some(kind.to_string());
        rec.error = Some(why.clone());
        self.write(rec, cond, started, Outcome::Failed(kind.to_string()))
            .await
    }

    /// The sequencer of an output object, from its metadata (zeros when absent).
    async fn output_sequencer(&self, bucket: &str, key: &str) -> Result<Option<String>, PortError> {
        Ok(self.store.head(bucket, key).await?.map(|h| {
            h.metadata
                .iter()
                .find(|(k, _)| k == META_SEQUENCER)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| pad_sequencer(None))
        }))
    }

    /// Process one task, and write its metrics line.
    pub async fn run_task(&self, t: &Task) -> TaskResult {
        let started = Instant::now();
        let mut stages = Stages::default();
        let r = self.task(t, &mut stages, started).await;
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
            Err(e) => return retry(e),
        };
        match t.action {
            Action::Created => self.created(t, stored, started, st).await,
            Action::Removed => self.removed(t, stored, started).await,
        }
    }

    async fn created(
        &self,
        t: &Task,
        stored: Option<Record>,
        started: Instant,
        st: &mut Stages,
    ) -> TaskResult {
        let mut t = t.clone();
        // Size and ETag: from the event, else from a HEAD (Batch Operations tasks).
        if t.size.is_none() || t.etag.is_none() {
            match self.store.head(&t.bucket, &t.key).await {
                Ok(Some(h)) => {
                    t.size = Some(h.size);
                    t.etag = Some(h.etag);
                    t.version_id = t.version_id.or(h.version_id);
                }
                Ok(None) => {
                    return TaskResult::Handled(Outcome::Skipped("object no longer exists"))
                }
                Err(e) if e.retryable => return retry(e),
                Err(e) => {
                    let seq = pad_sequencer(t.sequencer.as_deref());
                    return self
                        .fail(
                            &t,
                            &seq,
                            WriteIf::NewerThanStored(seq.clone()),
                            started,
                            "access",
                            e.message,
                        )
                        .await;
                }
            }
        }
        let etag = t.etag.clone().unwrap_or_default();
        // The sequencer this work is ordered by, and the condition on the record write.
        // A backfill task has no sequencer: it keeps the stored one and writes only if the
        // record did not change meanwhile, so any real event (always newer) wins.
        let (seq, cond) = if t.backfill {
            let stored_seq = stored.as_ref().map(|r| r.sequencer.clone());
            (
                stored_seq.clone().unwrap_or_else(|| pad_sequencer(None)),
                WriteIf::Unchanged(stored_seq),
            )
        } else {
            let seq = pad_sequencer(t.sequencer.as_deref());
            if let Some(r) = &stored {
                if r.sequencer >= seq {
                    return TaskResult::Handled(Outcome::Skipped("duplicate or older event"));
                }
            }
            (seq.clone(), WriteIf::NewerThanStored(seq))
        };
        let size = t.size.unwrap_or(0);
        if size > self.cfg.max_object_bytes {
            let why = format!(
                "object is {size} bytes, the limit is {}",
                self.cfg.max_object_bytes
            );
            return self
                .fail(&t, &seq, cond, started, "limit_exceeded", why)
                .await;
        }
        let fetch = Instant::now();
        let (bytes, head) = match self.store.get(&t.bucket, &t.key, Some(&etag)).await {
            Ok(Fetched::Found(b, h)) => (b, h),
            Ok(Fetched::Missing) => {
                return TaskResult::Handled(Outcome::Skipped("object no longer exists"))
            }
            Ok(Fetched::Changed) => {
                return TaskResult::Handled(Outcome::Skipped(
                    "object was replaced by a newer version",
                ))
            }
            Err(e) if e.retryable => return retry(e),
            Err(e) => {
                return self
                    .fail(&t, &seq, cond, started, "access", e.message)
                    .await
            }
        };
        if bytes.len() as u64 > self.cfg.max_object_bytes {
            let why = format!(
                "object is {} bytes, the limit is {}",
                bytes.len(),
                self.cfg.max_object_bytes
            );
            return self
                .fail(&t, &seq, cond, started, "limit_exceeded", why)
                .await;
        }
        st.fetch_ms = fetch.elapsed().as_millis() as u64;
        st.bytes_in = bytes.len() as u64;
        t.version_id = t.version_id.clone().or(head.version_id.clone());
        let cfg = self.cfg.clone();
        let render = Instant::now();
        let rendered =
            tokio::task::spawn_blocking(move || imgcore::render(&bytes, &cfg.plan)).await;
        st.render_ms = render.elapsed().as_millis() as u64;
        let rendered = match rendered {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return self
                    .fail(&t, &seq, cond, started, e.kind().as_str(), e.to_string())
                    .await
            }
            Err(join) => {
                return self
                    .fail(
                        &t,
                        &seq,
                        cond,
                        started,
                        "internal",
                        format!("render task failed: {join}"),
                    )
                    .await
            }
        };
        let out_bucket = self.cfg.output_bucket_for(&t.bucket).to_string();
        let mut recs = Vec::with_capacity(rendered.renditions.len());
        let store = Instant::now();
        for (r, label) in rendered.renditions.iter().zip(&self.cfg.labels) {
            let key = self.cfg.rendition_key(&t.key, label, r.format.extension());
            // Never replace a newer version's rendition (events may arrive out of order).
            match self.output_sequencer(&out_bucket, &key).await {
                Ok(Some(existing)) if existing > seq => {
                    return TaskResult::Handled(Outcome::Skipped(
                        "renditions of a newer version exist",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.retryable => return retry(e),
                Err(e) => return TaskResult::Retry(e.message),
            }
            let put = PutObject {
                bucket: out_bucket.clone(),
                key: key.clone(),
                body: r.bytes.clone(),
                content_type: r.mime_type.to_string(),
                cache_control: self.cfg.cache_control.clone(),
                metadata: vec![
                    ("source-bucket".into(), t.bucket.clone()),
                    (
                        "source-key".into(),
                        form_urlencoded::byte_serialize(t.key.as_bytes()).collect(),
                    ),
                    ("source-etag".into(), etag.clone()),
                    (
                        "source-version".into(),
                        t.version_id.clone().unwrap_or_default(),
                    ),
                    (META_SEQUENCER.into(), seq.clone()),
                ],
            };
            if let Err(e) = self.store.put(put).await {
                return TaskResult::Retry(format!("cannot write {key}: {}", e.message));
            }
            st.bytes_out += r.size as u64;
            st.store_ms = store.elapsed().as_millis() as u64;
            recs.push(RenditionRecord {
                key,
                width: r.width,
                height: r.height,
                format: r.format.name().to_string(),
                bytes: r.size as u64,
                fitted_to_format: r.fitted_to_format,
            });
        }
        let src = &rendered.source;
        let mut rec = self.base_record(&t, &seq, started);
        rec.format = Some(src.format.name().to_string());
        rec.width = Some(src.width);
        rec.height = Some(src.height);
        rec.orientation = Some(src.orientation);
        rec.has_alpha = Some(src.has_alpha);
        rec.icc_profile = src.icc_profile.clone();
        rec.thumbhash = rendered.thumbhash.clone();
        rec.color = rendered.average_color.clone();
        rec.renditions = recs;
        rec.size = Some(src.bytes);
        let res = self.write(rec, cond, started, Outcome::Done).await;
        tracing::info!(bucket = %t.bucket, key = %t.key, result = ?res, ms = started.elapsed().as_millis() as u64, "processed");
        res
    }

    async fn removed(&self, t: &Task, stored: Option<Record>, started: Instant) -> TaskResult {
        let seq = pad_sequencer(t.sequencer.as_deref());
        if let Some(r) = &stored {
            if r.sequencer >= seq {
                return TaskResult::Handled(Outcome::Skipped("duplicate or older event"));
            }
        }
        let out_bucket = self.cfg.output_bucket_for(&t.bucket).to_string();
        let keys: Vec<String> = stored
            .as_ref()
            .map(|r| r.renditions.iter().map(|x| x.key.clone()).collect())
            .unwrap_or_default();
        for key in keys {
            match self.output_sequencer(&out_bucket, &key).await {
                Ok(Some(existing)) if existing > seq => continue, // a newer upload's rendition
                Ok(None) => continue,
                Ok(Some(_)) => {}
                Err(e) => return TaskResult::Retry(e.message),
            }
            if let Err(e) = self.store.delete(&out_bucket, &key).await {
                return TaskResult::Retry(format!("cannot delete {key}: {}", e.message));
            }
        }
        let mut rec = self.base_record(t, &seq, started);
        rec.status = Status::Deleted;
        if let Some(old) = stored {
            rec.etag = old.etag;
            rec.format = old.format;
        }
        self.write(
            rec,
            WriteIf::NewerThanStored(seq),
            started,
            Outcome::Deleted,
        )
        .await
    }

    /// Run tasks with bounded concurrency, starting none once the deadline is near.
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
                let r = me.run_task(&t).await;
                drop(permit);
                r
            })));
        }
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(match h {
                None => TaskResult::Retry("not started: the invocation deadline is near".into()),
                Some(h) => h
                    .await
                    .unwrap_or_else(|e| TaskResult::Retry(format!("task failed: {e}"))),
            });
        }
        out
    }

    /// Handle one invocation: returns the response, or an error that makes the invocation
    /// fail (so Lambda retries it) when a directly-invoked record needs a retry.
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
                let retries: Vec<&String> = results
                    .iter()
                    .filter_map(|r| match r {
                        TaskResult::Retry(m) => Some(m),
                        _ => None,
                    })
                    .collect();
                if !retries.is_empty() {
                    return Err(format!(
                        "{} of {} records need a retry: {}",
                        retries.len(),
                        results.len(),
                        retries[0]
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
                        // A message that is not an event will never parse: drop it loudly
                        // rather than retry it forever.
                        Err(e) => {
                            tracing::error!(message_id = %id, error = %e, "unreadable SQS message dropped")
                        }
                    }
                }
                let results = self.run_all(flat, deadline).await;
                for (o, r) in owners.iter().zip(&results) {
                    if let (Origin::Sqs(id), TaskResult::Retry(_)) = (o, r) {
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
                            (Some(TaskResult::Retry(m)), _) => ("TemporaryFailure", m.clone()),
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
