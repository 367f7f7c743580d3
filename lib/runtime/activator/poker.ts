import * as http from 'node:http';
import type { Logger } from '../shared/logger';
import { parseAddress, revisionKey } from './revision';

/**
 * Asks every autoscaler pod for an immediate decision when a request reaches a revision without a
 * ready pod (knative/serving pkg/autoscaler/scaling/multiscaler.go Poke): `POST /poke {"namespace","revision"}`. At most one
 * poke per revision per `minIntervalMs`, fire and forget: a lost poke only costs the next scrape.
 */
export class AutoscalerPoker {
  private readonly lastPoke = new Map<string, number>();
  private addresses: readonly string[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly minIntervalMs = 1000,
    private readonly timeoutMs = 1000,
  ) {}

  /** `host:port` of each autoscaler pod's HTTP server. */
  setAddresses(addresses: readonly string[]): void {
    this.addresses = addresses;
  }

  poke(namespace: string, revision: string, nowMs = Date.now()): void {
    const key = revisionKey(namespace, revision);
    const last = this.lastPoke.get(key);
    if (last !== undefined && nowMs - last < this.minIntervalMs) return;
    this.lastPoke.set(key, nowMs);
    const body = JSON.stringify({ namespace, revision });
    // At most one line per revision per minIntervalMs; the cold-start timeline of the bench reads it.
    this.logger.info({ namespace, revision, autoscalers: this.addresses.length }, 'autoscaler poked');
    for (const address of this.addresses) this.send(address, body, key);
  }

  private send(address: string, body: string, key: string): void {
    const target = parseAddress(address);
    if (!target) return this.logger.warn({ address }, 'bad autoscaler address');
    const req = http.request(
      {
        host: target.host,
        port: target.port,
        method: 'POST',
        path: '/poke',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        agent: false,
        timeout: this.timeoutMs,
      },
      (res) => res.resume(),
    );
    req.on('timeout', () => req.destroy(new Error('poke timeout')));
    req.on('error', (err) => this.logger.debug({ address, revision: key, err: err.message }, 'poke failed'));
    req.end(body);
  }
}
