/**
 * A sampling ratio read from a var (0 to 1; unset or not a number: 1, clamped otherwise), parsed once
 * per distinct text rather than per request: one parser per setting, each remembering its last text.
 */
export function ratioVar(): (text: string | undefined) => number {
  let lastText: string | undefined;
  let lastRatio = 1;
  return (text) => {
    if (text !== lastText) {
      const ratio = Number(text ?? 1);
      lastText = text;
      lastRatio = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 1;
    }
    return lastRatio;
  };
}
