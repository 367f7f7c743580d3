/**
 * The two shapes the runtime's hot path can take, bundled by bench/closures/run.ts with and
 * without esbuild's keepNames. Each "request" registers and fires the listeners of one exchange,
 * as lib/runtime/shared/proxy-forward.ts does: 8 listeners on 3 emitters, plus 3 callbacks.
 */
import { EventEmitter } from 'node:events';

const LISTENERS = 8;

/** Named closures per request: class-field arrows and named consts (what keepNames wraps). */
class ClosureExchange {
  count = 0;
  readonly onData = (n: number): void => void (this.count += n);
  readonly onEnd = (): void => void this.count++;
  readonly onError = (): void => void this.count--;
  readonly onClose = (): void => void this.count++;
  readonly onFinish = (): void => void this.count++;
  readonly onResponse = (): void => void this.count++;
  readonly onSocket = (): void => void this.count++;
  readonly onDrain = (): void => void this.count++;

  run(a: EventEmitter, b: EventEmitter, c: EventEmitter): number {
    const listeners = [this.onData, this.onEnd, this.onError, this.onClose, this.onFinish, this.onResponse, this.onSocket, this.onDrain];
    const done = (): void => void this.count++;
    const timeout = (): void => void this.count--;
    const connectError = (): void => void this.count--;
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].on(`e${i}`, listeners[i]);
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].emit(`e${i}`, 1);
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].off(`e${i}`, listeners[i]);
    done();
    if (this.count < 0) timeout(), connectError();
    return this.count;
  }
}

const TAG = Symbol('exchange');
type Tagged = { [TAG]?: StaticExchange };

/** No closure per request: static listeners find their object on the emitter (Symbol tag). */
class StaticExchange {
  count = 0;
  private static onData(this: EventEmitter, n: number): void {
    (this as Tagged)[TAG]!.count += n;
  }
  private static bump(this: EventEmitter): void {
    (this as Tagged)[TAG]!.count++;
  }
  private static readonly LISTENERS = [
    StaticExchange.onData,
    StaticExchange.bump,
    StaticExchange.bump,
    StaticExchange.bump,
    StaticExchange.bump,
    StaticExchange.bump,
    StaticExchange.bump,
    StaticExchange.bump,
  ];

  run(a: EventEmitter, b: EventEmitter, c: EventEmitter): number {
    for (const e of [a, b, c]) (e as Tagged)[TAG] = this;
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].on(`e${i}`, StaticExchange.LISTENERS[i]);
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].emit(`e${i}`, 1);
    for (let i = 0; i < LISTENERS; i++) [a, b, c][i % 3].off(`e${i}`, StaticExchange.LISTENERS[i]);
    this.count++;
    return this.count;
  }
}

function timeIt(iterations: number, body: () => void): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) body(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) body();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** A frame as a failing request path would log it: the throwing function's name is what matters. */
function failingRequestPath(): Error {
  const forwardToPod = (): Error => new Error('pod refused connection');
  return forwardToPod();
}

export function main(): void {
  const iterations = Number(process.env.ITERATIONS ?? 200_000);
  const [a, b, c] = [new EventEmitter(), new EventEmitter(), new EventEmitter()];
  const closureNs = timeIt(iterations, () => void new ClosureExchange().run(a, b, c));
  const staticNs = timeIt(iterations, () => void new StaticExchange().run(a, b, c));
  const stackNs = timeIt(Math.ceil(iterations / 20), () => void failingRequestPath().stack);
  const frame = (failingRequestPath().stack ?? '').split('\n')[1]?.trim() ?? '';
  process.stdout.write(`${JSON.stringify({ closureNs, staticNs, stackNs, frame })}\n`);
}

main();
