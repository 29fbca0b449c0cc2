// The Worker's entry: the module worker-build writes, with its Durable
// Object classes declared as deriving from the runtime's DurableObject.
// workerd offers RPC (how the Worker calls its objects, src/rpc.rs) only on
// such classes, and worker-build 0.8.7 declares it for emscripten builds
// alone; this does what it does there.
import { DurableObject } from "cloudflare:workers";

import worker, { AlertStore, DeadLetterStore, DestinationStore, FailureCounter, ListenerStore, ReplayStore, RequestCounts, RouteLog } from "./build/index.js";

for (const object of [AlertStore, DeadLetterStore, DestinationStore, FailureCounter, ListenerStore, ReplayStore, RequestCounts, RouteLog]) {
  Object.setPrototypeOf(object.prototype, DurableObject.prototype);
  Object.setPrototypeOf(object, DurableObject);
}

export { AlertStore, DeadLetterStore, DestinationStore, FailureCounter, ListenerStore, ReplayStore, RequestCounts, RouteLog };
export default worker;
