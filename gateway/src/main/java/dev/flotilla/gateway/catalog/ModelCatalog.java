package dev.flotilla.gateway.catalog;

import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.ModelDeployment;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** ModelDeployments and LoraAdapters, kept current by informer events. */
public final class ModelCatalog {
  private final Map<String, ModelEntry> models = new ConcurrentHashMap<>();
  private final Map<String, AdapterEntry> adapters = new ConcurrentHashMap<>();

  public void onModel(ModelDeployment md) {
    ModelEntry e = ModelEntry.from(md);
    models.put(e.key(), e);
  }

  public void onModelDeleted(String namespace, String name) {
    models.remove(namespace + "/" + name);
  }

  public void onAdapter(LoraAdapter a) {
    if (a.getSpec() == null) {
      return;
    }
    AdapterEntry e = AdapterEntry.from(a);
    adapters.put(e.namespace() + "/" + e.name(), e);
  }

  public void onAdapterDeleted(String namespace, String name) {
    adapters.remove(namespace + "/" + name);
  }

  public Optional<ModelEntry> model(String key) {
    return Optional.ofNullable(models.get(key));
  }

  /** Models whose name is {@code name} across namespaces. */
  public List<ModelEntry> modelsNamed(String name) {
    return models.values().stream().filter(m -> m.name().equals(name)).toList();
  }

  /**
   * The model a client names as {@code namespace/name}, or as {@code name} when exactly one
   * namespace has it; empty otherwise (the Authorizer says why when the request runs).
   */
  public Optional<ModelEntry> resolve(String name) {
    if (name.contains("/")) {
      return model(name);
    }
    List<ModelEntry> named = modelsNamed(name);
    return named.size() == 1 ? Optional.of(named.get(0)) : Optional.empty();
  }

  public List<ModelEntry> models() {
    return List.copyOf(models.values());
  }

  /** The adapter {@code name} of {@code model}, if it exists. */
  public Optional<AdapterEntry> adapter(ModelEntry model, String name) {
    AdapterEntry a = adapters.get(model.namespace() + "/" + name);
    return a != null && a.model().equals(model.name()) ? Optional.of(a) : Optional.empty();
  }

  public List<AdapterEntry> adaptersOf(ModelEntry model) {
    return adapters.values().stream()
        .filter(a -> a.namespace().equals(model.namespace()) && a.model().equals(model.name()))
        .toList();
  }
}
