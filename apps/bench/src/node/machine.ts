/**
 * Node-only: the machine and package versions a run records.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem, platform, release, arch } from 'node:os';
import { dirname, join } from 'node:path';
import type { MachineInfo } from '../types.js';

const PACKAGES = [
  '@reformer/core',
  '@reformer/lsh',
  '@reformer/reversible',
  '@reformer/chunked-ffn',
  '@reformer/model',
  '@reformer/backend-tfjs',
  '@reformer/backend-webgpu',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-wasm',
  'onnxruntime-node',
  'webgpu',
];

/** The version of an installed package, found by walking up from its resolved entry. */
function versionOf(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    try {
      let dir = dirname(require.resolve(name));
      for (let i = 0; i < 6; i++) {
        try {
          const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
          if (pkg.name === name) return pkg.version ?? '?';
        } catch {
          /* keep walking up */
        }
        dir = dirname(dir);
      }
    } catch {
      /* not resolvable */
    }
    return 'not installed';
  }
}

/** CPU model, cores, memory, OS, Node version and package versions of this process. */
export function nodeMachineInfo(backends: Record<string, string>): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    memoryBytes: totalmem(),
    platform: `${platform()} ${release()} ${arch()}`,
    runtime: `Node ${process.version}`,
    backends,
    packages: Object.fromEntries(PACKAGES.map((p) => [p, versionOf(p)])),
  };
}
