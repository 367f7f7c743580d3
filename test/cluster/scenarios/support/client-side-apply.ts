// Client-side apply as `kubectl apply` (without --server-side) computes it, and as Argo CD runs it
// by default (gitops-engine pkg/utils/kube/resource_ops.go ApplyResource: kubectl's apply
// library, with Argo CD's manager name as fieldManager). No kubectl binary is needed.
//
// A missing object is created (POST) with the kubectl.kubernetes.io/last-applied-configuration
// annotation holding the manifest. An existing one gets a three-way merge patch: fields in the
// previous last-applied-configuration that the new manifest dropped are deleted (null), fields of
// the manifest that differ from the live object are set, and every other live field, such as the
// ones the runtime wrote, is left alone. kubectl computes a strategic merge patch for built-in
// kinds (lists merged by key); this computes the JSON merge patch it uses for the other kinds,
// which sends a changed list whole. For fields no manifest declares (Deployment replicas,
// Endpoints subsets) both are the same: neither is in the manifest or in last-applied, so neither
// is in the patch.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Annotations } from '../../../../lib/contract/constants';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** kubectl's default field manager for client-side apply (k8s.io/kubectl pkg/cmd/apply FieldManagerClientSideApply). */
export const KUBECTL_CLIENT_SIDE_APPLY = 'kubectl-client-side-apply';

/** Keys of `original` that `modified` no longer has, as nulls (recursively). */
function deletions(original: Json | undefined, modified: Json): Record<string, Json> {
  const out: Record<string, Json> = {};
  if (!isObject(original) || !isObject(modified)) return out;
  for (const [k, v] of Object.entries(original)) {
    if (!(k in modified)) out[k] = null;
    else if (isObject(v) && isObject(modified[k])) {
      const inner = deletions(v, modified[k]);
      if (Object.keys(inner).length > 0) out[k] = inner;
    }
  }
  return out;
}

/** The fields of `modified` that `current` lacks or has with another value (recursively). */
function changes(current: Json | undefined, modified: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(modified)) {
    const live = isObject(current) ? current[k] : undefined;
    if (isObject(v) && isObject(live)) {
      const inner = changes(live, v);
      if (Object.keys(inner).length > 0) out[k] = inner;
    } else if (JSON.stringify(v) !== JSON.stringify(live)) out[k] = v;
  }
  return out;
}

function mergeInto(target: Record<string, Json>, patch: Record<string, Json>): Record<string, Json> {
  for (const [k, v] of Object.entries(patch)) target[k] = isObject(v) && isObject(target[k]) ? mergeInto({ ...(target[k] as Record<string, Json>) }, v) : v;
  return target;
}

function threeWayMergePatch(original: Json | undefined, modified: Record<string, Json>, current: Json): Record<string, Json> {
  return mergeInto(deletions(original, modified), changes(current, modified));
}

export interface ClientSideApplied {
  readonly name: string;
  /** `create` for a missing object, else the patch sent (empty: nothing sent). */
  readonly patch: Record<string, Json> | 'create';
}

/** The manifest with the last-applied annotation kubectl adds (holding the manifest itself). */
function withLastApplied(obj: KubernetesObject): Record<string, Json> {
  const manifest = JSON.parse(JSON.stringify(obj)) as Record<string, Json>;
  return mergeInto(JSON.parse(JSON.stringify(manifest)) as Record<string, Json>, {
    metadata: { annotations: { [Annotations.LAST_APPLIED]: JSON.stringify(manifest) } },
  });
}

/** `kubectl apply` (client-side) of every object, in order: returns what it sent per object. */
export async function clientSideApply(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  fieldManager = KUBECTL_CLIENT_SIDE_APPLY,
): Promise<ClientSideApplied[]> {
  // A fresh client per call: KubernetesObjectApi caches API discovery.
  const api = KubernetesObjectApi.makeApiClient(kc);
  const sent: ClientSideApplied[] = [];
  for (const obj of objects) {
    const name = `${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
    const modified = withLastApplied(obj);
    const live = await readIfExists(api, obj);
    if (live === undefined) {
      await api.create(modified as KubernetesObject, undefined, undefined, fieldManager);
      sent.push({ name, patch: 'create' });
      continue;
    }
    const lastApplied = (live as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[Annotations.LAST_APPLIED];
    const original = lastApplied === undefined ? undefined : (JSON.parse(lastApplied) as Json);
    const patch = threeWayMergePatch(original, modified, live);
    sent.push({ name, patch });
    if (Object.keys(patch).length === 0) continue;
    const target = { ...patch, apiVersion: obj.apiVersion, kind: obj.kind, metadata: { ...(patch.metadata as object), name: obj.metadata!.name!, namespace: obj.metadata?.namespace } };
    await api.patch(target as KubernetesObject, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
  }
  return sent;
}

async function readIfExists(api: KubernetesObjectApi, obj: KubernetesObject): Promise<Json | undefined> {
  try {
    return (await api.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata!.name!, namespace: obj.metadata?.namespace } })) as unknown as Json;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}
