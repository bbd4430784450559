//! The imgtool Lambda function: S3 events in, renditions in S3 and one metadata record per
//! source object in DynamoDB out. The `bootstrap` binary is thin glue over this library.

pub mod aws;
pub mod budget;
pub mod config;
pub mod error;
pub mod event;
pub mod handler;
pub mod memory;
pub mod metrics;
pub mod ports;

pub use config::Config;
pub use handler::{Handler, Outcome, TaskResult};
