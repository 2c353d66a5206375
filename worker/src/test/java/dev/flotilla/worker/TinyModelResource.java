package dev.flotilla.worker;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Points a Quarkus test worker at the tiny generated model the way the operator does: through the
 * FLOTILLA_* names, which application.properties maps onto flotilla.worker.*.
 */
public class TinyModelResource implements QuarkusTestResourceLifecycleManager {
  @Override
  public Map<String, String> start() {
    TestModels.ensure();
    String adapters =
        TestModels.ADAPTERS.entrySet().stream()
            .limit(4)
            .map(e -> e.getKey() + "=file://" + e.getValue())
            .collect(Collectors.joining(","));
    return Map.of(
        "FLOTILLA_MODEL_SOURCE", "file://" + TestModels.MODEL,
        "FLOTILLA_MODEL_NAME", "test/tiny",
        "FLOTILLA_ADAPTERS", adapters,
        "FLOTILLA_KV_CACHE_BYTES", String.valueOf(16L << 20),
        "FLOTILLA_MAX_BATCH_SIZE", "16",
        "FLOTILLA_MAX_ADAPTERS", "4",
        "FLOTILLA_THREADS", "1",
        "FLOTILLA_WORKER_ID", "worker-under-test");
  }

  @Override
  public void stop() {}
}
