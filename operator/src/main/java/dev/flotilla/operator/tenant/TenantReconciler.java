package dev.flotilla.operator.tenant;

import static dev.flotilla.api.crd.ConditionTypes.FALSE;
import static dev.flotilla.api.crd.ConditionTypes.READY;
import static dev.flotilla.api.crd.ConditionTypes.TRUE;

import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.TenantStatus;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.events.EventReason;
import dev.flotilla.operator.events.EventRecorder;
import dev.flotilla.operator.status.Conditions;
import dev.flotilla.operator.status.StatusDiff;
import dev.flotilla.operator.status.StatusWriter;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Secret;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.IndexerResourceCache;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checks that a Tenant's API-key Secrets exist and hold hashes (never plain keys); status {@code
 * Ready} and the number of keys. Secrets are watched, so creating or fixing one makes the tenant
 * Ready at once. The gateway reads tenants and their Secrets itself.
 *
 * <p>Only Secrets labelled {@link SecretKeyReference#LABEL_SELECTOR} are watched, and only in
 * {@link OperatorSettings#tenantSecretNamespaces()} when it lists any: the operator keeps no other
 * Secret of those namespaces in memory, and needs no read access to Secrets elsewhere for Tenants.
 */
@ControllerConfiguration(name = TenantReconciler.NAME)
public class TenantReconciler implements Reconciler<Tenant> {
  public static final String NAME = "tenant";
  static final String BY_SECRET = "bySecret";

  private final Clock clock;
  private final List<String> namespaces;
  private InformerEventSource<Secret, Tenant> secrets;

  public TenantReconciler(OperatorSettings settings, Clock clock) {
    this.clock = clock;
    this.namespaces = settings.tenantSecretNamespaces().orElse(List.of());
  }

  @Override
  public List<EventSource<?, Tenant>> prepareEventSources(EventSourceContext<Tenant> context) {
    IndexerResourceCache<Tenant> tenants = context.getPrimaryCache();
    tenants.addIndexer(
        BY_SECRET,
        t ->
            t.getSpec() == null || t.getSpec().getApiKeySecrets() == null
                ? List.of()
                : t.getSpec().getApiKeySecrets().stream()
                    .map(r -> r.getNamespace() + "/" + r.getName())
                    .toList());
    InformerEventSourceConfiguration.Builder<Secret> keySecrets =
        InformerEventSourceConfiguration.from(Secret.class, Tenant.class)
            .withLabelSelector(SecretKeyReference.LABEL_SELECTOR);
    if (!namespaces.isEmpty()) {
      keySecrets = keySecrets.withNamespaces(Set.copyOf(namespaces));
    }
    secrets =
        new InformerEventSource<>(
            keySecrets
                .withSecondaryToPrimaryMapper(
                    (Secret s) ->
                        tenants
                            .byIndex(
                                BY_SECRET,
                                s.getMetadata().getNamespace() + "/" + s.getMetadata().getName())
                            .stream()
                            .map(ResourceID::fromResource)
                            .collect(Collectors.toSet()))
                .build(),
            context);
    return List.of(secrets);
  }

  @Override
  public UpdateControl<Tenant> reconcile(Tenant tenant, Context<Tenant> context) {
    TenantKeys.Check check =
        TenantKeys.check(tenant.getSpec().getApiKeySecrets(), this::lookup, namespaces);
    TenantStatus current = tenant.getStatus() == null ? new TenantStatus() : tenant.getStatus();
    TenantStatus next = new TenantStatus();
    Long generation = tenant.getMetadata().getGeneration();
    next.setObservedGeneration(generation);
    next.setApiKeys(check.keys());
    next.setConditions(
        Conditions.set(
            current.getConditions(),
            READY,
            check.ready() ? TRUE : FALSE,
            check.reason(),
            check.message(),
            generation,
            clock.instant()));
    if (StatusDiff.differs(next, tenant.getStatus())
        && !StatusWriter.write(context, tenant, next)) {
      return UpdateControl.<Tenant>noUpdate().rescheduleAfter(StatusWriter.RETRY_AFTER_CONFLICT);
    }
    Condition before =
        current.getConditions().stream()
            .filter(c -> READY.equals(c.getType()))
            .findFirst()
            .orElse(null);
    if (before == null
        || !Objects.equals(before.getStatus(), check.ready() ? TRUE : FALSE)
        || !check.ready() && !Objects.equals(before.getMessage(), check.message())) {
      new EventRecorder(context.getClient(), clock)
          .record(
              tenant,
              check.ready() ? EventReason.TenantReady : EventReason.TenantNotReady,
              check.message());
    }
    return UpdateControl.noUpdate();
  }

  private Secret lookup(SecretKeyReference ref) {
    return secrets.get(new ResourceID(ref.getName(), ref.getNamespace())).orElse(null);
  }
}
