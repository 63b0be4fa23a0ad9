// Load time and peak memory of a full-size google/reformer-enwik8 architecture checkpoint (random
// weights, 149M parameters) from model.safetensors and from pytorch_model.bin (zip and legacy formats),
// next to the file size. A benchmark, not a test: it measures and prints.
//
//   pnpm --filter @reformer/model build && node packages/model/bench/load-checkpoint.mjs
//
// The PyTorch files are written from the safetensors file by Debian's python3-torch (/usr/bin/python3);
// without it those rows are skipped. Each load runs in a fresh Node process, so its peak RSS is its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONFIG = fileURLToPath(new URL('../test/fixtures/published/reformer-enwik8/config.json', import.meta.url));
const NODE_ENTRY = new URL('../dist/node.js', import.meta.url).href;
const INDEX_ENTRY = new URL('../dist/index.js', import.meta.url).href;
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const work = mkdtempSync(join(tmpdir(), 'reformer-load-bench-'));

function node(code) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

try {
  const safeDir = join(work, 'safetensors');
  mkdirSync(safeDir);
  console.log('building the enwik8 architecture with random weights and saving model.safetensors ...');
  node(`
    import { readFileSync } from 'node:fs';
    import { ReformerModelWithLMHead } from '${INDEX_ENTRY}';
    import { saveModel } from '${NODE_ENTRY}';
    const model = new ReformerModelWithLMHead(JSON.parse(readFileSync(${JSON.stringify(CONFIG)}, 'utf8')), { seed: 1 });
    await saveModel(${JSON.stringify(safeDir)}, model);
    console.log(JSON.stringify({ params: model.numParameters() }));
  `);

  const dirs = [['model.safetensors', safeDir]];
  const haveTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (haveTorch) {
    for (const [label, zipped] of [['pytorch_model.bin (zip)', true], ['pytorch_model.bin (legacy)', false]]) {
      const dir = join(work, zipped ? 'zip' : 'legacy');
      mkdirSync(dir);
      copyFileSync(join(safeDir, 'config.json'), join(dir, 'config.json'));
      console.log(`writing ${label} with torch.save ...`);
      execFileSync(PYTHON, ['-c', `
import json, struct, collections, numpy as np, torch
data = open(${JSON.stringify(join(safeDir, 'model.safetensors'))}, 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
sd = collections.OrderedDict()
for k, e in json.loads(data[8:8 + n]).items():
    if k == '__metadata__': continue
    a, b = e['data_offsets']
    sd[k] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).reshape(e['shape']).copy())
torch.save(sd, ${JSON.stringify(join(dir, 'pytorch_model.bin'))}, _use_new_zipfile_serialization=${zipped ? 'True' : 'False'})
`]);
      dirs.push([label, dir]);
    }
  } else {
    console.log(`(${PYTHON} has no torch: the PyTorch rows are skipped)`);
  }

  const rows = [];
  for (const [label, dir] of dirs) {
    const file = join(dir, label.startsWith('model') ? 'model.safetensors' : 'pytorch_model.bin');
    const r = node(`
      import { loadModelFromDir, readWeightsFromDir } from '${NODE_ENTRY}';
      const t0 = performance.now();
      const weights = await readWeightsFromDir(${JSON.stringify(dir)});
      const t1 = performance.now();
      const model = await loadModelFromDir(${JSON.stringify(dir)});
      const t2 = performance.now();
      console.log(JSON.stringify({ read: (t1 - t0) / 1000, load: (t2 - t1) / 1000, tensors: weights.tensors.size, rss: process.resourceUsage().maxRSS * 1024 }));
    `);
    rows.push({ label, size: statSync(file).size, ...r });
  }
  const mib = (b) => (b / 2 ** 20).toFixed(0);
  console.log('\n| weights file | size (MiB) | read weights (s) | loadModelFromDir (s) | peak RSS (MiB) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.label} | ${mib(r.size)} | ${r.read.toFixed(2)} | ${r.load.toFixed(2)} | ${mib(r.rss)} |`);
  console.log('\nread weights: readWeightsFromDir alone; loadModelFromDir: read again, build the model and load the weights.');
  console.log('peak RSS covers both, in one process.');
} finally {
  rmSync(work, { recursive: true, force: true });
}
