import { describe, expect, it } from 'vitest';
import { parseStaticConfig } from '../../../lib/runtime/activator/static-config';

describe('static config (standalone mode)', () => {
  it('reads revisions with defaults filled', () => {
    const parsed = parseStaticConfig(JSON.stringify([{ namespace: 'ns', revision: 'r1', pods: ['127.0.0.1:8012', '[::1]:9000'] }]));
    expect(parsed).toEqual([
      {
        info: { namespace: 'ns', revision: 'r1', containerConcurrency: 0, timeoutSeconds: 300, podPort: 8012, activatorAlwaysInPath: undefined },
        pods: [
          { host: '127.0.0.1', port: 8012 },
          { host: '::1', port: 9000 },
        ],
      },
    ]);
  });

  it('accepts the { revisions: [...] } form', () => {
    const parsed = parseStaticConfig('{"revisions":[{"namespace":"a","revision":"b","containerConcurrency":3,"timeoutSeconds":5,"pods":[]}]}');
    expect(parsed[0].info).toMatchObject({ containerConcurrency: 3, timeoutSeconds: 5 });
  });

  it('names file, line and field of a bad value', () => {
    const text = '[\n  {\n    "namespace": "ns",\n    "revision": "r",\n    "containerConcurrency": -1,\n    "pods": []\n  }\n]';
    expect(() => parseStaticConfig(text, 'revs.json')).toThrow(/^revs\.json:5:29: \[0\]\.containerConcurrency must be >= 0/);
  });

  it('names a missing field and a bad pod address', () => {
    const text = '[{"namespace":"ns","pods":["nohost"]}]';
    let message = '';
    try {
      parseStaticConfig(text, 'x.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("must have required property 'revision'");
    expect(message).toContain('[0].pods[0] must match pattern');
  });

  it('reports JSON syntax errors with a position', () => {
    expect(() => parseStaticConfig('[{"namespace": }]', 'bad.json')).toThrow(/^bad\.json:1:\d+: /);
  });

  it('reads a sidecar-less revision (dataPlane activator): timeouts and the app probe, port 0 = each pod\'s own', () => {
    const [http, tcp] = parseStaticConfig(
      JSON.stringify([
        {
          namespace: 'ns',
          revision: 'app',
          dataPlane: 'activator',
          responseStartTimeoutSeconds: 2,
          idleTimeoutSeconds: 1.5,
          readinessProbe: { httpGet: { path: '/ready', httpHeaders: [{ name: 'X-Probe', value: '1' }] } },
          pods: ['127.0.0.1:9000'],
        },
        { namespace: 'ns', revision: 'tcp', dataPlane: 'activator', pods: [] },
      ]),
    );
    expect(http.info.activatorAlwaysInPath).toEqual({
      responseStartTimeoutSeconds: 2,
      idleTimeoutSeconds: 1.5,
      probe: { kind: 'http', host: '127.0.0.1', port: 0, path: '/ready', scheme: 'http', headers: [['X-Probe', '1']] },
    });
    expect(tcp.info.activatorAlwaysInPath).toEqual({ responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0, probe: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
  });

  it.each([
    ['{"revisions":[{"namespace":"a","revision":"b","idleTimeoutSeconds":1,"pods":[]}]}', /^c\.json:1:\d+: revisions\[0\]\.idleTimeoutSeconds applies only with "dataPlane": "activator"$/],
    ['[{"namespace":"a","revision":"b","dataPlane":"activator","readinessProbe":{"exec":{}},"pods":[]}]', /^c\.json:1:\d+: \[0\]\.readinessProbe: the activator runs only httpGet and tcpSocket probes$/],
    ['[{"namespace":"a","revision":"b","dataPlane":"activator","readinessProbe":{"tcpSocket":{"port":0.5}},"pods":[]}]', /^c\.json:1:\d+: \[0\]\.readinessProbe\.tcpSocket\.port: must be a port number/],
    ['[{"namespace":"a","revision":"b","dataPlane":"direct","pods":[]}]', /^c\.json:1:\d+: \[0\]\.dataPlane must be equal to one of the allowed values/],
  ])('refuses a misplaced or bad sidecar-less field, naming file, position and field: %s', (text, message) => {
    expect(() => parseStaticConfig(text, 'c.json')).toThrow(message);
  });
});
