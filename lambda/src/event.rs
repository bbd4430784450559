//! Incoming events, normalised into tasks. Accepted shapes: S3 notifications (direct or
//! inside SQS messages), EventBridge "Object Created"/"Object Deleted" from S3, and S3 Batch
//! Operations (schema 1.0 and 2.0). S3 notification records are parsed leniently (every
//! field optional) because local S3 servers omit fields that AWS sends.

use serde::Deserialize;
use serde_json::Value;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Created or overwritten.
    Created,
    /// Deleted (or a delete marker was added).
    Removed,
}

/// One object to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Source bucket.
    pub bucket: String,
    /// Source key, decoded.
    pub key: String,
    /// Created or removed.
    pub action: Action,
    /// Size from the event, when it says.
    pub size: Option<u64>,
    /// ETag from the event, when it says.
    pub etag: Option<String>,
    /// Version id from the event.
    pub version_id: Option<String>,
    /// The S3 sequencer (hex), when the event has one. Batch Operations tasks have none.
    pub sequencer: Option<String>,
    /// Whether this is a backfill (Batch Operations) task.
    pub backfill: bool,
}

/// Where a task came from, so its result can be reported in the caller's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An S3 notification or EventBridge event invoked the function directly.
    Direct,
    /// An SQS message (by message id).
    Sqs(String),
    /// A Batch Operations task (by task id).
    Batch(String),
}

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// S3 notification or EventBridge event.
    Direct(Vec<Task>),
    /// SQS batch: per message, its tasks (an `s3:TestEvent` message has none).
    Sqs(Vec<(String, Result<Vec<Task>, String>)>),
    /// S3 Batch Operations job.
    Batch {
        /// `1.0` or `2.0`.
        schema: String,
        /// Invocation id, echoed in the response.
        invocation_id: String,
        /// Per task id, its task (or why it could not be read).
        tasks: Vec<(String, Result<Task, String>)>,
    },
}

/// Form-decode an S3 key from an event: `+` is a space, `%XX` a byte (so `%2B` is a plus).
pub fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(format!("k={}", raw.replace('&', "%26").replace('=', "%3D")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct S3Record {
    event_source: Option<String>,
    event_name: Option<String>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct S3Entity {
    bucket: Option<NameOnly>,
    object: Option<S3Obj>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameOnly {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct S3Obj {
    key: Option<String>,
    size: Option<u64>,
    e_tag: Option<String>,
    etag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

fn unquote(s: Option<String>) -> Option<String> {
    s.map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty())
}

fn s3_records(v: &Value) -> Result<Vec<Task>, String> {
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no Records array")?;
    let mut out = Vec::new();
    for r in records {
        let r: S3Record =
            serde_json::from_value(r.clone()).map_err(|e| format!("bad S3 record: {e}"))?;
        if r.event_source.as_deref().is_some_and(|s| s != "aws:s3") {
            return Err(format!("unexpected event source {:?}", r.event_source));
        }
        let name = r.event_name.unwrap_or_default();
        let action = if name.starts_with("ObjectCreated") {
            Action::Created
        } else if name.starts_with("ObjectRemoved") {
            Action::Removed
        } else {
            continue; // restores, lifecycle transitions, replication: nothing to do
        };
        let s3 = r.s3.ok_or("record without s3")?;
        let bucket = s3
            .bucket
            .and_then(|b| b.name)
            .ok_or("record without bucket name")?;
        let obj = s3.object.ok_or("record without object")?;
        let key = decode_key(&obj.key.ok_or("record without key")?);
        out.push(Task {
            bucket,
            key,
            action,
            size: obj.size,
            etag: unquote(obj.e_tag.or(obj.etag)),
            version_id: obj.version_id.filter(|v| !v.is_empty()),
            sequencer: obj.sequencer,
            backfill: false,
        });
    }
    Ok(out)
}

fn eventbridge(v: &Value) -> Result<Vec<Task>, String> {
    let dt = v.get("detail-type").and_then(Value::as_str).unwrap_or("");
    let action = match dt {
        "Object Created" => Action::Created,
        "Object Deleted" => Action::Removed,
        _ => return Ok(Vec::new()),
    };
    let d = v.get("detail").ok_or("EventBridge event without detail")?;
    let s = |p: &str| d.pointer(p).and_then(Value::as_str).map(str::to_string);
    let bucket = s("/bucket/name").ok_or("EventBridge detail without bucket.name")?;
    // EventBridge carries keys URL-encoded like S3 notifications do.
    let key = decode_key(&s("/object/key").ok_or("EventBridge detail without object.key")?);
    Ok(vec![Task {
        bucket,
        key,
        action,
        size: d.pointer("/object/size").and_then(Value::as_u64),
        etag: unquote(s("/object/etag")),
        version_id: s("/object/version-id").filter(|v| !v.is_empty()),
        sequencer: s("/object/sequencer"),
        backfill: false,
    }])
}

fn batch_task(t: &Value, schema: &str) -> Result<Task, String> {
    let s = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
    let bucket = if schema.starts_with('2') {
        s("s3Bucket")
    } else {
        s("s3BucketArn").map(|arn| arn.rsplit(':').next().unwrap_or_default().to_string())
    }
    .filter(|b| !b.is_empty())
    .ok_or("task without a bucket")?;
    // Batch Operations manifests carry URL-encoded keys.
    let key = decode_key(&s("s3Key").ok_or("task without s3Key")?);
    Ok(Task {
        bucket,
        key,
        action: Action::Created,
        size: None,
        etag: None,
        version_id: s("s3VersionId").filter(|v| !v.is_empty()),
        sequencer: None,
        backfill: true,
    })
}

/// Recognise and parse an invocation payload.
pub fn parse(v: &Value) -> Result<Invocation, String> {
    // S3 sends it when a notification is configured (to SQS and SNS; never to Lambda
    // directly, but a hand-made invocation may carry it): nothing to do.
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Invocation::Direct(Vec::new()));
    }
    if let Some(schema) = v.get("invocationSchemaVersion").and_then(Value::as_str) {
        let invocation_id = v
            .get("invocationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let tasks = v
            .get("tasks")
            .and_then(Value::as_array)
            .ok_or("Batch Operations event without tasks")?
            .iter()
            .map(|t| {
                let id = t
                    .get("taskId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                (id, batch_task(t, schema))
            })
            .collect();
        return Ok(Invocation::Batch {
            schema: schema.to_string(),
            invocation_id,
            tasks,
        });
    }
    if v.get("detail-type").is_some() && v.get("source").and_then(Value::as_str) == Some("aws.s3") {
        return Ok(Invocation::Direct(eventbridge(v)?));
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let is_sqs = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if !is_sqs {
            return Ok(Invocation::Direct(s3_records(v)?));
        }
        let sqs: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(v.clone()).map_err(|e| format!("bad SQS event: {e}"))?;
        let msgs = sqs
            .records
            .into_iter()
            .map(|m| {
                let id = m.message_id.unwrap_or_default();
                let tasks = m
                    .body
                    .as_deref()
                    .ok_or_else(|| "SQS message without body".to_string())
                    .and_then(|b| {
                        serde_json::from_str::<Value>(b)
                            .map_err(|e| format!("SQS body is not JSON: {e}"))
                    })
                    .and_then(|body| sqs_body(&body));
                (id, tasks)
            })
            .collect();
        return Ok(Invocation::Sqs(msgs));
    }
    Err("not an S3, SQS, EventBridge or S3 Batch Operations event".into())
}

fn sqs_body(body: &Value) -> Result<Vec<Task>, String> {
    if body.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new()); // sent once when a notification is configured
    }
    if body.get("detail-type").is_some() {
        return eventbridge(body);
    }
    // SNS → SQS fan-out wraps the S3 event in `Message`.
    if let Some(inner) = body.get("Message").and_then(Value::as_str) {
        let v: Value =
            serde_json::from_str(inner).map_err(|e| format!("SNS message is not JSON: {e}"))?;
        if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Ok(Vec::new());
        }
        return s3_records(&v);
    }
    s3_records(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(decode_key("my+photo.jpg"), "my photo.jpg");
        assert_eq!(decode_key("a%2Bb.jpg"), "a+b.jpg");
        assert_eq!(
            decode_key("caf%C3%A9/%E5%86%99%E7%9C%9F.png"),
            "café/写真.png"
        );
        assert_eq!(decode_key("100%25.jpg"), "100%.jpg");
        assert_eq!(decode_key("dir%2Fsub%2Fx.jpg"), "dir/sub/x.jpg");
        assert_eq!(decode_key("a&b=c.jpg"), "a&b=c.jpg");
        assert_eq!(decode_key("plain/key.jpg"), "plain/key.jpg");
    }
}
