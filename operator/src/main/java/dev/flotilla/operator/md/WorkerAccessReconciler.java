package dev.flotilla.operator.md;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.IssuedCertificate;
import dev.flotilla.mtls.ca.Usage;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.certs.CurrentCa;
import dev.flotilla.operator.certs.TlsSecrets;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.events.EventReason;
import dev.flotilla.operator.events.EventRecorder;
import dev.flotilla.operator.model.OwnerReferences;
import dev.flotilla.operator.model.WorkerNetworkPolicyModel;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What lets a model's workers be reached by the gateways and nobody else, reconciled next to the
 * workers themselves ({@link ModelDeploymentReconciler}), whatever event woke it:
 *
 * <ol>
 *   <li>{@link #applyCertificate}: the workers' TLS Secret, {@code <model>-worker-mtls} in the
 *       model's namespace: a serving certificate for {@code
 *       spiffe://flotilla.dev/worker/<ns>/<model>} from the {@link CurrentCa}, and the trust
 *       bundle. Issued again when {@link CertificateAuthority#renewalReason} says so; the workers
 *       mount it and reload it.
 * </ol>
 *
 * Everything made here is owned by the ModelDeployment, so deleting it deletes them.
 */
@ControllerConfiguration(name = WorkerAccessReconciler.NAME)
public class WorkerAccessReconciler implements Reconciler<ModelDeployment> {
  public static final String NAME = "worker-access";

  private final OperatorSettings settings;
  private final CurrentCa ca;
  private final Clock clock;
  private InformerEventSource<Secret, ModelDeployment> secrets;
  private InformerEventSource<NetworkPolicy, ModelDeployment> policies;

  public WorkerAccessReconciler(OperatorSettings settings, CurrentCa ca, Clock clock) {
    this.settings = settings;
    this.ca = ca;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, ModelDeployment>> prepareEventSources(
      EventSourceContext<ModelDeployment> context) {
    String workers =
        FlotillaNames.LABEL_MANAGED_BY
            + "="
            + FlotillaNames.MANAGED_BY
            + ","
            + FlotillaNames.LABEL_NAME
            + "="
            + FlotillaNames.WORKER_APP;
    // Only the Secrets it labels as its workers', and only in the namespaces it may write them in:
    // it keeps no other Secret in memory and needs no access elsewhere.
    InformerEventSourceConfiguration.Builder<Secret> workerSecrets =
        InformerEventSourceConfiguration.from(Secret.class, ModelDeployment.class)
            .withLabelSelector(workers);
    if (settings.modelNamespaces().isPresent()) {
      workerSecrets = workerSecrets.withNamespaces(Set.copyOf(settings.modelNamespaces().get()));
    }
    secrets = new InformerEventSource<>(workerSecrets.build(), context);
    List<EventSource<?, ModelDeployment>> sources = new ArrayList<>();
    sources.add(secrets);
    if (settings.networkPolicies().enabled()) {
      policies =
          new InformerEventSource<>(
              InformerEventSourceConfiguration.from(NetworkPolicy.class, ModelDeployment.class)
                  .withLabelSelector(workers)
                  .build(),
              context);
      sources.add(policies);
    }
    sources.add(new TrustChangeEventSource(ca, context.getPrimaryCache()));
    return sources;
  }

  @Override
  public UpdateControl<ModelDeployment> reconcile(
      ModelDeployment md, Context<ModelDeployment> context) {
    if (!ModelDeploymentReconciler.managesModelsIn(settings, md.getMetadata().getNamespace())) {
      return UpdateControl.noUpdate(); // no workers there; ModelDeploymentReconciler says why
    }
    Instant now = clock.instant();
    Duration next = null;
    if (settings.mtls().enabled()) {
      next = applyCertificate(md, context, now);
    }
    applyNetworkPolicy(md, context);
    UpdateControl<ModelDeployment> control = UpdateControl.noUpdate();
    return next == null ? control : control.rescheduleAfter(next);
  }

  /** Step 1: the workers' certificate; returns when to look again (null: when woken). */
  Duration applyCertificate(ModelDeployment md, Context<ModelDeployment> context, Instant now) {
    Optional<CertificateAuthority> authority = ca.get();
    if (authority.isEmpty()) {
      return null; // the CA's arrival wakes every model (TrustChangeEventSource)
    }
    String namespace = md.getMetadata().getNamespace();
    String model = md.getMetadata().getName();
    String identity = Identities.worker(namespace, model);
    Secret existing = context.getSecondaryResource(Secret.class).orElse(null);
    Map<String, String> pem = TlsSecrets.pem(existing);
    Optional<String> reason = authority.get().renewalReason(pem, identity, now);
    Instant renewAt;
    if (reason.isEmpty()) {
      renewAt = CertificateAuthority.renewAt(TlsSecrets.certificate(pem));
    } else {
      IssuedCertificate issued = authority.get().issue(identity, Usage.SERVER, now);
      Secret desired =
          TlsSecrets.workload(
              new ObjectMetaBuilder()
                  .withNamespace(namespace)
                  .withName(FlotillaNames.workerMtlsSecret(model))
                  .withLabels(FlotillaNames.workerLabels(model))
                  .withOwnerReferences(OwnerReferences.controller(md))
                  .build(),
              issued);
      if (existing == null) {
        context.resourceOperations().create(desired, secrets);
      } else {
        context
            .resourceOperations()
            .update(
                new SecretBuilder(desired)
                    .editMetadata()
                    .withResourceVersion(existing.getMetadata().getResourceVersion())
                    .endMetadata()
                    .build(),
                secrets);
      }
      new EventRecorder(context.getClient(), clock)
          .record(
              md,
              EventReason.WorkerCertificateIssued,
              "issued the workers' certificate "
                  + identity
                  + " until "
                  + issued.certificate().getNotAfter().toInstant()
                  + " ("
                  + reason.get()
                  + ")");
      renewAt = CertificateAuthority.renewAt(issued.certificate());
    }
    Duration until = Duration.between(now, renewAt);
    return until.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : until;
  }

  /**
   * Step 2: the workers' NetworkPolicy, created or brought back to what it should be. With
   * NetworkPolicies off there is no informer for them, and one made before is deleted by name.
   */
  void applyNetworkPolicy(ModelDeployment md, Context<ModelDeployment> context) {
    if (policies == null) {
      context
          .getClient()
          .network()
          .v1()
          .networkPolicies()
          .inNamespace(md.getMetadata().getNamespace())
          .withLabel(FlotillaNames.LABEL_MANAGED_BY, FlotillaNames.MANAGED_BY)
          .withLabel(FlotillaNames.LABEL_MODEL, md.getMetadata().getName())
          .delete();
      return;
    }
    NetworkPolicy desired = WorkerNetworkPolicyModel.of(md, settings);
    NetworkPolicy existing = context.getSecondaryResource(NetworkPolicy.class).orElse(null);
    if (existing == null) {
      context.resourceOperations().create(desired, policies);
    } else if (!Objects.equals(existing.getSpec(), desired.getSpec())
        || !Objects.equals(existing.getMetadata().getLabels(), desired.getMetadata().getLabels())) {
      context
          .resourceOperations()
          .update(
              new NetworkPolicyBuilder(existing)
                  .editMetadata()
                  .withLabels(desired.getMetadata().getLabels())
                  .endMetadata()
                  .withSpec(desired.getSpec())
                  .build(),
              policies);
    }
  }
}
