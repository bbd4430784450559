//! CloudWatch metrics as Embedded Metric Format (EMF) log lines: one JSON line per task on
//! standard output, which CloudWatch Logs turns into metrics without any API call.
//!
//! Metrics (namespace `METRICS_NAMESPACE`, default `imgtool`):
//! - `Images` (Count) and `TotalMs` by `Outcome`: `done`, `failed`, `deleted`, `skipped`,
//!   `retry`, `dead_letter`.
//! - `Failed` (Count) by `Reason`: the error kind of a failed record or a dead letter
//!   (`corrupt`, `truncated`, `unsupported`, `limit_exceeded`, `access_denied`, …).
//! - `BytesIn`, `BytesOut`, `FetchMs`, `RenderMs`, `StoreMs`, without dimensions, for
//!   objects that were read.

use crate::handler::{Outcome, TaskResult};
use serde_json::{json, Map, Value};

/// What one task measured on its way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// Bytes of the source object read.
    pub bytes_in: u64,
    /// Bytes of renditions written.
    pub bytes_out: u64,
    /// Milliseconds reading the source.
    pub fetch_ms: u64,
    /// Milliseconds decoding, resizing and encoding.
    pub render_ms: u64,
    /// Milliseconds writing renditions.
    pub store_ms: u64,
}

fn outcome_name(r: &TaskResult) -> (&'static str, Option<&'static str>) {
    match r {
        TaskResult::Handled(Outcome::Done) => ("done", None),
        TaskResult::Handled(Outcome::Failed(kind)) => ("failed", Some(kind.as_str())),
        TaskResult::Handled(Outcome::Deleted) => ("deleted", None),
        TaskResult::Handled(Outcome::Skipped(_)) => ("skipped", None),
        TaskResult::Retry(_) => ("retry", None),
        TaskResult::DeadLetter(e) => ("dead_letter", Some(e.kind.as_str())),
    }
}

fn metric(name: &str, unit: &str) -> Value {
    json!({"Name": name, "Unit": unit})
}

/// The EMF line for one task's result.
pub fn line(
    namespace: &str,
    timestamp_ms: u64,
    r: &TaskResult,
    s: &Stages,
    total_ms: u64,
) -> Value {
    let (outcome, reason) = outcome_name(r);
    let mut directives = vec![json!({
        "Namespace": namespace,
        "Dimensions": [["Outcome"]],
        "Metrics": [metric("Images", "Count"), metric("TotalMs", "Milliseconds")],
    })];
    let mut fields = Map::new();
    fields.insert("Outcome".into(), outcome.into());
    fields.insert("Images".into(), 1.into());
    fields.insert("TotalMs".into(), total_ms.into());
    if let Some(kind) = reason {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [["Reason"]],
            "Metrics": [metric("Failed", "Count")],
        }));
        fields.insert("Reason".into(), kind.into());
        fields.insert("Failed".into(), 1.into());
    }
    if s.bytes_in > 0 {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [[]],
            "Metrics": [
                metric("BytesIn", "Bytes"),
                metric("BytesOut", "Bytes"),
                metric("FetchMs", "Milliseconds"),
                metric("RenderMs", "Milliseconds"),
                metric("StoreMs", "Milliseconds"),
            ],
        }));
        fields.insert("BytesIn".into(), s.bytes_in.into());
        fields.insert("BytesOut".into(), s.bytes_out.into());
        fields.insert("FetchMs".into(), s.fetch_ms.into());
        fields.insert("RenderMs".into(), s.render_ms.into());
        fields.insert("StoreMs".into(), s.store_ms.into());
    }
    fields.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    Value::Object(fields)
}

/// Print the EMF line for one task (nothing when `namespace` is empty).
pub fn emit(namespace: &str, r: &TaskResult, s: &Stages, total_ms: u64) {
    if namespace.is_empty() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    println!("{}", line(namespace, now, r, s, total_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_image_has_outcome_and_stage_metrics() {
        let s = Stages {
            bytes_in: 1000,
            bytes_out: 300,
            fetch_ms: 5,
            render_ms: 40,
            store_ms: 7,
        };
        let v = line(
            "imgtool",
            1_700_000_000_000,
            &TaskResult::Handled(Outcome::Done),
            &s,
            55,
        );
        assert_eq!(v["Outcome"], "done");
        assert_eq!(v["Images"], 1);
        assert_eq!(v["TotalMs"], 55);
        assert_eq!(v["RenderMs"], 40);
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let d = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(d.len(), 2);
        // Every metric named in a directive has a value at the top level, and every
        // dimension too: CloudWatch drops a line that breaks this.
        for dir in d {
            assert_eq!(dir["Namespace"], "imgtool");
            for m in dir["Metrics"].as_array().unwrap() {
                assert!(v[m["Name"].as_str().unwrap()].is_number(), "{m}");
            }
            for set in dir["Dimensions"].as_array().unwrap() {
                for dim in set.as_array().unwrap() {
                    assert!(v[dim.as_str().unwrap()].is_string(), "{dim}");
                }
            }
        }
        assert!(v.get("Reason").is_none());
    }

    #[test]
    fn a_failed_image_counts_under_its_reason() {
        let r = TaskResult::Handled(Outcome::Failed(crate::error::ErrorKind::Image(
            imgcore::ErrorKind::Truncated,
        )));
        let v = line("ns", 1, &r, &Stages::default(), 3);
        assert_eq!(v["Outcome"], "failed");
        assert_eq!(v["Reason"], "truncated");
        assert_eq!(v["Failed"], 1);
        let d = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(d[1]["Dimensions"], json!([["Reason"]]));
        assert!(v.get("BytesIn").is_none(), "nothing was read");
    }

    #[test]
    fn a_retry_is_its_own_outcome() {
        let v = line(
            "ns",
            1,
            &TaskResult::Retry(crate::error::Error::transient("SlowDown")),
            &Stages::default(),
            9,
        );
        assert_eq!(v["Outcome"], "retry");
        assert!(v.get("Reason").is_none());
    }
}
