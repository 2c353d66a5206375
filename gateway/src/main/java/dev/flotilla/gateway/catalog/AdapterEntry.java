package dev.flotilla.gateway.catalog;

import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.Visibility;

/**
 * A LoraAdapter as the gateway authorises and routes it.
 *
 * @param model the ModelDeployment's name (same namespace)
 * @param tenant owning tenant; null for a public adapter without owner
 * @param rank 0 when unknown
 */
public record AdapterEntry(String namespace, String name, String model, String tenant,
    Visibility visibility, int rank, String source) {

  public String modelKey() {
    return namespace + "/" + model;
  }

  public boolean visibleTo(String caller) {
    return visibility == Visibility.Public || caller.equals(tenant);
  }

  public static AdapterEntry from(LoraAdapter a) {
    var spec = a.getSpec();
    Integer rank = a.getStatus() != null && a.getStatus().getRank() != null
        ? a.getStatus().getRank() : spec.getRank();
    return new AdapterEntry(a.getMetadata().getNamespace(), a.getMetadata().getName(),
        spec.getModelDeployment(), spec.getTenant(),
        spec.getVisibility() == null ? Visibility.Private : spec.getVisibility(),
        rank == null ? 0 : rank, spec.getSource());
  }
}
