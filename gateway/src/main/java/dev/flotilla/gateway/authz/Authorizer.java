package dev.flotilla.gateway.authz;

import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.catalog.AdapterEntry;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.catalog.ModelEntry;
import dev.flotilla.gateway.status.GatewayStatus;
import java.util.Comparator;
import java.util.List;

/**
 * Decides whether a tenant may use a model and an adapter.
 *
 * <p>A model is named {@code namespace/name} or, when unambiguous, {@code name}. A tenant may use
 * it when its {@code allowedModels} holds {@code *}, the model's {@code namespace/name} or its
 * {@code name}; an unset list allows nothing. An adapter must belong to the model and be public or
 * owned by the tenant.
 */
public final class Authorizer {
  public static final String MODEL_TYPE = "flotilla.dev/ModelDeployment";
  public static final String ADAPTER_TYPE = "flotilla.dev/LoraAdapter";

  /** A request the tenant may make; {@code adapter} is null for the base model. */
  public record Grant(ModelEntry model, AdapterEntry adapter) {}

  private final ModelCatalog catalog;

  public Authorizer(ModelCatalog catalog) {
    this.catalog = catalog;
  }

  public Grant authorize(TenantInfo tenant, String modelName, String adapterName) {
    if (modelName == null || modelName.isBlank()) {
      throw GatewayStatus.invalidArgument("model", "must name a model");
    }
    ModelEntry model = resolve(modelName);
    if (!mayUse(tenant, model)) {
      throw GatewayStatus.permissionDenied(
          "tenant " + tenant.name() + " may not use model " + model.key());
    }
    if (adapterName == null || adapterName.isEmpty()) {
      return new Grant(model, null);
    }
    AdapterEntry adapter =
        catalog
            .adapter(model, adapterName)
            .orElseThrow(
                () ->
                    GatewayStatus.notFound(
                        ADAPTER_TYPE,
                        model.namespace() + "/" + adapterName,
                        "no adapter " + adapterName + " for model " + model.key()));
    if (!adapter.visibleTo(tenant.name())) {
      throw GatewayStatus.permissionDenied(
          "tenant " + tenant.name() + " may not use adapter " + adapterName);
    }
    if (adapter.rejected()) {
      // The operator checked the files against the base model and found them wrong: no worker
      // could load them, so say why here instead of failing on every worker in turn.
      throw GatewayStatus.failedPrecondition(
          "adapter " + adapterName + " failed validation: " + adapter.rejection());
    }
    return new Grant(model, adapter);
  }

  private ModelEntry resolve(String name) {
    if (name.contains("/")) {
      return catalog.model(name).orElseThrow(() -> unknownModel(name));
    }
    List<ModelEntry> named = catalog.modelsNamed(name);
    if (named.size() > 1) {
      throw GatewayStatus.invalidArgument(
          "model", "\"" + name + "\" exists in several namespaces; use namespace/name");
    }
    return named.stream().findFirst().orElseThrow(() -> unknownModel(name));
  }

  private static RuntimeException unknownModel(String name) {
    return GatewayStatus.notFound(MODEL_TYPE, name, "no model " + name);
  }

  public static boolean mayUse(TenantInfo tenant, ModelEntry model) {
    for (String allowed : tenant.allowedModels()) {
      if (allowed.equals("*") || allowed.equals(model.key()) || allowed.equals(model.name())) {
        return true;
      }
    }
    return false;
  }

  /** A model with the adapters one tenant may use on it. */
  public record ModelView(ModelEntry model, List<AdapterEntry> adapters) {}

  /**
   * The models the tenant may use, each with the adapters it may use, sorted by name. Another
   * tenant's private adapters never appear, nor do adapters that failed the operator's validation.
   */
  public List<ModelView> visibleTo(TenantInfo tenant) {
    return catalog.models().stream()
        .filter(m -> mayUse(tenant, m))
        .sorted(Comparator.comparing(ModelEntry::key))
        .map(
            m ->
                new ModelView(
                    m,
                    catalog.adaptersOf(m).stream()
                        .filter(a -> a.visibleTo(tenant.name()) && !a.rejected())
                        .sorted(Comparator.comparing(AdapterEntry::name))
                        .toList()))
        .toList();
  }
}
