module es-inference-operator/testbed/prometheus-operator

go 1.26.0

// Only the module's files are used (example/prometheus-operator-crd: the Prometheus Operator's CRDs), never its
// code: testbed/fetch-prometheus-operator-crds.sh downloads the zip this go.sum pins and copies the CRDs into the
// cache. The version is PROMETHEUS_OPERATOR_VERSION in testbed/versions.env.
require github.com/prometheus-operator/prometheus-operator v0.85.0
