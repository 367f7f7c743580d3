/**
 * The `--config` file: Knative's config-* settings that shape a compiled graph, as
 * `ServingConfigProps`. Schema-checked first, then the rules between fields.
 */
import { ServingConfigProps, checkServingConfig, resolveServingConfig, type ServingConfig } from '../contract/config';
import { Diagnostic } from './diagnostics';
import { FUNCTION_CONFIG_KIND, configSchema, functionConfigSchema } from './schema/config';
import { SourceDocument, diagnosticAt, parseYamlText, readText } from './source';
import { validateDocument } from './validate';

export interface LoadedConfig {
  readonly props: ServingConfigProps;
  readonly config: ServingConfig;
  readonly diagnostics: Diagnostic[];
}

const DEFAULTS: LoadedConfig = { props: {}, config: resolveServingConfig({}), diagnostics: [] };

export async function loadConfigFile(file: string | undefined): Promise<LoadedConfig> {
  if (file === undefined) return DEFAULTS;
  const diagnostics: Diagnostic[] = [];
  const text = await readText(file, diagnostics);
  if (text === undefined) return { ...DEFAULTS, diagnostics };
  return parseConfig(file, text);
}

export function parseConfig(file: string, text: string): LoadedConfig {
  const { documents, diagnostics } = parseYamlText(file, text);
  if (diagnostics.length > 0) return { ...DEFAULTS, diagnostics };
  if (documents.length !== 1) {
    const message = `must hold exactly one config document, found ${documents.length}`;
    return { ...DEFAULTS, diagnostics: [{ file, line: 1, col: 1, path: '', message }] };
  }
  return configFromDocument(documents[0]);
}

/**
 * The config in one parsed document: a `ServingConfig` (or a bare mapping), or the KRM function's
 * `KServiceConfig`, whose `metadata` and `history` are not serving config. The KRM function takes
 * only the latter (`as: 'functionConfig'`), so a wrong kind is named as such.
 */
export function configFromDocument(doc: SourceDocument, as: 'either' | 'functionConfig' = 'either'): LoadedConfig {
  const isFunctionConfig = as === 'functionConfig' || (doc.value as { kind?: unknown } | null)?.kind === FUNCTION_CONFIG_KIND;
  const schemaProblems = validateDocument(doc, isFunctionConfig ? functionConfigSchema : configSchema);
  if (typeof doc.value !== 'object' || doc.value === null || Array.isArray(doc.value)) return { ...DEFAULTS, diagnostics: schemaProblems };
  const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, history: _history, ...props } =
    doc.value as ServingConfigProps & { apiVersion?: string; kind?: string; metadata?: unknown; history?: unknown };
  const config = resolveServingConfig(props);
  // The value rules skip values of the wrong type, so they run next to the schema's problems
  // (every problem at once); nothing under a field the schema already flagged is reported again.
  const flagged = schemaProblems.map((d) => d.path);
  const within = (path: string, field: string) => path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`);
  const problems = [...schemaProblems, ...checkConfig(doc, props).filter((d) => !flagged.some((f) => within(d.path, f)))];
  // A config with problems is not used further, so later checks cannot trip over it.
  return problems.length > 0 ? { ...DEFAULTS, diagnostics: problems } : { props, config, diagnostics: [] };
}

/** The config rules the constructs apply to their `config` prop (contract/config.ts), at file positions. */
function checkConfig(doc: SourceDocument, props: ServingConfigProps): Diagnostic[] {
  // Their paths are relative to the config, and the file is the config itself.
  return checkServingConfig(props).problems.map((p) => diagnosticAt(doc, p.segments, p.message));
}
