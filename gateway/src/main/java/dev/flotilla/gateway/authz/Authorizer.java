package dev.flotilla.gateway.authz;

import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.catalog.AdapterEntry;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.catalog.ModelEntry;
import dev.flotilla.gateway.status.GatewayStatus;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Decides whether a tenant may use a model and an adapter.
 *
 * <p>A model is named {@code namespace/name} or, when unambiguous, {@code name}. A tenant may use
 * it when its {@code allowedModels} holds {@code *}, the model's {@code namespace/name} or its
 * {@code name}; an unset list allows nothing. An adapter must belong to the model and be public or
 * owned by the tenant.
 *
 * <p>To a tenant, what it may not use does not exist: a model it may not use, and another tenant's
 * private adapter, are refused exactly as names that exist nowhere (NOT_FOUND with the name asked
 * for, by the same lookup), and a bare name is resolved among the tenant's models only, so neither
 * an answer nor an ambiguity tells it what other tenants have.
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
    ModelEntry model = usableModel(tenant, modelName).orElseThrow(() -> unknownModel(modelName));
    if (adapterName == null || adapterName.isEmpty()) {
      return new Grant(model, null);
    }
    AdapterEntry adapter =
        catalog
            .adapter(model, adapterName)
            .filter(a -> a.visibleTo(tenant.name()))
            .orElseThrow(
                () ->
                    GatewayStatus.notFound(
                        ADAPTER_TYPE,
                        model.namespace() + "/" + adapterName,
                        "no adapter " + adapterName + " for model " + model.key()));
    if (adapter.rejected()) {
      // The operator checked the files against the base model and found them wrong: no worker
      // could load them, so say why here instead of failing on every worker in turn.
      throw GatewayStatus.failedPrecondition(
          "adapter " + adapterName + " failed validation: " + adapter.rejection());
    }
    return new Grant(model, adapter);
  }

  /**
   * The model {@code name} means to the tenant: {@code namespace/name}, or a bare {@code name}
   * among the models the tenant may use. Empty when the tenant may use no such model, whether or
   * not one exists.
   *
   * @throws io.grpc.StatusRuntimeException INVALID_ARGUMENT when a bare name matches models the
   *     tenant may use in several namespaces
   */
  public Optional<ModelEntry> usableModel(TenantInfo tenant, String name) {
    List<ModelEntry> named =
        (name.contains("/") ? catalog.model(name).stream().toList() : catalog.modelsNamed(name))
            .stream().filter(m -> mayUse(tenant, m)).toList();
    if (named.size() > 1) {
      throw GatewayStatus.invalidArgument(
          "model", "\"" + name + "\" exists in several namespaces; use namespace/name");
    }
    return named.stream().findFirst();
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
