/**
 * The handler at the end of the request stages: calls the chosen backend through the attempt layers.
 * Outermost first, with why:
 *  1. requestTimeout   the whole call, retries and backoff included, is bounded;
 *  2. retry            another attempt after a retriable failure, within budget;
 *  3. attemptTimeout   each attempt is bounded on its own, so a hung try leaves time to retry;
 *  4. concurrencyLimit fail fast with 503 rather than pile up on a saturated backend;
 *  5. faultInjection   injected faults look to the layers above like a misbehaving backend;
 *  6. loadBalance      an endpoint per attempt; a retry goes to one not tried yet, if any;
 *  7. send             the request itself.
 */
import type { Handler } from "hono";
import { loadBalance } from "../attempt/balance.ts";
import { stack } from "../attempt/call.ts";
import { faultInjection } from "../attempt/fault.ts";
import { concurrencyLimit } from "../attempt/limits.ts";
import { retry } from "../attempt/retry.ts";
import { send } from "../attempt/send.ts";
import { attemptTimeout, requestTimeout } from "../attempt/timeouts.ts";
import type { MeshEnv } from "../context.ts";

const call = stack([requestTimeout, retry, attemptTimeout, concurrencyLimit, faultInjection, loadBalance], send);

export const forward: Handler<MeshEnv> = (c) =>
  call({
    env: c.env,
    request: c.req.raw,
    upstream: c.get("upstream"),
    target: c.get("target"),
    outcome: c.get("outcome"),
    deadlineAt: Infinity,
    signal: undefined,
    timedOut: undefined,
    endpoint: undefined,
    tried: [],
  });
