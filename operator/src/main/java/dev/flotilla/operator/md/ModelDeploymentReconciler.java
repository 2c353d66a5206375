package dev.flotilla.operator.md;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentStatus;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.autoscaler.DemandSnapshot;
import dev.flotilla.operator.autoscaler.DemandStore;
import dev.flotilla.operator.autoscaler.KpaAutoscaler;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.events.EventReason;
import dev.flotilla.operator.events.EventRecorder;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.operator.model.ModelDeploymentModel;
import dev.flotilla.operator.placement.MemoryEstimator;
import dev.flotilla.operator.placement.PlacementBook;
import dev.flotilla.operator.placement.PlacementDecision;
import dev.flotilla.operator.placement.Placer;
import dev.flotilla.operator.status.ReconcileException;
import dev.flotilla.operator.status.StatusWriter;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.IndexerResourceCache;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reconciles a ModelDeployment as a list of named, idempotent steps, whatever event woke it:
 *
 * <ol>
 *   <li>{@link #validate} the spec (durations, min ≤ max);
 *   <li>{@link #place} it on a GpuNodePool (or CPU);
 *   <li>{@link #autoscale}: desired replicas from demand, or spec.replicas when pinned;
 *   <li>{@link #applyService}: the headless Service;
 *   <li>{@link #applyDeployment}: the worker Deployment;
 *   <li>status through {@link ModelDeploymentStatusAggregator}, written only when it changed, and
 *       an Event for each decision.
 * </ol>
 *
 * A step that fails on the resource's input throws {@link ReconcileException}: the status says why,
 * no worker objects are made (existing workers are scaled to zero), and the watched inputs (pools,
 * the resource itself) trigger the next attempt.
 */
@ControllerConfiguration(name = ModelDeploymentReconciler.NAME)
public class ModelDeploymentReconciler implements Reconciler<ModelDeployment> {
  public static final String NAME = "modeldeployment";

  private final OperatorSettings settings;
  private final DemandStore demand;
  private final PlacementBook book;
  private final Clock clock;
  private final WorkerProgress progress;

  private InformerEventSource<Deployment, ModelDeployment> deployments;
  private InformerEventSource<Service, ModelDeployment> services;
  private InformerEventSource<GpuNodePool, ModelDeployment> pools;
  private InformerEventSource<LoraAdapter, ModelDeployment> adapters;

  /** The constructor CDI calls; with two constructors, one must say so or no bean is made. */
  @Inject
  public ModelDeploymentReconciler(
      OperatorSettings settings, DemandStore demand, PlacementBook book, Clock clock) {
    this(
        settings,
        demand,
        book,
        clock,
        new HttpWorkerProgress(
            FlotillaNames.HTTP_PORT, PROGRESS_TIMEOUT, PROGRESS_REFRESH, Clock.systemUTC()));
  }

  public ModelDeploymentReconciler(
      OperatorSettings settings,
      DemandStore demand,
      PlacementBook book,
      Clock clock,
      WorkerProgress progress) {
    this.settings = settings;
    this.demand = demand;
    this.book = book;
    this.clock = clock;
    this.progress = progress;
  }

  /** How long a worker's readiness check may take to say how far its model has loaded. */
  static final Duration PROGRESS_TIMEOUT = Duration.ofSeconds(2);

  /** How often a loading worker's progress is read again (reconciles come more often). */
  static final Duration PROGRESS_REFRESH = Duration.ofSeconds(10);

  @Override
  public List<EventSource<?, ModelDeployment>> prepareEventSources(
      EventSourceContext<ModelDeployment> context) {
    String managed = FlotillaNames.LABEL_MANAGED_BY + "=" + FlotillaNames.MANAGED_BY;
    deployments =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(Deployment.class, ModelDeployment.class)
                .withLabelSelector(managed)
                .build(),
            context);
    services =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(Service.class, ModelDeployment.class)
                .withLabelSelector(managed)
                .build(),
            context);
    IndexerResourceCache<ModelDeployment> primaries = context.getPrimaryCache();
    pools =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(GpuNodePool.class, ModelDeployment.class)
                .withSecondaryToPrimaryMapper((GpuNodePool pool) -> affectedBy(pool, primaries))
                .withOnUpdateFilter(ModelDeploymentReconciler::poolChangeMatters)
                .build(),
            context);
    // The workers mount the claims of their adapters' pvc:// sources: an adapter's source decides
    // part of the pod template.
    adapters =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(LoraAdapter.class, ModelDeployment.class)
                .withSecondaryToPrimaryMapper(
                    (LoraAdapter a) ->
                        a.getSpec() == null || a.getSpec().getModelDeployment() == null
                            ? Set.of()
                            : Set.of(
                                new ResourceID(
                                    a.getSpec().getModelDeployment(),
                                    a.getMetadata().getNamespace())))
                .withOnUpdateFilter(
                    (next, previous) ->
                        !Objects.equals(
                            next.getMetadata().getGeneration(),
                            previous.getMetadata().getGeneration()))
                .build(),
            context);
    return List.of(deployments, services, pools, adapters, new DemandEventSource(demand, book));
  }

  @Override
  public UpdateControl<ModelDeployment> reconcile(
      ModelDeployment md, Context<ModelDeployment> context) {
    Instant now = clock.instant();
    ModelDeploymentStatusAggregator status = new ModelDeploymentStatusAggregator(md, now);
    ReconcileException failure = null;
    Duration next = null;
    try {
      checkNamespaceManaged(md);
      EffectiveSpec spec = validate(md);
      PlacementDecision placement = place(md, spec, context);
      status.placed(placement);
      GpuNodePool pool =
          placement instanceof PlacementDecision.OnPool onPool
              ? pools.get(new ResourceID(onPool.pool())).orElse(null)
              : null;
      ModelDeploymentModel model =
          ModelDeploymentModel.from(md, pool, settings, adapterSources(md));
      Deployment existing = context.getSecondaryResource(Deployment.class).orElse(null);
      KpaAutoscaler.Decision scale = autoscale(md, spec, existing, now);
      applyService(model, context);
      Deployment observed = applyDeployment(md, model, scale.desired(), existing, context);
      status.workers(
          scale.desired(),
          observed,
          scale,
          FlotillaNames.workerEndpoint(md.getMetadata().getNamespace(), md.getMetadata().getName()),
          settings.scaling().scaleToZeroEnabled());
      if (scale.desired() > 0 && status.build().getReadyReplicas() == 0 && observed != null) {
        List<Pod> pods = workerPods(md, context);
        Optional<String> exited = WorkerFailures.of(pods);
        if (exited.isPresent()) {
          status.workerFailure(exited.get());
        } else {
          progress.of(WorkerProgress.loading(pods)).ifPresent(status::loading);
        }
      }
      demand.publish(
          ResourceID.fromResource(md),
          new DemandStore.Published(
              scale.desired(), status.build().getReadyReplicas(), scale.reason()));
      if (scale.desired() > 0
          || observed != null && replicasOf(observed) > 0
          || scale.memory().panicSince() != null) {
        next = settings.autoscalerTick();
      } else if (spec.minReplicas() == 0 && spec.pinnedReplicas() == null) {
        next =
            null; // at zero: a demand report wakes the model, nothing else can change the decision
      }
    } catch (ReconcileException e) {
      failure = e;
      status.failed(e);
      demand.publish(ResourceID.fromResource(md), new DemandStore.Published(0, 0, e.getMessage()));
      scaleExistingToZero(context);
      if (PlacementDecision.WEIGHTS_UNKNOWN.equals(e.reason())) {
        next = settings.recheckInterval(); // files cannot be watched
      }
    }
    if (status.changed() && !StatusWriter.write(context, md, status.build())) {
      // Changed since read: the next reconcile decides again, Events included.
      return UpdateControl.<ModelDeployment>noUpdate()
          .rescheduleAfter(StatusWriter.RETRY_AFTER_CONFLICT);
    }
    EventRecorder events = new EventRecorder(context.getClient(), clock);
    for (ModelDeploymentStatusAggregator.Decision decision : status.decisions(failure)) {
      events.record(md, decision.reason(), decision.message());
    }
    forgetIfDeleted(ResourceID.fromResource(md), context);
    UpdateControl<ModelDeployment> control = UpdateControl.noUpdate();
    return next == null ? control : control.rescheduleAfter(next);
  }

  /**
   * The worker pods of {@code md}, to say why they exit or how far they have loaded; asked only
   * while no replica is ready, so a serving deployment costs no pod list.
   */
  private List<Pod> workerPods(ModelDeployment md, Context<ModelDeployment> context) {
    try {
      return context
          .getClient()
          .pods()
          .inNamespace(md.getMetadata().getNamespace())
          .withLabels(FlotillaNames.workerSelector(md.getMetadata().getName()))
          .list()
          .getItems();
    } catch (KubernetesClientException e) {
      return List.of(); // the status says "waiting" as before; the next reconcile asks again
    }
  }

  /** The sources of the LoraAdapters on {@code md}, from the informer's cache. */
  private List<String> adapterSources(ModelDeployment md) {
    String name = md.getMetadata().getName();
    return adapters
        .list(
            md.getMetadata().getNamespace(),
            a -> a.getSpec() != null && name.equals(a.getSpec().getModelDeployment()))
        .map(a -> a.getSpec().getSource())
        .filter(Objects::nonNull)
        .sorted()
        .toList();
  }

  /**
   * {@link DemandEventSource} forgets a deleted deployment when the delete arrives; a reconcile
   * that was running then has since remembered it again. The informer drops a deleted resource
   * before it announces the delete, so checking after the writes leaves nothing behind.
   */
  private void forgetIfDeleted(ResourceID id, Context<ModelDeployment> context) {
    if (context.getPrimaryCache().get(id).isEmpty()) {
      demand.forget(id);
      book.release(id);
    }
  }

  @Override
  public ErrorStatusUpdateControl<ModelDeployment> updateErrorStatus(
      ModelDeployment md, Context<ModelDeployment> context, Exception e) {
    ModelDeploymentStatusAggregator status =
        new ModelDeploymentStatusAggregator(md, clock.instant());
    status.error(e);
    if (status.changed()) {
      StatusWriter.write(context, md, status.build());
    }
    return ErrorStatusUpdateControl.noStatusUpdate();
  }

  /** Ready's reason when a ModelDeployment is outside {@link OperatorSettings#modelNamespaces}. */
  public static final String NAMESPACE_NOT_MANAGED = "NamespaceNotManaged";

  /**
   * Whether ModelDeployments in {@code namespace} get workers: every one unless some are listed.
   */
  static boolean managesModelsIn(OperatorSettings settings, String namespace) {
    return settings.modelNamespaces().map(listed -> listed.contains(namespace)).orElse(true);
  }

  /**
   * Step 0: the namespace is one the operator runs workers in. Outside them it may not write the
   * workers' TLS Secret, so it makes no workers at all and says so rather than failing on every
   * write.
   */
  void checkNamespaceManaged(ModelDeployment md) throws ReconcileException {
    String namespace = md.getMetadata().getNamespace();
    if (!managesModelsIn(settings, namespace)) {
      throw new ReconcileException(
          ConditionTypes.PLACED,
          NAMESPACE_NOT_MANAGED,
          "namespace "
              + namespace
              + " is outside the namespaces the operator runs models in ("
              + String.join(", ", settings.modelNamespaces().orElseThrow())
              + "; the chart's operator.modelNamespaces)",
          EventReason.PlacementFailed);
    }
  }

  /** Step 1: the spec makes sense (the schema normally ensures it; objects can still slip past). */
  EffectiveSpec validate(ModelDeployment md) throws ReconcileException {
    EffectiveSpec spec;
    try {
      spec = EffectiveSpec.of(md.getSpec());
    } catch (IllegalArgumentException e) {
      throw new ReconcileException(
          ConditionTypes.PLACED,
          PlacementDecision.INVALID_SPEC,
          e.getMessage(),
          EventReason.InvalidSpec);
    }
    if (spec.source() == null) {
      throw new ReconcileException(
          ConditionTypes.PLACED,
          PlacementDecision.INVALID_SPEC,
          "spec.model.source is unset",
          EventReason.InvalidSpec);
    }
    if (spec.minReplicas() > spec.maxReplicas()) {
      throw new ReconcileException(
          ConditionTypes.PLACED,
          PlacementDecision.INVALID_SPEC,
          "scaling.minReplicas "
              + spec.minReplicas()
              + " is greater than scaling.maxReplicas "
              + spec.maxReplicas(),
          EventReason.InvalidSpec);
    }
    return spec;
  }

  /** Step 2: a pool with room for maxReplicas, never over-committing one (see {@link Placer}). */
  PlacementDecision place(ModelDeployment md, EffectiveSpec spec, Context<ModelDeployment> context)
      throws ReconcileException {
    MemoryEstimator.Estimate estimate =
        spec.gpus() == 0
            ? new MemoryEstimator.Estimate(null, null)
            : MemoryEstimator.estimate(spec);
    List<GpuNodePool> allPools = pools.list().toList();
    String currentPool = md.getStatus() == null ? null : md.getStatus().getPool();
    PlacementDecision decision =
        book.place(
            ResourceID.fromResource(md),
            context.getPrimaryCache().list().toList(),
            allocated ->
                Placer.place(
                    spec,
                    estimate.need(),
                    estimate.unknownReason(),
                    allPools,
                    allocated,
                    currentPool));
    if (decision instanceof PlacementDecision.Unplaced unplaced) {
      throw new ReconcileException(
          ConditionTypes.PLACED,
          unplaced.reason(),
          unplaced.message(),
          PlacementDecision.INVALID_SPEC.equals(unplaced.reason())
                  || PlacementDecision.ZERO_GPUS.equals(unplaced.reason())
              ? EventReason.InvalidSpec
              : EventReason.PlacementFailed);
    }
    return decision;
  }

  /** Step 3: how many workers, from the demand the gateways report (see {@link KpaAutoscaler}). */
  KpaAutoscaler.Decision autoscale(
      ModelDeployment md, EffectiveSpec spec, Deployment existing, Instant now) {
    ResourceID id = ResourceID.fromResource(md);
    DemandSnapshot snapshot =
        demand.snapshot(id, now, spec.stableWindow(), spec.panicWindow(), settings.gatewayExpiry());
    KpaAutoscaler.Memory memory = demand.memory(id);
    if (memory == null) {
      memory = ModelDeploymentStatusAggregator.memoryFromStatus(md.getStatus());
    }
    ModelDeploymentStatus status = md.getStatus();
    int current = existing == null ? 0 : replicasOf(existing);
    int ready =
        existing == null
                || existing.getStatus() == null
                || existing.getStatus().getReadyReplicas() == null
            ? 0
            : existing.getStatus().getReadyReplicas();
    Integer previous =
        status == null
                || status.getDesiredReplicas() == null
                || status.getConditions().stream()
                    .noneMatch(
                        c ->
                            ConditionTypes.PLACED.equals(c.getType())
                                && ConditionTypes.TRUE.equals(c.getStatus()))
            ? null
            : status.getDesiredReplicas();
    KpaAutoscaler.Decision decision =
        KpaAutoscaler.decide(
            policy(spec, settings.scaling().scaleToZeroEnabled()),
            snapshot,
            new KpaAutoscaler.Observed(current, ready, previous),
            memory,
            now);
    demand.remember(id, decision.memory());
    return decision;
  }

  /** Step 4: the headless Service, created or brought back to what it should be. */
  void applyService(ModelDeploymentModel model, Context<ModelDeployment> context) {
    Service desired = model.service();
    Service existing = context.getSecondaryResource(Service.class).orElse(null);
    if (existing == null) {
      context.resourceOperations().create(desired, services);
    } else if (!Objects.equals(existing.getSpec().getPorts(), desired.getSpec().getPorts())
        || !Objects.equals(existing.getSpec().getSelector(), desired.getSpec().getSelector())
        || !Objects.equals(existing.getMetadata().getLabels(), desired.getMetadata().getLabels())) {
      Service updated =
          existing.toBuilder()
              .editMetadata()
              .withLabels(desired.getMetadata().getLabels())
              .endMetadata()
              .editSpec()
              .withPorts(desired.getSpec().getPorts())
              .withSelector(desired.getSpec().getSelector())
              .endSpec()
              .build();
      context.resourceOperations().update(updated, services);
    }
  }

  /**
   * Step 5: the worker Deployment. The pod template is replaced only when its hash changed (that
   * rolls the workers); replicas alone are updated in place.
   */
  Deployment applyDeployment(
      ModelDeployment md,
      ModelDeploymentModel model,
      int replicas,
      Deployment existing,
      Context<ModelDeployment> context) {
    Deployment desired = model.deployment(replicas);
    if (existing == null) {
      return context.resourceOperations().create(desired, deployments);
    }
    String desiredHash =
        desired.getMetadata().getAnnotations().get(FlotillaNames.ANNOTATION_TEMPLATE_HASH);
    String existingHash =
        existing.getMetadata().getAnnotations() == null
            ? null
            : existing.getMetadata().getAnnotations().get(FlotillaNames.ANNOTATION_TEMPLATE_HASH);
    boolean roll = !desiredHash.equals(existingHash);
    boolean scale = !Objects.equals(existing.getSpec().getReplicas(), replicas);
    boolean relabel =
        !Objects.equals(existing.getMetadata().getLabels(), desired.getMetadata().getLabels());
    if (!roll && !scale && !relabel) {
      return existing;
    }
    DeploymentBuilder updated =
        new DeploymentBuilder(existing)
            .editMetadata()
            .withLabels(desired.getMetadata().getLabels())
            .addToAnnotations(desired.getMetadata().getAnnotations())
            .withOwnerReferences(desired.getMetadata().getOwnerReferences())
            .endMetadata()
            .editSpec()
            .withReplicas(replicas)
            .endSpec();
    if (roll) {
      updated
          .editSpec()
          .withTemplate(desired.getSpec().getTemplate())
          .withStrategy(desired.getSpec().getStrategy())
          .endSpec();
    }
    Deployment result = context.resourceOperations().update(updated.build(), deployments);
    if (roll && existingHash != null) {
      new EventRecorder(context.getClient(), clock)
          .record(
              md,
              EventReason.WorkersRolled,
              "worker pod template changed ("
                  + existingHash
                  + " → "
                  + desiredHash
                  + "): workers restart one by one");
    }
    return result;
  }

  /**
   * An unplaced or invalid deployment runs no workers; its objects stay (owned, so deleting it
   * cleans up).
   */
  private void scaleExistingToZero(Context<ModelDeployment> context) {
    context
        .getSecondaryResource(Deployment.class)
        .ifPresent(
            existing -> {
              if (replicasOf(existing) > 0) {
                context
                    .resourceOperations()
                    .update(
                        new DeploymentBuilder(existing)
                            .editSpec()
                            .withReplicas(0)
                            .endSpec()
                            .build(),
                        deployments);
              }
            });
  }

  static KpaAutoscaler.Policy policy(EffectiveSpec spec, boolean scaleToZeroEnabled) {
    return new KpaAutoscaler.Policy(
        spec.minReplicas(),
        spec.maxReplicas(),
        spec.targetConcurrency(),
        spec.stableWindow(),
        spec.panicThreshold(),
        spec.scaleToZeroAfter(),
        spec.coldStartTimeout(),
        spec.pinnedReplicas(),
        scaleToZeroEnabled);
  }

  private static int replicasOf(Deployment deployment) {
    return deployment.getSpec() == null || deployment.getSpec().getReplicas() == null
        ? 0
        : deployment.getSpec().getReplicas();
  }

  /**
   * Deployments a pool event concerns: those on the pool (their node selector or tolerations may
   * change) and those waiting for a place (it may have room now).
   */
  static Set<ResourceID> affectedBy(
      GpuNodePool pool, IndexerResourceCache<ModelDeployment> primaries) {
    String name = pool.getMetadata().getName();
    return primaries
        .list()
        .filter(
            md ->
                name.equals(md.getStatus() == null ? null : md.getStatus().getPool())
                    || !placed(md))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  /** Only changes that can alter a placement: spec (generation), or GPUs freed. */
  static boolean poolChangeMatters(GpuNodePool next, GpuNodePool previous) {
    if (!Objects.equals(
        next.getMetadata().getGeneration(), previous.getMetadata().getGeneration())) {
      return true;
    }
    int before =
        previous.getStatus() == null || previous.getStatus().getAllocatedGpus() == null
            ? 0
            : previous.getStatus().getAllocatedGpus();
    int after =
        next.getStatus() == null || next.getStatus().getAllocatedGpus() == null
            ? 0
            : next.getStatus().getAllocatedGpus();
    return after < before;
  }

  private static boolean placed(ModelDeployment md) {
    return md.getStatus() != null
        && md.getStatus().getConditions().stream()
            .anyMatch(
                c ->
                    ConditionTypes.PLACED.equals(c.getType())
                        && ConditionTypes.TRUE.equals(c.getStatus()));
  }

  static Map<String, String> selector(ModelDeployment md) {
    return FlotillaNames.workerSelector(md.getMetadata().getName());
  }
}
