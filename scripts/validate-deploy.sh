#!/usr/bin/env bash
# Validates the deployment recipes: the Kubernetes manifests in deploy/k8s/ against a pinned
# Kubernetes version's schemas (strict: an unknown field fails), and the GitHub Actions
# workflows against the workflow schema. Installs the two validators (pinned) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
kubernetes_version=1.33.0
python3 -m pip --version >/dev/null
if ! command -v kubernetes-validate >/dev/null || ! command -v check-jsonschema >/dev/null; then
    python3 -m pip install --quiet --root-user-action=ignore \
        kubernetes-validate==1.37.0 check-jsonschema==0.39.0
fi
kubernetes-validate --strict --quiet -k "$kubernetes_version" deploy/k8s/*.yaml
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
for script in deploy/k8s/*.sh; do bash -n "$script"; done
