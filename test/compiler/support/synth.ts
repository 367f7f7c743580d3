import { App, Chart } from 'cdk8s';
import { stringify } from 'yaml';
import { buildExamplesApp } from '../../../examples/charts';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/** Every chart of the examples App, synthesized (the same objects `cdk8s synth` writes). */
export function synthExamples(): Record<string, Manifest[]> {
  const app = buildExamplesApp();
  return synthApp(app);
}

export function synthApp(app: App): Record<string, Manifest[]> {
  const charts = app.node.children.filter((c): c is Chart => c instanceof Chart);
  return Object.fromEntries(charts.map((c) => [c.node.id, c.toJson() as Manifest[]]));
}

export function synthChart(chart: Chart): Manifest[] {
  return chart.toJson() as Manifest[];
}

export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

export function find(objects: readonly Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
