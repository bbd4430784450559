//! `bootstrap`: the Lambda entry point. Reads the configuration, builds the AWS clients once,
//! and hands every invocation to the handler.

use imgtool_lambda::aws::{clients, DynamoCatalog, S3Store};
use imgtool_lambda::handler::{deadline_from_epoch_ms, Handler};
use imgtool_lambda::{event, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    imgcore::tune_allocator();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let cfg = match Config::from_vars(|k| std::env::var(k).ok()) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(error = %e, "refusing to start");
            return Err(e.into());
        }
    };
    let (s3, dynamo) = clients().await;
    let table = cfg.table.clone();
    let handler = Arc::new(Handler::new(
        S3Store { client: s3 },
        DynamoCatalog {
            client: dynamo,
            table,
        },
        cfg,
    ));
    tracing::info!(
        version = imgcore::VERSION,
        memory_budget = handler.budget().map(|b| b.total()),
        "ready"
    );
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            tracing::debug!(deadline_ms = ev.context.deadline, "invocation");
            let deadline = deadline_from_epoch_ms(ev.context.deadline);
            let inv = event::parse(&ev.payload).map_err(|e| {
                tracing::error!(error = %e, "unrecognised event");
                Error::from(e)
            })?;
            handler.handle(inv, deadline).await.map_err(Error::from)
        }
    }))
    .await
}
