/**
 * The allow-list of globals a PyTorch state dict pickle may name, and what each one builds: storage
 * classes (dtype markers), the tensor and parameter rebuild functions, `collections.OrderedDict`.
 * Anything else is a {@link PickleSecurityError} naming the global.
 *
 * @module
 */

import { CheckpointFormatError, PickleSecurityError } from '../../errors.js';
import { isInteger, isShape } from '../../validate.js';
import { PickleDict, PickleFunction } from './pickle.js';

/** The element types of PyTorch storages this reader decodes, with safetensors' names. */
export type StorageDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element. */
export const STORAGE_ITEMSIZE: Record<StorageDType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** A storage class or a dtype named in the pickle (`torch.FloatStorage`, `torch.float32`). */
export class StorageTypeMarker {
  constructor(
    readonly name: string,
    readonly dtype: StorageDType,
  ) {}
}

/** A type named in the pickle only as an argument (`torch.Tensor`, `torch.nn.parameter.Parameter`). */
export class TypeMarker {
  constructor(readonly name: string) {}
}

/** A storage: its key in the file, dtype and element count; `bytes` is filled in by the format reader. */
export class StorageRef {
  bytes: Uint8Array | undefined = undefined;
  constructor(
    readonly key: string,
    readonly dtype: StorageDType,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it: a strided view of a storage, read as `dtype`. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: StorageDType,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const STORAGE_CLASSES: Record<string, StorageDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

const DTYPES: Record<string, StorageDType> = {
  float32: 'F32',
  float: 'F32',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  double: 'F64',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function bad(fn: string, message: string): never {
  throw new CheckpointFormatError(`pytorch checkpoint: ${fn}: ${message}; the pickle is corrupt or not a state dict.`);
}

function intList(fn: string, what: string, v: unknown): number[] {
  if (!isShape(v)) {
    bad(fn, `${what} is not a tuple of non-negative integers`);
  }
  return v as number[];
}

function rebuildTensor(fn: string, args: unknown[], min: number): TensorRef {
  if (args.length < min) bad(fn, `called with ${args.length} arguments, expected at least ${min}`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) bad(fn, 'the first argument is not a storage');
  if (!isInteger(offset, 0)) bad(fn, 'the storage offset is not a non-negative integer');
  const shape = intList(fn, 'the size', size);
  const strides = intList(fn, 'the stride', stride);
  if (shape.length !== strides.length) bad(fn, `the size has ${shape.length} axes but the stride ${strides.length}`);
  return new TensorRef(storage, storage.dtype, offset, shape.slice(), strides.slice());
}

function tensorArg(fn: string, v: unknown): TensorRef {
  if (!(v instanceof TensorRef)) bad(fn, 'the data is not a tensor');
  return v;
}

const FUNCTIONS: Record<string, PickleFunction> = {
  'collections.OrderedDict': new PickleFunction('collections.OrderedDict', (args) => {
    const d = new PickleDict();
    const pairs = args[0];
    if (Array.isArray(pairs)) {
      for (const p of pairs) {
        if (!Array.isArray(p) || p.length !== 2) bad('collections.OrderedDict', 'an item is not a (key, value) pair');
        d.entries.set(p[0], p[1]);
      }
    }
    return d;
  }),
  'torch._utils._rebuild_tensor': new PickleFunction('torch._utils._rebuild_tensor', (a) =>
    rebuildTensor('torch._utils._rebuild_tensor', a, 4),
  ),
  'torch._utils._rebuild_tensor_v2': new PickleFunction('torch._utils._rebuild_tensor_v2', (a) =>
    rebuildTensor('torch._utils._rebuild_tensor_v2', a, 4),
  ),
  // (storage, offset, size, stride, requires_grad, backward_hooks, dtype, metadata): an untyped storage
  // read as the given dtype.
  'torch._utils._rebuild_tensor_v3': new PickleFunction('torch._utils._rebuild_tensor_v3', (a) => {
    const fn = 'torch._utils._rebuild_tensor_v3';
    const t = rebuildTensor(fn, a, 7);
    const dtype = a[6];
    if (!(dtype instanceof StorageTypeMarker)) bad(fn, 'the dtype argument is not a torch dtype');
    return new TensorRef(t.storage, dtype.dtype, t.offset, t.shape, t.stride);
  }),
  'torch._utils._rebuild_parameter': new PickleFunction('torch._utils._rebuild_parameter', (a) =>
    tensorArg('torch._utils._rebuild_parameter', a[0]),
  ),
  'torch._utils._rebuild_parameter_with_state': new PickleFunction('torch._utils._rebuild_parameter_with_state', (a) =>
    tensorArg('torch._utils._rebuild_parameter_with_state', a[0]),
  ),
  // (func, type, args, state): a tensor (sub)class with extra state; only plain tensors and parameters.
  'torch._tensor._rebuild_from_type_v2': new PickleFunction('torch._tensor._rebuild_from_type_v2', (a) => {
    const fn = 'torch._tensor._rebuild_from_type_v2';
    const [inner, type, args] = a;
    if (!(inner instanceof PickleFunction)) bad(fn, 'the rebuild function is not an allowed one');
    if (!(type instanceof TypeMarker)) bad(fn, 'the tensor type is not torch.Tensor or torch.nn.Parameter');
    if (!Array.isArray(args)) bad(fn, 'the arguments are not a tuple');
    return tensorArg(fn, inner.call(args));
  }),
};

const TYPES = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter', 'torch._tensor.Tensor']);

/**
 * The value of an allow-listed global; throws {@link PickleSecurityError} for any other.
 *
 * @param module - the module, e.g. `torch._utils`.
 * @param name - the name in it, e.g. `_rebuild_tensor_v2`.
 */
export function resolveTorchGlobal(module: string, name: string): unknown {
  const full = `${module}.${name}`;
  const fn = FUNCTIONS[full];
  if (fn !== undefined) return fn;
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_CLASSES, name)) {
    return new StorageTypeMarker(full, STORAGE_CLASSES[name]!);
  }
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(DTYPES, name)) return new StorageTypeMarker(full, DTYPES[name]!);
  if (TYPES.has(full)) return new TypeMarker(full);
  throw new PickleSecurityError(
    `pytorch checkpoint: the pickle refers to ${full}, which is not on the allow-list of what a state dict needs ` +
      '(tensors, storages, OrderedDict, the torch rebuild functions). Nothing was executed. If the file should ' +
      'hold only weights, it was tampered with or is not a state dict; load it only with code you trust, or ' +
      're-save a plain state dict (torch.save(model.state_dict(), path)).',
  );
}
