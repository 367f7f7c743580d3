/**
 * Input bytes to text. YAML 1.2 allows UTF-8, UTF-16 and UTF-32; Kubernetes tools read UTF-8. A
 * byte-order mark tells UTF-16 apart (common from Windows editors and PowerShell's `>`), so it is
 * decoded; UTF-32 and text that is not valid UTF-8 are refused with the position of the first bad
 * byte. Decoding bytes as UTF-8 regardless would turn such a file into a garbage document.
 */
import type { Diagnostic } from './diagnostics';

interface Bom {
  readonly bytes: readonly number[];
  readonly encoding: 'utf-8' | 'utf-16le' | 'utf-16be' | 'utf-32le' | 'utf-32be';
}

// UTF-32LE first: its BOM starts with UTF-16LE's.
const BOMS: readonly Bom[] = [
  { bytes: [0xff, 0xfe, 0x00, 0x00], encoding: 'utf-32le' },
  { bytes: [0x00, 0x00, 0xfe, 0xff], encoding: 'utf-32be' },
  { bytes: [0xef, 0xbb, 0xbf], encoding: 'utf-8' },
  { bytes: [0xff, 0xfe], encoding: 'utf-16le' },
  { bytes: [0xfe, 0xff], encoding: 'utf-16be' },
];

/** Decodes a file's bytes; on failure adds a positioned diagnostic and returns undefined. */
export function decodeText(file: string, input: string | Uint8Array, diagnostics: Diagnostic[]): string | undefined {
  if (typeof input === 'string') return input;
  const bom = BOMS.find((b) => b.bytes.every((byte, i) => input[i] === byte));
  const fail = (line: number, col: number, message: string) => {
    diagnostics.push({ file, line, col, path: '', message });
    return undefined;
  };
  if (bom?.encoding === 'utf-32le' || bom?.encoding === 'utf-32be') {
    return fail(1, 1, `is not UTF-8: it is ${bom.encoding.toUpperCase()} (byte-order mark); save it as UTF-8`);
  }
  if (bom?.encoding === 'utf-16le' || bom?.encoding === 'utf-16be') {
    try {
      // The decoder consumes the byte-order mark itself.
      return new TextDecoder(bom.encoding, { fatal: true }).decode(input);
    } catch {
      return fail(1, 1, `is not UTF-8, and not valid ${bom.encoding.toUpperCase()} either (its byte-order mark says so); save it as UTF-8`);
    }
  }
  const nul = input.indexOf(0);
  if (nul >= 0) {
    const { line, col } = positionOfByte(input, nul);
    return fail(line, col, 'is not UTF-8 text: it holds a NUL byte (UTF-16 or UTF-32 without a byte-order mark?); save it as UTF-8');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    const bad = firstInvalidUtf8Byte(input);
    const { line, col } = positionOfByte(input, bad);
    return fail(line, col, `is not UTF-8 (byte 0x${input[bad].toString(16).padStart(2, '0')} here cannot start or continue a character); save it as UTF-8`);
  }
}

/**
 * Offset of the first byte that is not part of a valid UTF-8 sequence. The lenient decoder puts
 * U+FFFD where bytes are invalid; everything before the first such place decoded exactly, so
 * re-measuring the decoded characters gives the byte offset. A U+FFFD that was in the input
 * as its own valid bytes (EF BF BD) is skipped.
 */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  let offset = 0;
  for (const char of text) {
    if (char === '\ufffd' && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
    offset += Buffer.byteLength(char, 'utf8');
  }
  return Math.min(offset, bytes.length - 1);
}

/** 1-based line and column (in characters) of a byte offset whose prefix is valid UTF-8. */
function positionOfByte(bytes: Uint8Array, offset: number): { line: number; col: number } {
  const before = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(0, offset));
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return { line, col: before.length - lineStart + 1 };
}
