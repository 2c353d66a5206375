package dev.flotilla.gateway.catalog;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.Visibility;

/**
 * A LoraAdapter as the gateway authorises and routes it.
 *
 * @param model the ModelDeployment's name (same namespace)
 * @param tenant owning tenant; null for a public adapter without owner
 * @param rank 0 when unknown
 * @param rejection why the operator found the adapter invalid (its {@code Validated} condition is
 *     False); null while it is valid or not yet checked, when the worker's own checks apply
 */
public record AdapterEntry(
    String namespace,
    String name,
    String model,
    String tenant,
    Visibility visibility,
    int rank,
    String source,
    String rejection) {

  public String modelKey() {
    return namespace + "/" + model;
  }

  public boolean visibleTo(String caller) {
    return visibility == Visibility.Public || caller.equals(tenant);
  }

  public boolean rejected() {
    return rejection != null;
  }

  public static AdapterEntry from(LoraAdapter a) {
    var spec = a.getSpec();
    Integer rank =
        a.getStatus() != null && a.getStatus().getRank() != null
            ? a.getStatus().getRank()
            : spec.getRank();
    return new AdapterEntry(
        a.getMetadata().getNamespace(),
        a.getMetadata().getName(),
        spec.getModelDeployment(),
        spec.getTenant(),
        spec.getVisibility() == null ? Visibility.Private : spec.getVisibility(),
        rank == null ? 0 : rank,
        spec.getSource(),
        rejection(a));
  }

  private static String rejection(LoraAdapter a) {
    if (a.getStatus() == null || a.getStatus().getConditions() == null) {
      return null;
    }
    return a.getStatus().getConditions().stream()
        .filter(c -> ConditionTypes.VALIDATED.equals(c.getType()) && "False".equals(c.getStatus()))
        .map(
            c ->
                c.getMessage() == null || c.getMessage().isBlank()
                    ? String.valueOf(c.getReason())
                    : c.getMessage())
        .findFirst()
        .orElse(null);
  }
}
