import {
  AdamW,
  LayerNorm,
  Linear,
  Module,
  cast,
  concat,
  crossEntropy,
  gelu,
  gradients,
  mul,
  randomNormal,
  randomUniform,
  scalar,
  seedScope,
  tensor,
  tidy,
  type Tensor,
} from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '@reformer/reversible';
import { ReformerModelWithLMHead } from '../model.js';
import { ReformerEncoderDecoder } from '../seq2seq/model.js';

/**
 * A workload of the backend parity suite: it runs on the current backend and returns the tensors to
 * compare (outputs, gradients, losses, trained parameters). The same seeds on every backend make the
 * same inputs, weights and rotations (core's RNG runs on the host).
 */
export interface ParityWorkload {
  /** What it exercises, as a test name. */
  readonly name: string;
  /** Runs on the current backend; the caller owns (and disposes) the returned tensors. */
  run(): Tensor[];
  /** Checks of the reference's results that make the comparison meaningful (e.g. the loss went down). */
  sanity?(reference: readonly Float32Array[]): void;
}

/** A copy of a parameter's current value (to return after its module is disposed). */
const copyOf = (p: Tensor): Tensor => tidy(() => mul(p, scalar(1)));

/** The sanity check of a training workload whose first three results are its losses: the third is below the first. */
function lossWentDown(ref: readonly Float32Array[]): void {
  if (!(ref[2]![0]! < ref[0]![0]!)) throw new Error('the reference loss did not go down');
}

/**
 * Three AdamW steps (lr 3e-2) of `model` on the loss that `makeLoss` returns (its inputs are made once,
 * inside the scope of the steps), step `s` under `seedScope(seedBase + s)`: the three losses, then a copy
 * of every parameter. Disposes the model.
 */
function threeAdamWSteps(model: Module, seedBase: number, makeLoss: () => () => Tensor): Tensor[] {
  const named = model.namedParameters();
  const opt = new AdamW(named, { lr: 3e-2 });
  try {
    const losses = tidy(() => {
      const loss = makeLoss();
      return [0, 1, 2].map((step) => {
        const { value, grads } = seedScope(seedBase + step, () => gradients(loss, [...named.values()]));
        opt.step(grads);
        return value;
      });
    });
    return [...losses, ...[...named.values()].map(copyOf)];
  } finally {
    opt.dispose();
    model.dispose();
  }
}

/** LSH attention, causal or not: output and the gradients with respect to qk and v. */
function lsh(causal: boolean): ParityWorkload {
  return {
    name: `lshAttention forward and gradients (causal ${causal})`,
    run: () =>
      tidy(() => {
        const qk = seedScope(11, () => randomNormal([2, 2, 64, 8]));
        const v = seedScope(12, () => randomNormal([2, 2, 64, 8]));
        const dy = seedScope(13, () => randomNormal([2, 2, 64, 8]));
        const { value, grads } = gradients(
          () => lshAttention(qk, v, { chunkLength: 8, nHashes: 2, nBuckets: 8, causal, seed: 5 }).output,
          [qk, v],
          dy,
        );
        return [value, ...grads];
      }),
  };
}

/** LayerNorm → Linear → GELU → Linear: a sub-layer for the reversible workload. */
class Mlp extends Module {
  readonly norm: LayerNorm;
  readonly dense: Linear;
  readonly out: Linear;
  constructor(d: number, seed: number) {
    super();
    this.norm = this.addModule('norm', new LayerNorm({ dim: d }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: 2 * d, seed }));
    this.out = this.addModule('out', new Linear({ inFeatures: 2 * d, outFeatures: d, seed: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.out.forward(gelu(this.dense.forward(this.norm.forward(x)))));
  }
}

const reversible: ParityWorkload = {
  name: 'reversible stack of 3 blocks: output and every gradient',
  run() {
    const seq = new ReversibleSequence([0, 1, 2].map((i) => new ReversibleBlock(new Mlp(8, 10 * i + 1), new Mlp(8, 10 * i + 5))));
    try {
      return tidy(() => {
        const x1 = seedScope(1, () => randomNormal([2, 6, 8]));
        const x2 = seedScope(2, () => randomNormal([2, 6, 8]));
        const dy = seedScope(3, () => randomNormal([2, 6, 16]));
        const params = [...seq].flatMap((b) => b.gradientParameters());
        const { value, grads } = gradients(() => concat(seq.forward(x1, x2), -1), [x1, x2, ...params], dy);
        return [value, ...grads];
      });
    } finally {
      seq.dispose();
    }
  },
};

/** Options of {@link tinyTrainer}. */
export interface TinyTrainerOptions {
  /** Input features (default 8). */
  inFeatures?: number;
  /** Hidden width (default 16). */
  hidden?: number;
  /** Classes (default 5). */
  classes?: number;
  /** Rows of the fixed batch (default 12). */
  batch?: number;
  /** AdamW learning rate (default 1e-2). */
  lr?: number;
  /** Seed of the weights and the batch (default 3). */
  seed?: number;
}

/** A tiny classifier and its optimizer, built on the current backend. */
export interface TinyTrainer {
  /** Its parameters (Linear → LayerNorm → Linear). */
  readonly params: readonly Tensor[];
  /** One AdamW step of the cross-entropy on the fixed batch; returns the loss (the caller disposes it). */
  step(): Tensor;
  /** Frees the model, the optimizer and the batch. */
  dispose(): void;
}

/**
 * Linear → LayerNorm → Linear → cross-entropy on one fixed seeded batch, trained by AdamW: the small
 * training loop backend tests run (parity over a few steps, flat memory over a thousand).
 */
export function tinyTrainer(options: TinyTrainerOptions = {}): TinyTrainer {
  const { inFeatures = 8, hidden = 16, classes = 5, batch = 12, lr = 1e-2, seed = 3 } = options;
  const l1 = new Linear({ inFeatures, outFeatures: hidden, seed });
  const norm = new LayerNorm({ dim: hidden });
  const l2 = new Linear({ inFeatures: hidden, outFeatures: classes, seed: seed + 1 });
  const params = [...l1.parameters(), ...norm.parameters(), ...l2.parameters()];
  const opt = new AdamW(params, { lr });
  const x = seedScope(seed + 2, () => randomNormal([batch, inFeatures]));
  const labels = tidy(() =>
    cast(
      mul(
        seedScope(seed + 3, () => randomUniform([batch])),
        scalar(classes),
      ),
      'int32',
    ),
  );
  return {
    params,
    step: () =>
      tidy(() => {
        const { value, grads } = gradients(() => crossEntropy(l2.forward(norm.forward(l1.forward(x))), labels), params);
        opt.step(grads);
        return value;
      }),
    dispose() {
      opt.dispose();
      for (const m of [l1, norm, l2]) m.dispose();
      x.dispose();
      labels.dispose();
    },
  };
}

const training: ParityWorkload = {
  name: 'training step: Linear + LayerNorm + crossEntropy + AdamW (3 steps)',
  run() {
    const trainer = tinyTrainer();
    try {
      const losses = [0, 1, 2].map(() => trainer.step());
      return [...losses, ...trainer.params.map(copyOf)];
    } finally {
      trainer.dispose();
    }
  },
  sanity: lossWentDown,
};

const reformer: ParityWorkload = {
  name: '2-layer Reformer LM (causal LSH, reversible, chunked feed-forward and LM head): losses and every parameter over 3 AdamW steps',
  run() {
    const model = new ReformerModelWithLMHead(
      {
        attn_layers: ['lsh', 'lsh'],
        is_decoder: true,
        hidden_size: 16,
        num_attention_heads: 2,
        attention_head_size: 8,
        feed_forward_size: 32,
        hidden_act: 'gelu',
        axial_pos_shape: [4, 8],
        axial_pos_embds_dim: [8, 8],
        lsh_attn_chunk_length: 8,
        num_buckets: 4,
        num_hashes: 2,
        hash_seed: 3,
        chunk_size_feed_forward: 8,
        chunk_size_lm_head: 16,
        hidden_dropout_prob: 0.1,
        initializer_range: 0.2,
        vocab_size: 11,
      },
      { seed: 42 },
    );
    return threeAdamWSteps(model, 100, () => {
      const ids = tensor(
        Int32Array.from({ length: 64 }, (_, i) => (i * 7 + (i >> 3)) % 11),
        [2, 32],
        'int32',
      );
      return () => model.loss(ids);
    });
  },
  sanity: lossWentDown,
};

const encoderDecoder: ParityWorkload = {
  name: 'encoder–decoder Reformer (LSH + local encoder, local + full decoder with cross-attention, reversible): losses and every parameter over 3 AdamW steps',
  run() {
    const model = new ReformerEncoderDecoder(
      {
        attn_layers: ['lsh', 'local'],
        decoder_attn_layers: ['local', 'full'],
        hidden_size: 16,
        num_attention_heads: 2,
        attention_head_size: 8,
        feed_forward_size: 32,
        hidden_act: 'gelu',
        axial_pos_shape: [4, 4],
        axial_pos_embds_dim: [8, 8],
        lsh_attn_chunk_length: 4,
        local_attn_chunk_length: 4,
        num_buckets: 4,
        hash_seed: 3,
        cross_attn_chunk_length: 4,
        chunk_size_feed_forward: 8,
        hidden_dropout_prob: 0.1,
        local_attention_probs_dropout_prob: 0,
        initializer_range: 0.2,
        vocab_size: 11,
      },
      { seed: 43 },
    );
    return threeAdamWSteps(model, 200, () => {
      // Source and target of different lengths (16 and 12): the cross-attention pads the queries.
      const source = tensor(
        Int32Array.from({ length: 32 }, (_, i) => 1 + ((i * 5 + (i >> 2)) % 10)),
        [2, 16],
        'int32',
      );
      const labels = tensor(
        Int32Array.from({ length: 24 }, (_, i) => (i % 12 === 11 ? -100 : 1 + ((i * 3) % 10))),
        [2, 12],
        'int32',
      );
      return () => model.loss(source, { labels });
    });
  },
  sanity: lossWentDown,
};

/** The workloads of {@link backendParity}, in order. */
export const PARITY_WORKLOADS: readonly ParityWorkload[] = [lsh(false), lsh(true), reversible, training, reformer, encoderDecoder];
