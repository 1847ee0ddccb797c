/** An endpoint as the request path sees it: where to send, and the isolate-local counters balancers read. */
export interface EndpointRuntime {
  /** Stable identity: the origin URL, or `worker:BINDING` for a service binding. */
  readonly id: string;
  /** Origin for plain HTTP endpoints ("http://127.0.0.1:9101"); undefined for a Worker binding. */
  readonly origin: string | undefined;
  weight: number;
  /** Requests this isolate has in flight to the endpoint (until response headers arrive). */
  inFlight: number;
}

export type Balancer = (endpoints: readonly EndpointRuntime[], request: Request) => EndpointRuntime | undefined;
