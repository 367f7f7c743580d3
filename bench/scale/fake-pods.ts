/**
 * The queue-proxies and activators the autoscaler scrapes, as one child process: one listener per
 * autoscaler replica on 0.0.0.0:<port> answers `GET /metrics` for every pod IP, since Linux routes
 * all of 127.0.0.0/8 to the loopback interface (no address needs adding); the pod is the address
 * the scrape was sent to (the socket's local address). Each replica is given its own port
 * (AUTOSCALER_QUEUE_METRICS_PORT), so a scrape is attributed to the replica that made it.
 *
 * Every answer closes its connection: 100,000 pods × 4 replicas kept alive would be 400,000
 * sockets, past this machine's 20,000 file descriptors per process. In a cluster the autoscaler
 * keeps a connection per pod; here each scrape pays a TCP connect on loopback. With `keep-alive`
 * as the fourth argument connections stay open as a queue-proxy's do (./scrape-cost.ts, a few
 * thousand pods).
 *
 * Run: `tsx fake-pods.ts <podPorts,…> <activatorPorts,…> <pods> [keep-alive]`; prints `ready <controlPort>`.
 * `GET /counts` on 127.0.0.1:<controlPort> returns the scrapes per pod and port since the last call
 * (base64 of little-endian uint32 arrays) and starts counting afresh.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { podIndexOf } from './topology';

/** A queue-proxy's page (lib/runtime/queue-proxy/metrics.ts names): all load through the activator, as in Proxy mode. */
const POD_PAGE = [
  '# TYPE queue_average_concurrent_requests gauge',
  'queue_average_concurrent_requests 1',
  '# TYPE queue_average_proxied_concurrent_requests gauge',
  'queue_average_proxied_concurrent_requests 1',
  '# TYPE queue_requests_per_second gauge',
  'queue_requests_per_second 2',
  '# TYPE queue_proxied_operations_per_second gauge',
  'queue_proxied_operations_per_second 2',
  '',
].join('\n');

/** An activator with no revision active: an answered page without series (a real 0, collector.ts). */
const ACTIVATOR_PAGE = '# TYPE activator_average_concurrent_requests gauge\n';

function main(): void {
  const [podPorts, activatorPorts, podsArg, connections] = process.argv.slice(2);
  const pods = Number(podsArg);
  const keepAlive = connections === 'keep-alive';
  const counts = new Map<number, Uint32Array>();
  const activatorCounts = new Map<number, number>();
  for (const port of podPorts.split(',').map(Number)) {
    counts.set(port, new Uint32Array(pods));
    serve(port, keepAlive, (localAddress) => {
      const i = podIndexOf(localAddress);
      if (i !== undefined && i < pods) counts.get(port)![i]++;
      return POD_PAGE;
    });
  }
  for (const port of activatorPorts.split(',').map(Number)) {
    activatorCounts.set(port, 0);
    serve(port, keepAlive, () => {
      activatorCounts.set(port, activatorCounts.get(port)! + 1);
      return ACTIVATOR_PAGE;
    });
  }
  const control = http.createServer((_req, res) => {
    const body = {
      pods: Object.fromEntries([...counts].map(([port, a]) => [port, Buffer.from(a.buffer).toString('base64')])),
      activators: Object.fromEntries(activatorCounts),
    };
    for (const a of counts.values()) a.fill(0);
    for (const port of activatorCounts.keys()) activatorCounts.set(port, 0);
    res.end(JSON.stringify(body));
  });
  control.listen(0, '127.0.0.1', () => console.log(`ready ${(control.address() as AddressInfo).port}`));
}

function serve(port: number, keepAlive: boolean, page: (localAddress: string) => string): void {
  const server = http.createServer((req, res) => {
    const body = page(req.socket.localAddress ?? '');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body), ...(keepAlive ? {} : { connection: 'close' }) });
    res.end(body);
  });
  server.listen(port, '0.0.0.0', 4096);
}

main();
