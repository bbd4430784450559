//! End to end: the real `bootstrap` binary under the Lambda runtime API emulator
//! (`cargo lambda watch`), invoked with `cargo lambda invoke --data-file`, against the local
//! S3/DynamoDB server. Needs `cargo-lambda` on PATH (installed by `scripts/test.sh`).

use imgtool_lambda::ports::{Catalog, Status};

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // Stop the emulator and the function it started (one process group).
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args(["-s", sig, "--", &group])
                .status()
        };
        let _ = signal("INT");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = signal("KILL");
        let _ = self.0.wait();
    }
}

impl Watch {
    /// SIGKILL the function process the emulator started (`bootstrap`, a descendant of the
    /// emulator), as an out-of-memory kill or a lost execution environment would.
    fn kill_function(&self) {
        // pid -> (comm, ppid), from /proc/<pid>/stat: "pid (comm) state ppid ...".
        let mut procs = std::collections::HashMap::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let (Some((head, tail)), Some(open)) = (stat.rsplit_once(") "), stat.find(" (")) else {
                continue;
            };
            let comm = head[open + 2..].to_string();
            let ppid: u32 = tail
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            procs.insert(pid, (comm, ppid));
        }
        let descends = |mut pid: u32| {
            while pid > 1 {
                if pid == self.0.id() {
                    return true;
                }
                pid = procs.get(&pid).map_or(0, |p| p.1);
            }
            false
        };
        let targets: Vec<u32> = procs
            .iter()
            .filter(|(pid, (comm, _))| comm == "bootstrap" && descends(**pid))
            .map(|(pid, _)| *pid)
            .collect();
        assert_eq!(
            targets.len(),
            1,
            "bootstrap processes under the emulator: {targets:?}"
        );
        let st = Command::new("kill")
            .args(["-s", "KILL", &targets[0].to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn invoke(port: u16, event: &serde_json::Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, serde_json::to_vec(event).unwrap()).unwrap();
    let out = Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            "bootstrap",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--data-file",
        ])
        .arg(&path)
        .current_dir(super::root().join("lambda"))
        .output()
        .expect("cargo lambda invoke (install with scripts/test.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The function's environment for the emulator, talking to `endpoint`. An env file, not
/// --env-vars: values such as RENDITIONS contain commas.
fn env_file(dir: &std::path::Path, endpoint: &str, l: &super::moto::Local) -> std::path::PathBuf {
    env_file_with(dir, endpoint, l, "")
}

/// [`env_file`] with more `KEY=value` lines.
fn env_file_with(
    dir: &std::path::Path,
    endpoint: &str,
    l: &super::moto::Local,
    more: &str,
) -> std::path::PathBuf {
    let env_file = dir.join("lambda.env");
    std::fs::write(
        &env_file,
        format!(
            "AWS_ENDPOINT_URL={endpoint}\nAWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\n\
             AWS_EC2_METADATA_DISABLED=true\nTABLE_NAME={}\nOUTPUT_BUCKET={}\nRENDITIONS=\"400;100x100,cover,webp\"\n{more}",
            l.table, l.out
        ),
    )
    .unwrap();
    env_file
}

/// Start `cargo lambda watch` with this environment on a free port; returns once the port
/// is open (the function itself starts on the first invocation).
fn start_watch(env_file: &std::path::Path) -> (Watch, u16) {
    start_watch_with(env_file, &[])
}

/// [`start_watch`] with more environment for `cargo lambda watch` itself (and the `cargo
/// run` it starts the function with).
fn start_watch_with(env_file: &std::path::Path, env: &[(&str, &str)]) -> (Watch, u16) {
    let env_file = env_file.to_str().expect("a UTF-8 path");
    start_emulator("cargo-lambda-watch", &["--env-file", env_file], env)
}

/// `cargo lambda watch` on a free port with `args` and `env` added, logging to
/// `<log_name>-<port>.log` in the temporary directory; returns once the port is open.
fn start_emulator(log_name: &str, args: &[&str], env: &[(&str, &str)]) -> (Watch, u16) {
    let port = free_port();
    let log_path = std::env::temp_dir().join(format!("{log_name}-{port}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--ignore-changes",
            "--timeout",
            "600",
        ])
        .args(args)
        .current_dir(super::root().join("lambda"))
        .env("CARGO_TARGET_DIR", super::root().join("target"))
        .envs(env.iter().copied())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .process_group(0)
        .spawn()
        .expect("cargo lambda watch (install with scripts/test.sh)");
    let mut watch = Watch(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Ok(Some(status)) = watch.0.try_wait() {
            panic!("cargo lambda watch exited ({status}):\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "the emulator did not open port {port}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (watch, port)
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_under_the_runtime_emulator() {
    let rid = super::config(&[("RENDITIONS", "400;100x100,cover,webp")])
        .render_id
        .clone();
    let l = super::moto::local().await;
    let env_dir = tempfile::tempdir().unwrap();
    let env = env_file(env_dir.path(), &super::endpoint(), &l);
    let (_watch, port) = start_watch(&env);

    let etag = super::moto::upload(
        &l,
        "uploads/my holiday photo+1.jpg",
        super::fixture("orientation-6.jpg"),
    )
    .await;
    let ev = super::event_json("s3-put.json", &[("SOURCE_BUCKET", &l.src), ("ETAG", &etag)]);
    // The first invocation builds and starts the function; allow for that.
    let (ok, out) = tokio::task::spawn_blocking({
        let ev = ev.clone();
        move || invoke(port, &ev)
    })
    .await
    .unwrap();
    assert!(ok, "invoke failed: {out}");
    assert!(out.contains("\"done\":1"), "{out}");

    let cat = super::moto::catalog(&l);
    let id = format!("{}/uploads/my holiday photo+1.jpg", l.src);
    let rec = cat.get(&id).await.unwrap().expect("record");
    assert_eq!(rec.status, Status::Done);
    assert_eq!(
        (rec.width, rec.height, rec.orientation),
        (Some(48), Some(32), Some(6))
    );
    let keys: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        keys,
        vec![
            format!("renditions/uploads/my holiday photo+1.jpg/s55AED6DCD90281E5-{rid}/400.jpg"),
            format!("renditions/uploads/my holiday photo+1.jpg/s55AED6DCD90281E5-{rid}/100x100-cover.webp")
        ]
    );
    let o =
        l.s3.get_object()
            .bucket(&l.out)
            .key(&keys[1])
            .send()
            .await
            .unwrap();
    assert_eq!(o.content_type(), Some("image/webp"));
    let before = o.e_tag().map(str::to_string);

    // The same event again, then an older one: nothing changes.
    let (ok, out) = tokio::task::spawn_blocking({
        let ev = ev.clone();
        move || invoke(port, &ev)
    })
    .await
    .unwrap();
    assert!(ok && out.contains("\"skipped\":1"), "{out}");
    let older = serde_json::from_str(
        &ev.to_string()
            .replace("0055AED6DCD90281E5", "0055AED6DCD90281E4"),
    )
    .unwrap();
    let (ok, out) = tokio::task::spawn_blocking(move || invoke(port, &older))
        .await
        .unwrap();
    assert!(ok && out.contains("\"skipped\":1"), "{out}");
    assert_eq!(cat.get(&id).await.unwrap().unwrap(), rec);
    let again =
        l.s3.head_object()
            .bucket(&l.out)
            .key(&keys[1])
            .send()
            .await
            .unwrap();
    assert_eq!(again.e_tag().map(str::to_string), before);

    // A bad upload gets a failed record; the invocation itself succeeds (no retry storm).
    let etag =
        super::moto::upload(&l, "uploads/bad.jpg", super::fixture("bad/truncated.jpg")).await;
    let bad = serde_json::from_str(
        &super::event_json("s3-put.json", &[("SOURCE_BUCKET", &l.src), ("ETAG", &etag)])
            .to_string()
            .replace("uploads/my+holiday+photo%2B1.jpg", "uploads/bad.jpg"),
    )
    .unwrap();
    let (ok, out) = tokio::task::spawn_blocking(move || invoke(port, &bad))
        .await
        .unwrap();
    assert!(ok && out.contains("\"failed\":1"), "{out}");
    let r = cat
        .get(&format!("{}/uploads/bad.jpg", l.src))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Status::Failed);
}

/// The function process is killed after it wrote the renditions and while its record write
/// is in flight (held by the proxy, so it never lands). A new execution environment gets the
/// event again, twice (delivery is at-least-once): one record, the same renditions.
#[tokio::test(flavor = "multi_thread")]
async fn a_function_killed_between_renditions_and_record_converges_on_replay() {
    use super::faults::{objects, Fault, Proxy};
    let l = super::moto::local().await;
    let proxy = Proxy::start(super::endpoint()).await;
    proxy.fail(
        "ddb PutItem",
        usize::MAX,
        Fault::Stall(Duration::from_secs(3600)),
    );
    let env_dir = tempfile::tempdir().unwrap();
    let env = env_file(env_dir.path(), &proxy.endpoint, &l);
    let key = "killed.jpg";
    let etag = super::moto::upload(&l, key, super::fixture("photo.jpg")).await;
    let ev = super::moto::put_event(&l, key, &etag);

    let (watch, port) = start_watch(&env);
    let pending = tokio::task::spawn_blocking({
        let ev = ev.clone();
        move || invoke(port, &ev)
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let written = loop {
        let outs = objects(&l, &l.out).await;
        if outs.len() == 2 && proxy.count("ddb PutItem") > 0 {
            break outs;
        }
        assert!(
            Instant::now() < deadline && !pending.is_finished(),
            "no crash point reached: renditions {outs:?}, record writes seen {}",
            proxy.count("ddb PutItem")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    watch.kill_function();
    drop(watch); // the environment is gone, and the invocation with it
    let (ok, out) = pending.await.unwrap();
    assert!(!ok, "the killed invocation reported success: {out}");
    let cat = super::moto::catalog(&l);
    let id = format!("{}/{key}", l.src);
    assert!(cat.get(&id).await.unwrap().is_none(), "no record yet");

    proxy.heal();
    let (_watch, port) = start_watch(&env);
    let mut outs = Vec::new();
    for _ in 0..2 {
        let ev = ev.clone();
        outs.push(
            tokio::task::spawn_blocking(move || invoke(port, &ev))
                .await
                .unwrap(),
        );
    }
    assert!(
        outs[0].0 && outs[0].1.contains("\"done\":1"),
        "{:?}",
        outs[0]
    );
    assert!(
        outs[1].0 && outs[1].1.contains("\"skipped\":1"),
        "{:?}",
        outs[1]
    );
    let rec = cat.get(&id).await.unwrap().expect("record after replay");
    assert_eq!(rec.status, Status::Done);
    assert_eq!(rec.etag.as_deref(), Some(etag.as_str()));
    let mut keys: Vec<String> = rec.renditions.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(
        written.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        keys
    );
    assert_eq!(
        objects(&l, &l.out).await,
        written,
        "the same renditions, byte for byte, and nothing else"
    );
    let scan = l.ddb.scan().table_name(&l.table).send().await.unwrap();
    assert_eq!(scan.count(), 1, "exactly one record");
}

/// Lambda's memory limit, stood in for by the kernel: the function runs with its data
/// segment (heap and anonymous mappings) limited to its `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`
/// (`prlimit --data`, as cargo's target runner). An SQS batch of four progressive
/// 6000x5000 JPEGs (180 MB of coefficients each) would need about 750 MB at once with
/// `MAX_CONCURRENCY=4`; the memory budget admits two at a time and every record is done.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_large_progressive_jpegs_fits_the_function_memory() {
    const MEMORY_MB: u64 = 640;
    let l = super::moto::local().await;
    let jpeg = imgcore::synth::jpeg(6000, 5000, 3, imgcore::synth::Layout::Progressive);
    let plan = imgcore::Plan::parse("400;100x100,cover,webp").unwrap();
    let one = imgcore::estimate_memory(&jpeg, &plan).unwrap().total() + jpeg.len() as u64;
    let budget = imgtool_lambda::config::budget_for_memory_mb(MEMORY_MB);
    assert!(
        4 * one > MEMORY_MB << 20,
        "four at once would not exceed the limit: {one}"
    );
    assert!(
        2 * one <= budget,
        "two at once do not fit the budget: {one} vs {budget}"
    );
    let mut items = Vec::new();
    for i in 0..4 {
        let key = format!("big/progressive-{i}.jpg");
        let etag = super::moto::upload(&l, &key, jpeg.clone()).await;
        items.push((format!("m-{i}"), key, etag));
    }
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(m, k, e)| (m.as_str(), k.as_str(), e.as_str()))
        .collect();
    let ev = super::faults::sqs_event(&l, &refs);
    let env_dir = tempfile::tempdir().unwrap();
    let env = env_file_with(
        env_dir.path(),
        &super::endpoint(),
        &l,
        &format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={MEMORY_MB}\nMAX_CONCURRENCY=4\n"),
    );
    let runner = format!("prlimit --data={} --", MEMORY_MB << 20);
    let runner_var = format!(
        "CARGO_TARGET_{}_UNKNOWN_LINUX_GNU_RUNNER",
        std::env::consts::ARCH.to_ascii_uppercase()
    );
    let (_watch, port) = start_watch_with(&env, &[(runner_var.as_str(), runner.as_str())]);
    let (ok, out) = tokio::task::spawn_blocking(move || invoke(port, &ev))
        .await
        .unwrap();
    // The function really ran under the limit.
    let log = std::fs::read_to_string(
        std::env::temp_dir().join(format!("cargo-lambda-watch-{port}.log")),
    )
    .unwrap();
    assert!(log.contains(&format!("Running `{runner} ")), "{log}");
    assert!(ok, "the invocation failed (the process died?): {out}");
    assert!(out.contains("\"batchItemFailures\":[]"), "{out}");
    let cat = super::moto::catalog(&l);
    for (_, key, _) in &items {
        let r = cat
            .get(&format!("{}/{key}", l.src))
            .await
            .unwrap()
            .expect("record");
        assert_eq!(r.status, Status::Done, "{key}: {:?}", r.error);
    }
}

/// The deployable package itself: the arm64 `bootstrap` that `scripts/package.sh` builds
/// (with libaom, cross-compiled), run under qemu-user (`qemu-aarch64`, with the aarch64 glibc
/// of Debian's cross toolchain) against the runtime API emulator (`cargo lambda watch
/// --only-lambda-apis`) and the local S3/DynamoDB. An upload becomes an AVIF rendition by
/// libaom (the `aom` flag: a build without libaom refuses RENDITIONS at start-up; the AV1
/// sequence header shows libaom's tool set, not rav1e's) and a WebP one, both the picture the
/// host's own render makes. `scripts/test.sh` builds the package
/// and installs qemu-user before the tests run. (Under emulation, so nothing about arm64
/// speed.)
#[tokio::test(flavor = "multi_thread")]
async fn the_arm64_package_runs_under_qemu_and_writes_libaom_avif() {
    const RENDITIONS: &str = "200,avif,aom;100,webp";
    // Where package.sh put it: cargo's target directory.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| super::root().join("target"), std::path::PathBuf::from);
    let bin = target.join("lambda/bootstrap/bootstrap");
    assert!(
        bin.exists(),
        "{} is missing: `bash scripts/package.sh` builds it (scripts/test.sh runs it first)",
        bin.display()
    );
    let l = super::moto::local().await;

    // The runtime API alone; the function is started here, as Lambda would start it.
    let (_apis, port) = start_emulator("cargo-lambda-apis", &["--only-lambda-apis"], &[]);

    let photo = super::fixture("photo.jpg");
    let etag = super::moto::upload(&l, "arm64/photo.jpg", photo.clone()).await;
    let ev = super::event_json("s3-put.json", &[("SOURCE_BUCKET", &l.src), ("ETAG", &etag)]);
    let ev = serde_json::from_str(
        &ev.to_string()
            .replace("uploads/my+holiday+photo%2B1.jpg", "arm64/photo.jpg"),
    )
    .unwrap();
    // The invocation first, so that the function finds it on its first poll (the emulator
    // answers an empty poll at once, where Lambda would hold it).
    let invocation = std::thread::spawn(move || invoke(port, &ev));
    std::thread::sleep(Duration::from_millis(500));

    let fn_log_path = std::env::temp_dir().join(format!("bootstrap-arm64-{port}.log"));
    let fn_log = std::fs::File::create(&fn_log_path).unwrap();
    // Its dynamic loader and libraries from Debian's aarch64 glibc (libc6-arm64-cross).
    let function = Command::new("qemu-aarch64")
        .arg("-L")
        .arg("/usr/aarch64-linux-gnu")
        .arg(&bin)
        // The emulator's runtime API for the function named `bootstrap`, which `invoke` calls.
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt/bootstrap"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "bootstrap")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_ENDPOINT_URL", super::endpoint())
        .env("TABLE_NAME", &l.table)
        .env("OUTPUT_BUCKET", &l.out)
        .env("RENDITIONS", RENDITIONS)
        .stdout(Stdio::from(fn_log.try_clone().unwrap()))
        .stderr(Stdio::from(fn_log))
        .process_group(0)
        .spawn()
        .expect("qemu-aarch64 (Debian qemu-user; scripts/test.sh installs it)");
    let mut function = Watch(function);
    let fn_log = || std::fs::read_to_string(&fn_log_path).unwrap_or_default();
    // Fail at once if the function dies (the invocation would wait out the emulator's
    // timeout), and give up after five minutes.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !invocation.is_finished() {
        if let Ok(Some(status)) = function.0.try_wait() {
            panic!("the arm64 function exited ({status}):\n{}", fn_log());
        }
        assert!(
            Instant::now() < deadline,
            "no answer in 5 min:\n{}",
            fn_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out) = invocation.join().unwrap();
    assert!(ok, "invoke failed: {out}\nfunction:\n{}", fn_log());
    assert!(out.contains("\"done\":1"), "{out}\nfunction:\n{}", fn_log());

    let rec = super::moto::catalog(&l)
        .get(&format!("{}/arm64/photo.jpg", l.src))
        .await
        .unwrap()
        .expect("record");
    assert_eq!(rec.status, Status::Done, "{:?}", rec.error);
    let keys: Vec<&str> = rec.renditions.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    // (The render id in the keys is not checked: this host build cannot parse `aom`.)
    assert!(keys[0].ends_with("/200.avif"), "{keys:?}");
    assert!(keys[1].ends_with("/100.webp"), "{keys:?}");
    // Each rendition, decoded here, against the host's render of the same spec (rav1e for
    // the AVIF: a different encoder, so close, not equal).
    let host = imgcore::render(&photo, &imgcore::Plan::parse("200,png;100,png").unwrap()).unwrap();
    for (key, want) in keys.iter().zip(&host.renditions) {
        let o =
            l.s3.get_object()
                .bucket(&l.out)
                .key(*key)
                .send()
                .await
                .unwrap();
        let body = o.body.collect().await.unwrap().into_bytes();
        if key.ends_with(".avif") {
            // Which encoder wrote it: rav1e clears `enable_filter_intra` in the sequence
            // header (it has no filter-intra tool), libaom leaves it set. The host's rav1e
            // file shows the check tells the two apart.
            let rav1e =
                imgcore::render(&photo, &imgcore::Plan::parse("200,avif").unwrap()).unwrap();
            assert!(!filter_intra_enabled(&rav1e.renditions[0].bytes));
            assert!(
                filter_intra_enabled(&body),
                "{key}: the sequence header says rav1e, not libaom"
            );
        }
        let got = imgcore::render(&body, &imgcore::Plan::parse("orig,png").unwrap()).unwrap();
        let a = image::load_from_memory(&got.renditions[0].bytes)
            .unwrap()
            .into_rgb8();
        let b = image::load_from_memory(&want.bytes).unwrap().into_rgb8();
        assert_eq!(a.dimensions(), b.dimensions(), "{key}");
        let mse = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum::<f64>()
            / a.as_raw().len() as f64;
        let psnr = 10.0 * (255.0f64.powi(2) / mse).log10();
        eprintln!(
            "{key}: {} bytes, PSNR {psnr:.1} dB against the host's render",
            body.len()
        );
        assert!(
            psnr > 30.0,
            "{key}: PSNR {psnr:.1} dB against the host's render"
        );
    }
}

/// `enable_filter_intra` of the first AV1 sequence header OBU in an AVIF's `mdat`, read as
/// the AV1 specification lays out a reduced still-picture header (5.5.1), which both of
/// imgtool's encoders write. (The `mdat` is found by its type code: imgtool's AVIF boxes
/// before it hold no payload that could contain one.)
fn filter_intra_enabled(avif: &[u8]) -> bool {
    let at = avif
        .windows(4)
        .position(|w| w == b"mdat")
        .expect("an mdat box")
        + 4;
    let mut obus = &avif[at..];
    loop {
        let header = obus[0];
        assert_eq!(
            header & 0x82,
            0x02,
            "OBU header {header:#x}: expected a valid OBU with a size field"
        );
        // After the header and its extension byte, when there is one: the LEB128 size.
        let start = 1 + usize::from(header & 0x04 != 0);
        let (mut size, mut n) = (0usize, start);
        loop {
            let b = obus[n];
            size |= usize::from(b & 0x7f) << (7 * (n - start));
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if (header >> 3) & 0x0f == 1 {
            obus = &obus[n..n + size];
            break;
        }
        obus = &obus[n + size..];
    }
    let mut bit = 0usize;
    let mut read = |count: usize| -> usize {
        let mut v = 0;
        for _ in 0..count {
            v = (v << 1) | usize::from((obus[bit / 8] >> (7 - bit % 8)) & 1);
            bit += 1;
        }
        v
    };
    let _profile = read(3);
    let _still_picture = read(1);
    assert_eq!(read(1), 1, "not a reduced still-picture header");
    let _level = read(5);
    let width_bits = read(4) + 1;
    let height_bits = read(4) + 1;
    let _max_width = read(width_bits);
    let _max_height = read(height_bits);
    let _use_128x128_superblock = read(1);
    read(1) == 1
}
