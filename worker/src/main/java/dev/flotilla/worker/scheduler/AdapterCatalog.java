package dev.flotilla.worker.scheduler;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The adapters this worker may load, by name: those configured at startup and those registered
 * through LoadAdapter. Knowing an adapter is not holding it: slots are the scheduler's business.
 */
public final class AdapterCatalog {
  private final Map<String, Path> configured;
  private final Map<String, Path> sources = new ConcurrentHashMap<>();

  public AdapterCatalog(Map<String, Path> configured) {
    this.configured = Map.copyOf(configured);
    sources.putAll(configured);
  }

  public Optional<Path> source(String name) {
    return Optional.ofNullable(sources.get(name));
  }

  public boolean contains(String name) {
    return sources.containsKey(name);
  }

  /** Registers or re-points an adapter; returns the previous source, if any. */
  public Optional<Path> register(String name, Path dir) {
    return Optional.ofNullable(sources.put(name, dir));
  }

  /**
   * Forgets an adapter registered at run time. Configured adapters stay known (they belong to the
   * deployment), so a later request loads them again.
   */
  public void forget(String name) {
    Path configuredDir = configured.get(name);
    if (configuredDir == null) {
      sources.remove(name);
    } else {
      sources.put(name, configuredDir);
    }
  }
}
