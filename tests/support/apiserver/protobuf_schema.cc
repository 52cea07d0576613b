// The protobuf field tables of the Kubernetes kinds `kubectl create` sends as
// protobuf (see protobuf.h): one message per line, continued on lines that
// start with spaces:
//
//   Message number:jsonName:kind[:SubMessage] ...
//
// Derived mechanically from the `protobuf:"..."` and `json:"..."` struct tags
// (field number, JSON name, pointer or not) of k8s.io/api v0.32.9 (core/v1,
// batch/v1) and k8s.io/apimachinery v0.32.9 (meta/v1) types.go: the transitive
// closure of Job, Service, ConfigMap, Secret, Namespace and ServiceAccount.
// The kind letters are explained in protobuf.cc.
namespace vmrelease::apiserver::internal {

// clang-format off
extern const char kKubeProtobufSchema[] = R"schema(
Job 1:metadata:m:ObjectMeta 2:spec:m:JobSpec 3:status:m:JobStatus
Service 1:metadata:m:ObjectMeta 2:spec:m:ServiceSpec 3:status:m:ServiceStatus
ConfigMap 1:metadata:m:ObjectMeta 4:immutable:B 2:data:ms 3:binaryData:mb
Secret 1:metadata:m:ObjectMeta 5:immutable:B 2:data:mb 4:stringData:ms 3:type:s
Namespace 1:metadata:m:ObjectMeta 2:spec:m:NamespaceSpec 3:status:m:NamespaceStatus
ServiceAccount 1:metadata:m:ObjectMeta 2:secrets:rm:ObjectReference
  3:imagePullSecrets:rm:LocalObjectReference 4:automountServiceAccountToken:B
ObjectMeta 1:name:s 2:generateName:s 3:namespace:s 4:selfLink:- 5:uid:s 6:resourceVersion:s
  7:generation:i 8:creationTimestamp:t 9:deletionTimestamp:T 10:deletionGracePeriodSeconds:I
  11:labels:ms 12:annotations:ms 13:ownerReferences:rm:OwnerReference 14:finalizers:rs
  17:managedFields:-
JobSpec 1:parallelism:I 2:completions:I 3:activeDeadlineSeconds:I
  11:podFailurePolicy:M:PodFailurePolicy 16:successPolicy:M:SuccessPolicy 7:backoffLimit:I
  12:backoffLimitPerIndex:I 13:maxFailedIndexes:I 4:selector:M:LabelSelector 5:manualSelector:B
  6:template:m:PodTemplateSpec 8:ttlSecondsAfterFinished:I 9:completionMode:S 10:suspend:B
  14:podReplacementPolicy:S 15:managedBy:S
JobStatus 1:conditions:rm:JobCondition 2:startTime:T 3:completionTime:T 4:active:i 5:succeeded:i
  6:failed:i 11:terminating:I 7:completedIndexes:s 10:failedIndexes:S
  8:uncountedTerminatedPods:M:UncountedTerminatedPods 9:ready:I
ServiceSpec 1:ports:rm:ServicePort 2:selector:ms 3:clusterIP:s 18:clusterIPs:rs 4:type:s
  5:externalIPs:rs 7:sessionAffinity:s 8:loadBalancerIP:s 9:loadBalancerSourceRanges:rs
  10:externalName:s 11:externalTrafficPolicy:s 12:healthCheckNodePort:i
  13:publishNotReadyAddresses:b 14:sessionAffinityConfig:M:SessionAffinityConfig 19:ipFamilies:rs
  17:ipFamilyPolicy:S 20:allocateLoadBalancerNodePorts:B 21:loadBalancerClass:S
  22:internalTrafficPolicy:S 23:trafficDistribution:S
ServiceStatus 1:loadBalancer:m:LoadBalancerStatus 2:conditions:rm:Condition
NamespaceSpec 1:finalizers:rs
NamespaceStatus 1:phase:s 2:conditions:rm:NamespaceCondition
ObjectReference 1:kind:s 2:namespace:s 3:name:s 4:uid:s 5:apiVersion:s 6:resourceVersion:s
  7:fieldPath:s
LocalObjectReference 1:name:s
OwnerReference 5:apiVersion:s 1:kind:s 3:name:s 4:uid:s 6:controller:B 7:blockOwnerDeletion:B
PodFailurePolicy 1:rules:rm:PodFailurePolicyRule
SuccessPolicy 1:rules:rm:SuccessPolicyRule
LabelSelector 1:matchLabels:ms 2:matchExpressions:rm:LabelSelectorRequirement
PodTemplateSpec 1:metadata:m:ObjectMeta 2:spec:m:PodSpec
JobCondition 1:type:s 2:status:s 3:lastProbeTime:t 4:lastTransitionTime:t 5:reason:s 6:message:s
UncountedTerminatedPods 1:succeeded:rs 2:failed:rs
ServicePort 1:name:s 2:protocol:s 6:appProtocol:S 3:port:i 4:targetPort:ios 5:nodePort:i
SessionAffinityConfig 1:clientIP:M:ClientIPConfig
LoadBalancerStatus 1:ingress:rm:LoadBalancerIngress
Condition 1:type:s 2:status:s 3:observedGeneration:i 4:lastTransitionTime:t 5:reason:s 6:message:s
NamespaceCondition 1:type:s 2:status:s 4:lastTransitionTime:t 5:reason:s 6:message:s
PodFailurePolicyRule 1:action:s 2:onExitCodes:M:PodFailurePolicyOnExitCodesRequirement
  3:onPodConditions:rm:PodFailurePolicyOnPodConditionsPattern
SuccessPolicyRule 1:succeededIndexes:S 2:succeededCount:I
LabelSelectorRequirement 1:key:s 2:operator:s 3:values:rs
PodSpec 1:volumes:rm:Volume 20:initContainers:rm:Container 2:containers:rm:Container
  34:ephemeralContainers:rm:EphemeralContainer 3:restartPolicy:s 4:terminationGracePeriodSeconds:I
  5:activeDeadlineSeconds:I 6:dnsPolicy:s 7:nodeSelector:ms 8:serviceAccountName:s
  9:serviceAccount:s 21:automountServiceAccountToken:B 10:nodeName:s 11:hostNetwork:b 12:hostPID:b
  13:hostIPC:b 27:shareProcessNamespace:B 14:securityContext:M:PodSecurityContext
  15:imagePullSecrets:rm:LocalObjectReference 16:hostname:s 17:subdomain:s 18:affinity:M:Affinity
  19:schedulerName:s 22:tolerations:rm:Toleration 23:hostAliases:rm:HostAlias
  24:priorityClassName:s 25:priority:I 26:dnsConfig:M:PodDNSConfig
  28:readinessGates:rm:PodReadinessGate 29:runtimeClassName:S 30:enableServiceLinks:B
  31:preemptionPolicy:S 32:overhead:mq 33:topologySpreadConstraints:rm:TopologySpreadConstraint
  35:setHostnameAsFQDN:B 36:os:M:PodOS 37:hostUsers:B 38:schedulingGates:rm:PodSchedulingGate
  39:resourceClaims:rm:PodResourceClaim 40:resources:M:ResourceRequirements
ClientIPConfig 1:timeoutSeconds:I
LoadBalancerIngress 1:ip:s 2:hostname:s 3:ipMode:S 4:ports:rm:PortStatus
PodFailurePolicyOnExitCodesRequirement 1:containerName:S 2:operator:s 3:values:ri
PodFailurePolicyOnPodConditionsPattern 1:type:s 2:status:s
Volume 1:name:s 2:-:x:VolumeSource
Container 1:name:s 2:image:s 3:command:rs 4:args:rs 5:workingDir:s 6:ports:rm:ContainerPort
  19:envFrom:rm:EnvFromSource 7:env:rm:EnvVar 8:resources:m:ResourceRequirements
  23:resizePolicy:rm:ContainerResizePolicy 24:restartPolicy:S 9:volumeMounts:rm:VolumeMount
  21:volumeDevices:rm:VolumeDevice 10:livenessProbe:M:Probe 11:readinessProbe:M:Probe
  22:startupProbe:M:Probe 12:lifecycle:M:Lifecycle 13:terminationMessagePath:s
  20:terminationMessagePolicy:s 14:imagePullPolicy:s 15:securityContext:M:SecurityContext
  16:stdin:b 17:stdinOnce:b 18:tty:b
EphemeralContainer 1:-:x:EphemeralContainerCommon 2:targetContainerName:s
PodSecurityContext 1:seLinuxOptions:M:SELinuxOptions
  8:windowsOptions:M:WindowsSecurityContextOptions 2:runAsUser:I 6:runAsGroup:I 3:runAsNonRoot:B
  4:supplementalGroups:ri 12:supplementalGroupsPolicy:S 5:fsGroup:I 7:sysctls:rm:Sysctl
  9:fsGroupChangePolicy:S 10:seccompProfile:M:SeccompProfile 11:appArmorProfile:M:AppArmorProfile
  13:seLinuxChangePolicy:S
Affinity 1:nodeAffinity:M:NodeAffinity 2:podAffinity:M:PodAffinity
  3:podAntiAffinity:M:PodAntiAffinity
Toleration 1:key:s 2:operator:s 3:value:s 4:effect:s 5:tolerationSeconds:I
HostAlias 1:ip:s 2:hostnames:rs
PodDNSConfig 1:nameservers:rs 2:searches:rs 3:options:rm:PodDNSConfigOption
PodReadinessGate 1:conditionType:s
TopologySpreadConstraint 1:maxSkew:i 2:topologyKey:s 3:whenUnsatisfiable:s
  4:labelSelector:M:LabelSelector 5:minDomains:I 6:nodeAffinityPolicy:S 7:nodeTaintsPolicy:S
  8:matchLabelKeys:rs
PodOS 1:name:s
PodSchedulingGate 1:name:s
PodResourceClaim 1:name:s 3:resourceClaimName:S 4:resourceClaimTemplateName:S
ResourceRequirements 1:limits:mq 2:requests:mq 3:claims:rm:ResourceClaim
PortStatus 1:port:i 2:protocol:s 3:error:S
VolumeSource 1:hostPath:M:HostPathVolumeSource 2:emptyDir:M:EmptyDirVolumeSource
  3:gcePersistentDisk:M:GCEPersistentDiskVolumeSource
  4:awsElasticBlockStore:M:AWSElasticBlockStoreVolumeSource 5:gitRepo:M:GitRepoVolumeSource
  6:secret:M:SecretVolumeSource 7:nfs:M:NFSVolumeSource 8:iscsi:M:ISCSIVolumeSource
  9:glusterfs:M:GlusterfsVolumeSource 10:persistentVolumeClaim:M:PersistentVolumeClaimVolumeSource
  11:rbd:M:RBDVolumeSource 12:flexVolume:M:FlexVolumeSource 13:cinder:M:CinderVolumeSource
  14:cephfs:M:CephFSVolumeSource 15:flocker:M:FlockerVolumeSource
  16:downwardAPI:M:DownwardAPIVolumeSource 17:fc:M:FCVolumeSource
  18:azureFile:M:AzureFileVolumeSource 19:configMap:M:ConfigMapVolumeSource
  20:vsphereVolume:M:VsphereVirtualDiskVolumeSource 21:quobyte:M:QuobyteVolumeSource
  22:azureDisk:M:AzureDiskVolumeSource 23:photonPersistentDisk:M:PhotonPersistentDiskVolumeSource
  26:projected:M:ProjectedVolumeSource 24:portworxVolume:M:PortworxVolumeSource
  25:scaleIO:M:ScaleIOVolumeSource 27:storageos:M:StorageOSVolumeSource 28:csi:M:CSIVolumeSource
  29:ephemeral:M:EphemeralVolumeSource 30:image:M:ImageVolumeSource
ContainerPort 1:name:s 2:hostPort:i 3:containerPort:i 4:protocol:s 5:hostIP:s
EnvFromSource 1:prefix:s 2:configMapRef:M:ConfigMapEnvSource 3:secretRef:M:SecretEnvSource
EnvVar 1:name:s 2:value:s 3:valueFrom:M:EnvVarSource
ContainerResizePolicy 1:resourceName:s 2:restartPolicy:s
VolumeMount 1:name:s 2:readOnly:b 7:recursiveReadOnly:S 3:mountPath:s 4:subPath:s
  5:mountPropagation:S 6:subPathExpr:s
VolumeDevice 1:name:s 2:devicePath:s
Probe 1:-:x:ProbeHandler 2:initialDelaySeconds:i 3:timeoutSeconds:i 4:periodSeconds:i
  5:successThreshold:i 6:failureThreshold:i 7:terminationGracePeriodSeconds:I
Lifecycle 1:postStart:M:LifecycleHandler 2:preStop:M:LifecycleHandler
SecurityContext 1:capabilities:M:Capabilities 2:privileged:B 3:seLinuxOptions:M:SELinuxOptions
  10:windowsOptions:M:WindowsSecurityContextOptions 4:runAsUser:I 8:runAsGroup:I 5:runAsNonRoot:B
  6:readOnlyRootFilesystem:B 7:allowPrivilegeEscalation:B 9:procMount:S
  11:seccompProfile:M:SeccompProfile 12:appArmorProfile:M:AppArmorProfile
EphemeralContainerCommon 1:name:s 2:image:s 3:command:rs 4:args:rs 5:workingDir:s
  6:ports:rm:ContainerPort 19:envFrom:rm:EnvFromSource 7:env:rm:EnvVar
  8:resources:m:ResourceRequirements 23:resizePolicy:rm:ContainerResizePolicy 24:restartPolicy:S
  9:volumeMounts:rm:VolumeMount 21:volumeDevices:rm:VolumeDevice 10:livenessProbe:M:Probe
  11:readinessProbe:M:Probe 22:startupProbe:M:Probe 12:lifecycle:M:Lifecycle
  13:terminationMessagePath:s 20:terminationMessagePolicy:s 14:imagePullPolicy:s
  15:securityContext:M:SecurityContext 16:stdin:b 17:stdinOnce:b 18:tty:b
SELinuxOptions 1:user:s 2:role:s 3:type:s 4:level:s
WindowsSecurityContextOptions 1:gmsaCredentialSpecName:S 2:gmsaCredentialSpec:S 3:runAsUserName:S
  4:hostProcess:B
Sysctl 1:name:s 2:value:s
SeccompProfile 1:type:s 2:localhostProfile:S
AppArmorProfile 1:type:s 2:localhostProfile:S
NodeAffinity 1:requiredDuringSchedulingIgnoredDuringExecution:M:NodeSelector
  2:preferredDuringSchedulingIgnoredDuringExecution:rm:PreferredSchedulingTerm
PodAffinity 1:requiredDuringSchedulingIgnoredDuringExecution:rm:PodAffinityTerm
  2:preferredDuringSchedulingIgnoredDuringExecution:rm:WeightedPodAffinityTerm
PodAntiAffinity 1:requiredDuringSchedulingIgnoredDuringExecution:rm:PodAffinityTerm
  2:preferredDuringSchedulingIgnoredDuringExecution:rm:WeightedPodAffinityTerm
PodDNSConfigOption 1:name:s 2:value:S
ResourceClaim 1:name:s 2:request:s
HostPathVolumeSource 1:path:s 2:type:S
EmptyDirVolumeSource 1:medium:s 2:sizeLimit:Q
GCEPersistentDiskVolumeSource 1:pdName:s 2:fsType:s 3:partition:i 4:readOnly:b
AWSElasticBlockStoreVolumeSource 1:volumeID:s 2:fsType:s 3:partition:i 4:readOnly:b
GitRepoVolumeSource 1:repository:s 2:revision:s 3:directory:s
SecretVolumeSource 1:secretName:s 2:items:rm:KeyToPath 3:defaultMode:I 4:optional:B
NFSVolumeSource 1:server:s 2:path:s 3:readOnly:b
ISCSIVolumeSource 1:targetPortal:s 2:iqn:s 3:lun:i 4:iscsiInterface:s 5:fsType:s 6:readOnly:b
  7:portals:rs 8:chapAuthDiscovery:b 11:chapAuthSession:b 10:secretRef:M:LocalObjectReference
  12:initiatorName:S
GlusterfsVolumeSource 1:endpoints:s 2:path:s 3:readOnly:b
PersistentVolumeClaimVolumeSource 1:claimName:s 2:readOnly:b
RBDVolumeSource 1:monitors:rs 2:image:s 3:fsType:s 4:pool:s 5:user:s 6:keyring:s
  7:secretRef:M:LocalObjectReference 8:readOnly:b
FlexVolumeSource 1:driver:s 2:fsType:s 3:secretRef:M:LocalObjectReference 4:readOnly:b
  5:options:ms
CinderVolumeSource 1:volumeID:s 2:fsType:s 3:readOnly:b 4:secretRef:M:LocalObjectReference
CephFSVolumeSource 1:monitors:rs 2:path:s 3:user:s 4:secretFile:s
  5:secretRef:M:LocalObjectReference 6:readOnly:b
FlockerVolumeSource 1:datasetName:s 2:datasetUUID:s
DownwardAPIVolumeSource 1:items:rm:DownwardAPIVolumeFile 2:defaultMode:I
FCVolumeSource 1:targetWWNs:rs 2:lun:I 3:fsType:s 4:readOnly:b 5:wwids:rs
AzureFileVolumeSource 1:secretName:s 2:shareName:s 3:readOnly:b
ConfigMapVolumeSource 1:-:x:LocalObjectReference 2:items:rm:KeyToPath 3:defaultMode:I 4:optional:B
VsphereVirtualDiskVolumeSource 1:volumePath:s 2:fsType:s 3:storagePolicyName:s 4:storagePolicyID:s
QuobyteVolumeSource 1:registry:s 2:volume:s 3:readOnly:b 4:user:s 5:group:s 6:tenant:s
AzureDiskVolumeSource 1:diskName:s 2:diskURI:s 3:cachingMode:S 4:fsType:S 5:readOnly:B 6:kind:S
PhotonPersistentDiskVolumeSource 1:pdID:s 2:fsType:s
ProjectedVolumeSource 1:sources:rm:VolumeProjection 2:defaultMode:I
PortworxVolumeSource 1:volumeID:s 2:fsType:s 3:readOnly:b
ScaleIOVolumeSource 1:gateway:s 2:system:s 3:secretRef:M:LocalObjectReference 4:sslEnabled:b
  5:protectionDomain:s 6:storagePool:s 7:storageMode:s 8:volumeName:s 9:fsType:s 10:readOnly:b
StorageOSVolumeSource 1:volumeName:s 2:volumeNamespace:s 3:fsType:s 4:readOnly:b
  5:secretRef:M:LocalObjectReference
CSIVolumeSource 1:driver:s 2:readOnly:B 3:fsType:S 4:volumeAttributes:ms
  5:nodePublishSecretRef:M:LocalObjectReference
EphemeralVolumeSource 1:volumeClaimTemplate:M:PersistentVolumeClaimTemplate
ImageVolumeSource 1:reference:s 2:pullPolicy:s
ConfigMapEnvSource 1:-:x:LocalObjectReference 2:optional:B
SecretEnvSource 1:-:x:LocalObjectReference 2:optional:B
EnvVarSource 1:fieldRef:M:ObjectFieldSelector 2:resourceFieldRef:M:ResourceFieldSelector
  3:configMapKeyRef:M:ConfigMapKeySelector 4:secretKeyRef:M:SecretKeySelector
ProbeHandler 1:exec:M:ExecAction 2:httpGet:M:HTTPGetAction 3:tcpSocket:M:TCPSocketAction
  4:grpc:M:GRPCAction
LifecycleHandler 1:exec:M:ExecAction 2:httpGet:M:HTTPGetAction 3:tcpSocket:M:TCPSocketAction
  4:sleep:M:SleepAction
Capabilities 1:add:rs 2:drop:rs
NodeSelector 1:nodeSelectorTerms:rm:NodeSelectorTerm
PreferredSchedulingTerm 1:weight:i 2:preference:m:NodeSelectorTerm
PodAffinityTerm 1:labelSelector:M:LabelSelector 2:namespaces:rs 3:topologyKey:s
  4:namespaceSelector:M:LabelSelector 5:matchLabelKeys:rs 6:mismatchLabelKeys:rs
WeightedPodAffinityTerm 1:weight:i 2:podAffinityTerm:m:PodAffinityTerm
KeyToPath 1:key:s 2:path:s 3:mode:I
DownwardAPIVolumeFile 1:path:s 2:fieldRef:M:ObjectFieldSelector
  3:resourceFieldRef:M:ResourceFieldSelector 4:mode:I
VolumeProjection 1:secret:M:SecretProjection 2:downwardAPI:M:DownwardAPIProjection
  3:configMap:M:ConfigMapProjection 4:serviceAccountToken:M:ServiceAccountTokenProjection
  5:clusterTrustBundle:M:ClusterTrustBundleProjection
PersistentVolumeClaimTemplate 1:metadata:m:ObjectMeta 2:spec:m:PersistentVolumeClaimSpec
ObjectFieldSelector 1:apiVersion:s 2:fieldPath:s
ResourceFieldSelector 1:containerName:s 2:resource:s 3:divisor:q
ConfigMapKeySelector 1:-:x:LocalObjectReference 2:key:s 3:optional:B
SecretKeySelector 1:-:x:LocalObjectReference 2:key:s 3:optional:B
ExecAction 1:command:rs
HTTPGetAction 1:path:s 2:port:ios 3:host:s 4:scheme:s 5:httpHeaders:rm:HTTPHeader
TCPSocketAction 1:port:ios 2:host:s
GRPCAction 1:port:i 2:service:S
SleepAction 1:seconds:i
NodeSelectorTerm 1:matchExpressions:rm:NodeSelectorRequirement
  2:matchFields:rm:NodeSelectorRequirement
SecretProjection 1:-:x:LocalObjectReference 2:items:rm:KeyToPath 4:optional:B
DownwardAPIProjection 1:items:rm:DownwardAPIVolumeFile
ConfigMapProjection 1:-:x:LocalObjectReference 2:items:rm:KeyToPath 4:optional:B
ServiceAccountTokenProjection 1:audience:s 2:expirationSeconds:I 3:path:s
ClusterTrustBundleProjection 1:name:S 2:signerName:S 3:labelSelector:M:LabelSelector 5:optional:B
  4:path:s
PersistentVolumeClaimSpec 1:accessModes:rs 4:selector:M:LabelSelector
  2:resources:m:VolumeResourceRequirements 3:volumeName:s 5:storageClassName:S 6:volumeMode:S
  7:dataSource:M:TypedLocalObjectReference 8:dataSourceRef:M:TypedObjectReference
  9:volumeAttributesClassName:S
HTTPHeader 1:name:s 2:value:s
NodeSelectorRequirement 1:key:s 2:operator:s 3:values:rs
VolumeResourceRequirements 1:limits:mq 2:requests:mq
TypedLocalObjectReference 1:apiGroup:S 2:kind:s 3:name:s
TypedObjectReference 1:apiGroup:S 2:kind:s 3:name:s 4:namespace:S
)schema";
// clang-format on

}  // namespace vmrelease::apiserver::internal
