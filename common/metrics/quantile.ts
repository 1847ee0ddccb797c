/**
 * A quantile from histogram buckets, as PromQL's histogram_quantile computes it: linear interpolation
 * inside the bucket the rank falls in; the lowest bucket starts at 0; a rank in the +Inf bucket
 * answers the highest finite bound. NaN for an empty histogram.
 */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number {
  let total = 0;
  for (const count of counts) total += count;
  if (total === 0 || !(q >= 0 && q <= 1)) return NaN;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (cumulative + count >= rank && count > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - cumulative) / count);
    }
    cumulative += count;
  }
  return bounds[bounds.length - 1]!;
}
