/**
 * The subset of the Kubernetes PodSpec that a Knative revision accepts, with Knative's field masks
 * (knative/serving pkg/apis/serving/fieldmask.go): fields behind Knative feature flags that a
 * cluster operator commonly enables (affinity, nodeSelector, tolerations, pod securityContext,
 * init containers, ...) are accepted; fields Knative never allows (hostPort, nodeName, restartPolicy,
 * lifecycle, ...) are unknown-field errors. Container ports may not use the queue-proxy's ports.
 */
import {
  Schema, arrayOf, boolean, dnsLabel, integer, intOrString, mapOf, object, oneOfValues, quantity, ref, string,
} from './builders';

const keyToPath = object({ key: string(), path: string(), mode: integer(0, 511) }, ['key', 'path']);

const configMapOrSecretKeyRef = object({ name: string(), key: string(), optional: boolean }, ['key']);
const localObjectRef = object({ name: string(), optional: boolean });

const labelSelectorRequirement = object(
  { key: string(), operator: oneOfValues(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: arrayOf(string()) },
  ['key', 'operator'],
);
const labelSelector = object({ matchLabels: mapOf(string()), matchExpressions: arrayOf(labelSelectorRequirement) });

const nodeSelectorRequirement = object(
  { key: string(), operator: oneOfValues(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']), values: arrayOf(string()) },
  ['key', 'operator'],
);
const nodeSelectorTerm = object({
  matchExpressions: arrayOf(nodeSelectorRequirement),
  matchFields: arrayOf(nodeSelectorRequirement),
});
const podAffinityTerm = object(
  {
    labelSelector,
    namespaceSelector: labelSelector,
    namespaces: arrayOf(string()),
    topologyKey: string(),
    matchLabelKeys: arrayOf(string()),
    mismatchLabelKeys: arrayOf(string()),
  },
  ['topologyKey'],
);
const weightedPodAffinityTerm = object({ weight: integer(1, 100), podAffinityTerm }, ['weight', 'podAffinityTerm']);
const podAffinity = object({
  requiredDuringSchedulingIgnoredDuringExecution: arrayOf(podAffinityTerm),
  preferredDuringSchedulingIgnoredDuringExecution: arrayOf(weightedPodAffinityTerm),
});

const affinity = object({
  nodeAffinity: object({
    requiredDuringSchedulingIgnoredDuringExecution: object({ nodeSelectorTerms: arrayOf(nodeSelectorTerm) }, ['nodeSelectorTerms']),
    preferredDuringSchedulingIgnoredDuringExecution: arrayOf(
      object({ weight: integer(1, 100), preference: nodeSelectorTerm }, ['weight', 'preference']),
    ),
  }),
  podAffinity,
  podAntiAffinity: podAffinity,
});

const toleration = object({
  key: string(),
  operator: oneOfValues(['Exists', 'Equal']),
  value: string(),
  effect: oneOfValues(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
  tolerationSeconds: integer(),
});

const seccompProfile = object(
  { type: oneOfValues(['RuntimeDefault', 'Localhost', 'Unconfined']), localhostProfile: string() },
  ['type'],
);

const containerSecurityContext = object({
  allowPrivilegeEscalation: boolean,
  capabilities: object({ add: arrayOf(string()), drop: arrayOf(string()) }),
  privileged: boolean,
  readOnlyRootFilesystem: boolean,
  runAsGroup: integer(0),
  runAsNonRoot: boolean,
  runAsUser: integer(0),
  seccompProfile,
});

const podSecurityContext = object({
  fsGroup: integer(0),
  fsGroupChangePolicy: oneOfValues(['OnRootMismatch', 'Always']),
  runAsGroup: integer(0),
  runAsNonRoot: boolean,
  runAsUser: integer(0),
  seccompProfile,
  seLinuxOptions: object({ level: string(), role: string(), type: string(), user: string() }),
  supplementalGroups: arrayOf(integer(0)),
  sysctls: arrayOf(object({ name: string(), value: string() }, ['name', 'value'])),
});

const httpGet = object(
  {
    host: string(),
    path: string(),
    port: intOrString,
    scheme: oneOfValues(['HTTP', 'HTTPS']),
    httpHeaders: arrayOf(object({ name: string(), value: string() }, ['name', 'value'])),
  },
);

const probe = object({
  exec: object({ command: arrayOf(string()) }),
  httpGet,
  tcpSocket: object({ host: string(), port: intOrString }),
  grpc: object({ port: integer(0, 65535), service: string() }), // port defaults to the user port, as in Knative
  initialDelaySeconds: integer(0),
  timeoutSeconds: integer(0),
  periodSeconds: integer(0),
  successThreshold: integer(1),
  failureThreshold: integer(0),
  terminationGracePeriodSeconds: integer(1),
});

const envVar = object(
  {
    // Reserved names (PORT, K_SERVICE, ...) are a model rule: lib/model/parse-revision.ts envErrors.
    name: { type: 'string', minLength: 1 },
    value: string(),
    valueFrom: object({
      configMapKeyRef: configMapOrSecretKeyRef,
      secretKeyRef: configMapOrSecretKeyRef,
      fieldRef: object({ apiVersion: string(), fieldPath: string() }, ['fieldPath']),
      resourceFieldRef: object({ containerName: string(), resource: string(), divisor: quantity }, ['resource']),
    }),
  },
  ['name'],
);

const envFromSource = object({ prefix: string(), configMapRef: localObjectRef, secretRef: localObjectRef });

// Knative reads the protocol from the port name and serves TCP only. The port's range, the
// reserved ports and the protocol names are model rules (lib/model/parse-revision.ts portErrors),
// checked on the props the CLI builds, so both front ends say the same.
const containerPort = object(
  {
    name: string(),
    containerPort: integer(),
    protocol: { type: 'string', enum: ['TCP'], hint: 'must be TCP' },
  },
  ['containerPort'],
);


const resources = object({ limits: mapOf(quantity), requests: mapOf(quantity) });

const volumeMount = object(
  {
    name: string(),
    mountPath: string({ minLength: 1 }),
    readOnly: boolean,
    subPath: string(),
    subPathExpr: string(),
    mountPropagation: oneOfValues(['None', 'HostToContainer', 'Bidirectional']),
  },
  ['name', 'mountPath'],
);

function containerSchema(userFacing: boolean): Schema {
  const properties: Record<string, Schema> = {
    name: dnsLabel(),
    image: string({ minLength: 1 }),
    imagePullPolicy: oneOfValues(['Always', 'IfNotPresent', 'Never']),
    command: arrayOf(string()),
    args: arrayOf(string()),
    workingDir: string(),
    env: arrayOf(ref('EnvVar')),
    envFrom: arrayOf(ref('EnvFromSource')),
    ports: arrayOf(ref('ContainerPort'), { maxItems: 1, hint: 'a container may declare at most one port' }),
    resources: ref('ResourceRequirements'),
    securityContext: ref('SecurityContext'),
    terminationMessagePath: string(),
    terminationMessagePolicy: oneOfValues(['File', 'FallbackToLogsOnError']),
    volumeMounts: arrayOf(ref('VolumeMount')),
  };
  if (userFacing) {
    properties.readinessProbe = ref('Probe');
    properties.livenessProbe = ref('Probe');
    properties.startupProbe = ref('Probe');
  }
  return object(properties, userFacing ? ['image'] : ['image', 'name']);
}

const volume = object(
  {
    name: dnsLabel(),
    configMap: object({ name: string(), items: arrayOf(keyToPath), defaultMode: integer(0, 511), optional: boolean }),
    secret: object({ secretName: string(), items: arrayOf(keyToPath), defaultMode: integer(0, 511), optional: boolean }),
    emptyDir: object({ medium: oneOfValues(['', 'Memory']), sizeLimit: quantity }),
    persistentVolumeClaim: object({ claimName: string({ minLength: 1 }), readOnly: boolean }, ['claimName']),
    projected: object({
      defaultMode: integer(0, 511),
      sources: arrayOf(
        object({
          configMap: object({ name: string(), items: arrayOf(keyToPath), optional: boolean }),
          secret: object({ name: string(), items: arrayOf(keyToPath), optional: boolean }),
          serviceAccountToken: object(
            { audience: string(), expirationSeconds: integer(600), path: string() },
            ['path'],
          ),
          downwardAPI: object({
            items: arrayOf(
              object(
                {
                  path: string(),
                  fieldRef: object({ apiVersion: string(), fieldPath: string() }, ['fieldPath']),
                  mode: integer(0, 511),
                },
                ['path'],
              ),
            ),
          }),
        }),
      ),
    }),
    hostPath: object({ path: string(), type: string() }, ['path']),
    csi: object(
      {
        driver: string(),
        readOnly: boolean,
        fsType: string(),
        volumeAttributes: mapOf(string()),
        nodePublishSecretRef: object({ name: string() }),
      },
      ['driver'],
    ),
  },
  ['name'],
);

const topologySpreadConstraint = object(
  {
    maxSkew: integer(1),
    topologyKey: string(),
    whenUnsatisfiable: oneOfValues(['DoNotSchedule', 'ScheduleAnyway']),
    labelSelector,
    minDomains: integer(1),
    matchLabelKeys: arrayOf(string()),
  },
  ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
);

/** Properties of a PodSpec that Knative inlines into RevisionSpec. */
export const podSpecProperties: Record<string, Schema> = {
  containers: arrayOf(ref('Container'), { minItems: 1 }),
  initContainers: arrayOf(ref('InitContainer')),
  volumes: arrayOf(ref('Volume')),
  serviceAccountName: dnsLabel(),
  automountServiceAccountToken: boolean,
  imagePullSecrets: arrayOf(object({ name: string() })),
  enableServiceLinks: boolean,
  nodeSelector: mapOf(string()),
  tolerations: arrayOf(toleration),
  affinity,
  securityContext: podSecurityContext,
  topologySpreadConstraints: arrayOf(topologySpreadConstraint),
  priorityClassName: string(),
  runtimeClassName: string(),
  schedulerName: string(),
  dnsPolicy: oneOfValues(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']),
  dnsConfig: object({
    nameservers: arrayOf(string()),
    searches: arrayOf(string()),
    options: arrayOf(object({ name: string(), value: string() })),
  }),
  hostAliases: arrayOf(object({ ip: string(), hostnames: arrayOf(string()) }, ['ip'])),
};

/** Shared definitions the pod properties refer to (`#/definitions/NAME`). */
export const podSpecDefinitions: Record<string, Schema> = {
  Container: containerSchema(true),
  InitContainer: containerSchema(false),
  ContainerPort: containerPort,
  EnvVar: envVar,
  EnvFromSource: envFromSource,
  Probe: probe,
  ResourceRequirements: resources,
  SecurityContext: containerSecurityContext,
  VolumeMount: volumeMount,
  Volume: volume,
};
