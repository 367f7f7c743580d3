/** One cold-start sample, as cold-start.measure.ts writes it (ColdStartMeasurement without the response). */
export interface ColdStartSample {
  /** From sending the request to the end of the response (a 13-byte body: first byte ≈ last byte). */
  readonly requestToResponseMs: number;
  /** From the user container's process start to its `ready` log line. */
  readonly appStartToReadyMs: number;
  readonly overheadMs: number;
  readonly pod: string;
}
