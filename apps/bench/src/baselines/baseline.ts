/**
 * The interface of a peer baseline: attention as another library's user writes it, run on the
 * benchmark's own host inputs and compared with the same exact reference.
 *
 * @module
 */
import type { HostInputs } from '../inputs.js';
import type { Pass } from '../types.js';

/** A baseline ready to run on one case's inputs. */
export interface PreparedBaseline {
  /** One run of the pass, resolved when its results are on the host. */
  run(pass: Pass): Promise<void>;
  /** The forward output, laid out `[batch, heads, length, dHead]`. */
  output(): Promise<Float32Array>;
  /** Peak bytes of one untimed run of the pass, or null where the library does not expose them. */
  peakBytes(pass: Pass): Promise<number | null>;
  dispose(): void;
}

/** A peer baseline. */
export interface Baseline {
  /** Row label, e.g. `tfjs-plain`. */
  name: string;
  /** Where it runs, e.g. `tfjs-wasm`, `onnxruntime-cpu`. */
  backend: string;
  /** The passes it can run (an inference runtime has no backward). */
  passes: Pass[];
  /** Starts the library; returns a line describing it; throws with the reason it is unavailable. */
  start(): Promise<string>;
  prepare(inputs: HostInputs): Promise<PreparedBaseline>;
}
