module es-inference-operator/testbed/eck

go 1.26.0

// Only the module's files are used (config/crds/v1: ECK's CRDs), never its code: testbed/fetch-eck-crds.sh
// downloads the zip this go.sum pins and copies the CRDs into the cache.
require github.com/elastic/cloud-on-k8s/v3 v3.5.0
