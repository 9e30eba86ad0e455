# es-inference-operator. The two commands a newcomer needs:
#   make demo   - the whole story on a local control plane and the Elasticsearch emulator
#   make test   - lint, unit, emulator conformance and end-to-end tests
#   make test-fast - the inner loop: lint and every test that needs no control plane (nothing is built)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
ES_VERSION ?= 9.1.0
ES_PORT ?= 9200
ES_USER ?= elastic:changeme

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./emulator -e '.[test]'
	touch $@

.PHONY: setup
setup: $(STAMP)  ## create .venv with the pinned dependencies

.PHONY: envtest
envtest:  ## build or find kube-apiserver, etcd and kubectl; prints their folder last
	@bash testbed/build-controlplane.sh

.PHONY: lint
lint: $(STAMP)  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: test
test: $(STAMP)  ## the whole suite: lint, unit, emulator conformance, end to end (builds the control plane once)
	@$(MAKE) --no-print-directory lint
	@bash testbed/build-controlplane.sh >/dev/null
	@bash testbed/build-helm.sh >/dev/null
	@bash testbed/build-statuscheck.sh >/dev/null
	@bash testbed/build-promtool.sh >/dev/null
	@bash testbed/fetch-rest-api-spec.sh >/dev/null
	@bash testbed/build-node.sh >/dev/null
	@bash testbed/fetch-node-packages.sh >/dev/null
	@bash testbed/build-image.sh >/dev/null
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treated as a failure (check PYTEST_ARGS)" >&2; exit 1; fi; \
	exit $$rc

# The inner loop: the folders whose tests need no control plane, minus the e2e ones among them. Not tests/deploy
# (it builds a wheel) nor tests/helm (it needs the helm binary); `make test` runs everything.
FAST_TESTS := tests/unit tests/reconciler tests/emulator tests/testbed tests/argocd tests/docs

.PHONY: test-fast
test-fast: $(STAMP)  ## lint, unit, emulator conformance, test bed: no control plane, nothing built (well under a minute)
	@$(MAKE) --no-print-directory lint
	@set +e; $(PY) -m pytest -m "not e2e" $(FAST_TESTS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treated as a failure (check PYTEST_ARGS)" >&2; exit 1; fi; \
	exit $$rc

CHART := charts/es-inference-operator

.PHONY: chart-sync
chart-sync:  ## copy crds/, policies/ and monitoring/ into the chart's files/ and the Kustomize components (tests fail when they differ)
	mkdir -p $(CHART)/files/crds
	cp crds/inference.es-operator.dev_inferenceendpoints.yaml $(CHART)/files/crds/
	@set -e; for policy in policies/*/; do \
	  mkdir -p $(CHART)/files/$$policy; \
	  for f in $$policy*.yaml; do [ "$$(basename $$f)" = kustomization.yaml ] || cp $$f $(CHART)/files/$$policy; done; \
	done
	mkdir -p $(CHART)/files/monitoring
	cp monitoring/alerts.yaml monitoring/dashboard.json $(CHART)/files/monitoring/
	cp monitoring/dashboard.json manifests/components/grafana-dashboard/dashboard.json
	{ printf '%s\n' "# Written by make chart-sync from monitoring/alerts.yaml: edit that file, not this one." \
	  "apiVersion: monitoring.coreos.com/v1" "kind: PrometheusRule" "metadata:" "  name: es-inference-operator" \
	  "  namespace: es-inference-operator" "spec:"; \
	  sed -e '/^#/d' -e '/./s/^/  /' monitoring/alerts.yaml; } >manifests/components/prometheusrule/prometheusrule.yaml

.PHONY: statuscheck
statuscheck:  ## build or find the kstatus / Flux CEL / Argo CD Lua checker the status tests run; prints its path
	@bash testbed/build-statuscheck.sh

.PHONY: promtool
promtool:  ## build or find the promtool that checks the alerts, the dashboard's queries and a scrape; prints its path
	@bash testbed/build-promtool.sh

.PHONY: rest-api-spec
rest-api-spec:  ## fetch or find Elasticsearch's REST API spec the emulator is held to; prints its api/ folder
	@bash testbed/fetch-rest-api-spec.sh

.PHONY: helm
helm:  ## build or find the helm CLI the chart tests use; prints its path
	@bash testbed/build-helm.sh

.PHONY: node
node: $(STAMP)  ## build or find the node (kubelet, containerd, the image from the Dockerfile), start it, say what and how long; Ctrl-C stops it
	@bash testbed/build-controlplane.sh >/dev/null
	$(PY) -m testbed.node $(NODE_ARGS)

.PHONY: demo
demo: $(STAMP)  ## start a control plane and the emulator, run the operator, play the deletion story
	@bash testbed/build-controlplane.sh >/dev/null
	$(PY) -m testbed.demo

LOCAL_ENV ?= .testbed/env

.PHONY: controlplane
controlplane: $(STAMP)  ## a local control plane with the CRD, until Ctrl-C; `source .testbed/env` reaches it (README: Try it locally)
	@bash testbed/build-controlplane.sh >/dev/null
	$(PY) -m testbed --env-file $(LOCAL_ENV)

.PHONY: run
run: $(STAMP)  ## run the operator against the current kubeconfig (ELASTICSEARCH_URL etc. in the environment)
	$(PY) -m es_inference_operator

.PHONY: es-emulator
es-emulator: $(STAMP)  ## serve the Elasticsearch emulator in the foreground (ES_VERSION, ES_PORT, ES_USER)
	$(PY) -m es_emulator --host 127.0.0.1 --port $(ES_PORT) --version $(ES_VERSION) --user $(ES_USER)

.PHONY: bench
bench: $(STAMP)  ## apply->Ready, force->gone (20 runs); N=10000: scale (BENCH=failover: a takeover); BLOCKED=500 N=1000: waiting deletions
	@bash testbed/build-controlplane.sh >/dev/null
	$(PY) -m testbed.$(if $(BLOCKED),bench_blocked --blocked $(BLOCKED) --creates $(or $(N),1000) $(BENCH_ARGS),$(if $(N),$(if $(filter failover,$(BENCH)),bench_failover,bench_scale) --scale $(N) $(BENCH_ARGS),bench))

.PHONY: clean
clean:  ## remove the virtualenv and caches in the tree (the control plane cache outside it stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
