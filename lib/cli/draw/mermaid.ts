/**
 * DrawGraph as a Mermaid flowchart (mermaid-js docs/syntax/flowchart.md), for READMEs and pull
 * requests, where GitHub and GitLab render it. Labels are quoted strings; a `"` inside one is
 * written as Mermaid's entity code `#quot;` and line breaks as `<br/>`.
 */
import type { DrawCluster, DrawGraph, DrawNode, NodeShape } from './model';

const SHAPES: Record<NodeShape, [string, string]> = { box: ['[', ']'], round: ['([', '])'], diamond: ['{', '}'] };

export function toMermaid(graph: DrawGraph): string {
  const lines = ['flowchart LR'];
  const children = (parent: string | undefined) => graph.clusters.filter((c) => c.parent === parent);
  const nodesIn = (cluster: string | undefined) => graph.nodes.filter((n) => n.cluster === cluster);
  const emit = (cluster: DrawCluster | undefined, indent: string) => {
    for (const node of nodesIn(cluster?.id)) lines.push(`${indent}${nodeText(node)}`);
    for (const child of children(cluster?.id)) {
      lines.push(`${indent}subgraph ${child.id}["${escape(child.label)}"]`);
      emit(child, `${indent}  `);
      lines.push(`${indent}end`);
    }
  };
  emit(undefined, '  ');
  for (const edge of graph.edges) {
    const arrow = edge.dashed ? '-.->' : '-->';
    lines.push(`  ${edge.from} ${arrow}${edge.label ? `|"${escape(edge.label)}"|` : ''} ${edge.to}`);
  }
  return `${lines.join('\n')}\n`;
}

function nodeText(node: DrawNode): string {
  const [open, close] = SHAPES[node.shape];
  return `${node.id}${open}"${node.lines.map(escape).join('<br/>')}"${close}`;
}

/** Mermaid reads `"` as the end of the label and `<`/`>` as HTML; entity codes keep them literal. */
function escape(text: string): string {
  return text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}
