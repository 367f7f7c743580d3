/**
 * DrawGraph as SVG: written as Graphviz DOT and laid out by Graphviz itself, compiled to
 * WebAssembly (@viz-js/viz, mdaines/viz-js: no dependencies, a CommonJS entry this package's
 * CommonJS build can require, Graphviz's own `dot` layout). The DOT text is exported too, for
 * users who render with their own Graphviz.
 */
import type { DrawCluster, DrawGraph, DrawNode, NodeShape } from './model';

/**
 * Loaded only when SVG is asked for, by a name a bundler does not follow: the module embeds
 * Graphviz's wasm (1.2 MB of JavaScript), which no other command should load at start-up, and the
 * image's KRM bundle (scripts/build-runtime.mjs bundles lib/cli/main.ts) should not carry.
 * `kservice graph --format svg` runs from the npm package, whose node_modules has it.
 */
const GRAPHVIZ_MODULE: string = '@viz-js/viz';

const SHAPES: Record<NodeShape, string> = { box: 'shape=box', round: 'shape=box, style="rounded"', diamond: 'shape=diamond' };

export function toDot(graph: DrawGraph): string {
  const lines = ['digraph kservice {', '  rankdir=LR;', '  graph [fontname="Helvetica", fontsize=12];', '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=10];'];
  const emit = (cluster: DrawCluster | undefined, indent: string) => {
    for (const node of graph.nodes.filter((n) => n.cluster === cluster?.id)) lines.push(`${indent}${nodeText(node)}`);
    for (const child of graph.clusters.filter((c) => c.parent === cluster?.id)) {
      // Graphviz draws a subgraph as a box only when its name starts with `cluster`.
      lines.push(`${indent}subgraph cluster_${child.id} {`, `${indent}  label=${quote(child.label)};`);
      emit(child, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  emit(undefined, '  ');
  for (const edge of graph.edges) {
    const attrs = [edge.label ? `label=${quote(edge.label)}` : '', edge.dashed ? 'style=dashed' : ''].filter(Boolean);
    lines.push(`  ${edge.from} -> ${edge.to}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export async function toSvg(graph: DrawGraph): Promise<string> {
  const { instance } = (await import(GRAPHVIZ_MODULE)) as typeof import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(toDot(graph), { format: 'svg', engine: 'dot' });
}

function nodeText(node: DrawNode): string {
  return `${node.id} [label=${quote(node.lines.join('\n'))}, ${SHAPES[node.shape]}];`;
}

/** A DOT string: backslash and quote escaped, a line break as DOT's centred `\n`. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
