/**
 * Weighted round robin, O(1) per pick with equal weights (a rotating index) and O(log n) otherwise:
 * an earliest-deadline-first schedule over a binary heap, as Envoy's. Endpoint i's k-th pick of a
 * cycle is due at (k + φᵢ)/wᵢ, and the heap yields the earliest. Over every cycle of Σw picks each
 * endpoint gets exactly its weight. The phases φᵢ = (i + ½)/n spread the endpoints' first deadlines
 * over the cycle: with one phase for all (Envoy's), 127 endpoints of weight 1 beside one of weight
 * 128 would all fall due together and take 127 picks in a row. So no endpoint runs more than about
 * two picks ahead of or behind its exact share (nginx's smooth round robin, which this replaces and
 * which scans every endpoint per pick, about one); 5:1:1 gives a,a,a,b,a,a,c.
 * State lives per balancer (per backend, per isolate); the schedule per endpoint list (per-list.ts),
 * starting over when the list changes.
 */
import type { Balancer, EndpointRuntime } from "./endpoint.ts";
import { equalWeights, perList } from "./per-list.ts";

export function roundRobin(): Balancer {
  let next = 0;
  const scheduleOf = perList((endpoints) => (equalWeights(endpoints) ? undefined : new EdfSchedule(endpoints)));
  return (endpoints) => {
    const count = endpoints.length;
    if (count <= 1) return endpoints[0];
    const schedule = scheduleOf(endpoints);
    if (schedule) return endpoints[schedule.pick()];
    // One counter for every list: a retry's smaller list continues the rotation.
    if (next >= 0x40000000) next = 0;
    return endpoints[next++ % count];
  };
}

/** The EDF schedule of one endpoint list: a heap of endpoint indexes ordered by their next deadline. */
export class EdfSchedule {
  private readonly weights: Float64Array;
  private readonly phases: Float64Array;
  /** Picks of each endpoint in the current cycle, and when its next one is due. */
  private readonly picks: Float64Array;
  private readonly due: Float64Array;
  private readonly heap: Int32Array;
  private readonly cycle: number;
  private picked = 0;

  constructor(endpoints: readonly EndpointRuntime[]) {
    const count = endpoints.length;
    this.weights = Float64Array.from(endpoints, (endpoint) => endpoint.weight);
    this.phases = Float64Array.from(endpoints, (_, i) => (i + 0.5) / count);
    this.picks = new Float64Array(count);
    this.due = new Float64Array(count);
    this.heap = new Int32Array(count);
    this.cycle = this.weights.reduce((sum, weight) => sum + weight, 0);
    this.reset();
  }

  /** The index of the endpoint whose turn it is. */
  pick(): number {
    const top = this.heap[0]!;
    this.due[top] = (++this.picks[top]! + this.phases[top]!) / this.weights[top]!;
    this.siftDown(0);
    // A cycle's deadlines are all below 1 and the next cycle's above (0 < φ < 1): after Σw picks every
    // endpoint has had exactly its weight and the schedule repeats from the start (integer weights;
    // with others the counts just keep growing).
    if (++this.picked === this.cycle) this.reset();
    return top;
  }

  private before(a: number, b: number): boolean {
    const due = this.due;
    return due[a]! < due[b]! || (due[a] === due[b] && a < b);
  }

  private siftDown(from: number): void {
    const heap = this.heap;
    const count = heap.length;
    let at = from;
    const moving = heap[at]!;
    while (true) {
      let child = 2 * at + 1;
      if (child >= count) break;
      if (child + 1 < count && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, moving)) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = moving;
  }

  private reset(): void {
    this.picked = 0;
    for (let i = 0; i < this.heap.length; i++) {
      this.picks[i] = 0;
      this.due[i] = this.phases[i]! / this.weights[i]!;
      this.heap[i] = i;
    }
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}
