/**
 * Node-only: loads `@reformer/model` for the whole-model rows.
 *
 * @module
 */
import type { ModelBench } from '../model.js';
import { modelBenchFrom, type ModelModule } from '../model.js';

/** The whole-model rows, or a bench that reports them unavailable with the reason. */
export async function loadNodeModelBench(): Promise<ModelBench> {
  try {
    const mod: ModelModule = await import('@reformer/model');
    return modelBenchFrom(mod);
  } catch (err) {
    return modelBenchFrom(
      undefined,
      `@reformer/model could not be loaded (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
  }
}
