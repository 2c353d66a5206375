package dev.flotilla.operator.lora;

import static dev.flotilla.api.crd.ConditionTypes.FALSE;
import static dev.flotilla.api.crd.ConditionTypes.READY;
import static dev.flotilla.api.crd.ConditionTypes.TRUE;
import static dev.flotilla.api.crd.ConditionTypes.VALIDATED;

import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.LoraAdapterStatus;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.events.EventReason;
import dev.flotilla.operator.events.EventRecorder;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.operator.status.Conditions;
import dev.flotilla.operator.status.StatusDiff;
import dev.flotilla.operator.status.StatusWriter;
import io.fabric8.kubernetes.api.model.Condition;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Validates each LoraAdapter against its ModelDeployment (steps: find the base, check rank, modules
 * and files, write status). Status carries {@code Validated} and {@code Ready}, the rank and target
 * modules found, and the served name {@code <model>:<adapter>} that gateways route by.
 * ModelDeployments are watched, so creating a missing base or raising its max rank re-validates its
 * adapters; file sources are looked at again every recheck interval.
 */
@ControllerConfiguration(name = LoraAdapterReconciler.NAME)
public class LoraAdapterReconciler implements Reconciler<LoraAdapter> {
  public static final String NAME = "loraadapter";
  static final String BY_MODEL = "byModelDeployment";

  private final OperatorSettings settings;
  private final Clock clock;
  private InformerEventSource<ModelDeployment, LoraAdapter> models;

  public LoraAdapterReconciler(OperatorSettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, LoraAdapter>> prepareEventSources(
      EventSourceContext<LoraAdapter> context) {
    IndexerResourceCache<LoraAdapter> adapters = context.getPrimaryCache();
    adapters.addIndexer(
        BY_MODEL,
        a -> List.of(modelKey(a.getMetadata().getNamespace(), a.getSpec().getModelDeployment())));
    models =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(ModelDeployment.class, LoraAdapter.class)
                .withSecondaryToPrimaryMapper(
                    (ModelDeployment md) ->
                        adapters
                            .byIndex(
                                BY_MODEL,
                                modelKey(
                                    md.getMetadata().getNamespace(), md.getMetadata().getName()))
                            .stream()
                            .map(ResourceID::fromResource)
                            .collect(Collectors.toSet()))
                // Only the spec of the base matters (max rank, source); its status changes all the
                // time.
                .withOnUpdateFilter(
                    (next, previous) ->
                        !Objects.equals(
                            next.getMetadata().getGeneration(),
                            previous.getMetadata().getGeneration()))
                .build(),
            context);
    return List.of(models);
  }

  @Override
  public UpdateControl<LoraAdapter> reconcile(LoraAdapter adapter, Context<LoraAdapter> context) {
    Instant now = clock.instant();
    AdapterCheck check = check(adapter);
    LoraAdapterStatus current =
        adapter.getStatus() == null ? new LoraAdapterStatus() : adapter.getStatus();
    LoraAdapterStatus next = new LoraAdapterStatus();
    Long generation = adapter.getMetadata().getGeneration();
    next.setObservedGeneration(generation);
    next.setServedName(
        FlotillaNames.servedAdapterName(
            adapter.getSpec().getModelDeployment(), adapter.getMetadata().getName()));
    next.setRank(check.rank());
    next.setTargetModules(check.targetModules());
    List<Condition> conditions = new ArrayList<>(current.getConditions());
    conditions =
        Conditions.set(
            conditions,
            VALIDATED,
            check.valid() ? TRUE : FALSE,
            check.reason(),
            check.message(),
            generation,
            now);
    conditions =
        Conditions.set(
            conditions,
            READY,
            check.valid() ? TRUE : FALSE,
            check.valid() ? "Validated" : check.reason(),
            check.valid() ? "servable as " + next.getServedName() : check.message(),
            generation,
            now);
    next.setConditions(conditions);

    if (StatusDiff.differs(next, adapter.getStatus())
        && !StatusWriter.write(context, adapter, next)) {
      return UpdateControl.<LoraAdapter>noUpdate()
          .rescheduleAfter(StatusWriter.RETRY_AFTER_CONFLICT);
    }
    // Events for what a person wants to hear of: a failure (new or changed) and the recovery from
    // one. A first validation that passes is routine (the condition says so); at thousands of
    // adapters its Events would be most of what the API server stores.
    Condition before =
        current.getConditions().stream()
            .filter(c -> VALIDATED.equals(c.getType()))
            .findFirst()
            .orElse(null);
    boolean failedBefore = before != null && FALSE.equals(before.getStatus());
    if (!check.valid()
        && (!failedBefore || !Objects.equals(before.getMessage(), check.message()))) {
      new EventRecorder(context.getClient(), clock)
          .record(adapter, EventReason.ValidationFailed, check.message());
    } else if (check.valid() && failedBefore) {
      new EventRecorder(context.getClient(), clock)
          .record(adapter, EventReason.Validated, check.message());
    }
    UpdateControl<LoraAdapter> control = UpdateControl.noUpdate();
    // Files are not watched: look again now and then when they are what decides.
    boolean filesDecide =
        adapter.getSpec().getSource() != null
            && adapter.getSpec().getSource().startsWith("file://")
            && !AdapterCheck.MODEL_NOT_FOUND.equals(check.reason());
    return filesDecide ? control.rescheduleAfter(settings.recheckInterval()) : control;
  }

  /** Finds the base and validates against it. */
  AdapterCheck check(LoraAdapter adapter) {
    String model = adapter.getSpec().getModelDeployment();
    ModelDeployment base =
        model == null
            ? null
            : models.get(new ResourceID(model, adapter.getMetadata().getNamespace())).orElse(null);
    if (base == null) {
      return AdapterCheck.invalid(
          AdapterCheck.MODEL_NOT_FOUND,
          "ModelDeployment "
              + model
              + " does not exist in "
              + adapter.getMetadata().getNamespace());
    }
    EffectiveSpec spec;
    try {
      spec = EffectiveSpec.of(base.getSpec());
    } catch (IllegalArgumentException e) {
      return AdapterCheck.invalid(
          AdapterCheck.MODEL_NOT_FOUND,
          "ModelDeployment " + model + " is invalid: " + e.getMessage());
    }
    return AdapterValidator.validate(adapter.getSpec(), spec.maxLoraRank(), spec.source());
  }

  static String modelKey(String namespace, String name) {
    return namespace + "/" + name;
  }
}
