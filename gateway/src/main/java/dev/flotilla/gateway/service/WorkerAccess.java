package dev.flotilla.gateway.service;

import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.worker.WorkerClient;

/**
 * How admitted requests reach workers, the same for every request of a gateway.
 *
 * @param maxAttempts how many workers one request may try before it fails
 */
record WorkerAccess(WorkerRegistry registry, WorkerClient client, int maxAttempts) {
  /** Where a picked worker listens; null when it went away since it was picked. */
  String address(String workerId) {
    return registry.endpoint(workerId).map(WorkerRegistry.Endpoint::address).orElse(null);
  }
}
