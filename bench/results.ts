/** The shape of bench/results/latest.json. Every section says whether it ran and, if not, why. */
import { ColdStartResult } from './coldstart/run';
import type { RealNodeColdStartResult } from './realnode/coldstart';
import { DataplaneResult } from './dataplane/run';
import { MemoryResult } from './memory';
import { ScaleResult } from './scale/run';
import { SynthesisResult } from './synthesis/run';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly loadAverageAtStart: readonly number[];
  readonly loadAverageAtEnd?: readonly number[];
}

export interface BenchResults {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly quick: boolean;
  readonly commit: string;
  /** Measured files (lib/, the runtime build, the test app) that differed from `commit` at the start. */
  readonly uncommittedChanges?: readonly string[];
  readonly machine: MachineInfo;
  /** Wall time of each section (and of the peer preparation), seconds. */
  readonly durationsSeconds: Readonly<Record<string, number>>;
  readonly sections: {
    dataplane?: DataplaneResult;
    synthesis?: SynthesisResult;
    coldstart?: ColdStartResult;
    /** Cold start on the real node (kubelet + containerd): bench/realnode/coldstart.ts. */
    realnode?: RealNodeColdStartResult;
    memory?: MemoryResult;
    scale?: ScaleResult;
  };
  /** Sections not run, each with the reason. */
  readonly notRun: Readonly<Record<string, string>>;
}
