package dev.flotilla.api.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Gateway-to-operator demand stream: reports go up, scale decisions come back on one stream. */
class AutoscalerRoundTripTest {

  /** Answers each report with a decision per model: one replica per 4 requests of demand. */
  static final class CountingAutoscaler extends AutoscalerGrpc.AutoscalerImplBase {
    @Override
    public StreamObserver<DemandReport> reportDemand(StreamObserver<ScaleDecision> decisions) {
      return new StreamObserver<>() {
        @Override
        public void onNext(DemandReport report) {
          for (ModelDemand demand : report.getModelsList()) {
            int load = demand.getInFlight() + demand.getQueued() + demand.getHeldWhileCold();
            decisions.onNext(
                ScaleDecision.newBuilder()
                    .setNamespace(demand.getNamespace())
                    .setModel(demand.getModel())
                    .setDesiredReplicas((load + 3) / 4)
                    .setReason(report.getGatewayId())
                    .build());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          decisions.onCompleted();
        }
      };
    }
  }

  @Test
  void demandReportsStreamUpAndDecisionsStreamBack() throws Exception {
    try (InProcessGrpc grpc = new InProcessGrpc(new CountingAutoscaler())) {
      List<ScaleDecision> received = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> done = new CompletableFuture<>();
      StreamObserver<DemandReport> reports =
          AutoscalerGrpc.newStub(grpc.channel)
              .reportDemand(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(ScaleDecision decision) {
                      received.add(decision);
                    }

                    @Override
                    public void onError(Throwable t) {
                      done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                      done.complete(null);
                    }
                  });

      reports.onNext(
          DemandReport.newBuilder()
              .setGatewayId("gw-1")
              .addModels(
                  ModelDemand.newBuilder()
                      .setNamespace("default")
                      .setModel("tiny-llama")
                      .setHeldWhileCold(1))
              .build());
      reports.onNext(
          DemandReport.newBuilder()
              .setGatewayId("gw-1")
              .addModels(
                  ModelDemand.newBuilder()
                      .setNamespace("default")
                      .setModel("tiny-llama")
                      .setInFlight(6)
                      .setQueued(3)
                      .setArrivals(9)
                      .setIntervalMs(1000))
              .build());
      reports.onCompleted();
      done.get(5, TimeUnit.SECONDS);

      assertThat(received).extracting(ScaleDecision::getDesiredReplicas).containsExactly(1, 3);
      assertThat(received).allSatisfy(d -> assertThat(d.getReason()).isEqualTo("gw-1"));
    }
  }
}
