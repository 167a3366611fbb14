"""OpenAPI v3 documents of the API server stand-in.

    builtin_documents() -> {"<group>/<version>" or "v1": document}   core/v1, apps/v1,
        coordination.k8s.io/v1, events.k8s.io/v1, rbac.authorization.k8s.io/v1,
        apiextensions.k8s.io/v1 (paths with fieldValidation-aware PATCH operations and complete
        component schemas carrying x-kubernetes-patch-strategy/-merge-key and list types).
    builtin_document(group, version) -> one of those documents.
    crd_document(group, version, crds) -> the document kube publishes for a CRD group/version.
    document_path(group, version) -> "/openapi/v3/api/v1" or "/openapi/v3/apis/<g>/<v>".
    patch_meta(group, version, kind) -> {"spec.template.spec.containers": {"strategy": "merge",
        "mergeKey": "name", "listType": "map", "listMapKeys": ["name"]}, ...}; list items do not
        add a path segment ("spec.template.spec.containers.ports").
    builtin_schema(group, version, kind) -> the kind's schema with every $ref resolved (free-form
        values marked x-kubernetes-preserve-unknown-fields), usable with schema.prune to find
        unknown fields of built-in objects.

The schemas are generated from the compact field tables below (one line per field:
`name type [flags]`). Flags: `!` required, `merge=KEY` patch strategy merge with merge key,
`strategy=S` other patch strategies, `map=K1,K2` list-type map, `set`, `atomic` list type,
`matomic` map-type atomic on the field, `default=JSON`.
Pure: no I/O; documents are rebuilt on each call (callers cache them).
"""

import copy
import json

K8S_VERSION = "v1.32.0"

_PFX = {
    "meta.": "io.k8s.apimachinery.pkg.apis.meta.v1.",
    "core.": "io.k8s.api.core.v1.",
    "apps.": "io.k8s.api.apps.v1.",
    "coord.": "io.k8s.api.coordination.v1.",
    "events.": "io.k8s.api.events.v1.",
    "rbac.": "io.k8s.api.rbac.v1.",
    "apiext.": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.",
    "autoscaling.": "io.k8s.api.autoscaling.v1.",
}

# Leaf schemas referenced by name.
_SPECIAL = {
    "meta.Time": {"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers.", "type": "string", "format": "date-time"},
    "meta.MicroTime": {"description": "MicroTime is version of Time with microsecond level precision.", "type": "string", "format": "date-time"},
    "meta.FieldsV1": {"description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.", "type": "object"},
    "meta.Patch": {"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"},
    "quantity": {"description": "Quantity is a fixed-point representation of a number.", "oneOf": [{"type": "string"}, {"type": "number"}]},
    "intstr": {"description": "IntOrString is a type that can hold an int32 or a string.", "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
    "rawext": {"description": "RawExtension is used to hold extensions in external versions.", "type": "object"},
    "apiext.JSON": {"description": "JSON represents any valid JSON value. These types are supported: bool, int64, float64, string, []interface{}, map[string]interface{} and nil."},
    "apiext.JSONSchemaPropsOrArray": {"description": "JSONSchemaPropsOrArray represents a value that can either be a JSONSchemaProps or an array of JSONSchemaProps. Mainly here for serialization purposes."},
    "apiext.JSONSchemaPropsOrBool": {"description": "JSONSchemaPropsOrBool represents JSONSchemaProps or a boolean value. Defaults to true for the boolean property."},
    "apiext.JSONSchemaPropsOrStringArray": {"description": "JSONSchemaPropsOrStringArray represents a JSONSchemaProps or a string array."},
}
_SPECIAL_NAMES = {"quantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
                  "intstr": "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                  "rawext": "io.k8s.apimachinery.pkg.runtime.RawExtension"}
_FREEFORM = {"meta.FieldsV1", "meta.Patch", "rawext", "apiext.JSON", "apiext.JSONSchemaPropsOrArray",
             "apiext.JSONSchemaPropsOrBool", "apiext.JSONSchemaPropsOrStringArray"}

# ---------------------------------------------------------------------------------------------
# field tables

_T = {}


def _def(name, body, atomic=False, gvk=None, desc=None):
    _T[name] = (body, atomic, gvk, desc)


_def("meta.ObjectMeta", """
annotations map[string]
creationTimestamp meta.Time
deletionGracePeriodSeconds int64
deletionTimestamp meta.Time
finalizers []string merge= set
generateName string
generation int64
labels map[string]
managedFields []meta.ManagedFieldsEntry atomic
name string
namespace string
ownerReferences []meta.OwnerReference merge=uid map=uid
resourceVersion string
selfLink string
uid string
""", desc="ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.")
_def("meta.OwnerReference", """
apiVersion string !
blockOwnerDeletion boolean
controller boolean
kind string !
name string !
uid string !
""", atomic=True)
_def("meta.ManagedFieldsEntry", """
apiVersion string
fieldsType string
fieldsV1 meta.FieldsV1
manager string
operation string
subresource string
time meta.Time
""")
_def("meta.LabelSelector", """
matchExpressions []meta.LabelSelectorRequirement atomic
matchLabels map[string]
""", atomic=True)
_def("meta.LabelSelectorRequirement", """
key string !
operator string !
values []string atomic
""")
_def("meta.ListMeta", """
continue string
remainingItemCount int64
resourceVersion string
selfLink string
""")
_def("meta.Condition", """
lastTransitionTime meta.Time !
message string !
observedGeneration int64
reason string !
status string !
type string !
""")
_def("meta.Status", """
apiVersion string
code int32
details meta.StatusDetails
kind string
message string
metadata meta.ListMeta default={}
reason string
status string
""")
_def("meta.StatusDetails", """
causes []meta.StatusCause atomic
group string
kind string
name string
retryAfterSeconds int32
uid string
""")
_def("meta.StatusCause", """
field string
message string
reason string
""")
_def("meta.DeleteOptions", """
apiVersion string
dryRun []string atomic
gracePeriodSeconds int64
ignoreStoreReadErrorWithClusterBreakingPotential boolean
kind string
orphanDependents boolean
preconditions meta.Preconditions
propagationPolicy string
""")
_def("meta.Preconditions", """
resourceVersion string
uid string
""")
_def("meta.WatchEvent", """
object rawext !
type string !
""")

# ---- core/v1: pod template and its parts
_CONTAINER = """
args []string atomic
command []string atomic
env []core.EnvVar merge=name map=name
envFrom []core.EnvFromSource atomic
image string
imagePullPolicy string
lifecycle core.Lifecycle
livenessProbe core.Probe
name string !
ports []core.ContainerPort merge=containerPort map=containerPort,protocol
readinessProbe core.Probe
resizePolicy []core.ContainerResizePolicy atomic
resources core.ResourceRequirements
restartPolicy string
securityContext core.SecurityContext
startupProbe core.Probe
stdin boolean
stdinOnce boolean
terminationMessagePath string
terminationMessagePolicy string
tty boolean
volumeDevices []core.VolumeDevice merge=devicePath map=devicePath
volumeMounts []core.VolumeMount merge=mountPath map=mountPath
workingDir string
"""
_def("core.Container", _CONTAINER)
_def("core.EphemeralContainer", _CONTAINER + "targetContainerName string\n")
_def("core.ContainerPort", """
containerPort int32 !
hostIP string
hostPort int32
name string
protocol string default="TCP"
""")
_def("core.EnvVar", """
name string !
value string
valueFrom core.EnvVarSource
""")
_def("core.EnvVarSource", """
configMapKeyRef core.ConfigMapKeySelector
fieldRef core.ObjectFieldSelector
resourceFieldRef core.ResourceFieldSelector
secretKeyRef core.SecretKeySelector
""")
_def("core.ConfigMapKeySelector", """
key string !
name string default=""
optional boolean
""", atomic=True)
_def("core.SecretKeySelector", """
key string !
name string default=""
optional boolean
""", atomic=True)
_def("core.ObjectFieldSelector", """
apiVersion string
fieldPath string !
""", atomic=True)
_def("core.ResourceFieldSelector", """
containerName string
divisor quantity
resource string !
""", atomic=True)
_def("core.EnvFromSource", """
configMapRef core.ConfigMapEnvSource
prefix string
secretRef core.SecretEnvSource
""")
_def("core.ConfigMapEnvSource", """
name string default=""
optional boolean
""")
_def("core.SecretEnvSource", """
name string default=""
optional boolean
""")
_def("core.ResourceRequirements", """
claims []core.ResourceClaim map=name
limits map[quantity]
requests map[quantity]
""")
_def("core.ResourceClaim", """
name string !
request string
""")
_def("core.VolumeResourceRequirements", """
limits map[quantity]
requests map[quantity]
""")
_def("core.ContainerResizePolicy", """
resourceName string !
restartPolicy string !
""")
_def("core.VolumeMount", """
mountPath string !
mountPropagation string
name string !
readOnly boolean
recursiveReadOnly string
subPath string
subPathExpr string
""")
_def("core.VolumeDevice", """
devicePath string !
name string !
""")
_def("core.Probe", """
exec core.ExecAction
failureThreshold int32
grpc core.GRPCAction
httpGet core.HTTPGetAction
initialDelaySeconds int32
periodSeconds int32
successThreshold int32
tcpSocket core.TCPSocketAction
terminationGracePeriodSeconds int64
timeoutSeconds int32
""")
_def("core.ExecAction", """
command []string atomic
""")
_def("core.HTTPGetAction", """
host string
httpHeaders []core.HTTPHeader atomic
path string
port intstr !
scheme string
""")
_def("core.HTTPHeader", """
name string !
value string !
""")
_def("core.TCPSocketAction", """
host string
port intstr !
""")
_def("core.GRPCAction", """
port int32 !
service string default=""
""")
_def("core.SleepAction", """
seconds int64 !
""")
_def("core.Lifecycle", """
postStart core.LifecycleHandler
preStop core.LifecycleHandler
""")
_def("core.LifecycleHandler", """
exec core.ExecAction
httpGet core.HTTPGetAction
sleep core.SleepAction
tcpSocket core.TCPSocketAction
""")
_def("core.SecurityContext", """
allowPrivilegeEscalation boolean
appArmorProfile core.AppArmorProfile
capabilities core.Capabilities
privileged boolean
procMount string
readOnlyRootFilesystem boolean
runAsGroup int64
runAsNonRoot boolean
runAsUser int64
seLinuxOptions core.SELinuxOptions
seccompProfile core.SeccompProfile
windowsOptions core.WindowsSecurityContextOptions
""")
_def("core.Capabilities", """
add []string atomic
drop []string atomic
""")
_def("core.SELinuxOptions", """
level string
role string
type string
user string
""")
_def("core.WindowsSecurityContextOptions", """
gmsaCredentialSpec string
gmsaCredentialSpecName string
hostProcess boolean
runAsUserName string
""")
_def("core.SeccompProfile", """
localhostProfile string
type string !
""")
_def("core.AppArmorProfile", """
localhostProfile string
type string !
""")
_def("core.PodSecurityContext", """
appArmorProfile core.AppArmorProfile
fsGroup int64
fsGroupChangePolicy string
runAsGroup int64
runAsNonRoot boolean
runAsUser int64
seLinuxChangePolicy string
seLinuxOptions core.SELinuxOptions
seccompProfile core.SeccompProfile
supplementalGroups []int64 atomic
supplementalGroupsPolicy string
sysctls []core.Sysctl atomic
windowsOptions core.WindowsSecurityContextOptions
""")
_def("core.Sysctl", """
name string !
value string !
""")
_def("core.Affinity", """
nodeAffinity core.NodeAffinity
podAffinity core.PodAffinity
podAntiAffinity core.PodAntiAffinity
""")
_def("core.NodeAffinity", """
preferredDuringSchedulingIgnoredDuringExecution []core.PreferredSchedulingTerm atomic
requiredDuringSchedulingIgnoredDuringExecution core.NodeSelector
""")
_def("core.NodeSelector", """
nodeSelectorTerms []core.NodeSelectorTerm atomic !
""", atomic=True)
_def("core.NodeSelectorTerm", """
matchExpressions []core.NodeSelectorRequirement atomic
matchFields []core.NodeSelectorRequirement atomic
""", atomic=True)
_def("core.NodeSelectorRequirement", """
key string !
operator string !
values []string atomic
""")
_def("core.PreferredSchedulingTerm", """
preference core.NodeSelectorTerm !
weight int32 !
""")
_def("core.PodAffinity", """
preferredDuringSchedulingIgnoredDuringExecution []core.WeightedPodAffinityTerm atomic
requiredDuringSchedulingIgnoredDuringExecution []core.PodAffinityTerm atomic
""")
_def("core.PodAntiAffinity", """
preferredDuringSchedulingIgnoredDuringExecution []core.WeightedPodAffinityTerm atomic
requiredDuringSchedulingIgnoredDuringExecution []core.PodAffinityTerm atomic
""")
_def("core.PodAffinityTerm", """
labelSelector meta.LabelSelector
matchLabelKeys []string atomic
mismatchLabelKeys []string atomic
namespaceSelector meta.LabelSelector
namespaces []string atomic
topologyKey string !
""")
_def("core.WeightedPodAffinityTerm", """
podAffinityTerm core.PodAffinityTerm !
weight int32 !
""")
_def("core.Toleration", """
effect string
key string
operator string
tolerationSeconds int64
value string
""")
_def("core.HostAlias", """
hostnames []string atomic
ip string !
""")
_def("core.PodDNSConfig", """
nameservers []string atomic
options []core.PodDNSConfigOption atomic
searches []string atomic
""")
_def("core.PodDNSConfigOption", """
name string
value string
""")
_def("core.PodReadinessGate", """
conditionType string !
""")
_def("core.TopologySpreadConstraint", """
labelSelector meta.LabelSelector
matchLabelKeys []string atomic
maxSkew int32 !
minDomains int32
nodeAffinityPolicy string
nodeTaintsPolicy string
topologyKey string !
whenUnsatisfiable string !
""")
_def("core.PodOS", """
name string !
""")
_def("core.PodSchedulingGate", """
name string !
""")
_def("core.PodResourceClaim", """
name string !
resourceClaimName string
resourceClaimTemplateName string
""")
_def("core.LocalObjectReference", """
name string default=""
""", atomic=True)
_def("core.TypedLocalObjectReference", """
apiGroup string
kind string !
name string !
""", atomic=True)
_def("core.TypedObjectReference", """
apiGroup string
kind string !
name string !
namespace string
""")
_def("core.ObjectReference", """
apiVersion string
fieldPath string
kind string
name string
namespace string
resourceVersion string
uid string
""", atomic=True)
_def("core.Volume", """
awsElasticBlockStore core.AWSElasticBlockStoreVolumeSource
azureDisk core.AzureDiskVolumeSource
azureFile core.AzureFileVolumeSource
cephfs core.CephFSVolumeSource
cinder core.CinderVolumeSource
configMap core.ConfigMapVolumeSource
csi core.CSIVolumeSource
downwardAPI core.DownwardAPIVolumeSource
emptyDir core.EmptyDirVolumeSource
ephemeral core.EphemeralVolumeSource
fc core.FCVolumeSource
flexVolume core.FlexVolumeSource
flocker core.FlockerVolumeSource
gcePersistentDisk core.GCEPersistentDiskVolumeSource
gitRepo core.GitRepoVolumeSource
glusterfs core.GlusterfsVolumeSource
hostPath core.HostPathVolumeSource
image core.ImageVolumeSource
iscsi core.ISCSIVolumeSource
name string !
nfs core.NFSVolumeSource
persistentVolumeClaim core.PersistentVolumeClaimVolumeSource
photonPersistentDisk core.PhotonPersistentDiskVolumeSource
portworxVolume core.PortworxVolumeSource
projected core.ProjectedVolumeSource
quobyte core.QuobyteVolumeSource
rbd core.RBDVolumeSource
scaleIO core.ScaleIOVolumeSource
secret core.SecretVolumeSource
storageos core.StorageOSVolumeSource
vsphereVolume core.VsphereVirtualDiskVolumeSource
""")
_def("core.AWSElasticBlockStoreVolumeSource", "fsType string\npartition int32\nreadOnly boolean\nvolumeID string !\n")
_def("core.AzureDiskVolumeSource", "cachingMode string\ndiskName string !\ndiskURI string !\nfsType string\nkind string\nreadOnly boolean\n")
_def("core.AzureFileVolumeSource", "readOnly boolean\nsecretName string !\nshareName string !\n")
_def("core.CephFSVolumeSource", "monitors []string atomic !\npath string\nreadOnly boolean\nsecretFile string\nsecretRef core.LocalObjectReference\nuser string\n")
_def("core.CinderVolumeSource", "fsType string\nreadOnly boolean\nsecretRef core.LocalObjectReference\nvolumeID string !\n")
_def("core.FCVolumeSource", "fsType string\nlun int32\nreadOnly boolean\ntargetWWNs []string atomic\nwwids []string atomic\n")
_def("core.FlexVolumeSource", "driver string !\nfsType string\noptions map[string]\nreadOnly boolean\nsecretRef core.LocalObjectReference\n")
_def("core.FlockerVolumeSource", "datasetName string\ndatasetUUID string\n")
_def("core.GCEPersistentDiskVolumeSource", "fsType string\npartition int32\npdName string !\nreadOnly boolean\n")
_def("core.GitRepoVolumeSource", "directory string\nrepository string !\nrevision string\n")
_def("core.GlusterfsVolumeSource", "endpoints string !\npath string !\nreadOnly boolean\n")
_def("core.ISCSIVolumeSource", "chapAuthDiscovery boolean\nchapAuthSession boolean\nfsType string\ninitiatorName string\niqn string !\niscsiInterface string default=\"default\"\nlun int32 !\nportals []string atomic\nreadOnly boolean\nsecretRef core.LocalObjectReference\ntargetPortal string !\n")
_def("core.PhotonPersistentDiskVolumeSource", "fsType string\npdID string !\n")
_def("core.PortworxVolumeSource", "fsType string\nreadOnly boolean\nvolumeID string !\n")
_def("core.QuobyteVolumeSource", "group string\nreadOnly boolean\nregistry string !\ntenant string\nuser string\nvolume string !\n")
_def("core.RBDVolumeSource", "fsType string\nimage string !\nkeyring string default=\"/etc/ceph/keyring\"\nmonitors []string atomic !\npool string default=\"rbd\"\nreadOnly boolean\nsecretRef core.LocalObjectReference\nuser string default=\"admin\"\n")
_def("core.ScaleIOVolumeSource", "fsType string default=\"xfs\"\ngateway string !\nprotectionDomain string\nreadOnly boolean\nsecretRef core.LocalObjectReference !\nsslEnabled boolean\nstorageMode string default=\"ThinProvisioned\"\nstoragePool string\nsystem string !\nvolumeName string\n")
_def("core.StorageOSVolumeSource", "fsType string\nreadOnly boolean\nsecretRef core.LocalObjectReference\nvolumeName string\nvolumeNamespace string\n")
_def("core.VsphereVirtualDiskVolumeSource", "fsType string\nstoragePolicyID string\nstoragePolicyName string\nvolumePath string !\n")
_def("core.HostPathVolumeSource", """
path string !
type string
""")
_def("core.EmptyDirVolumeSource", """
medium string
sizeLimit quantity
""")
_def("core.ImageVolumeSource", """
pullPolicy string
reference string
""")
_def("core.NFSVolumeSource", """
path string !
readOnly boolean
server string !
""")
_def("core.PersistentVolumeClaimVolumeSource", """
claimName string !
readOnly boolean
""")
_def("core.KeyToPath", """
key string !
mode int32
path string !
""")
_def("core.SecretVolumeSource", """
defaultMode int32
items []core.KeyToPath atomic
optional boolean
secretName string
""")
_def("core.ConfigMapVolumeSource", """
defaultMode int32
items []core.KeyToPath atomic
name string default=""
optional boolean
""")
_def("core.DownwardAPIVolumeSource", """
defaultMode int32
items []core.DownwardAPIVolumeFile atomic
""")
_def("core.DownwardAPIVolumeFile", """
fieldRef core.ObjectFieldSelector
mode int32
path string !
resourceFieldRef core.ResourceFieldSelector
""")
_def("core.CSIVolumeSource", """
driver string !
fsType string
nodePublishSecretRef core.LocalObjectReference
readOnly boolean
volumeAttributes map[string]
""")
_def("core.EphemeralVolumeSource", """
volumeClaimTemplate core.PersistentVolumeClaimTemplate
""")
_def("core.PersistentVolumeClaimTemplate", """
metadata meta.ObjectMeta default={}
spec core.PersistentVolumeClaimSpec !
""")
_def("core.PersistentVolumeClaimSpec", """
accessModes []string atomic
dataSource core.TypedLocalObjectReference
dataSourceRef core.TypedObjectReference
resources core.VolumeResourceRequirements
selector meta.LabelSelector
storageClassName string
volumeAttributesClassName string
volumeMode string
volumeName string
""")
_def("core.ProjectedVolumeSource", """
defaultMode int32
sources []core.VolumeProjection atomic
""")
_def("core.VolumeProjection", """
clusterTrustBundle core.ClusterTrustBundleProjection
configMap core.ConfigMapProjection
downwardAPI core.DownwardAPIProjection
secret core.SecretProjection
serviceAccountToken core.ServiceAccountTokenProjection
""")
_def("core.ClusterTrustBundleProjection", """
labelSelector meta.LabelSelector
name string
optional boolean
path string !
signerName string
""")
_def("core.ConfigMapProjection", """
items []core.KeyToPath atomic
name string default=""
optional boolean
""")
_def("core.SecretProjection", """
items []core.KeyToPath atomic
name string default=""
optional boolean
""")
_def("core.DownwardAPIProjection", """
items []core.DownwardAPIVolumeFile atomic
""")
_def("core.ServiceAccountTokenProjection", """
audience string
expirationSeconds int64
path string !
""")
_def("core.PodSpec", """
activeDeadlineSeconds int64
affinity core.Affinity
automountServiceAccountToken boolean
containers []core.Container merge=name map=name !
dnsConfig core.PodDNSConfig
dnsPolicy string
enableServiceLinks boolean
ephemeralContainers []core.EphemeralContainer merge=name map=name
hostAliases []core.HostAlias merge=ip map=ip
hostIPC boolean
hostNetwork boolean
hostPID boolean
hostUsers boolean
hostname string
imagePullSecrets []core.LocalObjectReference merge=name map=name
initContainers []core.Container merge=name map=name
nodeName string
nodeSelector map[string] matomic
os core.PodOS
overhead map[quantity]
preemptionPolicy string
priority int32
priorityClassName string
readinessGates []core.PodReadinessGate atomic
resourceClaims []core.PodResourceClaim merge=name strategy=merge,retainKeys map=name
resources core.ResourceRequirements
restartPolicy string
runtimeClassName string
schedulerName string
schedulingGates []core.PodSchedulingGate merge=name map=name
securityContext core.PodSecurityContext
serviceAccount string
serviceAccountName string
setHostnameAsFQDN boolean
shareProcessNamespace boolean
subdomain string
terminationGracePeriodSeconds int64
tolerations []core.Toleration atomic
topologySpreadConstraints []core.TopologySpreadConstraint merge=topologyKey map=topologyKey,whenUnsatisfiable
volumes []core.Volume merge=name strategy=merge,retainKeys map=name
""")
_def("core.PodTemplateSpec", """
metadata meta.ObjectMeta default={}
spec core.PodSpec default={}
""")
_def("core.PodStatus", """
conditions []core.PodCondition merge=type map=type
containerStatuses []core.ContainerStatus atomic
ephemeralContainerStatuses []core.ContainerStatus atomic
hostIP string
hostIPs []core.HostIP merge=ip atomic
initContainerStatuses []core.ContainerStatus atomic
message string
nominatedNodeName string
phase string
podIP string
podIPs []core.PodIP merge=ip map=ip
qosClass string
reason string
resize string
resourceClaimStatuses []core.PodResourceClaimStatus merge=name strategy=merge,retainKeys map=name
startTime meta.Time
""")
_def("core.PodCondition", """
lastProbeTime meta.Time
lastTransitionTime meta.Time
message string
reason string
status string !
type string !
""")
_def("core.HostIP", "ip string !\n")
_def("core.PodIP", "ip string !\n")
_def("core.PodResourceClaimStatus", "name string !\nresourceClaimName string\n")
_def("core.ContainerStatus", """
allocatedResources map[quantity]
allocatedResourcesStatus []core.ResourceStatus merge=name map=name
containerID string
image string !
imageID string !
lastState core.ContainerState default={}
name string !
ready boolean !
resources core.ResourceRequirements
restartCount int32 !
started boolean
state core.ContainerState default={}
user core.ContainerUser
volumeMounts []core.VolumeMountStatus merge=mountPath map=mountPath
""")
_def("core.ResourceStatus", "name string !\nresources []core.ResourceHealth map=resourceID\n")
_def("core.ResourceHealth", "health string\nresourceID string !\n")
_def("core.ContainerUser", "linux core.LinuxContainerUser\n")
_def("core.LinuxContainerUser", "gid int64 !\nsupplementalGroups []int64 atomic\nuid int64 !\n")
_def("core.VolumeMountStatus", "mountPath string !\nname string !\nreadOnly boolean\nrecursiveReadOnly string\n")
_def("core.ContainerState", """
running core.ContainerStateRunning
terminated core.ContainerStateTerminated
waiting core.ContainerStateWaiting
""")
_def("core.ContainerStateRunning", "startedAt meta.Time\n")
_def("core.ContainerStateWaiting", "message string\nreason string\n")
_def("core.ContainerStateTerminated", """
containerID string
exitCode int32 !
finishedAt meta.Time
message string
reason string
signal int32
startedAt meta.Time
""")
_def("core.Pod", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec core.PodSpec default={}
status core.PodStatus default={}
""", gvk=("", "v1", "Pod"))

# ---- core/v1: other kinds
_def("core.Namespace", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec core.NamespaceSpec default={}
status core.NamespaceStatus default={}
""", gvk=("", "v1", "Namespace"))
_def("core.NamespaceSpec", "finalizers []string atomic\n")
_def("core.NamespaceStatus", "conditions []core.NamespaceCondition merge=type map=type\nphase string\n")
_def("core.NamespaceCondition", "lastTransitionTime meta.Time\nmessage string\nreason string\nstatus string !\ntype string !\n")
_def("core.Service", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec core.ServiceSpec default={}
status core.ServiceStatus default={}
""", gvk=("", "v1", "Service"))
_def("core.ServiceSpec", """
allocateLoadBalancerNodePorts boolean
clusterIP string
clusterIPs []string atomic
externalIPs []string atomic
externalName string
externalTrafficPolicy string
healthCheckNodePort int32
internalTrafficPolicy string
ipFamilies []string atomic
ipFamilyPolicy string
loadBalancerClass string
loadBalancerIP string
loadBalancerSourceRanges []string atomic
ports []core.ServicePort merge=port map=port,protocol
publishNotReadyAddresses boolean
selector map[string] matomic
sessionAffinity string
sessionAffinityConfig core.SessionAffinityConfig
trafficDistribution string
type string
""")
_def("core.ServicePort", """
appProtocol string
name string
nodePort int32
port int32 !
protocol string default="TCP"
targetPort intstr
""")
_def("core.SessionAffinityConfig", "clientIP core.ClientIPConfig\n")
_def("core.ClientIPConfig", "timeoutSeconds int32\n")
_def("core.ServiceStatus", """
conditions []meta.Condition merge=type map=type
loadBalancer core.LoadBalancerStatus default={}
""")
_def("core.LoadBalancerStatus", "ingress []core.LoadBalancerIngress atomic\n")
_def("core.LoadBalancerIngress", "hostname string\nip string\nipMode string\nports []core.PortStatus atomic\n")
_def("core.PortStatus", "error string\nport int32 !\nprotocol string !\n")
_def("core.ConfigMap", """
apiVersion string
binaryData map[byte]
data map[string]
immutable boolean
kind string
metadata meta.ObjectMeta default={}
""", gvk=("", "v1", "ConfigMap"))
_def("core.Secret", """
apiVersion string
data map[byte]
immutable boolean
kind string
metadata meta.ObjectMeta default={}
stringData map[string]
type string
""", gvk=("", "v1", "Secret"))
_def("core.ServiceAccount", """
apiVersion string
automountServiceAccountToken boolean
imagePullSecrets []core.LocalObjectReference atomic
kind string
metadata meta.ObjectMeta default={}
secrets []core.ObjectReference merge=name map=name
""", gvk=("", "v1", "ServiceAccount"))
_def("core.Event", """
action string
apiVersion string
count int32
eventTime meta.MicroTime
firstTimestamp meta.Time
involvedObject core.ObjectReference ! default={}
kind string
lastTimestamp meta.Time
message string
metadata meta.ObjectMeta ! default={}
reason string
related core.ObjectReference
reportingComponent string default=""
reportingInstance string default=""
series core.EventSeries
source core.EventSource default={}
type string
""", gvk=("", "v1", "Event"))
_def("core.EventSeries", "count int32\nlastObservedTime meta.MicroTime\n")
_def("core.EventSource", "component string\nhost string\n")

# ---- apps/v1
_def("apps.Deployment", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec apps.DeploymentSpec default={}
status apps.DeploymentStatus default={}
""", gvk=("apps", "v1", "Deployment"))
_def("apps.DeploymentSpec", """
minReadySeconds int32
paused boolean
progressDeadlineSeconds int32
replicas int32
revisionHistoryLimit int32
selector meta.LabelSelector !
strategy apps.DeploymentStrategy strategy=retainKeys default={}
template core.PodTemplateSpec ! default={}
""")
_def("apps.DeploymentStrategy", """
rollingUpdate apps.RollingUpdateDeployment
type string
""")
_def("apps.RollingUpdateDeployment", """
maxSurge intstr
maxUnavailable intstr
""")
_def("apps.DeploymentStatus", """
availableReplicas int32
collisionCount int32
conditions []apps.DeploymentCondition merge=type map=type
observedGeneration int64
readyReplicas int32
replicas int32
unavailableReplicas int32
updatedReplicas int32
""")
_def("apps.DeploymentCondition", """
lastTransitionTime meta.Time
lastUpdateTime meta.Time
message string
reason string
status string !
type string !
""")
_def("apps.ReplicaSet", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec apps.ReplicaSetSpec default={}
status apps.ReplicaSetStatus default={}
""", gvk=("apps", "v1", "ReplicaSet"))
_def("apps.ReplicaSetSpec", """
minReadySeconds int32
replicas int32
selector meta.LabelSelector !
template core.PodTemplateSpec default={}
""")
_def("apps.ReplicaSetStatus", """
availableReplicas int32
conditions []apps.ReplicaSetCondition merge=type map=type
fullyLabeledReplicas int32
observedGeneration int64
readyReplicas int32
replicas int32 !
""")
_def("apps.ReplicaSetCondition", """
lastTransitionTime meta.Time
message string
reason string
status string !
type string !
""")

# ---- coordination.k8s.io/v1
_def("coord.Lease", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec coord.LeaseSpec default={}
""", gvk=("coordination.k8s.io", "v1", "Lease"))
_def("coord.LeaseSpec", """
acquireTime meta.MicroTime
holderIdentity string
leaseDurationSeconds int32
leaseTransitions int32
preferredHolder string
renewTime meta.MicroTime
strategy string
""")

# ---- events.k8s.io/v1
_def("events.Event", """
action string
apiVersion string
deprecatedCount int32
deprecatedFirstTimestamp meta.Time
deprecatedLastTimestamp meta.Time
deprecatedSource core.EventSource default={}
eventTime meta.MicroTime !
kind string
metadata meta.ObjectMeta default={}
note string
reason string
regarding core.ObjectReference default={}
related core.ObjectReference
reportingController string
reportingInstance string
series events.EventSeries
type string
""", gvk=("events.k8s.io", "v1", "Event"))
_def("events.EventSeries", "count int32 !\nlastObservedTime meta.MicroTime !\n")

# ---- rbac.authorization.k8s.io/v1
_def("rbac.PolicyRule", """
apiGroups []string atomic
nonResourceURLs []string atomic
resourceNames []string atomic
resources []string atomic
verbs []string atomic !
""")
_def("rbac.Subject", """
apiGroup string
kind string !
name string !
namespace string
""", atomic=True)
_def("rbac.RoleRef", """
apiGroup string !
kind string !
name string !
""", atomic=True)
_def("rbac.AggregationRule", "clusterRoleSelectors []meta.LabelSelector atomic\n")
_def("rbac.Role", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
rules []rbac.PolicyRule atomic
""", gvk=("rbac.authorization.k8s.io", "v1", "Role"))
_def("rbac.ClusterRole", """
aggregationRule rbac.AggregationRule
apiVersion string
kind string
metadata meta.ObjectMeta default={}
rules []rbac.PolicyRule atomic
""", gvk=("rbac.authorization.k8s.io", "v1", "ClusterRole"))
_def("rbac.RoleBinding", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
roleRef rbac.RoleRef ! default={}
subjects []rbac.Subject atomic
""", gvk=("rbac.authorization.k8s.io", "v1", "RoleBinding"))
_def("rbac.ClusterRoleBinding", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
roleRef rbac.RoleRef ! default={}
subjects []rbac.Subject atomic
""", gvk=("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"))

# ---- apiextensions.k8s.io/v1
_def("apiext.CustomResourceDefinition", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec apiext.CustomResourceDefinitionSpec ! default={}
status apiext.CustomResourceDefinitionStatus default={}
""", gvk=("apiextensions.k8s.io", "v1", "CustomResourceDefinition"))
_def("apiext.CustomResourceDefinitionSpec", """
conversion apiext.CustomResourceConversion
group string !
names apiext.CustomResourceDefinitionNames ! default={}
preserveUnknownFields boolean
scope string !
versions []apiext.CustomResourceDefinitionVersion atomic !
""")
_def("apiext.CustomResourceDefinitionNames", """
categories []string atomic
kind string !
listKind string
plural string !
shortNames []string atomic
singular string
""")
_def("apiext.CustomResourceDefinitionVersion", """
additionalPrinterColumns []apiext.CustomResourceColumnDefinition atomic
deprecated boolean
deprecationWarning string
name string !
schema apiext.CustomResourceValidation
selectableFields []apiext.SelectableField atomic
served boolean !
storage boolean !
subresources apiext.CustomResourceSubresources
""")
_def("apiext.CustomResourceColumnDefinition", """
description string
format string
jsonPath string !
name string !
priority int32
type string !
""")
_def("apiext.SelectableField", "jsonPath string !\n")
_def("apiext.CustomResourceValidation", "openAPIV3Schema apiext.JSONSchemaProps\n")
_def("apiext.CustomResourceSubresources", """
scale apiext.CustomResourceSubresourceScale
status apiext.CustomResourceSubresourceStatus
""")
_def("apiext.CustomResourceSubresourceScale", """
labelSelectorPath string
specReplicasPath string !
statusReplicasPath string !
""")
_def("apiext.CustomResourceSubresourceStatus", "")
_def("apiext.CustomResourceConversion", """
strategy string !
webhook apiext.WebhookConversion
""")
_def("apiext.WebhookConversion", """
clientConfig apiext.WebhookClientConfig
conversionReviewVersions []string atomic !
""")
_def("apiext.WebhookClientConfig", """
caBundle byte
service apiext.ServiceReference
url string
""")
_def("apiext.ServiceReference", """
name string !
namespace string !
path string
port int32
""")
_def("apiext.ExternalDocumentation", "description string\nurl string\n")
_def("apiext.ValidationRule", """
fieldPath string
message string
messageExpression string
optionalOldSelf boolean
reason string
rule string !
""")
_def("apiext.JSONSchemaProps", """
$ref string
$schema string
additionalItems apiext.JSONSchemaPropsOrBool
additionalProperties apiext.JSONSchemaPropsOrBool
allOf []apiext.JSONSchemaProps atomic
anyOf []apiext.JSONSchemaProps atomic
default apiext.JSON
definitions map[apiext.JSONSchemaProps]
dependencies map[apiext.JSONSchemaPropsOrStringArray]
description string
enum []apiext.JSON atomic
example apiext.JSON
exclusiveMaximum boolean
exclusiveMinimum boolean
externalDocs apiext.ExternalDocumentation
format string
id string
items apiext.JSONSchemaPropsOrArray
maxItems int64
maxLength int64
maxProperties int64
maximum double
minItems int64
minLength int64
minProperties int64
minimum double
multipleOf double
not apiext.JSONSchemaProps
nullable boolean
oneOf []apiext.JSONSchemaProps atomic
pattern string
patternProperties map[apiext.JSONSchemaProps]
properties map[apiext.JSONSchemaProps]
required []string atomic
title string
type string
uniqueItems boolean
x-kubernetes-embedded-resource boolean
x-kubernetes-int-or-string boolean
x-kubernetes-list-map-keys []string atomic
x-kubernetes-list-type string
x-kubernetes-map-type string
x-kubernetes-preserve-unknown-fields boolean
x-kubernetes-validations []apiext.ValidationRule merge=rule map=rule
""")
_def("apiext.CustomResourceDefinitionStatus", """
acceptedNames apiext.CustomResourceDefinitionNames default={}
conditions []apiext.CustomResourceDefinitionCondition map=type
storedVersions []string atomic
""")
_def("apiext.CustomResourceDefinitionCondition", """
lastTransitionTime meta.Time
message string
reason string
status string !
type string !
""")

_def("autoscaling.Scale", """
apiVersion string
kind string
metadata meta.ObjectMeta default={}
spec autoscaling.ScaleSpec default={}
status autoscaling.ScaleStatus
""", gvk=("autoscaling", "v1", "Scale"))
_def("autoscaling.ScaleSpec", "replicas int32\n")
_def("autoscaling.ScaleStatus", "replicas int32 !\nselector string\n")

# ---------------------------------------------------------------------------------------------
# resources served per group/version: (plural, kind type, namespaced, subresources)

_RESOURCES = {
    ("", "v1"): [
        ("configmaps", "core.ConfigMap", True, ()),
        ("events", "core.Event", True, ()),
        ("namespaces", "core.Namespace", False, ("status", "finalize")),
        ("pods", "core.Pod", True, ("status",)),
        ("secrets", "core.Secret", True, ()),
        ("serviceaccounts", "core.ServiceAccount", True, ()),
        ("services", "core.Service", True, ("status",)),
    ],
    ("apps", "v1"): [
        ("deployments", "apps.Deployment", True, ("status", "scale")),
        ("replicasets", "apps.ReplicaSet", True, ("status", "scale")),
    ],
    ("coordination.k8s.io", "v1"): [("leases", "coord.Lease", True, ())],
    ("events.k8s.io", "v1"): [("events", "events.Event", True, ())],
    ("rbac.authorization.k8s.io", "v1"): [
        ("clusterrolebindings", "rbac.ClusterRoleBinding", False, ()),
        ("clusterroles", "rbac.ClusterRole", False, ()),
        ("rolebindings", "rbac.RoleBinding", True, ()),
        ("roles", "rbac.Role", True, ()),
    ],
    ("apiextensions.k8s.io", "v1"): [
        ("customresourcedefinitions", "apiext.CustomResourceDefinition", False, ("status",)),
    ],
}


# ---------------------------------------------------------------------------------------------
# table -> schema


def _full(name):
    if name in _SPECIAL_NAMES:
        return _SPECIAL_NAMES[name]
    for p, full in _PFX.items():
        if name.startswith(p):
            return full + name[len(p):]
    raise KeyError(name)


def _ref(name):
    return {"$ref": "#/components/schemas/" + _full(name)}


def _type_schema(texpr, used):
    """Schema for a type expression; records referenced names in `used`."""
    if texpr.startswith("[]"):
        return {"type": "array", "items": _item_schema(texpr[2:], used)}
    if texpr.startswith("map["):
        inner = texpr[4:-1]
        return {"type": "object", "additionalProperties": _item_schema(inner, used)}
    if texpr == "string":
        return {"type": "string"}
    if texpr == "byte":
        return {"type": "string", "format": "byte"}
    if texpr == "boolean":
        return {"type": "boolean"}
    if texpr in ("int32", "int64"):
        return {"type": "integer", "format": texpr}
    if texpr == "double":
        return {"type": "number", "format": "double"}
    used.add(texpr)
    return {"allOf": [_ref(texpr)]}


def _item_schema(texpr, used):
    s = _type_schema(texpr, used)
    if "allOf" in s:
        return {"allOf": s["allOf"], "default": {}} if _T.get(texpr) is not None else s["allOf"][0]
    if s.get("type") == "string":
        s["default"] = ""
    elif s.get("type") == "integer":
        s["default"] = 0
    return s


def _parse_line(line):
    parts = line.split()
    name, texpr = parts[0], parts[1]
    flags = {}
    for f in parts[2:]:
        if f == "!":
            flags["required"] = True
        elif "=" in f:
            k, v = f.split("=", 1)
            flags[k] = v
        else:
            flags[f] = True
    return name, texpr, flags


def _field_schema(texpr, flags, used):
    s = _type_schema(texpr, used)
    if "merge" in flags:
        s["x-kubernetes-patch-strategy"] = flags.get("strategy", "merge")
        if flags["merge"]:
            s["x-kubernetes-patch-merge-key"] = flags["merge"]
    elif "strategy" in flags:
        s["x-kubernetes-patch-strategy"] = flags["strategy"]
    if "map" in flags:
        s["x-kubernetes-list-type"] = "map"
        s["x-kubernetes-list-map-keys"] = flags["map"].split(",")
    elif flags.get("set"):
        s["x-kubernetes-list-type"] = "set"
    elif flags.get("atomic") and texpr.startswith("[]"):
        s["x-kubernetes-list-type"] = "atomic"
    if flags.get("matomic"):
        s["x-kubernetes-map-type"] = "atomic"
    if "default" in flags:
        s["default"] = json.loads(flags["default"])
    return s


def _component(name, used):
    if name in _SPECIAL:
        return copy.deepcopy(_SPECIAL[name])
    body, atomic, gvk, desc = _T[name]
    props = {}
    req = []
    for line in body.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        fname, texpr, flags = _parse_line(line)
        props[fname] = _field_schema(texpr, flags, used)
        if flags.get("required"):
            req.append(fname)
    s = {"description": desc or "%s (see the Kubernetes API reference)." % name.split(".", 1)[1],
         "type": "object"}
    if props:
        s["properties"] = props
    if req:
        s["required"] = sorted(req)
    if atomic:
        s["x-kubernetes-map-type"] = "atomic"
    if gvk:
        s["x-kubernetes-group-version-kind"] = [{"group": gvk[0], "kind": gvk[2], "version": gvk[1]}]
    return s


def _components(roots):
    out = {}
    todo = list(roots)
    seen = set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        used = set()
        out[_full(n)] = _component(n, used)
        todo.extend(sorted(used - seen))
    return out


def _list_component(kind_name, kind, gv):
    return {
        "description": "%sList is a list of %s." % (kind, kind),
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"allOf": [_ref(kind_name)], "default": {}}},
            "kind": {"type": "string"},
            "metadata": {"allOf": [_ref("meta.ListMeta")], "default": {}},
        },
        "x-kubernetes-group-version-kind": [{"group": gv[0], "kind": kind + "List", "version": gv[1]}],
    }


# ---------------------------------------------------------------------------------------------
# paths


def _qp(name, desc, typ="string", extra=None):
    p = {"name": name, "in": "query", "description": desc, "schema": {"type": typ, "uniqueItems": True}}
    if extra:
        p["schema"].update(extra)
    return p


_P_PRETTY = _qp("pretty", "If 'true', then the output is pretty printed.")
_P_DRYRUN = _qp("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed")
_P_MANAGER = _qp("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes.")
_P_VALIDATION = _qp("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict")
_P_FORCE = _qp("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.", "boolean")
_P_NAME = {"name": "name", "in": "path", "description": "name of the %s", "required": True, "schema": {"type": "string", "uniqueItems": True}}
_P_NS = {"name": "namespace", "in": "path", "description": "object name and auth scope, such as for teams and projects", "required": True, "schema": {"type": "string", "uniqueItems": True}}
_LIST_PARAMS = [
    _qp("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
    _qp("continue", "The continue option should be set when retrieving more results from the server."),
    _qp("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
    _qp("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
    _qp("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    _qp("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
    _qp("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _qp("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
    _qp("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    _qp("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", "boolean"),
]
_DELETE_PARAMS = [
    _P_DRYRUN,
    _qp("gracePeriodSeconds", "The duration in seconds before the object should be deleted.", "integer"),
    _qp("ignoreStoreReadErrorWithClusterBreakingPotential", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.", "boolean"),
    _qp("orphanDependents", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.", "boolean"),
    _qp("propagationPolicy", "Whether and how garbage collection will be performed."),
]

_MEDIA_BUILTIN = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
_MEDIA_CR = ["application/json", "application/yaml"]
_PATCH_BUILTIN = ["application/apply-patch+yaml", "application/json-patch+json",
                  "application/merge-patch+json", "application/strategic-merge-patch+json"]
_PATCH_CR = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]


def _resp(ref, media, codes):
    return {c: {"description": d, "content": {m: {"schema": {"$ref": ref}} for m in media}} for c, d in codes}


def _op(action, gvk, op_id, tag, desc, ref, media, params=(), body=None, codes=(("200", "OK"),)):
    op = {"tags": [tag], "description": desc, "operationId": op_id, "parameters": list(params)}
    if body is not None:
        op["requestBody"] = body
    op["responses"] = _resp(ref, media, codes)
    op["responses"]["401"] = {"description": "Unauthorized"}
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}
    return op


def _ident(s):
    out = []
    up = True
    for ch in s:
        if ch in ".-/":
            up = True
            continue
        out.append(ch.upper() if up else ch)
        up = False
    return "".join(out)


def _resource_paths(g, v, plural, kind, kind_ref, list_ref, namespaced, subs, media, patch_types,
                    sub_kinds=None):
    prefix = "/api/v1" if g == "" else "/apis/%s/%s" % (g, v)
    gvk = (g, v, kind)
    tag = _ident(g or "core") + "_" + v
    opk = _ident(g.split(".")[0] if g else "core") + _ident(v)
    ns_seg = "/namespaces/{namespace}" if namespaced else ""
    nsw = "Namespaced" if namespaced else ""
    status_ref = "#/components/schemas/" + _full("meta.Status")
    body_obj = {"content": {"*/*": {"schema": {"$ref": kind_ref}}}, "required": True}
    body_patch = {"content": {m: {"schema": {"$ref": "#/components/schemas/" + _full("meta.Patch")}} for m in patch_types},
                  "required": True}
    coll = prefix + ns_seg + "/" + plural
    item = coll + "/{name}"
    name_p = dict(_P_NAME)
    name_p["description"] = "name of the " + kind
    common = ([_P_NS] if namespaced else []) + [_P_PRETTY]
    paths = {}
    paths[coll] = {
        "get": _op("list", gvk, "list%s%s%s" % (opk, nsw, kind), tag, "list or watch objects of kind " + kind,
                   list_ref, media + ["application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"], _LIST_PARAMS),
        "post": _op("post", gvk, "create%s%s%s" % (opk, nsw, kind), tag, "create a " + kind, kind_ref, media,
                    [_P_DRYRUN, _P_MANAGER, _P_VALIDATION], body_obj,
                    (("200", "OK"), ("201", "Created"), ("202", "Accepted"))),
        "delete": _op("deletecollection", gvk, "deletecollection%s%s%s" % (opk, nsw, kind), tag,
                      "delete collection of " + kind, status_ref, media, _DELETE_PARAMS + _LIST_PARAMS,
                      {"content": {"*/*": {"schema": {"$ref": "#/components/schemas/" + _full("meta.DeleteOptions")}}}}),
        "parameters": common,
    }
    paths[item] = {
        "get": _op("get", gvk, "read%s%s%s" % (opk, nsw, kind), tag, "read the specified " + kind, kind_ref, media),
        "put": _op("put", gvk, "replace%s%s%s" % (opk, nsw, kind), tag, "replace the specified " + kind, kind_ref,
                   media, [_P_DRYRUN, _P_MANAGER, _P_VALIDATION], body_obj, (("200", "OK"), ("201", "Created"))),
        "delete": _op("delete", gvk, "delete%s%s%s" % (opk, nsw, kind), tag, "delete a " + kind, status_ref, media,
                      _DELETE_PARAMS, {"content": {"*/*": {"schema": {"$ref": "#/components/schemas/" + _full("meta.DeleteOptions")}}}},
                      (("200", "OK"), ("202", "Accepted"))),
        "patch": _op("patch", gvk, "patch%s%s%s" % (opk, nsw, kind), tag, "partially update the specified " + kind,
                     kind_ref, media, [_P_DRYRUN, _P_MANAGER, _P_VALIDATION, _P_FORCE], body_patch,
                     (("200", "OK"), ("201", "Created"))),
        "parameters": [name_p] + common,
    }
    if namespaced:
        paths[prefix + "/" + plural] = {
            "get": _op("list", gvk, "list%s%sForAllNamespaces" % (opk, kind), tag,
                       "list or watch objects of kind " + kind, list_ref,
                       media + ["application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"], []),
            "parameters": _LIST_PARAMS + [_P_PRETTY],
        }
    for sub in subs:
        sk = (sub_kinds or {}).get(sub)
        sref, sgvk = (kind_ref, gvk) if sk is None else sk
        if sub == "finalize":
            paths[item + "/finalize"] = {
                "put": _op("put", gvk, "replace%s%sFinalize" % (opk, kind), tag, "replace finalize of the specified " + kind,
                           kind_ref, media, [_P_DRYRUN, _P_MANAGER, _P_VALIDATION], body_obj, (("200", "OK"), ("201", "Created"))),
                "parameters": [name_p] + common,
            }
            continue
        cap = sub.capitalize()
        sbody = {"content": {"*/*": {"schema": {"$ref": sref}}}, "required": True}
        paths[item + "/" + sub] = {
            "get": _op("get", sgvk, "read%s%s%s%s" % (opk, nsw, kind, cap), tag, "read %s of the specified %s" % (sub, kind), sref, media),
            "put": _op("put", sgvk, "replace%s%s%s%s" % (opk, nsw, kind, cap), tag, "replace %s of the specified %s" % (sub, kind),
                       sref, media, [_P_DRYRUN, _P_MANAGER, _P_VALIDATION], sbody, (("200", "OK"), ("201", "Created"))),
            "patch": _op("patch", sgvk, "patch%s%s%s%s" % (opk, nsw, kind, cap), tag, "partially update %s of the specified %s" % (sub, kind),
                         sref, media, [_P_DRYRUN, _P_MANAGER, _P_VALIDATION, _P_FORCE], body_patch,
                         (("200", "OK"), ("201", "Created"))),
            "parameters": [name_p] + common,
        }
    return paths


def _meta_roots():
    return ["meta.ObjectMeta", "meta.ListMeta", "meta.Status", "meta.DeleteOptions", "meta.Patch",
            "meta.WatchEvent", "meta.Time", "meta.MicroTime", "meta.FieldsV1"]


def _doc(paths, comps):
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K8S_VERSION},
            "paths": paths, "components": {"schemas": comps}}


def builtin_document(group, version):
    res = _RESOURCES.get((group, version))
    if res is None:
        return None
    roots = _meta_roots()
    paths = {}
    lists = {}
    for plural, tname, namespaced, subs in res:
        roots.append(tname)
        kind = _T[tname][2][2]
        kind_ref = "#/components/schemas/" + _full(tname)
        list_name = _full(tname) + "List"
        lists[list_name] = _list_component(tname, kind, (group, version))
        sub_kinds = {}
        if "scale" in subs:
            roots.append("autoscaling.Scale")
            sub_kinds["scale"] = ("#/components/schemas/" + _full("autoscaling.Scale"), ("autoscaling", "v1", "Scale"))
        paths.update(_resource_paths(group, version, plural, kind, kind_ref, "#/components/schemas/" + list_name,
                                     namespaced, subs, _MEDIA_BUILTIN, _PATCH_BUILTIN, sub_kinds))
    comps = _components(roots)
    comps.update(lists)
    gvk_meta = {"group": group, "kind": "DeleteOptions", "version": version}
    comps[_full("meta.DeleteOptions")]["x-kubernetes-group-version-kind"] = [gvk_meta]
    comps[_full("meta.WatchEvent")]["x-kubernetes-group-version-kind"] = [dict(gvk_meta, kind="WatchEvent")]
    comps[_full("meta.Status")]["x-kubernetes-group-version-kind"] = [{"group": "", "kind": "Status", "version": "v1"}]
    return _doc(dict(sorted(paths.items())), dict(sorted(comps.items())))


def builtin_documents():
    """{"v1" for core, "<group>/<version>" otherwise: OpenAPI v3 document}."""
    out = {}
    for (g, v) in _RESOURCES:
        out[g + "/" + v if g else v] = builtin_document(g, v)
    return out


def document_path(group, version):
    if not group:
        return "/openapi/v3/api/" + version
    return "/openapi/v3/apis/%s/%s" % (group, version)


# ---------------------------------------------------------------------------------------------
# CRDs


def _reverse_group(group):
    return ".".join(reversed(group.split(".")))


def _crd_schema_for_publishing(s, root=True):
    """The CRD schema as kube publishes it: metadata replaced by ObjectMeta, apiVersion/kind
    described, int-or-string spelled out for clients."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "properties" and isinstance(v, dict):
            out[k] = {pk: _crd_schema_for_publishing(pv, False) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = _crd_schema_for_publishing(v, False)
        elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
            out[k] = [_crd_schema_for_publishing(x, False) for x in v]
        else:
            out[k] = copy.deepcopy(v)
    if root or s.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.", "type": "string"}
        props["kind"] = {"description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.", "type": "string"}
        props["metadata"] = {"allOf": [_ref("meta.ObjectMeta")], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}
        if not s.get("type"):
            out["type"] = "object"
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "allOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def crd_document(group, version, crds):
    """The OpenAPI v3 document of one CRD group/version, built from stored CRD objects."""
    roots = _meta_roots()
    paths = {}
    comps = {}
    for crd in crds or ():
        spec = crd.get("spec") or {}
        if spec.get("group") != group:
            continue
        names = spec.get("names") or {}
        kind = names.get("kind")
        plural = names.get("plural")
        list_kind = names.get("listKind") or (kind + "List" if kind else None)
        if not kind or not plural:
            continue
        for ver in spec.get("versions") or ():
            if ver.get("name") != version or not ver.get("served"):
                continue
            base = "%s.%s.%s" % (_reverse_group(group), version, kind)
            schema = ((ver.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            s = _crd_schema_for_publishing(schema)
            s["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
            comps[base] = s
            comps["%s.%s.%s" % (_reverse_group(group), version, list_kind)] = {
                "description": "%s is a list of %s" % (list_kind, kind),
                "type": "object", "required": ["items"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/" + base}},
                    "kind": {"type": "string"},
                    "metadata": {"allOf": [_ref("meta.ListMeta")], "description": "Standard list metadata."},
                },
                "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}],
            }
            subs = []
            sub_kinds = {}
            sr = ver.get("subresources") or {}
            if "status" in sr:
                subs.append("status")
            if "scale" in sr:
                subs.append("scale")
                roots.append("autoscaling.Scale")
                sub_kinds["scale"] = ("#/components/schemas/" + _full("autoscaling.Scale"), ("autoscaling", "v1", "Scale"))
            paths.update(_resource_paths(group, version, plural, kind, "#/components/schemas/" + base,
                                         "#/components/schemas/%s.%s.%s" % (_reverse_group(group), version, list_kind),
                                         spec.get("scope", "Namespaced") == "Namespaced", subs, _MEDIA_CR,
                                         _PATCH_CR, sub_kinds))
    comps.update(_components(roots))
    return _doc(dict(sorted(paths.items())), dict(sorted(comps.items())))


# ---------------------------------------------------------------------------------------------
# patch metadata and resolved schemas


def _kind_type(group, version, kind):
    for plural, tname, namespaced, subs in _RESOURCES.get((group, version), ()):
        if _T[tname][2][2] == kind:
            return tname
    if (group, version, kind) == ("autoscaling", "v1", "Scale"):
        return "autoscaling.Scale"
    return None


def _fields_of(tname):
    body = _T[tname][0]
    for line in body.strip().splitlines():
        line = line.strip()
        if line:
            yield _parse_line(line)


def _elem_type(texpr):
    while texpr.startswith("[]") or texpr.startswith("map["):
        texpr = texpr[2:] if texpr.startswith("[]") else texpr[4:-1]
    return texpr


def patch_meta(group, version, kind):
    """{dotted field path: {"strategy", "mergeKey"?, "listType"?, "listMapKeys"?}} for every
    field of the kind that has a patch strategy or a list type (list items add no segment)."""
    tname = _kind_type(group, version, kind)
    out = {}
    if tname is None:
        return out

    def walk(t, prefix, stack):
        if t not in _T or t in stack:
            return
        for fname, texpr, flags in _fields_of(t):
            path = prefix + fname
            entry = {}
            if "merge" in flags:
                entry["strategy"] = flags.get("strategy", "merge")
                if flags["merge"]:
                    entry["mergeKey"] = flags["merge"]
            elif "strategy" in flags:
                entry["strategy"] = flags["strategy"]
            if "map" in flags:
                entry["listType"] = "map"
                entry["listMapKeys"] = flags["map"].split(",")
            elif flags.get("set"):
                entry["listType"] = "set"
            elif flags.get("atomic") and texpr.startswith("[]"):
                entry["listType"] = "atomic"
            if entry:
                out[path] = entry
            et = _elem_type(texpr)
            if et in _T and not texpr.startswith("map["):
                walk(et, path + ".", stack | {t})

    walk(tname, "", frozenset())
    return out


def builtin_schema(group, version, kind):
    """The kind's structural schema with references resolved (recursive JSONSchemaProps and
    free-form values are x-kubernetes-preserve-unknown-fields)."""
    tname = _kind_type(group, version, kind)
    if tname is None:
        return None
    return _resolve(tname, frozenset())


def _resolve(name, stack):
    if name in _FREEFORM or name in stack:
        if name == "meta.Patch" or name == "meta.FieldsV1" or name == "rawext":
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"x-kubernetes-preserve-unknown-fields": True}
    if name == "quantity" or name == "intstr":
        return {"x-kubernetes-int-or-string": True}
    if name in _SPECIAL:
        s = copy.deepcopy(_SPECIAL[name])
        s.pop("description", None)
        return s
    stack = stack | {name}
    props = {}
    req = []
    for fname, texpr, flags in _fields_of(name):
        props[fname] = _resolve_expr(texpr, stack)
        if flags.get("required"):
            req.append(fname)
        if "map" in flags:
            props[fname]["x-kubernetes-list-type"] = "map"
            props[fname]["x-kubernetes-list-map-keys"] = flags["map"].split(",")
        elif flags.get("set"):
            props[fname]["x-kubernetes-list-type"] = "set"
    s = {"type": "object", "properties": props}
    if name.startswith("apiext.JSONSchemaProps"):
        s["x-kubernetes-preserve-unknown-fields"] = True
    return s


def _resolve_expr(texpr, stack):
    if texpr.startswith("[]"):
        return {"type": "array", "items": _resolve_expr(texpr[2:], stack)}
    if texpr.startswith("map["):
        return {"type": "object", "additionalProperties": _resolve_expr(texpr[4:-1], stack)}
    if texpr in ("string", "byte"):
        return {"type": "string"}
    if texpr == "boolean":
        return {"type": "boolean"}
    if texpr in ("int32", "int64"):
        return {"type": "integer"}
    if texpr == "double":
        return {"type": "number"}
    return _resolve(texpr, stack)
