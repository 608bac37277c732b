/**
 * Splits bytes into display cells: one cell per UTF-8 character (1 to 4 bytes) and one per byte
 * that is not valid UTF-8 or not printable, shown as hex. So text reads as text, binary stays
 * visible byte by byte, and every cell knows which bytes it covers.
 */

export interface ByteCell {
  /** What to show. */
  readonly text: string;
  /** Index of its first byte. */
  readonly start: number;
  /** Bytes it covers (1 to 4). */
  readonly length: number;
  /** A line break follows it. */
  readonly newline: boolean;
  /** Shown as hex (a control byte or not valid UTF-8). */
  readonly hex: boolean;
}

const strict = new TextDecoder('utf-8', { fatal: true });

// Tab and line feed get arrows (the line feed also a line break); other control bytes show as hex.
const SHOWN_CONTROLS: Record<number, string> = { 9: '⇥', 10: '↵' };

/** Bytes a UTF-8 sequence starting with `lead` has, or 0 if `lead` cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Cells for bytes[from..). Unless `final`, a character cut off at the end is left out (it may be
 * completed by bytes still to come); `end` is where the next call should start.
 */
export function byteCells(bytes: Uint8Array, from = 0, final = true): { cells: ByteCell[]; end: number } {
  const cells: ByteCell[] = [];
  let position = from;
  while (position < bytes.length) {
    const lead = bytes[position]!;
    const length = sequenceLength(lead);
    if (length > 1 && position + length > bytes.length && !final) break;
    cells.push(cell(bytes, position, length));
    position += cells.at(-1)!.length;
  }
  return { cells, end: position };
}

function cell(bytes: Uint8Array, start: number, length: number): ByteCell {
  const lead = bytes[start]!;
  if (length === 1) {
    const shown = SHOWN_CONTROLS[lead];
    if (shown) return { text: shown, start, length: 1, newline: lead === 0x0a, hex: false };
    if (lead >= 0x20 && lead < 0x7f)
      return { text: String.fromCharCode(lead), start, length: 1, newline: false, hex: false };
    return hexCell(lead, start);
  }
  if (length > 1 && start + length <= bytes.length) {
    try {
      const text = strict.decode(bytes.subarray(start, start + length));
      return { text, start, length, newline: false, hex: false };
    } catch {
      // Not a valid sequence: show its lead byte as hex and go on with the next byte.
    }
  }
  return hexCell(lead, start);
}

function hexCell(byte: number, start: number): ByteCell {
  return { text: byte.toString(16).padStart(2, '0'), start, length: 1, newline: false, hex: true };
}

/** `0x41 'A'`-style description of the bytes of a cell, for tooltips. */
export function describeBytes(bytes: Uint8Array, cell: ByteCell): string {
  const hex = Array.from(
    bytes.subarray(cell.start, cell.start + cell.length),
    (b) => `0x${b.toString(16).padStart(2, '0')}`,
  ).join(' ');
  return cell.hex ? hex : `${JSON.stringify(cell.text)} ${hex}`;
}
