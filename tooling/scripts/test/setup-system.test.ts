// tooling/scripts/setup-system.sh under fake system tools: what it installs as root, and what it says
// (and does not do) without root.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../setup-system.sh', import.meta.url));
const codename = (() => {
  try {
    return /^VERSION_CODENAME=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
})();

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** Runs the script with `id`, `sudo`, `dpkg-query`, `apt-get` and `tee` replaced by logging fakes. */
function run(fake: { uid: number; installedVersion: string | null }) {
  const bin = mkdtempSync(join(tmpdir(), 'setup-system-'));
  dirs.push(bin);
  const log = join(bin, 'calls.log');
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool('id', `[ "$1" = "-u" ] && echo ${fake.uid} && exit 0; exec /usr/bin/id "$@"`);
  tool('sudo', `echo "sudo $*" >> ${log}; exit 1`);
  tool('apt-get', `echo "apt-get $*" >> ${log}`);
  tool('tee', `echo "tee $*" >> ${log}; cat > /dev/null`);
  tool('dpkg-query', fake.installedVersion === null ? 'exit 1' : `echo "install ok installed ${fake.installedVersion}"`);
  const r = spawnSync('bash', [script], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

describe('setup-system.sh', () => {
  it('does nothing when everything is installed', () => {
    const r = run({ uid: 1000, installedVersion: '25.0.7-2' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('already installed');
    expect(r.calls).toEqual([]);
  });

  it('without root or sudo: installs nothing, names what is missing and what needs it, fails', () => {
    const r = run({ uid: 1000, installedVersion: null });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not root, and no password-less sudo');
    expect(r.stderr).toMatch(/missing: libegl1 libegl-mesa0 libgles2 mesa-vulkan-drivers chromium/);
    expect(r.stderr).toContain('needed by: the WebGPU backend');
    expect(r.stderr).toContain('not skipped');
    expect(r.calls.filter((c) => !c.startsWith('sudo -n true'))).toEqual([]);
  });

  it('as root: installs exactly the missing packages (Mesa from backports on Debian 12)', () => {
    const r = run({ uid: 0, installedVersion: null });
    expect(r.status).toBe(0);
    const installs = r.calls.filter((c) => c.startsWith('apt-get install'));
    expect(installs.at(-1)).toBe('apt-get install -y libegl1 libegl-mesa0 libgles2 mesa-vulkan-drivers chromium');
    if (codename === 'bookworm') {
      expect(installs[0]).toBe('apt-get install -y -t bookworm-backports mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri');
      expect(r.calls).toContain('tee /etc/apt/sources.list.d/bookworm-backports.list');
    }
    expect(r.calls.some((c) => c.startsWith('sudo'))).toBe(false);
  });

  it('as root with an old Mesa on Debian 12: upgrades Mesa only', () => {
    const r = run({ uid: 0, installedVersion: '22.3.6-1+deb12u1' });
    expect(r.status).toBe(0);
    const installs = r.calls.filter((c) => c.startsWith('apt-get install'));
    expect(installs).toEqual(
      codename === 'bookworm' ? ['apt-get install -y -t bookworm-backports mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri'] : [],
    );
  });
});
