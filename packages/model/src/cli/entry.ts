/**
 * How the package's commands start: `main` runs only when the process was started as the command
 * (its bin name) or as its built file, not when the module is imported (by tests, or by another
 * module of the bundle).
 * @module
 */

/**
 * Runs `main(process.argv.slice(2))` and sets `process.exitCode` to what it returns when the process
 * was started as `command` (`reformer-train`) or as the built file `file` (`cli` for `dist/cli.js`); an
 * unexpected error prints `<command>: <stack>` and exits 1.
 */
export function runWhenInvoked(command: string, file: string, main: (argv: string[]) => Promise<number>): void {
  const script = typeof process !== 'undefined' ? process.argv[1] : undefined;
  if (script === undefined || !new RegExp(`(?:^|[\\\\/])(?:${file}\\.[cm]?js|${command}(?:\\.js)?)$`).test(script)) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${command}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
