//! A small load run (the `load` example) against the local server: every object ends with
//! the right record and renditions after duplicated, shuffled, batched delivery.

#[allow(dead_code)]
#[path = "../../examples/load.rs"]
mod example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_accounts_for_every_object() {
    std::env::set_var("AWS_ENDPOINT_URL", super::endpoint());
    let r = example::run(45).await;
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    assert_eq!((r.objects, r.good + r.bad), (45, 45));
    assert!(r.bad >= 3, "the mix has bad objects: {r:?}");
    assert!(
        r.deliveries > r.objects,
        "the mix has duplicate deliveries: {r:?}"
    );
}
