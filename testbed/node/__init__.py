"""A real Kubernetes node for the test bed, next to the control plane, in namespaces of its own.

One job per module, as the control plane's: ``assets`` finds (or builds and fetches) the node's binaries and
Debian packages, ``images`` makes the images (the pause image, a Debian base, the project's Dockerfile built
by buildah), ``sandbox`` makes the namespaces, ``relay`` carries TCP between them and the test process,
``config`` writes the components' configuration, ``node.Node`` starts and stops it all; ``python -m
testbed.node`` (``make node``) starts one from the shell.
"""
