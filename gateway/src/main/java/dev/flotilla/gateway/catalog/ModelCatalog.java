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
