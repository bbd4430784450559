//! S3 and DynamoDB adapters for the ports.

use crate::error::{kind_of_response, Error, ErrorKind};
use crate::ports::{
    Catalog, Fetched, Get, ObjectHead, ObjectStore, PutObject, Record, WriteIf, Written,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;
use std::collections::HashMap;

/// Build the S3 and DynamoDB clients once, from the standard environment. When
/// `AWS_ENDPOINT_URL` is set (a local server standing in for AWS), S3 uses path-style
/// addressing. Each attempt of a call is cut off after 30 s (3 s to connect) and retried
/// by the SDK's standard policy (3 attempts, exponential backoff with jitter), so a
/// stalled connection costs one attempt, not the whole invocation.
pub async fn clients() -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    use aws_config::timeout::TimeoutConfig;
    use std::time::Duration;
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    let local = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(local)
        .build();
    (
        aws_sdk_s3::Client::from_conf(s3),
        aws_sdk_dynamodb::Client::new(&shared),
    )
}

/// Create the records table as `template.yaml` declares it (key `id`, on-demand), for
/// local servers, tests and the load run.
pub async fn create_records_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attr = AttributeDefinition::builder()
        .attribute_name("id")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())?;
    let key = KeySchemaElement::builder()
        .attribute_name("id")
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr)
        .key_schema(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}", DisplayErrorContext(e)))
}

fn status_of<E, R: HttpStatus>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<u16> {
    err.raw_response().map(HttpStatus::status)
}

trait HttpStatus {
    fn status(&self) -> u16;
}
impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// A resource the function acts on, as `template.yaml` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Objects of the source bucket (`arn:…:s3:::source/*`).
    SourceObjects,
    /// The source bucket itself (`arn:…:s3:::source`).
    SourceBucket,
    /// Objects under the output prefix of the output bucket.
    OutputObjects,
    /// The records table.
    Table,
}

/// Every AWS request the function makes, with the IAM action it needs and the resource it
/// acts on: the one list `template.yaml`'s policy is checked against
/// (`lambda/tests/lambda/template.rs`), and a unit test checks that the adapters below call
/// no SDK operation missing from it.
pub const AWS_CALLS: &[(&str, &str, Resource)] = &[
    // For Batch Operations tasks, whose manifest gives no size or ETag, and on removals,
    // to see whether the key still has a current version.
    ("HeadObject", "s3:GetObject", Resource::SourceObjects),
    ("GetObject", "s3:GetObject", Resource::SourceObjects),
    // A Batch Operations task that names a version reads that version.
    (
        "GetObject?versionId",
        "s3:GetObjectVersion",
        Resource::SourceObjects,
    ),
    // Without it S3 answers a missing source with 403 instead of 404, which would be an
    // access error instead of "object no longer exists".
    (
        "GetObject (404 for a missing key)",
        "s3:ListBucket",
        Resource::SourceBucket,
    ),
    ("PutObject", "s3:PutObject", Resource::OutputObjects),
    ("DeleteObject", "s3:DeleteObject", Resource::OutputObjects),
    ("GetItem", "dynamodb:GetItem", Resource::Table),
    ("PutItem", "dynamodb:PutItem", Resource::Table),
];

/// The S3 object store.
pub struct S3Store {
    /// The client.
    pub client: aws_sdk_s3::Client,
}

fn unquote(s: Option<&str>) -> String {
    s.unwrap_or_default().trim_matches('"').to_string()
}

fn head_of_metadata(m: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    })
    .unwrap_or_default()
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, Error> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(ObjectHead {
                size: o.content_length().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag()),
                version_id: o.version_id().map(str::to_string),
                metadata: head_of_metadata(o.metadata()),
            })),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(sdk_error(&e)),
        }
    }

    async fn get(&self, g: &Get) -> Result<Fetched, Error> {
        let mut req = self
            .client
            .get_object()
            .bucket(&g.bucket)
            .key(&g.key)
            .set_version_id(g.version_id.clone());
        if let Some(m) = &g.if_match {
            req = req.if_match(format!("\"{m}\""));
        }
        if let Some(r) = &g.range {
            req = req.range(format!("bytes={}-{}", r.start, r.end.saturating_sub(1)));
        }
        match req.send().await {
            Ok(o) => {
                let head = ObjectHead {
                    size: o.content_length().unwrap_or(0).max(0) as u64,
                    etag: unquote(o.e_tag()),
                    version_id: o.version_id().map(str::to_string),
                    metadata: head_of_metadata(o.metadata()),
                };
                // One buffer of the announced size, filled chunk by chunk (no second copy).
                let mut body = o.body;
                let mut bytes = Vec::with_capacity(head.size.min(1 << 30) as usize);
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| {
                        Error::transient(format!("reading s3://{}/{}: {e}", g.bucket, g.key))
                    })?;
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Fetched::Found(bytes, head))
            }
            Err(e) => match (status_of(&e), error_code(&e).as_deref()) {
                (Some(404), _) | (_, Some("NoSuchKey" | "NoSuchVersion")) => Ok(Fetched::Missing),
                (Some(412), _) | (_, Some("PreconditionFailed")) => Ok(Fetched::Changed),
                _ => Err(sdk_error(&e)),
            },
        }
    }

    async fn put(&self, o: PutObject) -> Result<(), Error> {
        let mut req = self
            .client
            .put_object()
            .bucket(&o.bucket)
            .key(&o.key)
            .content_type(&o.content_type)
            .cache_control(&o.cache_control)
            .body(o.body.into());
        for (k, v) in &o.metadata {
            req = req.metadata(k, v);
        }
        req.send().await.map(|_| ()).map_err(|e| sdk_error(&e))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(&e))
    }
}

/// The DynamoDB catalog: one item per source object, partition key `id`.
pub struct DynamoCatalog {
    /// The client.
    pub client: aws_sdk_dynamodb::Client,
    /// Table name.
    pub table: String,
}

fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        _ => Value::Null,
    }
}

/// The service's error code (`NoSuchKey`, `ThrottlingException`, …), when it sent one.
fn error_code<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
}

/// An S3 or DynamoDB SDK error, with its kind: throttling, 5xx, timeouts and connection
/// failures are transient, 403 is `access_denied`, other 4xx are `rejected`.
fn sdk_error<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Error
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_sdk_s3::error::SdkError as S;
    let message = format!("{}", DisplayErrorContext(e));
    let kind = match e {
        S::TimeoutError(_) | S::DispatchFailure(_) | S::ResponseError(_) => ErrorKind::Transient,
        S::ServiceError(_) => kind_of_response(status_of(e), error_code(e).as_deref()),
        // Construction failures: the request itself is wrong.
        _ => ErrorKind::Rejected,
    };
    Error::new(kind, message)
}

fn record_of(id: &str, item: &HashMap<String, AttributeValue>) -> Result<Record, Error> {
    let v = Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), from_attr(v)))
            .collect(),
    );
    serde_json::from_value(v).map_err(|e| {
        Error::new(
            ErrorKind::Rejected,
            format!("record {id} does not parse: {e}"),
        )
    })
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn get(&self, id: &str) -> Result<Option<Record>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        out.item.as_ref().map(|i| record_of(id, i)).transpose()
    }

    async fn put(&self, r: &Record, cond: &WriteIf) -> Result<Written, Error> {
        use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
        let Value::Object(map) =
            serde_json::to_value(r).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?
        else {
            return Err(Error::new(ErrorKind::Internal, "record is not an object"));
        };
        let item: HashMap<String, AttributeValue> = map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), to_attr(v)))
            .collect();
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        req = match cond {
            WriteIf::NewerThanStored(seq) => req
                .condition_expression("attribute_not_exists(id) OR sequencer < :seq")
                .expression_attribute_values(":seq", AttributeValue::S(seq.clone())),
            WriteIf::Unchanged(Some(seq)) => req
                .condition_expression("sequencer = :seq")
                .expression_attribute_values(":seq", AttributeValue::S(seq.clone())),
            WriteIf::Unchanged(None) => req.condition_expression("attribute_not_exists(id)"),
        };
        match req.send().await {
            Ok(out) => Ok(Written::Replaced(
                out.attributes
                    .as_ref()
                    .filter(|a| !a.is_empty())
                    .map(|a| record_of(&r.id, a))
                    .transpose()?,
            )),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    let kept = match c.item() {
                        Some(item) => Some(record_of(&r.id, item)?),
                        // A server that does not return the item: read it.
                        None => self.get(&r.id).await?,
                    };
                    Ok(Written::Kept(kept))
                }
                _ => Err(sdk_error(&e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AWS_CALLS;

    /// Every SDK operation the adapters call (`client.<operation>()`, found in this file's
    /// text) is in the list, and every listed operation is called.
    #[test]
    fn the_adapters_call_only_operations_in_the_list() {
        let src = include_str!("aws.rs");
        let adapters =
            &src[src.find("impl ObjectStore for S3Store").unwrap()..src.find("mod tests").unwrap()];
        let mut called = std::collections::BTreeSet::new();
        for (at, _) in adapters.match_indices(".client") {
            let rest = adapters[at + ".client".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('.') else {
                continue;
            };
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // snake_case method → PascalCase API name.
            let api: String = name
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            called.insert(api);
        }
        assert!(called.len() >= 6, "{called:?}");
        for api in &called {
            assert!(
                AWS_CALLS
                    .iter()
                    .any(|(a, _, _)| a.starts_with(api.as_str())),
                "{api} is called but not in AWS_CALLS"
            );
        }
        for (a, _, _) in AWS_CALLS {
            let api = a.split(['?', ' ']).next().unwrap();
            assert!(called.contains(api), "{a} is listed but never called");
        }
        // The versioned read is made where a version is set.
        assert!(adapters.contains(".set_version_id("));
    }
}
