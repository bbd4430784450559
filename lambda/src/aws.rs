//! S3 and DynamoDB adapters for the ports.

use crate::ports::{
    Catalog, Fetched, ObjectHead, ObjectStore, PortError, PutObject, Record, WriteIf,
};
use async_trait::async_trait;
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

/// Classify an SDK error: throttling, 5xx, timeouts and connection failures are transient.
fn classify<E, R>(
    err: &aws_sdk_s3::error::SdkError<E, R>,
    code: Option<&str>,
    status: Option<u16>,
) -> PortError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::SdkError as S;
    let message = format!("{}", DisplayErrorContext(err));
    let transient_code = matches!(
        code,
        Some(
            "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "InternalError"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "RequestTimeout"
                | "TransactionConflictException"
        )
    );
    let retryable = match err {
        S::TimeoutError(_) | S::DispatchFailure(_) | S::ResponseError(_) => true,
        S::ServiceError(_) => transient_code || status.is_some_and(|s| s >= 500 || s == 429),
        _ => false,
    };
    PortError { retryable, message }
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

/// The S3 object store.
pub struct S3Store {
    /// The client.
    pub client: aws_sdk_s3::Client,
}

fn unquote(s: Option<&str>) -> String {
    s.unwrap_or_default().trim_matches('"').to_string()
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, PortError> {
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
                metadata: o
                    .metadata()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            })),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(sdk_error(&e)),
        }
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Fetched, PortError> {
        let mut req = self.client.get_object().bucket(bucket).key(key);
        if let Some(m) = if_match {
            req = req.if_match(format!("\"{m}\""));
        }
        match req.send().await {
            Ok(o) => {
                let head = ObjectHead {
                    size: o.content_length().unwrap_or(0).max(0) as u64,
                    etag: unquote(o.e_tag()),
                    version_id: o.version_id().map(str::to_string),
                    metadata: Vec::new(),
                };
                let body = o.body.collect().await.map_err(|e| {
                    PortError::transient(format!("reading s3://{bucket}/{key}: {e}"))
                })?;
                Ok(Fetched::Found(body.into_bytes().to_vec(), head))
            }
            Err(e) => match (status_of(&e), error_code(&e).as_deref()) {
                (Some(404), _) | (_, Some("NoSuchKey")) => Ok(Fetched::Missing),
                (Some(412), _) | (_, Some("PreconditionFailed")) => Ok(Fetched::Changed),
                _ => Err(sdk_error(&e)),
            },
        }
    }

    async fn put(&self, o: PutObject) -> Result<(), PortError> {
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

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
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

/// An S3 or DynamoDB SDK error as a port error, tagged retryable or not.
fn sdk_error<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    classify(e, error_code(e).as_deref(), status_of(e))
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn get(&self, id: &str) -> Result<Option<Record>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let v = Value::Object(
            item.iter()
                .map(|(k, v)| (k.clone(), from_attr(v)))
                .collect(),
        );
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| PortError::permanent(format!("record {id} does not parse: {e}")))
    }

    async fn put(&self, r: &Record, cond: &WriteIf) -> Result<bool, PortError> {
        let Value::Object(map) =
            serde_json::to_value(r).map_err(|e| PortError::permanent(e.to_string()))?
        else {
            return Err(PortError::permanent("record is not an object"));
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
            .set_item(Some(item));
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
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(&e)),
        }
    }
}
