//! Every event fixture parses into the tasks it describes.

use imgtool_lambda::event::{parse, Action, Invocation};

#[test]
fn s3_put_decodes_the_key() {
    let Invocation::Direct(t) = parse(&super::event_json(
        "s3-put.json",
        &[("SOURCE_BUCKET", "src")],
    ))
    .unwrap() else {
        panic!("direct")
    };
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].bucket, "src");
    assert_eq!(t[0].key, "uploads/my holiday photo+1.jpg");
    assert_eq!(t[0].action, Action::Created);
    assert_eq!(t[0].size, Some(18012));
    assert_eq!(t[0].sequencer.as_deref(), Some("0055AED6DCD90281E5"));
}

#[test]
fn every_record_of_a_multi_record_event_is_read() {
    let Invocation::Direct(t) = parse(&super::event_json("s3-put-many-keys.json", &[])).unwrap()
    else {
        panic!("direct")
    };
    let keys: Vec<_> = t.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, vec!["café/写真 1.png", "100% real.webp"]);
    assert_eq!(
        t[1].version_id.as_deref(),
        Some("3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    );
}

#[test]
fn delete_sqs_eventbridge_and_batch_shapes() {
    let Invocation::Direct(t) = parse(&super::event_json("s3-delete.json", &[])).unwrap() else {
        panic!()
    };
    assert_eq!(t[0].action, Action::Removed);

    let Invocation::Sqs(m) = parse(&super::event_json("sqs-s3.json", &[])).unwrap() else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].1.as_ref().unwrap()[0].key, "queued/photo.jpg");
    assert!(
        m[1].1.as_ref().unwrap().is_empty(),
        "s3:TestEvent carries no task"
    );

    let Invocation::Direct(t) =
        parse(&super::event_json("eventbridge-object-created.json", &[])).unwrap()
    else {
        panic!()
    };
    assert_eq!(t[0].key, "bridge/photo 2.jpg");
    assert_eq!(t[0].sequencer.as_deref(), Some("0055AED6DCD9028601"));

    for name in ["batch-1.0.json", "batch-2.0.json"] {
        let Invocation::Batch { tasks, schema, .. } =
            parse(&super::event_json(name, &[("SOURCE_BUCKET", "src")])).unwrap()
        else {
            panic!()
        };
        let t = tasks[0].1.as_ref().unwrap();
        assert_eq!(
            (t.bucket.as_str(), t.key.as_str(), t.backfill),
            ("src", "backfill/old photo.jpg", true),
            "{name}"
        );
        assert_eq!(schema, &name[6..9]);
    }
}

#[test]
fn unknown_payloads_are_refused() {
    assert!(parse(&serde_json::json!({"hello": "world"})).is_err());
    assert!(parse(&serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]})).is_err());
}

#[test]
fn a_test_event_is_nothing_to_do() {
    let ev = super::event_json("s3-test-event.json", &[("SOURCE_BUCKET", "src")]);
    assert_eq!(parse(&ev).unwrap(), Invocation::Direct(Vec::new()));
}

#[test]
fn a_test_event_through_sns_and_sqs_is_nothing_to_do() {
    let test_event = super::event_json("s3-test-event.json", &[("SOURCE_BUCKET", "src")]);
    let sns = serde_json::json!({"Type": "Notification", "Message": test_event.to_string()});
    let mut ev = super::event_json("sqs-s3.json", &[("SOURCE_BUCKET", "src"), ("ETAG", "e")]);
    ev["Records"][0]["body"] = sns.to_string().into();
    match parse(&ev).unwrap() {
        Invocation::Sqs(msgs) => assert_eq!(msgs[0].1, Ok(Vec::new())),
        other => panic!("{other:?}"),
    }
}
