package dev.flotilla.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.route.WorkerView;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Demand reports reach a real Autoscaler gRPC server at once when a request is held. */
class DemandReporterIT {
  @Test
  void aHeldRequestIsReportedAtOnceAndDecisionsAreKept() throws Exception {
    List<DemandReport> reports = new CopyOnWriteArrayList<>();
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(
                new AutoscalerGrpc.AutoscalerImplBase() {
                  @Override
                  public StreamObserver<DemandReport> reportDemand(
                      StreamObserver<ScaleDecision> out) {
                    return new StreamObserver<>() {
                      @Override
                      public void onNext(DemandReport r) {
                        reports.add(r);
                        out.onNext(
                            ScaleDecision.newBuilder()
                                .setNamespace("default")
                                .setModel("tiny-llama")
                                .setDesiredReplicas(1)
                                .setReason("held")
                                .build());
                      }

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {
                        out.onCompleted();
                      }
                    };
                  }
                })
            .build()
            .start();
    ManagedChannel channel =
        Grpc.newChannelBuilder("127.0.0.1:" + server.getPort(), InsecureChannelCredentials.create())
            .build();
    WorkerRegistry registry = new WorkerRegistry();
    ModelScheduler[] scheduler = new ModelScheduler[1];
    // An interval of an hour: only the hold itself can trigger a report within the test.
    DemandReporter reporter =
        new DemandReporter(
                channel,
                "gw-1",
                () -> List.of(scheduler[0]),
                Duration.ofHours(1),
                Clock.systemUTC())
            .start();
    scheduler[0] =
        new ModelScheduler(
            "default/tiny-llama",
            new ModelScheduler.Settings(
                Duration.ofMinutes(2),
                10,
                10,
                Duration.ofSeconds(5),
                Duration.ofSeconds(30),
                Duration.ofSeconds(2)),
            registry,
            new WorkerSelector(1.25),
            reporter,
            System::nanoTime,
            ModelScheduler.Events.NONE,
            new HeldBytes(1 << 20));
    try {
      scheduler[0].submit(new HeldRequest());
      await().atMost(Duration.ofSeconds(10)).until(() -> !reports.isEmpty());
      DemandReport r = reports.get(0);
      assertThat(r.getGatewayId()).isEqualTo("gw-1");
      ModelDemand d = r.getModels(0);
      assertThat(d.getNamespace()).isEqualTo("default");
      assertThat(d.getModel()).isEqualTo("tiny-llama");
      assertThat(d.getHeldWhileCold()).isEqualTo(1);
      assertThat(d.getArrivals()).isEqualTo(1);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> reporter.decision("default/tiny-llama") != null);
      assertThat(reporter.decision("default/tiny-llama").getDesiredReplicas()).isEqualTo(1);
    } finally {
      reporter.close();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aStreamRefusedByAStandbyOperatorIsReopenedOnTheNextReport() throws Exception {
    AtomicInteger streams = new AtomicInteger();
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(
                new AutoscalerGrpc.AutoscalerImplBase() {
                  @Override
                  public StreamObserver<DemandReport> reportDemand(
                      StreamObserver<ScaleDecision> out) {
                    boolean standby = streams.incrementAndGet() == 1;
                    return new StreamObserver<>() {
                      @Override
                      public void onNext(DemandReport r) {
                        if (standby) {
                          out.onError(
                              Status.UNAVAILABLE
                                  .withDescription("this operator replica is not the leader")
                                  .asRuntimeException());
                          return;
                        }
                        out.onNext(
                            ScaleDecision.newBuilder()
                                .setNamespace("default")
                                .setModel("tiny-llama")
                                .setDesiredReplicas(2)
                                .setReason("leader")
                                .build());
                      }

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {}
                    };
                  }
                })
            .build()
            .start();
    ManagedChannel channel =
        Grpc.newChannelBuilder("127.0.0.1:" + server.getPort(), InsecureChannelCredentials.create())
            .build();
    ModelScheduler scheduler =
        new ModelScheduler(
            "default/tiny-llama",
            new ModelScheduler.Settings(
                Duration.ofMinutes(2),
                10,
                10,
                Duration.ofSeconds(5),
                Duration.ofSeconds(30),
                Duration.ofSeconds(2)),
            new WorkerRegistry(),
            new WorkerSelector(1.25),
            AutoscalerNotifier.NONE,
            System::nanoTime,
            ModelScheduler.Events.NONE,
            new HeldBytes(1 << 20));
    DemandReporter reporter =
        new DemandReporter(
                channel,
                "gw-1",
                () -> List.of(scheduler),
                Duration.ofMillis(100),
                Clock.systemUTC())
            .start();
    try {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> reporter.decision("default/tiny-llama") != null);
      assertThat(streams.get())
          .as("the refused stream was replaced by a new one")
          .isGreaterThanOrEqualTo(2);
      assertThat(reporter.decision("default/tiny-llama").getReason()).isEqualTo("leader");
    } finally {
      reporter.close();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static final class HeldRequest implements ModelScheduler.Request {
    public String tenant() {
      return "acme";
    }

    public int weight() {
      return 1;
    }

    public Priority priority() {
      return Priority.Normal;
    }

    public long promptTokens() {
      return 1;
    }

    public long heldBytes() {
      return 5;
    }

    public String adapter() {
      return "";
    }

    public Set<String> excluded() {
      return Set.of();
    }

    public boolean wantsProgress() {
      return false;
    }

    public void dispatch(WorkerView worker, long queuedNanos) {}

    public void reject(ModelScheduler.RejectReason reason, StatusRuntimeException error) {}

    public void progress(HeldProgress progress) {}
  }
}
