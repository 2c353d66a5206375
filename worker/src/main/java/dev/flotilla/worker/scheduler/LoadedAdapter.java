package dev.flotilla.worker.scheduler;

import java.util.List;

/**
 * An adapter resident in the engine.
 *
 * @param name the name requests use
 * @param handle the engine's object (an engine {@code Adapter}, or a fake's)
 * @param rank LoRA rank
 * @param targetModules the adapted projections, e.g. q_proj
 * @param bytes memory the adapter's weights take; counted against the KV budget
 */
public record LoadedAdapter(
    String name, Object handle, int rank, List<String> targetModules, long bytes) {
  public LoadedAdapter {
    targetModules = List.copyOf(targetModules);
  }
}
