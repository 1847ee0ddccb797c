/** ResponseHeaderModifier of the matched rule, applied to whatever response comes back, synthetic ones included. */
import type { Stage } from "../context.ts";

export const modifyResponse: Stage = {
  response(x, response) {
    x.route.rule.responseHeaders?.(response.headers);
  },
};
