package dev.flotilla.operator.autoscaler;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.mtls.PeerIdentity;
import dev.flotilla.operator.certs.MutualTlsServer;
import dev.flotilla.operator.leader.Leadership;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * {@code flotilla.control.v1.Autoscaler}: gateways stream their per-model demand here. Each report
 * is recorded (summed over gateways, stale gateways expire), wakes the models' reconciles, and is
 * answered with the models' current scale decisions; later decision changes for models a gateway
 * reported are pushed on the same stream, so a gateway holding requests for a cold model hears "1
 * replica wanted" as soon as the reconciler decided it.
 *
 * <p>Demand belongs to the stream it arrived on, under the identity the caller proved in its TLS
 * handshake ({@link MutualTlsServer} admits gateways only): its source is that identity, the
 * reported {@code gateway_id} and the stream. All gateway replicas share one certificate, so the
 * certificate cannot tell them apart; the stream can. A {@code gateway_id} is a label, not a key: a
 * caller that reuses another gateway's id adds its own demand beside it, and closing its stream
 * drops only its own.
 */
@GrpcService
@RegisterInterceptor(CallerIdentityInterceptor.class)
public class AutoscalerGrpcService extends AutoscalerGrpc.AutoscalerImplBase {
  private static final AtomicLong STREAMS = new AtomicLong();

  private final DemandStore store;
  private final Clock clock;
  private final Leadership leadership;

  @Inject
  public AutoscalerGrpcService(DemandStore store, Clock clock, Leadership leadership) {
    this.store = store;
    this.clock = clock;
    this.leadership = leadership;
  }

  @Override
  public StreamObserver<DemandReport> reportDemand(StreamObserver<ScaleDecision> responses) {
    return new DemandStream(responses);
  }

  private final class DemandStream implements StreamObserver<DemandReport> {
    private final StreamObserver<ScaleDecision> responses;
    private final Set<ResourceID> models = ConcurrentHashMap.newKeySet();
    private final BiConsumer<ResourceID, DemandStore.Published> pusher = this::push;
    private final String caller = PeerIdentity.current().orElse("unauthenticated");
    private final long stream = STREAMS.incrementAndGet();
    private volatile String source;
    private volatile boolean closed;

    DemandStream(StreamObserver<ScaleDecision> responses) {
      this.responses = responses;
      store.subscribe(pusher);
    }

    @Override
    public void onNext(DemandReport report) {
      if (!leadership.leading()) {
        // Only the leader reconciles: demand recorded here would never scale anything. The
        // gateway reconnects on its next report and, through the leader-only Service, reaches
        // the leader.
        fail(
            Status.UNAVAILABLE.withDescription(
                "this operator replica is not the leader"
                    + leadership.leader().map(l -> " (the leader is " + l + ")").orElse("")
                    + "; report demand to the leader"));
        return;
      }
      if (report.getGatewayId().isEmpty()) {
        fail(Status.INVALID_ARGUMENT.withDescription("gateway_id is required"));
        return;
      }
      if (source == null) {
        source = caller + " " + report.getGatewayId() + " #" + stream;
      }
      Instant now = clock.instant();
      for (ModelDemand demand : report.getModelsList()) {
        if (demand.getModel().isEmpty() || demand.getNamespace().isEmpty()) {
          fail(Status.INVALID_ARGUMENT.withDescription("every model needs a namespace and a name"));
          return;
        }
        ResourceID model = new ResourceID(demand.getModel(), demand.getNamespace());
        models.add(model);
        store.record(
            model,
            source,
            now,
            Math.max(0, demand.getInFlight()) + Math.max(0, demand.getQueued()),
            Math.max(0, demand.getHeldWhileCold()));
        store.notifyDemand(model);
      }
      for (ModelDemand demand : report.getModelsList()) {
        ResourceID model = new ResourceID(demand.getModel(), demand.getNamespace());
        DemandStore.Published published = store.published(model);
        send(
            model,
            published == null ? new DemandStore.Published(0, 0, "not reconciled yet") : published);
      }
    }

    @Override
    public void onError(Throwable t) {
      close();
    }

    @Override
    public void onCompleted() {
      close();
      synchronized (responses) {
        responses.onCompleted();
      }
    }

    private void push(ResourceID model, DemandStore.Published decision) {
      if (models.contains(model)) {
        send(model, decision);
      }
    }

    private void send(ResourceID model, DemandStore.Published decision) {
      synchronized (responses) {
        if (closed) {
          return;
        }
        responses.onNext(
            ScaleDecision.newBuilder()
                .setNamespace(model.getNamespace().orElse(""))
                .setModel(model.getName())
                .setDesiredReplicas(decision.desired())
                .setReadyReplicas(decision.ready())
                .setReason(decision.reason())
                .build());
      }
    }

    private void fail(Status status) {
      synchronized (responses) {
        if (!closed) {
          closed = true;
          store.unsubscribe(pusher);
          responses.onError(status.asRuntimeException());
        }
      }
    }

    private void close() {
      synchronized (responses) {
        closed = true;
      }
      store.unsubscribe(pusher);
      if (source != null) {
        store.dropGateway(source);
        models.forEach(store::notifyDemand);
      }
    }
  }
}
