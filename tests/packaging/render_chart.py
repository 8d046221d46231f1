#!/usr/bin/env python3
"""Renders the Helm chart with Helm v4 (helm-python-sdk) for the tests.

Usage: render_chart.py CHART_DIR OUT_JSON

Renders the chart for the default values (plus the one value they require, the broker URL)
and for every CHART_DIR/ci/*-values.yaml, as release "tilecast" in namespace "weather", and
writes OUT_JSON: {"sets": {label: [rendered objects]}, and the errors (or null) of rendering
the defaults without the broker URL, with a parent chart's `global` values, and with an
unknown top-level value}.
check_chart.py uses the same rendering; workers/tests/chart.rs reads OUT_JSON to simulate
KEDA's scaling and to evaluate the NetworkPolicies.
"""
import json
import os
import sys

import helm_python as helm
import yaml

# What the default values must be given: the broker URL (there is no default user).
REQUIRED = "rabbitmq:\n  amqpUrl: amqp://tilecast:secret@rabbitmq:5672/%2f\n"
DEFAULT_LABEL = "default values"


def value_sets(chart_dir):
    """(label, values) for the defaults and each ci/*-values.yaml."""
    ci = os.path.join(chart_dir, "ci")
    sets = [(DEFAULT_LABEL, helm.values_from_yaml(REQUIRED))]
    for f in sorted(os.listdir(ci)):
        if f.endswith("-values.yaml"):
            with open(os.path.join(ci, f)) as fh:
                sets.append((f, helm.values_from_yaml(fh.read())))
    return sets


def render(chart, values):
    """The rendered objects (NOTES.txt left out)."""
    rendered = chart.render(values, name="tilecast", namespace="weather", is_install=True)
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [d for d in yaml.safe_load_all(text) if d]
    return objects


def render_error(chart, values):
    """The error text when rendering fails, else None."""
    try:
        chart.render(values, name="tilecast", namespace="weather", is_install=True)
    except Exception as e:  # helm_python raises its own error types
        return str(e)
    return None


def main(chart_dir, out_json):
    chart = helm.Chart.load(chart_dir)
    out = {
        "sets": {label: render(chart, values) for label, values in value_sets(chart_dir)},
        "defaults_without_broker": render_error(chart, None),
        "with_global": render_error(chart, helm.values_from_yaml(REQUIRED + "global:\n  imageRegistry: r.example\n")),
        "with_unknown": render_error(chart, helm.values_from_yaml(REQUIRED + "notAValue: 1\n")),
    }
    with open(out_json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
