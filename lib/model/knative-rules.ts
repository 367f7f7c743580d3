/**
 * Knative webhook rules of single values, written once here for the one parse (parse.ts,
 * parse-revision.ts), which both front ends use: the KService construct and the CLI (Services and
 * Revision documents alike). Each returns the FieldErrors of the value it is given (paths relative
 * to it); the parse puts them under the value's path with `via`.
 */
import { AUTOSCALING_ANNOTATION_PREFIX } from '../contract/autoscaling';
import { Annotations } from '../contract/constants';
import { QUEUE_SIDECAR_QUANTITY_ANNOTATIONS, QueueSidecarAnnotations } from '../contract/data-plane';
import { generationOfRevisionName } from '../contract/naming';
import { GO_DURATION } from './schema/builders';
import { isQuantity } from '../contract/quantity';
import { FieldErrors } from '../problems';

/** What a name that must be a DNS-1035 label (service names, tags) may be, in words. */
export const DNS1035_LABEL_HINT = 'a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters';

/**
 * timeoutSeconds: 0 means "the default"; otherwise 1..max-revision-timeout-seconds
 * (knative/serving pkg/apis/serving/v1/revision_validation.go validateTimeoutSeconds). Knative
 * bounds neither responseStartTimeoutSeconds nor idleTimeoutSeconds by it.
 */
export function timeoutSecondsErrors(timeoutSeconds: number | undefined, maxRevisionTimeoutSeconds: number): FieldErrors {
  if (timeoutSeconds === undefined || timeoutSeconds === 0) return FieldErrors.none;
  if (timeoutSeconds < 0 || timeoutSeconds > maxRevisionTimeoutSeconds) {
    return FieldErrors.of(`must be between 0 and ${maxRevisionTimeoutSeconds} (max-revision-timeout-seconds), got ${timeoutSeconds}`);
  }
  return FieldErrors.none;
}

/**
 * A revision name the user chose must be "SERVICE-suffix" (knative/serving
 * pkg/apis/serving/v1/revision_validation.go validateRevisionName). Names Knative generates
 * (`kmeta.ChildName(service, "-00001")`) are exempt: for a service name of 58 to 63 characters
 * they are shortened with a hash and no longer start with the service name.
 */
export function revisionNamePrefixErrors(serviceName: string, revisionName: string): FieldErrors {
  if (generationOfRevisionName(serviceName, revisionName) !== undefined) return FieldErrors.none;
  const prefix = `${serviceName}-`;
  if (revisionName.startsWith(prefix) && revisionName.length > prefix.length) return FieldErrors.none;
  return FieldErrors.of(`"${revisionName}" must start with the service name and a dash ("${prefix}") followed by a suffix`);
}

/**
 * A traffic target names a revision that is neither the current template's nor a known earlier one
 * (knative/serving pkg/reconciler/route/traffic/traffic.go reports a missing target as not ready).
 */
export function unknownRevisionMessage(revisionName: string, known: Iterable<string>): string {
  return `revision "${revisionName}" is not known; known revisions: ${[...new Set(known)].sort().join(', ')}`;
}

const TAG_CHARS = /^[A-Za-z0-9_.-]{1,128}$/;
const REPOSITORY_CHARS = /^[a-z0-9_./-]{2,255}$/;
/** An RFC 3986 authority as Go's url.Parse("//"+name) keeps it whole: host or [IPv6], optional port. */
const REGISTRY = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::\d*)?$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Knative parses every image with go-containerregistry's name.ParseReference(image,
 * name.WeakValidation) (knative/serving pkg/apis/serving/k8s_validation.go validateContainer):
 * a tag reference, else a digest reference. This follows go-containerregistry's pkg/name
 * (tag.go, digest.go, repository.go, registry.go) step by step; there is no npm package with its
 * exact rules (distribution's grammar is stricter about separators, ggcr only checks characters).
 */
export function imageErrors(image: unknown): FieldErrors {
  if (!image || typeof image !== 'string') return FieldErrors.of('is required');
  if (tagReferenceError(image) === undefined || digestReferenceError(image) === undefined) return FieldErrors.none;
  // Explain with the form the user meant.
  const error = image.includes('@') ? digestReferenceError(image) : tagReferenceError(image);
  return FieldErrors.of(`"${image}" is not an image reference Knative accepts: ${error}`);
}

function tagReferenceError(name: string): string | undefined {
  let base = name;
  const parts = name.split(':');
  const last = parts[parts.length - 1];
  // A trailing ":tag" (not a registry's ":port/...") is the tag.
  if (parts.length > 1 && !last.includes('/')) {
    base = parts.slice(0, -1).join(':');
    if (last !== '' && !TAG_CHARS.test(last)) return `tag "${last}" may only contain letters, digits, "_", "." and "-" (at most 128)`;
  }
  return repositoryError(base);
}

function digestReferenceError(name: string): string | undefined {
  const parts = name.split('@');
  if (parts.length !== 2) return 'a digest reference needs exactly one "@"';
  if (!SHA256_DIGEST.test(parts[1])) return `digest "${parts[1]}" is not sha256:<64 lowercase hex digits>`;
  let base = parts[0];
  if (tagReferenceError(base) === undefined) {
    const colon = base.lastIndexOf(':');
    if (colon > base.lastIndexOf('/')) base = base.slice(0, colon);
  }
  return repositoryError(base);
}

function repositoryError(name: string): string | undefined {
  if (name === '') return 'a repository name is required';
  let repository = name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const first = name.slice(0, slash);
    // The first path part is the registry only if it has a "." or ":" (else Docker Hub).
    if (first.includes('.') || first.includes(':')) {
      if (!REGISTRY.test(first)) return `registry "${first}" is not a host[:port]`;
      repository = name.slice(slash + 1);
    }
  }
  if (!REPOSITORY_CHARS.test(repository)) {
    return `repository "${repository}" may only contain lowercase letters, digits, "_", "-", "." and "/" (2 to 255 characters)`;
  }
  return undefined;
}

/**
 * capabilities.add: Knative's default features forbid it (kubernetes.containerspec-addcapabilities
 * and secure-pod-defaults both "disabled"; with secure-pod-defaults only ["NET_BIND_SERVICE"]
 * would pass), knative/serving pkg/apis/serving/fieldmask.go CapabilitiesMask.
 */
export function addedCapabilitiesErrors(add: readonly string[] | undefined): FieldErrors {
  if (add === undefined || add.length === 0) return FieldErrors.none;
  return FieldErrors.of(`must not be set: Knative's default features (kubernetes.containerspec-addcapabilities: disabled) do not allow adding capabilities, got [${add.join(', ')}]`);
}

const PROBE_HANDLERS = ['httpGet', 'tcpSocket', 'exec', 'grpc'] as const;

/**
 * A probe has exactly one handler (knative/serving pkg/apis/serving/k8s_validation.go
 * validateProbe). None is allowed only where Knative's defaulting adds one: the serving
 * container's readiness probe gets a tcpSocket (pkg/apis/serving/v1/revision_defaults.go).
 */
export function probeHandlerErrors(probe: object | undefined, defaultsHandler: boolean): FieldErrors {
  if (probe === undefined) return FieldErrors.none;
  const handlers = PROBE_HANDLERS.filter((h) => (probe as Record<string, unknown>)[h] !== undefined);
  if (handlers.length === 1 || (handlers.length === 0 && defaultsHandler)) return FieldErrors.none;
  return FieldErrors.of(`must set exactly one of ${PROBE_HANDLERS.join(', ')}, got ${handlers.length === 0 ? 'none' : handlers.join(' and ')}`);
}

const GO_DURATION_PATTERN = new RegExp(GO_DURATION);
const DURATION_HINT = 'must be a duration such as 30s, 5m or 1h';

/**
 * Revision template annotations Knative checks besides the autoscaling and queue-sidecar ones:
 * progress-deadline is a duration (knative/serving pkg/apis/serving/v1/revision_validation.go
 * validateProgressDeadlineAnnotation); http-full-duplex is Enabled or Disabled (the queue-proxy
 * reads nothing else).
 */
export function templateAnnotationErrors(annotations: Readonly<Record<string, string>>): FieldErrors {
  const deadline = annotations[Annotations.PROGRESS_DEADLINE];
  const duplex = annotations[Annotations.HTTP_FULL_DUPLEX];
  return FieldErrors.none.also(
    deadline !== undefined && !GO_DURATION_PATTERN.test(deadline) ? FieldErrors.of(DURATION_HINT, Annotations.PROGRESS_DEADLINE) : undefined,
    duplex !== undefined && duplex !== 'Enabled' && duplex !== 'Disabled' ? FieldErrors.of('must be Enabled or Disabled', Annotations.HTTP_FULL_DUPLEX) : undefined,
  );
}

/**
 * The Service's own annotations: rollout-duration is a duration (knative/serving
 * pkg/apis/serving/metadata_validation.go ValidateRolloutDurationAnnotation), and autoscaling
 * annotations are refused there (ValidateHasNoAutoscalingAnnotation): they act on revisions only.
 */
export function serviceAnnotationErrors(annotations: Readonly<Record<string, string>>): FieldErrors {
  const rollout = annotations[Annotations.ROLLOUT_DURATION];
  return FieldErrors.none.also(
    rollout !== undefined && !GO_DURATION_PATTERN.test(rollout) ? FieldErrors.of(DURATION_HINT, Annotations.ROLLOUT_DURATION) : undefined,
    ...Object.keys(annotations)
      .filter((key) => key.startsWith(AUTOSCALING_ANNOTATION_PREFIX))
      .map((key) => FieldErrors.of('autoscaling annotations must be put under spec.template.metadata.annotations (props: templateAnnotations or autoscaling) to take effect', key)),
  );
}

/**
 * The queue-proxy resource annotations: quantities, and a percentage in 0.1..100
 * (knative/serving pkg/apis/serving/v1/revision_validation.go validateQueueSidecarResourceAnnotations).
 */
export function queueSidecarValueErrors(annotations: Readonly<Record<string, string>>): FieldErrors {
  const quantities = QUEUE_SIDECAR_QUANTITY_ANNOTATIONS.map(({ key }) => {
    const v = annotations[key];
    return v !== undefined && !isQuantity(v) ? FieldErrors.of(`must be a Kubernetes quantity such as 100m or 256Mi, got "${v}"`, key) : undefined;
  });
  const percentages = QueueSidecarAnnotations.RESOURCE_PERCENTAGE.map((key) => {
    const v = annotations[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    return v.trim() === '' || !Number.isFinite(n) || n < 0.1 || n > 100 ? FieldErrors.of(`must be a number from 0.1 to 100, got "${v}"`, key) : undefined;
  });
  return FieldErrors.none.also(...quantities, ...percentages);
}
