/**
 * The one picture `kservice graph` draws, independent of how it is rendered: nodes (with the
 * lines of their label and a shape), edges, and nested clusters (a service, a revision inside it).
 * lib/cli/draw/mermaid.ts and svg.ts render the same DrawGraph, so the two never disagree.
 */

/** `box`: an object; `round`: a process of the runtime or a gateway; `diamond`: Endpoints the runtime flips. */
export type NodeShape = 'box' | 'round' | 'diamond';

export interface DrawNode {
  /** Stable and readable (`svc_shop_shop_00001`), so a diff of two pictures shows what changed. */
  readonly id: string;
  readonly lines: readonly string[];
  readonly shape: NodeShape;
  readonly cluster?: string;
}

export interface DrawEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  /** Control rather than request flow, or a path only taken in one mode. */
  readonly dashed?: boolean;
}

export interface DrawCluster {
  readonly id: string;
  readonly label: string;
  readonly parent?: string;
}

export interface DrawGraph {
  readonly nodes: readonly DrawNode[];
  readonly edges: readonly DrawEdge[];
  readonly clusters: readonly DrawCluster[];
}

/**
 * Collects a DrawGraph in insertion order (the caller walks its input sorted, so the order is
 * deterministic). A node or cluster is added once per key; edges are deduplicated.
 */
export class GraphBuilder {
  private readonly nodes = new Map<string, DrawNode>();
  private readonly clusters = new Map<string, DrawCluster>();
  private readonly edges = new Map<string, DrawEdge>();
  private readonly idByKey = new Map<string, string>();
  private readonly usedIds = new Set<string>();

  /** The id for a key such as `Service/shop/shop-00001`: only [A-Za-z0-9_], unique even when two keys sanitize alike. */
  idFor(key: string): string {
    const known = this.idByKey.get(key);
    if (known) return known;
    const base = key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'n';
    let id = /^[A-Za-z]/.test(base) ? base : `n_${base}`;
    for (let i = 2; this.usedIds.has(id); i++) id = `${base}_${i}`;
    this.usedIds.add(id);
    this.idByKey.set(key, id);
    return id;
  }

  node(key: string, lines: readonly string[], shape: NodeShape, cluster?: string): string {
    const id = this.idFor(key);
    if (!this.nodes.has(id)) this.nodes.set(id, { id, lines, shape, cluster });
    return id;
  }

  cluster(key: string, label: string, parent?: string): string {
    const id = this.idFor(`cluster/${key}`);
    if (!this.clusters.has(id)) this.clusters.set(id, { id, label, parent });
    return id;
  }

  edge(from: string, to: string, label?: string, dashed?: boolean): void {
    const key = JSON.stringify([from, to, label ?? '', dashed === true]);
    if (!this.edges.has(key)) this.edges.set(key, { from, to, ...(label ? { label } : {}), ...(dashed ? { dashed } : {}) });
  }

  build(): DrawGraph {
    return { nodes: [...this.nodes.values()], edges: [...this.edges.values()], clusters: [...this.clusters.values()] };
  }
}
