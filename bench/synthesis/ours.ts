/** N services through our constructs (`KService` in one cdk8s Chart), synthesized with `App.synthYaml()`. */
import { App, Chart } from 'cdk8s';
import { KService } from '../../lib';
import { BENCH_NAMESPACE, CANDIDATE_TAG, serviceShape } from './services';

export function synthesizeOurs(n: number): string {
  const app = new App();
  const chart = new Chart(app, 'services');
  for (let i = 1; i <= n; i++) {
    const s = serviceShape(i);
    new KService(chart, s.name, {
      name: s.name,
      namespace: BENCH_NAMESPACE,
      generation: 2,
      containers: [{ image: s.newImage, env: { RELEASE: 'v2' } }],
      revisions: [{ name: s.oldRevision, containers: [{ image: s.oldImage, env: { RELEASE: 'v1' } }] }],
      traffic: [
        { revisionName: s.oldRevision, percent: 90 },
        { latestRevision: true, percent: 10, tag: CANDIDATE_TAG },
      ],
    });
  }
  return app.synthYaml();
}
