/**
 * Command-line parsing. node's own `util.parseArgs` does the option syntax (short/long flags,
 * `--opt=value`, `--`), so this module only knows the commands and their help texts.
 */
import { parseArgs } from 'node:util';
import { isDns1123Label } from '../contract/naming';
import { GRAPH_FORMATS, type GraphFormat, type GraphOptions } from './draw/command';

export const MAIN_HELP = `Usage: kservice <command> [options]

Compiles Knative Serving services (serving.knative.dev/v1 YAML) into the plain Kubernetes and
Istio or Gateway API objects Knative would create for them, plus the runtime that makes them live.

Commands:
  compile FILE_OR_DIR... [-o OUT_DIR] [-n NAMESPACE] [--config FILE] [--history FILE [--frozen-history]]
                 Compile Services and Revisions; pass every other document through.
  graph FILE_OR_DIR... [-o FILE] [--format mermaid|svg|dot]
                 Draw each service's request path (Knative YAML or synthesized manifests).
  krm            Run as a KRM function (kustomize, kpt): a ResourceList on stdin and stdout.
  help [COMMAND] Show help for a command.

Options:
  -h, --help     Show this help.
  -v, --version  Print the version.

Run 'kservice compile --help' for the details of compile.
`;

export const KRM_HELP = `Usage: kservice krm

A KRM function (kustomize's functions-spec.md): reads a config.kubernetes.io/v1 ResourceList on
stdin and writes one on stdout. Each serving.knative.dev/v1 Service and Revision item is replaced
by exactly what 'kservice compile' emits for it (the serving-system objects included); every other
item passes through as received, its config.kubernetes.io annotations and comments included.
Generated objects are annotated with the file 'compile -o' would write them to
(internal.config.kubernetes.io/path: serving-system.yaml or NAMESPACE-NAME.yaml, and an index).

functionConfig (optional; defaults as compile without --config):
  apiVersion: kservice.cdk8s.io/v1alpha1
  kind: KServiceConfig
  metadata: {name: kservice}   # orchestrators add annotations here
  history: kservice-history.yaml   # optional: the lockfile of 'compile --history', read-only
  domain: example.com              # ... every field of 'compile --config'

The history is never written: when it would change, the function fails and names the
'kservice compile ... --history FILE' command that updates it (as compile --frozen-history).

Problems are results in the output list (severity error, resourceRef, field.path, file.path and
file.index when the orchestrator gave them), the same lines on stderr; the items are then passed on
uncompiled. Output is deterministic.

Exit status: 0 on success; 1 when the input has problems (or is not a ResourceList: then stdout
stays empty); 2 on a usage error.
`;

export const COMPILE_HELP = `Usage: kservice compile FILE_OR_DIR... [-o OUT_DIR] [-n NAMESPACE] [--config FILE] [--history FILE [--frozen-history]]

Reads YAML files, directories (recursively, regular *.yaml and *.yml files, in sorted order) or
'-' for stdin. Input is UTF-8 (UTF-16 with a byte-order mark is decoded). Documents of kind
Service or Revision in serving.knative.dev/v1 are validated and compiled; every other document
passes through unchanged. Output is deterministic: the same input gives the same bytes.

Options:
  -o, --output OUT_DIR  Write NAMESPACE-NAME.yaml per service, serving-system.yaml and
                        passthrough.yaml into OUT_DIR, and list them in OUT_DIR/.kservice-output.
                        Only files on that list are ever replaced or removed: your own files in
                        OUT_DIR (a README, overlays) stay, and a generated name taken by a file
                        not on the list is an error. The files and the --history file are
                        written together once everything is checked: a failed run changes
                        neither. Default: one multi-document YAML stream on stdout.
  -n, --namespace NAMESPACE
                        The namespace of Services and Revisions that set none, as
                        'kubectl apply -n' would place them (the Argo CD plugin passes the
                        Application's destination namespace). Default: default.
      --config FILE     Serving config: domain, domainTemplate, tagTemplate, externalGateway,
                        localGateway, localGatewayService, ingress (istio | gateway-api),
                        gatewayApi.*, runtimeImage, revisionTimeoutSeconds,
                        maxRevisionTimeoutSeconds, containerConcurrency, autoscaler.*.
                        Default: Knative's defaults (domain example.com).
      --history FILE    Revision history (a lockfile to commit). Read if it exists; when a
                        service's template changed, its next revision (NAME-00002, ...) is
                        recorded and the file is rewritten, only if the whole run succeeds.
                        The --config and --history files are never read as input, even
                        inside a FILE_OR_DIR directory.
      --frozen-history  Read --history but never write it (for CI, Argo CD and KRM functions,
                        whose checkout is read-only): when the file would change (a new
                        service, a changed template), fail naming each service and the
                        revisions it would record, and print the command that updates it
                        (this one without --frozen-history). Needs --history; a history
                        file that does not exist fails too once a service would be recorded.
  -h, --help            Show this help.

Revisions that traffic names but the current template does not define come from Revision
documents in the input (labelled serving.knative.dev/service: NAME) or from --history.

Exit status: 0 on success; 1 when the input is invalid (every problem is reported as
FILE:LINE:COL PATH: MESSAGE and nothing is written); 2 on a usage error.
`;

export const GRAPH_HELP = `Usage: kservice graph FILE_OR_DIR... [-o FILE] [--format mermaid|svg|dot] [-n NAMESPACE] [--config FILE] [--history FILE]

Draws the request path of every service in the input, read from the compiled objects:
ExternalName Service -> gateway -> routes (weights, tags) -> public Service -> Endpoints (the
activator or the pods, as the runtime flips them) -> private Service -> Deployment and its
containers, with each revision's data-plane mode. The input is what 'kservice compile' reads
(Knative YAML is compiled first, with the same options and errors) or manifests already compiled
or synthesized ('cdk8s synth' output: a file or a directory). Output is deterministic.

Options:
  -o, --output FILE     Write the picture to FILE (replaced in one rename; a failed run leaves it
                        as it was). Default: stdout.
      --format FORMAT   mermaid (a flowchart for READMEs and pull requests), svg (laid out by
                        Graphviz) or dot (Graphviz source). Default: from the -o file's
                        extension (.svg, .dot or .gv), else mermaid.
  -n, --namespace NAMESPACE, --config FILE, --history FILE
                        As for 'kservice compile'; the --history file is only read.
  -h, --help            Show this help.

Exit status: 0 on success; 1 when the input is invalid (FILE:LINE:COL PATH: MESSAGE) or holds no
service; 2 on a usage error.
`;

export interface CompileOptions {
  readonly inputs: string[];
  readonly outDir?: string;
  readonly configFile?: string;
  /** Namespace of Knative documents that set none (`kubectl apply -n`); absent: `default`. */
  readonly namespace?: string;
  readonly historyFile?: string;
  /** Fail instead of rewriting `historyFile` (history.ts frozenHistoryProblems). */
  readonly frozenHistory?: boolean;
}

export type Command =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version' }
  | { readonly kind: 'compile'; readonly options: CompileOptions }
  | { readonly kind: 'graph'; readonly options: GraphOptions }
  | { readonly kind: 'krm' };

/** A mistake in how the tool was called; answered with exit code 2 and the help text. */
export class UsageError extends Error {
  constructor(message: string, readonly help: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const HELP_BY_COMMAND: Record<string, string> = { compile: COMPILE_HELP, graph: GRAPH_HELP, krm: KRM_HELP };

export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given', MAIN_HELP);
  if (first === '-h' || first === '--help') return { kind: 'help', text: MAIN_HELP };
  if (first === '-v' || first === '--version') return { kind: 'version' };
  if (first === 'help') return helpFor(rest[0]);
  if (first === 'compile') return parseCompile(rest);
  if (first === 'graph') return parseGraph(rest);
  if (first === 'krm') return parseKrm(rest);
  const what = first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`;
  throw new UsageError(what, MAIN_HELP);
}

function helpFor(command: string | undefined): Command {
  if (command === undefined) return { kind: 'help', text: MAIN_HELP };
  const text = HELP_BY_COMMAND[command];
  if (!text) throw new UsageError(`unknown command '${command}'`, MAIN_HELP);
  return { kind: 'help', text };
}

function parseCompile(args: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...COMPILE_INPUT_OPTIONS, 'frozen-history': { type: 'boolean' } },
    });
  } catch (error) {
    throw new UsageError(plainParseError(error as Error), COMPILE_HELP);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', text: COMPILE_HELP };
  checkCompileInputs('compile', positionals, values, COMPILE_HELP);
  const frozenHistory = values['frozen-history'] === true;
  if (frozenHistory && values.history === undefined) throw new UsageError('--frozen-history needs --history FILE (the lockfile to check)', COMPILE_HELP);
  return {
    kind: 'compile',
    options: { inputs: positionals, outDir: values.output, configFile: values.config, historyFile: values.history, frozenHistory, namespace: values.namespace },
  };
}

/** The options `compile` and `graph` share (checked by checkCompileInputs below). */
const COMPILE_INPUT_OPTIONS = {
  output: { type: 'string', short: 'o' },
  config: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  history: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseGraph(args: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...COMPILE_INPUT_OPTIONS, format: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(plainParseError(error as Error), GRAPH_HELP);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', text: GRAPH_HELP };
  checkCompileInputs('graph', positionals, values, GRAPH_HELP);
  if (values.format !== undefined && !(GRAPH_FORMATS as readonly string[]).includes(values.format)) {
    throw new UsageError(`--format '${values.format}' must be one of ${GRAPH_FORMATS.join(', ')}`, GRAPH_HELP);
  }
  const compile: CompileOptions = { inputs: positionals, configFile: values.config, historyFile: values.history, namespace: values.namespace };
  return { kind: 'graph', options: { compile, format: (values.format as GraphFormat | undefined) ?? formatOfFile(values.output), outFile: values.output } };
}

/** What `compile` and `graph` both take: the inputs, -o, --config, --history and -n. */
interface CompileInputValues {
  readonly output?: string;
  readonly config?: string;
  readonly history?: string;
  readonly namespace?: string;
}

/** The usage rules `compile` and `graph` share, so both commands reject the same mistakes the same way. */
function checkCompileInputs(command: string, positionals: string[], values: CompileInputValues, help: string): void {
  if (positionals.length === 0) throw new UsageError(`${command} needs at least one FILE_OR_DIR (or - for stdin)`, help);
  if (positionals.filter((p) => p === '-').length > 1) throw new UsageError("'-' (stdin) may be given only once", help);
  for (const [name, value] of [['--output', values.output], ['--config', values.config], ['--history', values.history]] as const) {
    if (value === '') throw new UsageError(`${name} needs a non-empty value`, help);
  }
  if (values.namespace !== undefined && !isDns1123Label(values.namespace)) {
    throw new UsageError(`--namespace '${values.namespace}' must be a DNS-1123 label (lower-case letters, digits and '-', at most 63)`, help);
  }
}

/** The format an output file's extension names; mermaid for any other (.mmd, .md). */
function formatOfFile(file: string | undefined): GraphFormat {
  if (file?.endsWith('.svg')) return 'svg';
  return file?.endsWith('.dot') || file?.endsWith('.gv') ? 'dot' : 'mermaid';
}

/** `krm` takes its input on stdin and its settings from the functionConfig: no arguments but --help. */
function parseKrm(args: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: false, strict: true, options: { help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    throw new UsageError(`${plainParseError(error as Error)} (krm reads a ResourceList on stdin; settings go in its functionConfig)`, KRM_HELP);
  }
  return parsed.values.help ? { kind: 'help', text: KRM_HELP } : { kind: 'krm' };
}

/** node's messages carry hints meant for programmers ("To specify a positional ..."); keep the first sentence. */
function plainParseError(error: Error): string {
  const first = error.message.split('. ')[0].replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}
