#!/usr/bin/env python3
"""Static checks of the Helm chart, run by workers/tests/packaging.rs.

Usage: check_chart.py CHART_DIR OUT_JSON

For the default values (given the broker URL they require; rendering them without it must
fail with a message naming rabbitmq.amqpUrl) and every charts/tilecast/ci/*-values.yaml:
  * renders the chart with Helm v4 (helm-python-sdk) and runs `helm lint --strict`;
  * validates every rendered Kubernetes object with kubernetes-validate in strict mode
    against a current Kubernetes version (and the ScaledJob's jobTargetRef as a batch/v1
    Job, so the pods KEDA creates are checked too);
  * checks KEDA and Prometheus-operator objects (CRDs, which kubernetes-validate does not
    know) against the field names of their documented specs;
  * checks every container runs as non-root with a read-only root file system, drops all
    capabilities, uses the RuntimeDefault seccomp profile and has resource requests/limits.
Writes OUT_JSON: the containers found (values file, object, container, args, env names) for
the Rust test to run the tested binary with the same arguments. Exits 1 on any finding.
"""
import json
import os
import subprocess
import sys
import tempfile

import helm_python as helm
import yaml

from render_chart import render, render_error, value_sets

KUBERNETES_VERSION = "1.33.0"

# Field names of the KEDA 2.x specs (keda.sh/v1alpha1), from KEDA's documentation of
# ScaledJob, ScaledObject, TriggerAuthentication and the rabbitmq scaler.
KEDA = {
    "ScaledJob": {"jobTargetRef", "pollingInterval", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
                  "envSourceContainerName", "minReplicaCount", "maxReplicaCount", "rolloutStrategy", "rollout",
                  "scalingStrategy", "triggers"},
    "ScaledObject": {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                     "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"},
    "TriggerAuthentication": {"podIdentity", "secretTargetRef", "env", "hashiCorpVault", "azureKeyVault",
                              "awsSecretManager", "gcpSecretManager", "configMapTargetRef", "boundServiceAccountToken"},
}
ROLLOUT = {"strategy": {"default", "gradual"}, "propagationPolicy": {"foreground", "background"}}
SCALING_STRATEGY = {"strategy", "customScalingQueueLengthDeduction", "customScalingRunningJobPercentage",
                    "pendingPodConditions", "multipleScalersCalculation"}
SCALE_TARGET_REF = {"name", "apiVersion", "kind", "envSourceContainerName"}
TRIGGER = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
AUTH_REF = {"name", "kind"}
RABBITMQ_METADATA = {"host", "hostFromEnv", "protocol", "mode", "value", "activationValue", "queueName",
                     "vhostName", "useRegex", "excludeUnacknowledged", "pageSize", "operation", "timeout",
                     "unsafeSsl"}
SECRET_TARGET_REF = {"parameter", "name", "key"}
MONITORING = {
    "ServiceMonitor": {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"},
    "PrometheusRule": {"groups"},
}
ENDPOINT = {"port", "targetPort", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings"}
RULE = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}

findings = []


def fail(where, msg):
    findings.append(f"{where}: {msg}")


def only(where, obj, allowed):
    if not isinstance(obj, dict):
        fail(where, f"expected a mapping, got {type(obj).__name__}")
        return
    for k in obj:
        if k not in allowed:
            fail(where, f"unknown field {k!r} (allowed: {sorted(allowed)})")


def validate_k8s(where, obj, tmp):
    path = os.path.join(tmp, "obj.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(obj, f)
    exe = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    r = subprocess.run([exe, "--strict", "--quiet", "-k", KUBERNETES_VERSION, path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(where, f"kubernetes-validate: {r.stdout.strip()} {r.stderr.strip()}")


def check_keda(where, obj, tmp):
    kind, spec = obj["kind"], obj.get("spec", {})
    only(where, spec, KEDA[kind])
    for i, t in enumerate(spec.get("triggers", [])):
        w = f"{where}.triggers[{i}]"
        only(w, t, TRIGGER)
        only(w + ".authenticationRef", t.get("authenticationRef", {}), AUTH_REF)
        if t.get("type") == "rabbitmq":
            md = t.get("metadata", {})
            only(w + ".metadata", md, RABBITMQ_METADATA)
            # A ScaledJob counts ready messages over AMQP with the default strategy (a running
            # Job stands for the messages it takes); a ScaledObject (an HPA) counts in-flight
            # messages too, through the management API, so busy workers are not scaled away.
            want = "amqp" if kind == "ScaledJob" else "http"
            if md.get("protocol") != want:
                fail(w, f"the rabbitmq trigger of a {kind} must use protocol {want}")
            if md.get("excludeUnacknowledged"):
                fail(w, "excludeUnacknowledged is not used (AMQP counts ready messages only)")
            if md.get("mode") not in ("QueueLength", "MessageRate"):
                fail(w, f"mode {md.get('mode')!r}")
            if not md.get("queueName"):
                fail(w, "queueName missing")
        else:
            fail(w, f"unexpected trigger type {t.get('type')!r}")
    if kind == "ScaledJob":
        for k, v in spec.get("rollout", {}).items():
            if k not in ROLLOUT or v not in ROLLOUT[k]:
                fail(where + ".rollout", f"{k}: {v!r}")
        only(where + ".scalingStrategy", spec.get("scalingStrategy", {}), SCALING_STRATEGY)
        if spec.get("scalingStrategy", {}).get("strategy") != "default":
            fail(where, "scalingStrategy must be default (matched to a ready-only count and maxJobs per Job)")
        jt = spec.get("jobTargetRef", {})
        if jt.get("backoffLimit") != 0:
            fail(where, "jobTargetRef.backoffLimit must be 0")
        if jt.get("template", {}).get("spec", {}).get("restartPolicy") != "Never":
            fail(where, "restartPolicy must be Never")
        if not jt.get("activeDeadlineSeconds"):
            fail(where, "activeDeadlineSeconds missing")
        ignored = set()
        for rule in jt.get("podFailurePolicy", {}).get("rules", []):
            if rule.get("action") == "Ignore":
                ignored |= set(rule.get("onExitCodes", {}).get("values", []))
        if not {75, 124, 143} <= ignored:
            fail(where, f"podFailurePolicy must ignore exits 75, 124 and 143 (ignores {sorted(ignored)})")
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": obj["metadata"]["name"]}, "spec": jt}
        validate_k8s(where + ".jobTargetRef", job, tmp)
        check_pod(where, jt.get("template", {}).get("spec", {}))
    if kind == "ScaledObject":
        only(where + ".scaleTargetRef", spec.get("scaleTargetRef", {}), SCALE_TARGET_REF)
    if kind == "TriggerAuthentication":
        for i, r in enumerate(spec.get("secretTargetRef", [])):
            only(f"{where}.secretTargetRef[{i}]", r, SECRET_TARGET_REF)


def check_monitoring(where, obj):
    kind, spec = obj["kind"], obj.get("spec", {})
    only(where, spec, MONITORING[kind])
    if kind == "ServiceMonitor":
        for i, e in enumerate(spec.get("endpoints", [])):
            only(f"{where}.endpoints[{i}]", e, ENDPOINT)
    else:
        for g in spec.get("groups", []):
            for i, r in enumerate(g.get("rules", [])):
                only(f"{where}.groups.{g.get('name')}[{i}]", r, RULE)


def check_pod(where, pod):
    sc = pod.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True or sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod securityContext must set runAsNonRoot and the RuntimeDefault seccomp profile")
    for c in pod.get("containers", []):
        w = f"{where}/{c.get('name')}"
        csc = c.get("securityContext", {})
        if csc.get("readOnlyRootFilesystem") is not True or csc.get("allowPrivilegeEscalation") is not False:
            fail(w, "containers need readOnlyRootFilesystem and no privilege escalation")
        if csc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(w, "containers must drop ALL capabilities")
        res = c.get("resources", {})
        if not res.get("requests") or not res.get("limits"):
            fail(w, "resource requests and limits required")


def main(chart_dir, out_json):
    chart = helm.Chart.load(chart_dir)
    sets = value_sets(chart_dir)
    if len(sets) < 4:
        fail(chart_dir, "need the default values and at least three values files in ci/")
    err = render_error(chart, None)
    if err is None or "rabbitmq.amqpUrl is required" not in err:
        fail("default values without a broker URL", f"must fail naming rabbitmq.amqpUrl, got {err!r}")
    containers = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, values in sets:
            report = helm.lint(chart_dir, values, strict=True)
            for m in report["messages"]:
                fail(label, f"helm lint: {m}")
            for e in report["errors"]:
                fail(label, f"helm lint: {e}")
            objects = render(chart, values)
            if not objects:
                fail(label, "nothing rendered")
            for obj in objects:
                where = f"{label}: {obj['kind']}/{obj['metadata']['name']}"
                api = obj["apiVersion"]
                if api.startswith("keda.sh/"):
                    check_keda(where, obj, tmp)
                elif api.startswith("monitoring.coreos.com/"):
                    check_monitoring(where, obj)
                else:
                    validate_k8s(where, obj, tmp)
                pod = None
                if obj["kind"] in ("Deployment", "Job"):
                    pod = obj["spec"]["template"]["spec"]
                elif obj["kind"] == "ScaledJob":
                    pod = obj["spec"]["jobTargetRef"]["template"]["spec"]
                if pod is not None:
                    check_pod(where, pod)
                    for c in pod["containers"]:
                        containers.append({
                            "values": label,
                            "object": f"{obj['kind']}/{obj['metadata']['name']}",
                            "container": c["name"],
                            "image": c["image"],
                            "args": c.get("args", []),
                            "env": [e["name"] for e in c.get("env", [])],
                        })
    with open(out_json, "w") as f:
        json.dump({"containers": containers, "findings": findings}, f, indent=2)
    for x in findings:
        print(x)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
