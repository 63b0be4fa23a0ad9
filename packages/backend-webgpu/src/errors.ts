/**
 * The named errors of the WebGPU backend. All extend core's `ReformerError`.
 */
import { ReformerError } from '@reformer/core';

/** No WebGPU adapter or device could be obtained. The message says how to get one. */
export class WebGPUUnavailableError extends ReformerError {
  constructor(detail: string) {
    super(
      `WebGPU is not available: ${detail}. ` +
        'In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu). ' +
        'In Node, install the optional peer dependency `webgpu` and a GPU driver (Vulkan); on a Linux machine ' +
        'without a GPU, install Mesa (Debian: libegl1 libegl-mesa0 libgles2 mesa-vulkan-drivers; Mesa 24 or later ' +
        'for its Vulkan adapter, lavapipe — on Debian 12 from bookworm-backports) and set ' +
        "EGL_PLATFORM=surfaceless, then use createNodeWebGPUBackend() (it falls back to create(['backend=opengles']) " +
        "with featureLevel 'compatibility').",
    );
  }
}

/** The GPU device was lost (driver reset, `destroy()`, or the backend was disposed). */
export class WebGPUDeviceLostError extends ReformerError {}

/** A WebGPU validation error (a bug in a kernel or a limit exceeded), reported by an error scope. */
export class WebGPUValidationError extends ReformerError {}

/** The GPU ran out of memory while allocating or running kernels. */
export class WebGPUOutOfMemoryError extends ReformerError {}

/** An option asks for a device feature the adapter does not have (e.g. `matmulPrecision: 'f16'` without `shader-f16`). */
export class WebGPUFeatureError extends ReformerError {}

/** A tensor needs a buffer larger than the device's `maxStorageBufferBindingSize`. */
export class WebGPUBufferTooLargeError extends ReformerError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `webgpu: a tensor of ${bytes} bytes exceeds this device's maxStorageBufferBindingSize of ${limit} bytes ` +
        `(${Math.floor(limit / 4)} float32 elements). Split the work into smaller tensors (e.g. smaller chunks or batches).`,
    );
  }
}
