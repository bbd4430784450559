//! Configuration from environment variables (documented in the README).

use imgcore::{Fit, OutputSpec, Plan};
use std::time::Duration;

/// Everything the function is told by its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `OUTPUT_BUCKET`: where renditions go. Unset: the source object's own bucket
    /// (then `OUTPUT_PREFIX` must be set, or the function would re-trigger itself).
    pub output_bucket: Option<String>,
    /// `OUTPUT_PREFIX`: key prefix of every rendition. Default: `renditions/`.
    pub output_prefix: String,
    /// `SOURCE_BUCKET`: the bucket whose events invoke the function; used to refuse a
    /// configuration that would write where it is triggered.
    pub source_bucket: Option<String>,
    /// `TABLE_NAME`: the DynamoDB table of metadata records. Required.
    pub table: String,
    /// `RENDITIONS` (spec syntax) plus `MAX_PIXELS`: what to make. Default:
    /// `1600,800,200,webp,q80`.
    pub plan: Plan,
    /// Output names (`{label}.{ext}`) per spec, in plan order.
    pub labels: Vec<String>,
    /// `MAX_OBJECT_BYTES`: larger sources are refused without being read. Default: 64 MiB.
    pub max_object_bytes: u64,
    /// `MAX_CONCURRENCY`: records of one invocation processed at once. Default: 4.
    pub concurrency: usize,
    /// `CACHE_CONTROL` of renditions. Default: `public, max-age=31536000, immutable`.
    pub cache_control: String,
    /// `DEADLINE_MARGIN_MS`: no new record is started when less than this remains before
    /// the invocation deadline. Default: 10000.
    pub deadline_margin: Duration,
    /// `METRICS_NAMESPACE`: CloudWatch namespace of the EMF metrics written to the log;
    /// empty turns them off. Default: `imgtool`.
    pub metrics_namespace: String,
    /// The bytes the records of one instance may hold at once (sources plus predicted
    /// render memory). `MEMORY_BUDGET` (a size: `900M`) when set; else from the function's
    /// memory, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB, set by Lambda), less
    /// [`RUNTIME_RESERVE`] for the process itself, times 0.9 for allocator slack; `None`
    /// (no budget) when neither is set, as on a developer's machine.
    pub memory_budget: Option<u64>,
    /// Eight hex digits naming what renders look like: the outputs (`RENDITIONS`) and the
    /// `imgcore` version. Part of every rendition key, so a key is never rewritten with
    /// other bytes after a change of configuration or engine.
    pub render_id: String,
}

/// What the process needs besides the records' own memory (runtime, SDK clients, HTTP
/// buffers, thread stacks): the idle `bootstrap` peaks near 30 MiB.
pub const RUNTIME_RESERVE: u64 = 128 << 20;

/// S3's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// See [`Config::render_id`].
fn render_id(plan: &Plan) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for s in &plan.outputs {
        h.update(s.to_spec_string().as_bytes());
        h.update(b";");
    }
    h.update(imgcore::VERSION.as_bytes());
    h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The budget for a function of `memory_mb` MB.
pub fn budget_for_memory_mb(memory_mb: u64) -> u64 {
    (memory_mb << 20).saturating_sub(RUNTIME_RESERVE) / 10 * 9
}

/// A spec's name in output keys: its size (`800`, `x600`, `800x600`, `orig`), then the fit
/// when it is not `inside`.
pub fn label(spec: &OutputSpec) -> String {
    let size = match (spec.width, spec.height) {
        (Some(w), Some(h)) => format!("{w}x{h}"),
        (Some(w), None) => w.to_string(),
        (None, Some(h)) => format!("x{h}"),
        (None, None) => "orig".into(),
    };
    match spec.fit {
        Fit::Inside => size,
        other => format!("{size}-{}", format!("{other:?}").to_ascii_lowercase()),
    }
}

impl Config {
    /// Read the configuration through `var` (normally `std::env::var`).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let num = |k: &str, default: u64| -> Result<u64, String> {
            get(k).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{k}={v} is not a whole number"))
            })
        };
        let table = get("TABLE_NAME").ok_or("TABLE_NAME is required")?;
        let spec = get("RENDITIONS").unwrap_or_else(|| "1600,800,200,webp,q80".into());
        let mut plan = Plan::parse(&spec).map_err(|e| format!("RENDITIONS={spec}: {e}"))?;
        plan.limits.max_pixels = num("MAX_PIXELS", plan.limits.max_pixels)?;
        if let Some(v) = get("MAX_MEMORY") {
            plan.limits.max_decoded_bytes = imgcore::parse_byte_size(&v)
                .ok_or_else(|| format!("MAX_MEMORY={v} is not a size (e.g. 256M, 1G)"))?;
        }
        let max_object_bytes = num("MAX_OBJECT_BYTES", 64 << 20)?;
        plan.limits.max_input_bytes = max_object_bytes;
        let labels: Vec<String> = plan.outputs.iter().map(label).collect();
        let mut names: Vec<(String, imgcore::OutputFormat)> = plan
            .outputs
            .iter()
            .zip(&labels)
            .map(|(s, l)| (l.clone(), s.format))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.name().cmp(b.1.name())));
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!(
                "RENDITIONS={spec}: two outputs would have the same key"
            ));
        }
        let output_prefix = match var("OUTPUT_PREFIX") {
            Some(p) => p.trim().trim_start_matches('/').to_string(),
            None => "renditions/".into(),
        };
        if output_prefix.len() > 256 {
            return Err(format!(
                "OUTPUT_PREFIX is {} bytes; at most 256 leave room for the rest of the key",
                output_prefix.len()
            ));
        }
        let memory_budget = match (get("MEMORY_BUDGET"), get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")) {
            (Some(v), _) => Some(
                imgcore::parse_byte_size(&v)
                    .ok_or_else(|| format!("MEMORY_BUDGET={v} is not a size (e.g. 900M)"))?,
            ),
            (None, Some(mb)) => Some(budget_for_memory_mb(mb.parse().map_err(|_| {
                format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={mb} is not a whole number")
            })?)),
            (None, None) => None,
        };
        if let Some(b) = memory_budget {
            // One image may use at most the whole budget: refused by the engine itself
            // beyond it, before decoding.
            plan.limits.max_decoded_bytes = plan.limits.max_decoded_bytes.min(b);
        }
        let output_bucket = get("OUTPUT_BUCKET");
        let source_bucket = get("SOURCE_BUCKET");
        let same_bucket = match (&output_bucket, &source_bucket) {
            (None, _) => true,
            (Some(o), Some(s)) => o == s,
            (Some(_), None) => false,
        };
        if same_bucket && output_prefix.is_empty() {
            return Err("renditions would be written into the bucket that triggers the function with no \
                        OUTPUT_PREFIX: every output would invoke the function again. Set OUTPUT_BUCKET to \
                        another bucket or OUTPUT_PREFIX to a prefix the event filter excludes"
                .into());
        }
        let render_id = render_id(&plan);
        Ok(Config {
            output_bucket,
            output_prefix,
            source_bucket,
            table,
            plan,
            labels,
            max_object_bytes,
            concurrency: num("MAX_CONCURRENCY", 4)?.clamp(1, 64) as usize,
            cache_control: get("CACHE_CONTROL")
                .unwrap_or_else(|| "public, max-age=31536000, immutable".into()),
            deadline_margin: Duration::from_millis(num("DEADLINE_MARGIN_MS", 10_000)?),
            metrics_namespace: var("METRICS_NAMESPACE")
                .map_or_else(|| "imgtool".into(), |v| v.trim().to_string()),
            memory_budget,
            render_id,
        })
    }

    /// The bucket renditions of an object in `source_bucket` go to.
    pub fn output_bucket_for<'a>(&'a self, source_bucket: &'a str) -> &'a str {
        self.output_bucket.as_deref().unwrap_or(source_bucket)
    }

    /// Whether `key` in `bucket` is one of our own outputs (and must not be processed).
    pub fn is_own_output(&self, bucket: &str, key: &str) -> bool {
        bucket == self.output_bucket_for(bucket)
            && !self.output_prefix.is_empty()
            && key.starts_with(&self.output_prefix)
    }

    /// The key of a rendition: `{prefix}{source key}/{version}/{label}.{ext}`, where
    /// `version` names the source version it was made from (see the handler), so a key is
    /// never overwritten with another picture. When that is longer than S3's 1,024 bytes,
    /// `{prefix}_long/{sha256 of the source key}/{version}/{label}.{ext}` instead.
    pub fn rendition_key(&self, source_key: &str, version: &str, label: &str, ext: &str) -> String {
        let key = format!("{}{source_key}/{version}/{label}.{ext}", self.output_prefix);
        if key.len() <= MAX_KEY_BYTES {
            return key;
        }
        use sha2::Digest;
        let digest = sha2::Sha256::digest(source_key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}_long/{hex}/{version}/{label}.{ext}", self.output_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("TABLE_NAME", "t"), ("OUTPUT_BUCKET", "out")]).unwrap();
        assert_eq!(c.output_prefix, "renditions/");
        assert_eq!(c.labels, vec!["1600", "800", "200"]);
        assert_eq!(c.concurrency, 4);
        assert_eq!(
            c.rendition_key("a b/c.jpg", "s1A2B", "800", "webp"),
            "renditions/a b/c.jpg/s1A2B/800.webp"
        );
        assert_eq!(c.memory_budget, None, "no budget off Lambda");
        assert_eq!(c.render_id.len(), 8);
        let same = cfg(&[("TABLE_NAME", "t"), ("RENDITIONS", "1600,800,200,webp,q80")]).unwrap();
        assert_eq!(c.render_id, same.render_id);
        let other = cfg(&[("TABLE_NAME", "t"), ("RENDITIONS", "1600,800,200,webp,q70")]).unwrap();
        assert_ne!(c.render_id, other.render_id, "a new quality makes new keys");
    }

    #[test]
    fn rendition_keys_stay_within_s3s_limit() {
        let c = cfg(&[("TABLE_NAME", "t"), ("OUTPUT_BUCKET", "out")]).unwrap();
        let seq = "s55AED6DCD90281E5";
        // The longest source key S3 allows.
        let long = format!("{}/x.jpg", "d".repeat(MAX_KEY_BYTES - 6));
        assert_eq!(long.len(), MAX_KEY_BYTES);
        let k = c.rendition_key(&long, seq, "1600x1600-cover", "webp");
        assert!(k.len() <= MAX_KEY_BYTES, "{}", k.len());
        assert!(
            k.starts_with("renditions/_long/")
                && k.ends_with("/s55AED6DCD90281E5/1600x1600-cover.webp"),
            "{k}"
        );
        assert!(c.is_own_output("out", &k));
        // Two long keys differing only at the end get different renditions.
        let other = format!("{}/y.jpg", "d".repeat(MAX_KEY_BYTES - 6));
        assert_ne!(k, c.rendition_key(&other, seq, "1600x1600-cover", "webp"));
        // A key that fits is kept readable.
        let fits = "e".repeat(900);
        assert!(c.rendition_key(&fits, seq, "200", "jpg").contains(&fits));
        assert!(
            cfg(&[("TABLE_NAME", "t"), ("OUTPUT_PREFIX", &"p".repeat(300))])
                .unwrap_err()
                .contains("OUTPUT_PREFIX")
        );
    }

    #[test]
    fn the_memory_budget_follows_the_function_memory() {
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"),
        ])
        .unwrap();
        assert_eq!(c.memory_budget, Some(budget_for_memory_mb(1769)));
        assert_eq!(
            budget_for_memory_mb(1769),
            ((1769u64 << 20) - RUNTIME_RESERVE) / 10 * 9
        );
        // The engine's own limit never exceeds the budget.
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ])
        .unwrap();
        assert_eq!(c.plan.limits.max_decoded_bytes, budget_for_memory_mb(512));
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("MEMORY_BUDGET", "100M"),
        ])
        .unwrap();
        assert_eq!(c.memory_budget, Some(100 << 20));
        assert!(cfg(&[("TABLE_NAME", "t"), ("MEMORY_BUDGET", "lots")]).is_err());
    }

    #[test]
    fn refuses_to_write_where_it_is_triggered_without_a_prefix() {
        let e = cfg(&[("TABLE_NAME", "t"), ("OUTPUT_PREFIX", "")]).unwrap_err();
        assert!(e.contains("invoke the function again"), "{e}");
        let e = cfg(&[
            ("TABLE_NAME", "t"),
            ("OUTPUT_PREFIX", ""),
            ("OUTPUT_BUCKET", "b"),
            ("SOURCE_BUCKET", "b"),
        ])
        .unwrap_err();
        assert!(e.contains("OUTPUT_PREFIX"));
        assert!(cfg(&[
            ("TABLE_NAME", "t"),
            ("OUTPUT_PREFIX", ""),
            ("OUTPUT_BUCKET", "o"),
            ("SOURCE_BUCKET", "s")
        ])
        .is_ok());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(cfg(&[("OUTPUT_BUCKET", "o")])
            .unwrap_err()
            .contains("TABLE_NAME"));
        assert!(cfg(&[("TABLE_NAME", "t"), ("RENDITIONS", "800,wat")]).is_err());
        assert!(cfg(&[("TABLE_NAME", "t"), ("RENDITIONS", "800,800")])
            .unwrap_err()
            .contains("same key"));
        assert!(cfg(&[("TABLE_NAME", "t"), ("MAX_OBJECT_BYTES", "lots")]).is_err());
        assert!(cfg(&[
            ("TABLE_NAME", "t"),
            ("RENDITIONS", "800,jpeg;800,webp;200x200,cover")
        ])
        .is_ok());
    }

    #[test]
    fn memory_and_pixel_limits_from_the_environment() {
        let c = cfg(&[("TABLE_NAME", "t")]).unwrap();
        assert_eq!(c.plan.limits.max_decoded_bytes, 1 << 30);
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("MAX_MEMORY", "256M"),
            ("MAX_PIXELS", "50000000"),
        ])
        .unwrap();
        assert_eq!(c.plan.limits.max_decoded_bytes, 256 << 20);
        assert_eq!(c.plan.limits.max_pixels, 50_000_000);
        let e = cfg(&[("TABLE_NAME", "t"), ("MAX_MEMORY", "a lot")]).unwrap_err();
        assert!(e.contains("MAX_MEMORY"), "{e}");
    }

    #[test]
    fn own_outputs_are_recognised() {
        let c = cfg(&[("TABLE_NAME", "t")]).unwrap();
        assert!(c.is_own_output("b", "renditions/x.jpg/800.webp"));
        assert!(!c.is_own_output("b", "photos/x.jpg"));
        let c = cfg(&[("TABLE_NAME", "t"), ("OUTPUT_BUCKET", "out")]).unwrap();
        assert!(
            !c.is_own_output("in", "renditions/x.jpg"),
            "another bucket cannot loop"
        );
        assert!(c.is_own_output("out", "renditions/x.jpg"));
    }
}
