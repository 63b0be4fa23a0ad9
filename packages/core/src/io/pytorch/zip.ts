/**
 * A minimal reader of ZIP archives as PyTorch writes them (`torch.save` since 1.6): entries stored
 * uncompressed, ZIP64 where the archive is large. Entries come back as views into the archive's bytes
 * (no copy); their CRC-32 is checked.
 *
 * Browser-safe: no Node imports.
 *
 * @module
 */

import { CheckpointFormatError } from '../../errors.js';
import { crc32 } from './crc32.js';

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** The first four bytes of a ZIP archive (a local file header), `PK\x03\x04`. */
export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04] as const;

function fail(message: string): never {
  throw new CheckpointFormatError(`pytorch checkpoint (zip): ${message}`);
}

function u64(view: DataView, at: number): number {
  const v = view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
  if (!Number.isSafeInteger(v)) fail(`a 64-bit size or offset (${v}) is beyond 2^53; the archive is corrupt.`);
  return v;
}

/** Finds the end-of-central-directory record, scanning back over a possible archive comment. */
function findEocd(view: DataView): number {
  const last = view.byteLength - EOCD_SIZE;
  const first = Math.max(0, last - MAX_COMMENT);
  for (let at = last; at >= first; at--) {
    if (view.getUint32(at, true) === EOCD_SIG && at + EOCD_SIZE + view.getUint16(at + 20, true) === view.byteLength) return at;
  }
  fail(
    `no end-of-central-directory record in the last ${view.byteLength - first} bytes; the file is truncated ` +
      '(download it again) or not a zip archive.',
  );
}

/**
 * Reads the central directory of a ZIP archive and returns every file entry by name, as a view into
 * `bytes`.
 *
 * @param bytes - the whole archive.
 * @param verifyCrc - check each entry's CRC-32 (default true); a mismatch is a corrupt file.
 * @param checksum - the CRC-32 function (default: this module's; Node passes zlib's, which is faster).
 * @returns the entries by name, in the order of the central directory.
 * @throws {CheckpointFormatError} if the archive is truncated or corrupt, or an entry is compressed or
 *   encrypted (PyTorch stores entries uncompressed).
 */
export function readZipEntries(
  bytes: Uint8Array,
  verifyCrc = true,
  checksum: (data: Uint8Array) => number = crc32,
): Map<string, Uint8Array> {
  if (bytes.byteLength < EOCD_SIZE) fail(`the file is ${bytes.byteLength} bytes long, too short for a zip archive; it is truncated.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(view);
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) fail('a ZIP64 archive without its ZIP64 locator; the file is corrupt.');
    const rec = u64(view, loc + 8);
    if (rec + 56 > loc || view.getUint32(rec, true) !== ZIP64_EOCD_SIG)
      fail('the ZIP64 end-of-central-directory record is missing or out of range; the file is corrupt.');
    count = u64(view, rec + 32);
    cdSize = u64(view, rec + 40);
    cdOffset = u64(view, rec + 48);
  }
  if (cdOffset + cdSize > eocd) {
    fail(
      `the central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at ${eocd}; the file is truncated or corrupt.`,
    );
  }
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const entries = new Map<string, Uint8Array>();
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || view.getUint32(at, true) !== CENTRAL_SIG) {
      fail(`central directory entry ${i} of ${count} is missing or damaged (at byte ${at}); the file is corrupt.`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressed = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    let local = view.getUint32(at + 42, true);
    const next = at + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory's end; the file is corrupt.`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    // ZIP64 extended information: the 8-byte values replace those stored as 0xffffffff, in this order.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen; ) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let p = e + 4;
        if (size === U32_MAX && p + 8 <= e + 4 + len) (size = u64(view, p)), (p += 8);
        if (compressed === U32_MAX && p + 8 <= e + 4 + len) (compressed = u64(view, p)), (p += 8);
        if (local === U32_MAX && p + 8 <= e + 4 + len) local = u64(view, p);
      }
      e += 4 + len;
    }
    at = next;
    if (name.endsWith('/')) continue; // a directory
    if ((flags & 0x1) !== 0) fail(`entry ${JSON.stringify(name)} is encrypted; PyTorch never encrypts its archives.`);
    if (method !== 0 || compressed !== size) {
      fail(
        `entry ${JSON.stringify(name)} is compressed (method ${method}); PyTorch stores its entries uncompressed. ` +
          'Re-save the checkpoint with torch.save, or unzip and re-zip it with `zip -0`.',
      );
    }
    if (local + 30 > bytes.byteLength || view.getUint32(local, true) !== LOCAL_SIG) {
      fail(`the local header of entry ${JSON.stringify(name)} (at byte ${local}) is missing; the file is truncated or corrupt.`);
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + size > bytes.byteLength) {
      fail(
        `entry ${JSON.stringify(name)} needs bytes [${start}, ${start + size}) but the file has ${bytes.byteLength}; ` +
          'the file is truncated (download it again).',
      );
    }
    const data = bytes.subarray(start, start + size);
    if (verifyCrc && checksum(data) >>> 0 !== crc) {
      fail(`entry ${JSON.stringify(name)} fails its CRC-32 check; the file is corrupt (download it again).`);
    }
    if (entries.has(name)) fail(`entry ${JSON.stringify(name)} appears twice; the file is corrupt.`);
    entries.set(name, data);
  }
  return entries;
}
