package dev.flotilla.gateway.schedule;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Streams demand to the operator's autoscaler ({@code
 * flotilla.control.v1.Autoscaler/ReportDemand}): one report with every model's in-flight, queued,
 * held-while-cold and arrival counts each interval, and one at once when a request is held for a
 * cold model. A broken stream is reopened on the next report. The latest scale decisions are kept
 * for progress messages.
 */
public final class DemandReporter implements AutoscalerNotifier, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(DemandReporter.class);

  private final Channel channel;
  private final AutoscalerGrpc.AutoscalerStub stub;
  private final String gatewayId;
  private final Supplier<Iterable<ModelScheduler>> schedulers;
  private final Duration interval;
  private final Clock clock;
  private final ScheduledExecutorService timer;
  private final Map<String, ScaleDecision> decisions = new ConcurrentHashMap<>();
  private StreamObserver<DemandReport> stream;
  private long lastReportMs;

  public DemandReporter(
      Channel channel,
      String gatewayId,
      Supplier<Iterable<ModelScheduler>> schedulers,
      Duration interval,
      Clock clock) {
    this.channel = channel;
    this.stub = AutoscalerGrpc.newStub(channel);
    this.gatewayId = gatewayId;
    this.schedulers = schedulers;
    this.interval = interval;
    this.clock = clock;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flotilla-demand-reporter");
              t.setDaemon(true);
              return t;
            });
    this.lastReportMs = clock.millis();
  }

  public DemandReporter start() {
    timer.scheduleAtFixedRate(
        this::report, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  @Override
  public void heldWhileCold(String modelKey) {
    timer.execute(this::report);
  }

  /** The autoscaler's latest decision for a model, if it sent one. */
  public ScaleDecision decision(String modelKey) {
    return decisions.get(modelKey);
  }

  private synchronized void report() {
    long now = clock.millis();
    DemandReport.Builder r = DemandReport.newBuilder().setGatewayId(gatewayId).setTimestampMs(now);
    for (ModelScheduler s : schedulers.get()) {
      ModelScheduler.Demand d = s.drainDemand();
      String[] nsName = d.modelKey().split("/", 2);
      r.addModels(
          ModelDemand.newBuilder()
              .setNamespace(nsName[0])
              .setModel(nsName[1])
              .setInFlight(d.inFlight())
              .setQueued(d.queued())
              .setHeldWhileCold(d.held())
              .setArrivals(d.arrivals())
              .setIntervalMs(now - lastReportMs));
    }
    lastReportMs = now;
    try {
      if (stream == null) {
        stream =
            stub.reportDemand(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ScaleDecision d) {
                    decisions.put(d.getNamespace() + "/" + d.getModel(), d);
                  }

                  @Override
                  public void onError(Throwable t) {
                    LOG.debugf("autoscaler stream ended: %s", t.toString());
                    reset();
                  }

                  @Override
                  public void onCompleted() {
                    reset();
                  }
                });
      }
      stream.onNext(r.build());
    } catch (RuntimeException e) {
      LOG.debugf("demand report not sent: %s", e.toString());
      reset();
    }
  }

  private synchronized void reset() {
    stream = null;
    // A new operator leader may be up long before the channel's exponential reconnect back-off
    // (up to two minutes) would try again; demand for a held request must not wait for it.
    if (channel instanceof ManagedChannel managed) {
      managed.resetConnectBackoff();
    }
  }

  @Override
  public synchronized void close() {
    timer.shutdownNow();
    if (stream != null) {
      try {
        stream.onCompleted();
      } catch (RuntimeException ignored) {
        // the stream is gone either way
      }
    }
  }
}
