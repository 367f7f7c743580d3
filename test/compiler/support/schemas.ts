/**
 * Schema checks for synthesized manifests.
 *
 * 1. kubernetes-models / @kubernetes-models/istio validators: types, formats, required fields. They
 *    accept unknown fields (additionalProperties is open), so on their own a typo'd field passes.
 * 2. A strict ajv check that rejects unknown fields. Core kinds: JSON Schemas derived from the jsii
 *    assembly of cdk8s-plus-27's generated Kubernetes 1.27 L1 types (the only machine-readable copy
 *    of the Kubernetes object shapes in node_modules; kubernetes-models ships only precompiled
 *    validators). Istio kinds: the schema literal inside @kubernetes-models/istio (generated from
 *    Istio's CRDs), with every object that lists properties closed. Gateway API kinds (HTTPRoute,
 *    Gateway): the v1 `openAPIV3Schema` of the Gateway API CRDs (standard channel v1.4.1, copied
 *    into test/cluster/crds/gateway-api/ from the sigs.k8s.io/gateway-api module, see SOURCE.md
 *    there), closed the same way. There is no kubernetes-models package for them, so step 1 uses
 *    the same CRD schema left open. CEL rules (`x-kubernetes-validations`) are checked only by the
 *    real API server (test/cluster/manifests.test.ts).
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { dirname, join } from 'node:path';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { Endpoints } from 'kubernetes-models/v1/Endpoints';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';

type Schema = Record<string, unknown>;
type Manifest = { apiVersion: string; kind: string; [k: string]: unknown };

interface ModelClass {
  new (data: never): { validate(): void };
}

interface KindInfo {
  readonly model?: ModelClass;
  /** jsii struct of the L1 props (core kinds) or Istio kind name. */
  readonly jsii?: string;
  readonly istio?: string;
  /** Gateway API CRD file (test/cluster/crds/gateway-api/) holding the kind's v1 schema. */
  readonly gatewayApiCrd?: string;
}

const KINDS: Record<string, KindInfo> = {
  'v1/Namespace': { model: Namespace as unknown as ModelClass, jsii: 'KubeNamespaceProps' },
  'v1/Service': { model: Service as unknown as ModelClass, jsii: 'KubeServiceProps' },
  'v1/Endpoints': { model: Endpoints as unknown as ModelClass, jsii: 'KubeEndpointsProps' },
  'v1/ConfigMap': { model: ConfigMap as unknown as ModelClass, jsii: 'KubeConfigMapProps' },
  'v1/ServiceAccount': { model: ServiceAccount as unknown as ModelClass, jsii: 'KubeServiceAccountProps' },
  'apps/v1/Deployment': { model: Deployment as unknown as ModelClass, jsii: 'KubeDeploymentProps' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler as unknown as ModelClass,
    jsii: 'KubeHorizontalPodAutoscalerV2Props',
  },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget as unknown as ModelClass, jsii: 'KubePodDisruptionBudgetProps' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { model: ClusterRole as unknown as ModelClass, jsii: 'KubeClusterRoleProps' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { model: ClusterRoleBinding as unknown as ModelClass, jsii: 'KubeClusterRoleBindingProps' },
  'rbac.authorization.k8s.io/v1/Role': { model: Role as unknown as ModelClass, jsii: 'KubeRoleProps' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding as unknown as ModelClass, jsii: 'KubeRoleBindingProps' },
  'networking.istio.io/v1beta1/Gateway': { model: Gateway as unknown as ModelClass, istio: 'Gateway' },
  'networking.istio.io/v1beta1/VirtualService': { model: VirtualService as unknown as ModelClass, istio: 'VirtualService' },
  'gateway.networking.k8s.io/v1/HTTPRoute': { gatewayApiCrd: 'gateway.networking.k8s.io_httproutes.yaml' },
  'gateway.networking.k8s.io/v1/Gateway': { gatewayApiCrd: 'gateway.networking.k8s.io_gateways.yaml' },
};

export const GATEWAY_API_CRDS_DIR = join(__dirname, '..', '..', 'cluster', 'crds', 'gateway-api');

interface CrdDoc {
  spec: { versions: { name: string; schema: { openAPIV3Schema: { properties: Schema } } }[] };
}

/** The `v1` openAPIV3Schema of a Gateway API CRD file. */
function gatewayApiSchema(file: string): { properties: Schema } {
  const crd = parseYaml(readFileSync(join(GATEWAY_API_CRDS_DIR, file), 'utf8')) as CrdDoc;
  const v1 = crd.spec.versions.find((v) => v.name === 'v1');
  if (!v1) throw new Error(`no v1 version in ${file}`);
  return v1.schema.openAPIV3Schema;
}

const JSII_PREFIX = 'cdk8s-plus-27.k8s.';

interface JsiiType {
  kind: 'interface' | 'class' | 'enum';
  properties?: { name: string; optional?: boolean; type: JsiiTypeRef }[];
}
type JsiiTypeRef =
  | { primitive: string }
  | { fqn: string }
  | { collection: { kind: 'array' | 'map'; elementtype: JsiiTypeRef } }
  | { union: { types: JsiiTypeRef[] } };

function loadJsiiTypes(): Record<string, JsiiType> {
  const assembly = join(dirname(require.resolve('cdk8s-plus-27/package.json')), '.jsii');
  return (JSON.parse(readFileSync(assembly, 'utf8')) as { types: Record<string, JsiiType> }).types;
}

/** jsii types → JSON Schema `$defs`, every struct closed (`additionalProperties: false`). */
function jsiiDefs(types: Record<string, JsiiType>): Record<string, Schema> {
  const defs: Record<string, Schema> = {};
  for (const [fqn, type] of Object.entries(types)) {
    if (!fqn.startsWith(JSII_PREFIX) || type.kind !== 'interface') continue;
    const props = type.properties ?? [];
    defs[fqn.slice(JSII_PREFIX.length)] = {
      type: 'object',
      properties: Object.fromEntries(props.map((p) => [p.name, refSchema(p.type, types)])),
      required: props.filter((p) => !p.optional).map((p) => p.name),
      additionalProperties: false,
    };
  }
  return withNewerFields(defs);
}

/**
 * Fields added to Kubernetes after 1.27 (the L1 types above) that the compiler emits, closed like
 * the rest: `lifecycle.preStop.sleep` (SleepAction, KEP-3960: beta and on by default since 1.30,
 * GA in 1.34; kubernetes/api core/v1/types.go `SleepAction{Seconds int64}`), the drain of the
 * sidecar-less data-plane modes.
 */
function withNewerFields(defs: Record<string, Schema>): Record<string, Schema> {
  const handler = defs.LifecycleHandler as { properties: Schema };
  handler.properties.sleep = {
    type: 'object',
    properties: { seconds: { type: 'number' } },
    required: ['seconds'],
    additionalProperties: false,
  };
  return defs;
}

function refSchema(ref: JsiiTypeRef, types: Record<string, JsiiType>): Schema {
  if ('primitive' in ref) {
    const t = { number: 'number', string: 'string', boolean: 'boolean', date: 'string' }[ref.primitive];
    return t ? { type: t } : {};
  }
  if ('collection' in ref) {
    const element = refSchema(ref.collection.elementtype, types);
    return ref.collection.kind === 'array' ? { type: 'array', items: element } : { type: 'object', additionalProperties: element };
  }
  if ('union' in ref) return { anyOf: ref.union.types.map((t) => refSchema(t, types)) };
  const target = types[ref.fqn];
  if (!target || target.kind !== 'interface') return { type: ['string', 'number'] }; // IntOrString, Quantity, enums
  return { $ref: `#/$defs/${ref.fqn.slice(JSII_PREFIX.length)}` };
}

/** The schema literal @kubernetes-models/istio keeps module-private, read from its source. */
function istioSchema(kind: string): Schema {
  const pkg = dirname(require.resolve('@kubernetes-models/istio/package.json'));
  const src = readFileSync(join(pkg, 'networking.istio.io', 'v1beta1', `${kind}.js`), 'utf8');
  const m = src.match(/const schema = (\{[\s\S]*?\n\});/);
  if (!m) throw new Error(`no schema literal in ${kind}.js`);
  return new Function(`return ${m[1]}`)() as Schema;
}

/** Closes every object schema that lists its properties and leaves additionalProperties open. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? mapValues(v as Schema, closeObjects) : closeObjects(v);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

function mapValues(o: Schema, f: (v: unknown) => unknown): Schema {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

const TYPE_META = { apiVersion: { type: 'string' }, kind: { type: 'string' } };

function buildStrictValidators(): Record<string, ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const defs = jsiiDefs(loadJsiiTypes());
  const validators: Record<string, ValidateFunction> = {};
  for (const [key, info] of Object.entries(KINDS)) {
    let root: Schema;
    if (info.jsii) {
      const props = defs[info.jsii] as { properties: Schema; required: string[] };
      root = { ...props, properties: { ...TYPE_META, ...props.properties }, additionalProperties: false, $defs: defs };
    } else {
      const istio = (info.gatewayApiCrd ? gatewayApiSchema(info.gatewayApiCrd) : istioSchema(info.istio!)) as { properties: Schema };
      root = {
        type: 'object',
        properties: { ...TYPE_META, metadata: { $ref: '#/$defs/ObjectMeta' }, spec: closeObjects(istio.properties.spec) },
        additionalProperties: false,
        $defs: defs,
      };
    }
    validators[key] = ajv.compile(root);
  }
  return validators;
}

let strict: Record<string, ValidateFunction> | undefined;

function kindKey(m: Manifest): string {
  return `${m.apiVersion}/${m.kind}`;
}

export function isKnownKind(m: Manifest): boolean {
  return kindKey(m) in KINDS;
}

/** kubernetes-models validation (throws with the failing path). */
export function validateWithModels(m: Manifest): void {
  const info = KINDS[kindKey(m)];
  if (!info) throw new Error(`no model for ${kindKey(m)}`);
  if (info.model) return new info.model(m as never).validate();
  openCrdValidators ??= new Map();
  let validate = openCrdValidators.get(info.gatewayApiCrd!);
  if (!validate) {
    validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(gatewayApiSchema(info.gatewayApiCrd!));
    openCrdValidators.set(info.gatewayApiCrd!, validate);
  }
  if (!validate(m)) throw new Error(`${kindKey(m)}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`);
}

/** Gateway API kinds' CRD schemas as written (open objects), by CRD file. */
let openCrdValidators: Map<string, ValidateFunction> | undefined;

/** Strict check; returns the error messages (empty when the object is valid). */
export function strictErrors(m: Manifest): string[] {
  strict ??= buildStrictValidators();
  const validate = strict[kindKey(m)];
  if (!validate) return [`no strict schema for ${kindKey(m)}`];
  if (validate(m)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}
