"""The public names of the operator (see the README's API contract). Users, policies and Argo CD match on them."""

GROUP = "inference.es-operator.dev"
VERSION = "v1alpha1"
PLURAL = "inferenceendpoints"
KIND = "InferenceEndpoint"

FINALIZER = f"{GROUP}/finalizer"
# On a connection Secret (elasticsearchRef.secretName, credentialsSecretName) while an endpoint made through it
# exists: its deletion (a namespace deleted whole) waits until the endpoints are deleted, as Kubernetes protects a
# PersistentVolumeClaim in use (kubernetes.io/pvc-protection).
SECRET_IN_USE_FINALIZER = f"{GROUP}/secret-in-use"

# Either key means "force": the bare one is what `kubectl annotate iep NAME force=true` writes.
FORCE_ANNOTATION = f"{GROUP}/force"
FORCE_ANNOTATION_BARE = "force"
FORCE_ANNOTATIONS = (FORCE_ANNOTATION, FORCE_ANNOTATION_BARE)

# Consent to take over an endpoint the resource did not create (made by curl, Terraform, an Orphan deletion).
# Only the exact value "true" counts; there is no bare-key alias.
ADOPT_ANNOTATION = f"{GROUP}/adopt"

# A namespace annotation that sets the default deletionPolicy of the resources in it.
NAMESPACE_DELETION_POLICY_ANNOTATION = f"{GROUP}/deletion-policy"

# Trust (README "Security"): a Secret is used for a resource's references only with this label set to "true";
# an ECK Elasticsearch accepts references from other namespaces only when this annotation lists them ("*": all).
ALLOW_REFERENCE_LABEL = f"{GROUP}/allow-reference"
ALLOWED_NAMESPACES_ANNOTATION = f"{GROUP}/allowed-namespaces"

# Kopf's own bookkeeping lives under a prefix of its own: under GROUP it would hide the force
# annotation from kopf's change detection (kopf strips its storage prefix from the diff-base).
KOPF_STORAGE_PREFIX = f"operator.{GROUP}"

# Condition types.
READY = "Ready"
SYNCED = "Synced"
DELETION_BLOCKED = "DeletionBlocked"
CONFLICT = "Conflict"
RECONCILING = "Reconciling"
STALLED = "Stalled"

DELETION_POLICY_DELETE = "Delete"
DELETION_POLICY_ORPHAN = "Orphan"
DELETION_POLICIES = (DELETION_POLICY_DELETE, DELETION_POLICY_ORPHAN)
