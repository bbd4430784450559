//! `template.yaml` against the code: the function's policy allows every AWS call the code
//! makes (the list in `imgtool_lambda::aws::AWS_CALLS`) on the resource it makes it on,
//! with no condition that the request would not carry, and nothing else; the deploy-time
//! fixes hold (no key filters that could miss an upload, queue settings, optional
//! reserved concurrency, alarm actions).

use imgtool_lambda::aws::{Resource, AWS_CALLS};
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(super::root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

/// A CloudFormation expression as text: `!Sub "x"` → `Sub:x`, `!GetAtt A.B` → `GetAtt:A.B`,
/// `!Ref X` → `Ref:X`, a plain string as itself.
fn expr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!(
            "{}:{}",
            t.tag.to_string().trim_start_matches('!'),
            expr(&t.value)
        ),
        Value::Sequence(s) => s.iter().map(expr).collect::<Vec<_>>().join(","),
        other => format!("{other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().map(expr).collect(),
        other => vec![expr(other)],
    }
}

const SOURCE_NAME: &str = "${AWS::StackName}-source-${AWS::AccountId}-${AWS::Region}";

fn resource_of(arn: &str) -> Option<Resource> {
    let source = format!("Sub:arn:${{AWS::Partition}}:s3:::{SOURCE_NAME}");
    match arn {
        a if a == format!("{source}/*") => Some(Resource::SourceObjects),
        a if a == source => Some(Resource::SourceBucket),
        "Sub:${OutputBucket.Arn}/${OutputPrefix}*" => Some(Resource::OutputObjects),
        "GetAtt:RecordsTable.Arn" => Some(Resource::Table),
        _ => None,
    }
}

#[test]
fn the_policy_allows_exactly_the_calls_the_code_makes() {
    let t = template();
    let res = &t["Resources"];
    // The policy names the source bucket by its name (a !Ref would be circular): it must
    // be the name the bucket gets.
    assert_eq!(
        expr(&res["SourceBucket"]["Properties"]["BucketName"]),
        format!("Sub:{SOURCE_NAME}")
    );
    let statements = res["ThumbnailFunction"]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .expect("the function's inline policy");
    let mut granted = Vec::new();
    for s in statements {
        assert_eq!(s["Effect"], Value::from("Allow"));
        let resources = strings(&s["Resource"]);
        for action in strings(&s["Action"]) {
            for r in &resources {
                granted.push((action.clone(), r.clone(), s.get("Condition").is_some()));
            }
        }
    }
    for (api, action, resource) in AWS_CALLS {
        let ok = granted.iter().any(|(a, r, conditional)| {
            a == action && resource_of(r) == Some(*resource) && !conditional
        });
        assert!(
            ok,
            "{api} needs {action} on {resource:?} without a condition: not granted"
        );
    }
    for (action, r, _) in &granted {
        let used = AWS_CALLS
            .iter()
            .any(|(_, a, res)| a == action && resource_of(r) == Some(*res));
        // Lambda itself sends failed asynchronous invocations to the dead-letter queue.
        let destination = action == "sqs:SendMessage" && r == "GetAtt:DeadLetterQueue.Arn";
        assert!(
            used || destination,
            "{action} on {r} is granted but no call needs it"
        );
    }
}

#[test]
fn the_template_cannot_miss_an_upload_or_fail_a_first_deploy() {
    let t = template();
    let res = &t["Resources"];
    let text = std::fs::read_to_string(super::root().join("template.yaml")).unwrap();
    assert!(
        !text.contains("Name: suffix"),
        "no suffix filters: they are case-sensitive"
    );
    // The queue mapping waits for the policy that lets the role read the queue, and caps
    // its concurrency.
    assert_eq!(
        res["QueueMapping"]["DependsOn"],
        Value::from("QueueConsumePolicy")
    );
    assert_eq!(
        expr(&res["QueueMapping"]["Properties"]["ScalingConfig"]["MaximumConcurrency"]),
        "Ref:QueueMaxConcurrency"
    );
    let consume = strings(
        &res["QueueConsumePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"],
    );
    assert_eq!(
        consume,
        [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes"
        ]
    );
    // Visibility timeout at least six times every allowed function timeout.
    let allowed = t["Parameters"]["Timeout"]["AllowedValues"]
        .as_sequence()
        .unwrap();
    let table = &t["Mappings"]["QueueVisibility"]["ByFunctionTimeout"];
    for v in allowed {
        let secs = v.as_u64().unwrap();
        let vis = table[secs.to_string().as_str()].as_u64().unwrap_or(0);
        assert!(
            vis >= 6 * secs && vis <= 43_200,
            "timeout {secs}: visibility {vis}"
        );
    }
    assert_eq!(
        expr(&res["EventsQueue"]["Properties"]["VisibilityTimeout"]),
        "FindInMap:QueueVisibility,ByFunctionTimeout,Ref:Timeout"
    );
    // Reserved concurrency only when asked for (accounts with a limit of 10 cannot).
    assert_eq!(
        t["Parameters"]["ReservedConcurrency"]["Default"].as_u64(),
        Some(0)
    );
    assert!(
        expr(&res["ThumbnailFunction"]["Properties"]["ReservedConcurrentExecutions"])
            .starts_with("If:HasReservedConcurrency")
    );
    // Every alarm notifies the optional topic.
    let mut alarms = 0;
    for (name, r) in res.as_mapping().unwrap() {
        if r["Type"] == "AWS::CloudWatch::Alarm" {
            alarms += 1;
            assert!(
                expr(&r["Properties"]["AlarmActions"]).starts_with("If:HasAlarmTopic"),
                "{name:?} has no alarm action"
            );
        }
    }
    assert!(alarms >= 5);
}
