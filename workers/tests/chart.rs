//! The chart's behaviour in a cluster, checked on its rendered objects and its rule files:
//! the NetworkPolicies of the CI values let a worker reach the broker (chosen by selectors or
//! by address) and an object store on a port other than 443, and nothing else; the values
//! accept a parent chart's `global` and require a broker URL; the alert rules pass
//! `promtool test rules` (tests/packaging/alerts_test.yaml).

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Command;

use common::chart::{objects, render_chart, repo};
use serde_json::Value;

/// Where a connection goes: a pod (its namespace's and its own labels) or an address
/// outside the cluster, and a TCP port.
struct Dest {
    namespace: Option<BTreeMap<String, String>>,
    pod: Option<BTreeMap<String, String>>,
    ip: Option<Ipv4Addr>,
    port: u16,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod_in(ns: &str, pod: &[(&str, &str)], port: u16) -> Dest {
    Dest {
        namespace: Some(labels(&[("kubernetes.io/metadata.name", ns)])),
        pod: Some(labels(pod)),
        ip: None,
        port,
    }
}

fn address(ip: &str, port: u16) -> Dest {
    Dest {
        namespace: None,
        pod: None,
        ip: Some(ip.parse().unwrap()),
        port,
    }
}

/// A label selector (matchLabels only; anything else fails the test, since this evaluator
/// does not know it).
fn selects(selector: &Value, l: &BTreeMap<String, String>) -> bool {
    for k in selector.as_object().unwrap().keys() {
        assert_eq!(
            k, "matchLabels",
            "selector form not evaluated here: {selector}"
        );
    }
    selector["matchLabels"].as_object().is_none_or(|m| {
        m.iter()
            .all(|(k, v)| l.get(k).map(String::as_str) == v.as_str())
    })
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap();
    let (net, bits): (Ipv4Addr, u32) = (net.parse().unwrap(), bits.parse().unwrap());
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Whether a NetworkPolicy peer admits `d`. Pods are matched by selectors only (ipBlock does
/// not select pods on every network plugin); addresses outside the cluster by ipBlock only.
/// A podSelector without a namespaceSelector means the policy's own namespace.
fn peer_admits(peer: &Value, d: &Dest, own_ns: &str) -> bool {
    if let Some(block) = peer.get("ipBlock") {
        let Some(ip) = d.ip else { return false };
        let except = block["except"].as_array().into_iter().flatten();
        return in_cidr(ip, block["cidr"].as_str().unwrap())
            && !except.into_iter().any(|c| in_cidr(ip, c.as_str().unwrap()));
    }
    let (Some(ns), Some(pod)) = (&d.namespace, &d.pod) else {
        return false;
    };
    let ns_ok = match peer.get("namespaceSelector") {
        Some(sel) => selects(sel, ns),
        None => ns.get("kubernetes.io/metadata.name").map(String::as_str) == Some(own_ns),
    };
    ns_ok && peer.get("podSelector").is_none_or(|sel| selects(sel, pod))
}

/// Whether the egress rules of the policies selecting `from` let it connect to `d` (no
/// policy with Egress selecting it: everything is allowed).
fn egress_allowed(policies: &[&Value], from: &BTreeMap<String, String>, d: &Dest) -> bool {
    let mine: Vec<&&Value> = policies
        .iter()
        .filter(|p| selects(&p["spec"]["podSelector"], from))
        .filter(|p| {
            p["spec"]["policyTypes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "Egress")
        })
        .collect();
    if mine.is_empty() {
        return true;
    }
    mine.iter().any(|p| {
        p["spec"]["egress"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| {
                let ports_ok = rule["ports"].as_array().is_none_or(|ports| {
                    ports.iter().any(|pt| {
                        pt["port"].as_u64() == Some(u64::from(d.port))
                            && pt["protocol"].as_str().unwrap_or("TCP") == "TCP"
                    })
                });
                let to_ok = rule["to"]
                    .as_array()
                    .is_none_or(|peers| peers.iter().any(|peer| peer_admits(peer, d, "weather")));
                ports_ok && to_ok
            })
    })
}

/// The labels of the pods of a rendered workload.
fn pod_labels(workload: &Value) -> BTreeMap<String, String> {
    let template = match workload["kind"].as_str() {
        Some("ScaledJob") => &workload["spec"]["jobTargetRef"]["template"],
        _ => &workload["spec"]["template"],
    };
    serde_json::from_value(template["metadata"]["labels"].clone()).unwrap()
}

/// The port of the S3 endpoint a rendered container is given.
fn s3_port(workload: &Value) -> u16 {
    let spec = match workload["kind"].as_str() {
        Some("ScaledJob") => &workload["spec"]["jobTargetRef"]["template"]["spec"],
        _ => &workload["spec"]["template"]["spec"],
    };
    let env = spec["containers"][0]["env"].as_array().unwrap();
    let url = env
        .iter()
        .find(|e| e["name"] == "TILECAST_S3_ENDPOINT")
        .and_then(|e| e["value"].as_str())
        .expect("an S3 endpoint");
    let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    host.rsplit_once(':')
        .map_or(443, |(_, p)| p.parse().unwrap())
}

#[test]
fn network_policies_let_work_through_and_nothing_else() {
    let rendered = render_chart();
    let rabbit = [("app.kubernetes.io/name", "rabbitmq")];
    // An in-cluster RabbitMQ chosen by namespace and pod selectors.
    let label = "no-keda-values.yaml";
    let policies = objects(&rendered, label, "NetworkPolicy");
    assert_eq!(policies.len(), 1, "{label}");
    let worker = pod_labels(objects(&rendered, label, "Deployment")[1]);
    for w in objects(&rendered, label, "Deployment") {
        let from = pod_labels(w);
        assert!(egress_allowed(
            &policies,
            &from,
            &pod_in("messaging", &rabbit, 5672)
        ));
        assert!(
            egress_allowed(&policies, &from, &address("10.96.0.10", 53)),
            "DNS"
        );
    }
    assert!(!egress_allowed(
        &policies,
        &worker,
        &pod_in("other", &rabbit, 5672)
    ));
    assert!(!egress_allowed(
        &policies,
        &worker,
        &pod_in("messaging", &[("app", "x")], 5672)
    ));
    assert!(!egress_allowed(
        &policies,
        &worker,
        &address("203.0.113.7", 443)
    ));

    // A broker outside by address and an in-cluster MinIO on :9000, the port of s3.endpoint.
    let label = "existing-secret-s3-values.yaml";
    let policies = objects(&rendered, label, "NetworkPolicy");
    assert_eq!(policies.len(), 1, "{label}");
    let minio = [("app", "minio")];
    let workloads: Vec<&Value> = objects(&rendered, label, "Deployment")
        .into_iter()
        .chain(objects(&rendered, label, "ScaledJob"))
        .collect();
    assert_eq!(workloads.len(), 2, "the chunker and the workers");
    for w in workloads {
        let from = pod_labels(w);
        let port = s3_port(w);
        assert_ne!(port, 443, "the CI values' store is on a non-443 port");
        assert!(
            egress_allowed(&policies, &from, &address("10.20.3.4", 5672)),
            "broker"
        );
        assert!(
            egress_allowed(&policies, &from, &pod_in("storage", &minio, port)),
            "store"
        );
        assert!(!egress_allowed(
            &policies,
            &from,
            &address("10.30.0.1", 5672)
        ));
        assert!(!egress_allowed(
            &policies,
            &from,
            &pod_in("storage", &minio, 22)
        ));
        assert!(!egress_allowed(
            &policies,
            &from,
            &pod_in("elsewhere", &minio, port)
        ));
    }
}

#[test]
fn values_accept_global_and_require_a_broker_url() {
    let rendered = render_chart();
    assert_eq!(
        rendered["with_global"],
        Value::Null,
        "{}",
        rendered["with_global"]
    );
    let unknown = rendered["with_unknown"]
        .as_str()
        .expect("an unknown value is refused");
    assert!(unknown.contains("notAValue"), "{unknown}");
    let err = rendered["defaults_without_broker"]
        .as_str()
        .expect("rendering without a broker URL fails");
    assert!(err.contains("rabbitmq.amqpUrl is required"), "{err}");
    // No Secret of the rendered sets holds the guest user.
    for (label, objs) in rendered["sets"].as_object().unwrap() {
        for o in objs
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "Secret")
        {
            assert!(!o.to_string().contains("guest:guest"), "{label}: {o}");
        }
    }
}

#[test]
fn alert_rules_pass_their_promtool_test_cases() {
    let tests = repo().join("tests/packaging/alerts_test.yaml");
    let o = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(&tests)
        .output()
        .expect("promtool (Debian package prometheus) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success() && text.contains("SUCCESS"), "{text}");
    // The cases cover each behaviour the rules promise.
    let cases = std::fs::read_to_string(&tests).unwrap();
    for alert in [
        "TilecastBacklogWithoutProgress",
        "TilecastNoSuccessfulRun",
        "TilecastJobsDeadLettered",
        "TilecastBrokerDown",
    ] {
        assert!(cases.contains(&format!("alertname: {alert}")), "{alert}");
    }
}
