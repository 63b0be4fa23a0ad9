/**
 * A restricted pickle machine: it reads the binary pickle opcodes that `torch.save` writes (protocols
 * 2 to 5) and builds plain JavaScript values. It never imports or calls anything by itself: every
 * global a pickle names goes through the caller's `resolveGlobal`, which returns an allow-listed
 * {@link PickleFunction} or marker object or throws, and only `PickleFunction`s can be called (REDUCE,
 * NEWOBJ). A pickle that names anything else stops at the name.
 *
 * Values: `None` → `null`, bools, ints (`number`, or `bigint` beyond 2^53), floats, `str` → string,
 * `bytes` → `Uint8Array`, lists and tuples → arrays, dicts → {@link PickleDict}.
 *
 * Browser-safe: no Node imports.
 *
 * @module
 */

import { CheckpointFormatError } from '../../errors.js';

/** A dict (or `collections.OrderedDict`) read from a pickle; keys in insertion order. */
export class PickleDict {
  /** The entries. Keys are strings, numbers, bigints, booleans or null. */
  readonly entries = new Map<unknown, unknown>();
  /** State set on the object by a BUILD opcode (an `OrderedDict`'s `_metadata`, for example); unused. */
  state: unknown = undefined;
}

/** A callable that an allow-list hands to the machine: the only thing REDUCE and NEWOBJ can call. */
export class PickleFunction {
  /**
   * @param name - `module.name`, for error messages.
   * @param call - builds the value from the pickled arguments.
   */
  constructor(
    readonly name: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

/** What the machine asks its caller for. */
export interface PickleHooks {
  /** Returns the value for a GLOBAL / STACK_GLOBAL reference, or throws (a `PickleSecurityError`). */
  resolveGlobal(module: string, name: string): unknown;
  /** Returns the object for a persistent id (BINPERSID); throws if there is none. */
  persistentLoad(pid: unknown): unknown;
}

const MAX_MEMO = 1 << 24;
const MAX_LONG_BYTES = 64;

const OPCODE_NAMES: Record<number, string> = {
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4c: 'LONG',
  0x50: 'PERSID',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x64: 'DICT',
  0x67: 'GET',
  0x69: 'INST',
  0x6c: 'LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x92: 'NEWOBJ_EX',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

function fail(at: number, message: string): never {
  throw new CheckpointFormatError(`pytorch checkpoint: pickle at byte ${at}: ${message}`);
}

/**
 * Runs the pickle that starts at `start` in `bytes` up to its STOP opcode.
 *
 * @param bytes - the buffer holding the pickle.
 * @param start - where the pickle starts.
 * @param hooks - the allow-list of globals and the persistent-id loader.
 * @returns the unpickled value and the position just after STOP.
 * @throws {CheckpointFormatError} on a truncated or malformed pickle or an opcode torch does not write;
 *   whatever `hooks` throw (a `PickleSecurityError` for a global outside the allow-list).
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: PickleHooks): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const need = (count: number, what: string): number => {
    if (count < 0 || pos + count > n) {
      fail(pos, `${what} needs ${count} bytes but only ${n - pos} remain; the file is truncated.`);
    }
    const at = pos;
    pos += count;
    return at;
  };
  const pop = (op: string): unknown => {
    if (stack.length === 0) fail(pos - 1, `${op} on an empty stack; the pickle is corrupt.`);
    return stack.pop();
  };
  const top = (op: string): unknown => {
    if (stack.length === 0) fail(pos - 1, `${op} on an empty stack; the pickle is corrupt.`);
    return stack[stack.length - 1];
  };
  const popMark = (op: string): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail(pos - 1, `${op} without a MARK; the pickle is corrupt.`);
    stack = prev;
    return items;
  };
  const text = (at: number, len: number): string => {
    try {
      return utf8.decode(bytes.subarray(at, at + len));
    } catch {
      fail(at, 'a string is not valid UTF-8; the pickle is corrupt.');
    }
  };
  const latin1 = (at: number, len: number): string => {
    let s = '';
    for (let i = at; i < at + len; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  };
  const long = (at: number, len: number): number | bigint => {
    if (len === 0) return 0;
    // torch writes 64-bit ints and a 10-byte magic number; a huge one would take quadratic time to build.
    if (len > MAX_LONG_BYTES) fail(at, `an integer of ${len} bytes (more than ${MAX_LONG_BYTES}); this is not a state dict.`);
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
    if ((bytes[at + len - 1]! & 0x80) !== 0) v -= 1n << BigInt(8 * len);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const memoPut = (index: number): void => {
    if (index >= MAX_MEMO) fail(pos, `memo index ${index} is out of range; the pickle is corrupt.`);
    memo.set(index, top('PUT'));
  };
  const memoGet = (index: number): void => {
    if (!memo.has(index)) fail(pos, `memo index ${index} was never stored; the pickle is corrupt.`);
    stack.push(memo.get(index));
  };
  const setItems = (target: unknown, items: unknown[], op: string): void => {
    if (!(target instanceof PickleDict)) fail(pos - 1, `${op} on something that is not a dict; the pickle is corrupt.`);
    if (items.length % 2 !== 0) fail(pos - 1, `${op} with an odd number of keys and values; the pickle is corrupt.`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (key !== null && typeof key === 'object') fail(pos - 1, 'a dict key is not a string or a number; this is not a state dict.');
      target.entries.set(key, items[i + 1]);
    }
  };
  const call = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PickleFunction)) fail(pos - 1, `${op} of something that is not an allowed callable; the pickle is corrupt.`);
    if (!Array.isArray(args)) fail(pos - 1, `${op} of ${fn.name} without an argument tuple; the pickle is corrupt.`);
    return fn.call(args);
  };

  for (;;) {
    const opAt = need(1, 'an opcode');
    const op = bytes[opAt]!;
    switch (op) {
      case 0x80: // PROTO
        need(1, 'PROTO');
        break;
      case 0x95: // FRAME: a length prefix for buffering; the frame's opcodes follow inline.
        need(8, 'FRAME');
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(opAt, 'STOP with an unbalanced stack; the pickle is corrupt.');
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop('POP');
        break;
      case 0x31: // POP_MARK
        popMark('POP_MARK');
        break;
      case 0x32: // DUP
        stack.push(top('DUP'));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4, 'BININT'), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1, 'BININT1')]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2, 'BININT2'), true));
        break;
      case 0x8a: {
        // LONG1
        const len = bytes[need(1, 'LONG1')]!;
        stack.push(long(need(len, 'LONG1'), len));
        break;
      }
      case 0x8b: {
        // LONG4
        const len = view.getInt32(need(4, 'LONG4'), true);
        stack.push(long(need(len, 'LONG4'), len));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8, 'BINFLOAT'), false));
        break;
      case 0x58: {
        // BINUNICODE
        const len = view.getUint32(need(4, 'BINUNICODE'), true);
        stack.push(text(need(len, 'BINUNICODE'), len));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        const len = bytes[need(1, 'SHORT_BINUNICODE')]!;
        stack.push(text(need(len, 'SHORT_BINUNICODE'), len));
        break;
      }
      case 0x8d: {
        // BINUNICODE8
        const at = need(8, 'BINUNICODE8');
        const len = view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
        stack.push(text(need(len, 'BINUNICODE8'), len));
        break;
      }
      case 0x54: {
        // BINSTRING (a Python 2 str; torch's are ASCII)
        const len = view.getInt32(need(4, 'BINSTRING'), true);
        stack.push(latin1(need(len, 'BINSTRING'), len));
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING
        const len = bytes[need(1, 'SHORT_BINSTRING')]!;
        stack.push(latin1(need(len, 'SHORT_BINSTRING'), len));
        break;
      }
      case 0x42: {
        // BINBYTES
        const len = view.getUint32(need(4, 'BINBYTES'), true);
        const at = need(len, 'BINBYTES');
        stack.push(bytes.slice(at, at + len));
        break;
      }
      case 0x43: {
        // SHORT_BINBYTES
        const len = bytes[need(1, 'SHORT_BINBYTES')]!;
        const at = need(len, 'SHORT_BINBYTES');
        stack.push(bytes.slice(at, at + len));
        break;
      }
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        const at0 = need(8, 'BINBYTES8');
        const len = view.getUint32(at0, true) + view.getUint32(at0 + 4, true) * 4294967296;
        const at = need(len, 'BINBYTES8');
        stack.push(bytes.slice(at, at + len));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x74: // TUPLE
      case 0x91: {
        // FROZENSET
        // Pop first: `stack.push(popMark())` would push onto the stack that popMark replaces.
        const items = popMark('TUPLE');
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop('TUPLE1')]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop('TUPLE2');
        stack.push([pop('TUPLE2'), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop('TUPLE3');
        const b = pop('TUPLE3');
        stack.push([pop('TUPLE3'), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop('APPEND');
        const list = top('APPEND');
        if (!Array.isArray(list)) fail(opAt, 'APPEND to something that is not a list; the pickle is corrupt.');
        list.push(v);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS
        const items = popMark('APPENDS');
        const list = top('APPENDS');
        if (!Array.isArray(list)) fail(opAt, 'APPENDS to something that is not a list; the pickle is corrupt.');
        for (const v of items) list.push(v);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop('SETITEM');
        const k = pop('SETITEM');
        setItems(top('SETITEM'), [k, v], 'SETITEM');
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark('SETITEMS');
        setItems(top('SETITEMS'), items, 'SETITEMS');
        break;
      }
      case 0x71: // BINPUT
        memoPut(bytes[need(1, 'BINPUT')]!);
        break;
      case 0x72: // LONG_BINPUT
        memoPut(view.getUint32(need(4, 'LONG_BINPUT'), true));
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        memoGet(bytes[need(1, 'BINGET')]!);
        break;
      case 0x6a: // LONG_BINGET
        memoGet(view.getUint32(need(4, 'LONG_BINGET'), true));
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = readLine(bytes, pos, n, opAt);
        pos += module.length + 1;
        const name = readLine(bytes, pos, n, opAt);
        pos += name.length + 1;
        stack.push(hooks.resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof name !== 'string') fail(opAt, 'STACK_GLOBAL of non-strings; the pickle is corrupt.');
        stack.push(hooks.resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop('REDUCE');
        stack.push(call(pop('REDUCE'), args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop('NEWOBJ');
        stack.push(call(pop('NEWOBJ'), args, 'NEWOBJ'));
        break;
      }
      case 0x62: {
        // BUILD: only a dict's instance state (an OrderedDict's `_metadata`) is accepted, and ignored.
        const state = pop('BUILD');
        const target = top('BUILD');
        if (!(target instanceof PickleDict)) {
          fail(opAt, 'BUILD (setting object state) on something other than a dict; this is not a state dict.');
        }
        target.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop('BINPERSID')));
        break;
      default: {
        const name = OPCODE_NAMES[op];
        fail(
          opAt,
          name !== undefined
            ? `opcode ${name} is not one torch.save writes; this reader reads state dicts saved with torch.save (pickle protocols 2-5).`
            : `unknown opcode 0x${op.toString(16).padStart(2, '0')}; the file is corrupt or not a PyTorch checkpoint.`,
        );
      }
    }
  }
}

/** Reads an ASCII line (a GLOBAL operand) without its newline. */
function readLine(bytes: Uint8Array, start: number, n: number, opAt: number): string {
  let s = '';
  for (let i = start; i < n && i < start + 256; i++) {
    const c = bytes[i]!;
    if (c === 0x0a) return s;
    if (c < 0x20 || c > 0x7e) fail(opAt, 'GLOBAL with a non-ASCII name; the pickle is corrupt.');
    s += String.fromCharCode(c);
  }
  fail(opAt, 'GLOBAL without a newline-terminated name; the file is truncated or corrupt.');
}
