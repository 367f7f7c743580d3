/**
 * The `--config` file: Knative's config-* settings that shape a compiled graph, as
 * `ServingConfigProps`. Schema-checked first, then the rules between fields.
 */
import { ServingConfigProps, TEMPLATE_FIELDS, renderHostTemplate, resolveServingConfig, type ServingConfig } from '../contract/config';
import { Diagnostic } from './diagnostics';
import { configSchema } from './schema/config';
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
  const doc = documents[0];
  const schemaProblems = validateDocument(doc, configSchema);
  if (schemaProblems.length > 0) return { ...DEFAULTS, diagnostics: schemaProblems };
  const { apiVersion: _apiVersion, kind: _kind, ...props } = doc.value as ServingConfigProps & { apiVersion?: string; kind?: string };
  const config = resolveServingConfig(props);
  const problems = checkConfig(doc, config);
  // A config with problems is not used further, so later checks cannot trip over it.
  return problems.length > 0 ? { ...DEFAULTS, diagnostics: problems } : { props, config, diagnostics: [] };
}

function checkConfig(doc: SourceDocument, config: ServingConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const field of ['domainTemplate', 'tagTemplate'] as const) {
    const dummy = Object.fromEntries(TEMPLATE_FIELDS[field].map((k) => [k, 'x']));
    try {
      renderHostTemplate(config[field], dummy);
    } catch (error) {
      out.push(diagnosticAt(doc, [field], `${(error as Error).message}; allowed: ${TEMPLATE_FIELDS[field].map((k) => `{{.${k}}}`).join(', ')}`));
    }
  }
  if (config.revisionTimeoutSeconds > config.maxRevisionTimeoutSeconds) {
    out.push(diagnosticAt(doc, ['revisionTimeoutSeconds'], `must be at most maxRevisionTimeoutSeconds (${config.maxRevisionTimeoutSeconds})`));
  }
  const a = config.autoscaler;
  if (a.maxScaleLimit > 0 && a.maxScale > a.maxScaleLimit) {
    out.push(diagnosticAt(doc, ['autoscaler', 'maxScale'], `must be at most maxScaleLimit (${a.maxScaleLimit})`));
  }
  if (a.maxScale > 0 && a.minScale > a.maxScale) {
    out.push(diagnosticAt(doc, ['autoscaler', 'minScale'], `must be at most maxScale (${a.maxScale})`));
  }
  return out;
}
