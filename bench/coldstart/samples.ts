import { AutoscalerClass } from '../../lib/contract/autoscaling';
import { type DataPlaneMode, DataPlaneModes, scaleOwner } from '../../lib/contract/data-plane';
import type { Timeline } from './timeline';

/**
 * The data-plane modes that scale from zero, so have a cold start: those whose KPA revisions the
 * autoscaler scales (`full`, `activator`; `direct` and `static` are pinned to initial-scale).
 */
export type ColdStartMode = Extract<DataPlaneMode, 'full' | 'activator'>;
export const COLD_START_MODES: readonly ColdStartMode[] = Object.values(DataPlaneModes).filter((mode): mode is ColdStartMode => scaleOwner(AutoscalerClass.KPA, mode) === 'autoscaler');

/** One cold-start sample, as cold-start.measure.ts writes it. */
export interface ColdStartSample {
  /** The revision's data-plane mode (absent in results written before the modes were measured: `full`). */
  readonly mode?: ColdStartMode;
  /** From sending the request to the end of the response (a 13-byte body: first byte ≈ last byte). */
  readonly requestToResponseMs: number;
  /** From the user container's process start to its `ready` log line. */
  readonly appStartToReadyMs: number;
  readonly overheadMs: number;
  readonly pod: string;
  /** When each step happened, epoch ms (absent in results written before the timeline existed). */
  readonly timeline?: Timeline;
  /** Events missing or out of order in `timeline`. */
  readonly timelineProblems?: readonly string[];
}
