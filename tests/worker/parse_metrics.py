"""Parses a Prometheus text exposition (standard input) with Prometheus's
own client library and prints every sample as JSON: [name, labels, value].
Fails (exit 1) on anything the parser refuses."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = family.type
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
print(json.dumps({"families": families, "samples": samples}))
