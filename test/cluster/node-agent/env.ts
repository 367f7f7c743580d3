// A container's environment as the kubelet builds it: `env` in order with `$(VAR)` references to
// earlier entries expanded, `valueFrom` resolved (downward API field and resource refs, ConfigMap
// and Secret keys) and `envFrom` sources. Service-link variables are left out on purpose: the
// runtime must not depend on them (Knative sets enableServiceLinks: false).
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';

export interface EnvSources {
  readonly podIP: string;
  readonly hostIP: string;
  /** Reads a ConfigMap or Secret key; undefined when missing. */
  readonly lookup?: (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => Promise<Record<string, string> | undefined>;
}

export class EnvResolutionError extends Error {}

/** `$(NAME)` → value of an earlier variable; `$$(NAME)` escapes; unknown references stay as written. */
export function expandReferences(value: string, known: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in known ? known[name] : match;
  });
}

export function fieldRefValue(pod: V1Pod, fieldPath: string, sources: EnvSources): string {
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[labelOrAnnotation[2]] ?? '';
  }
  const values: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': sources.podIP,
    'status.podIPs': sources.podIP,
    'status.hostIP': sources.hostIP,
    'status.hostIPs': sources.hostIP,
  };
  if (!(fieldPath in values)) throw new EnvResolutionError(`fieldRef ${fieldPath} is not supported by the node agent`);
  return values[fieldPath] ?? '';
}

/**
 * resourceFieldRef: the container's limit (or request) divided by the divisor, rounded up, as the
 * kubelet does; without either it falls back to the node's allocatable, here 2 CPUs and 8Gi.
 */
export function resourceFieldValue(container: V1Container, resource: string, divisor = '1'): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const quantity = container.resources?.[kind]?.[name] ?? container.resources?.limits?.[name] ?? (name === 'cpu' ? '2' : '8Gi');
  return String(Math.ceil(parseQuantity(quantity) / parseQuantity(divisor)));
}

const SUFFIX: Record<string, number> = {
  m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
  if (!m) throw new EnvResolutionError(`cannot parse quantity "${q}"`);
  return Number(m[1]) * SUFFIX[m[2] ?? ''];
}

async function valueOf(pod: V1Pod, container: V1Container, v: V1EnvVar, env: Record<string, string>, sources: EnvSources): Promise<string | undefined> {
  const from = v.valueFrom;
  if (!from) return expandReferences(v.value ?? '', env);
  if (from.fieldRef) return fieldRefValue(pod, from.fieldRef.fieldPath, sources);
  if (from.resourceFieldRef) {
    return resourceFieldValue(container, from.resourceFieldRef.resource, from.resourceFieldRef.divisor as string | undefined);
  }
  const keyRef = from.configMapKeyRef ?? from.secretKeyRef;
  if (keyRef) {
    const kind = from.configMapKeyRef ? 'ConfigMap' : 'Secret';
    const data = await sources.lookup?.(kind, pod.metadata?.namespace ?? 'default', keyRef.name ?? '');
    const value = data?.[keyRef.key];
    if (value === undefined && !keyRef.optional) {
      throw new EnvResolutionError(`env ${v.name}: ${kind} ${keyRef.name} key ${keyRef.key} not found`);
    }
    return value;
  }
  throw new EnvResolutionError(`env ${v.name}: unsupported valueFrom ${JSON.stringify(from)}`);
}

/** The environment declared by the pod spec for one container. */
export async function resolveContainerEnv(pod: V1Pod, container: V1Container, sources: EnvSources): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const data = ref ? await sources.lookup?.(kind, pod.metadata?.namespace ?? 'default', ref.name ?? '') : undefined;
    if (!data && ref && !ref.optional) throw new EnvResolutionError(`envFrom ${kind} ${ref.name} not found`);
    for (const [k, val] of Object.entries(data ?? {})) env[`${source.prefix ?? ''}${k}`] = val;
  }
  for (const v of container.env ?? []) {
    const value = await valueOf(pod, container, v, env, sources);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}
