// Offset arithmetic that stays exact beyond 2^31: file offsets here go up to
// 2^40 and more, where JavaScript's 32-bit bitwise operators would wrap.

/** x mod size, for a power-of-two size. */
export function offsetIn(x: number, size: number): number {
  return x - Math.floor(x / size) * size;
}

export function alignDown(x: number, size: number): number {
  return Math.floor(x / size) * size;
}

export function alignUp(x: number, size: number): number {
  return Math.ceil(x / size) * size;
}

export function isAligned(x: number, size: number): boolean {
  return offsetIn(x, size) === 0;
}
