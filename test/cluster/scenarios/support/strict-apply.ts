// Server-side apply with `fieldValidation=Strict` (unknown or duplicate fields are errors, not
// warnings that get pruned) and optional dry run, as `kubectl apply --server-side
// --validate=strict [--dry-run=server]` sends it. Hand-written on node:https because client-node's
// KubernetesObjectApi.patch has no fieldValidation parameter; resource paths come from API
// discovery, so CRD kinds work too.
import { request } from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';

export interface ApplyError {
  readonly object: string;
  readonly status: number;
  readonly message: string;
}

interface Resource {
  readonly name: string;
  readonly namespaced: boolean;
}

export class StrictApplier {
  private readonly discovery = new Map<string, Map<string, Resource>>();

  constructor(private readonly kc: KubeConfig) {}

  private async send(method: string, path: string, body?: string, contentType?: string): Promise<{ status: number; body: string }> {
    const server = new URL(this.kc.getCurrentCluster()?.server ?? '');
    const opts: Record<string, unknown> = { method, host: server.hostname, port: server.port, path, headers: {} as Record<string, string> };
    await this.kc.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, string>;
    if (contentType) headers['Content-Type'] = contentType;
    return new Promise((resolve, reject) => {
      const req = request(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** kind -> resource of one group/version, from discovery (cached). */
  private async resources(apiVersion: string): Promise<Map<string, Resource>> {
    let map = this.discovery.get(apiVersion);
    if (!map) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const res = await this.send('GET', path);
      if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${res.status}`);
      const list = JSON.parse(res.body) as { resources: Array<{ name: string; kind: string; namespaced: boolean }> };
      map = new Map(list.resources.filter((r) => !r.name.includes('/')).map((r) => [r.kind, { name: r.name, namespaced: r.namespaced }]));
      this.discovery.set(apiVersion, map);
    }
    return map;
  }

  async pathOf(obj: KubernetesObject): Promise<string> {
    const apiVersion = obj.apiVersion ?? '';
    const resource = (await this.resources(apiVersion)).get(obj.kind ?? '');
    if (!resource) throw new Error(`the API server does not serve ${obj.kind} in ${apiVersion}`);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = resource.namespaced ? `/namespaces/${obj.metadata?.namespace ?? 'default'}` : '';
    return `${base}${ns}/${resource.name}/${obj.metadata?.name}`;
  }

  /** Applies one object; resolves with an error description instead of throwing on rejection. */
  async apply(obj: KubernetesObject, fieldManager: string, opts: { dryRun?: boolean } = {}): Promise<ApplyError | undefined> {
    const query = new URLSearchParams({ fieldManager, fieldValidation: 'Strict', ...(opts.dryRun ? { dryRun: 'All' } : {}) });
    const res = await this.send('PATCH', `${await this.pathOf(obj)}?${query}`, JSON.stringify(obj), 'application/apply-patch+yaml');
    if (res.status >= 200 && res.status < 300) return undefined;
    let message = res.body;
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? res.body;
    } catch {
      // not a Status object: keep the raw body
    }
    return { object: `${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`, status: res.status, message };
  }
}
