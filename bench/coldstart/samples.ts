import type { Timeline } from './timeline';

/** One cold-start sample, as cold-start.measure.ts writes it. */
export interface ColdStartSample {
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
