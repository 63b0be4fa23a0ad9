/**
 * A minimal protobuf writer and the few ONNX messages the onnxruntime baseline needs (ModelProto,
 * GraphProto, NodeProto, AttributeProto, ValueInfoProto), serialised by hand from the field numbers of
 * `onnx.proto` (IR version 10). No dependency, no Node imports.
 *
 * @module
 */

/** Protobuf wire types used here. */
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private bytes: number[] = [];

  /** An unsigned integer as a varint (exact up to 2^53). */
  varint(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER)
      throw new RangeError(`varint: ${n} is not a non-negative safe integer`);
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** An int64/int32/enum field (non-negative values). */
  int(field: number, n: number): this {
    return this.tag(field, VARINT).varint(n);
  }

  /** A float field (fixed32, little-endian). */
  float(field: number, x: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, x, true);
    this.tag(field, FIXED32);
    for (const v of b) this.bytes.push(v);
    return this;
  }

  /** A length-delimited field of raw bytes. */
  raw(field: number, data: Uint8Array): this {
    this.tag(field, LEN).varint(data.length);
    for (const v of data) this.bytes.push(v);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }

  /** An embedded message field. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.raw(field, inner.finish());
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** An ONNX node attribute. */
export type OnnxAttribute = { name: string; float: number } | { name: string; int: number } | { name: string; ints: number[] };

/** An ONNX node. */
export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attributes?: OnnxAttribute[];
}

/** A float32 graph input or output with a fixed shape. */
export interface OnnxValue {
  name: string;
  shape: number[];
}

/** A whole single-graph model. */
export interface OnnxModel {
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Operator sets: `''` is the default ONNX domain. */
  opsets: { domain: string; version: number }[];
}

const ONNX_FLOAT = 1;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function valueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(1, v.name); // ValueInfoProto.name
  w.message(
    2,
    (
      type, // ValueInfoProto.type: TypeProto
    ) =>
      type.message(1, (tensor) => {
        // TypeProto.tensor_type
        tensor.int(1, ONNX_FLOAT); // elem_type
        tensor.message(2, (shape) => {
          // shape: TensorShapeProto
          for (const d of v.shape) shape.message(1, (dim) => dim.int(1, d)); // dim { dim_value }
        });
      }),
  );
}

/**
 * Serialises a model to ONNX `ModelProto` bytes (IR version 10), loadable by onnxruntime's
 * `InferenceSession.create(bytes)`.
 */
export function serializeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 10); // ir_version
  w.string(2, 'reformer-bench'); // producer_name
  w.message(7, (g) => {
    // graph
    model.nodes.forEach((node, i) =>
      g.message(1, (n) => {
        // GraphProto.node
        for (const x of node.inputs) n.string(1, x);
        for (const y of node.outputs) n.string(2, y);
        n.string(3, `${node.opType}_${i}`);
        n.string(4, node.opType);
        for (const a of node.attributes ?? []) {
          n.message(5, (attr) => {
            attr.string(1, a.name);
            if ('float' in a) attr.float(2, a.float).int(20, ATTR_FLOAT);
            else if ('int' in a) attr.int(3, a.int).int(20, ATTR_INT);
            else {
              for (const x of a.ints) attr.int(8, x);
              attr.int(20, ATTR_INTS);
            }
          });
        }
        if (node.domain) n.string(7, node.domain);
      }),
    );
    g.string(2, 'attention');
    for (const v of model.inputs) g.message(11, (m) => valueInfo(m, v));
    for (const v of model.outputs) g.message(12, (m) => valueInfo(m, v));
  });
  for (const o of model.opsets) w.message(8, (m) => m.string(1, o.domain).int(2, o.version)); // opset_import
  return w.finish();
}

/**
 * Attention as an ONNX graph, in one of two forms, both computing `softmax(scale · q kᵀ) v` per head
 * on `[B, H, L, d]` inputs `q`, `k`, `v`:
 * - `mha`: onnxruntime's fused `com.microsoft.MultiHeadAttention` operator, which takes `[B, L, H·d]`
 *   (the caller transposes), with `num_heads` and `scale`;
 * - `matmul`: `MatMul(q, Transpose(k)) → Softmax(-1) → MatMul(·, v)` in the default domain (opset 17),
 *   as a plain ONNX export of attention looks (scale 1 only: the benchmark's keys are unit-length).
 *
 * @throws {RangeError} for the `matmul` form with a scale other than 1.
 */
export function attentionGraph(form: 'mha' | 'matmul', B: number, H: number, L: number, d: number, scale: number): OnnxModel {
  if (form === 'mha') {
    const shape = [B, L, H * d];
    return {
      nodes: [
        {
          opType: 'MultiHeadAttention',
          domain: 'com.microsoft',
          inputs: ['q', 'k', 'v'],
          outputs: ['out'],
          attributes: [
            { name: 'num_heads', int: H },
            { name: 'scale', float: scale },
          ],
        },
      ],
      inputs: [
        { name: 'q', shape },
        { name: 'k', shape },
        { name: 'v', shape },
      ],
      outputs: [{ name: 'out', shape }],
      opsets: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
    };
  }
  if (scale !== 1) throw new RangeError(`attentionGraph: the matmul form supports scale 1 only, got ${scale}.`);
  const shape = [B, H, L, d];
  return {
    nodes: [
      { opType: 'Transpose', inputs: ['k'], outputs: ['kt'], attributes: [{ name: 'perm', ints: [0, 1, 3, 2] }] },
      { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['logits'] },
      { opType: 'Softmax', inputs: ['logits'], outputs: ['p'], attributes: [{ name: 'axis', int: 3 }] },
      { opType: 'MatMul', inputs: ['p', 'v'], outputs: ['out'] },
    ],
    inputs: [
      { name: 'q', shape },
      { name: 'k', shape },
      { name: 'v', shape },
    ],
    outputs: [{ name: 'out', shape }],
    opsets: [{ domain: '', version: 17 }],
  };
}
