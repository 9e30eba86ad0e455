"""Test bed for es-inference-operator: a real Kubernetes control plane for tests and demos.

``testbed.controlplane.ControlPlane`` starts etcd and kube-apiserver (built by ``build-controlplane.sh``);
import it from there (this package stays import-light).
"""
