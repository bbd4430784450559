//! Lambda tests: the decision logic with in-memory adapters, the S3/DynamoDB adapters
//! against a real local server (moto), and the `bootstrap` binary under the Lambda runtime
//! API emulator (cargo lambda). The last two need `scripts/test.sh`, which starts the server.

mod emulator;
mod events;
mod faults;
mod handler;
mod load;
mod moto;
mod race;
mod template;

use imgtool_lambda::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures").join(name)).expect("fixture")
}

/// An event fixture with its placeholders (`SOURCE_BUCKET`, `ETAG…`) replaced.
pub fn event_json(name: &str, subs: &[(&str, &str)]) -> serde_json::Value {
    let mut text =
        std::fs::read_to_string(root().join("fixtures/events").join(name)).expect("event fixture");
    for (from, to) in subs {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).expect("event JSON")
}

pub fn config(vars: &[(&str, &str)]) -> Arc<Config> {
    let mut all: Vec<(String, String)> = vec![
        ("TABLE_NAME".into(), "records".into()),
        ("OUTPUT_BUCKET".into(), "out".into()),
        ("RENDITIONS".into(), "200,webp,q70;64x64,cover,jpeg".into()),
    ];
    for (k, v) in vars {
        all.retain(|(n, _)| n != k);
        all.push((k.to_string(), v.to_string()));
    }
    Arc::new(
        Config::from_vars(|k| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .expect("config"),
    )
}

/// The local AWS endpoint started by `scripts/test.sh`. Tests that need it fail without it.
pub fn endpoint() -> String {
    std::env::var("IMGTOOL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("IMGTOOL_TEST_AWS_ENDPOINT is not set: run the tests with `bash scripts/test.sh`, which starts the local S3/DynamoDB server")
    })
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
