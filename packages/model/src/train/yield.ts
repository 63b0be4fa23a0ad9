/**
 * Giving the event loop a turn between training steps, browser-safe (no Node imports).
 * @module
 */

type Resolve = () => void;

let channel: { port1: { onmessage: (() => void) | null; unref?: () => void }; port2: { postMessage(v: null): void } } | undefined;
const waiting: Resolve[] = [];

/**
 * Resolves on a later macrotask, after timers, I/O callbacks and signal handlers that were due have
 * run: `setImmediate` in Node, a `MessageChannel` message in browsers (not clamped to 4 ms like a
 * nested `setTimeout`), `setTimeout(0)` elsewhere. Costs microseconds, so the training loop calls it
 * once per step.
 */
export function nextMacrotask(): Promise<void> {
  return new Promise<void>((resolve) => {
    const g = globalThis as { setImmediate?: (cb: () => void) => unknown; MessageChannel?: new () => NonNullable<typeof channel> };
    if (typeof g.setImmediate === 'function') {
      g.setImmediate(resolve);
    } else if (typeof g.MessageChannel === 'function') {
      if (channel === undefined) {
        channel = new g.MessageChannel();
        channel.port1.onmessage = () => waiting.shift()?.();
        channel.port1.unref?.(); // runtimes with ref-counted ports (Deno, Node): an idle port must not keep the process alive
      }
      waiting.push(resolve);
      channel.port2.postMessage(null);
    } else {
      setTimeout(resolve, 0);
    }
  });
}
