"""Test bed for es-inference-operator: a real Kubernetes control plane for tests and demos.

Split as controller-runtime's envtest is: ``binaries`` finds (or builds, through ``build-controlplane.sh``)
kube-apiserver, etcd and kubectl; ``certificates`` mints throw-away credentials; ``process`` supervises one
process; ``controlplane.ControlPlane`` composes them; ``python -m testbed`` starts one from the shell.
Import from those modules (this package stays import-light).
"""
