import { type CoreV1Api, PatchStrategy, setHeaderOptions, type V1EndpointSubset, type V1Endpoints } from '@kubernetes/client-node';
import type { ObjectLabelsAndAnnotations } from '../../contract/autoscaling';
import { isConflict, isNotFound } from './client';

/** What a public Endpoints object the runtime creates carries besides its name and subsets. */
export interface NewEndpointsMetadata extends ObjectLabelsAndAnnotations {
  /**
   * The revision's Deployment, as the object's owner: the garbage collector deletes the object
   * with it. An engine that prunes the revision deletes only what it applied (Argo CD by its
   * tracking annotation, Flux by its inventory and owner labels), so without an owner the object
   * would outlive its revision.
   */
  readonly owner?: { readonly name: string; readonly uid: string };
}

export interface WriteEndpointsOptions {
  /**
   * Labels and annotations to create the object with when it does not exist (a GitOps engine
   * left it out of the graph: Argo CD 3.x excludes Endpoints by default). Without them a missing
   * object is an error (404), as before.
   */
  readonly createWith?: NewEndpointsMetadata;
  /** Tries on a 409 (a concurrent writer) before giving up. */
  readonly attempts?: number;
  /**
   * The object as the informer cache has it (`object` undefined: not there). Given, the write is
   * one request, with no GET first: a replace of the cached object with its resourceVersion, or
   * the create when the cache has none. A 409 (the cache was behind the API server) is thrown for
   * the caller to retry from the cache once it caught up, as the write queue does with backoff
   * (../kube/work-queue.ts); `attempts` is then ignored.
   */
  readonly fromCache?: { readonly object: V1Endpoints | undefined };
}

/**
 * Writes the subsets of a revision's public Endpoints. An existing object (the compiled graph's,
 * or one created earlier) is read, then replaced with the read resourceVersion, so a concurrent
 * writer is detected (409) rather than overwritten; on a conflict, read again and retry. Only
 * `subsets` changes: labels, annotations and everything else are sent back as read.
 *
 * A missing object is created by server-side apply (createMissingEndpoints) when `createWith`
 * says how. Never deletes.
 *
 * Resolves once the API server has accepted the write, which is the acknowledgement the autoscaler
 * waits for before scaling a revision to zero.
 */
export async function writeEndpointsSubsets(
  core: CoreV1Api,
  namespace: string,
  name: string,
  subsets: V1EndpointSubset[],
  fieldManager: string,
  opts: WriteEndpointsOptions = {},
): Promise<V1Endpoints> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      const current = opts.fromCache ? opts.fromCache.object : await readIfExists(core, namespace, name, opts.createWith !== undefined);
      if (current === undefined && opts.createWith === undefined) throw new Error(`Endpoints ${namespace}/${name} not found in the informer cache`);
      if (current === undefined) return await createMissingEndpoints(core, namespace, name, opts.createWith!, subsets, fieldManager);
      return await core.replaceNamespacedEndpoints({
        name,
        namespace,
        fieldManager,
        body: { ...current, subsets: subsets.length > 0 ? subsets : undefined },
      });
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts || opts.fromCache) throw err;
    }
  }
}

async function readIfExists(core: CoreV1Api, namespace: string, name: string, mayBeMissing: boolean): Promise<V1Endpoints | undefined> {
  try {
    return await core.readNamespacedEndpoints({ name, namespace });
  } catch (err) {
    if (mayBeMissing && isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Server-side apply, without force, of the whole object: name, the given labels and annotations,
 * its owner (the revision's Deployment) and the subsets. Server-side apply because it is the one create RBAC can limit by name (the API
 * server authorizes an apply that creates as verb `create` on the named object,
 * k8s.io/apiserver pkg/endpoints/handlers/patch.go; a POST create has no name to check).
 *
 * Races: another autoscaler replica applying the same object under the same field manager just
 * merges; an engine that created it meanwhile with other label or annotation values makes this a
 * 409 Conflict (their fields, not ours to force), and the caller retries, finding it and
 * replacing only the subsets. The field manager then co-owns the labels and annotations it
 * created with (an engine applying the same values shares them) and, from its first subsets
 * write on, owns `subsets` through that write (replace) as it does for Endpoints the graph
 * created.
 */
export async function createMissingEndpoints(
  core: CoreV1Api,
  namespace: string,
  name: string,
  meta: NewEndpointsMetadata,
  subsets: V1EndpointSubset[],
  fieldManager: string,
): Promise<V1Endpoints> {
  // No blockOwnerDeletion: it would need update on the Deployment's finalizers, and nothing
  // needs the Deployment's deletion to wait for this object.
  const ownerReferences = meta.owner ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: meta.owner.name, uid: meta.owner.uid }] : undefined;
  const body: V1Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace, labels: meta.labels, annotations: meta.annotations, ...(ownerReferences ? { ownerReferences } : {}) },
    ...(subsets.length > 0 ? { subsets } : {}),
  };
  return core.patchNamespacedEndpoints(
    { name, namespace, body, fieldManager, force: false },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}
