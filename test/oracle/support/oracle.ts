/**
 * The Knative side of the differential suite: builds oracle/ (Knative's own code, see
 * oracle/README.md) with scripts/build-knative-oracle.sh and runs it on the same input
 * `kservice compile` gets, with kservice's config file translated into Knative's ConfigMaps.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_SERVING_CONFIG, type ServingConfigProps } from '../../../lib/contract/config';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Builds the oracle (cached by content hash; the first build takes minutes) and returns its path. */
export function buildOracle(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'build-knative-oracle.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1];
}

export interface Rejection {
  readonly file: string;
  readonly document: number;
  readonly kind: string;
  readonly name: string;
  readonly message: string;
}

export interface OracleResult {
  readonly objects: Record<string, unknown>[];
  readonly rejected: Rejection[];
  readonly warnings: Rejection[];
  /** Accepted by the webhook, but a reconciler stops (e.g. a traffic target naming no revision). */
  readonly notReady: Rejection[];
}

export interface OracleInput {
  readonly files: readonly string[];
  /** kservice's --config file content (ServingConfig), already parsed. */
  readonly config?: ServingConfigProps;
  readonly history?: string;
  /** Extra ConfigMap data (allowlisted settings where kservice's default differs from Knative's). */
  readonly settings?: Record<string, Record<string, string>>;
  /** Extra oracle flags (see oracle/main.go). */
  readonly flags?: readonly string[];
}

const run = promisify(execFile);

export async function runOracle(binary: string, workDir: string, input: OracleInput): Promise<OracleResult> {
  const configFile = path.join(workDir, 'knative-configmaps.yaml');
  writeFileSync(configFile, configMapsFor(input.config ?? {}, input.settings ?? {}));
  const args = [...(input.flags ?? []), '--config', configFile];
  if (input.history) args.push('--history', input.history);
  const { stdout } = await run(binary, [...args, ...input.files], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as OracleResult;
}

/**
 * kservice's ServingConfig as Knative's config-* ConfigMaps: only the settings the user gave
 * (so kservice's defaults meet Knative's defaults), plus the queue-proxy image Knative requires.
 */
export function configMapsFor(props: ServingConfigProps, settings: Record<string, Record<string, string>>): string {
  const data: Record<string, Record<string, string>> = {
    'config-deployment': { 'queue-sidecar-image': props.runtimeImage ?? DEFAULT_SERVING_CONFIG.runtimeImage },
  };
  const put = (cm: string, key: string, value: unknown, format: (v: never) => string = String) => {
    if (value === undefined) return;
    data[cm] = { ...data[cm], [key]: format(value as never) };
  };
  const seconds = (s: number) => `${s}s`;
  if (props.domain !== undefined) data['config-domain'] = { [props.domain]: '' };
  put('config-network', 'domain-template', props.domainTemplate);
  put('config-network', 'tag-template', props.tagTemplate);
  put('config-features', 'tag-header-based-routing', props.tagHeaderBasedRouting, (on: boolean) => (on ? 'Enabled' : 'Disabled'));
  put('config-defaults', 'revision-timeout-seconds', props.revisionTimeoutSeconds);
  put('config-defaults', 'max-revision-timeout-seconds', props.maxRevisionTimeoutSeconds);
  put('config-defaults', 'container-concurrency', props.containerConcurrency);
  const a = props.autoscaler ?? {};
  put('config-autoscaler', 'container-concurrency-target-percentage', a.containerConcurrencyTargetPercentage);
  put('config-autoscaler', 'container-concurrency-target-default', a.containerConcurrencyTargetDefault);
  put('config-autoscaler', 'requests-per-second-target-default', a.requestsPerSecondTargetDefault);
  put('config-autoscaler', 'target-burst-capacity', a.targetBurstCapacity);
  put('config-autoscaler', 'stable-window', a.stableWindowSeconds, seconds);
  put('config-autoscaler', 'panic-window-percentage', a.panicWindowPercentage);
  put('config-autoscaler', 'panic-threshold-percentage', a.panicThresholdPercentage);
  put('config-autoscaler', 'max-scale-up-rate', a.maxScaleUpRate);
  put('config-autoscaler', 'max-scale-down-rate', a.maxScaleDownRate);
  put('config-autoscaler', 'enable-scale-to-zero', a.enableScaleToZero);
  put('config-autoscaler', 'scale-to-zero-grace-period', a.scaleToZeroGracePeriodSeconds, seconds);
  put('config-autoscaler', 'scale-to-zero-pod-retention-period', a.scaleToZeroPodRetentionPeriodSeconds, seconds);
  put('config-autoscaler', 'scale-down-delay', a.scaleDownDelaySeconds, seconds);
  put('config-autoscaler', 'pod-autoscaler-class', a.podAutoscalerClass);
  put('config-autoscaler', 'activator-capacity', a.activatorCapacity);
  put('config-autoscaler', 'initial-scale', a.initialScale);
  put('config-autoscaler', 'allow-zero-initial-scale', a.allowZeroInitialScale);
  put('config-autoscaler', 'min-scale', a.minScale);
  put('config-autoscaler', 'max-scale', a.maxScale);
  put('config-autoscaler', 'max-scale-limit', a.maxScaleLimit);
  for (const field of ['externalGateway', 'localGateway', 'localGatewayService'] as const) {
    if (props[field] !== undefined && props[field] !== DEFAULT_SERVING_CONFIG[field]) {
      // net-istio's config-istio is not modelled: the routing form (support/routing.ts) maps
      // net-istio's default gateways to views.
      throw new Error(`oracle: config field ${field} is not translated to Knative's config-istio`);
    }
  }
  // A setting stands for one of kservice's defaults, so it applies where the user set nothing.
  for (const [cm, values] of Object.entries(settings)) data[cm] ??= values;
  return Object.entries(data)
    .map(([name, values]) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'knative-serving' }, data: values }))
    .join('---\n');
}
